// Flows that send a message: email OTP and magic-URL logins, password recovery, email and phone
// verification, phone OTP logins and team invitations — delivered for real (SMTP from workerd,
// the HTTP mail API from Spin, SMS over HTTP) to loopback stand-ins, and completed with the
// code or link from the message through the official SDKs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  adminClient, guestClient, rejectsWith, node, web, uniqueEmail, userClient, installFallbackStorage, runtime,
} from './helpers.mjs';
import { startSinks, linkIn, codeIn, SMTP_USER } from './sinks.mjs';

let sinks;
before(async () => { sinks = await startSinks(); });
after(async () => { await sinks.close(); });

const APP = 'http://localhost:5173';
const uniquePhone = () => `+1555${Math.floor(Math.random() * 1e7).toString().padStart(7, '0')}`;

/** A web SDK Account without a session (its own fallback-cookie store). */
function freshWebAccount() {
  installFallbackStorage();
  return new web.Account(guestClient());
}

test('email OTP: the 6-digit code from the email signs the user up and in, once', async () => {
  const account = freshWebAccount();
  const email = uniqueEmail('otp');
  const token = await account.createEmailToken({ userId: web.ID.unique(), email, phrase: true });
  assert.equal(token.secret, '', 'a client never sees the code');
  assert.match(token.phrase, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
  const mail = await sinks.email(email);
  const code = codeIn(mail.subject);
  assert.equal(codeIn(mail.text), code);
  assert.ok(mail.html.includes(code));
  assert.ok(mail.text.includes(token.phrase), 'the phrase is in the email too');
  assert.match(mail.subject, /Edgewrite Tests/);
  if (mail.via === 'smtp') {
    assert.equal(mail.authed, true, 'edgewrite authenticated to the SMTP server');
    assert.equal(mail.from, 'noreply@edgewrite.test');
    assert.match(mail.headers.from, /Edgewrite Tests/);
    assert.match(mail.headers['content-type'], /^multipart\/alternative/);
  }
  await rejectsWith(assert, account.createSession({ userId: token.userId, secret: '000000' === code ? '111111' : '000000' }), 401, 'user_invalid_token');
  const session = await account.createSession({ userId: token.userId, secret: code });
  assert.deepEqual(session.factors, ['email']);
  assert.equal(session.provider, 'token', 'an email code is a token session');
  const me = await account.get();
  assert.equal(me.email, email);
  assert.equal(me.emailVerification, true, 'the code proved the address');
  await rejectsWith(assert, freshWebAccount().createSession({ userId: token.userId, secret: code }), 401, 'user_invalid_token');
});

test('magic URL: the emailed link carries userId and secret for the allowed URL; others are refused', async () => {
  const email = uniqueEmail('magic');
  const token = await freshWebAccount().createMagicURLToken({ userId: web.ID.unique(), email, url: `${APP}/magic?from=test` });
  const mail = await sinks.email(email);
  const link = linkIn(mail.text);
  assert.equal(link.origin, APP);
  assert.equal(link.pathname, '/magic');
  assert.equal(link.searchParams.get('from'), 'test');
  assert.equal(link.searchParams.get('userId'), token.userId);
  assert.ok(mail.html.includes('href="'), 'the HTML has the link');
  const account = freshWebAccount();
  const session = await account.updateMagicURLSession({ userId: link.searchParams.get('userId'), secret: link.searchParams.get('secret') });
  assert.equal(session.userId, token.userId);
  assert.equal(session.provider, 'magic-url', 'Appwrite names magic-URL sessions after them');
  await rejectsWith(assert, freshWebAccount().createMagicURLToken({ userId: web.ID.unique(), email, url: 'https://evil.example/steal' }), 400, 'general_argument_invalid');
});

test('recovery: the link resets the password once; an unknown email gets the same answer and no email', async () => {
  const email = uniqueEmail('recover');
  const users = new node.Users(adminClient());
  const user = await users.create({ userId: node.ID.unique(), email, password: 'first-password-1', name: 'Recoverer' });
  const account = freshWebAccount();
  const token = await account.createRecovery({ email, url: `${APP}/reset` });
  assert.equal(token.userId, user.$id);
  const link = linkIn((await sinks.email(email)).text);
  const [userId, secret] = [link.searchParams.get('userId'), link.searchParams.get('secret')];
  await rejectsWith(assert, account.updateRecovery({ userId, secret: secret.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')), password: 'second-password-2' }), 401, 'user_invalid_token');
  const done = await account.updateRecovery({ userId, secret, password: 'second-password-2' });
  assert.equal(done.userId, user.$id);
  assert.equal(done.secret, '');
  await rejectsWith(assert, account.updateRecovery({ userId, secret, password: 'third-password-3' }), 401, 'user_invalid_token');
  await rejectsWith(assert, freshWebAccount().createEmailPasswordSession({ email, password: 'first-password-1' }), 401, 'user_invalid_credentials');
  await freshWebAccount().createEmailPasswordSession({ email, password: 'second-password-2' });

  // Unknown email: same status and shape, nothing delivered.
  const before = sinks.received().length;
  const ghost = await freshWebAccount().createRecovery({ email: uniqueEmail('nobody'), url: `${APP}/reset` });
  assert.deepEqual(Object.keys(ghost).sort(), Object.keys(token).sort());
  assert.match(ghost.userId, /^[0-9a-f]{20}$/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sinks.received().length, before);
  await rejectsWith(assert, freshWebAccount().createRecovery({ email, url: 'https://evil.example/reset' }), 400, 'general_argument_invalid');
});

test('email verification: the link from the email verifies the address', async () => {
  installFallbackStorage();
  const account = new web.Account(guestClient());
  const email = uniqueEmail('verify');
  await account.create({ userId: web.ID.unique(), email, password: 'verify-password-1', name: '<b>Bold</b> & "quoted"' });
  await account.createEmailPasswordSession({ email, password: 'verify-password-1' });
  await account.createEmailVerification({ url: `${APP}/verify` });
  const mail = await sinks.email(email);
  assert.ok(!mail.html.includes('<b>Bold</b>'), 'user data is escaped in HTML');
  assert.ok(mail.html.includes('&lt;b&gt;Bold&lt;/b&gt;'));
  const link = linkIn(mail.text);
  // The link is usually opened in another browser, without the session.
  const done = await freshWebAccount().updateEmailVerification({ userId: link.searchParams.get('userId'), secret: link.searchParams.get('secret') });
  assert.equal(done.secret, '');
  const users = new node.Users(adminClient());
  assert.equal((await users.get({ userId: done.userId })).emailVerification, true);
  await rejectsWith(assert, freshWebAccount().updateVerification({ userId: done.userId, secret: link.searchParams.get('secret') }), 401, 'user_invalid_token');
});

test('phone: OTP login and phone verification by SMS with the provider\'s auth', async () => {
  const phone = uniquePhone();
  const account = freshWebAccount();
  const token = await account.createPhoneToken({ userId: web.ID.unique(), phone });
  const sms = await sinks.sms(phone);
  assert.equal(sms.from, '+15550001111');
  const session = await account.createSession({ userId: token.userId, secret: codeIn(sms.body) });
  assert.deepEqual(session.factors, ['phone']);
  assert.equal(session.provider, 'phone');
  assert.equal((await account.get()).phoneVerification, true);

  // A signed-in user verifies a new number.
  const { client, user } = await userClient();
  const me = new node.Account(client);
  const other = uniquePhone();
  await me.updatePhone({ phone: other, password: 'correct-horse-9' });
  await me.createPhoneVerification();
  const code = codeIn((await sinks.sms(other)).body);
  await rejectsWith(assert, me.updatePhoneVerification({ userId: user.$id, secret: code === '123456' ? '654321' : '123456' }), 401, 'user_invalid_token');
  await me.updatePhoneVerification({ userId: user.$id, secret: code });
  assert.equal((await me.get()).phoneVerification, true);
});

test('team invitation: the owner invites by email, the invitee accepts with the link and is signed in', async () => {
  const owner = await userClient({ name: 'Inviter' });
  const teams = new node.Teams(owner.client);
  const team = await teams.create({ teamId: node.ID.unique(), name: 'Invited <Crew>' });
  const email = uniqueEmail('invitee');
  const invite = await teams.createMembership({ teamId: team.$id, roles: ['editor'], email, url: `${APP}/join`, name: 'Invitee' });
  assert.equal(invite.confirm, false);
  assert.equal(invite.joined, '');
  assert.equal((await teams.get({ teamId: team.$id })).total, 1, 'a pending invitation is not a member yet');
  const mail = await sinks.email(email);
  assert.ok(mail.html.includes('Invited &lt;Crew&gt;'));
  const link = linkIn(mail.text);
  for (const k of ['membershipId', 'userId', 'secret', 'teamId', 'teamName']) assert.ok(link.searchParams.get(k), k);
  const params = {
    teamId: link.searchParams.get('teamId'),
    membershipId: link.searchParams.get('membershipId'),
    userId: link.searchParams.get('userId'),
  };
  installFallbackStorage();
  const webClient = guestClient();
  const webTeams = new web.Teams(webClient);
  await rejectsWith(assert, webTeams.updateMembershipStatus({ ...params, secret: 'guess' }), 401, 'team_invalid_secret');
  const accepted = await webTeams.updateMembershipStatus({ ...params, secret: link.searchParams.get('secret') });
  assert.equal(accepted.confirm, true);
  assert.deepEqual(accepted.roles, ['editor']);
  const me = await new web.Account(webClient).get();
  assert.equal(me.email, email, 'accepting signed the invitee in');
  assert.equal(me.emailVerification, true);
  assert.equal((await webTeams.get({ teamId: team.$id })).total, 2);
  await rejectsWith(assert, webTeams.updateMembershipStatus({ ...params, secret: link.searchParams.get('secret') }), 409, 'membership_already_confirmed');
  await rejectsWith(assert, teams.createMembership({ teamId: team.$id, roles: ['editor'], email, url: `${APP}/join` }), 409, 'team_invite_already_exists');
  await rejectsWith(assert, teams.createMembership({ teamId: team.$id, roles: ['x'], email: uniqueEmail('x'), url: 'https://evil.example/join' }), 400, 'general_argument_invalid');
});

test('delivery names the runtime path taken', () => {
  const via = sinks.received().filter((m) => m.kind === 'email').map((m) => m.via);
  assert.ok(via.length > 0);
  assert.ok(via.every((v) => v === (runtime === 'spin' ? 'api' : 'smtp')), `mail went via ${[...new Set(via)]}`);
  assert.ok(sinks.log.some((l) => l.smtp === 'AUTH …') || runtime === 'spin', `SMTP AUTH as ${SMTP_USER}`);
});
