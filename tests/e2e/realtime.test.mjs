// Realtime through the web SDK's `Realtime` service in Node (`ws` as the WebSocket): document
// events on a collection channel, filtered by what each subscriber may read, and the raw
// protocol's answers to bad frames. On Spin (no inbound WebSockets) /v1/realtime is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { InputFile } from 'node-appwrite/file';
import { adminClient, endpoint, projectId, node, web, runtime, userClient, installFallbackStorage } from './helpers.mjs';

globalThis.WebSocket ??= WebSocket;
// The web SDK's realtime reads `window.localStorage` (its cookie fallback).
if (!globalThis.window) installFallbackStorage();
const spin = runtime === 'spin';
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const wsUrl = `${endpoint.replace(/^http/, 'ws')}/realtime?project=${projectId}`;

/** Collects the events a callback receives until `count` arrived (or the time is up). */
function collector() {
  const events = [];
  const waiters = [];
  return {
    events,
    push: (e) => {
      events.push(e);
      waiters.splice(0).forEach((w) => w());
    },
    async until(count, ms = 5000) {
      const deadline = Date.now() + ms;
      while (events.length < count && Date.now() < deadline) {
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return events;
    },
  };
}

test('realtime: Spin answers /v1/realtime with a clear error', { skip: !spin && 'workerd holds sockets' }, async () => {
  const res = await fetch(`${endpoint}/realtime?project=${projectId}`);
  const [status, body] = [res.status, await res.json()];
  assert.equal(status, 405);
  assert.equal(body.type, 'general_not_implemented');
  assert.match(body.message, /WebSockets/);
});

test('realtime: subscribers get create, update and delete of what they may read, and nothing else', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const admin = new node.Databases(adminClient());
  const db = uid('rt');
  await admin.create({ databaseId: db, name: db });
  await admin.createCollection({ databaseId: db, collectionId: 'notes', name: 'notes', permissions: ['create("users")'], documentSecurity: true });
  await admin.createStringAttribute({ databaseId: db, collectionId: 'notes', key: 'text', size: 64, required: false });
  const alice = await userClient();
  const bob = await userClient();
  const clientOf = (session) => new web.Client().setEndpoint(endpoint).setProject(projectId).setSession(session);
  const channel = `databases.${db}.collections.notes.documents`;
  const seen = { alice: collector(), bob: collector(), guest: collector() };
  const realtimes = [
    ['alice', new web.Realtime(clientOf(alice.session.secret))],
    ['bob', new web.Realtime(clientOf(bob.session.secret))],
    ['guest', new web.Realtime(new web.Client().setEndpoint(endpoint).setProject(projectId))],
  ];
  try {
    for (const [who, realtime] of realtimes) await realtime.subscribe(channel, (e) => seen[who].push(e));
    // Let the sockets connect, authenticate and subscribe.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const mine = `read("user:${alice.user.$id}")`;
    await admin.createDocument({ databaseId: db, collectionId: 'notes', documentId: 'n1', data: { text: 'hello' }, permissions: [mine] });
    await admin.updateDocument({ databaseId: db, collectionId: 'notes', documentId: 'n1', data: { text: 'hello again' } });
    await admin.deleteDocument({ databaseId: db, collectionId: 'notes', documentId: 'n1' });
    await admin.createDocument({ databaseId: db, collectionId: 'notes', documentId: 'open', data: { text: 'for all' }, permissions: ['read("any")'] });
    const got = await seen.alice.until(4);
    assert.deepEqual(got.map((e) => [e.payload.$id, e.events.find((n) => n.endsWith('.create') || n.endsWith('.update') || n.endsWith('.delete')).split('.').pop()]),
      [['n1', 'create'], ['n1', 'update'], ['n1', 'delete'], ['open', 'create']]);
    assert.equal(got[1].payload.text, 'hello again');
    assert.ok(got[0].channels.includes(channel));
    assert.ok(got[0].timestamp);
    const bobs = await seen.bob.until(1);
    assert.deepEqual(bobs.map((e) => e.payload.$id), ['open'], "bob never sees alice's private note");
    const guests = await seen.guest.until(1);
    assert.deepEqual(guests.map((e) => e.payload.$id), ['open']);
  } finally {
    for (const [, realtime] of realtimes) realtime.disconnect();
  }
});

