// Messaging through the official SDKs: providers of every kind (their secrets never shown),
// topics and subscribers (also from the web SDK), and messages delivered outside the request to
// loopback stand-ins that check each provider's real wire protocol (tests/e2e/providers.mjs)
// and to the SMTP sink (tests/e2e/sinks.mjs): one request per target, the right content,
// failures reported per target, retries, schedules, drafts.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InputFile } from 'node-appwrite/file';
import { adminClient, guestClient, endpoint, runtime, node, web, raw, rejectsWith, assertAppwriteError, userClient, projectId } from './helpers.mjs';
import { startProviders } from './providers.mjs';
import { startSinks, SMTP_USER, SMTP_PASSWORD } from './sinks.mjs';
import { png } from './png.mjs';

const test = nodeTest;
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const messaging = () => new node.Messaging(adminClient());
const users = () => new node.Users(adminClient());

let providers;
let sinks;
before(async () => {
  providers = await startProviders({ port: Number(process.env.EDGEWRITE_TEST_PROVIDERS_PORT) });
  sinks = await startSinks();
});
after(async () => {
  await providers?.close();
  await sinks?.close();
});

async function waitFor(read, done, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The message once delivery settled it (`sent` or `failed`). */
const settled = (messageId) =>
  waitFor(() => messaging().getMessage({ messageId }), (m) => m.status === 'sent' || m.status === 'failed');

/**
 * Runs the Cron Trigger now (wrangler dev --test-scheduled). Spin has none: there the next
 * messaging request sends what is due (README, "Messaging").
 */
async function tick() {
  if (runtime === 'spin') {
    await messaging().listTopics({ queries: [node.Query.limit(1)] });
    return;
  }
  const res = await fetch(`${new URL(endpoint).origin}/__scheduled?cron=*+*+*+*+*`);
  assert.equal(res.status, 200, await res.text());
}

/** A user (no email or phone of its own) with one target of `type` at `identifier`. */
async function userWithTarget(type, identifier, providerId, name = 'Target User') {
  const userId = uid('u');
  await users().create({ userId, name });
  const target = await users().createTarget({ userId, targetId: uid('t'), providerType: type, identifier, providerId });
  return { userId, targetId: target.$id, identifier };
}

const phone = () => `+1555${Math.floor(1e6 + Math.random() * 9e6)}`;
const address = (tag) => `${tag}-${uid('')}@example.com`;

/** Every secret the stand-ins hand out, for "never shown" checks. */
function secretsOf(credentials) {
  const c = credentials;
  return [
    c.mailgun.apiKey, c.sendgrid.apiKey, c.resend.apiKey, c.postmark.apiKey, c.ses.secretKey, c.ses.accessKey,
    c.twilio.authToken, c.vonage.apiSecret, c.textmagic.apiKey, c.telesign.apiKey, c.msg91.authKey,
    JSON.parse(c.fcm.serviceAccountJSON).private_key.split('\n')[1], c.apns.authKey.split('\n')[1], SMTP_PASSWORD,
  ];
}

function assertNoSecrets(text, where) {
  for (const secret of secretsOf(providers.credentials)) {
    assert.ok(!text.includes(secret), `a provider secret appears in ${where}`);
  }
}

/** Creates one provider of each kind the SDK offers (and Postmark over raw HTTP). */
async function createAll(tag, enabled = true) {
  const m = messaging();
  const c = providers.credentials;
  const from = { fromName: 'Edgewrite Tests', fromEmail: 'news@edgewrite.test' };
  const ids = {};
  const id = (kind) => (ids[kind] = uid(`${tag}${kind}`));
  const made = [
    await m.createMailgunProvider({ providerId: id('mailgun'), name: 'Mailgun', ...c.mailgun, isEuRegion: false, ...from, replyToEmail: 'support@edgewrite.test', enabled }),
    await m.createSendgridProvider({ providerId: id('sendgrid'), name: 'SendGrid', ...c.sendgrid, ...from, enabled }),
    await m.createResendProvider({ providerId: id('resend'), name: 'Resend', ...c.resend, ...from, enabled }),
    await m.createSesProvider({ providerId: id('ses'), name: 'SES', ...c.ses, ...from, enabled }),
    await m.createSmtpProvider({ providerId: id('smtp'), name: 'SMTP', host: '127.0.0.1', port: Number(process.env.EDGEWRITE_TEST_SMTP_PORT), username: SMTP_USER, password: SMTP_PASSWORD, encryption: 'none', autoTLS: false, ...from, enabled }),
    await m.createTwilioProvider({ providerId: id('twilio'), name: 'Twilio', ...c.twilio, from: '+15550009999', enabled }),
    await m.createVonageProvider({ providerId: id('vonage'), name: 'Vonage', ...c.vonage, from: 'Edgewrite', enabled }),
    await m.createTextmagicProvider({ providerId: id('textmagic'), name: 'Textmagic', ...c.textmagic, from: 'Edgewrite', enabled }),
    await m.createTelesignProvider({ providerId: id('telesign'), name: 'Telesign', ...c.telesign, from: 'Edgewrite', enabled }),
    await m.createMsg91Provider({ providerId: id('msg91'), name: 'MSG91', ...c.msg91, enabled }),
    await m.createFcmProvider({ providerId: id('fcm'), name: 'FCM', serviceAccountJSON: JSON.parse(c.fcm.serviceAccountJSON), enabled }),
    await m.createApnsProvider({ providerId: id('apns'), name: 'APNs', ...c.apns, sandbox: true, enabled }),
  ];
  const postmark = await raw('/messaging/providers/postmark', {
    method: 'POST',
    key: true,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ providerId: id('postmark'), name: 'Postmark', ...c.postmark, ...from, enabled }),
  });
  assert.equal(postmark.status, 201, postmark.text);
  made.push(postmark.json);
  return { ids, made };
}

