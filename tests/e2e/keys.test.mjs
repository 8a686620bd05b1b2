// API keys (node-appwrite's Project service): scopes, expiry, hashed storage, and what a key
// lacking a scope gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, raw, assertAppwriteError, rejectsWith, node, endpoint, projectId, uniqueEmail } from './helpers.mjs';

const project = () => new node.Project(adminClient());
const keyClient = (secret) => new node.Client().setEndpoint(endpoint).setProject(projectId).setKey(secret);

test('a users.read key reads users, cannot create them, and its value is shown only once', async () => {
  const p = project();
  const key = await p.createKey({ keyId: node.ID.unique(), name: 'reader', scopes: ['users.read'] });
  assert.match(key.secret, /^standard_[0-9a-f]{256}$/);
  assert.deepEqual(key.scopes, ['users.read']);
  assert.equal(key.expire, '');

  const reader = new node.Users(keyClient(key.secret));
  const list = await reader.list({ queries: [node.Query.limit(1)] });
  assert.ok(Array.isArray(list.users));
  await assert.rejects(reader.create({ userId: node.ID.unique(), email: uniqueEmail('nope') }), (e) => {
    assert.equal(e.code, 401);
    assert.equal(e.type, 'general_unauthorized_scope');
    assert.match(e.message, new RegExp(`^app\\.${projectId}@service\\.[^ ]+ \\(role: applications\\) missing scopes \\(\\["users\\.write"\\]\\)$`));
    return true;
  });
  await rejectsWith(assert, new node.Teams(keyClient(key.secret)).list(), 401, 'general_unauthorized_scope');

  // After creation the value never appears again, in any response.
  const got = await raw(`/project/keys/${key.$id}`, { key: true });
  assert.equal(got.status, 200);
  assert.equal(got.json.secret, '');
  const listed = await raw('/project/keys', { key: true });
  assert.ok(listed.json.keys.some((k) => k.$id === key.$id));
  for (const res of [got, listed]) assert.ok(!res.text.includes(key.secret.slice(9, 40)), 'no part of the value leaks');
  assert.notEqual((await p.getKey({ keyId: key.$id })).accessedAt, '', 'use is recorded');

  await p.deleteKey({ keyId: key.$id });
  await rejectsWith(assert, reader.list(), 401, 'user_unauthorized');
  await rejectsWith(assert, p.getKey({ keyId: key.$id }), 404, 'key_not_found');
});

test('expired keys get project_key_expired; updating the expiry revives them', async () => {
  const p = project();
  const future = new Date(Date.now() + 3600_000).toISOString();
  const key = await p.createKey({ keyId: node.ID.unique(), name: 'expiring', scopes: ['users.read'], expire: future });
  const users = new node.Users(keyClient(key.secret));
  await users.list();
  await p.updateKey({ keyId: key.$id, name: 'expired', scopes: ['users.read'], expire: new Date(Date.now() - 1000).toISOString() });
  await rejectsWith(assert, users.list(), 401, 'project_key_expired');
  await p.updateKey({ keyId: key.$id, name: 'revived', scopes: ['users.read'], expire: null });
  await users.list();
  await p.deleteKey({ keyId: key.$id });
});

test('a key cannot mint a stronger key; bad scopes and ids are refused', async () => {
  const p = project();
  const future = new Date(Date.now() + 3600_000).toISOString();
  const minter = await p.createKey({ keyId: node.ID.unique(), name: 'minter', scopes: ['project.read', 'project.write', 'users.read'], expire: future });
  const fromMinter = new node.Project(keyClient(minter.secret));
  await rejectsWith(assert, fromMinter.createKey({ keyId: node.ID.unique(), name: 'x', scopes: ['users.write'], expire: future }), 400, 'general_argument_invalid');
  await rejectsWith(assert, fromMinter.createKey({ keyId: node.ID.unique(), name: 'x', scopes: ['users.read'] }), 400, 'general_argument_invalid');
  const weaker = await fromMinter.createKey({ keyId: node.ID.unique(), name: 'weaker', scopes: ['users.read'], expire: future });
  assert.deepEqual(weaker.scopes, ['users.read']);
  await rejectsWith(assert, p.createKey({ keyId: weaker.$id, name: 'dup', scopes: [] }), 409, 'key_already_exists');
  await rejectsWith(assert, p.createKey({ keyId: node.ID.unique(), name: 'bad', scopes: ['root'] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, p.createKey({ keyId: node.ID.unique(), name: 'bad', scopes: [], expire: 'tomorrow' }), 400, 'general_argument_invalid');
  await p.deleteKey({ keyId: weaker.$id });
  await p.deleteKey({ keyId: minter.$id });
});

test('stored keys: server callers skip the origin check; made-up keys do not', async () => {
  const p = project();
  const key = await p.createKey({ keyId: node.ID.unique(), name: 'origin', scopes: ['users.read'] });
  const ok = await raw('/users', { headers: { 'x-appwrite-key': key.secret, origin: 'https://evil.example' } });
  assert.equal(ok.status, 200);
  const forged = await raw('/users', { headers: { 'x-appwrite-key': `standard_${'0'.repeat(256)}`, origin: 'https://evil.example' } });
  assertAppwriteError(assert, forged, 403, 'general_unknown_origin');
  const unknown = await raw('/users', { headers: { 'x-appwrite-key': `standard_${'0'.repeat(256)}` } });
  assertAppwriteError(assert, unknown, 401, 'user_unauthorized');
  // Key management itself needs the project scopes.
  const noProject = await raw('/project/keys', { headers: { 'x-appwrite-key': key.secret } });
  assertAppwriteError(assert, noProject, 401, 'general_unauthorized_scope');
  await p.deleteKey({ keyId: key.$id });
});
