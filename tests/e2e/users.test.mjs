// Users (server side, node-appwrite with an API key): lifecycle, queries, imported password
// hashes that the web SDK then logs in with, sessions, tokens, JWTs and targets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { argon2id, bcrypt } from 'hash-wasm';
import {
  adminClient, guestClient, raw, assertAppwriteError, rejectsWith, node, web, endpoint, projectId,
  uniqueEmail, installFallbackStorage,
} from './helpers.mjs';

const PASSWORD = 'correct-horse-9';
const users = () => new node.Users(adminClient());

/** Logs in through the web SDK (fallback-cookie storage, as in a browser without 3rd-party cookies). */
async function webLogin(email, password) {
  installFallbackStorage();
  const account = new web.Account(guestClient());
  await account.createEmailPasswordSession({ email, password });
  return account;
}

test('user lifecycle: create, get, update every field, block, delete', async () => {
  const u = users();
  const email = uniqueEmail('life');
  const created = await u.create({ userId: node.ID.unique(), email, password: PASSWORD, name: 'Life' });
  assert.equal(created.email, email);
  assert.equal(created.hash, 'argon2');
  assert.match(created.password, /^\$argon2id\$v=19\$m=7168,t=5,p=1\$/);
  assert.equal(created.hashOptions.type, 'argon2');
  assert.equal(created.targets.length, 1, 'an email target is created with the user');
  assert.equal(created.targets[0].providerType, 'email');
  assert.equal(created.targets[0].identifier, email);

  const id = created.$id;
  assert.equal((await u.get({ userId: id })).name, 'Life');
  assert.equal((await u.updateName({ userId: id, name: 'Renamed' })).name, 'Renamed');
  const email2 = uniqueEmail('life2');
  const moved = await u.updateEmail({ userId: id, email: email2 });
  assert.equal(moved.email, email2);
  assert.deepEqual(moved.targets.map((t) => t.identifier), [email2], 'the email target follows the email');
  const phone = `+1555${Math.floor(Math.random() * 1e7).toString().padStart(7, '0')}`;
  const phoned = await u.updatePhone({ userId: id, number: phone });
  assert.equal(phoned.phone, phone);
  assert.ok(phoned.targets.some((t) => t.providerType === 'sms' && t.identifier === phone));
  assert.deepEqual((await u.updateLabels({ userId: id, labels: ['vip', 'beta', 'vip'] })).labels, ['vip', 'beta']);
  assert.equal((await u.updateEmailVerification({ userId: id, emailVerification: true })).emailVerification, true);
  assert.equal((await u.updatePhoneVerification({ userId: id, phoneVerification: true })).phoneVerification, true);
  assert.deepEqual({ ...(await u.updatePrefs({ userId: id, prefs: { a: 1 } })) }, { a: 1 });
  assert.deepEqual({ ...(await u.getPrefs({ userId: id })) }, { a: 1 });
  assert.equal((await u.updateMfa({ userId: id, mfa: true })).mfa, true);
  const factors = await u.listMfaFactors({ userId: id });
  assert.deepEqual({ ...factors }, { totp: false, email: true, phone: true, recoveryCode: false });
  await u.updateMfa({ userId: id, mfa: false });

  // A new password works for login; the old one no longer does.
  await u.updatePassword({ userId: id, password: 'another-horse-7' });
  await webLogin(email2, 'another-horse-7');
  await rejectsWith(assert, webLogin(email2, PASSWORD), 401, 'user_invalid_credentials');

  // Blocking ends the user's sessions and refuses new ones.
  const session = await u.createSession({ userId: id });
  const asUser = new node.Account(new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(session.secret));
  assert.equal((await asUser.get()).$id, id);
  assert.equal((await u.updateStatus({ userId: id, status: false })).status, false);
  assert.equal((await u.listSessions({ userId: id })).total, 0);
  await rejectsWith(assert, asUser.get(), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, webLogin(email2, 'another-horse-7'), 403, 'user_blocked');
  await u.updateStatus({ userId: id, status: true });

  await u.delete({ userId: id });
  await rejectsWith(assert, u.get({ userId: id }), 404, 'user_not_found');
  await rejectsWith(assert, u.delete({ userId: id }), 404, 'user_not_found');
  // Its email is free again.
  await u.create({ userId: node.ID.unique(), email: email2 });
});

