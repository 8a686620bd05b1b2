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
//      origins riding a session cookie, oversized and overdeep input, file tokens
//
// A test that finds a hole is kept failing and marked `// HOLE:` until the fix lands.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputFile } from 'node-appwrite/file';
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

// Findings of the attack run (issue #26) — tests added by the fixes:

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