test('realtime: malformed frames get error frames and the connection stays usable; floods are cut', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const socket = new WebSocket(wsUrl);
  const frames = [];
  const next = () => new Promise((resolve) => socket.once('message', (m) => resolve(JSON.parse(m.toString()))));
  const connected = await next();
  assert.equal(connected.type, 'connected');
  assert.equal(connected.data.user, null);
  socket.send('{not json');
  frames.push(await next());
  socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: 's1', channels: ['documents'], queries: [JSON.stringify({ method: 'search', attribute: 'a', values: ['x'] })] }] }));
  frames.push(await next());
  socket.send(JSON.stringify({ type: 'ping' }));
  frames.push(await next());
  socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: 's2', channels: ['documents'] }] }));
  frames.push(await next());
  assert.deepEqual(frames.map((f) => [f.type, f.data?.code ?? f.data?.to ?? null]), [['error', 1003], ['error', 1003], ['pong', null], ['response', 'subscribe']]);
  // Appwrite's 32 frames a minute: past them, error 1013 and the socket closes.
  const closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
  for (let i = 0; i < 40; i++) socket.send(JSON.stringify({ type: 'ping' }));
  assert.equal(await closed, 1013);
});

const webClient = ({ session, jwt } = {}) => {
  const client = new web.Client().setEndpoint(endpoint).setProject(projectId);
  if (session) client.setSession(session);
  if (jwt) client.setJWT(jwt);
  return client;
};
const settle = (ms = 500) => new Promise((resolve) => setTimeout(resolve, ms));
const leaf = (e) => e.events[0];

test('realtime: the account channel carries the user\'s own updates and sessions only, with a JWT too', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const alice = await userClient();
  const bob = await userClient();
  const jwt = (await new node.Account(alice.client).createJWT()).jwt;
  const seen = { alice: collector(), bob: collector(), aliceJwt: collector() };
  const realtimes = [
    ['alice', new web.Realtime(webClient({ session: alice.session.secret }))],
    ['bob', new web.Realtime(webClient({ session: bob.session.secret }))],
    ['aliceJwt', new web.Realtime(webClient({ jwt }))],
  ];
  try {
    for (const [who, realtime] of realtimes) await realtime.subscribe('account', (e) => seen[who].push(e));
    await settle();
    await new node.Account(alice.client).updatePrefs({ prefs: { theme: 'dark' } });
    await new node.Account(alice.client).updateName({ name: 'Alice Liddell' });
    await new node.Account(bob.client).updateName({ name: 'Bob' });
    const got = await seen.alice.until(2);
    assert.deepEqual(got.map(leaf), [`users.${alice.user.$id}.update.prefs`, `users.${alice.user.$id}.update.name`]);
    assert.equal(got[0].payload.prefs.theme, 'dark');
    assert.equal(got[1].payload.name, 'Alice Liddell');
    assert.ok(got[0].channels.includes(`account.${alice.user.$id}`));
    assert.deepEqual((await seen.aliceJwt.until(2)).map(leaf), got.map(leaf), 'a JWT connection (?jwt=) is the same user');
    const bobs = await seen.bob.until(1);
    assert.deepEqual(bobs.map(leaf), [`users.${bob.user.$id}.update.name`]);
    // A new session is announced to the user's sockets, without its secret.
    await new node.Account(new node.Client().setEndpoint(endpoint).setProject(projectId))
      .createEmailPasswordSession({ email: alice.email, password: alice.password });
    const [, , created] = await seen.alice.until(3);
    assert.match(leaf(created), new RegExp(`^users\\.${alice.user.$id}\\.sessions\\.[^.]+\\.create$`));
    assert.equal(created.payload.secret, '');
    // A server's update answers the user with the password hash: the event never carries it.
    await new node.Users(adminClient()).updateName({ userId: alice.user.$id, name: 'Alice by the server' });
    const [, , , byServer] = await seen.alice.until(4);
    assert.equal(byServer.payload.name, 'Alice by the server');
    for (const key of ['password', 'hash', 'hashOptions']) assert.equal(byServer.payload[key], undefined, key);
    await settle(300);
    assert.equal(seen.bob.events.length, 1, "bob never sees alice's account");
  } finally {
    for (const [, realtime] of realtimes) realtime.disconnect();
  }
});