test('create: optional fields, conflicts and bad input', async () => {
  const u = users();
  const bare = await u.create({ userId: node.ID.unique() });
  assert.equal(bare.email, '');
  assert.equal(bare.password, '');
  assert.deepEqual(bare.targets, []);
  const email = uniqueEmail('dup');
  const first = await u.create({ userId: node.ID.unique(), email });
  await rejectsWith(assert, u.create({ userId: node.ID.unique(), email }), 409, 'user_email_already_exists');
  await rejectsWith(assert, u.create({ userId: first.$id }), 409, 'user_already_exists');
  await rejectsWith(assert, u.create({ userId: node.ID.unique(), email: 'not-an-email' }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.create({ userId: '_bad' }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.create({ userId: node.ID.unique(), password: 'short' }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.updateLabels({ userId: first.$id, labels: ['no spaces'] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.get({ userId: 'missing-user' }), 404, 'user_not_found');
  const other = await u.create({ userId: node.ID.unique(), email: uniqueEmail('other') });
  await rejectsWith(assert, u.updateEmail({ userId: other.$id, email }), 409, 'user_email_already_exists');
});

test('list: queries, search, cursor pagination, total, and invalid queries', async () => {
  const u = users();
  const tag = `q${Date.now().toString(36)}`;
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push(await u.create({ userId: node.ID.unique(), email: `${tag}-${i}@example.com`, name: `${tag} person ${i}` }));
  }
  await u.updateLabels({ userId: made[1].$id, labels: [tag] });
  await u.updateStatus({ userId: made[2].$id, status: false });

  const found = await u.list({ queries: [node.Query.equal('email', [`${tag}-3@example.com`])] });
  assert.deepEqual(found.users.map((x) => x.$id), [made[3].$id]);
  assert.equal(found.total, 1);
  const searched = await u.list({ search: tag });
  assert.deepEqual(searched.users.map((x) => x.$id), made.map((x) => x.$id));
  const labelled = await u.list({ queries: [node.Query.contains('labels', [tag])] });
  assert.deepEqual(labelled.users.map((x) => x.$id), [made[1].$id]);
  const blocked = await u.list({ search: tag, queries: [node.Query.equal('status', [false])] });
  assert.deepEqual(blocked.users.map((x) => x.$id), [made[2].$id]);
  const desc = await u.list({ search: tag, queries: [node.Query.orderDesc('name'), node.Query.limit(2)] });
  assert.deepEqual(desc.users.map((x) => x.$id), [made[4].$id, made[3].$id]);
  assert.equal(desc.total, 5, 'total ignores the limit');

  // Cursor pages join up to the whole ordered list.
  const seen = [];
  let cursor;
  for (;;) {
    const queries = [node.Query.limit(2)];
    if (cursor) queries.push(node.Query.cursorAfter(cursor));
    const page = await u.list({ search: tag, queries });
    seen.push(...page.users.map((x) => x.$id));
    if (page.users.length < 2) break;
    cursor = page.users.at(-1).$id;
  }
  assert.deepEqual(seen, made.map((x) => x.$id));
  const before = await u.list({ search: tag, queries: [node.Query.cursorBefore(made[3].$id), node.Query.limit(2)] });
  assert.deepEqual(before.users.map((x) => x.$id), [made[1].$id, made[2].$id]);

  const noTotal = await u.list({ search: tag, total: false });
  assert.equal(noTotal.total, 0);
  assert.equal(noTotal.users.length, 5);

  await rejectsWith(assert, u.list({ queries: [node.Query.limit(5001)] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.list({ queries: [node.Query.equal('password', ['x'])] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.list({ queries: ['{not json'] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.list({ queries: [node.Query.cursorAfter('no-such-user')] }), 400, 'general_cursor_not_found');
});

// --- password hashes made elsewhere -------------------------------------------------------

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function phpassEncode64(input, count) {
  let out = '';
  let i = 0;
  while (i < count) {
    let value = input[i++];
    out += ITOA64[value & 0x3f];
    if (i < count) value |= input[i] << 8;
    out += ITOA64[(value >> 6) & 0x3f];
    if (i++ >= count) break;
    if (i < count) value |= input[i] << 16;
    out += ITOA64[(value >> 12) & 0x3f];
    if (i++ >= count) break;
    out += ITOA64[(value >> 18) & 0x3f];
  }
  return out;
}

/** A portable phpass hash (WordPress' `$P$`), 2^8 rounds. */
function phpass(password) {
  const salt = crypto.randomBytes(6).toString('base64').replace(/\+/g, '.').replace(/=/g, '').slice(0, 8);
  const md5 = (...parts) => crypto.createHash('md5').update(Buffer.concat(parts)).digest();
  const pw = Buffer.from(password);
  let hash = md5(Buffer.from(salt), pw);
  for (let i = 0; i < 1 << 8; i++) hash = md5(hash, pw);
  return `$P$${ITOA64[8]}${salt}${phpassEncode64(hash, 16)}`;
}

/** Firebase's modified scrypt, as its user export describes it. */
function firebaseScrypt(password, saltB64, separatorB64, signerKeyB64) {
  const salt = Buffer.concat([Buffer.from(saltB64, 'base64'), Buffer.from(separatorB64, 'base64')]);
  const derived = crypto.scryptSync(password, salt, 64, { N: 16384, r: 8, p: 1 });
  const cipher = crypto.createCipheriv('aes-256-ctr', derived.subarray(0, 32), Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.from(signerKeyB64, 'base64')), cipher.final()]).toString('base64');
}

const hex = (algo, s) => crypto.createHash(algo).update(s).digest('hex');

const IMPORTS = {
  argon2: async (u, base, pw) => u.createArgon2User({
    ...base,
    password: await argon2id({ password: pw, salt: crypto.randomBytes(16), parallelism: 1, iterations: 2, memorySize: 4096, hashLength: 32, outputType: 'encoded' }),
  }),
  bcrypt: async (u, base, pw) => u.createBcryptUser({
    ...base,
    password: await bcrypt({ password: pw, salt: crypto.randomBytes(16), costFactor: 6, outputType: 'encoded' }),
  }),
  md5: async (u, base, pw) => u.createMD5User({ ...base, password: hex('md5', pw) }),
  'sha (default sha3-512)': async (u, base, pw) => u.createSHAUser({ ...base, password: hex('sha3-512', pw) }),
  'sha (sha256)': async (u, base, pw) => u.createSHAUser({ ...base, password: hex('sha256', pw), passwordVersion: 'sha256' }),
  phpass: async (u, base, pw) => u.createPHPassUser({ ...base, password: phpass(pw) }),
  scrypt: async (u, base, pw) => {
    const salt = crypto.randomBytes(8).toString('hex');
    return u.createScryptUser({
      ...base,
      password: crypto.scryptSync(pw, salt, 32, { N: 16, r: 8, p: 1 }).toString('hex'),
      passwordSalt: salt, passwordCpu: 16, passwordMemory: 8, passwordParallel: 1, passwordLength: 32,
    });
  },
  'scrypt-modified': async (u, base, pw) => {
    const salt = crypto.randomBytes(12).toString('base64');
    const separator = 'Bw==';
    const signer = crypto.randomBytes(48).toString('base64');
    return u.createScryptModifiedUser({
      ...base,
      password: firebaseScrypt(pw, salt, separator, signer),
      passwordSalt: salt, passwordSaltSeparator: separator, passwordSignerKey: signer,
    });
  },
};

for (const [kind, create] of Object.entries(IMPORTS)) {
  test(`import ${kind}: the web SDK logs in with the original password, and the hash becomes Argon2id`, async () => {
    const u = users();
    const email = uniqueEmail('import');
    const imported = await create(u, { userId: node.ID.unique(), email, name: kind }, PASSWORD);
    assert.notEqual(imported.hash, 'argon2id');
    if (kind.startsWith('sha')) assert.deepEqual({ ...imported.hashOptions }, { type: 'sha' }, 'the AlgoSha model is its type alone');
    await rejectsWith(assert, webLogin(email, 'wrong-password-1'), 401, 'user_invalid_credentials');
    const account = await webLogin(email, PASSWORD);
    assert.equal((await account.get()).$id, imported.$id);
    const upgraded = await u.get({ userId: imported.$id });
    assert.equal(upgraded.hash, 'argon2');
    assert.match(upgraded.password, /^\$argon2id\$/);
    // The new hash verifies too.
    await webLogin(email, PASSWORD);
  });
}

test('import: malformed hashes and hostile costs are refused', async () => {
  const u = users();
  const base = () => ({ userId: node.ID.unique(), email: uniqueEmail('badhash') });
  await rejectsWith(assert, u.createMD5User({ ...base(), password: 'zz' }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.createBcryptUser({ ...base(), password: 'plain' }), 400, 'general_argument_invalid');
  // 1 GiB of Argon2 memory would take the Worker down on every login attempt.
  const huge = '$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$' + 'A'.repeat(43);
  await rejectsWith(assert, u.createArgon2User({ ...base(), password: huge }), 400, 'general_argument_invalid');
  await rejectsWith(assert, u.createSHAUser({ ...base(), password: 'ab', passwordVersion: 'sha0' }), 400, 'general_argument_invalid');
});

test('sessions, tokens and JWTs made for a user', async () => {
  const u = users();
  const user = await u.create({ userId: node.ID.unique(), email: uniqueEmail('tok') });

  // A token from the server becomes a session in the browser.
  const token = await u.createToken({ userId: user.$id, length: 8, expire: 120 });
  assert.equal(token.secret.length, 8);
  installFallbackStorage();
  const account = new web.Account(guestClient());
  const session = await account.createSession({ userId: user.$id, secret: token.secret });
  assert.equal(session.provider, 'token');
  assert.equal((await account.get()).$id, user.$id);
  installFallbackStorage();
  await rejectsWith(assert, new web.Account(guestClient()).createSession({ userId: user.$id, secret: token.secret }), 401, 'user_invalid_token');

  const made = await u.createSession({ userId: user.$id });
  assert.ok(made.secret.length > 0, 'the server gets the session secret');
  const listed = await u.listSessions({ userId: user.$id });
  assert.equal(listed.total, 2);
  assert.ok(listed.sessions.every((s) => s.secret === ''), 'listed sessions never show a secret');

  const { jwt } = await u.createJWT({ userId: user.$id, sessionId: 'recent' });
  const viaJwt = new node.Account(new node.Client().setEndpoint(endpoint).setProject(projectId).setJWT(jwt));
  assert.equal((await viaJwt.get()).$id, user.$id);
  const { jwt: bare } = await u.createJWT({ userId: user.$id });
  const viaBare = new node.Account(new node.Client().setEndpoint(endpoint).setProject(projectId).setJWT(bare));
  assert.equal((await viaBare.get()).$id, user.$id, 'a JWT without a session stands for the user');
  await rejectsWith(assert, u.createJWT({ userId: user.$id, sessionId: 'nope' }), 404, 'user_session_not_found');

  await u.deleteSession({ userId: user.$id, sessionId: made.$id });
  await rejectsWith(assert, u.deleteSession({ userId: user.$id, sessionId: made.$id }), 404, 'user_session_not_found');
  await u.deleteSessions({ userId: user.$id });
  assert.equal((await u.listSessions({ userId: user.$id })).total, 0);
  await rejectsWith(assert, viaJwt.get(), 401, 'user_jwt_invalid');
});

test('targets: list, create, update, delete, conflicts', async () => {
  const u = users();
  const email = uniqueEmail('tgt');
  const user = await u.create({ userId: node.ID.unique(), email });
  const push = await u.createTarget({ userId: user.$id, targetId: node.ID.unique(), providerType: 'push', identifier: `device-${Date.now()}`, name: 'phone' });
  assert.equal(push.providerType, 'push');
  assert.equal(push.expired, false);
  const list = await u.listTargets({ userId: user.$id });
  assert.equal(list.total, 2);
  assert.equal((await u.updateTarget({ userId: user.$id, targetId: push.$id, name: 'tablet' })).name, 'tablet');
  assert.equal((await u.getTarget({ userId: user.$id, targetId: push.$id })).name, 'tablet');
  await rejectsWith(assert, u.createTarget({ userId: user.$id, targetId: node.ID.unique(), providerType: 'email', identifier: email }), 409, 'user_target_already_exists');
  await rejectsWith(assert, u.createTarget({ userId: user.$id, targetId: node.ID.unique(), providerType: 'email', identifier: 'nope' }), 400, 'general_argument_invalid');
  await u.deleteTarget({ userId: user.$id, targetId: push.$id });
  await rejectsWith(assert, u.getTarget({ userId: user.$id, targetId: push.$id }), 404, 'user_target_not_found');
});

test('identities and memberships lists answer the right shapes', async () => {
  const u = users();
  const user = await u.create({ userId: node.ID.unique() });
  const identities = await u.listIdentities({ queries: [node.Query.equal('userId', user.$id)] });
  assert.deepEqual([identities.total, identities.identities], [0, []]);
  const memberships = await u.listMemberships({ userId: user.$id });
  assert.equal(memberships.total, 0);
  await rejectsWith(assert, u.deleteIdentity({ identityId: 'x' }), 404, 'user_identity_not_found');
});

test('users routes are for API keys: clients get 401 general_unauthorized_scope', async () => {
  const res = await raw('/users');
  assertAppwriteError(assert, res, 401, 'general_unauthorized_scope');
  assert.equal(res.json.message, 'User (role: guests) missing scopes (["users.read"])');
  const post = await raw('/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userId":"unique()"}' });
  assertAppwriteError(assert, post, 401, 'general_unauthorized_scope');
});

test('impersonation: an impersonator acts as another user by id, email or phone; others cannot', async () => {
  const u = users();
  const make = async (tag, extra = {}) => u.create({ userId: node.ID.unique(), email: uniqueEmail(tag), password: PASSWORD, name: tag, ...extra });
  const [actor, target, bystander] = await Promise.all([make('actor'), make('target'), make('bystander')]);
  const phone = `+1555${Math.floor(1e6 + Math.random() * 8e6)}`;
  await u.updatePhone({ userId: target.$id, number: phone });
  await u.updatePrefs({ userId: target.$id, prefs: { theme: 'target-only' } });
  const session = await u.createSession({ userId: actor.$id });
  const asActor = () => new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(session.secret);
  const headers = { 'x-appwrite-session': session.secret };

  // Not an impersonator yet: the headers pick nobody and users stay out of reach.
  const self = await new node.Account(asActor().setImpersonateUserId(target.$id)).get();
  assert.equal(self.$id, actor.$id);
  assert.equal(self.impersonator, false);
  assert.equal(self.impersonatorUserId, null);
  await rejectsWith(assert, new node.Users(asActor()).list(), 401, 'general_unauthorized_scope');

  const flagged = await u.updateImpersonator({ userId: actor.$id, impersonator: true });
  assert.equal(flagged.impersonator, true);
  assert.equal((await u.get({ userId: actor.$id })).impersonator, true);

  // An impersonator may browse users to pick a target, without their password hashes, and
  // may not change them or read their secrets.
  const listed = await new node.Users(asActor()).list({ queries: [node.Query.equal('$id', [target.$id])] });
  assert.equal(listed.total, 1);
  assert.equal(listed.users[0].email, target.email);
  assert.equal(listed.users[0].password, undefined);
  assert.equal((await new node.Users(asActor()).get({ userId: target.$id })).password, undefined);
  await rejectsWith(assert, new node.Users(asActor()).updateName({ userId: target.$id, name: 'x' }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Users(asActor()).getMFARecoveryCodes({ userId: target.$id }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, new node.Users(asActor()).listSessions({ userId: target.$id }), 401, 'general_unauthorized_scope');

  // By id (the SDK's setter), by email, by phone, and by query parameter (image URLs).
  const byId = await new node.Account(asActor().setImpersonateUserId(target.$id)).get();
  assert.equal(byId.$id, target.$id);
  assert.equal(byId.impersonatorUserId, actor.$id);
  assert.equal(byId.prefs.theme, 'target-only');
  for (const [name, value] of [['email', target.email.toUpperCase()], ['phone', phone]]) {
    const res = await raw('/account', { headers: { ...headers, [`x-appwrite-impersonate-user-${name}`]: value } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.$id, target.$id, name);
    assert.equal(res.json.impersonatorUserId, actor.$id);
  }
  const byQuery = await raw(`/account?impersonateuserid=${target.$id}`, { headers });
  assert.equal(byQuery.json.$id, target.$id);

  // The request runs as the target: what the target writes of its own is the target's.
  await new node.Account(asActor().setImpersonateUserId(target.$id)).updatePrefs({ prefs: { theme: 'set-by-support' } });
  assert.equal((await u.getPrefs({ userId: target.$id })).theme, 'set-by-support');
  assert.equal(Object.keys(await u.getPrefs({ userId: actor.$id })).length, 0);
  // What would let the impersonator keep the account is refused: credentials, tokens, factors.
  const asTarget = () => new node.Account(asActor().setImpersonateUserId(target.$id));
  await rejectsWith(assert, asTarget().updatePassword({ password: 'taken-over-9' }), 401, 'user_unauthorized');
  await rejectsWith(assert, asTarget().updateEmail({ email: uniqueEmail('grab'), password: PASSWORD }), 401, 'user_unauthorized');
  await rejectsWith(assert, asTarget().createJWT(), 401, 'user_unauthorized');
  await rejectsWith(assert, asTarget().updateMFA({ mfa: true }), 401, 'user_unauthorized');
  await rejectsWith(assert, asTarget().deleteSessions(), 401, 'user_unauthorized');
  // An unknown target leaves the impersonator itself.
  const unknown = await new node.Account(asActor().setImpersonateUserId('nobody-here')).get();
  assert.equal(unknown.$id, actor.$id);

  // A user that is not an impersonator cannot ride the same headers, even at the target.
  const other = await u.createSession({ userId: bystander.$id });
  const bystanderView = await raw('/account', { headers: { 'x-appwrite-session': other.secret, 'x-appwrite-impersonate-user-id': target.$id } });
  assert.equal(bystanderView.json.$id, bystander.$id);

  // Revoked: the headers pick nobody again, and browsing ends.
  await u.updateImpersonator({ userId: actor.$id, impersonator: false });
  assert.equal((await new node.Account(asActor().setImpersonateUserId(target.$id)).get()).$id, actor.$id);
  await rejectsWith(assert, new node.Users(asActor()).list(), 401, 'general_unauthorized_scope');
});
