// Security regressions: each test makes a real attack through the official SDKs (or raw HTTP
// where a wire detail is the attack) and checks that edgewrite refuses it with the Appwrite error
// a client expects, and that nothing leaked or changed. SECURITY.md lists the defences these
// tests prove. The classes, one section each:
//
//   a. forged, edited, expired and revoked JWTs; made-up and swapped session credentials
//   b. SQL injection through every part of a database query, ids, keys and stored values
//   c. self-granted roles: permissions, teams, labels and scopes a client does not hold
//   d. identity forgery against the gradual-migration proxy and the runtime's internal headers
//   e. a function's `fetch` to loopback and internal addresses, however spelled
//   f. cheaper classes: other projects' credentials, key scopes and key confusion, foreign
//      origins riding a session cookie, oversized and overdeep input, file tokens, uploads as
//      active content, forged realtime handshakes
//
// A test that finds a hole is kept failing and marked `// HOLE:` until the fix lands.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputFile } from 'node-appwrite/file';
import WebSocket from 'ws';
import { png } from './png.mjs';
import { adminClient, raw, rejectsWith, assertAppwriteError, node, endpoint, projectId, apiKey, runtime, uniqueEmail, userClient } from './helpers.mjs';

const spin = runtime === 'spin';
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const guest = () => new node.Client().setEndpoint(endpoint).setProject(projectId);
const jwtClient = (jwt) => new node.Client().setEndpoint(endpoint).setProject(projectId).setJWT(jwt);
const sessionHeaders = (who) => ({ 'x-appwrite-session': who.session.secret });

/** An HS256 token over `payload` signed with `key`, or any header and signature given. */
function forgeJwt(payload, { key = randomBytes(32), header = { alg: 'HS256', typ: 'JWT' }, signature } = {}) {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = signature ?? createHmac('sha256', key).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** The claims of a JWT (or `dynamic_` key), unverified. */
const claimsOf = (token) => JSON.parse(Buffer.from(token.replace(/^dynamic_/, '').split('.')[1], 'base64url'));

/** Awaits one SDK call: `'ok'`, or the `code type` of the AppwriteException it threw. */
async function outcome(promise) {
  try {
    await promise;
    return 'ok';
  } catch (e) {
    if (e?.constructor?.name !== 'AppwriteException') throw e;
    return `${e.code} ${e.type}`;
  }
}

/** The roles edgewrite resolves for a set of headers (test-only route). */
async function rolesFor(headers) {
  const res = await raw('/__edgewrite/roles', { headers });
  assert.equal(res.status, 200, res.text);
  return res.json.roles;
}

// Findings of the attack run (issue #26): each test performs an attack that once worked.



const fsettle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fuid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const freshIp = () => `198.18.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
const fwsUrl = `${endpoint.replace(/^http/, 'ws')}/realtime?project=${projectId}`;

/** A raw realtime socket subscribed to `channels`, with every frame it gets after that. */
async function socketOn(channels, { session, jwt } = {}) {
  const socket = new WebSocket(`${fwsUrl}${jwt ? `&jwt=${encodeURIComponent(jwt)}` : ''}`);
  const frames = [];
  let closed = null;
  socket.on('message', (m) => frames.push(JSON.parse(m.toString())));
  const closing = new Promise((resolve) => socket.on('close', (code) => { closed = code; resolve(code); }));
  await new Promise((resolve, reject) => {
    socket.once('message', resolve);
    socket.once('error', reject);
  });
  if (session) {
    // As the web SDK does with a session it holds: an authentication frame.
    socket.send(JSON.stringify({ type: 'authentication', data: { session } }));
    const deadline = Date.now() + 3000;
    while (!frames.some((f) => f.type === 'response' && f.data?.to === 'authentication') && Date.now() < deadline) await fsettle(20);
    assert.ok(frames.some((f) => f.data?.to === 'authentication' && f.data.success), JSON.stringify(frames));
  }
  socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: 's', channels }] }));
  const deadline = Date.now() + 3000;
  while (!frames.some((f) => f.data?.to === 'subscribe') && Date.now() < deadline) await fsettle(20);
  assert.ok(frames.some((f) => f.data?.to === 'subscribe' && f.data.success), JSON.stringify(frames));
  return { socket, frames, closing, closed: () => closed, events: () => frames.filter((f) => f.type === 'event') };
}

test('finding 1: a body userId cannot aim one user\'s account event at another user', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const victim = await userClient();
  const attacker = await userClient();
  const watch = await socketOn(['account'], { session: victim.session.secret });
  try {
    await fsettle(300);
    // The attacker's own prefs write, with the victim's id smuggled in as a body parameter.
    const res = await raw('/account/prefs', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-appwrite-session': attacker.session.secret },
      body: JSON.stringify({ prefs: { pwned: true }, userId: victim.user.$id }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.$id, attacker.user.$id, 'the write applies to the caller');
    // Then the victim's own write, so there is something to wait for.
    await new node.Account(victim.client).updatePrefs({ prefs: { mine: true } });
    const deadline = Date.now() + 5000;
    while (watch.events().length < 1 && Date.now() < deadline) await fsettle(50);
    await fsettle(300);
    const events = watch.events();
    assert.equal(events.length, 1, JSON.stringify(events.map((e) => e.data.events[0])));
    assert.equal(events[0].data.payload.$id, victim.user.$id);
    assert.deepEqual(events[0].data.payload.prefs, { mine: true });
    assert.ok(!JSON.stringify(events).includes(attacker.user.$id), "nothing of the attacker's account reaches the victim");
  } finally {
    watch.socket.terminate();
  }
});

test('finding 2: a client naming its own address in CF-Connecting-IP resets no limit and is not recorded', async () => {
  const { client, email, password } = await userClient();
  const session = client.config.session;
  // The suite's deployment trusts X-Forwarded-For (a proxy in front): this test's own address.
  const ip = freshIp();
  const guess = (i) => raw('/account/password', {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', 'x-appwrite-session': session, 'x-forwarded-for': ip, 'cf-connecting-ip': `203.0.113.${i + 1}` },
    body: JSON.stringify({ password: `new-password-${i}-x`, oldPassword: `wrong-guess-${i}` }),
  });
  for (let i = 0; i < 10; i++) assertAppwriteError(assert, await guess(i), 401, 'user_invalid_credentials');
  assertAppwriteError(assert, await guess(10), 429, 'general_rate_limit_exceeded');
  // The address a session records is the one the deployment vouches for.
  const made = await raw('/account/sessions/email', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `6.6.6.6, ${ip}`, 'cf-connecting-ip': '203.0.113.200' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.json.ip, ip, 'the last X-Forwarded-For entry (the proxy\'s), never CF-Connecting-IP');
});

test('finding 3: previews share a cache across spellings, refuse work past the budget, and limit renders per address', async () => {
  const s = new node.Storage(adminClient());
  const bucketId = fuid('pv');
  await s.createBucket({ bucketId, name: bucketId, permissions: ['read("any")'], transformations: true });
  await s.createFile({ bucketId, fileId: 'img', file: InputFile.fromBuffer(png(64, 48), 'img.png') });
  // The limiter counts fixed minutes: keep the renders inside one.
  const second = (Date.now() / 1000) % 60;
  if (second > 45) await fsettle((61 - second) * 1000);
  const ip = freshIp();
  const preview = (query) => fetch(`${endpoint}/storage/buckets/${bucketId}/files/img/preview?project=${projectId}&${query}`, { headers: { 'x-forwarded-for': ip } });
  const first = await preview('width=20&opacity=0.5000001&rotation=-270');
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-appwrite-cache'), 'miss');
  const same = await preview('width=20&opacity=0.5&rotation=90&borderColor=ff0000&nonce=1');
  assert.equal(same.status, 200);
  assert.equal(same.headers.get('x-appwrite-cache'), 'hit', 'a respelling of the same preview is a cache hit');
  // A 12 MP output from a tiny image is past the per-image budget: refused before any decoding,
  // and again (from the cache of refusals) when asked again.
  for (let i = 0; i < 2; i++) {
    const big = await preview('width=3400&height=3400&output=png&opacity=0.37');
    assert.equal(big.status, 400);
    assert.equal((await big.json()).type, 'storage_image_resolution_exceeded');
  }
  // Renders (cache misses) are limited per address; hits stay free.
  let limited = null;
  for (let i = 1; i <= 70 && !limited; i++) {
    const res = await preview(`width=${i}&height=${i}`);
    if (res.status === 429) limited = await res.json();
    else assert.equal(res.status, 200);
  }
  assert.equal(limited?.type, 'general_rate_limit_exceeded', 'a flood of distinct previews is stopped');
  assert.equal((await preview('width=20&opacity=0.5&rotation=90')).status, 200, 'cached previews are still served');
});

test('finding 4: a deleted user\'s or team\'s id cannot be taken again to inherit its grants', async () => {
  const admin = adminClient();
  const users = new node.Users(admin);
  const db = new node.Databases(admin);
  const victimId = fuid('gone');
  await users.create({ userId: victimId, email: uniqueEmail('gone'), password: 'correct-horse-9' });
  const databaseId = fuid('del');
  await db.create({ databaseId, name: databaseId });
  await db.createCollection({ databaseId, collectionId: 'private', name: 'private', documentSecurity: true });
  await db.createStringAttribute({ databaseId, collectionId: 'private', key: 'secret', size: 32, required: false });
  await db.createDocument({ databaseId, collectionId: 'private', documentId: 'diary', data: { secret: 'x' }, permissions: [`read("user:${victimId}")`] });
  await users.delete({ userId: victimId });
  // Sign-up, server create, and every other way in refuse the retired id.
  await rejectsWith(assert, new node.Account(new node.Client().setEndpoint(endpoint).setProject(projectId))
    .create({ userId: victimId, email: uniqueEmail('heir'), password: 'correct-horse-9' }), 409, 'user_already_exists');
  await rejectsWith(assert, users.create({ userId: victimId, email: uniqueEmail('heir2'), password: 'correct-horse-9' }), 409, 'user_already_exists');
  const tokenRes = await raw('/account/tokens/email', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: victimId, email: uniqueEmail('heir4') }) });
  assertAppwriteError(assert, tokenRes, 409, 'user_already_exists');
  // Teams too.
  const teams = new node.Teams(admin);
  const teamId = fuid('t');
  await teams.create({ teamId, name: 'old' });
  await teams.delete({ teamId });
  await rejectsWith(assert, teams.create({ teamId, name: 'heir' }), 409, 'team_already_exists');
  // The grants themselves still point at nobody.
  const list = await db.listDocuments({ databaseId, collectionId: 'private' });
  assert.equal(list.total, 1, 'the document is still there for the server');
});

test('finding 5: linking through a two-way one-to-one relationship needs update permission on the other document', async () => {
  const admin = new node.Databases(adminClient());
  const databaseId = fuid('rel');
  await admin.create({ databaseId, name: databaseId });
  for (const collectionId of ['owners', 'pets']) {
    await admin.createCollection({ databaseId, collectionId, name: collectionId, permissions: ['create("users")', 'read("users")'], documentSecurity: true });
    await admin.createStringAttribute({ databaseId, collectionId, key: 'name', size: 32, required: false });
  }
  await admin.createRelationshipAttribute({ databaseId, collectionId: 'owners', relatedCollectionId: 'pets', type: 'oneToOne', twoWay: true, key: 'pet', twoWayKey: 'owner' });
  await fsettle(200);
  const alice = await userClient();
  const bob = await userClient();
  // Bob's pet: everyone signed in may read it, only Bob may change it.
  const bobs = new node.Databases(bob.client);
  await bobs.createDocument({ databaseId, collectionId: 'pets', documentId: 'rex', data: { name: 'Rex' }, permissions: [`update("user:${bob.user.$id}")`] });
  const alices = new node.Databases(alice.client);
  await rejectsWith(assert, alices.createDocument({ databaseId, collectionId: 'owners', documentId: 'thief', data: { name: 'Alice', pet: 'rex' } }), 401, 'user_unauthorized');
  await alices.createDocument({ databaseId, collectionId: 'owners', documentId: 'alice', data: { name: 'Alice' } });
  await rejectsWith(assert, alices.updateDocument({ databaseId, collectionId: 'owners', documentId: 'alice', data: { pet: 'rex' } }), 401, 'user_unauthorized');
  const withOwner = [node.Query.select(['*', 'owner.*'])];
  const rex = await admin.getDocument({ databaseId, collectionId: 'pets', documentId: 'rex', queries: withOwner });
  assert.equal(rex.owner, null, "Bob's pet was not changed");
  // Her own pet she may link.
  await alices.createDocument({ databaseId, collectionId: 'pets', documentId: 'tom', data: { name: 'Tom' } });
  await alices.updateDocument({ databaseId, collectionId: 'owners', documentId: 'alice', data: { pet: 'tom' } });
  assert.equal((await admin.getDocument({ databaseId, collectionId: 'pets', documentId: 'tom', queries: withOwner })).owner.$id, 'alice');
});

test('finding 6: a guest cannot see or continue another guest\'s unfinished upload', async () => {
  const bucketId = fuid('gu');
  await new node.Storage(adminClient()).createBucket({ bucketId, name: bucketId, permissions: ['create("any")', 'read("any")', 'update("any")'], maximumFileSize: 20 * 1024 * 1024 });
  const CHUNK = 5 * 1024 * 1024;
  const size = CHUNK + 10;
  const fileId = fuid('f');
  const chunk = (i) => Buffer.alloc(i === 0 ? CHUNK : 10, i + 1);
  const as = (ip, agent) => ({ 'x-forwarded-for': ip, 'user-agent': agent });
  const send = (who, i, first) => {
    const form = new FormData();
    form.append('fileId', fileId);
    form.append('file', new Blob([chunk(i)]), 'x.bin');
    const headers = { ...who, 'content-range': `bytes ${i * CHUNK}-${i * CHUNK + chunk(i).length - 1}/${size}` };
    if (!first) headers['x-appwrite-id'] = fileId;
    return raw(`/storage/buckets/${bucketId}/files`, { method: 'POST', headers, body: form });
  };
  const alice = as(freshIp(), 'guest-alice');
  const mallory = as(freshIp(), 'guest-mallory');
  assert.equal((await send(alice, 0, true)).status, 201);
  // Mallory neither sees the upload nor can add to it.
  assertAppwriteError(assert, await raw(`/storage/buckets/${bucketId}/files/${fileId}`, { headers: mallory }), 404, 'storage_file_not_found');
  const listed = await raw(`/storage/buckets/${bucketId}/files`, { headers: mallory });
  assert.equal(listed.status, 200);
  assert.ok(!listed.json.files.some((f) => f.$id === fileId), 'an unfinished upload is not listed to others');
  assertAppwriteError(assert, await send(mallory, 1, false), 409, 'storage_file_already_exists');
  // Alice sees her progress and finishes.
  const mine = await raw(`/storage/buckets/${bucketId}/files/${fileId}`, { headers: alice });
  assert.equal(mine.json.chunksUploaded, 1);
  const done = await send(alice, 1, false);
  assert.equal(done.status, 201, done.text);
  const download = await fetch(`${endpoint}/storage/buckets/${bucketId}/files/${fileId}/download?project=${projectId}`, { headers: mallory });
  const bytes = Buffer.from(await download.arrayBuffer());
  assert.equal(bytes.length, size);
  assert.equal(bytes[CHUNK], 2, 'the last chunk is Alice\'s');
});

test('finding 7: a password change ends the user\'s other sessions and their JWTs', async () => {
  const { user, client, email, password } = await userClient();
  const admin = adminClient();
  const stolen = await new node.Account(admin).createEmailPasswordSession({ email, password });
  const thief = new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(stolen.secret);
  const thiefJwt = (await new node.Account(thief).createJWT()).jwt;
  const serverJwt = (await new node.Users(admin).createJWT({ userId: user.$id })).jwt;
  const jwtClient = (jwt) => new node.Client().setEndpoint(endpoint).setProject(projectId).setJWT(jwt);
  assert.equal((await new node.Account(jwtClient(serverJwt)).get()).$id, user.$id);
  // JWTs carry whole seconds: let the next second start before the change.
  await fsettle(1100);
  await new node.Account(client).updatePassword({ password: 'a-brand-new-pass-1', oldPassword: password });
  await rejectsWith(assert, new node.Account(thief).get(), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Account(jwtClient(thiefJwt)).get(), 401, 'user_jwt_invalid');
  await rejectsWith(assert, new node.Account(jwtClient(serverJwt)).get(), 401, 'user_jwt_invalid');
  assert.equal((await new node.Account(client).get()).$id, user.$id, "the owner's own session goes on");
  // The server's route ends every session.
  await new node.Users(admin).updatePassword({ userId: user.$id, password: 'another-new-pass-2' });
  await rejectsWith(assert, new node.Account(client).get(), 401, 'general_unauthorized_scope');
});

test('finding 8: a realtime socket opened with a JWT is closed once the JWT expires', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const { user, client } = await userClient();
  const jwt = (await new node.Users(adminClient()).createJWT({ userId: user.$id, duration: 2 })).jwt;
  const watch = await socketOn(['account'], { jwt });
  try {
    await new node.Account(client).updatePrefs({ prefs: { n: 1 } });
    const deadline = Date.now() + 3000;
    while (watch.events().length < 1 && Date.now() < deadline) await fsettle(50);
    assert.equal(watch.events().length, 1, 'the live JWT receives the event');
    await fsettle(2600);
    await new node.Account(client).updatePrefs({ prefs: { n: 2 } });
    const code = await Promise.race([watch.closing, fsettle(5000).then(() => 'open')]);
    assert.equal(code, 1008, 'the socket is closed once its JWT has expired');
    assert.equal(watch.events().length, 1, 'no event after the expiry');
    assert.ok(watch.frames.some((f) => f.type === 'error' && f.data.code === 1008));
  } finally {
    watch.socket.terminate();
  }
});


// ---------------------------------------------------------------------------------------------
// a. Forged JWTs and session credentials
// ---------------------------------------------------------------------------------------------

/** Alice (the attacker, with a real JWT) and Bob (the victim, with a private marker). */
async function jwtWorld() {
  const alice = await userClient({ name: 'Alice' });
  const bob = await userClient({ name: 'Bob' });
  const marker = `bob-private-${randomBytes(6).toString('hex')}`;
  await new node.Account(bob.client).updatePrefs({ prefs: { marker } });
  const { jwt } = await new node.Account(alice.client).createJWT();
  return { alice, bob, marker, jwt };
}

test('jwt: alg none, a wrong key, an edited payload and garbage are 401 user_jwt_invalid and never the victim', async () => {
  const { alice, bob, marker, jwt } = await jwtWorld();
  const [header, payload, signature] = jwt.split('.');
  const mine = claimsOf(jwt);
  assert.deepEqual(Object.keys(mine).sort(), ['exp', 'iat', 'sessionId', 'userId']);
  const asBob = { ...mine, userId: bob.user.$id, sessionId: bob.session.$id };
  const forever = { ...asBob, exp: mine.exp + 10 * 365 * 86400 };
  const forged = {
    'alg none': forgeJwt(asBob, { header: { alg: 'none', typ: 'JWT' }, signature: '' }),
    'alg None, signed': forgeJwt(asBob, { header: { alg: 'None', typ: 'JWT' } }),
    'alg NONE, no signature part': forgeJwt(asBob, { header: { alg: 'NONE' }, signature: '' }).slice(0, -1),
    'alg HS512': forgeJwt(asBob, { header: { alg: 'HS512', typ: 'JWT' } }),
    'alg RS256 with the header as key': forgeJwt(asBob, { header: { alg: 'RS256', typ: 'JWT' }, key: header }),
    'no alg': forgeJwt(asBob, { header: { typ: 'JWT' } }),
    'a random key': forgeJwt(asBob),
    'an empty key': forgeJwt(asBob, { key: '' }),
    'the project id as key': forgeJwt(asBob, { key: projectId }),
    'the word secret as key': forgeJwt(asBob, { key: 'secret' }),
    "Bob's ids with Alice's signature": `${header}.${b64url(asBob)}.${signature}`,
    "Alice's user with Bob's session": `${header}.${b64url({ ...mine, sessionId: bob.session.$id })}.${signature}`,
    "Bob's user with Alice's session": `${header}.${b64url({ ...mine, userId: bob.user.$id })}.${signature}`,
    'a session-less claim for Bob': `${header}.${b64url({ ...mine, userId: bob.user.$id, sessionId: '' })}.${signature}`,
    'a later expiry': `${header}.${b64url({ ...mine, exp: mine.exp + 86400 })}.${signature}`,
    'Bob forever, random key': forgeJwt(forever),
    'extra claims': `${header}.${b64url({ ...mine, userId: bob.user.$id, admin: true })}.${signature}`,
    'duplicate userId keys': `${header}.${Buffer.from(`{"userId":"${mine.userId}","sessionId":"${mine.sessionId}","iat":${mine.iat},"exp":${mine.exp},"userId":"${bob.user.$id}"}`).toString('base64url')}.${signature}`,
    'a signature of zeros': `${header}.${payload}.${'A'.repeat(43)}`,
    'a truncated signature': jwt.slice(0, -4),
    'a truncated token': jwt.slice(0, jwt.length / 2),
    'four parts': `${jwt}.${signature}`,
    'standard base64 with padding': `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64')}.${Buffer.from(JSON.stringify(asBob)).toString('base64')}.${signature}`,
    'payload not JSON': `${header}.${b64url('not json')}.${signature}`,
    'payload an array': `${header}.${b64url([bob.user.$id])}.${signature}`,
    'two dots': '..',
    'one part': 'garbage',
    'long garbage': 'a'.repeat(8000),
    'non-ascii': `${header}.${payload}.ßig`,
    'SQL in the claims': forgeJwt({ ...asBob, userId: "' OR '1'='1", sessionId: "' OR 1=1 --" }),
  };
  // A real Spin answers a header value that is not UTF-8 with an empty 500 before any component
  // runs (spin-trigger-http's prepare_request_headers); the test host hands it to edgewrite.
  if (process.env.EDGEWRITE_SPIN_UP) delete forged['non-ascii'];
  for (const [what, token] of Object.entries(forged)) {
    const res = await raw('/account', { headers: { 'x-appwrite-jwt': token } });
    assertAppwriteError(assert, res, 401, 'user_jwt_invalid');
    assert.ok(!res.text.includes(bob.user.$id) && !res.text.includes(marker), `${what}: nothing of Bob's`);
    await rejectsWith(assert, new node.Account(jwtClient(token)).getPrefs(), 401, 'user_jwt_invalid');
  }
  // A real JWT is still Alice, and only Alice.
  const me = await new node.Account(jwtClient(jwt)).get();
  assert.equal(me.$id, alice.user.$id);
  assert.ok(!JSON.stringify(me).includes(marker));
  assert.deepEqual({ ...(await new node.Account(bob.client).getPrefs()) }, { marker }, "Bob's data is as he left it");
});

