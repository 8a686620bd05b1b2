// Realtime through the web SDK's `Realtime` service in Node (`ws` as the WebSocket): document
// events on a collection channel, filtered by what each subscriber may read, and the raw
// protocol's answers to bad frames. On Spin (no inbound WebSockets) /v1/realtime is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
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