test('realtime: the connected and authentication frames carry the Account model', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const alice = await userClient();
  const withSession = new WebSocket(wsUrl, { headers: { 'x-appwrite-session': alice.session.secret } });
  const first = await new Promise((resolve) => withSession.once('message', (m) => resolve(JSON.parse(m.toString()))));
  withSession.close();
  assert.equal(first.type, 'connected');
  assert.deepEqual([first.data.user.$id, first.data.user.email, first.data.user.password], [alice.user.$id, alice.email, undefined]);
  const guest = new WebSocket(wsUrl);
  const next = () => new Promise((resolve) => guest.once('message', (m) => resolve(JSON.parse(m.toString()))));
  assert.equal((await next()).data.user, null);
  guest.send(JSON.stringify({ type: 'authentication', data: { session: alice.session.secret } }));
  const answer = await next();
  guest.close();
  assert.deepEqual([answer.data.to, answer.data.success, answer.data.user.email], ['authentication', true, alice.email]);
});

test('realtime: file events reach those who may read the file', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const storage = new node.Storage(adminClient());
  const bucket = uid('rtb');
  await storage.createBucket({ bucketId: bucket, name: bucket, permissions: ['create("users")'], fileSecurity: true });
  const alice = await userClient();
  const bob = await userClient();
  const seen = { alice: collector(), bob: collector() };
  const realtimes = [
    ['alice', new web.Realtime(webClient({ session: alice.session.secret }))],
    ['bob', new web.Realtime(webClient({ session: bob.session.secret }))],
  ];
  try {
    for (const [who, realtime] of realtimes) await realtime.subscribe([`buckets.${bucket}.files`, 'files'], (e) => seen[who].push(e));
    await settle();
    const file = InputFile.fromBuffer(Buffer.from('hello realtime'), 'note.txt');
    await storage.createFile({ bucketId: bucket, fileId: 'f1', file, permissions: [`read("user:${alice.user.$id}")`] });
    await storage.updateFile({ bucketId: bucket, fileId: 'f1', name: 'renamed.txt' });
    await storage.deleteFile({ bucketId: bucket, fileId: 'f1' });
    const got = await seen.alice.until(3);
    assert.deepEqual(got.map(leaf), ['create', 'update', 'delete'].map((a) => `buckets.${bucket}.files.f1.${a}`));
    assert.equal(got[0].payload.sizeOriginal, 14);
    assert.equal(got[1].payload.name, 'renamed.txt');
    assert.ok(got[0].channels.includes('files') && got[0].channels.includes(`buckets.${bucket}.files.f1`));
    await settle(300);
    assert.equal(seen.bob.events.length, 0, 'bob may not read the file');
  } finally {
    for (const [, realtime] of realtimes) realtime.disconnect();
  }
});