async function deleteAll(ids) {
  for (const providerId of Object.values(ids)) await messaging().deleteProvider({ providerId });
}

test('messaging: providers of every kind are created, listed, updated and deleted; secrets never come back', async () => {
  const m = messaging();
  const { ids, made } = await createAll('crud');
  for (const provider of made) {
    assert.equal(provider.enabled, true, `${provider.provider} is enabled with its credentials`);
    assertNoSecrets(JSON.stringify(provider), `the created ${provider.provider} provider`);
  }
  const mailgun = made[0];
  assert.equal(mailgun.provider, 'mailgun');
  assert.equal(mailgun.type, 'email');
  assert.equal(mailgun.credentials.domain, providers.credentials.mailgun.domain);
  assert.equal(mailgun.credentials.apiKey, undefined);
  assert.equal(mailgun.options.fromEmail, 'news@edgewrite.test');
  assert.deepEqual(made.map((p) => p.type), ['email', 'email', 'email', 'email', 'email', 'sms', 'sms', 'sms', 'sms', 'sms', 'push', 'push', 'email']);

  const list = await m.listProviders({ queries: [node.Query.equal('type', 'sms'), node.Query.limit(100)] });
  for (const kind of ['twilio', 'vonage', 'textmagic', 'telesign', 'msg91']) {
    assert.ok(list.providers.some((p) => p.$id === ids[kind]), kind);
  }
  assert.ok(list.providers.every((p) => p.type === 'sms'));
  assertNoSecrets(JSON.stringify(await m.listProviders({ queries: [node.Query.limit(100)] })), 'the provider list');
  const searched = await m.listProviders({ search: ids.twilio });
  assert.deepEqual(searched.providers.map((p) => p.$id), [ids.twilio]);

  // Update keeps secrets it is not given, refuses another kind's route, and enabling without
  // credentials.
  const renamed = await m.updateMailgunProvider({ providerId: ids.mailgun, name: 'Mailgun EU', isEuRegion: true });
  assert.equal(renamed.name, 'Mailgun EU');
  assert.equal(renamed.credentials.isEuRegion, true);
  assert.equal(renamed.enabled, true);
  await rejectsWith(assert, m.updateSendgridProvider({ providerId: ids.mailgun, name: 'x' }), 400, 'provider_incorrect_type');
  const bare = await m.createResendProvider({ providerId: uid('bare'), name: 'No key yet', enabled: true });
  assert.equal(bare.enabled, false, 'a provider without its credentials is created disabled');
  await rejectsWith(assert, m.updateResendProvider({ providerId: bare.$id, enabled: true }), 400, 'provider_missing_credentials');
  await rejectsWith(assert, m.createResendProvider({ providerId: bare.$id, name: 'again' }), 409, 'provider_already_exists');
  await rejectsWith(assert, m.createFcmProvider({ providerId: uid('badfcm'), name: 'bad', serviceAccountJSON: { project_id: 'p' }, enabled: true }), 400, 'general_argument_invalid');
  await rejectsWith(assert, m.createSmtpProvider({ providerId: uid('badsmtp'), name: 'bad', host: 'h', port: 70000 }), 400, 'general_argument_invalid');
  await m.deleteProvider({ providerId: bare.$id });
  await rejectsWith(assert, m.getProvider({ providerId: bare.$id }), 404, 'provider_not_found');

  // Only keys with the providers scopes.
  const { client } = await userClient();
  await rejectsWith(assert, new node.Messaging(client).listProviders(), 401, 'general_unauthorized_scope');
  await deleteAll(ids);
});

