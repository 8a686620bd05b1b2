// Webhooks through node-appwrite: managed with API keys only, destination URLs checked at create
// and update, and deliveries to a loopback receiver: the resource's model with Appwrite's
// headers and HMAC signature, once each and in commit order, retried, counted and switched off
// after ten failed tries, and refused when a name resolves to a private address at connect time.
// The suite's server runs with EDGEWRITE_WEBHOOKS_ALLOWED_HOSTS=127.0.0.1 (the receiver is a
// permitted destination although private) and EDGEWRITE_WEBHOOKS_RETRY_SECONDS=1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { InputFile } from 'node-appwrite/file';
import { adminClient, node, projectId, raw, runtime, rejectsWith, assertAppwriteError, userClient } from './helpers.mjs';

const { Query } = node;
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const webhooks = (client = adminClient()) => new node.Webhooks(client);
const databases = (client = adminClient()) => new node.Databases(client);
const HEX128 = /^[0-9a-f]{128}$/;
// The SDK's JSON parser makes objects of its own kind: compare their JSON.
const plain = (x) => JSON.parse(JSON.stringify(x));
// Every database write in this file, whatever its collection, matches this pattern.
const ANY_DOCUMENT_CREATE = 'databases.*.collections.*.documents.*.create';

async function waitFor(read, done, ms = 30000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await sleep(150);
  }
}

/**
 * An HTTP server on 127.0.0.1 recording every request with its raw body (the signature covers
 * the bytes). Paths starting with /fail always answer 500; `failNext` makes a path fail n times.
 */
