// Presences (Appwrite 1.9.6): one presence per user, upserted with PUT, read by whoever its
// permissions let read it, hidden once expired, and announced over realtime to its readers.
// Clients go through the web SDK (`appwrite` 27: upsert takes no userId) and the server SDK
// (`node-appwrite` 27.1: upsert and update require userId, which only an API key may send).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  adminClient, assertAppwriteError, endpoint, guestClient, installFallbackStorage, node, projectId, raw,
  rejectsWith, runtime, userClient, web,
} from './helpers.mjs';

globalThis.WebSocket ??= WebSocket;
// The web SDK's realtime reads `window.localStorage` (its cookie fallback).
if (!globalThis.window) installFallbackStorage();

// The SDK's JSON parser makes objects of its own kind: compare their JSON.
const plain = (x) => JSON.parse(JSON.stringify(x));
const { Permission, Role, Query } = web;
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const settle = (ms = 500) => new Promise((resolve) => setTimeout(resolve, ms));
const inMs = (ms) => new Date(Date.now() + ms).toISOString();

const webClient = ({ session, jwt } = {}) => {
  const client = new web.Client().setEndpoint(endpoint).setProject(projectId);
  if (session) client.setSession(session);
  if (jwt) client.setJWT(jwt);
  return client;
};
/** The web SDK's Presences service acting as a user from `userClient()`. */
const presencesOf = (u) => new web.Presences(webClient({ session: u.session.secret }));
/** Readable by every signed-in user; the owner keeps update and delete (roles a session holds). */
const shared = (u) => [Permission.read(Role.users()), Permission.update(Role.user(u.user.$id)), Permission.delete(Role.user(u.user.$id))];
const sessionHeaders = (u) => ({ 'x-appwrite-session': u.session.secret, 'content-type': 'application/json' });

// Every presence id a test may have created: removed with the API key, which bypasses permissions.
const created = new Set();
const track = (...ids) => { ids.forEach((id) => created.add(id)); return ids; };
after(async () => {
  if (created.size === 0) return;
  const admin = new node.Presences(adminClient());
  for (const presenceId of created) await admin.delete({ presenceId }).catch(() => {});
});

/** Collects realtime events; `waitFor` resolves with the first one matching (or undefined when time is up). */
function collector() {
  const events = [];
  const waiters = [];
  return {
    events,
    push: (e) => { events.push(e); waiters.splice(0).forEach((w) => w()); },
    async waitFor(pred, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = events.find(pred);
        if (found || Date.now() >= deadline) return found;
        await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
      }
    },
  };
}
/** The action ('upsert', 'update', 'delete') of an event about presence `id`. */
const action = (e, id) => e.events.find((n) => n.startsWith(`presences.${id}.`))?.split('.').pop();