test('messaging: an email and an SMS to a topic reach every subscriber once, through Mailgun and Twilio', async () => {
  const m = messaging();
  const mailgun = await m.createMailgunProvider({ providerId: uid('mg'), name: 'Mailgun', ...providers.credentials.mailgun, fromName: 'Edgewrite News', fromEmail: 'news@edgewrite.test', enabled: true });
  const twilio = await m.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
  const topic = await m.createTopic({ topicId: uid('topic'), name: 'Weekly news' });
  assert.deepEqual(topic.subscribe, ['users']);
  const emailTargets = [];
  const smsTargets = [];
  for (const n of [1, 2, 3]) {
    const e = await userWithTarget('email', address(`reader${n}`), mailgun.$id, `Reader ${n}`);
    const s = await userWithTarget('sms', phone(), twilio.$id);
    emailTargets.push(e);
    smsTargets.push(s);
    const sub = await m.createSubscriber({ topicId: topic.$id, subscriberId: uid('s'), targetId: e.targetId });
    assert.equal(sub.target.identifier, e.identifier);
    assert.equal(sub.userName, `Reader ${n}`);
    assert.equal(sub.providerType, 'email');
    await m.createSubscriber({ topicId: topic.$id, subscriberId: uid('s'), targetId: s.targetId });
  }
  await rejectsWith(assert, m.createSubscriber({ topicId: topic.$id, subscriberId: uid('s'), targetId: emailTargets[0].targetId }), 409, 'subscriber_already_exists');
  const counted = await m.getTopic({ topicId: topic.$id });
  assert.equal(counted.emailTotal, 3);
  assert.equal(counted.smsTotal, 3);
  assert.equal(counted.pushTotal, 0);
  assert.equal((await m.listSubscribers({ topicId: topic.$id })).total, 6);

  const email = await m.createEmail({ messageId: uid('m'), subject: 'Hello readers', content: 'This week: edge things.', topics: [topic.$id] });
  assert.equal(email.providerType, 'email');
  assert.ok(['processing', 'sent'].includes(email.status), email.status);
  const sms = await m.createSms({ messageId: uid('m'), content: 'Your code is 123456', topics: [topic.$id] });
  const [sentEmail, sentSms] = [await settled(email.$id), await settled(sms.$id)];
  assert.equal(sentEmail.status, 'sent', JSON.stringify(sentEmail.deliveryErrors));
  assert.equal(sentEmail.deliveredTotal, 3);
  assert.deepEqual(sentEmail.deliveryErrors, []);
  assert.ok(sentEmail.deliveredAt);
  assert.equal(sentSms.status, 'sent', JSON.stringify(sentSms.deliveryErrors));
  assert.equal(sentSms.deliveredTotal, 3);
  for (const t of emailTargets) {
    const got = providers.deliveredTo('mailgun', t.identifier);
    assert.equal(got.length, 1, `one email to ${t.identifier}`);
    assert.equal(got[0].subject, 'Hello readers');
    assert.equal(got[0].text, 'This week: edge things.');
    assert.match(got[0].from, /news@edgewrite\.test/);
  }
  for (const t of smsTargets) {
    const got = providers.deliveredTo('twilio', t.identifier);
    assert.equal(got.length, 1, `one SMS to ${t.identifier}`);
    assert.equal(got[0].content, 'Your code is 123456');
  }
  assert.deepEqual(providers.rejected, [], 'the stand-ins refused nothing');
  await m.deleteProvider({ providerId: mailgun.$id });
  await m.deleteProvider({ providerId: twilio.$id });
});