async function startReceiver() {
  const requests = [];
  const failuresLeft = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      let body;
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        body = undefined;
      }
      requests.push({ at: Date.now(), method: req.method, path: req.url, headers: req.headers, rawBody, body });
      const left = failuresLeft.get(req.url) ?? 0;
      if (left > 0) failuresLeft.set(req.url, left - 1);
      const status = req.url.startsWith('/fail') || left > 0 ? 500 : 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'the receiver refuses');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const of = (webhookId) => requests.filter((r) => r.headers['x-appwrite-webhook-id'] === webhookId);
  return {
    port,
    requests,
    of,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    failNext: (path, n) => failuresLeft.set(path, n),
    /** The webhook's requests once `done` holds for them (or the time is up): delivery is queued. */
    wait: (webhookId, done, ms = 30000) => waitFor(async () => of(webhookId), done, ms),
    async close() {
      // The server's client may keep connections alive; they would hold the process open.
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const eventsOf = (r) => (r.headers['x-appwrite-webhook-events'] ?? '').split(',');
const sign = (secret, url, rawBody) =>
  createHmac('sha1', secret).update(Buffer.concat([Buffer.from(url, 'utf8'), rawBody])).digest('base64');

let receiver;
let db;
let bucket;
const coll = 'notes';
const live = new Set();

/** Creates a webhook and remembers it, so `after` can delete it should its test fail midway. */
async function hook({ webhookId = uid('wh'), name = 'Test hook', ...rest }) {
  const made = await webhooks().create({ webhookId, name, ...rest });
  live.add(made.$id);
  return made;
}

/**
 * Deletes webhooks at the end of their test: a later test's writes would otherwise be delivered
 * to them too (patterns such as ANY_DOCUMENT_CREATE match every collection).
 */
async function drop(...made) {
  for (const h of made) {
    await webhooks().delete({ webhookId: h.$id });
    live.delete(h.$id);
  }
}

const writeNote = (documentId, data, client) =>
  databases(client).createDocument({ databaseId: db, collectionId: coll, documentId, data });

before(async () => {
  receiver = await startReceiver();
  db = uid('whdb');
  bucket = uid('whb');
  const d = databases();
  await d.create({ databaseId: db, name: 'Webhook tests' });
  // Signed-in users may write, so a session's write can be told from an API key's.
  await d.createCollection({ databaseId: db, collectionId: coll, name: 'Notes', permissions: ['read("any")', 'create("users")'] });
  await d.createStringAttribute({ databaseId: db, collectionId: coll, key: 'title', size: 64, required: true });
  await d.createIntegerAttribute({ databaseId: db, collectionId: coll, key: 'n', required: false });
  await new node.Storage(adminClient()).createBucket({ bucketId: bucket, name: 'Webhook tests' });
});

after(async () => {
  for (const webhookId of live) await webhooks().delete({ webhookId }).catch(() => {});
  await databases().delete({ databaseId: db }).catch(() => {});
  await new node.Storage(adminClient()).deleteBucket({ bucketId: bucket }).catch(() => {});
  await receiver?.close();
});

test('webhooks: create, get, list, update, updateSecret and delete with an API key; sessions are refused', async () => {
  const w = webhooks();
  const tag = uid('crud');
  const a = await hook({ webhookId: `${tag}a`, url: receiver.url('/crud-a'), name: `${tag}-a`, events: ['users.*.create'] });
  assert.equal(a.$id, `${tag}a`);
  assert.equal(a.name, `${tag}-a`);
  assert.equal(a.url, receiver.url('/crud-a'));
  assert.deepEqual(a.events, ['users.*.create']);
  assert.equal(a.enabled, true);
  assert.equal(a.tls, false);
  assert.equal(a.authUsername, '');
  assert.equal(a.authPassword, '');
  assert.equal(a.logs, '');
  assert.equal(a.attempts, 0);
  assert.match(a.secret, HEX128, 'a generated secret is shown once, at create');
  assert.ok(Date.parse(a.$createdAt) && Date.parse(a.$updatedAt));

  const b = await hook({
    webhookId: `${tag}b`, url: receiver.url('/crud-b'), name: `${tag}-b`, events: [ANY_DOCUMENT_CREATE, 'buckets.*.files.*'],
    enabled: false, tls: true, authUsername: 'alice', authPassword: 'pass-word', secret: 'our-own-secret',
  });
  assert.equal(b.secret, 'our-own-secret');
  assert.equal(b.enabled, false);
  assert.equal(b.tls, true);
  assert.equal(b.authUsername, 'alice');
  assert.equal(b.authPassword, 'pass-word');

  // The secret is never read back.
  const got = await w.get({ webhookId: a.$id });
  assert.equal(got.secret, '');
  assert.deepEqual(plain({ ...got, secret: a.secret }), plain(a));
  const named = await w.list({ queries: [Query.equal('name', [`${tag}-a`])] });
  assert.equal(named.total, 1);
  assert.deepEqual(named.webhooks.map((x) => x.$id), [a.$id]);
  assert.equal(named.webhooks[0].secret, '');
  const both = [Query.equal('name', [`${tag}-a`, `${tag}-b`])];
  const page = await w.list({ queries: [...both, Query.limit(1)] });
  assert.equal(page.webhooks.length, 1);
  assert.equal(page.total, 2);
  const uncounted = await w.list({ queries: both, total: false });
  assert.equal(uncounted.total, 0);
  assert.equal(uncounted.webhooks.length, 2);

  // PUT replaces: what it is not given goes back to its default.
  const replaced = await w.update({ webhookId: b.$id, name: `${tag}-b2`, url: receiver.url('/crud-b2'), events: ['users.*.delete'] });
  assert.equal(replaced.name, `${tag}-b2`);
  assert.equal(replaced.url, receiver.url('/crud-b2'));
  assert.deepEqual(replaced.events, ['users.*.delete']);
  assert.equal(replaced.enabled, true);
  assert.equal(replaced.tls, false);
  assert.equal(replaced.authUsername, '');
  assert.equal(replaced.authPassword, '');
  assert.equal(replaced.secret, '');

  const rotated = await w.updateSecret({ webhookId: a.$id });
  assert.match(rotated.secret, HEX128);
  assert.notEqual(rotated.secret, a.secret);
  assert.equal((await w.updateSecret({ webhookId: a.$id, secret: 'another-secret-9' })).secret, 'another-secret-9');
  assert.equal((await w.get({ webhookId: a.$id })).secret, '');

  await rejectsWith(assert, w.create({ webhookId: a.$id, url: receiver.url('/x'), name: 'again', events: ['users.*.create'] }), 409, 'webhook_already_exists');
  for (const events of [['account.unknown'], ['presences.*'], ['users.*.create', 'account.unknown']]) {
    await rejectsWith(assert, w.create({ webhookId: uid('bad'), url: receiver.url('/x'), name: 'bad', events }), 400, 'general_argument_invalid');
  }
  await rejectsWith(assert, w.update({ webhookId: a.$id, name: 'bad', url: receiver.url('/x'), events: ['presences.*'] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, w.create({ webhookId: uid('bad'), url: receiver.url('/x'), name: 'bad', events: ['users.*.create'], secret: 'short' }), 400, 'general_argument_invalid');
  const missing = uid('missing');
  await rejectsWith(assert, w.get({ webhookId: missing }), 404, 'webhook_not_found');
  await rejectsWith(assert, w.update({ webhookId: missing, name: 'x', url: receiver.url('/x'), events: ['users.*.create'] }), 404, 'webhook_not_found');
  await rejectsWith(assert, w.updateSecret({ webhookId: missing }), 404, 'webhook_not_found');
  await rejectsWith(assert, w.delete({ webhookId: missing }), 404, 'webhook_not_found');

  // Webhooks belong to the project's administration: a user session holds no webhooks scope.
  const { client } = await userClient();
  await rejectsWith(assert, webhooks(client).list(), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, webhooks(client).create({ webhookId: uid('u'), url: receiver.url('/x'), name: 'mine', events: ['users.*.create'] }), 401, 'general_unauthorized_scope');

  const deleted = await raw(`/webhooks/${a.$id}`, { method: 'DELETE', key: true });
  assert.equal(deleted.status, 204, deleted.text);
  live.delete(a.$id);
  assertAppwriteError(assert, await raw(`/webhooks/${a.$id}`, { key: true }), 404, 'webhook_not_found');
  await drop(b);
});

test('webhooks: URLs that are not http(s) or name a private or local host are refused at create and update', async () => {
  const w = webhooks();
  const refused = [
    'ftp://example.com/x',
    'http://localhost/hook',
    'http://10.0.0.1/hook',
    'http://192.168.1.10/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/hook',
    'http://0x7f000002/hook', // 127.0.0.2 spelled so a naive string check misses it
    'http://127.0.0.2:9/hook', // the allow list names host 127.0.0.1 only, not its neighbours
  ];
  for (const url of refused) {
    await rejectsWith(assert, w.create({ webhookId: uid('url'), url, name: 'refused', events: ['users.*.create'] }), 400, 'general_argument_invalid');
  }
  const ok = await hook({ url: receiver.url('/urls'), name: 'Allowed', events: ['users.*.delete'] });
  for (const url of refused) {
    await rejectsWith(assert, w.update({ webhookId: ok.$id, name: 'changed', url, events: ['users.*.create'] }), 400, 'general_argument_invalid');
  }
  // A refused update changes nothing, not even the fields that were valid.
  const kept = await w.get({ webhookId: ok.$id });
  assert.equal(kept.url, receiver.url('/urls'));
  assert.equal(kept.name, 'Allowed');
  assert.deepEqual(kept.events, ['users.*.delete']);
  await drop(ok);
});

test('webhooks: a write is POSTed once to each matching webhook with its model, headers, signature and basic auth', async () => {
  // Signed up before the webhooks exist: its own account events are not under test.
  const member = await userClient();
  const docs = await hook({ url: receiver.url('/docs'), name: 'Documents', events: [ANY_DOCUMENT_CREATE], authUsername: 'hookuser', authPassword: 'hook-pass' });
  const others = await hook({ url: receiver.url('/others'), name: 'Files and users', events: ['buckets.*.files.*.create', 'users.*.create'], secret: 'a-secret-of-our-own' });

  const docId = uid('doc');
  await writeNote(docId, { title: 'hello hooks', n: 1 });
  const [got] = await receiver.wait(docs.$id, (rs) => rs.length >= 1);
  assert.ok(got, 'the document webhook received the create');
  assert.equal(got.method, 'POST');
  assert.match(got.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(got.body.$id, docId);
  assert.equal(got.body.title, 'hello hooks');
  assert.equal(got.body.$databaseId, db);
  assert.equal(got.body.$collectionId, coll);
  assert.equal(got.headers['x-appwrite-webhook-id'], docs.$id);
  assert.equal(got.headers['x-appwrite-webhook-name'], 'Documents');
  assert.equal(got.headers['x-appwrite-webhook-project-id'], projectId);
  assert.equal(got.headers['x-appwrite-webhook-user-id'], '', 'an API key write has no user');
  assert.doesNotMatch(got.headers['x-appwrite-webhook-events'] ?? '', /\s/);
  assert.ok(eventsOf(got).includes(`databases.${db}.collections.${coll}.documents.${docId}.create`), got.headers['x-appwrite-webhook-events']);
  assert.ok(eventsOf(got).includes(ANY_DOCUMENT_CREATE));
  assert.equal(got.headers['x-appwrite-webhook-signature'], sign(docs.secret, docs.url, got.rawBody));
  assert.equal(got.headers.authorization, `Basic ${Buffer.from('hookuser:hook-pass').toString('base64')}`);

  // A write made with a session names its user.
  const mineId = uid('doc');
  await writeNote(mineId, { title: 'from a session' }, member.client);
  const mine = (await receiver.wait(docs.$id, (rs) => rs.some((r) => r.body?.$id === mineId))).find((r) => r.body?.$id === mineId);
  assert.ok(mine, 'the session write was delivered');
  assert.equal(mine.headers['x-appwrite-webhook-user-id'], member.user.$id);

  const fileId = uid('file');
  await new node.Storage(adminClient()).createFile({ bucketId: bucket, fileId, file: InputFile.fromBuffer(Buffer.from('webhook payload'), 'hook.txt') });
  const userId = uid('user');
  await new node.Users(adminClient()).create({ userId, name: 'Hooked' });
  const rs = await receiver.wait(others.$id, (list) => list.length >= 2);
  const file = rs.find((r) => r.body?.$id === fileId);
  const user = rs.find((r) => r.body?.$id === userId);
  assert.ok(file, 'the file upload was delivered');
  assert.equal(file.body.bucketId, bucket);
  assert.ok(eventsOf(file).includes(`buckets.${bucket}.files.${fileId}.create`), file.headers['x-appwrite-webhook-events']);
  assert.equal(file.headers['x-appwrite-webhook-signature'], sign('a-secret-of-our-own', others.url, file.rawBody));
  assert.equal(file.headers.authorization, undefined, 'no credentials, no Authorization');
  assert.ok(user, 'the user creation was delivered');
  assert.equal(user.body.name, 'Hooked');
  assert.ok(eventsOf(user).includes(`users.${userId}.create`), user.headers['x-appwrite-webhook-events']);
  assert.ok(eventsOf(user).includes('users.*.create'));

  // Give a duplicate or a stray delivery time to show up before counting.
  await sleep(3000);
  assert.deepEqual(receiver.of(docs.$id).map((r) => r.body?.$id).sort(), [docId, mineId].sort());
  assert.deepEqual(receiver.of(others.$id).map((r) => r.body?.$id).sort(), [fileId, userId].sort());
  await drop(docs, others);
});

test('webhooks: the deliveries of one webhook arrive in commit order', async () => {
  const docId = uid('doc');
  const ids = { databaseId: db, collectionId: coll, documentId: docId };
  // Exact event names, no wildcard: each must still match what the writes emit.
  const base = `databases.${db}.collections.${coll}.documents.${docId}`;
  const h = await hook({ url: receiver.url('/order'), name: 'Order', events: [`${base}.create`, `${base}.update`, `${base}.delete`] });
  const d = databases();
  await writeNote(docId, { title: 'v0', n: 0 });
  for (const n of [1, 2, 3]) await d.updateDocument({ ...ids, data: { title: `v${n}`, n } });
  await d.deleteDocument(ids);

  const got = await receiver.wait(h.$id, (rs) => rs.length >= 5);
  const actionOf = (r) => ['create', 'update', 'delete'].find((a) => eventsOf(r).includes(`${base}.${a}`));
  assert.deepEqual(got.map(actionOf), ['create', 'update', 'update', 'update', 'delete']);
  assert.ok(got.every((r) => r.body?.$id === docId));
  assert.deepEqual(got.slice(1, 4).map((r) => r.body.title), ['v1', 'v2', 'v3']);
  await sleep(2000);
  assert.equal(receiver.of(h.$id).length, 5, 'each delivery arrives once');
  await drop(h);
});

test('webhooks: a failed try is retried after the back-off, and the success resets attempts', { timeout: 60000 }, async () => {
  const w = webhooks();
  const path = `/flaky-${uid('')}`;
  receiver.failNext(path, 1);
  const h = await hook({ url: receiver.url(path), name: 'Flaky', events: [ANY_DOCUMENT_CREATE] });
  const docId = uid('doc');
  await writeNote(docId, { title: 'second time lucky' });

  // Reading the webhook is a request: without a queue (Spin) a later request sends the retry
  // once it is due.
  const got = await waitFor(async () => {
    await w.get({ webhookId: h.$id });
    return receiver.of(h.$id);
  }, (rs) => rs.length >= 2);
  assert.equal(got.length, 2, 'one failed try, one retry');
  assert.deepEqual(got.map((r) => r.body?.$id), [docId, docId]);
  // EDGEWRITE_WEBHOOKS_RETRY_SECONDS=1; some slack for timers.
  assert.ok(got[1].at - got[0].at >= 500, `retried after ${got[1].at - got[0].at} ms`);
  const settled = await waitFor(() => w.get({ webhookId: h.$id }), (x) => x.attempts === 0, 10000);
  assert.equal(settled.attempts, 0);
  assert.equal(settled.enabled, true);
  await sleep(2000);
  assert.equal(receiver.of(h.$id).length, 2, 'a delivered event is not sent again');
  await drop(h);
});

test('webhooks: ten failed tries in a row disable the webhook; re-enabling it resets attempts', { timeout: 150000 }, async () => {
  const w = webhooks();
  const url = receiver.url(`/fail-${uid('')}`);
  const h = await hook({ url, name: 'Always failing', events: [ANY_DOCUMENT_CREATE] });
  // Three tries each: four deliveries make at least twelve tries, more than the ten allowed.
  const docIds = [1, 2, 3, 4].map(() => uid('doc'));
  for (const [i, id] of docIds.entries()) await writeNote(id, { title: `doomed ${i}` });

  const disabled = await waitFor(() => w.get({ webhookId: h.$id }), (x) => x.enabled === false, 90000);
  assert.equal(disabled.enabled, false, `still enabled after 90 s (attempts ${disabled.attempts})`);
  assert.equal(disabled.attempts, 10);
  assert.ok(disabled.logs.includes('Status code: 500'), disabled.logs);
  // A try under way when the tenth failed would land now.
  await sleep(3000);
  const got = receiver.of(h.$id);
  assert.equal(got.length, 10, 'ten tries, then nothing');
  const perDocument = new Map();
  for (const r of got) perDocument.set(r.body?.$id, (perDocument.get(r.body?.$id) ?? 0) + 1);
  assert.ok([...perDocument.keys()].every((id) => docIds.includes(id)), 'only these writes were sent');
  assert.ok([...perDocument.values()].some((n) => n > 1), 'a failed delivery was tried again');

  // Disabled, it is sent nothing more.
  await writeNote(uid('doc'), { title: 'unheard' });
  await sleep(3000);
  assert.equal(receiver.of(h.$id).length, 10);

  const again = await w.update({ webhookId: h.$id, name: 'Always failing', url, events: [ANY_DOCUMENT_CREATE], enabled: true });
  assert.equal(again.enabled, true);
  assert.equal(again.attempts, 0);
  // Enabled again, it would take the next tests' writes.
  await drop(h);
});

// Only the Spin test host can make a public-looking name resolve to a private address: it
// answers rebind.edgewrite-e2e.com with 127.0.0.2 and blocks 127.0.0.2/32 as Spin's
// `block_networks` would.
const rebindSkip = runtime !== 'spin'
  ? 'workerd: on Cloudflare the platform egress refuses private addresses itself, and local workerd has no way to fake DNS'
  : process.env.EDGEWRITE_SPIN_UP
    ? 'a real `spin up` resolves names itself; only the Spin test host maps rebind.edgewrite-e2e.com to 127.0.0.2'
    : false;

test('webhooks: a name that resolves to a private address at delivery is refused (DNS rebinding)', { skip: rebindSkip, timeout: 60000 }, async () => {
  const w = webhooks();
  // The control proves deliveries are flowing, so silence from the other is a refusal, not a lag.
  const control = await hook({ url: receiver.url('/control'), name: 'Control', events: [ANY_DOCUMENT_CREATE] });
  // At create the name looks public and passes the URL check; only at connect time does it
  // turn out to be 127.0.0.2, a blocked network.
  const rebound = await hook({ url: `http://rebind.edgewrite-e2e.com:${receiver.port}/rebind`, name: 'Rebound', events: [ANY_DOCUMENT_CREATE] });
  assert.equal(rebound.url, `http://rebind.edgewrite-e2e.com:${receiver.port}/rebind`);
  // Something listens at the private address too, so a connection that got through would show.
  const leaked = [];
  const inside = http.createServer((req, res) => {
    leaked.push(req.url);
    res.end('ok');
  });
  await new Promise((resolve, reject) => inside.once('error', reject).listen(receiver.port, '127.0.0.2', resolve));

  const docId = uid('doc');
  await writeNote(docId, { title: 'rebinding' });
  const seen = await receiver.wait(control.$id, (rs) => rs.length >= 1);
  assert.equal(seen[0]?.body?.$id, docId, 'the control webhook got the write');
  await sleep(5000);
  assert.equal(receiver.of(rebound.$id).length, 0, 'nothing reached the private address');
  assert.equal(receiver.requests.filter((r) => r.path === '/rebind').length, 0);
  assert.deepEqual(leaked, [], 'nothing reached the private address');
  inside.closeAllConnections?.();
  await new Promise((resolve) => inside.close(resolve));

  const failed = await waitFor(() => w.get({ webhookId: rebound.$id }), (x) => x.attempts >= 1, 20000);
  assert.ok(failed.attempts >= 1, `attempts ${failed.attempts}`);
  assert.match(failed.logs, /not a public address/);
  await drop(control, rebound);
});
