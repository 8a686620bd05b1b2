// Multi-factor authentication through the official SDK: TOTP enrolment with a code computed here
// from the secret, sessions that must pass a challenge before anything else, recovery codes
// that work once, and email challenges delivered for real.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { adminClient, rejectsWith, node, endpoint, projectId, uniqueEmail } from './helpers.mjs';
import { startSinks, codeIn } from './sinks.mjs';

let sinks;
before(async () => { sinks = await startSinks(); });
after(async () => { await sinks.close(); });

const PASSWORD = 'mfa-password-42';

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits), computed independently of edgewrite. */
function totp(secret, ms = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 1000 / 30)));
  const digest = crypto.createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = digest[19] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A fresh password session for `email`, as node-appwrite's SSR pattern makes one. */
async function login(email) {
  const session = await new node.Account(adminClient()).createEmailPasswordSession({ email, password: PASSWORD });
  const client = new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(session.secret);
  return { account: new node.Account(client), session };
}

test('TOTP: enrol, then every new session must pass a challenge; recovery codes work once', async () => {
  const email = uniqueEmail('mfa');
  await new node.Users(adminClient()).create({ userId: node.ID.unique(), email, password: PASSWORD });
  const { account } = await login(email);

  const { secret, uri } = await account.createMFAAuthenticator({ type: node.AuthenticatorType.Totp });
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.match(uri, new RegExp(`^otpauth://totp/.+\\?secret=${secret}&issuer=`));
  await rejectsWith(assert, account.updateMFAAuthenticator({ type: node.AuthenticatorType.Totp, otp: totp(secret, Date.now() - 300_000) }), 401, 'user_invalid_token');
  const enrolledAt = Date.now();
  await account.updateMFAAuthenticator({ type: node.AuthenticatorType.Totp, otp: totp(secret, enrolledAt) });
  await rejectsWith(assert, account.createMFAAuthenticator({ type: node.AuthenticatorType.Totp }), 409, 'user_authenticator_already_verified');
  const { recoveryCodes } = await account.createMFARecoveryCodes();
  assert.equal(recoveryCodes.length, 10);
  await rejectsWith(assert, account.createMFARecoveryCodes(), 409, 'user_recovery_codes_already_exists');
  // Showing the codes needs a recent challenge: a plain password session has none.
  const plain = await login(email);
  await rejectsWith(assert, plain.account.getMFARecoveryCodes(), 401, 'user_challenge_required');
  await rejectsWith(assert, plain.account.deleteMFAAuthenticator({ type: node.AuthenticatorType.Totp }), 401, 'user_challenge_required');
  assert.equal((await account.updateMFA({ mfa: true })).mfa, true);
  // This session passed TOTP when enrolling: it is fully signed in.
  assert.equal((await account.get()).email, email);

  // A new session is stuck until it passes a second factor.
  const second = await login(email);
  assert.deepEqual(second.session.factors, ['password']);
  await rejectsWith(assert, second.account.get(), 401, 'user_more_factors_required');
  const factors = await second.account.listMFAFactors();
  assert.equal(factors.totp, true);
  assert.equal(factors.recoveryCode, true);
  const challenge = await second.account.createMFAChallenge({ factor: node.AuthenticationFactor.Totp });
  await rejectsWith(assert, second.account.updateMFAChallenge({ challengeId: challenge.$id, otp: '000000' === totp(secret) ? '111111' : '000000' }), 401, 'user_invalid_token');
  const again = await second.account.createMFAChallenge({ factor: node.AuthenticationFactor.Totp });
  // Each TOTP code works once: the enrolment used this step's code, so answer with the next
  // step's (accepted within one step of drift).
  await rejectsWith(assert, second.account.updateMFAChallenge({ challengeId: again.$id, otp: totp(secret, enrolledAt) }), 401, 'user_invalid_token');
  const again2 = await second.account.createMFAChallenge({ factor: node.AuthenticationFactor.Totp });
  const passed = await second.account.updateMFAChallenge({ challengeId: again2.$id, otp: totp(secret, enrolledAt + 30_000) });
  assert.deepEqual(passed.factors, ['password', 'totp']);
  assert.notEqual(passed.mfaUpdatedAt, '');
  assert.equal((await second.account.get()).email, email);
  assert.deepEqual((await second.account.getMFARecoveryCodes()).recoveryCodes, recoveryCodes);

  // A recovery code is a factor, once.
  const third = await login(email);
  const rc = await third.account.createMFAChallenge({ factor: node.AuthenticationFactor.Recoverycode });
  await third.account.updateMFAChallenge({ challengeId: rc.$id, otp: recoveryCodes[0] });
  assert.equal((await third.account.get()).email, email);
  const fourth = await login(email);
  const rc2 = await fourth.account.createMFAChallenge({ factor: node.AuthenticationFactor.Recoverycode });
  await rejectsWith(assert, fourth.account.updateMFAChallenge({ challengeId: rc2.$id, otp: recoveryCodes[0] }), 401, 'user_invalid_token');
  await rejectsWith(assert, fourth.account.getMFARecoveryCodes(), 401, 'user_more_factors_required');

  await second.account.deleteMFAAuthenticator({ type: node.AuthenticatorType.Totp });
  assert.equal((await second.account.listMFAFactors()).totp, false);
  // The stuck session can always end itself.
  await fourth.account.deleteSession({ sessionId: 'current' });
});

test('email challenge: the code arrives by email and passes the second factor', async () => {
  const email = uniqueEmail('mfa-email');
  const users = new node.Users(adminClient());
  const user = await users.create({ userId: node.ID.unique(), email, password: PASSWORD });
  await users.updateEmailVerification({ userId: user.$id, emailVerification: true });
  await users.updateMfa({ userId: user.$id, mfa: true });
  const { account } = await login(email);
  await rejectsWith(assert, account.get(), 401, 'user_more_factors_required');
  const challenge = await account.createMFAChallenge({ factor: node.AuthenticationFactor.Email });
  const code = codeIn((await sinks.email(email)).text);
  const session = await account.updateMFAChallenge({ challengeId: challenge.$id, otp: code });
  assert.deepEqual(session.factors, ['password', 'email']);
  assert.equal((await account.get()).$id, user.$id);
  await rejectsWith(assert, account.updateMFAChallenge({ challengeId: challenge.$id, otp: code }), 401, 'user_invalid_token');
  // The server sees and resets a user's factors.
  assert.equal((await users.listMfaFactors({ userId: user.$id })).email, true);
  await rejectsWith(assert, users.getMfaRecoveryCodes({ userId: user.$id }), 404, 'user_recovery_codes_not_found');
  const created = await users.createMfaRecoveryCodes({ userId: user.$id });
  assert.equal(created.recoveryCodes.length, 10);
  const regenerated = await users.updateMfaRecoveryCodes({ userId: user.$id });
  assert.notDeepEqual(regenerated.recoveryCodes, created.recoveryCodes);
});