test('messaging: a failing target is reported and the others delivered; a passing failure is retried', async () => {
  const m = messaging();
  const mailgun = await m.createMailgunProvider({ providerId: uid('mg'), name: 'Mailgun', ...providers.credentials.mailgun, fromEmail: 'news@edgewrite.test', enabled: true });
  const twilio = await m.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
  const good = await userWithTarget('email', address('good'), mailgun.$id);
  const bad = await userWithTarget('email', address('bad'), mailgun.$id);
  const flaky = await userWithTarget('sms', phone(), twilio.$id);
  const fine = await userWithTarget('sms', phone(), twilio.$id);
  providers.failFor('mailgun', bad.identifier, { status: 400 });
  providers.failFor('twilio', flaky.identifier, { status: 503, times: 1 });

  const email = await m.createEmail({ messageId: uid('m'), subject: 'Partly', content: 'body', targets: [bad.targetId, good.targetId] });
  const done = await settled(email.$id);
  assert.equal(done.status, 'failed', 'as in Appwrite, a message with a failed target is failed');
  assert.equal(done.deliveredTotal, 1);
  assert.equal(done.deliveryErrors.length, 1);
  assert.match(done.deliveryErrors[0], new RegExp(bad.identifier.replace('.', '\\.')));
  assert.match(done.deliveryErrors[0], /Mailgun answered 400/);
  assert.equal(providers.deliveredTo('mailgun', good.identifier).length, 1);
  assert.equal(providers.deliveredTo('mailgun', bad.identifier).length, 0);
  assertNoSecrets(JSON.stringify(done), 'a message with delivery errors');

  const sms = await m.createSms({ messageId: uid('m'), content: 'retry me', targets: [flaky.targetId, fine.targetId] });
  const retried = await settled(sms.$id);
  assert.equal(retried.status, 'sent', JSON.stringify(retried.deliveryErrors));
  assert.equal(retried.deliveredTotal, 2, 'the 503 was retried');
  assert.equal(providers.failedTo('twilio', flaky.identifier).length, 1);
  assert.equal(providers.deliveredTo('twilio', flaky.identifier).length, 1);
  assert.equal(providers.deliveredTo('twilio', fine.identifier).length, 1, 'the other target was sent once, not again on the retry');

  // Nobody delivered: failed.
  providers.failFor('twilio', fine.identifier, { status: 401 });
  const failed = await settled((await m.createSms({ messageId: uid('m'), content: 'no', targets: [fine.targetId] })).$id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.deliveredTotal, 0);
  // Nobody to send to: failed, and said so.
  const empty = await m.createTopic({ topicId: uid('empty'), name: 'Nobody' });
  const none = await settled((await m.createSms({ messageId: uid('m'), content: 'x', topics: [empty.$id] })).$id);
  assert.equal(none.status, 'failed');
  assert.deepEqual(none.deliveryErrors, ['No valid recipients found.']);
  await m.deleteProvider({ providerId: mailgun.$id });
  await m.deleteProvider({ providerId: twilio.$id });
});

test('messaging: a provider that answers slowly holds up no other message', async () => {
  const m = messaging();
  const twilio = await m.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
  const slow = await userWithTarget('sms', phone(), twilio.$id);
  const quick = await userWithTarget('sms', phone(), twilio.$id);
  providers.slowFor('twilio', slow.identifier, { ms: 12_000, times: 1 });
  // Not awaited: without a queue (Spin) the message is delivered inside its own request.
  const first = m.createSms({ messageId: uid('m'), content: 'slow', targets: [slow.targetId] });
  const [held] = await providers.waitFor('twilio', slow.identifier, { timeout: 10_000 });
  const second = await m.createSms({ messageId: uid('m'), content: 'quick', targets: [quick.targetId] });
  const done = await settled(second.$id);
  assert.equal(done.status, 'sent', JSON.stringify(done.deliveryErrors));
  assert.equal(held.answeredAt, undefined, 'the second message was delivered while the first still waited for its provider');
  assert.equal((await settled((await first).$id)).status, 'sent');
  assert.equal(providers.deliveredTo('twilio', slow.identifier).length, 1);
  assert.equal(providers.deliveredTo('twilio', quick.identifier).length, 1);
  await m.deleteProvider({ providerId: twilio.$id });
});

test('messaging: every other provider speaks its own protocol (SendGrid, Resend, Postmark, SES, Vonage, Textmagic, Telesign, MSG91, FCM, APNs)', async () => {
  const m = messaging();
  const { ids } = await createAll('each');
  const sends = [];
  for (const kind of ['sendgrid', 'resend', 'postmark', 'ses']) {
    const t = await userWithTarget('email', address(kind), ids[kind], 'Jane Doe');
    const msg = await m.createEmail({ messageId: uid('m'), subject: `via ${kind}`, content: `<p>hi ${kind}</p>`, html: true, targets: [t.targetId] });
    sends.push({ kind, t, msg, check: (r) => { assert.equal(r.subject, `via ${kind}`); assert.equal(r.html, `<p>hi ${kind}</p>`); } });
  }
  for (const kind of ['vonage', 'textmagic', 'telesign', 'msg91']) {
    const t = await userWithTarget('sms', phone(), ids[kind]);
    const msg = await m.createSms({ messageId: uid('m'), content: `code via ${kind}`, targets: [t.targetId] });
    sends.push({ kind, t, msg, check: (r) => assert.equal(r.content, `code via ${kind}`) });
  }
  for (const kind of ['fcm', 'apns']) {
    const t = await userWithTarget('push', `device-${kind}-${uid('')}`, ids[kind]);
    const msg = await m.createPush({ messageId: uid('m'), title: 'Ping', body: `via ${kind}`, data: { orderId: '42' }, badge: 3, targets: [t.targetId] });
    sends.push({ kind, t, msg, check: (r) => { assert.equal(r.title, 'Ping'); assert.equal(r.body, `via ${kind}`); assert.equal(r.data.orderId, '42'); } });
  }
  for (const { kind, t, msg, check } of sends) {
    const done = await settled(msg.$id);
    assert.equal(done.status, 'sent', `${kind}: ${JSON.stringify(done.deliveryErrors)}`);
    assert.equal(done.deliveredTotal, 1, kind);
    const got = providers.deliveredTo(kind, t.identifier);
    assert.equal(got.length, 1, `${kind} got one request`);
    check(got[0]);
  }
  assert.deepEqual(providers.rejected.map((r) => `${r.provider}: ${r.reason}`), [], 'the stand-ins refused nothing');

  // FCM: the access token is fetched once and reused; a device FCM no longer knows expires.
  const tokens = providers.tokenRequests;
  assert.ok(tokens >= 1);
  const gone = await userWithTarget('push', `device-gone-${uid('')}`, ids.fcm);
  providers.failFor('fcm', gone.identifier, { status: 404 });
  const expired = await settled((await m.createPush({ messageId: uid('m'), title: 'x', body: 'y', targets: [gone.targetId] })).$id);
  assert.equal(expired.status, 'failed');
  if (runtime !== 'spin') {
    // Spin starts a fresh instance per request: nothing outlives it to cache a token in.
    assert.equal(providers.tokenRequests, tokens, 'the cached access token was reused');
  }
  const target = await users().getTarget({ userId: gone.userId, targetId: gone.targetId });
  assert.equal(target.expired, true, 'an unregistered device token marks its target expired');
  await deleteAll(ids);
});