test('presences: a user shares a presence with signed-in users; others see only what they may read', async () => {
  const [a, b] = [await userClient(), await userClient()];
  const [idA, idB] = track(uid('pa'), uid('pb'));
  const before = Date.now();
  const mine = await presencesOf(a).upsert({
    presenceId: idA, status: 'online', metadata: { device: 'web' }, permissions: shared(a),
  });
  assert.equal(mine.$id, idA);
  assert.equal(mine.userId, a.user.$id, 'a session upsert belongs to the caller');
  assert.equal(mine.status, 'online');
  assert.equal(mine.source, 'rest');
  assert.deepEqual(plain(mine.metadata), { device: 'web' });
  assert.ok(mine.$permissions.includes('read("users")'), JSON.stringify(mine.$permissions));
  // No expiresAt given: now + 15 minutes (a minute of slack either way for clocks and latency).
  const expires = Date.parse(mine.expiresAt);
  assert.ok(expires > before + 14 * 60_000 && expires < Date.now() + 16 * 60_000, mine.expiresAt);

  // B finds A's presence by its owner and by id.
  const listed = await presencesOf(b).list({ queries: [Query.equal('userId', [a.user.$id])] });
  assert.equal(listed.total, 1);
  assert.deepEqual(listed.presences.map((p) => [p.$id, p.userId, p.status]), [[idA, a.user.$id, 'online']]);
  const got = await presencesOf(b).get({ presenceId: idA });
  assert.equal(got.userId, a.user.$id);
  assert.deepEqual(plain(got.metadata), { device: 'web' });

  // A JWT is the same user as its session.
  const { jwt } = await new node.Account(a.client).createJWT();
  assert.equal((await new web.Presences(webClient({ jwt })).get({ presenceId: idA })).status, 'online');

  // PATCH is sparse: the status changes, the metadata stays.
  const updated = await presencesOf(a).update({ presenceId: idA, status: 'busy' });
  assert.equal(updated.status, 'busy');
  assert.deepEqual(plain(updated.metadata), { device: 'web' });
  assert.ok(Date.parse(updated.$updatedAt) >= Date.parse(updated.$createdAt));

  // B's presence with default permissions is B's alone: A neither gets nor lists it.
  const own = await presencesOf(b).upsert({ presenceId: idB, status: 'private' });
  assert.ok(own.$permissions.every((p) => p.endsWith(`("user:${b.user.$id}")`)), JSON.stringify(own.$permissions));
  for (const kind of ['read', 'update', 'delete']) assert.ok(own.$permissions.includes(`${kind}("user:${b.user.$id}")`), kind);
  await rejectsWith(assert, presencesOf(a).get({ presenceId: idB }), 404, 'presence_not_found');
  const fromA = await presencesOf(a).list({ queries: [Query.equal('userId', [b.user.$id])] });
  assert.equal(fromA.total, 0);
  assert.deepEqual(fromA.presences, []);
});

test('presences: realtime sends upsert, update and delete to readers only', { skip: runtime !== 'workerd' && 'realtime runs on workerd only (Spin takes no inbound WebSockets)' }, async () => {
  const [a, b, c] = [await userClient(), await userClient(), await userClient()];
  const [idA, idC] = track(uid('rta'), uid('rtc'));
  const seen = { b: collector(), a: collector() };
  const realtimes = [new web.Realtime(webClient({ session: b.session.secret })), new web.Realtime(webClient({ session: a.session.secret }))];
  try {
    await realtimes[0].subscribe('presences', (e) => seen.b.push(e));
    // The owner listens on the presence's own channel (its id is chosen before it exists).
    await realtimes[1].subscribe(web.Channel.presence(idA), (e) => seen.a.push(e));
    // Let the sockets connect, authenticate and subscribe.
    await settle();
    await presencesOf(a).upsert({ presenceId: idA, status: 'online', metadata: { device: 'web' }, permissions: shared(a) });
    const upserted = await seen.b.waitFor((e) => action(e, idA) === 'upsert');
    assert.ok(upserted, 'B receives the upsert of a presence it may read');
    assert.equal(upserted.payload.userId, a.user.$id);
    assert.equal(upserted.payload.$id, idA);
    assert.ok(upserted.events.includes(`presences.${idA}.upsert`), JSON.stringify(upserted.events));
    assert.ok(upserted.channels.includes('presences') && upserted.channels.includes(`presences.${idA}`), JSON.stringify(upserted.channels));

    // C's owner-only presence goes first, A's update after: once B has A's update, anything
    // about C would already have reached it (events leave in order), so no long wait is needed.
    await presencesOf(c).upsert({ presenceId: idC, status: 'hidden' });
    await presencesOf(a).update({ presenceId: idA, status: 'away' });
    const updated = await seen.b.waitFor((e) => action(e, idA) === 'update');
    assert.ok(updated, 'B receives the update');
    assert.equal(updated.payload.status, 'away');
    assert.deepEqual(plain(updated.payload.metadata), { device: 'web' }, 'the event carries the whole model after a sparse update');

    await presencesOf(a).delete({ presenceId: idA });
    const deleted = await seen.b.waitFor((e) => action(e, idA) === 'delete');
    assert.ok(deleted, 'B receives the delete');
    assert.equal(deleted.payload.$id, idA);
    assert.ok(deleted.events.includes(`presences.${idA}.delete`));

    await settle(300);
    assert.ok(!seen.b.events.some((e) => e.payload?.$id === idC || e.payload?.userId === c.user.$id || e.events.some((n) => n.includes(idC))),
      "B never sees C's owner-only presence");
    assert.deepEqual(seen.b.events.filter((e) => e.payload?.$id === idA).map((e) => action(e, idA)), ['upsert', 'update', 'delete']);
    assert.deepEqual(seen.a.events.map((e) => action(e, idA)), ['upsert', 'update', 'delete'], "the owner's presences.<id> channel");
  } finally {
    for (const realtime of realtimes) realtime.disconnect();
  }
});

