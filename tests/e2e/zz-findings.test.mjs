// Scratch: the issue #26 findings, merged into security.test.mjs once that exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { InputFile } from 'node-appwrite/file';
import { png } from './png.mjs';
import { adminClient, endpoint, projectId, node, raw, rejectsWith, assertAppwriteError, userClient, uniqueEmail, runtime } from './helpers.mjs';

const spin = runtime === 'spin';

// ---------------------------------------------------------------------------------------------
// Findings of the attack run (issue #26): each test performs the attack that once worked.
// ---------------------------------------------------------------------------------------------

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