test('messaging: an email with cc, bcc, HTML and a storage attachment', async () => {
  const m = messaging();
  const mailgun = await m.createMailgunProvider({ providerId: uid('mg'), name: 'Mailgun', ...providers.credentials.mailgun, fromEmail: 'news@edgewrite.test', enabled: true });
  const to = await userWithTarget('email', address('to'), mailgun.$id);
  const second = await userWithTarget('email', address('second'), mailgun.$id);
  const cc = await userWithTarget('email', address('cc'), mailgun.$id);
  const bcc = await userWithTarget('email', address('bcc'), mailgun.$id);
  const storage = new node.Storage(adminClient());
  const bucket = await storage.createBucket({ bucketId: uid('b'), name: 'attachments' });
  const bytes = Buffer.from('%PDF-1.4 edgewrite attachment \u0000\u0001\u0002'.repeat(50), 'latin1');
  const file = await storage.createFile({ bucketId: bucket.$id, fileId: uid('f'), file: InputFile.fromBuffer(bytes, 'report.pdf') });
  const email = await m.createEmail({
    messageId: uid('m'),
    subject: 'Report',
    content: '<h1>Attached</h1>',
    html: true,
    targets: [to.targetId, second.targetId],
    cc: [cc.targetId],
    bcc: [bcc.targetId],
    attachments: [`${bucket.$id}:${file.$id}`],
  });
  const done = await settled(email.$id);
  assert.equal(done.status, 'sent', JSON.stringify(done.deliveryErrors));
  const [got] = providers.deliveredTo('mailgun', to.identifier);
  assert.ok(got, 'delivered');
  assert.deepEqual(got.cc, [cc.identifier]);
  assert.deepEqual(got.bcc, [bcc.identifier]);
  assert.equal(got.html, '<h1>Attached</h1>');
  assert.equal(got.attachments.length, 1);
  assert.equal(got.attachments[0].name, 'report.pdf');
  assert.ok(Buffer.compare(got.attachments[0].bytes, bytes) === 0, 'the attachment arrives byte for byte');
  const [other] = providers.deliveredTo('mailgun', second.identifier);
  assert.deepEqual([other.cc, other.bcc], [[], []], 'cc and bcc get one copy, with the first target\'s email');
  assert.equal(other.attachments.length, 1);
  assert.deepEqual(done.data.attachments.map((a) => ({ ...a })), [{ bucketId: bucket.$id, fileId: file.$id }]);

  await rejectsWith(assert, m.createEmail({ messageId: uid('m'), subject: 's', content: 'c', targets: [to.targetId], attachments: [`${bucket.$id}:missing`] }), 404, 'storage_file_not_found');
  await m.deleteProvider({ providerId: mailgun.$id });
});