test('realtime: team and membership events reach the members; a removed member, a logged-out session and a deleted user stop receiving', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const teams = new node.Teams(adminClient());
  const users = new node.Users(adminClient());
  const admin = new node.Databases(adminClient());
  const team = uid('rtt');
  await teams.create({ teamId: team, name: 'Crew' });
  const [alice, bob, carol] = [await userClient(), await userClient(), await userClient()];
  const db = uid('rtd');
  await admin.create({ databaseId: db, name: db });
  await admin.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: [`read("team:${team}")`, `read("user:${alice.user.$id}")`, `read("user:${bob.user.$id}")`] });
  await admin.createStringAttribute({ databaseId: db, collectionId: 'c', key: 't', size: 16, required: false });
  const channel = `databases.${db}.collections.c.documents`;
  const seen = { alice: collector(), bob: collector(), carol: collector(), carolDocs: collector() };
  const carolRealtime = new web.Realtime(webClient({ session: carol.session.secret }));
  const realtimes = [
    new web.Realtime(webClient({ session: alice.session.secret })),
    new web.Realtime(webClient({ session: bob.session.secret })),
    carolRealtime,
  ];
  try {
    await realtimes[0].subscribe(channel, (e) => seen.alice.push(e));
    await realtimes[1].subscribe(channel, (e) => seen.bob.push(e));
    await carolRealtime.subscribe(['teams', 'memberships'], (e) => seen.carol.push(e));
    await carolRealtime.subscribe(channel, (e) => seen.carolDocs.push(e));
    await settle();
    const membership = await teams.createMembership({ teamId: team, roles: ['crew'], userId: carol.user.$id });
    await teams.updateName({ teamId: team, name: 'Crew 2' });
    const got = await seen.carol.until(2);
    assert.deepEqual(got.map(leaf), [`teams.${team}.memberships.${membership.$id}.create`, `teams.${team}.update`]);
    assert.equal(got[1].payload.name, 'Crew 2');
    await admin.createDocument({ databaseId: db, collectionId: 'c', documentId: 'd1', data: { t: 'one' } });
    assert.deepEqual((await seen.carolDocs.until(1)).map((e) => e.payload.$id), ['d1'], 'a member reads through team:T');
    // Alice logs out, Bob is deleted, Carol leaves the team: their sockets stay open but hear nothing more.
    await new web.Account(webClient({ session: alice.session.secret })).deleteSession({ sessionId: 'current' });
    await users.delete({ userId: bob.user.$id });
    await teams.deleteMembership({ teamId: team, membershipId: membership.$id });
    await admin.createDocument({ databaseId: db, collectionId: 'c', documentId: 'd2', data: { t: 'two' } });
    await settle(800);
    assert.deepEqual(seen.alice.events.map((e) => e.payload.$id), ['d1']);
    assert.deepEqual(seen.bob.events.map((e) => e.payload.$id), ['d1']);
    assert.deepEqual(seen.carolDocs.events.map((e) => e.payload.$id), ['d1']);
  } finally {
    for (const realtime of realtimes) realtime.disconnect();
  }
});

test('realtime: a subscription survives the project object being evicted (hibernation)', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const admin = new node.Databases(adminClient());
  const db = uid('rth');
  await admin.create({ databaseId: db, name: db });
  await admin.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: ['read("any")'] });
  await admin.createStringAttribute({ databaseId: db, collectionId: 'c', key: 't', size: 16, required: false });
  const object = async () => (await fetch(`${endpoint}/__edgewrite/realtime-object?project=${projectId}`)).json();
  const seen = collector();
  const realtime = new web.Realtime(webClient());
  try {
    await realtime.subscribe(`databases.${db}.collections.c.documents`, (e) => seen.push(e));
    await settle();
    const before = await object();
    // workerd evicts an object whose only work is hibernatable sockets after 10 s idle; the web
    // SDK's heartbeat (every 20 s) does not come in between.
    await settle(13_000);
    await admin.createDocument({ databaseId: db, collectionId: 'c', documentId: 'after', data: { t: 'woke' } });
    const got = await seen.until(1);
    const after = await object();
    assert.notEqual(after.instance, before.instance, 'the object was evicted and constructed again');
    assert.ok(after.sockets >= 1, 'the socket stayed connected');
    assert.deepEqual(got.map((e) => e.payload.t), ['woke']);
  } finally {
    realtime.disconnect();
  }
});

test('realtime: a connection\'s subscriptions are bounded (100 per connection, 12 KiB of state, 32 frames a minute)', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const socket = new WebSocket(wsUrl);
  const next = () => new Promise((resolve) => socket.once('message', (m) => resolve(JSON.parse(m.toString()))));
  await next();
  const many = Array.from({ length: 1000 }, (_, i) => ({ subscriptionId: `m${i}`, channels: ['files'] }));
  socket.send(JSON.stringify({ type: 'subscribe', data: many }));
  const refused = await next();
  assert.equal(refused.data.code, 1003);
  assert.match(refused.data.message, /at most 100 subscriptions/);
  const channels = Array.from({ length: 100 }, (_, i) => `databases.somedatabase.collections.somecollection.documents.d${i}`);
  let accepted = 0;
  let answer;
  for (let i = 0; i < 5; i++) {
    socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: `big${i}`, channels }] }));
    answer = await next();
    if (answer.type === 'error') break;
    accepted++;
  }
  assert.equal(answer.type, 'error');
  assert.match(answer.data.message, /12 KiB/);
  assert.ok(accepted >= 1);
  // What was accepted is still held: unsubscribing finds every one.
  socket.send(JSON.stringify({ type: 'unsubscribe', data: Array.from({ length: accepted }, (_, i) => ({ subscriptionId: `big${i}` })) }));
  const removed = await next();
  assert.ok(removed.data.subscriptions.every((s) => s.removed), JSON.stringify(removed));
  // A thousand subscribe frames: the 33rd of the minute closes the socket with 1013.
  const closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
  for (let i = 0; i < 1000 && socket.readyState === WebSocket.OPEN; i++) {
    socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: `f${i}`, channels: ['files'] }] }));
  }
  assert.equal(await closed, 1013);
});

