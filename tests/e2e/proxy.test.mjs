// The gradual-migration proxy: a second edgewrite (started by the test command with
// EDGEWRITE_UPSTREAM pointing here) forwards what it does not serve, and the route patterns it
// is told to, to a legacy backend played by a Node server on loopback. The legacy side checks
// what arrives: method, path, query, headers, body, and the signed identity.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { node, projectId, apiKey, uniqueEmail } from './helpers.mjs';

const proxy = process.env.EDGEWRITE_PROXY_ENDPOINT;
const legacyPort = Number(process.env.EDGEWRITE_TEST_LEGACY_PORT);
const secret = process.env.EDGEWRITE_TEST_UPSTREAM_SECRET;
const skip = !proxy && 'the test command starts the proxy instance';
const b64url = (b) => Buffer.from(b).toString('base64url');

/** Verifies an identity header the way a legacy backend would: HS256 with the shared secret. */
function verifyIdentity(token) {
  const [header, payload, signature] = (token ?? '').split('.');
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  if (!signature || signature !== expected) return null;
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  return claims.exp * 1000 > Date.now() ? claims : null;
}

const seen = [];
let legacy;
async function startLegacy() {
  legacy = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url.startsWith('/legacy/slow')) await new Promise((r) => setTimeout(r, 3000));
      if (req.url.startsWith('/legacy/redirect')) {
        res.writeHead(302, { location: '/somewhere-else' });
        return res.end();
      }
      if (req.url.startsWith('/v1/storage/buckets/legacy/files')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ total: 1, files: [{ $id: 'from-legacy', name: 'old.txt' }] }));
      }
      res.writeHead(207, { 'content-type': 'application/json', 'x-legacy': 'yes' });
      res.end(JSON.stringify({ sha256: createHash('sha256').update(body).digest('hex'), size: body.length }));
    });
  });
  await new Promise((resolve) => legacy.listen(legacyPort, '127.0.0.1', resolve));
}
if (!skip) await startLegacy();
after(() => legacy?.close());
const last = () => seen[seen.length - 1];

/** A raw request with node:http (fetch refuses hop-by-hop headers such as `Connection`). */
function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: () => JSON.parse(Buffer.concat(chunks)) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('proxy: an unserved route reaches the legacy backend intact, with the caller\'s verified identity', { skip }, async () => {
  const admin = new node.Client().setEndpoint(proxy).setProject(projectId).setKey(apiKey);
  const email = uniqueEmail('proxy');
  const user = await new node.Users(admin).create({ userId: node.ID.unique(), email, password: 'correct-horse-9' });
  const session = await new node.Account(admin).createEmailPasswordSession({ email, password: 'correct-horse-9' });
  const body = randomBytes(3 * 1024 * 1024);
  const res = await send(`${proxy.replace(/\/v1$/, '')}/legacy/upload?a=1&b=two%20words`, {
    method: 'PATCH',
    headers: {
      'x-appwrite-project': projectId, 'x-appwrite-session': session.secret, 'content-type': 'application/octet-stream',
      'x-custom': 'kept', 'proxy-authorization': 'Basic aG9wOmhvcA==', 'keep-alive': 'timeout=5', 'x-edgewrite-identity': 'forged',
    },
    body,
  });
  assert.equal(res.status, 207);
  assert.equal(res.headers['x-legacy'], 'yes');
  const answer = await res.json();
  assert.equal(answer.size, body.length);
  assert.equal(answer.sha256, createHash('sha256').update(body).digest('hex'));
  const got = last();
  assert.equal(got.method, 'PATCH');
  assert.equal(got.url, '/legacy/upload?a=1&b=two%20words');
  assert.equal(got.headers['x-custom'], 'kept');
  assert.equal(got.headers['proxy-authorization'], undefined, 'hop-by-hop headers stay behind');
  assert.equal(got.headers['keep-alive'], undefined);
  assert.ok(got.headers['x-forwarded-host']);
  const identity = verifyIdentity(got.headers['x-edgewrite-identity']);
  assert.ok(identity, 'the identity verifies with the shared secret (a forged one is replaced)');
  assert.equal(identity.kind, 'user');
  assert.equal(identity.sub, user.$id);
  assert.equal(identity.project, projectId);
  assert.ok(identity.roles.includes(`user:${user.$id}`));
  // A guest, and a made-up session, are guests to the legacy backend.
  for (const headers of [{}, { 'x-appwrite-session': 'bm90LWEtc2Vzc2lvbg==' }]) {
    const r = await fetch(`${proxy.replace(/\/v1$/, '')}/legacy/echo`, { headers: { 'x-appwrite-project': projectId, ...headers } });
    assert.equal(r.status, 207);
    assert.equal(verifyIdentity(last().headers['x-edgewrite-identity']).kind, 'guest');
  }
});

test('proxy: served routes never reach the legacy backend; configured patterns do, even for served paths', { skip }, async () => {
  const admin = new node.Client().setEndpoint(proxy).setProject(projectId).setKey(apiKey);
  const before = seen.length;
  await new node.Databases(admin).list();
  await new node.Users(admin).list();
  const missing = await fetch(`${proxy}/storage/buckets/not-there`, { headers: { 'x-appwrite-project': projectId, 'x-appwrite-key': apiKey } });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).type, 'storage_bucket_not_found', 'a served route answers itself');
  assert.equal(seen.length, before, 'nothing served reached the legacy backend');
  // Odd spellings of served routes are never forwarded (a lenient legacy backend would serve
  // them from its stale data): edgewrite answers them itself.
  for (const odd of ['/v1//account', '/v1/%61ccount', '/V1/account', '/v1/functions/../account']) {
    const r = await send(`${proxy.replace(/\/v1$/, '')}${odd}`, { headers: { 'x-appwrite-project': projectId } });
    assert.notEqual(r.status, 207, odd);
  }
  assert.equal(seen.length, before, 'no odd spelling reached the legacy backend');
  const files = await new node.Storage(admin).listFiles({ bucketId: 'legacy' });
  assert.deepEqual(files.files.map((f) => f.$id), ['from-legacy'], 'EDGEWRITE_UPSTREAM_ROUTES moves one bucket at a time');
  assert.equal(verifyIdentity(last().headers['x-edgewrite-identity']).kind, 'key');
  const redirect = await fetch(`${proxy.replace(/\/v1$/, '')}/legacy/redirect`, { redirect: 'manual' });
  assert.equal(redirect.status, 302, "the legacy backend's redirects pass through");
  assert.equal(redirect.headers.get('location'), '/somewhere-else');
});

test('proxy: a slow upstream is a 504 and a dead one a 502, both Appwrite-shaped', { skip }, async () => {
  const slow = await fetch(`${proxy.replace(/\/v1$/, '')}/legacy/slow`);
  assert.equal(slow.status, 504);
  assert.match(slow.headers.get('content-type'), /application\/json/);
  assert.equal((await slow.json()).type, 'general_upstream_timeout');
  await new Promise((resolve) => legacy.close(resolve));
  legacy.closeAllConnections?.();
  try {
    const dead = await fetch(`${proxy.replace(/\/v1$/, '')}/legacy/echo`);
    assert.equal(dead.status, 502);
    const body = await dead.json();
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message', 'type', 'version']);
    assert.equal(body.type, 'general_upstream_failed');
  } finally {
    await startLegacy();
  }
});