test('messaging: an SMTP provider delivers over SMTP with cc and bcc as recipients, no Bcc header', async () => {
  const m = messaging();
  const smtp = await m.createSmtpProvider({ providerId: uid('smtp'), name: 'Relay', host: '127.0.0.1', port: Number(process.env.EDGEWRITE_TEST_SMTP_PORT), username: SMTP_USER, password: SMTP_PASSWORD, encryption: 'none', mailer: 'edgewrite-tests', fromName: 'Relay', fromEmail: 'relay@edgewrite.test', enabled: true });
  assert.equal(smtp.credentials.password, undefined);
  const to = await userWithTarget('email', address('smtp'), smtp.$id, 'Smtp Reader');
  const bcc = await userWithTarget('email', address('hidden'), smtp.$id);
  const send = async () => settled((await m.createEmail({ messageId: uid('m'), subject: 'Über SMTP', content: 'plain body', targets: [to.targetId], bcc: [bcc.targetId] })).$id);
  if (runtime === 'spin') {
    // Spin components have no raw TCP (README, "Messaging").
    const done = await send();
    assert.equal(done.status, 'failed');
    assert.match(done.deliveryErrors[0], /SMTP|TCP|outbound|not allowed/i);
    await m.deleteProvider({ providerId: smtp.$id });
    return;
  }
  // With autoTLS (the default) a relay offering no STARTTLS never gets the password: the sink
  // offers none, as a man in the middle stripping it would make it look.
  const refused = await send();
  assert.equal(refused.status, 'failed');
  assert.match(refused.deliveryErrors[0], /offered no STARTTLS; refusing to send the password/);
  assert.equal(sinks.received().filter((x) => x.kind === 'email' && x.to.includes(to.identifier)).length, 0);
  // Told it is a trusted relay without TLS, it delivers.
  await m.updateSmtpProvider({ providerId: smtp.$id, autoTLS: false });
  const done = await send();
  assert.equal(done.status, 'sent', JSON.stringify(done.deliveryErrors));
  const got = await sinks.email(to.identifier);
  assert.equal(got.subject, 'Über SMTP');
  assert.equal(got.text.trim(), 'plain body');
  assert.ok(got.authed, 'logged in with the provider credentials');
  assert.deepEqual([...got.to].sort(), [to.identifier, bcc.identifier].sort());
  assert.equal(got.headers.bcc, undefined, 'no Bcc header');
  assert.match(got.headers.to, new RegExp(to.identifier.replace('.', '\\.')));
  await m.deleteProvider({ providerId: smtp.$id });
});

test('messaging: a scheduled message is delivered after its time, not before', async () => {
  const m = messaging();
  const twilio = await m.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
  const t = await userWithTarget('sms', phone(), twilio.$id);
  const at = new Date(Date.now() + 4000);
  const msg = await m.createSms({ messageId: uid('m'), content: 'later', targets: [t.targetId], scheduledAt: at.toISOString() });
  assert.equal(msg.status, 'scheduled');
  assert.equal(new Date(msg.scheduledAt).getTime(), at.getTime());
  await tick();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await m.getMessage({ messageId: msg.$id })).status, 'scheduled', 'a tick before its time leaves it');
  assert.equal(providers.deliveredTo('twilio', t.identifier).length, 0, 'nothing sent before its time');
  await new Promise((r) => setTimeout(r, Math.max(0, at.getTime() - Date.now() + 200)));
  await tick();
  const done = await settled(msg.$id);
  assert.equal(done.status, 'sent', JSON.stringify(done.deliveryErrors));
  const got = providers.deliveredTo('twilio', t.identifier);
  assert.equal(got.length, 1);
  assert.ok(got[0].at >= at.getTime(), 'delivered after its time');
  await rejectsWith(assert, m.createSms({ messageId: uid('m'), content: 'x', targets: [t.targetId], scheduledAt: new Date(Date.now() - 60000).toISOString() }), 400, 'general_argument_invalid');
  await m.deleteProvider({ providerId: twilio.$id });
});