test('realtime: concurrent writes to one document arrive in commit order, each with the state its write left', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const admin = new node.Databases(adminClient());
  const db = uid('rto');
  await admin.create({ databaseId: db, name: db });
  await admin.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: ['read("any")'] });
  await admin.createIntegerAttribute({ databaseId: db, collectionId: 'c', key: 'n', required: false, xdefault: 0 });
  await admin.createDocument({ databaseId: db, collectionId: 'c', documentId: 'counter', data: { n: 0 } });
  const seen = collector();
  const realtime = new web.Realtime(webClient());
  try {
    await realtime.subscribe(`databases.${db}.collections.c.documents.counter`, (e) => seen.push(e));
    await settle();
    const writes = 30;
    await Promise.all(Array.from({ length: writes }, () =>
      admin.incrementDocumentAttribute({ databaseId: db, collectionId: 'c', documentId: 'counter', attribute: 'n', value: 1 })));
    const got = await seen.until(writes);
    assert.deepEqual(got.map((e) => e.payload.n), Array.from({ length: writes }, (_, i) => i + 1));
  } finally {
    realtime.disconnect();
  }
});

test('realtime: one client address gets 128 connection attempts a minute, then 429', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
  const attempt = () => new Promise((resolve) => {
    const socket = new WebSocket(wsUrl, { headers: { 'x-forwarded-for': ip } });
    socket.once('message', () => { socket.terminate(); resolve(101); });
    socket.once('unexpected-response', (_, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    socket.once('error', () => {});
  });
  // The limiter counts fixed minutes: keep all 129 attempts inside one.
  const second = (Date.now() / 1000) % 60;
  if (second > 50) await settle((61 - second) * 1000);
  const answers = [];
  for (let i = 0; i < 129; i += 43) answers.push(...await Promise.all(Array.from({ length: Math.min(43, 129 - i) }, attempt)));
  assert.equal(answers.filter((a) => a === 101).length, 128);
  const refused = answers.find((a) => a !== 101);
  assert.equal(refused.status, 429);
  assert.equal(refused.body.type, 'general_rate_limit_exceeded');
});

test('realtime: execution events reach the user who started it, from waiting to completed', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const { readFileSync } = await import('node:fs');
  const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release';
  const functions = new node.Functions(adminClient());
  const functionId = uid('rtf');
  await functions.create({ functionId, name: 'echo', runtime: 'wasm-wasip1', execute: ['users'] });
  const echo = InputFile.fromBuffer(readFileSync(`${examples}/echo.wasm`), 'echo.wasm');
  await functions.createDeployment({ functionId, code: echo, activate: true });
  const alice = await userClient();
  const bob = await userClient();
  const seen = { alice: collector(), bob: collector() };
  const realtimes = [
    ['alice', new web.Realtime(webClient({ session: alice.session.secret }))],
    ['bob', new web.Realtime(webClient({ session: bob.session.secret }))],
  ];
  try {
    for (const [who, realtime] of realtimes) await realtime.subscribe(['executions', `functions.${functionId}`], (e) => seen[who].push(e));
    await settle();
    const execution = await new node.Functions(alice.client).createExecution({ functionId, body: 'hi', async: true });
    const got = await seen.alice.until(3, 10000);
    const base = `functions.${functionId}.executions.${execution.$id}`;
    assert.deepEqual(got.map(leaf), [`${base}.create`, `${base}.update`, `${base}.update`]);
    assert.deepEqual(got.map((e) => e.payload.status), ['waiting', 'processing', 'completed']);
    assert.equal(got[2].payload.logs, '', 'a client never sees logs');
    assert.ok(got[0].channels.includes(`executions.${execution.$id}`));
    await settle(300);
    assert.equal(seen.bob.events.length, 0, 'bob did not start it');
  } finally {
    for (const [, realtime] of realtimes) realtime.disconnect();
  }
});

