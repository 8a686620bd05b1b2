// The foundation: ping, health, errors, CORS, projects, keys, limits — through the official SDKs
// where they reach, raw HTTP where the wire matters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, guestClient, raw, assertAppwriteError, rejectsWith, node, apiKey, endpoint, projectId, runtime } from './helpers.mjs';

test('node-appwrite client.ping() gets Pong!', async () => {
  const pong = await adminClient().ping();
  assert.equal(typeof pong === 'string' ? pong : pong.message, 'Pong!');
});

test('web SDK client.ping() works as a guest', async () => {
  const pong = await guestClient().ping();
  assert.equal(typeof pong === 'string' ? pong : pong.message, 'Pong!');
});

test('ping answers text/plain Pong!', async () => {
  const res = await raw('/ping');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'Pong!');
  assert.match(res.headers.get('content-type'), /^text\/plain/);
});

test('an unknown project is project_not_found, through the SDK', async () => {
  await rejectsWith(assert, guestClient('no-such-project').ping(), 404, 'project_not_found');
  assertAppwriteError(assert, await raw('/ping', { project: 'no-such-project' }), 404, 'project_not_found');
  assertAppwriteError(assert, await raw('/ping', { project: '' }), 404, 'project_not_found');
});

test('health endpoints answer with the API key in Appwrite shapes', async () => {
  const health = await raw('/health', { key: true });
  assert.deepEqual(health.json, { name: 'http', ping: 0, status: 'pass' });
  const version = await raw('/health/version', { project: '' });
  assert.equal(version.status, 200);
  assert.match(version.json.version, /^\d+\.\d+\.\d+$/);
  const db = await raw('/health/db', { key: true });
  assert.equal(db.json.total, 1);
  assert.equal(db.json.statuses[0].status, 'pass');
  assert.equal(typeof db.json.statuses[0].ping, 'number');
  for (const path of ['/health/storage', '/health/storage/local']) {
    const storage = await raw(path, { key: true });
    assert.equal(storage.status, 200, storage.text);
    assert.equal(storage.json.status, 'pass');
  }
  const time = await raw('/health/time', { key: true });
  assert.equal(time.json.diff, 0);
  assert.ok(Math.abs(time.json.localTime - Date.now() / 1000) < 300);
});