test('messaging: drafts wait for an update; sent messages cannot change; list, get, targets, delete', async () => {
  const m = messaging();
  const twilio = await m.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
  const t = await userWithTarget('sms', phone(), twilio.$id);
  const draft = await m.createSms({ messageId: uid('m'), content: 'draft text', targets: [t.targetId], draft: true });
  assert.equal(draft.status, 'draft');
  assert.deepEqual({ ...draft.data }, { content: 'draft text' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(providers.deliveredTo('twilio', t.identifier).length, 0);
  const edited = await m.updateSms({ messageId: draft.$id, content: 'final text' });
  assert.equal(edited.status, 'draft');
  const released = await m.updateSms({ messageId: draft.$id, draft: false });
  assert.ok(['processing', 'sent'].includes(released.status));
  const done = await settled(draft.$id);
  assert.equal(done.status, 'sent');
  assert.equal(providers.deliveredTo('twilio', t.identifier)[0].content, 'final text');
  await rejectsWith(assert, m.updateSms({ messageId: draft.$id, content: 'too late' }), 400, 'message_already_sent');
  await rejectsWith(assert, m.updateEmail({ messageId: draft.$id, subject: 'x' }), 404, 'message_not_found');

  const list = await m.listMessages({ queries: [node.Query.equal('status', 'sent'), node.Query.equal('providerType', 'sms'), node.Query.limit(100)] });
  assert.ok(list.messages.some((x) => x.$id === draft.$id));
  const targets = await m.listTargets({ messageId: draft.$id });
  assert.deepEqual(targets.targets.map((x) => x.$id), [t.targetId]);
  await m.delete({ messageId: draft.$id });
  await rejectsWith(assert, m.getMessage({ messageId: draft.$id }), 404, 'message_not_found');
  await m.deleteProvider({ providerId: twilio.$id });
});

test('messaging: bad messages get Appwrite errors', async () => {
  const m = messaging();
  const emailTarget = await userWithTarget('email', address('v'));
  const smsTarget = await userWithTarget('sms', phone());
  await rejectsWith(assert, m.createEmail({ messageId: uid('m'), subject: 's', content: 'c' }), 400, 'message_missing_target');
  await rejectsWith(assert, m.createEmail({ messageId: uid('m'), subject: 's', content: 'c', targets: [smsTarget.targetId] }), 400, 'message_target_not_email');
  await rejectsWith(assert, m.createSms({ messageId: uid('m'), content: 'c', targets: [emailTarget.targetId] }), 400, 'message_target_not_sms');
  await rejectsWith(assert, m.createSms({ messageId: uid('m'), content: 'c', targets: ['nope'] }), 404, 'user_target_not_found');
  await rejectsWith(assert, m.createSms({ messageId: uid('m'), content: 'c', topics: ['nope'] }), 404, 'topic_not_found');
  await rejectsWith(assert, m.createPush({ messageId: uid('m'), targets: [emailTarget.targetId] }), 400, 'message_target_not_push');
  const id = uid('m');
  await m.createSms({ messageId: id, content: 'c', draft: true });
  await rejectsWith(assert, m.createSms({ messageId: id, content: 'c', draft: true }), 409, 'message_already_exists');
  const res = await raw('/messaging/messages/sms', { method: 'POST', key: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messageId: uid('m'), content: 'x'.repeat(1601), draft: true }) });
  assertAppwriteError(assert, res, 400, 'general_argument_invalid');
  const tooMany = Array.from({ length: 101 }, (_, i) => `t${i}`);
  await rejectsWith(assert, m.createSms({ messageId: uid('m'), content: 'c', targets: tooMany }), 400, 'general_argument_invalid');
  const { client } = await userClient();
  await rejectsWith(assert, new node.Messaging(client).listMessages(), 401, 'general_unauthorized_scope');
});

test('messaging: a signed-in user subscribes their own push target from the web SDK, as the topic allows', async () => {
  const m = messaging();
  const open = await m.createTopic({ topicId: uid('open'), name: 'Open', subscribe: ['users'] });
  const vip = await m.createTopic({ topicId: uid('vip'), name: 'VIP', subscribe: ['label:vip'] });
  const { user, session } = await userClient();
  const client = new web.Client().setEndpoint(endpoint).setProject(projectId).setSession(session.secret);
  const account = new web.Account(client);
  const target = await account.createPushTarget({ targetId: uid('push'), identifier: `device-${uid('')}` });
  assert.equal(target.providerType, 'push');
  assert.equal(target.userId, user.$id);
  const moved = await account.updatePushTarget({ targetId: target.$id, identifier: 'device-renewed' });
  assert.equal(moved.identifier, 'device-renewed');
  const web_m = new web.Messaging(client);
  const sub = await web_m.createSubscriber({ topicId: open.$id, subscriberId: uid('s'), targetId: target.$id });
  assert.equal(sub.userId, user.$id);
  assert.equal((await m.getTopic({ topicId: open.$id })).pushTotal, 1);
  await rejectsWith(assert, web_m.createSubscriber({ topicId: vip.$id, subscriberId: uid('s'), targetId: target.$id }), 401, 'user_unauthorized');
  // Someone else's target is as good as absent.
  const other = await userWithTarget('push', `device-${uid('')}`);
  await rejectsWith(assert, web_m.createSubscriber({ topicId: open.$id, subscriberId: uid('s'), targetId: other.targetId }), 404, 'user_target_not_found');
  const othersSub = await m.createSubscriber({ topicId: open.$id, subscriberId: uid('s'), targetId: other.targetId });
  // A user sees only their own subscriptions: others' are their addresses and devices.
  const seen = await raw(`/messaging/topics/${open.$id}/subscribers`, { headers: { 'x-appwrite-session': session.secret } });
  assert.equal(seen.status, 200, seen.text);
  assert.deepEqual(seen.json.subscribers.map((x) => x.$id), [sub.$id]);
  const peek = await raw(`/messaging/topics/${open.$id}/subscribers/${othersSub.$id}`, { headers: { 'x-appwrite-session': session.secret } });
  assertAppwriteError(assert, peek, 404, 'subscriber_not_found');
  await rejectsWith(assert, web_m.deleteSubscriber({ topicId: open.$id, subscriberId: othersSub.$id }), 404, 'subscriber_not_found');
  await rejectsWith(assert, new web.Messaging(guestClient()).createSubscriber({ topicId: open.$id, subscriberId: uid('s'), targetId: target.$id }), 401, 'general_unauthorized_scope');
  await web_m.deleteSubscriber({ topicId: open.$id, subscriberId: sub.$id });
  assert.equal((await m.getTopic({ topicId: open.$id })).pushTotal, 1, 'only the other subscriber is left');
  // A deleted target leaves its topics.
  await account.deletePushTarget({ targetId: target.$id });
  await users().deleteTarget({ userId: other.userId, targetId: other.targetId });
  assert.equal((await m.getTopic({ topicId: open.$id })).pushTotal, 0);
  await m.deleteTopic({ topicId: open.$id });
  await rejectsWith(assert, m.getTopic({ topicId: open.$id }), 404, 'topic_not_found');
});