test('presences: an expired presence is gone from get, update and list until it is upserted again', async () => {
  const [a, b] = [await userClient(), await userClient()];
  const [id] = track(uid('pex'));
  const byOwner = { queries: [Query.equal('userId', [a.user.$id])] };
  const short = await presencesOf(a).upsert({ presenceId: id, status: 'brief', expiresAt: inMs(2000), permissions: shared(a) });
  assert.ok(Date.parse(short.expiresAt) <= Date.now() + 2500, short.expiresAt);
  assert.equal((await presencesOf(a).get({ presenceId: id })).status, 'brief');
  assert.equal((await presencesOf(b).list(byOwner)).total, 1, 'B sees it while it lasts');

  await settle(3500);
  await rejectsWith(assert, presencesOf(a).get({ presenceId: id }), 404, 'presence_not_found');
  await rejectsWith(assert, presencesOf(a).update({ presenceId: id, status: 'late' }), 404, 'presence_not_found');
  const gone = await presencesOf(b).list(byOwner);
  assert.equal(gone.total, 0);
  assert.deepEqual(gone.presences, []);

  // Upserting again (same id, so the answer's id is certain) brings it back with a fresh expiry.
  const again = await presencesOf(a).upsert({ presenceId: id, status: 'back', permissions: shared(a) });
  assert.equal(again.$id, id);
  assert.ok(Date.parse(again.expiresAt) > Date.now(), again.expiresAt);
  assert.equal((await presencesOf(a).get({ presenceId: id })).status, 'back');
  assert.equal((await presencesOf(b).list(byOwner)).total, 1);
});

test('presences: one per user — a second upsert under another id overwrites the first and answers its id', async () => {
  const a = await userClient();
  const [first, second] = track(uid('p1'), uid('p2'));
  // Raw, for the status the SDK hides: a PUT that creates answers 200, never 201.
  const put = await raw(`/presences/${first}`, { method: 'PUT', headers: sessionHeaders(a), body: JSON.stringify({ status: 'first' }) });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.$id, first);
  assert.equal(put.json.userId, a.user.$id);

  const over = await presencesOf(a).upsert({ presenceId: second, status: 'second' });
  assert.equal(over.$id, first, 'the existing presence keeps its id');
  assert.equal(over.status, 'second');
  const list = await presencesOf(a).list({ queries: [Query.equal('userId', [a.user.$id])] });
  assert.equal(list.total, 1);
  assert.deepEqual(list.presences.map((p) => [p.$id, p.status]), [[first, 'second']]);
  await rejectsWith(assert, presencesOf(a).get({ presenceId: second }), 404, 'presence_not_found');

  const del = await raw(`/presences/${first}`, { method: 'DELETE', headers: sessionHeaders(a) });
  assert.equal(del.status, 204, del.text);
  await rejectsWith(assert, presencesOf(a).get({ presenceId: first }), 404, 'presence_not_found');
});