test('jwt: an expired JWT is refused (duration 0 expires as it is made; a forged far-past expiry too)', async () => {
  const { alice, jwt } = await jwtWorld();
  const { jwt: expired } = await new node.Account(alice.client).createJWT({ duration: 0 });
  const claims = claimsOf(expired);
  assert.equal(claims.exp, claims.iat, 'a zero-second token');
  await rejectsWith(assert, new node.Account(jwtClient(expired)).get(), 401, 'user_jwt_invalid');
  const [header, , signature] = jwt.split('.');
  const past = { ...claimsOf(jwt), iat: 1, exp: 2 };
  for (const token of [forgeJwt(past), `${header}.${b64url(past)}.${signature}`]) {
    assertAppwriteError(assert, await raw('/account', { headers: { 'x-appwrite-jwt': token } }), 401, 'user_jwt_invalid');
  }
  // The same user's live token still works: the refusals were about the tokens.
  assert.equal((await new node.Account(jwtClient(jwt)).get()).$id, alice.user.$id);
});

test('jwt: a JWT stops working when its session is deleted, its user\'s sessions end, or its user goes', async () => {
  // Deleting the session the JWT was made from.
  const { alice, jwt } = await jwtWorld();
  const viaJwt = new node.Account(jwtClient(jwt));
  assert.equal((await viaJwt.get()).$id, alice.user.$id);
  await new node.Account(alice.client).deleteSession({ sessionId: 'current' });
  await rejectsWith(assert, viaJwt.get(), 401, 'user_jwt_invalid');
  await rejectsWith(assert, new node.Databases(jwtClient(jwt)).list(), 401, 'user_jwt_invalid');

  // Ending every session of the user (the server side, as an admin would on a compromise).
  const carol = await userClient({ name: 'Carol' });
  const { jwt: carolJwt } = await new node.Account(carol.client).createJWT();
  assert.equal((await new node.Account(jwtClient(carolJwt)).get()).$id, carol.user.$id);
  await new node.Users(adminClient()).deleteSessions({ userId: carol.user.$id });
  await rejectsWith(assert, new node.Account(jwtClient(carolJwt)).get(), 401, 'user_jwt_invalid');

  // Deleting the user ends its session-bound and its session-less JWTs.
  const dave = await userClient({ name: 'Dave' });
  const users = new node.Users(adminClient());
  const { jwt: bound } = await new node.Account(dave.client).createJWT();
  const { jwt: bare } = await users.createJWT({ userId: dave.user.$id });
  assert.equal(claimsOf(bare).sessionId, '');
  assert.equal((await new node.Account(jwtClient(bare)).get()).$id, dave.user.$id);
  await users.delete({ userId: dave.user.$id });
  for (const token of [bound, bare]) await rejectsWith(assert, new node.Account(jwtClient(token)).get(), 401, 'user_jwt_invalid');

  // Blocking a user ends its sessions, and so its JWTs.
  const erin = await userClient({ name: 'Erin' });
  const { jwt: erinJwt } = await new node.Account(erin.client).createJWT();
  await users.updateStatus({ userId: erin.user.$id, status: false });
  await rejectsWith(assert, new node.Account(jwtClient(erinJwt)).get(), 401, 'user_jwt_invalid');
});

test('jwt: a JWT cannot be combined with a session or another user\'s session to become someone else', async () => {
  const { alice, bob, jwt } = await jwtWorld();
  const both = await raw('/account', { headers: { 'x-appwrite-jwt': jwt, ...sessionHeaders(bob) } });
  assertAppwriteError(assert, both, 403, 'user_jwt_and_cookie_set');
  assert.ok(!both.text.includes(bob.user.$id));
  // A JWT cannot mint a longer-lived JWT or a session.
  await rejectsWith(assert, new node.Account(jwtClient(jwt)).createJWT({ duration: 3600 }), 403, 'user_jwt_creation_denied');
  const session = await raw('/account/sessions/anonymous', { method: 'POST', headers: { 'x-appwrite-jwt': jwt, 'content-type': 'application/json' }, body: '{}' });
  assertAppwriteError(assert, session, 401, 'user_session_already_exists');
  assert.equal((await new node.Account(alice.client).listSessions()).total, 1, 'no session was made');
});