test('messaging: provider secrets appear in no log line', async () => {
  let log = '';
  try {
    log = readFileSync(new URL(`../../target/e2e/${runtime}/server.log`, import.meta.url), 'utf8');
  } catch {
    return; // Not started by `cargo xtask` (no log file to read).
  }
  assert.ok(log.length > 0);
  assertNoSecrets(log, 'the server log');
});

test('messaging: a push image is a stored file, fetched by the push service through a signed URL that opens nothing else', async () => {
  const m = messaging();
  const storage = new node.Storage(adminClient());
  const bucket = await storage.createBucket({ bucketId: uid('pushimg'), name: 'push images' });
  const image = png(40, 20);
  const file = await storage.createFile({ bucketId: bucket.$id, fileId: uid('img'), file: InputFile.fromBuffer(image, 'banner.png') });
  const text = await storage.createFile({ bucketId: bucket.$id, fileId: uid('txt'), file: InputFile.fromBuffer(Buffer.from('not an image'), 'notes.txt') });
  const fcm = await m.createFcmProvider({ providerId: uid('fcmimg'), name: 'FCM', serviceAccountJSON: JSON.parse(providers.credentials.fcm.serviceAccountJSON), enabled: true });
  try {
    const t = await userWithTarget('push', `device-img-${uid('')}`, fcm.$id);
    const msg = await m.createPush({ messageId: uid('m'), title: 'New banner', body: 'look', image: `${bucket.$id}:${file.$id}`, targets: [t.targetId] });
    assert.equal(msg.data.image.bucketId, bucket.$id);
    assert.equal(msg.data.image.fileId, file.$id);
    const url = msg.data.image.url;
    assert.ok(url.includes(`/storage/buckets/${bucket.$id}/files/${file.$id}/push?project=${projectId}&jwt=`), url);
    const done = await settled(msg.$id);
    assert.equal(done.status, 'sent', JSON.stringify(done.deliveryErrors));
    const [sent] = providers.deliveredTo('fcm', t.identifier);
    assert.equal(sent.payload.notification.image, url, 'FCM got the signed URL');
    // The push service fetches it without any other credential.
    const fetched = await fetch(url);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), image);
    // The signature opens this file only: not another, not after tampering, not without it.
    const jwt = new URL(url).searchParams.get('jwt');
    const base = `/storage/buckets/${bucket.$id}/files`;
    assertAppwriteError(assert, await raw(`${base}/${text.$id}/push?jwt=${jwt}`), 401, 'user_unauthorized');
    const [h, p, sig] = jwt.split('.');
    const forged = JSON.parse(Buffer.from(p, 'base64url'));
    forged.fileId = text.$id;
    assertAppwriteError(assert, await raw(`${base}/${text.$id}/push?jwt=${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`), 401, 'user_unauthorized');
    assertAppwriteError(assert, await raw(`${base}/${file.$id}/push?jwt=${jwt.slice(0, -2)}xx`), 401, 'user_unauthorized');
    assertAppwriteError(assert, await raw(`${base}/${file.$id}/push`), 401, 'user_unauthorized');
    // Only an existing PNG or JPEG can be a push image.
    await rejectsWith(assert, m.createPush({ messageId: uid('m'), title: 'x', image: `${bucket.$id}:${text.$id}`, draft: true }), 400, 'storage_file_type_unsupported');
    await rejectsWith(assert, m.createPush({ messageId: uid('m'), title: 'x', image: `${bucket.$id}:nothing`, draft: true }), 404, 'storage_file_not_found');
    await rejectsWith(assert, m.createPush({ messageId: uid('m'), title: 'x', image: 'no-colon', draft: true }), 400, 'general_argument_invalid');
  } finally {
    await m.deleteProvider({ providerId: fcm.$id });
    await storage.deleteBucket({ bucketId: bucket.$id });
  }
});