test('health services and queues: cache, pubsub, geo and anti-virus in Appwrite shapes; queue sizes with a threshold, failed jobs by queue name', async () => {
  for (const [path, name] of [['/health/cache', 'Cache'], ['/health/pubsub', 'PubSub (realtime)']]) {
    const res = await raw(path, { key: true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.total, res.json.statuses[0].name, res.json.statuses[0].status], [1, name, 'pass']);
  }
  const geo = await raw('/health/geo', { key: true });
  assert.deepEqual([geo.json.name, geo.json.status], ['geo', 'pass']);
  assert.deepEqual((await raw('/health/anti-virus', { key: true })).json, { version: '', status: 'disabled' });
  assertAppwriteError(assert, await raw('/health/certificate?domain=example.com', { key: true }), 405, 'general_not_implemented');
  for (const queue of ['audits', 'builds', 'certificates', 'databases', 'deletes', 'functions', 'mails', 'messaging',
    'migrations', 'notifications', 'stats-resources', 'stats-usage', 'webhooks']) {
    const res = await raw(`/health/queue/${queue}`, { key: true });
    assert.equal(res.status, 200, `${queue}: ${res.text}`);
    assert.ok(Number.isInteger(res.json.size) && res.json.size >= 0, queue);
  }
  const hit = await raw('/health/queue/mails?threshold=0', { key: true });
  assertAppwriteError(assert, hit, 503, 'health_queue_size_exceeded');
  assert.equal(hit.json.message, 'Queue jobs threshold hit. Current value is 0 and threshold is 0.');
  assert.equal((await raw('/health/queue/failed/v1-messaging', { key: true })).json.size >= 0, true);
  assertAppwriteError(assert, await raw('/health/queue/failed/v1-nothing', { key: true }), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/health/queue/nothing', { key: true }), 404, 'general_route_not_found');
  assertAppwriteError(assert, await raw('/health/queue/functions'), 401, 'general_unauthorized_scope');
});

test('health without a key is a scope error, with a wrong key unauthorized', async () => {
  const guest = await raw('/health');
  assertAppwriteError(assert, guest, 401, 'general_unauthorized_scope');
  assert.equal(guest.json.message, 'User (role: guests) missing scopes (["health.read"])');
  const wrong = await raw('/health', { headers: { 'x-appwrite-key': 'standard_' + '0'.repeat(128) } });
  assertAppwriteError(assert, wrong, 401, 'user_unauthorized');
  // A near-miss of the real key is refused too.
  const nearMiss = await raw('/health', { headers: { 'x-appwrite-key': apiKey.slice(0, -1) + (apiKey.endsWith('0') ? '1' : '0') } });
  assertAppwriteError(assert, nearMiss, 401, 'user_unauthorized');
});

test('unknown routes and methods are 404 general_route_not_found in JSON', async () => {
  assertAppwriteError(assert, await raw('/no/such/route'), 404, 'general_route_not_found');
  assertAppwriteError(assert, await raw('/ping', { method: 'DELETE', body: '{}' }), 404, 'general_route_not_found');
  assertAppwriteError(assert, await raw('/ping', { method: 'PROPFIND' }), 404, 'general_route_not_found');
  const viaSdk = adminClient().call('get', new URL(`${endpoint}/no/such/route`), { 'content-type': 'application/json' }, {});
  await rejectsWith(assert, viaSdk, 404, 'general_route_not_found');
});

test('a malformed JSON body is a 400 general_argument_invalid', async () => {
  const res = await raw('/__edgewrite/conformance', {
    method: 'POST', key: true, headers: { 'content-type': 'application/json' }, body: '{"unterminated": ',
  });
  assertAppwriteError(assert, res, 400, 'general_argument_invalid');
  const notAnObject = await raw('/__edgewrite/conformance', {
    method: 'POST', key: true, headers: { 'content-type': 'application/json' }, body: '[1,2,3]',
  });
  assertAppwriteError(assert, notAnObject, 400, 'general_argument_invalid');
});

test('an oversized body gets a clear 413 in the Appwrite shape', async () => {
  const body = 'x'.repeat(6 * 1024 * 1024 + 1);
  const res = await raw('/__edgewrite/conformance', { method: 'POST', key: true, headers: { 'content-type': 'application/json' }, body });
  assertAppwriteError(assert, res, 413, 'general_payload_too_large');
  assert.match(res.json.message, /6291456 bytes/);
});

test('CORS preflight echoes the origin and allows the SDK headers', async () => {
  const res = await fetch(`${endpoint}/account`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://localhost:5173',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-appwrite-project,x-fallback-cookies',
    },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:5173');
  assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  const allowed = res.headers.get('access-control-allow-headers').toLowerCase();
  for (const h of ['content-type', 'content-range', 'x-appwrite-project', 'x-appwrite-jwt', 'x-appwrite-session', 'x-fallback-cookies', 'x-sdk-version']) {
    assert.ok(allowed.includes(h), `${h} not allowed`);
  }
  assert.match(res.headers.get('access-control-allow-methods'), /PATCH/);
});

test('credentialed requests from an allowed origin get the origin echoed and X-Fallback-Cookies exposed', async () => {
  const res = await raw('/ping', { headers: { origin: 'http://127.0.0.1:5173' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), 'http://127.0.0.1:5173');
  assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  assert.match(res.headers.get('access-control-expose-headers'), /X-Fallback-Cookies/);
  // Errors carry CORS too, or the browser SDK could not read them.
  const err = await raw('/no/such/route', { headers: { origin: 'http://localhost:3000' } });
  assert.equal(err.headers.get('access-control-allow-origin'), 'http://localhost:3000');
});

test('an origin that is not allowed is refused with general_unknown_origin', async () => {
  const res = await raw('/ping', { headers: { origin: 'https://evil.example' } });
  assertAppwriteError(assert, res, 403, 'general_unknown_origin');
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  // Server-side callers with an API key are not subject to the origin check (as in Appwrite).
  const withKey = await raw('/ping', { key: true, headers: { origin: 'https://evil.example' } });
  assert.equal(withKey.status, 200);
});

test('every JSON response says application/json', async () => {
  for (const res of [await raw('/health/version'), await raw('/nope'), await raw('/health', { key: true })]) {
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  }
});

test('the port conformance suite passes inside workerd', async () => {
  const res = await raw('/__edgewrite/conformance', { method: 'POST', key: true });
  assert.equal(res.status, 200, res.text);
  assert.ok(res.json.cases.length >= 6);
  const failed = res.json.cases.filter((c) => !c.passed);
  assert.deepEqual(failed, []);
});

test('the conformance route needs the API key', async () => {
  assertAppwriteError(assert, await raw('/__edgewrite/conformance', { method: 'POST' }), 401, 'general_unauthorized_scope');
});

test('projects have separate databases; a Spin app serves one project', async () => {
  assert.equal((await raw('/health/db', { key: true })).status, 200);
  // `cargo xtask test` configures projects "test,other". Cloudflare gives each its own Durable
  // Object; a Spin app has one database and serves only the first (README, "Spin").
  const other = await raw('/health/db', { key: true, project: 'other' });
  if (runtime === 'spin') assertAppwriteError(assert, other, 404, 'project_not_found');
  else assert.equal(other.status, 200, other.text);
});

test('the node SDK surfaces Appwrite errors as AppwriteException', async () => {
  const client = new node.Client().setEndpoint(endpoint).setProject(projectId);
  const call = client.call('get', new URL(`${endpoint}/health`), {}, {});
  await rejectsWith(assert, call, 401, 'general_unauthorized_scope');
});

test('a 204 carries a Content-Type that is not JSON, as Appwrite sends (the Python SDK reads it on every answer)', async () => {
  const teamId = `t${Date.now().toString(36)}`;
  assert.equal((await raw('/teams', { method: 'POST', key: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ teamId, name: 'gone soon' }) })).status, 201);
  const res = await raw(`/teams/${teamId}`, { method: 'DELETE', key: true });
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
});

test('the console project is the server itself: appwrite-cli checks an endpoint with it and no key', async () => {
  const res = await raw('/health/version', { project: 'console' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.version, '1.9.6');
  // It serves no app routes: the same answer as with no project at all.
  const [asConsole, asNone] = [await raw('/account', { project: 'console' }), await raw('/account', { project: null })];
  assert.equal(asConsole.status, asNone.status);
  assert.equal(asConsole.json.type, asNone.json.type);
  assert.notEqual(asConsole.status, 200);
});
