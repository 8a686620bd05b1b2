// Account: sign-up, sessions, JWTs, preferences — with the official SDKs, unmodified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  adminClient, guestClient, raw, assertAppwriteError, rejectsWith, node, web, endpoint, projectId,
  uniqueEmail, userClient, installFallbackStorage,
} from './helpers.mjs';

const PASSWORD = 'correct-horse-9';

test('web SDK: sign-up, login, get, prefs, sessions, logout through X-Fallback-Cookies', async () => {
  const store = installFallbackStorage();
  const client = guestClient();
  const account = new web.Account(client);
  const email = uniqueEmail('web');
  const user = await account.create({ userId: web.ID.unique(), email: email.toUpperCase(), password: PASSWORD, name: 'Web' });
  assert.equal(user.email, email, 'emails are stored lower-cased');
  assert.equal(user.password, undefined);
  assert.deepEqual({ ...user.prefs }, {}, 'prefs is an object, never an array');
  assert.ok(!Array.isArray(user.prefs));
  const session = await account.createEmailPasswordSession({ email, password: PASSWORD });
  assert.equal(session.secret, '', 'no secret for a client without an API key');
  assert.equal(session.provider, 'email');
  assert.deepEqual(session.factors, ['password']);
  assert.ok(store.get('cookieFallback')?.includes(`a_session_${projectId}`), 'the SDK stored the fallback cookie');

  const me = await account.get();
  assert.equal(me.$id, user.$id);
  const updated = await account.updatePrefs({ prefs: { theme: 'dark', n: 1 } });
  assert.deepEqual({ ...updated.prefs }, { theme: 'dark', n: 1 });
  assert.deepEqual({ ...(await account.getPrefs()) }, { theme: 'dark', n: 1 });
  assert.equal((await account.updateName({ name: 'Renamed' })).name, 'Renamed');

  const sessions = await account.listSessions();
  assert.equal(sessions.total, 1);
  assert.equal(sessions.sessions[0].current, true);
  assert.equal((await account.getSession({ sessionId: 'current' })).$id, session.$id);

  await account.deleteSession({ sessionId: 'current' });
  assert.equal(store.get('cookieFallback'), '[]', 'logout empties the fallback store');
  await rejectsWith(assert, account.get(), 401, 'general_unauthorized_scope');
});