test('realtime: channels named in the URL, as web SDKs up to 24.x send them, are subscribed at once', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const admin = new node.Databases(adminClient());
  const db = uid('rturl');
  await admin.create({ databaseId: db, name: db });
  await admin.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: ['read("any")'] });
  await admin.createStringAttribute({ databaseId: db, collectionId: 'c', key: 'v', size: 16, required: false });
  const channel = `databases.${db}.collections.c.documents`;
  const { user, session } = await userClient();
  const url = `${wsUrl}&channels[]=${encodeURIComponent(channel)}&channels[]=account`;
  // The session as a browser's cookie would carry it (the fallback header a web SDK 10.x sends).
  const socket = new WebSocket(url, { headers: { 'x-fallback-cookies': JSON.stringify({ [`a_session_${projectId}`]: session.secret }) } });
  const frames = [];
  socket.on('message', (m) => frames.push(JSON.parse(m.toString())));
  try {
    await new Promise((resolve, reject) => { socket.once('message', resolve); socket.once('error', reject); });
    const connected = frames[0];
    assert.equal(connected.type, 'connected');
    assert.deepEqual(connected.data.channels.sort(), [channel, `account.${user.$id}`].sort());
    assert.equal(connected.data.user.$id, user.$id);
    await admin.createDocument({ databaseId: db, collectionId: 'c', documentId: 'd1', data: { v: 'x' } });
    const deadline = Date.now() + 5000;
    while (!frames.some((f) => f.type === 'event') && Date.now() < deadline) await settle(50);
    const event = frames.find((f) => f.type === 'event');
    assert.ok(event, JSON.stringify(frames));
    assert.equal(event.data.payload.$id, 'd1');
    assert.ok(event.data.channels.includes(channel));
  } finally {
    socket.terminate();
  }
});

test('realtime: web SDK 24 subscriptions named in the URL by slot, each with its queries, get only their own events', { skip: spin && 'Spin takes no inbound WebSockets' }, async () => {
  const web24 = await import('appwrite-web-24');
  const admin = new node.Databases(adminClient());
  const db = uid('rt24');
  await admin.create({ databaseId: db, name: db });
  for (const c of ['a', 'b']) {
    await admin.createCollection({ databaseId: db, collectionId: c, name: c, permissions: ['read("any")'] });
    await admin.createIntegerAttribute({ databaseId: db, collectionId: c, key: 'n', required: false });
  }
  const client = new web24.Client().setEndpoint(endpoint).setProject(projectId);
  const seen = { a: collector(), b: collector(), big: collector() };
  const channel = (c) => `databases.${db}.collections.${c}.documents`;
  const stops = [
    client.subscribe(channel('a'), (e) => seen.a.push(e)),
    client.subscribe(channel('b'), (e) => seen.b.push(e)),
    client.subscribe(channel('b'), (e) => seen.big.push(e), [web24.Query.greaterThan('n', 10)]),
  ];
  try {
    await settle(800);
    await admin.createDocument({ databaseId: db, collectionId: 'a', documentId: 'a1', data: { n: 1 } });
    await admin.createDocument({ databaseId: db, collectionId: 'b', documentId: 'b1', data: { n: 5 } });
    await admin.createDocument({ databaseId: db, collectionId: 'b', documentId: 'b2', data: { n: 50 } });
    assert.deepEqual((await seen.b.until(2)).map((e) => e.payload.$id), ['b1', 'b2']);
    await settle(300);
    assert.deepEqual(seen.a.events.map((e) => e.payload.$id), ['a1'], 'slot 0 gets its collection only');
    assert.deepEqual(seen.big.events.map((e) => e.payload.$id), ['b2'], "slot 2's query is its own");
  } finally {
    for (const stop of stops) stop();
    // This SDK's heartbeat outlives its socket (harmless in a page, but it would keep Node's
    // test process alive): stop it as closing the page would.
    await settle(200);
    const rt = client.realtime;
    rt.reconnect = false;
    clearInterval(rt.heartbeat);
    clearTimeout(rt.timeout);
    rt.socket?.close();
  }
});