test('sessions: a credential naming another user, a guessed secret or a malformed one is a guest', async () => {
  const { alice, bob, marker } = await jwtWorld();
  const { id, secret } = JSON.parse(Buffer.from(alice.session.secret, 'base64'));
  assert.equal(id, alice.user.$id);
  assert.match(secret, /^[0-9a-f]{64}$/);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64');
  const cookie = `a_session_${projectId}`;
  const attempts = {
    "Alice's secret under Bob's id": { 'x-appwrite-session': encode({ id: bob.user.$id, secret }) },
    "Bob's session id as the secret": { 'x-appwrite-session': encode({ id: bob.user.$id, secret: bob.session.$id }) },
    'a flipped last character': { 'x-appwrite-session': encode({ id, secret: secret.slice(0, -1) + (secret.endsWith('0') ? '1' : '0') }) },
    'a prefix of the secret': { 'x-appwrite-session': encode({ id, secret: secret.slice(0, 32) }) },
    'the secret upper-cased': { 'x-appwrite-session': encode({ id, secret: secret.toUpperCase() }) },
    'an empty secret': { 'x-appwrite-session': encode({ id: bob.user.$id, secret: '' }) },
    'no secret': { 'x-appwrite-session': encode({ id: bob.user.$id }) },
    'a secret that is SQL': { 'x-appwrite-session': encode({ id: bob.user.$id, secret: "' OR '1'='1" }) },
    'a secret that is a number': { 'x-appwrite-session': encode({ id: bob.user.$id, secret: 0 }) },
    'not base64': { 'x-appwrite-session': '%%%not-base64%%%' },
    'base64 of garbage': { 'x-appwrite-session': Buffer.from('garbage').toString('base64') },
    'a cookie under Bob\'s id': { cookie: `${cookie}=${encode({ id: bob.user.$id, secret })}` },
    'a cookie with garbage': { cookie: `${cookie}=%00%ff` },
    'fallback cookies not JSON': { 'x-fallback-cookies': '{not json' },
    'fallback cookies under Bob\'s id': { 'x-fallback-cookies': JSON.stringify({ [cookie]: encode({ id: bob.user.$id, secret }) }) },
  };
  // Guessing: random 256-bit secrets for Bob.
  for (let i = 0; i < 20; i++) attempts[`guess ${i}`] = { 'x-appwrite-session': encode({ id: bob.user.$id, secret: randomBytes(32).toString('hex') }) };
  for (const [what, headers] of Object.entries(attempts)) {
    const res = await raw('/account', { headers });
    assertAppwriteError(assert, res, 401, 'general_unauthorized_scope');
    assert.match(res.json.message, /role: guests/, what);
    assert.ok(!res.text.includes(marker), what);
  }
  // The real credentials still work, as their own users.
  assert.equal((await raw('/account', { headers: sessionHeaders(alice) })).json.$id, alice.user.$id);
  assert.equal((await raw('/account', { headers: { cookie: `${cookie}=${bob.session.secret}` } })).json.$id, bob.user.$id);
});

test('sessions: what a session stands for changes with the very next request: teams, roles, labels, MFA, sign-out, block', async () => {
  // The project's object answers a session's identity from a cache; every change below is a
  // write that must clear it before the next request is served.
  const who = await userClient();
  const headers = sessionHeaders(who);
  const admin = adminClient();
  const teams = new node.Teams(admin);
  const users = new node.Users(admin);
  const account = new node.Account(who.client);
  const me = who.user.$id;
  assert.ok((await rolesFor(headers)).includes(`user:${me}`));
  const team = await teams.create({ teamId: node.ID.unique(), name: 'cache' });
  const membership = await teams.createMembership({ teamId: team.$id, roles: ['editor'], userId: me });
  let roles = await rolesFor(headers);
  assert.ok(roles.includes(`team:${team.$id}`) && roles.includes(`team:${team.$id}/editor`), roles.join());
  await teams.updateMembership({ teamId: team.$id, membershipId: membership.$id, roles: ['viewer'] });
  roles = await rolesFor(headers);
  assert.ok(roles.includes(`team:${team.$id}/viewer`) && !roles.includes(`team:${team.$id}/editor`), roles.join());
  await teams.deleteMembership({ teamId: team.$id, membershipId: membership.$id });
  assert.ok(!(await rolesFor(headers)).some((r) => r.includes(team.$id)));
  await teams.createMembership({ teamId: team.$id, roles: ['owner'], userId: me });
  assert.ok((await rolesFor(headers)).includes(`team:${team.$id}/owner`));
  await teams.delete({ teamId: team.$id });
  assert.ok(!(await rolesFor(headers)).some((r) => r.includes(team.$id)));
  await users.updateLabels({ userId: me, labels: ['vip'] });
  assert.ok((await rolesFor(headers)).includes('label:vip'));
  await users.updateEmailVerification({ userId: me, emailVerification: true });
  assert.ok((await rolesFor(headers)).includes(`user:${me}/verified`));
  assert.equal((await account.get()).emailVerification, true);
  await users.updateName({ userId: me, name: 'Renamed' });
  assert.equal((await account.get()).name, 'Renamed');
  // MFA turned on for a user with a verified email: the one-factor session now owes a second.
  await users.updateMfa({ userId: me, mfa: true });
  await rejectsWith(assert, account.get(), 401, 'user_more_factors_required');
  await users.updateMfa({ userId: me, mfa: false });
  assert.equal((await account.get()).$id, me);
  // Signing out ends that session at once, for the SDK and raw requests alike; blocking the
  // user ends the rest.
  const second = await new node.Account(admin).createEmailPasswordSession({ email: who.email, password: who.password });
  const secondAccount = new node.Account(new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(second.secret));
  assert.equal((await secondAccount.get()).$id, me);
  await account.deleteSession({ sessionId: 'current' });
  await rejectsWith(assert, account.get(), 401, 'general_unauthorized_scope');
  assert.ok(!(await rolesFor(headers)).includes(`user:${me}`));
  assert.equal((await secondAccount.get()).$id, me);
  await users.updateStatus({ userId: me, status: false });
  await rejectsWith(assert, secondAccount.get(), 401, 'general_unauthorized_scope');
});

test('sessions: a user cannot read, extend or end another user\'s session, nor take over its email', async () => {
  const { alice, bob } = await jwtWorld();
  const account = new node.Account(alice.client);
  for (const call of [
    () => account.getSession({ sessionId: bob.session.$id }),
    () => account.updateSession({ sessionId: bob.session.$id }),
    () => account.deleteSession({ sessionId: bob.session.$id }),
  ]) {
    await rejectsWith(assert, call(), 404, 'user_session_not_found');
  }
  assert.ok(!(await account.listSessions()).sessions.some((s) => s.$id === bob.session.$id));
  for (const email of [bob.email, bob.email.toUpperCase()]) {
    await rejectsWith(assert, account.updateEmail({ email, password: alice.password }), 409, 'user_target_already_exists');
  }
  assert.equal((await account.get()).email, alice.email);
  assert.equal((await new node.Account(bob.client).get()).email, bob.email, "Bob's session lives and his email is his");
});

test('tokens: guessed secrets for another user\'s token, magic URL, recovery, verification and phone logins are user_invalid_token', async () => {
  const { alice, bob } = await jwtWorld();
  const asGuest = new node.Account(guest());
  const userId = bob.user.$id;
  for (const [what, call] of [
    ['token session', () => asGuest.createSession({ userId, secret: '123456' })],
    ['token session, long', () => asGuest.createSession({ userId, secret: randomBytes(32).toString('hex') })],
    ['magic URL session', () => asGuest.updateMagicURLSession({ userId, secret: randomBytes(32).toString('hex') })],
    ['phone session', () => asGuest.updatePhoneSession({ userId, secret: '000000' })],
    ['recovery', () => asGuest.updateRecovery({ userId, secret: randomBytes(32).toString('hex'), password: 'taken-over-123' })],
    ['email verification', () => new node.Account(alice.client).updateVerification({ userId, secret: randomBytes(32).toString('hex') })],
  ]) {
    assert.equal(await outcome(call()), '401 user_invalid_token', what);
  }
  const users = new node.Users(adminClient());
  assert.equal((await users.listSessions({ userId })).total, 1, 'no session was made for Bob');
  assert.equal((await users.get({ userId })).emailVerification, false);
  const login = await new node.Account(adminClient()).createEmailPasswordSession({ email: bob.email, password: bob.password });
  assert.equal(login.userId, userId, "Bob's password is unchanged");
});

// ---------------------------------------------------------------------------------------------
// b. SQL injection through queries, ids, keys and values
// ---------------------------------------------------------------------------------------------

const INJECTIONS = [
  "' OR '1'='1",
  "' OR 1=1 --",
  '" OR "1"="1',
  "') OR ('1'='1",
  "x'); DROP TABLE users; --",
  '1; DROP TABLE sessions',
  "' UNION SELECT id, secret_hash FROM sessions --",
  "' UNION SELECT * FROM _edgewrite_settings --",
  '*/ OR /*',
  '%',
  '_',
  '\\',
  "\\' OR 1=1 --",
  '%\' OR \'%\'=\'',
  "'||(SELECT value FROM _edgewrite_settings)||'",
  'SECRET-BOB',
  '\u0000',
  '"*" OR "a"*',
  'NEAR(bob secret)',
  '{"$ne": null}',
];

/**
 * One database shared by the injection tests: `notes` (document security, any user may create)
 * holding Alice's three notes and Bob's three, whose texts repeat Alice's so that any escape
 * from Alice's permission scope shows up as one of Bob's ids; a `canary` collection; a bulk
 * target the key may write. Made once, on first use.
 */
let notesMade;
function notesWorld() {
  notesMade ??= (async () => {
    const admin = new node.Databases(adminClient());
    const db = uid('sqli');
    await admin.create({ databaseId: db, name: db });
    await admin.createCollection({
      databaseId: db, collectionId: 'notes', name: 'notes', permissions: ['create("users")'], documentSecurity: true,
      attributes: [
        { key: 'owner', type: 'string', size: 64, required: true },
        { key: 'text', type: 'string', size: 256, required: false },
        { key: 'n', type: 'integer', required: false },
        { key: 'tags', type: 'string', size: 64, required: false, array: true },
      ],
      indexes: [{ key: 'by_n', type: 'key', attributes: ['n'] }, { key: 'text_search', type: 'fulltext', attributes: ['text'] }],
    });
    await admin.createCollection({ databaseId: db, collectionId: 'canary', name: 'canary', permissions: [], attributes: [{ key: 'v', type: 'string', size: 64, required: true }] });
    await admin.createDocument({ databaseId: db, collectionId: 'canary', documentId: 'alive', data: { v: 'untouched' } });
    const alice = await userClient({ name: 'Alice' });
    const bob = await userClient({ name: 'Bob' });
    const texts = ["alice's first note", "' OR '1'='1", '100% _done_ \\ backslash'];
    const docs = { alice: [], bob: [] };
    for (const [who, owner] of [['alice', alice], ['bob', bob]]) {
      const d = new node.Databases(owner.client);
      for (const [i, text] of texts.entries()) {
        const data = { owner: who, text: who === 'bob' && i === 0 ? 'bob private SECRET-BOB' : text, n: who === 'alice' ? i + 1 : 10 * (i + 1), tags: i === 0 ? ['red', "it's"] : ['blue'] };
        const made = await d.createDocument({ databaseId: db, collectionId: 'notes', documentId: `${who}${i + 1}`, data });
        docs[who].push(made.$id);
      }
    }
    return { db, alice, bob, docs };
  })();
  return notesMade;
}

/** What the key sees of the shared database: every note and the canary, as id → text. */
async function snapshot(db) {
  const admin = new node.Databases(adminClient());
  const notes = await admin.listDocuments({ databaseId: db, collectionId: 'notes', queries: [node.Query.limit(100)] });
  const canary = await admin.getDocument({ databaseId: db, collectionId: 'canary', documentId: 'alive' });
  const users = await new node.Users(adminClient()).list({ queries: [node.Query.limit(1)] });
  return { notes: Object.fromEntries(notes.documents.map((d) => [d.$id, d.text])), total: notes.total, canary: canary.v, anyUsers: users.total > 0 };
}

/** Alice's list of notes with `queries`: `{ ids }` or `{ error: 'code type' }`. */
async function aliceLists(w, queries) {
  try {
    const r = await new node.Databases(w.alice.client).listDocuments({ databaseId: w.db, collectionId: 'notes', queries });
    assert.ok(r.total >= r.documents.length && r.total <= w.docs.alice.length, `total ${r.total} counts only what Alice may read`);
    return { ids: r.documents.map((d) => d.$id).sort() };
  } catch (e) {
    if (e?.constructor?.name !== 'AppwriteException') throw e;
    return { error: `${e.code} ${e.type}` };
  }
}

/** A list outcome is a clean 400 or a subset of Alice's notes: never Bob's, never a 500. */
function assertContained(w, got, what) {
  if (got.error) {
    assert.equal(got.error, '400 general_query_invalid', what);
    return;
  }
  for (const id of got.ids) assert.ok(w.docs.alice.includes(id), `${what}: returned ${id}`);
}