test('presences: who may call, what a caller may send, and what another user may change', async () => {
  const [a, b] = [await userClient(), await userClient()];
  const [idA, stray] = track(uid('pe'), uid('px'));
  const guest = new web.Presences(guestClient());
  await rejectsWith(assert, guest.list(), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, guest.upsert({ presenceId: stray, status: 'x' }), 401, 'general_unauthorized_scope');

  // A session may not name the user (node-appwrite's upsert always sends userId).
  await rejectsWith(assert, new node.Presences(a.client).upsert({ presenceId: stray, userId: a.user.$id, status: 'x' }), 401, 'general_unauthorized_scope');
  // An API key must name it (raw: node-appwrite refuses to send the call without userId).
  const keyless = await raw(`/presences/${stray}`, { method: 'PUT', key: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'x' }) });
  assertAppwriteError(assert, keyless, 400, 'general_bad_request');
  await rejectsWith(assert, new node.Presences(adminClient()).upsert({ presenceId: stray, userId: uid('nobody'), status: 'x' }), 404, 'user_not_found');

  // expiresAt must lie in the future and at most 30 days ahead; status is 1–255 characters.
  const mine = presencesOf(a);
  await rejectsWith(assert, mine.upsert({ presenceId: stray, status: 'x', expiresAt: inMs(-60_000) }), 400, 'general_argument_invalid');
  await rejectsWith(assert, mine.upsert({ presenceId: stray, status: 'x', expiresAt: inMs(31 * 86_400_000) }), 400, 'general_argument_invalid');
  await rejectsWith(assert, mine.upsert({ presenceId: stray, status: 'x'.repeat(256) }), 400, 'general_argument_invalid');
  // A session grants only roles it holds.
  await rejectsWith(assert, mine.upsert({ presenceId: stray, status: 'x', permissions: [Permission.read(Role.user(b.user.$id))] }), 401, 'user_unauthorized');

  // Readable by B but not writable by B.
  await mine.upsert({ presenceId: idA, status: 'online', permissions: shared(a) });
  const theirs = presencesOf(b);
  assert.equal((await theirs.get({ presenceId: idA })).status, 'online');
  await rejectsWith(assert, theirs.update({ presenceId: idA, status: 'hijacked' }), 401, 'user_unauthorized');
  await rejectsWith(assert, theirs.delete({ presenceId: idA }), 401, 'user_unauthorized');
  assert.equal((await mine.get({ presenceId: idA })).status, 'online', 'unchanged by the refused calls');

  const unknown = uid('none');
  await rejectsWith(assert, mine.get({ presenceId: unknown }), 404, 'presence_not_found');
  await rejectsWith(assert, mine.update({ presenceId: unknown, status: 'x' }), 404, 'presence_not_found');
  await rejectsWith(assert, mine.delete({ presenceId: unknown }), 404, 'presence_not_found');
  // None of the refused upserts wrote anything: A's one presence is still idA.
  const list = await mine.list({ queries: [Query.equal('userId', [a.user.$id])] });
  assert.deepEqual(list.presences.map((p) => p.$id), [idA]);
});

test('presences: the server SDK upserts for a named user, who then owns it', async () => {
  const [u, other] = [await userClient(), await userClient()];
  const [id] = track(uid('ps'));
  const admin = new node.Presences(adminClient());
  const made = await admin.upsert({ presenceId: id, userId: u.user.$id, status: 'online', metadata: { via: 'server' } });
  assert.equal(made.$id, id);
  assert.equal(made.userId, u.user.$id);
  assert.equal(made.source, 'rest');
  assert.deepEqual(plain(made.metadata), { via: 'server' });
  // Default permissions: the owner's, no one else's.
  assert.ok(made.$permissions.every((p) => p.endsWith(`("user:${u.user.$id}")`)), JSON.stringify(made.$permissions));
  for (const kind of ['read', 'update', 'delete']) assert.ok(made.$permissions.includes(`${kind}("user:${u.user.$id}")`), kind);

  assert.equal((await presencesOf(u).get({ presenceId: id })).userId, u.user.$id, 'the named user reads it');
  await rejectsWith(assert, presencesOf(other).get({ presenceId: id }), 404, 'presence_not_found');

  // Upserting again with the key: 200, the same presence.
  const again = await raw(`/presences/${id}`, { method: 'PUT', key: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: u.user.$id, status: 'idle' }) });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.$id, id);
  assert.equal(again.json.status, 'idle');
  const listed = await admin.list({ queries: [node.Query.equal('userId', [u.user.$id])] });
  assert.equal(listed.total, 1);
  assert.equal(listed.presences[0].status, 'idle');

  await admin.delete({ presenceId: id });
  await rejectsWith(assert, admin.get({ presenceId: id }), 404, 'presence_not_found');
});