test('cookies: both session cookies, HttpOnly, host-only and not Secure on plain-http localhost', async () => {
  const admin = new node.Account(adminClient());
  const email = uniqueEmail('cookie');
  await admin.create({ userId: node.ID.unique(), email, password: PASSWORD });
  const res = await fetch(`${endpoint}/account/sessions/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-appwrite-project': projectId, origin: 'http://localhost:5173' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(res.status, 201);
  const cookies = res.headers.getSetCookie();
  assert.equal(cookies.length, 2);
  const [main, legacy] = cookies;
  assert.match(main, new RegExp(`^a_session_${projectId}=`));
  assert.match(legacy, new RegExp(`^a_session_${projectId}_legacy=`));
  for (const c of cookies) {
    assert.match(c, /httponly/i);
    assert.doesNotMatch(c, /secure/i);
    assert.doesNotMatch(c, /domain=/i);
    assert.match(c, /path=\//i);
  }
  assert.match(main, /samesite=None/i);
  assert.doesNotMatch(legacy, /samesite/i);
  const fallback = JSON.parse(res.headers.get('x-fallback-cookies'));
  // The cookie alone authenticates (what a browser sends back).
  const cookie = main.split(';')[0];
  const me = await raw('/account', { headers: { cookie } });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.email, email);
  assert.equal(fallback[`a_session_${projectId}`], cookie.slice(cookie.indexOf('=') + 1));
  // So does the legacy twin on its own.
  const legacyOnly = await raw('/account', { headers: { cookie: legacy.split(';')[0] } });
  assert.equal(legacyOnly.status, 200);
});

test('node SDK: API key + setSession (SSR) and the session secret shown only to the key', async () => {
  const { client, user, session } = await userClient();
  assert.ok(session.secret.length > 40, 'the key sees the secret');
  const me = await new node.Account(client).get();
  assert.equal(me.$id, user.$id);
  assert.equal(me.email, user.email);
});

test('node SDK: JWT client, and the JWT rules', async () => {
  const { client, user, session } = await userClient();
  const { jwt } = await new node.Account(client).createJWT({ duration: 600 });
  assert.equal(jwt.split('.').length, 3);
  const jwtClient = new node.Client().setEndpoint(endpoint).setProject(projectId).setJWT(jwt);
  assert.equal((await new node.Account(jwtClient).get()).$id, user.$id);
  await rejectsWith(assert, new node.Account(jwtClient).createJWT(), 403, 'user_jwt_creation_denied');
  const both = await raw('/account', { headers: { 'x-appwrite-jwt': jwt, 'x-appwrite-session': session.secret } });
  assertAppwriteError(assert, both, 403, 'user_jwt_and_cookie_set');
  const [h, p] = jwt.split('.');
  const tampered = await raw('/account', { headers: { 'x-appwrite-jwt': `${h}.${p}.AAAA` } });
  assertAppwriteError(assert, tampered, 401, 'user_jwt_invalid');
  await rejectsWith(assert, new node.Account(client).createJWT({ duration: 3601 }), 400, 'general_argument_invalid');
});

test('anonymous session, then converting the user by setting email and password', async () => {
  const anon = await new node.Account(adminClient()).createAnonymousSession();
  assert.equal(anon.provider, 'anonymous');
  const client = new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(anon.secret);
  const account = new node.Account(client);
  const before = await account.get();
  assert.equal(before.email, '');
  const email = uniqueEmail('anon');
  const after = await account.updateEmail({ email, password: PASSWORD });
  assert.equal(after.email, email);
  const login = await new node.Account(adminClient()).createEmailPasswordSession({ email, password: PASSWORD });
  assert.equal(login.userId, before.$id);
});

test('sign-up errors: duplicate id or email is 409 user_already_exists, bad input 400', async () => {
  const admin = new node.Account(adminClient());
  const email = uniqueEmail('dup');
  const id = node.ID.unique();
  await admin.create({ userId: id, email, password: PASSWORD });
  await rejectsWith(assert, admin.create({ userId: node.ID.unique(), email, password: PASSWORD }), 409, 'user_already_exists');
  await rejectsWith(assert, admin.create({ userId: id, email: uniqueEmail(), password: PASSWORD }), 409, 'user_already_exists');
  await rejectsWith(assert, admin.create({ userId: node.ID.unique(), email: uniqueEmail(), password: 'short' }), 400, 'general_argument_invalid');
  await rejectsWith(assert, admin.create({ userId: node.ID.unique(), email: 'not-an-email', password: PASSWORD }), 400, 'general_argument_invalid');
  await rejectsWith(assert, admin.create({ userId: '_bad id', email: uniqueEmail(), password: PASSWORD }), 400, 'general_argument_invalid');
  const created = await admin.create({ userId: 'unique()', email: uniqueEmail(), password: PASSWORD });
  assert.match(created.$id, /^[0-9a-f]{20}$/);
});

test('two concurrent sign-ups with one email: exactly one wins', async () => {
  const admin = new node.Account(adminClient());
  const email = uniqueEmail('race');
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => admin.create({ userId: node.ID.unique(), email, password: PASSWORD })),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1);
  for (const r of lost) assert.equal(r.reason.type, 'user_already_exists');
});

test('login errors: wrong password and unknown email look the same; short password is 400', async () => {
  const { email } = await userClient();
  const guest = new web.Account(guestClient());
  await rejectsWith(assert, guest.createEmailPasswordSession({ email, password: 'wrong-password' }), 401, 'user_invalid_credentials');
  await rejectsWith(assert, guest.createEmailPasswordSession({ email: uniqueEmail('nobody'), password: PASSWORD }), 401, 'user_invalid_credentials');
  await rejectsWith(assert, guest.createEmailPasswordSession({ email, password: '1234567' }), 400, 'general_argument_invalid');
});

test('a second session while signed in is user_session_already_exists', async () => {
  const { client, email, password } = await userClient();
  await rejectsWith(assert, new node.Account(client).createEmailPasswordSession({ email, password }), 401, 'user_session_already_exists');
  await rejectsWith(assert, new node.Account(client).createAnonymousSession(), 401, 'user_session_already_exists');
});

test('brute force: the 11th login for one email within the hour is 429 with rate-limit headers', async () => {
  const { email } = await userClient();
  const attempt = () => raw('/account/sessions/email', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'wrong-password' }),
  });
  for (let i = 0; i < 10; i++) assertAppwriteError(assert, await attempt(), 401, 'user_invalid_credentials');
  const blocked = await attempt();
  assertAppwriteError(assert, blocked, 429, 'general_rate_limit_exceeded');
  assert.equal(blocked.headers.get('x-ratelimit-limit'), '10');
  assert.equal(blocked.headers.get('x-ratelimit-remaining'), '0');
  assert.ok(Number(blocked.headers.get('x-ratelimit-reset')) > Date.now() / 1000);
});

test('a deleted session secret no longer works; sessions can be extended and listed', async () => {
  const { client, session } = await userClient();
  const account = new node.Account(client);
  const extended = await account.updateSession({ sessionId: 'current' });
  assert.ok(new Date(extended.expire) >= new Date(session.expire));
  await rejectsWith(assert, account.getSession({ sessionId: 'no-such-session' }), 404, 'user_session_not_found');
  await account.deleteSessions();
  await rejectsWith(assert, account.get(), 401, 'general_unauthorized_scope');
});

test('password change needs the old password', async () => {
  const { client, email, password } = await userClient();
  const account = new node.Account(client);
  await rejectsWith(assert, account.updatePassword({ password: 'another-pass-1', oldPassword: 'wrong-old-pass' }), 401, 'user_invalid_credentials');
  await account.updatePassword({ password: 'another-pass-1', oldPassword: password });
  const admin = new node.Account(adminClient());
  await rejectsWith(assert, admin.createEmailPasswordSession({ email, password }), 401, 'user_invalid_credentials');
  assert.ok((await admin.createEmailPasswordSession({ email, password: 'another-pass-1' })).secret);
});

test('a blocked user loses its sessions and cannot log in', async () => {
  const { client, email, password } = await userClient();
  const blocked = await new node.Account(client).updateStatus();
  assert.equal(blocked.status, false);
  await rejectsWith(assert, new node.Account(client).get(), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Account(adminClient()).createEmailPasswordSession({ email, password }), 403, 'user_blocked');
});

test('the oldest sessions beyond ten are dropped', async () => {
  const { client, email, password } = await userClient();
  const admin = new node.Account(adminClient());
  for (let i = 0; i < 10; i++) await admin.createEmailPasswordSession({ email, password });
  // The first session (the client's) was the oldest of eleven.
  await rejectsWith(assert, new node.Account(client).get(), 401, 'general_unauthorized_scope');
});

test('sign-ups are limited to ten per hour per IP', async () => {
  // A client address of its own gives the test a fresh counter: connect from another loopback
  // address and say so in X-Forwarded-For, the header the suite's deployment trusts.
  const ip = `127.0.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  const url = new URL(`${endpoint}/account`);
  const signUp = () => new Promise((resolve, reject) => {
    const body = JSON.stringify({ userId: 'unique()', email: uniqueEmail('limit'), password: PASSWORD });
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: ip,
      headers: { 'content-type': 'application/json', 'x-appwrite-project': projectId, 'x-forwarded-for': ip, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
  for (let i = 0; i < 10; i++) assert.equal((await signUp()).status, 201);
  const limited = await signUp();
  assert.equal(limited.status, 429);
  assert.equal(limited.json.type, 'general_rate_limit_exceeded');
  // The API key is exempt.
  const admin = new node.Account(adminClient());
  assert.ok((await admin.create({ userId: node.ID.unique(), email: uniqueEmail(), password: PASSWORD })).$id);
});

test('phone and email changes: password required, taken values refused', async () => {
  const { client, password } = await userClient();
  const account = new node.Account(client);
  const phone = `+1555${String(Date.now()).slice(-7)}`;
  await rejectsWith(assert, account.updatePhone({ phone, password: 'wrong-password' }), 401, 'user_invalid_credentials');
  await rejectsWith(assert, account.updatePhone({ phone: '555-1234', password }), 400, 'general_argument_invalid');
  const updated = await account.updatePhone({ phone, password });
  assert.equal(updated.phone, phone);
  assert.equal(updated.phoneVerification, false);
  const other = await userClient();
  await rejectsWith(assert, new node.Account(other.client).updatePhone({ phone, password: other.password }), 409, 'user_target_already_exists');
  await rejectsWith(assert, new node.Account(other.client).updateEmail({ email: updated.email, password: other.password }), 409, 'user_target_already_exists');
});

// `cargo xtask test` runs the suite with EDGEWRITE_PASSWORD_HISTORY=3 and
// EDGEWRITE_PASSWORD_PERSONAL_DATA=on; against a server without them these two tests are skipped.
const policies = process.env.EDGEWRITE_POLICIES_ON === '1';

test('password history refuses a recent password', { skip: !policies && 'password policies are off' }, async () => {
  const { client, password } = await userClient();
  const account = new node.Account(client);
  await rejectsWith(assert, account.updatePassword({ password, oldPassword: password }), 400, 'password_recently_used');
  await account.updatePassword({ password: 'second-pass-22', oldPassword: password });
  await account.updatePassword({ password: 'third-pass-333', oldPassword: 'second-pass-22' });
  await rejectsWith(assert, account.updatePassword({ password, oldPassword: 'third-pass-333' }), 400, 'password_recently_used');
});

test('personal data in a password is refused', { skip: !policies && 'password policies are off' }, async () => {
  const admin = new node.Account(adminClient());
  const email = uniqueEmail('pd');
  const local = email.split('@')[0];
  await rejectsWith(assert, admin.create({ userId: node.ID.unique(), email, password: `x-${local}-1` }), 400, 'password_personal_data');
  await rejectsWith(assert, admin.create({ userId: node.ID.unique(), email, password: 'my grace hopper pass', name: 'Grace Hopper' }), 400, 'password_personal_data');
  const { client, user, password } = await userClient();
  await rejectsWith(assert, new node.Account(client).updatePassword({ password: `${user.$id}!!`, oldPassword: password }), 400, 'password_personal_data');
});

test('identities: a password user has none, and deleting an unknown one is user_identity_not_found', async () => {
  const { client } = await userClient();
  const account = new node.Account(client);
  const list = await account.listIdentities();
  assert.equal(list.total, 0);
  assert.deepEqual([...list.identities], []);
  await rejectsWith(assert, account.deleteIdentity({ identityId: 'nope' }), 404, 'user_identity_not_found');
});

test('common passwords are refused by default, in any case', async () => {
  const admin = new node.Account(adminClient());
  for (const password of ['12345678', 'Password1', 'QWERTYUIOP']) {
    await rejectsWith(assert, admin.create({ userId: node.ID.unique(), email: uniqueEmail('common'), password }), 400, 'general_argument_invalid');
  }
  const { client, password } = await userClient();
  await rejectsWith(assert, new node.Account(client).updatePassword({ password: 'iloveyou', oldPassword: password }), 400, 'general_argument_invalid');
});

test('a made-up API key neither skips the origin check nor borrows the session', async () => {
  const { session } = await userClient();
  const cookie = `a_session_${projectId}=${session.secret}`;
  const evil = await raw('/account', { headers: { origin: 'https://evil.example', 'x-appwrite-key': 'x_y', cookie } });
  assertAppwriteError(assert, evil, 403, 'general_unknown_origin');
  const bogus = await raw('/account', { headers: { 'x-appwrite-key': 'x_y', cookie } });
  assertAppwriteError(assert, bogus, 401, 'general_unauthorized_scope');
  assert.equal((await raw('/account', { headers: { cookie } })).status, 200);
});

test('prefs keep the order the client wrote them in, nested objects too (as Appwrite does)', async () => {
  const { client } = await userClient();
  const account = new node.Account(client);
  await account.updatePrefs({ prefs: { zeta: 1, alpha: { yankee: 1, bravo: 2 }, mike: [3, 1] } });
  const prefs = (await account.get()).prefs;
  assert.deepEqual(Object.keys(prefs), ['zeta', 'alpha', 'mike']);
  assert.deepEqual(Object.keys(prefs.alpha), ['yankee', 'bravo']);
  assert.deepEqual(Object.keys(await account.getPrefs()), ['zeta', 'alpha', 'mike']);
});

test('DELETE /account: the user deletes itself; its sessions end, its memberships go, its email is free again, its id is not', async () => {
  const { user, session, email, client } = await userClient();
  const team = await new node.Teams(client).create({ teamId: node.ID.unique(), name: 'left behind' });
  const other = await userClient();
  const headers = { 'x-appwrite-session': session.secret };
  // Nobody deletes an account without being signed in as it.
  assertAppwriteError(assert, await raw('/account', { method: 'DELETE' }), 401, 'general_unauthorized_scope');
  const deleted = await raw('/account', { method: 'DELETE', headers });
  assert.equal(deleted.status, 204, deleted.text);
  assert.ok(deleted.headers.getSetCookie().some((c) => c.startsWith(`a_session_${projectId}=;`) || /a_session_[^=]+=;/.test(c)), 'the cookies go');
  assertAppwriteError(assert, await raw('/account', { headers }), 401, 'general_unauthorized_scope');
  const users = new node.Users(adminClient());
  await rejectsWith(assert, users.get({ userId: user.$id }), 404, 'user_not_found');
  assert.equal((await new node.Teams(adminClient()).listMemberships({ teamId: team.$id })).total, 0);
  // The other user is untouched.
  assert.equal((await users.get({ userId: other.user.$id })).email, other.email);
  // The email signs up again, under a new id; the old id stays retired.
  const again = await new node.Account(adminClient()).create({ userId: node.ID.unique(), email, password: 'another-horse-9' });
  assert.equal(again.email, email);
  await rejectsWith(assert, users.create({ userId: user.$id, email: uniqueEmail('reuse') }), 409, 'user_already_exists');
});

test('a session remembers the country it was created from, as Appwrite\'s countryCode and countryName', async () => {
  const email = uniqueEmail('country');
  await new node.Users(adminClient()).create({ userId: node.ID.unique(), email, password: PASSWORD });
  const login = async (country) => raw('/account/sessions/email', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-ipcountry': country, 'x-forwarded-for': `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}` },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  const fr = await login('FR');
  assert.equal(fr.status, 201, fr.text);
  assert.deepEqual([fr.json.countryCode, fr.json.countryName], ['FR', 'France']);
  const nowhere = await login('XX');
  assert.deepEqual([nowhere.json.countryCode, nowhere.json.countryName], ['--', 'Unknown']);
  const listed = await raw(`/users/${fr.json.userId}/sessions`, { key: true });
  assert.deepEqual(listed.json.sessions.map((s) => s.countryCode).sort(), ['--', 'FR']);
});

test('a session names its client, OS and device from the User-Agent, as Appwrite does', async () => {
  const email = uniqueEmail('agent');
  await new node.Users(adminClient()).create({ userId: node.ID.unique(), email, password: PASSWORD });
  const login = async (headers, key = false) => {
    const res = await raw('/account/sessions/email', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.8.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`, ...headers },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    assert.equal(res.status, 201, res.text);
    const fields = ['clientType', 'clientCode', 'clientName', 'clientVersion', 'clientEngine', 'osCode', 'osName', 'osVersion', 'deviceName', 'deviceBrand', 'deviceModel'];
    return Object.fromEntries(fields.map((f) => [f, res.json[f]]));
  };
  const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
  assert.deepEqual(await login({ 'user-agent': iphone }), {
    clientType: 'browser', clientCode: 'MF', clientName: 'Mobile Safari', clientVersion: '17.0', clientEngine: 'WebKit',
    osCode: 'IOS', osName: 'iOS', osVersion: '17.0', deviceName: 'smartphone', deviceBrand: 'Apple', deviceModel: 'iPhone',
  });
  assert.deepEqual(await login({ 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' }), {
    clientType: 'browser', clientCode: 'CH', clientName: 'Chrome', clientVersion: '131.0', clientEngine: 'Blink',
    osCode: 'WIN', osName: 'Windows', osVersion: '10', deviceName: 'desktop', deviceBrand: '', deviceModel: '',
  });
  assert.deepEqual(await login({ 'user-agent': 'curl/8.5.0' }), {
    clientType: 'library', clientCode: '', clientName: 'curl', clientVersion: '8.5', clientEngine: '',
    osCode: '', osName: '', osVersion: '', deviceName: '', deviceBrand: '', deviceModel: '',
  });
  // A server signing a browser in (SSR) names the browser in X-Forwarded-User-Agent; only a key
  // may, so a browser cannot dress up as another device.
  assert.equal((await login({ 'user-agent': 'node', 'x-forwarded-user-agent': iphone }, true)).deviceModel, 'iPhone');
  assert.equal((await login({ 'user-agent': 'curl/8.5.0', 'x-forwarded-user-agent': iphone })).clientName, 'curl');
  // Listed sessions carry the same, as the web SDK reads them for a "your devices" screen.
  const listed = await raw(`/users?queries[]=${encodeURIComponent(JSON.stringify({ method: 'equal', attribute: 'email', values: [email] }))}`, { key: true });
  const sessions = await raw(`/users/${listed.json.users[0].$id}/sessions`, { key: true });
  assert.ok(sessions.json.sessions.some((s) => s.clientCode === 'MF' && s.osCode === 'IOS'));
});