test('sql: injection in filter values matches literally, inside the caller\'s permissions, or is a clean 400', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const { Query } = node;
  for (const p of INJECTIONS) {
    for (const [name, query] of [
      ['equal', Query.equal('text', [p])],
      ['equal, several', Query.equal('text', [p, 'x', p])],
      ['notEqual', Query.notEqual('text', p)],
      ['startsWith', Query.startsWith('text', p)],
      ['endsWith', Query.endsWith('text', p)],
      ['contains', Query.contains('text', [p])],
      ['notContains', Query.notContains('text', [p])],
      ['search', Query.search('text', p)],
      ['notSearch', Query.notSearch('text', p)],
      ['between', Query.between('text', p, `${p}~`)],
      ['lessThan', Query.lessThan('text', p)],
      ['greaterThanEqual', Query.greaterThanEqual('owner', p)],
      ['contains on an array', Query.contains('tags', [p])],
      ['containsAny', Query.containsAny('tags', [p, 'red'])],
      ['equal on an integer', Query.equal('n', [p])],
      ['between on an integer', Query.between('n', p, 100)],
      ['$id', Query.equal('$id', [p, 'bob1'])],
      ['or', Query.or([Query.equal('text', [p]), Query.equal('owner', ['bob'])])],
      ['and in or', Query.or([Query.and([Query.startsWith('text', p), Query.isNotNull('text')]), Query.search('text', p)])],
    ]) {
      assertContained(w, await aliceLists(w, [query]), `${name} ${JSON.stringify(p)}`);
    }
  }
  // Values are bound, so they match exactly what is stored, and wildcards are literal.
  const exact = async (queries, ids, what) => assert.deepEqual(await aliceLists(w, queries), { ids }, what);
  await exact([Query.equal('text', ["' OR '1'='1"])], ['alice2'], 'a stored injection string matches itself, and only Alice\'s copy');
  await exact([Query.equal('text', ["' OR 1=1 --"])], [], 'a near miss matches nothing');
  await exact([Query.notEqual('owner', 'alice')], [], 'notEqual stays inside the scope');
  await exact([Query.startsWith('text', '%')], [], '% is no wildcard');
  await exact([Query.startsWith('text', '100%')], ['alice3'], '% matches itself');
  await exact([Query.contains('text', ['_done_'])], ['alice3'], '_ matches itself');
  await exact([Query.contains('text', ['_'])], ['alice3'], '_ is no wildcard');
  await exact([Query.endsWith('text', '\\ backslash')], ['alice3'], 'a backslash matches itself');
  await exact([Query.contains('tags', ["it's"])], ['alice1'], 'a quote in an array element');
  await exact([Query.search('text', 'SECRET')], [], "Bob's words are not searchable by Alice");
  await exact([Query.equal('$id', ['bob1', 'bob2', 'bob3'])], [], "Bob's ids by name");
  await exact([Query.or([Query.equal('owner', ['bob']), Query.equal('owner', ['alice'])])], ['alice1', 'alice2', 'alice3'], 'or stays inside the scope');
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

test('sql: attribute names in every query part must be attributes; internal columns are not', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const { Query } = node;
  const names = [
    'text" OR 1=1 --', 'text) OR (1=1', "text' --", 'text;DROP TABLE users', 'text/**/', 'TEXT ', ' text',
    '_permissions', '_seq', '_id', '_created_at', 'rowid', 'oid', '_rowid_', 'sqlite_master', 'edgewrite_t.owner',
    'edgewrite_t', '"owner"', 'owner"', '(SELECT secret_hash FROM sessions)', 'json_extract(text)', 'text.*', 'text[0]',
    '$permissions"', '$sequence--', '__proto__', 'constructor', '\u0000', 'n; --',
  ];
  for (const name of names) {
    for (const [method, query] of [
      ['equal', Query.equal(name, ['x'])],
      ['search', Query.search(name, 'x')],
      ['orderAsc', Query.orderAsc(name)],
      ['orderDesc', Query.orderDesc(name)],
      ['select', Query.select([name])],
      ['isNull', Query.isNull(name)],
      ['contains', Query.contains(name, ['x'])],
      ['between', Query.between(name, 1, 2)],
      ['startsWith', Query.startsWith(name, 'x')],
      ['or', Query.or([Query.equal('owner', ['alice']), Query.equal(name, ['x'])])],
    ]) {
      const got = await aliceLists(w, [query]);
      // `select` of a `$` name shapes the answer only (system attributes are not columns of
      // the query): it may pass, but still within Alice's documents.
      if (method === 'select' && name.startsWith('$')) assertContained(w, got, `select(${JSON.stringify(name)})`);
      else assert.deepEqual(got, { error: '400 general_query_invalid' }, `${method}(${JSON.stringify(name)})`);
    }
  }
  // Cursors take document ids: anything else is refused, and another user's document is no
  // cursor at all (its attributes must not become an ordering oracle).
  for (const id of ["' OR '1'='1", 'alice1" --', 'alice1; DROP TABLE users', '../alice1', '']) {
    for (const query of [Query.cursorAfter(id), Query.cursorBefore(id)]) {
      assert.deepEqual(await aliceLists(w, [query]), { error: '400 general_query_invalid' }, `cursor ${JSON.stringify(id)}`);
    }
  }
  for (const query of [Query.cursorAfter('bob1'), Query.cursorBefore('bob2')]) {
    assert.deepEqual(await aliceLists(w, [Query.orderAsc('n'), query]), { error: '400 general_cursor_not_found' });
  }
  assert.deepEqual(await aliceLists(w, [Query.orderAsc('n'), Query.cursorAfter('alice1')]), { ids: ['alice2', 'alice3'] });
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

test('sql: limit and offset take integers only; strings, SQL and out-of-range numbers are 400s', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const { Query } = node;
  for (const value of ['1; DROP TABLE users', '1 OR 1=1', '-1', '1e3', '0x10', '', 'NaN', '99999999999999999999', 1.5, -1, 0, 5001, null, true, { n: 1 }]) {
    assert.deepEqual(await aliceLists(w, [Query.limit(value)]), { error: '400 general_query_invalid' }, `limit ${JSON.stringify(value)}`);
  }
  for (const value of ['0; DROP TABLE users', '0 OR 1=1', '-1', -1, 1.5, null, 'abc']) {
    assert.deepEqual(await aliceLists(w, [Query.offset(value)]), { error: '400 general_query_invalid' }, `offset ${JSON.stringify(value)}`);
  }
  // Integer strings are integers, as Appwrite reads them; a huge offset is just past the end.
  assert.deepEqual(await aliceLists(w, [Query.limit('2'), Query.orderAsc('n')]), { ids: ['alice1', 'alice2'] });
  assert.deepEqual(await aliceLists(w, [Query.offset(Number.MAX_SAFE_INTEGER)]), { ids: [] });
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

test('sql: malformed, JSON-breaking and oversized queries on the wire are clean 400s', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const path = `/databases/${w.db}/collections/notes/documents`;
  const list = (queries) =>
    raw(`${path}?${queries.map((q, i) => `queries[${i}]=${encodeURIComponent(q)}`).join('&')}`, { headers: sessionHeaders(w.alice) });
  const deep = (levels) => {
    let q = { method: 'equal', attribute: 'owner', values: ['alice'] };
    for (let i = 0; i < levels; i++) q = { method: 'or', values: [q, { method: 'equal', attribute: 'owner', values: ['x'] }] };
    return JSON.stringify(q);
  };
  const cases = {
    'unterminated JSON': '{"method":"equal","attribute":"text","values":["x"]',
    'a quote closing the string early': '{"method":"equal","attribute":"text","values":["x"]}"); DROP TABLE users; --',
    'a method with SQL': '{"method":"equal\\"); DROP TABLE users; --","attribute":"text","values":["x"]}',
    'an unknown method': '{"method":"raw","attribute":"text","values":["1=1"]}',
    'a method that is not a string': '{"method":["equal"],"attribute":"text","values":["x"]}',
    'an attribute that is an object': '{"method":"equal","attribute":{"$ne":null},"values":["x"]}',
    'values that are not an array': '{"method":"equal","attribute":"text","values":"\' OR 1=1"}',
    'values holding an object': '{"method":"equal","attribute":"text","values":[{"$gt":""}]}',
    'values holding an array': '{"method":"equal","attribute":"text","values":[["x","y"]]}',
    'a number': '42',
    'a string': '"equal(text, x)"',
    'null': 'null',
    'an empty query': '',
    'a legacy string query': 'equal("text", ["x"])',
    'or without sub-queries': '{"method":"or","values":[]}',
    'or holding a limit': '{"method":"or","values":[{"method":"limit","values":[1]},{"method":"equal","attribute":"owner","values":["x"]}]}',
    'or holding strings': '{"method":"or","values":["1=1","1=1"]}',
    'nested too deep': deep(6),
    'a query over 4096 characters': JSON.stringify({ method: 'equal', attribute: 'text', values: ['x'.repeat(4100)] }),
    'over 500 values': JSON.stringify({ method: 'equal', attribute: 'text', values: Array.from({ length: 501 }, (_, i) => `v${i}`) }),
  };
  for (const [what, q] of Object.entries(cases)) {
    const res = await list([q]);
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    // A document list parses its queries as Appwrite does, in the database layer
    // (general_query_invalid); only the parameter's own bound (4096 characters) is an argument error.
    assert.equal(res.json.type, what.includes('4096') ? 'general_argument_invalid' : 'general_query_invalid', what);
    assert.ok(!res.text.includes('bob'), what);
  }
  // Keys a query does not have are ignored, never interpreted.
  const extra = await list(['{"method":"equal","attribute":"owner","values":["bob"],"__proto__":{"method":"raw"},"sql":"1=1","scope":null}']);
  assert.equal(extra.status, 200, extra.text);
  assert.deepEqual(extra.json.documents, []);
  const tooMany = await list(Array.from({ length: 101 }, () => '{"method":"equal","attribute":"owner","values":["alice"]}'));
  assertAppwriteError(assert, tooMany, 400, 'general_argument_invalid');
  // Five levels of or/and are allowed and stay inside the scope.
  const five = await list([deep(5)]);
  assert.equal(five.status, 200, five.text);
  assert.deepEqual(five.json.documents.map((d) => d.$id).sort(), w.docs.alice);
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

test('sql: injection through ids, attribute and index keys, enum elements and defaults is refused or stored literally', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const admin = new node.Databases(adminClient());
  const asAlice = new node.Databases(w.alice.client);
  const bad = ["x' OR '1'='1", 'x"; DROP TABLE users; --', 'a;b', '../notes', 'notes/../canary', 'x y', '_x', '-x', "x'", 'x"', 'x)', 'x\u0000', 'x'.repeat(37), '%27'];
  for (const id of bad) {
    const what = JSON.stringify(id);
    await rejectsWith(assert, asAlice.createDocument({ databaseId: w.db, collectionId: 'notes', documentId: id, data: { owner: 'alice' } }), 400, 'general_argument_invalid');
    await rejectsWith(assert, admin.createDocument({ databaseId: w.db, collectionId: 'notes', documentId: id, data: { owner: 'alice' } }), 400, 'general_argument_invalid');
    await rejectsWith(assert, admin.createCollection({ databaseId: w.db, collectionId: id, name: 'x' }), 400, 'general_argument_invalid');
    await rejectsWith(assert, admin.create({ databaseId: id, name: 'x' }), 400, 'general_argument_invalid');
    await rejectsWith(assert, admin.createStringAttribute({ databaseId: w.db, collectionId: 'canary', key: id, size: 8, required: false }), 400, 'general_argument_invalid');
    await rejectsWith(assert, admin.createIndex({ databaseId: w.db, collectionId: 'canary', key: id, type: 'key', attributes: ['v'] }), 400, 'general_argument_invalid');
    // In paths, such ids find nothing (the SDK encodes them as a browser would).
    const got = await outcome(asAlice.getDocument({ databaseId: w.db, collectionId: 'notes', documentId: id }));
    assert.match(got, /^(404 document_not_found|400 general_argument_invalid|404 general_route_not_found)$/, `get ${what}`);
    const list = await outcome(asAlice.listDocuments({ databaseId: w.db, collectionId: id }));
    assert.match(list, /^(404 collection_not_found|400 general_argument_invalid|404 general_route_not_found)$/, `list ${what}`);
    assert.notEqual(await outcome(asAlice.listDocuments({ databaseId: id, collectionId: 'notes' })), 'ok', `database ${what}`);
  }
  // Index definitions: attributes must exist, orders are ASC or DESC.
  await rejectsWith(assert, admin.createIndex({ databaseId: w.db, collectionId: 'canary', key: uid('i'), type: 'key', attributes: ['v" DESC); DROP TABLE users; --'] }), 400, 'attribute_unknown');
  await rejectsWith(assert, admin.createIndex({ databaseId: w.db, collectionId: 'canary', key: uid('i'), type: 'key', attributes: ['v'], orders: ['ASC); DROP TABLE users; --'] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, admin.createIndex({ databaseId: w.db, collectionId: 'canary', key: uid('i'), type: 'sql', attributes: ['v'] }), 400, 'index_invalid');
  // Values, enum elements and defaults are stored and read back exactly as sent.
  const c = uid('lit');
  await admin.createCollection({ databaseId: w.db, collectionId: c, name: c, permissions: ['read("any")', 'create("users")'] });
  const evil = "'); DROP TABLE users; -- \" ` \\ %_ \u2028";
  await admin.createStringAttribute({ databaseId: w.db, collectionId: c, key: 's', size: 128, required: false });
  await admin.createDocument({ databaseId: w.db, collectionId: c, documentId: 'before', data: { s: evil } });
  await admin.createStringAttribute({ databaseId: w.db, collectionId: c, key: 'd', size: 128, required: false, xdefault: evil });
  await admin.createEnumAttribute({ databaseId: w.db, collectionId: c, key: 'e', elements: [evil, 'plain'], required: false });
  const made = await admin.createDocument({ databaseId: w.db, collectionId: c, documentId: 'after', data: { s: evil, e: evil } });
  assert.equal(made.s, evil);
  assert.equal(made.d, evil, 'a default is a value, not SQL');
  assert.equal(made.e, evil);
  const filled = await admin.getDocument({ databaseId: w.db, collectionId: c, documentId: 'before' });
  assert.equal(filled.d, evil, 'existing documents take the default literally');
  const found = await admin.listDocuments({ databaseId: w.db, collectionId: c, queries: [node.Query.equal('d', [evil]), node.Query.equal('e', [evil])] });
  assert.deepEqual(found.documents.map((d) => d.$id), ['after']);
  await rejectsWith(assert, admin.createDocument({ databaseId: w.db, collectionId: c, documentId: uid('d'), data: { e: "plain' OR '1'='1" } }), 400, 'document_invalid_structure');
  // Data keys must be attributes: unknown and internal column names are structure errors.
  for (const key of ['s" = (SELECT secret_hash FROM sessions) --', 's = 1', '_permissions', '_seq', '_id', 'rowid', 'S ']) {
    await rejectsWith(assert, asAlice.createDocument({ databaseId: w.db, collectionId: c, documentId: uid('d'), data: { s: 'x', [key]: 'x' } }), 400, 'document_invalid_structure');
  }
  assert.equal((await admin.listDocuments({ databaseId: w.db, collectionId: c })).total, 2, 'only the two documents above exist');
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

test('sql: bulk updates and deletes with injected queries change nothing', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const admin = new node.Databases(adminClient());
  const { Query } = node;
  for (const queries of [
    [Query.equal('owner', ["nobody' OR '1'='1"])],
    [Query.equal('text', ["' OR 1=1 --"])],
    [Query.startsWith('text', '%')],
  ]) {
    assert.equal((await admin.deleteDocuments({ databaseId: w.db, collectionId: 'notes', queries })).total, 0);
    assert.equal((await admin.updateDocuments({ databaseId: w.db, collectionId: 'notes', data: { text: 'pwned' }, queries })).total, 0);
  }
  for (const queries of [[Query.equal('owner" OR 1=1 --', ['x'])], [Query.limit('1; DROP TABLE users')], ['{"method":"equal"']]) {
    await rejectsWith(assert, admin.deleteDocuments({ databaseId: w.db, collectionId: 'notes', queries }), 400, 'general_argument_invalid');
    await rejectsWith(assert, admin.updateDocuments({ databaseId: w.db, collectionId: 'notes', data: { text: 'pwned' }, queries }), 400, 'general_argument_invalid');
  }
  // Alice's own writes cannot reach Bob's notes through queries either.
  const asAlice = new node.Databases(w.alice.client);
  await rejectsWith(assert, asAlice.deleteDocuments({ databaseId: w.db, collectionId: 'notes', queries: [Query.equal('owner', ['bob'])] }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, asAlice.updateDocuments({ databaseId: w.db, collectionId: 'notes', data: { text: 'pwned' }, queries: [Query.notEqual('owner', 'alice')] }), 401, 'general_unauthorized_scope');
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

test('sql: the same attacks through TablesDB stay inside the caller\'s rows', async () => {
  const w = await notesWorld();
  const before = await snapshot(w.db);
  const t = new node.TablesDB(w.alice.client);
  const { Query } = node;
  for (const p of INJECTIONS) {
    for (const queries of [[Query.equal('text', [p])], [Query.search('text', p)], [Query.notEqual('owner', p)], [Query.orderDesc(p)], [Query.select([p])]]) {
      const got = await outcome(t.listRows({ databaseId: w.db, tableId: 'notes', queries }).then((r) => {
        for (const row of r.rows) assert.ok(w.docs.alice.includes(row.$id), `${JSON.stringify(p)} returned ${row.$id}`);
      }));
      assert.match(got, /^(ok|400 general_query_invalid)$/, JSON.stringify(p));
    }
  }
  await rejectsWith(assert, t.getRow({ databaseId: w.db, tableId: 'notes', rowId: 'bob1' }), 404, 'row_not_found');
  assert.deepEqual(await snapshot(w.db), before, 'the data is intact');
});

// ---------------------------------------------------------------------------------------------
// c. Self-granted roles
// ---------------------------------------------------------------------------------------------

/** Alice (the attacker), Bob with a team he owns and a document, Carol a mere viewer in it. */
async function rolesWorld() {
  const admin = adminClient();
  const [alice, bob, carol] = await Promise.all([userClient({ name: 'Alice' }), userClient({ name: 'Bob' }), userClient({ name: 'Carol' })]);
  const team = await new node.Teams(bob.client).create({ teamId: uid('team'), name: 'Bob\'s team' });
  const [ownership] = (await new node.Teams(bob.client).listMemberships({ teamId: team.$id })).memberships;
  const viewer = await new node.Teams(admin).createMembership({ teamId: team.$id, roles: ['viewer'], userId: carol.user.$id });
  await new node.Users(admin).updateLabels({ userId: bob.user.$id, labels: ['admin'] });
  const db = uid('roles');
  const databases = new node.Databases(admin);
  await databases.create({ databaseId: db, name: db });
  await databases.createCollection({
    databaseId: db, collectionId: 'notes', name: 'notes', permissions: ['create("users")', 'create("guests")'], documentSecurity: true,
    attributes: [{ key: 'text', type: 'string', size: 64, required: false }],
  });
  const bobs = await new node.Databases(bob.client).createDocument({
    databaseId: db, collectionId: 'notes', documentId: 'bobs', data: { text: 'bob only' }, permissions: [`read("team:${team.$id}")`, `update("user:${bob.user.$id}")`],
  });
  // Roles Alice does not hold, each a kind a permission can name.
  const unheld = [
    `team:${team.$id}`, `team:${team.$id}/owner`, `team:${team.$id}/viewer`, `member:${ownership.$id}`, `member:${viewer.$id}`,
    `user:${bob.user.$id}`, `user:${bob.user.$id}/unverified`, 'label:admin', 'users/verified', 'guests',
  ];
  return { admin, alice, bob, carol, team, ownership, viewer, db, bobs, unheld };
}

test('roles: a user cannot grant a role it lacks on a document, by permissions, data or update, nor write over another\'s', async () => {
  const w = await rolesWorld();
  const asAlice = new node.Databases(w.alice.client);
  const ids = { databaseId: w.db, collectionId: 'notes' };
  const mine = await asAlice.createDocument({ ...ids, documentId: uid('mine'), data: { text: 'mine' } });
  const own = [...mine.$permissions].sort();
  for (const role of w.unheld) {
    for (const permission of [`read("${role}")`, `update("${role}")`, `delete("${role}")`, `write("${role}")`]) {
      await assert.rejects(asAlice.createDocument({ ...ids, documentId: uid('x'), data: { text: 'x' }, permissions: [permission] }), (e) => {
        assert.equal(e.code, 401, permission);
        assert.equal(e.type, 'user_unauthorized', permission);
        assert.match(e.message, /^Permissions must be one of: \(/, permission);
        assert.ok(e.message.includes(`user:${w.alice.user.$id}`) && !e.message.includes(`user:${w.bob.user.$id},`));
        return true;
      });
    }
    await rejectsWith(assert, asAlice.updateDocument({ ...ids, documentId: mine.$id, permissions: [...own, `read("${role}")`] }), 401, 'user_unauthorized');
  }
  // `$permissions` inside the data is no back door: it is ignored, as every `$` key is.
  const sneaky = await asAlice.createDocument({
    ...ids, documentId: uid('sneaky'),
    data: { text: 'x', $permissions: [`read("user:${w.bob.user.$id}")`, 'read("any")'], $collectionId: 'other', $databaseId: 'other', $sequence: '1', $createdAt: '2000-01-01T00:00:00.000+00:00' },
  });
  assert.deepEqual([...sneaky.$permissions].sort(), own);
  assert.equal(sneaky.$collectionId, 'notes');
  assert.notEqual(sneaky.$sequence, '1');
  assert.notEqual(sneaky.$createdAt, '2000-01-01T00:00:00.000+00:00');
  await rejectsWith(assert, new node.Databases(w.bob.client).getDocument({ ...ids, documentId: sneaky.$id }), 404, 'document_not_found');
  // Another user's document: neither readable, nor replaceable by upsert, nor taken by its id.
  await rejectsWith(assert, asAlice.getDocument({ ...ids, documentId: 'bobs' }), 404, 'document_not_found');
  await rejectsWith(assert, asAlice.updateDocument({ ...ids, documentId: 'bobs', data: { text: 'pwned' } }), 401, 'user_unauthorized');
  await rejectsWith(assert, asAlice.upsertDocument({ ...ids, documentId: 'bobs', data: { text: 'pwned' }, permissions: [`read("user:${w.alice.user.$id}")`] }), 401, 'user_unauthorized');
  await rejectsWith(assert, asAlice.createDocument({ ...ids, documentId: 'bobs', data: { text: 'pwned' } }), 409, 'document_already_exists');
  await rejectsWith(assert, asAlice.deleteDocument({ ...ids, documentId: 'bobs' }), 401, 'user_unauthorized');
  // A guest may grant neither users nor a user.
  const asGuest = new node.Databases(guest());
  for (const role of ['users', `user:${w.bob.user.$id}`, 'label:admin', `team:${w.team.$id}`]) {
    await rejectsWith(assert, asGuest.createDocument({ ...ids, documentId: uid('g'), data: { text: 'g' }, permissions: [`read("${role}")`] }), 401, 'user_unauthorized');
  }
  // Where only users may create, a guest may not, whatever it grants.
  const usersOnly = uid('users');
  await new node.Databases(w.admin).createCollection({ databaseId: w.db, collectionId: usersOnly, name: usersOnly, permissions: ['create("users")'], attributes: [{ key: 'text', type: 'string', size: 8, required: false }] });
  for (const permissions of [undefined, ['read("any")'], ['read("guests")']]) {
    await rejectsWith(assert, asGuest.createDocument({ databaseId: w.db, collectionId: usersOnly, documentId: uid('g'), data: { text: 'g' }, permissions }), 401, 'user_unauthorized');
  }
  assert.equal((await new node.Databases(w.admin).listDocuments({ databaseId: w.db, collectionId: usersOnly })).total, 0);
  // What the key sees: Bob's document as he made it, and none of the refused documents.
  const theirs = await new node.Databases(w.admin).getDocument({ ...ids, documentId: 'bobs' });
  assert.equal(theirs.text, 'bob only');
  assert.deepEqual(theirs.$permissions, w.bobs.$permissions);
  assert.equal((await new node.Databases(w.admin).listDocuments(ids)).total, 3, "Bob's, Alice's two");
  assert.deepEqual([...(await asAlice.getDocument({ ...ids, documentId: mine.$id })).$permissions].sort(), own, 'refused grants changed nothing');
});

test('roles: a user cannot upload a file granting a role it lacks, nor touch or overwrite another\'s file', async () => {
  const w = await rolesWorld();
  const admin = new node.Storage(w.admin);
  const bucketId = uid('b');
  await admin.createBucket({ bucketId, name: bucketId, fileSecurity: true, permissions: ['create("users")'] });
  const asAlice = new node.Storage(w.alice.client);
  const bobsBytes = Buffer.from('bob secret bytes');
  const bobs = await new node.Storage(w.bob.client).createFile({ bucketId, fileId: uid('f'), file: InputFile.fromBuffer(bobsBytes, 'bob.txt') });
  const mine = await asAlice.createFile({ bucketId, fileId: uid('f'), file: InputFile.fromBuffer(Buffer.from('alice'), 'a.txt') });
  for (const role of w.unheld) {
    await rejectsWith(assert, asAlice.createFile({ bucketId, fileId: uid('f'), file: InputFile.fromBuffer(Buffer.from('x'), 'x.txt'), permissions: [`read("${role}")`] }), 401, 'user_unauthorized');
    await rejectsWith(assert, asAlice.updateFile({ bucketId, fileId: mine.$id, permissions: [...mine.$permissions, `update("${role}")`] }), 401, 'user_unauthorized');
  }
  const asGuest = new node.Storage(guest());
  for (const permissions of [undefined, ['read("any")']]) {
    await rejectsWith(assert, asGuest.createFile({ bucketId, fileId: uid('f'), file: InputFile.fromBuffer(Buffer.from('g'), 'g.txt'), permissions }), 401, 'user_unauthorized');
  }
  await rejectsWith(assert, asAlice.getFile({ bucketId, fileId: bobs.$id }), 404, 'storage_file_not_found');
  await rejectsWith(assert, asAlice.updateFile({ bucketId, fileId: bobs.$id, name: 'pwned', permissions: [`read("user:${w.alice.user.$id}")`] }), 404, 'storage_file_not_found');
  await rejectsWith(assert, asAlice.deleteFile({ bucketId, fileId: bobs.$id }), 404, 'storage_file_not_found');
  await rejectsWith(assert, asAlice.getFileDownload({ bucketId, fileId: bobs.$id }), 404, 'storage_file_not_found');
  // Re-creating a finished file by its id, whole or as a chunk, is refused and leaks nothing.
  await rejectsWith(assert, asAlice.createFile({ bucketId, fileId: bobs.$id, file: InputFile.fromBuffer(Buffer.from('alice bytes!!!!!'), 'a.txt') }), 409, 'storage_file_already_exists');
  const form = new FormData();
  form.append('fileId', bobs.$id);
  form.append('file', new Blob([Buffer.from('alice bytes!!!!!')]), 'a.txt');
  const chunk = await raw(`/storage/buckets/${bucketId}/files`, {
    method: 'POST', body: form, headers: { ...sessionHeaders(w.alice), 'content-range': `bytes 0-15/16`, 'x-appwrite-id': bobs.$id },
  });
  assertAppwriteError(assert, chunk, 409, 'storage_file_already_exists');
  assert.ok(!chunk.text.includes('bob.txt'));
  const still = await admin.getFile({ bucketId, fileId: bobs.$id });
  assert.equal(still.name, 'bob.txt');
  assert.deepEqual(still.$permissions, bobs.$permissions);
  assert.ok(Buffer.from(await admin.getFileDownload({ bucketId, fileId: bobs.$id })).equals(bobsBytes), "Bob's bytes are his");
  assert.equal((await admin.listFiles({ bucketId })).total, 2);
});

test('roles: a transaction carries no write past its caller\'s permissions and is invisible to others', async () => {
  const w = await rolesWorld();
  const asAlice = new node.Databases(w.alice.client);
  const ids = { databaseId: w.db, collectionId: 'notes' };
  const tx = await asAlice.createTransaction({ ttl: 60 });
  // Staging answers only what Alice sent: nothing of Bob's document.
  const staged = await asAlice.updateDocument({ ...ids, documentId: 'bobs', data: { text: 'pwned' }, transactionId: tx.$id });
  assert.ok(!JSON.stringify(staged).includes('bob only'));
  await asAlice.createOperations({ transactionId: tx.$id, operations: [{ action: 'delete', ...ids, documentId: 'bobs' }] });
  const asBob = new node.Databases(w.bob.client);
  await rejectsWith(assert, asBob.getTransaction({ transactionId: tx.$id }), 404, 'transaction_not_found');
  await rejectsWith(assert, asBob.updateTransaction({ transactionId: tx.$id, commit: true }), 404, 'transaction_not_found');
  await rejectsWith(assert, asAlice.updateTransaction({ transactionId: tx.$id, commit: true }), 401, 'user_unauthorized');
  const theirs = await new node.Databases(w.admin).getDocument({ ...ids, documentId: 'bobs' });
  assert.equal(theirs.text, 'bob only');
});

test('roles: a user cannot join, take over or promote itself in a team', async () => {
  const w = await rolesWorld();
  const asAlice = new node.Teams(w.alice.client);
  const team = w.team.$id;
  // An outsider sees no team at all. (Client invitations count against an abuse limit per
  // address, 10 an hour, shared with the rest of the suite: one attempt each here.)
  await rejectsWith(assert, asAlice.createMembership({ teamId: team, roles: ['owner'], userId: w.alice.user.$id }), 404, 'team_not_found');
  await rejectsWith(assert, asAlice.updateMembership({ teamId: team, membershipId: w.ownership.$id, roles: ['viewer'] }), 404, 'team_not_found');
  await rejectsWith(assert, asAlice.deleteMembership({ teamId: team, membershipId: w.ownership.$id }), 404, 'team_not_found');
  await rejectsWith(assert, asAlice.updateName({ teamId: team, name: 'mine' }), 404, 'team_not_found');
  // Accepting someone else's membership with a guessed secret.
  for (const secret of ['x', 'a'.repeat(64), "' OR '1'='1"]) {
    await rejectsWith(assert, asAlice.updateMembershipStatus({ teamId: team, membershipId: w.viewer.$id, userId: w.alice.user.$id, secret }), 401, 'team_invalid_secret');
  }
  // A viewer may neither promote itself nor bring others in.
  const asCarol = new node.Teams(w.carol.client);
  await rejectsWith(assert, asCarol.updateMembership({ teamId: team, membershipId: w.viewer.$id, roles: ['owner'] }), 401, 'user_unauthorized');
  await rejectsWith(assert, asCarol.updateMembership({ teamId: team, membershipId: w.ownership.$id, roles: ['viewer'] }), 401, 'user_unauthorized');
  await rejectsWith(assert, asCarol.createMembership({ teamId: team, roles: ['owner'], email: w.alice.email, url: 'http://localhost/join' }), 401, 'user_unauthorized');
  await rejectsWith(assert, asCarol.updateMembershipStatus({ teamId: team, membershipId: w.viewer.$id, userId: w.carol.user.$id, secret: 'x' }), 401, 'team_invalid_secret');
  // As the server sees it: nothing changed.
  const memberships = await new node.Teams(w.admin).listMemberships({ teamId: team });
  assert.deepEqual(memberships.memberships.map((m) => [m.userId, [...m.roles].sort()]).sort(), [[w.bob.user.$id, ['owner']], [w.carol.user.$id, ['viewer']]].sort());
  assert.ok(!(await rolesFor(sessionHeaders(w.alice))).some((r) => r.includes(team)));
  assert.ok(!(await rolesFor(sessionHeaders(w.carol))).includes(`team:${team}/owner`));
});

test('roles: a user cannot change its own labels, status or verification, impersonate, or grant itself server scopes', async () => {
  const w = await rolesWorld();
  const me = w.alice.user.$id;
  const asAlice = w.alice.client;
  const users = new node.Users(asAlice);
  await rejectsWith(assert, users.updateLabels({ userId: me, labels: ['admin'] }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, users.updateEmailVerification({ userId: me, emailVerification: true }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, users.updateStatus({ userId: w.bob.user.$id, status: false }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, users.get({ userId: w.bob.user.$id }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Project(asAlice).createKey({ keyId: uid('k'), name: 'mine', scopes: ['users.write'] }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Project(asAlice).listKeys(), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Databases(asAlice).create({ databaseId: uid('db'), name: 'mine' }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Databases(asAlice).updateCollection({ databaseId: w.db, collectionId: 'notes', name: 'notes', permissions: ['read("any")'] }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Storage(asAlice).createBucket({ bucketId: uid('b'), name: 'mine' }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Functions(asAlice).create({ functionId: uid('f'), name: 'mine', runtime: 'wasm-wasip1' }), 401, 'general_unauthorized_scope');
  // What a user may write about itself grants nothing.
  const account = new node.Account(asAlice);
  await account.updatePrefs({ prefs: { labels: ['admin'], roles: ['any', 'label:admin'], scopes: ['users.write'] } });
  await account.updateName({ name: 'label:admin' });
  const user = await new node.Users(w.admin).get({ userId: me });
  assert.deepEqual(user.labels, []);
  assert.equal(user.emailVerification, false);
  // Headers that pick another identity in some setups pick nothing here.
  const headers = {
    ...sessionHeaders(w.alice),
    'x-appwrite-impersonate-user-id': w.bob.user.$id,
    'x-appwrite-impersonate-user-email': w.bob.email,
    'x-appwrite-mode': 'admin',
    'x-appwrite-user-id': w.bob.user.$id,
    'x-appwrite-role': 'label:admin',
  };
  const roles = await rolesFor(headers);
  assert.ok(roles.includes(`user:${me}`));
  for (const r of roles) assert.ok(!r.includes(w.bob.user.$id) && r !== 'label:admin' && !r.startsWith('team:'), `Alice holds ${r}`);
  const got = await raw('/account', { headers });
  assert.equal(got.status, 200);
  assert.equal(got.json.$id, me);
  assertAppwriteError(assert, await raw('/users', { headers }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Databases(asAlice).getDocument({ databaseId: w.db, collectionId: 'notes', documentId: 'bobs' }), 404, 'document_not_found');
});

test('roles: a user cannot subscribe another user\'s target, drop another\'s subscription, or send messages', async () => {
  const [alice, bob] = await Promise.all([userClient({ name: 'Alice' }), userClient({ name: 'Bob' })]);
  const admin = new node.Messaging(adminClient());
  const topic = await admin.createTopic({ topicId: uid('t'), name: 'news', subscribe: ['users'] });
  const targetOf = async (who) => (await new node.Users(adminClient()).listTargets({ userId: who.user.$id })).targets[0].$id;
  const [aliceTarget, bobTarget] = [await targetOf(alice), await targetOf(bob)];
  const asAlice = new node.Messaging(alice.client);
  await rejectsWith(assert, asAlice.createSubscriber({ topicId: topic.$id, subscriberId: uid('s'), targetId: bobTarget }), 404, 'user_target_not_found');
  const bobs = await new node.Messaging(bob.client).createSubscriber({ topicId: topic.$id, subscriberId: uid('s'), targetId: bobTarget });
  await rejectsWith(assert, asAlice.deleteSubscriber({ topicId: topic.$id, subscriberId: bobs.$id }), 404, 'subscriber_not_found');
  await asAlice.createSubscriber({ topicId: topic.$id, subscriberId: uid('s'), targetId: aliceTarget });
  const seen = await asAlice.listSubscribers({ topicId: topic.$id });
  assert.deepEqual(seen.subscribers.map((x) => x.targetId), [aliceTarget], 'Alice sees her own subscription only');
  assert.equal(seen.total, 1);
  assert.ok(!JSON.stringify(seen).includes(bob.email));
  await rejectsWith(assert, asAlice.createEmail({ messageId: uid('m'), subject: 'x', content: 'y', topics: [topic.$id] }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, asAlice.listTopics(), 401, 'general_unauthorized_scope');
  assert.deepEqual((await admin.listSubscribers({ topicId: topic.$id })).subscribers.map((x) => x.targetId).sort(), [aliceTarget, bobTarget].sort());
});

// ---------------------------------------------------------------------------------------------
// d. Identity forgery: the runtime's internal headers and the migration proxy's identity
// ---------------------------------------------------------------------------------------------

/** A login over raw HTTP, as a browser would send it, with extra headers. */
const login = (email, password, headers = {}) =>
  raw('/account/sessions/email', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email, password }) });

test('internal headers: a client\'s x-edgewrite-internal-* headers are dropped, so a forged task result cannot log anyone in', async () => {
  // A user imported with an MD5 hash: an attacker holding the leaked hash (but not the
  // password) forges the outcome of the password check the Worker does for the object.
  const password = `imported-${randomBytes(6).toString('hex')}`;
  const hash = createHash('md5').update(password).digest('hex');
  const email = uniqueEmail('md5');
  const victim = await new node.Users(adminClient()).createMD5User({ userId: uid('u'), email, password: hash, name: 'Victim' });
  const wrong = 'not-the-password-1';
  const forgedDone = JSON.stringify([[{ task: 'verify_password', password: wrong, stored: hash, algo: 'md5', options: { type: 'md5' } }, { verified: true }]]);
  const forgedHeaders = {
    'x-edgewrite-internal-done': forgedDone,
    'X-Edgewrite-Internal-Done': forgedDone,
    'x-edgewrite-internal-serve': projectId,
    'x-edgewrite-internal-reply': '1',
  };
  const refused = await login(email, wrong, forgedHeaders);
  assertAppwriteError(assert, refused, 401, 'user_invalid_credentials');
  assert.equal(refused.headers.get('set-cookie'), null, 'no session cookie');
  assert.equal((await new node.Users(adminClient()).listSessions({ userId: victim.$id })).total, 0, 'no session was made');
  // Garbage in the same headers is not read either: the login goes on as if they were absent.
  const garbage = { 'x-edgewrite-internal-done': '{not json', 'x-edgewrite-internal-serve': 'other', 'x-edgewrite-internal-reply': 'garbage' };
  const ok = await login(email, password, garbage);
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.json.userId, victim.$id);
  for (const [name] of ok.headers) assert.ok(!name.startsWith('x-edgewrite-internal-'), `answer header ${name}`);

  // `serve` naming another project does not move a request there: the key's project decides.
  const userId = uid('u');
  const made = await raw('/users', {
    method: 'POST', key: true, headers: { 'content-type': 'application/json', 'x-edgewrite-internal-serve': 'other' },
    body: JSON.stringify({ userId, email: uniqueEmail('serve'), password: 'correct-horse-9' }),
  });
  assert.equal(made.status, 201, made.text);
  assert.equal((await new node.Users(adminClient()).get({ userId })).$id, userId, 'the user is in the project the request named');
  // A session of this project, sent with `serve` naming it, is still nobody in another project;
  // and `serve` naming another project does not take it away from its own.
  const { secret } = await new node.Account(adminClient()).createEmailPasswordSession({ email, password });
  const here = await raw('/account', { headers: { 'x-appwrite-session': secret, 'x-edgewrite-internal-serve': 'other' } });
  assert.equal(here.json.$id, victim.$id);
  const other = await raw('/account', { project: 'other', headers: { 'x-appwrite-session': secret, 'x-edgewrite-internal-serve': projectId } });
  if (spin) assertAppwriteError(assert, other, 404, 'project_not_found');
  else assertAppwriteError(assert, other, 401, 'general_unauthorized_scope');
  // A `reply` marker on a request does not make the answer a task list.
  const reply = await raw('/account', { headers: { 'x-edgewrite-internal-reply': '1' } });
  assertAppwriteError(assert, reply, 401, 'general_unauthorized_scope');
});

test('internal headers: method overrides are not honoured, so a GET cannot delete', async () => {
  const alice = await userClient();
  const admin = new node.Databases(adminClient());
  const db = uid('override');
  await admin.create({ databaseId: db, name: db });
  await admin.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: ['create("users")'], documentSecurity: true, attributes: [{ key: 't', type: 'string', size: 8, required: false }] });
  const doc = await new node.Databases(alice.client).createDocument({ databaseId: db, collectionId: 'c', documentId: 'd', data: { t: 'kept' } });
  const path = `/databases/${db}/collections/c/documents/${doc.$id}`;
  for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
    const res = await raw(path, { headers: { ...sessionHeaders(alice), [header]: 'DELETE' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.t, 'kept');
  }
  const query = await raw(`${path}?_method=DELETE`, { headers: sessionHeaders(alice) });
  assert.equal(query.status, 200, query.text);
  assert.equal((await admin.getDocument({ databaseId: db, collectionId: 'c', documentId: 'd' })).t, 'kept');
});

// The proxy: a second edgewrite started by the test command in front of a legacy stand-in (as in
// proxy.test.mjs), with EDGEWRITE_UPSTREAM_SECRET set.
const proxy = process.env.EDGEWRITE_PROXY_ENDPOINT;
const upstreamSecret = process.env.EDGEWRITE_TEST_UPSTREAM_SECRET;
const proxySkip = !proxy && 'the test command starts the proxy instance for proxy.test.mjs (name it too)';
const legacySeen = [];
let legacy;
if (proxy) {
  legacy = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      legacySeen.push({ url: req.url, headers: req.headers, raw: req.rawHeaders });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"legacy":true}');
    });
  });
  await new Promise((resolve) => legacy.listen(Number(process.env.EDGEWRITE_TEST_LEGACY_PORT), '127.0.0.1', resolve));
}
after(() => legacy?.close());

/** What the legacy backend would accept: HS256 under the shared secret, not expired. */
function verifiedIdentity(token) {
  const [h, p, s] = (token ?? '').split('.');
  const mac = createHmac('sha256', upstreamSecret).update(`${h}.${p}`).digest('base64url');
  if (!s || s !== mac) return null;
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  return claims.exp * 1000 > Date.now() ? claims : null;
}

/** One request through the proxy with node:http (repeated headers, exact names), and what the legacy side got. */
function throughProxy(path, headers) {
  const before = legacySeen.length;
  return new Promise((resolve, reject) => {
    const req = http.request(`${proxy.replace(/\/v1$/, '')}${path}`, { headers: { 'x-appwrite-project': projectId, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, seen: legacySeen.slice(before) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('proxy: a client\'s own X-Edgewrite-Identity is never forwarded; the legacy side sees only what edgewrite verified', { skip: proxySkip }, async () => {
  const admin = new node.Client().setEndpoint(proxy).setProject(projectId).setKey(apiKey);
  const account = async (name) => {
    const email = uniqueEmail(name);
    const user = await new node.Users(admin).create({ userId: node.ID.unique(), email, password: 'correct-horse-9', name });
    const session = await new node.Account(admin).createEmailPasswordSession({ email, password: 'correct-horse-9' });
    return { user, session };
  };
  const alice = await account('alice');
  const bob = await account('bob');
  const now = Math.floor(Date.now() / 1000);
  const claimsOfBob = { iss: 'edgewrite', project: projectId, kind: 'user', sub: bob.user.$id, sessionId: bob.session.$id, roles: ['any', 'users', `user:${bob.user.$id}`], iat: now, exp: now + 300 };
  const claimsOfKey = { iss: 'edgewrite', project: projectId, kind: 'key', keyId: 'root', roles: [], iat: now, exp: now + 300 };
  const forgeries = [forgeJwt(claimsOfBob), forgeJwt(claimsOfKey), forgeJwt(claimsOfKey, { header: { alg: 'none' }, signature: '' }), 'forged'];
  const cases = [
    ['a guest with a forged identity', {}, 'guest', null],
    ['Alice with an identity claiming Bob', { 'x-appwrite-session': alice.session.secret }, 'user', alice.user.$id],
    ['a forged session for Bob', { 'x-appwrite-session': Buffer.from(JSON.stringify({ id: bob.user.$id, secret: 'f'.repeat(64) })).toString('base64') }, 'guest', null],
    ['a forged JWT for Bob', { 'x-appwrite-jwt': forgeJwt({ userId: bob.user.$id, sessionId: bob.session.$id, iat: now, exp: now + 900 }) }, 'guest', null],
    ['a made-up key', { 'x-appwrite-key': `standard_${'0'.repeat(256)}` }, 'guest', null],
  ];
  for (const [what, credentials, kind, sub] of cases) {
    for (const forged of forgeries) {
      for (const name of ['X-Edgewrite-Identity', 'x-edgewrite-identity']) {
        const { status, seen } = await throughProxy(`/legacy/whoami?case=${encodeURIComponent(what)}`, { ...credentials, [name]: [forged, forged] });
        assert.equal(status, 200, what);
        assert.equal(seen.length, 1, `${what}: forwarded once`);
        const sent = seen[0].raw.filter((_, i) => i % 2 === 0 && seen[0].raw[i].toLowerCase() === 'x-edgewrite-identity');
        assert.equal(sent.length, 1, `${what}: exactly one identity header`);
        assert.ok(!seen[0].raw.includes(forged), `${what}: the forged value is gone`);
        const identity = verifiedIdentity(seen[0].headers['x-edgewrite-identity']);
        assert.ok(identity, `${what}: the identity verifies with the shared secret`);
        assert.equal(identity.kind, kind, what);
        assert.equal(identity.sub || null, sub, what);
        assert.ok(identity.exp - identity.iat <= 300, 'valid five minutes at most');
        assert.ok(!JSON.stringify(identity).includes(bob.user.$id), `${what}: nothing of Bob's`);
      }
    }
  }
});

test('proxy: a client\'s forwarding headers are replaced, not passed on as the caller\'s address or host', { skip: proxySkip }, async () => {
  // The suite's deployment trusts X-Forwarded-For as a proxy in front appends to it: what the
  // client wrote comes first, the proxy's entry (the address it saw) last.
  const spoofed = {
    'x-forwarded-for': '6.6.6.6, 198.51.100.77',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'gopher',
    forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
    'x-real-ip': '6.6.6.6',
    'true-client-ip': '6.6.6.6',
    'x-client-ip': '6.6.6.6',
  };
  const { status, seen } = await throughProxy('/legacy/address', spoofed);
  assert.equal(status, 200);
  const got = seen[0].headers;
  for (const name of ['forwarded', 'x-real-ip', 'true-client-ip', 'x-client-ip']) assert.equal(got[name], undefined, name);
  assert.equal(got['x-forwarded-for'], '198.51.100.77', 'only the address the trusted proxy vouched for');
  assert.notEqual(got['x-forwarded-host'], 'evil.example');
  assert.match(got['x-forwarded-proto'], /^https?$/);
  assert.equal(verifiedIdentity(got['x-edgewrite-identity']).kind, 'guest');
});

// ---------------------------------------------------------------------------------------------
// e. Functions: fetch to loopback and internal addresses; forged execution headers
// ---------------------------------------------------------------------------------------------

const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release';

/** A function running example module `name`, deployed and active. */
async function deployedFunction(name, options = {}) {
  const functions = new node.Functions(adminClient());
  const functionId = uid('f');
  await functions.create({ functionId, name, runtime: 'wasm-wasip1', execute: ['any'], ...options });
  const code = InputFile.fromBuffer(readFileSync(join(examples, `${name}.wasm`)), `${name}.wasm`);
  const deployment = await functions.createDeployment({ functionId, code, activate: true });
  let ready = deployment;
  for (let i = 0; i < 200 && ['waiting', 'processing'].includes(ready.status); i++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await functions.getDeployment({ functionId, deploymentId: deployment.$id });
  }
  assert.equal(ready.status, 'ready', ready.buildLogs);
  return functionId;
}

test('fetch: a function reaches no loopback, private or metadata address, however the URL spells it', async () => {
  const functionId = await deployedFunction('fetch-elsewhere');
  const functions = new node.Functions(adminClient());
  const { origin, port } = new URL(endpoint);
  const refusedUrls = [
    'http://127.0.0.1:9/secret', 'http://localhost/', 'http://LOCALHOST:9/', 'http://localhost./', 'http://127.1/', 'http://127.0.1/',
    'http://0x7f000001/', 'http://0x7f.0.0.1/', 'http://2130706433/', 'http://017700000001/', 'http://0177.0.0.1/',
    'http://[::1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::]/',
    'http://0.0.0.0/', 'http://0/', 'http://169.254.169.254/latest/meta-data/', 'http://[::ffff:a9fe:a9fe]/', 'http://[fd00:ec2::254]/',
    'http://metadata.google.internal/computeMetadata/v1/', 'http://10.0.0.1/', 'http://172.16.0.1/', 'http://192.168.1.1/',
    // Names that resolve to loopback: refused before any lookup.
    'http://localtest.me/', 'http://127.0.0.1.nip.io/', 'http://spoofed.burpcollaborator.net/',
    // Userinfo, fragments and backslashes that move the host.
    'http://x@127.0.0.1/', 'http://x:y@127.0.0.1:9/', 'http://example.com@127.0.0.1/', 'http://127.0.0.1#@example.com/',
    'http://127.0.0.1\\@example.com/', 'http://127.0.0.1%2f@example.com/', 'http://%31%32%37.0.0.1/', 'http://127\u30020\u30020\u30021/',
    // Schemes: case, others, and none.
    'HTTP://127.0.0.1/', 'hTTps://localhost/', 'ftp://127.0.0.1/', 'gopher://127.0.0.1:6379/_INFO', 'ws://127.0.0.1/', 'file:///etc/passwd',
    'data:text/plain,hi', 'http:/127.0.0.1/', 'http:\\\\127.0.0.1\\', '//127.0.0.1/', '127.0.0.1',
    // The deployment's own host outside its API, and its API under another spelling of the host.
    `${origin}/`, `${origin}/__scheduled`, `http://localhost:${port}/v1/health/version`, `http://[::1]:${port}/v1/health/version`,
    `http://0.0.0.0:${port}/v1/health/version`, `${endpoint}@evil.example/`, `${endpoint}.evil.example/`,
    // Anything not allow-listed.
    'https://example.com/', 'http://127.0.0.1:80/',
  ];
  for (const url of refusedUrls) {
    const execution = await functions.createExecution({ functionId, body: url });
    assert.equal(execution.status, 'completed', `${url}: ${execution.errors}`);
    assert.match(execution.responseBody, /^refused: fetch to .* is not allowed: a function may call its project's API /, url);
  }
  // Dot segments inside the API stay inside it: the pipeline answers, not the network (where
  // `/__scheduled` would run the Cron Trigger).
  for (const url of [`${endpoint}/../__scheduled`, `${endpoint}/../../__scheduled?cron=*`, `${endpoint}/%2e%2e/__scheduled`]) {
    const execution = await functions.createExecution({ functionId, body: url });
    assert.equal(execution.responseBody, 'reached: 404', url);
  }
  // The project's API itself is reachable (here as a guest, so a scope error), so the refusals
  // above are about the addresses.
  const api = await functions.createExecution({ functionId, body: `${endpoint}/databases` });
  assert.equal(api.responseBody, 'reached: 401');
});

test('fetch: a caller cannot forge the headers edgewrite gives an execution (key, user, trigger, event)', async () => {
  const functionId = await deployedFunction('echo');
  const alice = await userClient({ name: 'Alice' });
  const bob = await userClient({ name: 'Bob' });
  const forged = {
    'x-appwrite-key': `standard_${'0'.repeat(256)}`,
    'x-appwrite-user-id': bob.user.$id,
    'X-Appwrite-User-Id': bob.user.$id,
    'x-appwrite-trigger': 'schedule',
    'x-appwrite-event': `users.${bob.user.$id}.create`,
    'x-appwrite-user-jwt': forgeJwt({ userId: bob.user.$id }),
  };
  for (const [who, client, userId] of [['a guest', guest(), undefined], ['Alice', alice.client, alice.user.$id]]) {
    const execution = await new node.Functions(client).createExecution({ functionId, body: 'x', headers: forged });
    assert.equal(execution.status, 'completed', who);
    const seen = JSON.parse(execution.responseBody);
    assert.equal(seen.headers['x-appwrite-user-id'], userId, `${who}: the user is the caller`);
    assert.equal(seen.headers['x-appwrite-trigger'], 'http', who);
    assert.equal(seen.headers['x-appwrite-event'], undefined, who);
    const jwt = seen.headers['x-appwrite-user-jwt'];
    if (userId && jwt) assert.equal(claimsOf(jwt).userId, userId, `${who}: a user JWT is the caller's`);
    else assert.equal(jwt, undefined, `${who}: no user JWT`);
    assert.match(seen.headers['x-appwrite-key'], /^dynamic_/, `${who}: the key is edgewrite's`);
    assert.ok(!execution.responseBody.includes(bob.user.$id), `${who}: nothing of Bob's`);
  }
});

// ---------------------------------------------------------------------------------------------
// f. Other projects' credentials, key scopes and confusion, foreign origins, oversized input,
//    file tokens, realtime handshakes
// ---------------------------------------------------------------------------------------------

test('cross-project: a stored key, a session, a JWT and a function key of one project are nobody in another', async () => {
  const p = new node.Project(adminClient());
  const key = await p.createKey({ keyId: uid('k'), name: 'test only', scopes: ['users.read', 'databases.read'] });
  const alice = await userClient();
  const { jwt } = await new node.Account(alice.client).createJWT();
  const functionId = await deployedFunction('echo', { scopes: ['users.read'] });
  const dynamicKey = JSON.parse((await new node.Functions(adminClient()).createExecution({ functionId, body: '' })).responseBody).headers['x-appwrite-key'];
  assert.match(dynamicKey, /^dynamic_/);
  const inOther = (path, headers) => raw(path, { project: 'other', headers });
  const attempts = [
    ['/users', { 'x-appwrite-key': key.secret }, 401, 'user_unauthorized'],
    ['/databases', { 'x-appwrite-key': key.secret }, 401, 'user_unauthorized'],
    ['/users', { 'x-appwrite-key': dynamicKey }, 401, 'user_unauthorized'],
    ['/account', sessionHeaders(alice), 401, 'general_unauthorized_scope'],
    ['/account', { 'x-appwrite-jwt': jwt }, 401, 'user_jwt_invalid'],
    ['/account', { cookie: `a_session_other=${alice.session.secret}` }, 401, 'general_unauthorized_scope'],
    ['/account', { cookie: `a_session_${projectId}=${alice.session.secret}` }, 401, 'general_unauthorized_scope'],
  ];
  for (const [path, headers, status, type] of attempts) {
    const res = await inOther(path, headers);
    // A Spin app serves one project: there the other project does not exist at all.
    if (spin) assertAppwriteError(assert, res, 404, 'project_not_found');
    else assertAppwriteError(assert, res, status, type);
    assert.ok(!res.text.includes(alice.user.$id), `${path}: nothing of this project`);
  }
  // The project named in the query string does not override the header, in either direction.
  const viaQuery = await raw(`/users?project=other`, { key: false, headers: { 'x-appwrite-key': key.secret } });
  assert.equal(viaQuery.status, 200, 'the header named this project');
  // All of them still work where they belong.
  assert.equal((await raw('/users', { headers: { 'x-appwrite-key': key.secret } })).status, 200);
  assert.equal((await raw('/users', { headers: { 'x-appwrite-key': dynamicKey } })).status, 200);
  assert.equal((await raw('/account', { headers: { 'x-appwrite-jwt': jwt } })).json.$id, alice.user.$id);
  await p.deleteKey({ keyId: key.$id });
});

test('keys: a key reaches only its scopes; JWTs, sessions and edited function keys are no keys', async () => {
  const p = new node.Project(adminClient());
  const key = await p.createKey({ keyId: uid('k'), name: 'reader', scopes: ['databases.read', 'documents.read'] });
  const asKey = new node.Client().setEndpoint(endpoint).setProject(projectId).setKey(key.secret);
  await new node.Databases(asKey).list();
  for (const [what, call] of [
    ['create a database', () => new node.Databases(asKey).create({ databaseId: uid('db'), name: 'x' })],
    ['list users', () => new node.Users(asKey).list()],
    ['list buckets', () => new node.Storage(asKey).listBuckets()],
    ['list functions', () => new node.Functions(asKey).list()],
    ['mint a key', () => new node.Project(asKey).createKey({ keyId: uid('k'), name: 'x', scopes: ['databases.read'] })],
    ['list keys', () => new node.Project(asKey).listKeys()],
  ]) {
    assert.equal(await outcome(call()), '401 general_unauthorized_scope', what);
  }
  const alice = await userClient();
  const { jwt } = await new node.Account(alice.client).createJWT();
  // A function key, leaked by a function that echoes its request.
  const functionId = await deployedFunction('echo', { scopes: ['users.read'] });
  const dynamicKey = JSON.parse((await new node.Functions(adminClient()).createExecution({ functionId, body: '' })).responseBody).headers['x-appwrite-key'];
  assert.equal((await raw('/users', { headers: { 'x-appwrite-key': dynamicKey } })).status, 200, 'the leaked key works within its scopes');
  assertAppwriteError(assert, await raw('/databases', { headers: { 'x-appwrite-key': dynamicKey } }), 401, 'general_unauthorized_scope');
  const [header, , signature] = dynamicKey.slice('dynamic_'.length).split('.');
  const claims = claimsOf(dynamicKey);
  assert.deepEqual(claims.scopes, ['users.read']);
  const wider = { ...claims, scopes: ['users.read', 'users.write', 'databases.write', 'keys.write', 'project.write'] };
  const notKeys = {
    'a JWT': jwt,
    'a JWT as a function key': `dynamic_${jwt}`,
    'a session': alice.session.secret,
    'the key id': key.$id,
    'the prefix alone': 'standard_',
    'dynamic_ alone': 'dynamic_',
    'SQL': "standard_' OR '1'='1",
    'a function key with wider scopes': `dynamic_${header}.${b64url(wider)}.${signature}`,
    'a function key re-signed with a random key': `dynamic_${forgeJwt(wider)}`,
    'a function key, alg none': `dynamic_${forgeJwt(wider, { header: { alg: 'none' }, signature: '' })}`,
    'a function key of another function': `dynamic_${header}.${b64url({ ...claims, functionId: 'other' })}.${signature}`,
  };
  // Refused as an unknown key, or (a value with a `_` where a key type would be, as base64url
  // may have) taken for a key type edgewrite does not issue: a guest.
  for (const [what, value] of Object.entries(notKeys)) {
    const res = await raw('/users', { headers: { 'x-appwrite-key': value } });
    const got = `${res.status} ${res.json.type}`;
    if (got === '401 general_unauthorized_scope') assert.match(res.json.message, /role: guests/, what);
    else assert.equal(got, '401 user_unauthorized', what);
    assert.ok(!res.text.includes(alice.user.$id), what);
  }
  // Nor is a function key a JWT or a session.
  assertAppwriteError(assert, await raw('/account', { headers: { 'x-appwrite-jwt': dynamicKey.slice('dynamic_'.length) } }), 401, 'user_jwt_invalid');
  assertAppwriteError(assert, await raw('/account', { headers: { 'x-appwrite-session': dynamicKey } }), 401, 'general_unauthorized_scope');
  // A key that is not accepted never falls back to the session sent with it: an unknown
  // standard key is refused, a key of a type edgewrite does not issue leaves a guest.
  assertAppwriteError(assert, await raw('/account', { headers: { 'x-appwrite-key': 'standard_nope', ...sessionHeaders(alice) } }), 401, 'user_unauthorized');
  for (const value of [key.secret.toUpperCase(), `secret_${key.secret}`, 'ephemeral_x', 'console_x']) {
    const res = await raw('/account', { headers: { 'x-appwrite-key': value, ...sessionHeaders(alice) } });
    assertAppwriteError(assert, res, 401, 'general_unauthorized_scope');
    assert.match(res.json.message, /role: guests/);
  }
  await p.deleteKey({ keyId: key.$id });
});

test('cors: a foreign origin riding a session cookie is refused before anything changes', async () => {
  const alice = await userClient({ name: 'Alice' });
  const cookie = `a_session_${projectId}=${alice.session.secret}`;
  const origins = [
    'https://evil.example', 'null', 'http://localhost.evil.example', 'http://127.0.0.1.evil.example', 'http://evil-localhost',
    'http://notlocalhost', 'http://localhost.', 'http://localhost:5173@evil.example', 'http://evil.example#localhost', 'file://',
  ];
  for (const origin of origins) {
    for (const [method, path, body] of [
      ['GET', '/account', undefined],
      ['PATCH', '/account/name', JSON.stringify({ name: 'pwned' })],
      ['POST', '/account/jwts', '{}'],
      ['DELETE', '/account/sessions/current', '{}'],
    ]) {
      // text/plain is what a cross-site form or simple fetch may send without a preflight.
      const res = await raw(path, { method, body, headers: { cookie, origin, 'content-type': 'text/plain' } });
      assertAppwriteError(assert, res, 403, 'general_unknown_origin');
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      assert.ok(!res.text.includes(alice.user.$id), origin);
      assert.equal(res.headers.get('set-cookie'), null);
    }
    // A made-up key does not open the door either.
    const keyed = await raw('/account/name', { method: 'PATCH', body: '{"name":"pwned"}', headers: { cookie, origin, 'x-appwrite-key': 'standard_0', 'content-type': 'application/json' } });
    assertAppwriteError(assert, keyed, 403, 'general_unknown_origin');
  }
  const account = await new node.Account(alice.client).get();
  assert.equal(account.name, 'Alice', 'the name is unchanged');
  assert.equal((await new node.Account(alice.client).listSessions()).total, 1, 'the session is alive');
  // The same cookie from an allowed origin works, with the origin echoed.
  const ok = await raw('/account', { headers: { cookie, origin: 'http://localhost:5173' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:5173');
});

test('limits: oversized, streamed and overdeep bodies and arrays are refused with clean 4xx', async () => {
  const alice = await userClient();
  const headers = { ...sessionHeaders(alice), 'content-type': 'application/json' };
  let deep = 'x';
  for (let i = 0; i < 200; i++) deep = { a: deep };
  assertAppwriteError(assert, await raw('/account/prefs', { method: 'PATCH', headers, body: JSON.stringify({ prefs: deep }) }), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/account/prefs', { method: 'PATCH', headers, body: '['.repeat(100_000) }), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/account/prefs', { method: 'PATCH', headers, body: JSON.stringify({ prefs: { a: 'x'.repeat(70_000) } }) }), 400, 'general_argument_invalid');
  // A body past the limit without a Content-Length, as a stream: refused once it passes the limit.
  const mib = new Uint8Array(1024 * 1024);
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 7; i++) controller.enqueue(mib);
      controller.close();
    },
  });
  const streamed = await fetch(`${endpoint}/account/prefs`, { method: 'PATCH', headers: { 'x-appwrite-project': projectId, ...headers }, body: stream, duplex: 'half' });
  assert.equal(streamed.status, 413);
  assert.equal((await streamed.json()).type, 'general_payload_too_large');
  // Array parameters hold at most 100 items.
  const admin = new node.Databases(adminClient());
  const db = uid('lim');
  await admin.create({ databaseId: db, name: db });
  const many = Array.from({ length: 101 }, (_, i) => `read("user:u${i}")`);
  await rejectsWith(assert, admin.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: many }), 400, 'general_argument_invalid');
  assert.deepEqual({ ...(await new node.Account(alice.client).getPrefs()) }, {}, 'nothing was stored');
  assert.equal((await raw('/health/version')).status, 200, 'and the server is fine');
});

test('file tokens: a token opens exactly its file; edited, borrowed and foreign tokens open nothing', async () => {
  const storage = new node.Storage(adminClient());
  const bucketId = uid('b');
  await storage.createBucket({ bucketId, name: bucketId, fileSecurity: true, permissions: [] });
  await storage.createFile({ bucketId, fileId: 'a', file: InputFile.fromBuffer(Buffer.from('file A'), 'a.txt') });
  await storage.createFile({ bucketId, fileId: 'b', file: InputFile.fromBuffer(Buffer.from('file B, private'), 'b.txt') });
  const tokens = new node.Tokens(adminClient());
  const token = await tokens.createFileToken({ bucketId, fileId: 'a' });
  const download = (fileId, secret) => raw(`/storage/buckets/${bucketId}/files/${fileId}/download?token=${encodeURIComponent(secret)}`);
  const opened = await download('a', token.secret);
  assert.equal(opened.status, 200);
  assert.equal(opened.text, 'file A');
  const [header, payload, signature] = token.secret.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  const alice = await userClient();
  const borrowed = {
    'the token of A on B': ['b', token.secret],
    'a token edited to name B': ['b', `${header}.${b64url({ ...claims, resourceId: claims.resourceId.replace(/:a$/, ':b') })}.${signature}`],
    'a token re-signed with a random key': ['b', forgeJwt({ ...claims, resourceId: claims.resourceId.replace(/:a$/, ':b') })],
    'alg none': ['b', forgeJwt({ ...claims, resourceId: claims.resourceId.replace(/:a$/, ':b') }, { header: { alg: 'none' }, signature: '' })],
    'an account JWT': ['a', (await new node.Account(alice.client).createJWT()).jwt],
    'garbage': ['a', 'garbage'],
  };
  for (const [what, [fileId, secret]] of Object.entries(borrowed)) {
    const res = await download(fileId, secret);
    assertAppwriteError(assert, res, 404, 'storage_file_not_found');
    assert.ok(!res.text.includes('private'), what);
  }
  // A deleted token opens nothing any more.
  await tokens.delete({ tokenId: token.$id });
  assertAppwriteError(assert, await download('a', token.secret), 404, 'storage_file_not_found');
});

test('files: an upload never comes back as active content, and its name injects no header', async () => {
  const storage = new node.Storage(adminClient());
  const bucketId = uid('b');
  await storage.createBucket({ bucketId, name: bucketId, permissions: ['read("any")'] });
  const fetchFile = (fileId, kind) => fetch(`${endpoint}/storage/buckets/${bucketId}/files/${fileId}/${kind}?project=${projectId}`);
  const disposition = /^(inline|attachment); filename="[^"\\\r\n]*"; filename\*=UTF-8''[A-Za-z0-9%._~!$&'()*+,=:@-]*$/;
  const active = {
    'evil.svg': '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    'evil.html': '<html><script>alert(1)</script></html>',
    'evil.xhtml': '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    'evil.xml': '<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
    'evil.js': 'alert(1)',
    'image.png': '<html><script>alert(1)</script></html>',
  };
  for (const [name, body] of Object.entries(active)) {
    const file = await storage.createFile({ bucketId, fileId: uid('f'), file: InputFile.fromBuffer(Buffer.from(body), name) });
    const view = await fetchFile(file.$id, 'view');
    assert.equal(view.status, 200, name);
    assert.match(view.headers.get('content-type'), /^text\/plain/, `${name} is viewed as text`);
    const download = await fetchFile(file.$id, 'download');
    assert.match(download.headers.get('content-disposition'), /^attachment;/, `${name} downloads as an attachment`);
    for (const res of [view, download]) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', name);
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'none'/, name);
      assert.match(res.headers.get('content-disposition'), disposition, name);
    }
  }
  // Names that try to end the header, add one, or add a second filename.
  const file = await storage.createFile({ bucketId, fileId: uid('f'), file: InputFile.fromBuffer(Buffer.from('<script>alert(1)</script>'), 'plain.txt') });
  for (const name of ['a\r\nSet-Cookie: pwned=1', 'a"; filename="evil.html', 'a\\"; filename=evil.html', "a'; filename*=UTF-8''evil.html", 'x.txt\u0000.html', '../../etc/passwd']) {
    const renamed = await storage.updateFile({ bucketId, fileId: file.$id, name });
    assert.equal(renamed.name, name, 'the name is kept as given');
    for (const kind of ['view', 'download']) {
      const res = await fetchFile(file.$id, kind);
      assert.equal(res.headers.get('set-cookie'), null, `${JSON.stringify(name)} ${kind}`);
      assert.match(res.headers.get('content-disposition'), disposition, `${JSON.stringify(name)} ${kind}`);
      assert.match(res.headers.get('content-type'), /^text\/plain/, `${JSON.stringify(name)} ${kind}`);
    }
  }
});

test('realtime: a forged JWT on the handshake is refused, not downgraded', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const { default: WebSocket } = await import('ws');
  const { bob } = await jwtWorld();
  const forged = forgeJwt({ userId: bob.user.$id, sessionId: bob.session.$id, iat: 0, exp: 9_999_999_999 }, { header: { alg: 'none' }, signature: '' });
  for (const jwt of [forged, forgeJwt({ userId: bob.user.$id, sessionId: bob.session.$id, iat: 0, exp: 9_999_999_999 })]) {
    const answer = await new Promise((resolve, reject) => {
      const ws = new WebSocket(`${endpoint.replace(/^http/, 'ws')}/realtime?project=${projectId}&jwt=${encodeURIComponent(jwt)}`);
      ws.on('unexpected-response', (_, res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      });
      ws.on('open', () => {
        ws.close();
        reject(new Error('a forged JWT opened a socket'));
      });
      ws.on('error', () => {});
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.type, 'user_jwt_invalid');
  }
});
