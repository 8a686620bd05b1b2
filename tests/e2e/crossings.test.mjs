// How many times a request crosses from the Worker to the project's object (ARCHITECTURE.md,
// "Where a request runs"): the `X-Edgewrite-Crossings` header that `EDGEWRITE_TEST_ROUTES=1`
// adds. One route of each group is held to its count, so a regression fails here. workerd only:
// Spin serves everything in one component with in-process SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiKey, endpoint, projectId, runtime, uniqueEmail } from './helpers.mjs';

const skip = runtime === 'spin' && 'Spin has no Worker/object split';

async function call(path, { method = 'GET', key = false, session, headers = {}, body, json, redirect = 'follow' } = {}) {
  const h = { 'x-appwrite-project': projectId, ...headers };
  if (key) h['x-appwrite-key'] = apiKey;
  if (session) h['x-appwrite-session'] = session;
  if (json !== undefined) {
    h['content-type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const res = await fetch(`${endpoint}${path}`, { method, headers: h, body, redirect });
  const text = await res.text();
  const crossings = Number(res.headers.get('x-edgewrite-crossings'));
  assert.ok(res.headers.has('x-edgewrite-crossings'), `${method} ${path} carries the crossings header`);
  return { status: res.status, crossings, json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
}

async function expectCrossings(expected, path, options) {
  const res = await call(path, options);
  assert.ok(res.status < 400, `${options?.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
  assert.equal(res.crossings, expected, `${options?.method ?? 'GET'} ${path} crossed ${res.crossings} times`);
  return res.json;
}

test('every route group crosses to the project object once; hashing routes at most twice', { skip }, async () => {
  // No project state: the Worker answers alone.
  await expectCrossings(0, '/health/version');
  await expectCrossings(1, '/health/db', { key: true });
  await expectCrossings(1, '/health/queue/functions', { key: true });
  // Locale and avatars need no project state: the Worker answers them, for guests too.
  await expectCrossings(0, '/locale/countries');
  await expectCrossings(0, '/avatars/qr?text=crossing');

  // Account: sign-up and login hash in the Worker (two crossings); the rest once.
  const email = uniqueEmail('crossings');
  const password = 'crossing-horse-9';
  await expectCrossings(2, '/account', { method: 'POST', json: { userId: 'unique()', email, password } });
  const session = await expectCrossings(2, '/account/sessions/email', { method: 'POST', key: true, json: { email, password } });
  const asUser = { session: session.secret };
  await expectCrossings(1, '/account', asUser);
  // Initials are drawn in the Worker: a named guest's cross nothing, the signed-in user's read
  // the session (and its name) once.
  await expectCrossings(0, '/avatars/initials?name=Ada%20Lovelace');
  await expectCrossings(1, '/avatars/initials', asUser);
  await expectCrossings(1, '/account/prefs', { ...asUser, method: 'PATCH', json: { prefs: { theme: 'dark' } } });
  await expectCrossings(2, '/account/password', { ...asUser, method: 'PATCH', json: { password: 'crossing-horse-10', oldPassword: password } });

  // OAuth2: the start stores the flow (once); the provider's callback only hands the browser on.
  const back = encodeURIComponent('http://127.0.0.1/back');
  const started = await call(`/account/sessions/oauth2/github?success=${back}&failure=${back}`, { redirect: 'manual' });
  assert.deepEqual([started.status, started.crossings], [301, 1]);
  const callback = await call(`/account/sessions/oauth2/callback/github/${projectId}?code=c&state=s`, { redirect: 'manual' });
  assert.deepEqual([callback.status, callback.crossings], [301, 0]);

  // Users, teams, keys.
  await expectCrossings(1, '/users?queries[]=' + encodeURIComponent(JSON.stringify({ method: 'limit', values: [5] })), { key: true });
  await expectCrossings(1, '/users', { method: 'POST', key: true, json: { userId: 'unique()', email: uniqueEmail('nopass') } });
  await expectCrossings(2, '/users', { method: 'POST', key: true, json: { userId: 'unique()', email: uniqueEmail('pass'), password: 'users-horse-9' } });
  await expectCrossings(1, '/teams', { ...asUser, method: 'POST', json: { teamId: 'unique()', name: 'crossers' } });
  await expectCrossings(1, '/teams', asUser);
  await expectCrossings(1, '/project/keys', { key: true });
  await expectCrossings(1, '/project/oauth2', { key: true });

  // Databases and TablesDB: schema, writes and reads.
  const db = `cross${Date.now().toString(36)}`;
  await expectCrossings(1, '/databases', { method: 'POST', key: true, json: { databaseId: db, name: db } });
  await expectCrossings(1, `/databases/${db}/collections`, { method: 'POST', key: true, json: { collectionId: 'items', name: 'items', permissions: ['read("users")', 'create("users")'] } });
  await expectCrossings(1, `/databases/${db}/collections/items/attributes/integer`, { method: 'POST', key: true, json: { key: 'n', required: false } });
  const docs = `/databases/${db}/collections/items/documents`;
  const doc = await expectCrossings(1, docs, { ...asUser, method: 'POST', json: { documentId: 'unique()', data: { n: 7 } } });
  await expectCrossings(1, `${docs}/${doc.$id}`, asUser);
  await expectCrossings(1, `${docs}?queries[]=${encodeURIComponent(JSON.stringify({ method: 'greaterThan', attribute: 'n', values: [1] }))}`, asUser);
  await expectCrossings(1, `${docs}/${doc.$id}`, { method: 'PATCH', key: true, json: { data: { n: 8 } } });
  await expectCrossings(1, `/tablesdb/${db}/tables/items/rows/${doc.$id}`, asUser);
  await expectCrossings(1, `${docs}/${doc.$id}`, { method: 'DELETE', key: true });

  // Storage: an upload and a download cross once; the Worker streams the bytes from R2.
  const bucket = `cross${Date.now().toString(36)}`;
  await expectCrossings(1, '/storage/buckets', { method: 'POST', key: true, json: { bucketId: bucket, name: bucket } });
  const form = new FormData();
  form.append('fileId', 'f1');
  form.append('file', new Blob([Buffer.from('crossing bytes')]), 'f1.txt');
  await expectCrossings(1, `/storage/buckets/${bucket}/files`, { method: 'POST', key: true, body: form });
  const download = await fetch(`${endpoint}/storage/buckets/${bucket}/files/f1/download`, {
    headers: { 'x-appwrite-project': projectId, 'x-appwrite-key': apiKey },
  });
  assert.equal(await download.text(), 'crossing bytes');
  assert.equal(download.headers.get('x-edgewrite-crossings'), '1');

  // Functions and messaging: their reads and writes cross once too.
  await expectCrossings(1, '/functions', { key: true });
  await expectCrossings(1, '/messaging/topics', { method: 'POST', key: true, json: { topicId: 'unique()', name: 'crossers' } });

  // Webhooks and presences cross once; a write a webhook subscribes to still crosses once (its
  // delivery waits in the object's outbox for the queue).
  const events = [`databases.${db}.collections.*.documents.*.create`];
  const hook = await expectCrossings(1, '/webhooks', { method: 'POST', key: true, json: { webhookId: 'unique()', url: 'http://127.0.0.1:9/crossings', name: 'crossers', events } });
  await expectCrossings(1, docs, { ...asUser, method: 'POST', json: { documentId: 'unique()', data: { n: 9 } } });
  await expectCrossings(1, `/webhooks/${hook.$id}`, { method: 'DELETE', key: true });
  await expectCrossings(1, `/presences/cross${Date.now().toString(36)}`, { ...asUser, method: 'PUT', json: { status: 'online' } });
  await expectCrossings(1, '/presences', asUser);
});

test('a client cannot hand the object a password check the Worker did not do', { skip }, async () => {
  const email = uniqueEmail('forge');
  await call('/users', { method: 'POST', key: true, json: { userId: 'unique()', email, password: 'forge-horse-9' } });
  // The header the Worker uses to bring the object its tasks' outputs, claiming a match.
  const forged = JSON.stringify([[{ task: 'verify_password', password: 'wrong-horse-9', stored: 'x', algo: 'argon2', options: null }, { verified: true }]]);
  const res = await call('/account/sessions/email', {
    method: 'POST',
    headers: { 'x-edgewrite-internal-done': forged, 'x-edgewrite-internal-serve': projectId },
    json: { email, password: 'wrong-horse-9' },
  });
  assert.equal(res.status, 401);
  assert.equal(res.json.type, 'user_invalid_credentials');
  // A wrong password costs the same two crossings as a right one, and as an unknown email.
  assert.equal(res.crossings, 2);
  const unknown = await call('/account/sessions/email', { method: 'POST', json: { email: uniqueEmail('nobody'), password: 'wrong-horse-9' } });
  assert.equal(unknown.status, 401);
  assert.equal(unknown.crossings, 2);
});

test('after 10,000 requests the Worker and the project object each hold under 64 MiB of wasm memory', { skip }, async () => {
  const db = `mem${Date.now().toString(36)}`;
  await call('/databases', { method: 'POST', key: true, json: { databaseId: db, name: db } });
  await call(`/databases/${db}/collections`, { method: 'POST', key: true, json: { collectionId: 'items', name: 'items', permissions: ['read("any")'] } });
  await call(`/databases/${db}/collections/items/attributes/string`, { method: 'POST', key: true, json: { key: 'label', size: 64, required: false } });
  const docs = `/databases/${db}/collections/items/documents`;
  for (let i = 0; i < 20; i++) {
    const res = await call(docs, { method: 'POST', key: true, json: { documentId: `d${i}`, data: { label: `item ${i}` } } });
    assert.equal(res.status, 201);
  }
  let next = 0;
  const total = 10_000;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < total) {
      const i = next++;
      // Reads served by the object, and pings the Worker answers alone.
      const path = i % 4 === 0 ? '/ping' : `${docs}/d${i % 20}`;
      const res = await fetch(`${endpoint}${path}`, { headers: { 'x-appwrite-project': projectId } });
      await res.arrayBuffer();
      assert.ok(res.status < 400, `${path}: ${res.status}`);
    }
  }));
  const limit = 64 * 1024 * 1024;
  const worker = await call('/__edgewrite/memory');
  const object = await call('/__edgewrite/memory/project');
  assert.equal(worker.crossings, 0);
  assert.equal(object.crossings, 1);
  console.log(`wasm memory after ${total} requests: Worker ${(worker.json.wasmBytes / 1048576).toFixed(1)} MiB, object ${(object.json.wasmBytes / 1048576).toFixed(1)} MiB`);
  assert.ok(worker.json.wasmBytes > 0 && worker.json.wasmBytes < limit, `Worker: ${worker.json.wasmBytes} bytes`);
  assert.ok(object.json.wasmBytes > 0 && object.json.wasmBytes < limit, `object: ${object.json.wasmBytes} bytes`);
});
