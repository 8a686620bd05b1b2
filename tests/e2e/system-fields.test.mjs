// edgewrite's `…/system-fields` routes (what `edgewrite import` restores after writing a
// resource through the ordinary routes): an API key with `migrations.write` sets the times and
// server-made ids a migrated resource had; anything else is refused, and nobody else may.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputFile } from 'node-appwrite/file';
import { adminClient, assertAppwriteError, node, raw, uniqueEmail, userClient } from './helpers.mjs';

const T0 = '2021-03-04T05:06:07.089+00:00';
const T1 = '2022-05-06T07:08:09.123+00:00';
const T2 = '2023-07-08T09:10:11.456+00:00';

const patch = (path, body, options = {}) =>
  raw(path, { method: 'PATCH', key: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...options });

test('system fields: a user keeps its times, and its email target its id and times', async () => {
  const users = new node.Users(adminClient());
  const email = uniqueEmail('restored');
  const user = await users.create({ userId: node.ID.unique(), email, password: 'correct-horse-9', name: 'Restored' });
  const res = await patch(`/users/${user.$id}/system-fields`, {
    $createdAt: T0, $updatedAt: T2, passwordUpdate: T1,
    targets: [{ providerType: 'email', identifier: email, $id: `t-${user.$id}`, $createdAt: T0, $updatedAt: T1 }],
  });
  assert.equal(res.status, 204, res.text);
  const got = await users.get({ userId: user.$id });
  assert.deepEqual([got.$createdAt, got.registration, got.$updatedAt, got.passwordUpdate], [T0, T0, T2, T1]);
  assert.deepEqual(got.targets.map((t) => [t.$id, t.providerType, t.identifier, t.$createdAt, t.$updatedAt]), [[`t-${user.$id}`, 'email', email, T0, T1]]);
  assert.equal((await users.getTarget({ userId: user.$id, targetId: `t-${user.$id}` })).identifier, email);

  // A password that was never set is cleared with an empty string.
  assert.equal((await patch(`/users/${user.$id}/system-fields`, { passwordUpdate: '' })).status, 204);
  assert.equal((await users.get({ userId: user.$id })).passwordUpdate, '');
});

test('system fields: what is not a system field, a bad date, a missing resource are refused', async () => {
  const users = new node.Users(adminClient());
  const user = await users.create({ userId: node.ID.unique(), email: uniqueEmail('refused'), password: 'correct-horse-9' });
  const before = await users.get({ userId: user.$id });
  for (const body of [{ accessedAt: T0 }, { name: 'x' }, { $createdAt: 'last tuesday' }, { $createdAt: 5 }, { targets: 'x' }]) {
    assertAppwriteError(assert, await patch(`/users/${user.$id}/system-fields`, body), 400, 'general_argument_invalid');
  }
  const unknownTarget = { targets: [{ providerType: 'email', identifier: 'nobody@example.com', $id: 'x' }] };
  assertAppwriteError(assert, await patch(`/users/${user.$id}/system-fields`, unknownTarget), 404, 'user_target_not_found');
  assertAppwriteError(assert, await patch('/users/no-such-user/system-fields', { $createdAt: T0 }), 404, 'user_not_found');
  assertAppwriteError(assert, await patch('/databases/no-such-db/system-fields', { $createdAt: T0 }), 404, 'database_not_found');
  assertAppwriteError(assert, await patch('/storage/buckets/no-such-bucket/system-fields', { $createdAt: T0 }), 404, 'storage_bucket_not_found');
  // Nothing of a refused request was written.
  assert.deepEqual(await users.get({ userId: user.$id }), before);
});

test('system fields: only an API key may restore them, not a signed-in user or a guest', async () => {
  const { user, session } = await userClient();
  const asUser = { key: false, headers: { 'content-type': 'application/json', 'x-appwrite-session': session.secret } };
  const res = await patch(`/users/${user.$id}/system-fields`, { $createdAt: T0 }, asUser);
  assertAppwriteError(assert, res, 401, 'general_unauthorized_scope');
  const guest = await patch(`/users/${user.$id}/system-fields`, { $createdAt: T0 }, { key: false });
  assertAppwriteError(assert, guest, 401, 'general_unauthorized_scope');
  assert.notEqual((await new node.Users(adminClient()).get({ userId: user.$id })).$createdAt, T0);
});

test('system fields: a team and its memberships, a database, a collection with its attributes and indexes, a bucket and a file', async () => {
  const admin = adminClient();
  const member = await new node.Users(admin).create({ userId: node.ID.unique(), email: uniqueEmail('member') });
  const teams = new node.Teams(admin);
  const team = await teams.create({ teamId: node.ID.unique(), name: 'Restored team' });
  await teams.createMembership({ teamId: team.$id, roles: ['member'], userId: member.$id });
  const membershipId = `m-${team.$id}`.slice(0, 36);
  let res = await patch(`/teams/${team.$id}/system-fields`, {
    $createdAt: T0, $updatedAt: T2,
    memberships: [{ userId: member.$id, $id: membershipId, $createdAt: T0, $updatedAt: T1, invited: T0, joined: T1 }],
  });
  assert.equal(res.status, 204, res.text);
  const gotTeam = await teams.get({ teamId: team.$id });
  assert.deepEqual([gotTeam.$createdAt, gotTeam.$updatedAt, gotTeam.total], [T0, T2, 1]);
  const membership = await teams.getMembership({ teamId: team.$id, membershipId });
  assert.deepEqual([membership.userId, membership.$createdAt, membership.$updatedAt, membership.invited, membership.joined], [member.$id, T0, T1, T0, T1]);

  const databases = new node.Databases(admin);
  const db = await databases.create({ databaseId: node.ID.unique(), name: 'Restored' });
  const collection = await databases.createCollection({ databaseId: db.$id, collectionId: node.ID.unique(), name: 'c' });
  await databases.createIntegerAttribute({ databaseId: db.$id, collectionId: collection.$id, key: 'n', required: false });
  await databases.createIndex({ databaseId: db.$id, collectionId: collection.$id, key: 'by_n', type: 'key', attributes: ['n'] });
  res = await patch(`/databases/${db.$id}/collections/${collection.$id}/system-fields`, {
    $createdAt: T0, $updatedAt: T2,
    attributes: [{ key: 'n', $createdAt: T0, $updatedAt: T1 }],
    indexes: [{ key: 'by_n', $createdAt: T1, $updatedAt: T2 }],
  });
  assert.equal(res.status, 204, res.text);
  assert.equal((await patch(`/databases/${db.$id}/system-fields`, { $createdAt: T0, $updatedAt: T1 })).status, 204);
  const gotCollection = await databases.getCollection({ databaseId: db.$id, collectionId: collection.$id });
  assert.deepEqual([gotCollection.$createdAt, gotCollection.$updatedAt], [T0, T2]);
  assert.deepEqual([gotCollection.attributes[0].$createdAt, gotCollection.attributes[0].$updatedAt], [T0, T1]);
  assert.deepEqual([gotCollection.indexes[0].$createdAt, gotCollection.indexes[0].$updatedAt], [T1, T2]);
  const gotDb = await databases.get({ databaseId: db.$id });
  assert.deepEqual([gotDb.$createdAt, gotDb.$updatedAt], [T0, T1]);
  const noIndex = { indexes: [{ key: 'nope', $createdAt: T0 }] };
  assertAppwriteError(assert, await patch(`/databases/${db.$id}/collections/${collection.$id}/system-fields`, noIndex), 404, 'index_not_found');

  const storage = new node.Storage(admin);
  const bucket = await storage.createBucket({ bucketId: node.ID.unique(), name: 'Restored' });
  const file = await storage.createFile({ bucketId: bucket.$id, fileId: node.ID.unique(), file: InputFile.fromBuffer(Buffer.from('restored'), 'r.txt') });
  assert.equal((await patch(`/storage/buckets/${bucket.$id}/files/${file.$id}/system-fields`, { $createdAt: T0, $updatedAt: T1 })).status, 204);
  assert.equal((await patch(`/storage/buckets/${bucket.$id}/system-fields`, { $createdAt: T1, $updatedAt: T2 })).status, 204);
  const gotFile = await storage.getFile({ bucketId: bucket.$id, fileId: file.$id });
  assert.deepEqual([gotFile.$createdAt, gotFile.$updatedAt], [T0, T1]);
  const gotBucket = await storage.getBucket({ bucketId: bucket.$id });
  assert.deepEqual([gotBucket.$createdAt, gotBucket.$updatedAt], [T1, T2]);
});

test('system fields: a former membership id cannot be taken (its member:ID grants outlive it), a pending invitation is left alone', async () => {
  const admin = adminClient();
  const users = new node.Users(admin);
  const teams = new node.Teams(admin);
  const [alice, mallory] = await Promise.all(['alice', 'mallory'].map((n) => users.create({ userId: node.ID.unique(), email: uniqueEmail(n) })));
  const team = await teams.create({ teamId: node.ID.unique(), name: 'Grants' });
  const old = await teams.createMembership({ teamId: team.$id, roles: ['member'], userId: alice.$id });
  await teams.deleteMembership({ teamId: team.$id, membershipId: old.$id });
  await teams.createMembership({ teamId: team.$id, roles: ['member'], userId: mallory.$id });
  // A document may still grant read("member:<old id>"): mallory must not become that member.
  const takeover = await patch(`/teams/${team.$id}/system-fields`, { memberships: [{ userId: mallory.$id, $id: old.$id }] });
  assertAppwriteError(assert, takeover, 409, 'team_invite_already_exists');
  const stillMallory = (await teams.listMemberships({ teamId: team.$id })).memberships;
  assert.deepEqual(stillMallory.map((m) => m.$id === old.$id), [false]);

  // An invitation still waiting (no confirmed membership) keeps the id its emailed link names.
  // (Whether its mail goes out depends on a sink this file does not start: the invitation is
  // stored before the mail is sent, so it is there either way.)
  const owner = await userClient({ name: 'Inviter' });
  const ownTeam = await new node.Teams(owner.client).create({ teamId: node.ID.unique(), name: 'Invites' });
  const inviteeEmail = uniqueEmail('invitee');
  await new node.Teams(owner.client).createMembership({ teamId: ownTeam.$id, roles: ['member'], email: inviteeEmail, url: 'http://localhost/join' }).catch(() => {});
  const pending = (await teams.listMemberships({ teamId: ownTeam.$id })).memberships.find((m) => m.userEmail === inviteeEmail);
  assert.equal(pending?.confirm, false, 'a pending invitation');
  const res = await patch(`/teams/${ownTeam.$id}/system-fields`, { memberships: [{ userId: pending.userId, $id: 'renamed-invite', invited: T0 }] });
  assertAppwriteError(assert, res, 404, 'membership_not_found');
  const after = await teams.getMembership({ teamId: ownTeam.$id, membershipId: pending.$id });
  assert.deepEqual([after.$id, after.invited], [pending.$id, pending.invited]);
});

test('system fields: times in the future, and resources that are not there, are refused', async () => {
  const users = new node.Users(adminClient());
  const user = await users.create({ userId: node.ID.unique(), email: uniqueEmail('future') });
  const nextYear = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
  assertAppwriteError(assert, await patch(`/users/${user.$id}/system-fields`, { passwordUpdate: nextYear }), 400, 'general_argument_invalid');
  const databases = new node.Databases(adminClient());
  const db = await databases.create({ databaseId: node.ID.unique(), name: 'Missing' });
  const missingCollection = { attributes: [{ key: 'n', $createdAt: T0 }] };
  assertAppwriteError(assert, await patch(`/databases/${db.$id}/collections/nope/system-fields`, missingCollection), 404, 'collection_not_found');
  assertAppwriteError(assert, await patch('/storage/buckets/nope/system-fields', {}), 404, 'storage_bucket_not_found');
  assertAppwriteError(assert, await patch('/messaging/topics/nope/system-fields', {}), 404, 'topic_not_found');
  assertAppwriteError(assert, await patch('/project/keys/nope/system-fields', { $createdAt: T0 }), 404, 'key_not_found');
});

test('system fields: a deployment takes back its id (the function\'s active deployment follows), a function its times and its variables\' ids', async () => {
  const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release';
  const functions = new node.Functions(adminClient());
  const functionId = node.ID.unique();
  await functions.create({ functionId, name: 'restored', runtime: 'wasm-wasip1', execute: ['any'] });
  await functions.createVariable({ functionId, variableId: node.ID.unique(), key: 'K', value: 'v' });
  const { readFileSync } = await import('node:fs');
  const code = InputFile.fromBuffer(readFileSync(`${examples}/echo.wasm`), 'echo.wasm');
  const deployment = await functions.createDeployment({ functionId, code, activate: true });
  assert.equal(deployment.status, 'ready', deployment.buildLogs);
  const restoredId = `d${deployment.$id}`.slice(0, 36);
  let res = await patch(`/functions/${functionId}/deployments/${deployment.$id}/system-fields`, { $id: restoredId, $createdAt: T0, $updatedAt: T1 });
  assert.equal(res.status, 204, res.text);
  const got = await functions.getDeployment({ functionId, deploymentId: restoredId });
  assert.deepEqual([got.$createdAt, got.$updatedAt, got.status], [T0, T1, 'ready']);
  assert.equal((await functions.get({ functionId })).deploymentId, restoredId, 'the active deployment follows its id');
  res = await patch(`/functions/${functionId}/system-fields`, { $createdAt: T0, $updatedAt: T2, variables: [{ key: 'K', $id: 'restored-var', $createdAt: T0, $updatedAt: T1 }] });
  assert.equal(res.status, 204, res.text);
  const f = await functions.get({ functionId });
  assert.deepEqual([f.$createdAt, f.$updatedAt], [T0, T2]);
  const variable = await functions.getVariable({ functionId, variableId: 'restored-var' });
  assert.deepEqual([variable.key, variable.$createdAt, variable.$updatedAt], ['K', T0, T1]);
  assertAppwriteError(assert, await patch(`/functions/${functionId}/system-fields`, { variables: [{ key: 'NOPE', $createdAt: T0 }] }), 404, 'variable_not_found');
  assertAppwriteError(assert, await patch(`/functions/${functionId}/deployments/nope/system-fields`, { $createdAt: T0 }), 404, 'deployment_not_found');
});

test('system fields: a provider and a topic with its subscribers keep their times', async () => {
  const admin = adminClient();
  const messaging = new node.Messaging(admin);
  const providerId = node.ID.unique();
  await messaging.createFcmProvider({ providerId, name: 'Restored push', enabled: false });
  assert.equal((await patch(`/messaging/system-fields/providers/${providerId}`, { $createdAt: T0, $updatedAt: T1 })).status, 204);
  const provider = await messaging.getProvider({ providerId });
  assert.deepEqual([provider.$createdAt, provider.$updatedAt, provider.enabled], [T0, T1, false]);
  assertAppwriteError(assert, await patch('/messaging/system-fields/providers/nope', { $createdAt: T0 }), 404, 'provider_not_found');

  const user = await new node.Users(admin).create({ userId: node.ID.unique(), email: uniqueEmail('subscriber') });
  const topic = await messaging.createTopic({ topicId: node.ID.unique(), name: 'Restored topic' });
  const subscriber = await messaging.createSubscriber({ topicId: topic.$id, subscriberId: node.ID.unique(), targetId: user.targets[0].$id });
  const res = await patch(`/messaging/topics/${topic.$id}/system-fields`, { $createdAt: T0, $updatedAt: T2, subscribers: [{ $id: subscriber.$id, $createdAt: T1, $updatedAt: T1 }] });
  assert.equal(res.status, 204, res.text);
  const gotTopic = await messaging.getTopic({ topicId: topic.$id });
  assert.deepEqual([gotTopic.$createdAt, gotTopic.$updatedAt, gotTopic.emailTotal], [T0, T2, 1]);
  const gotSubscriber = await messaging.getSubscriber({ topicId: topic.$id, subscriberId: subscriber.$id });
  assert.deepEqual([gotSubscriber.$createdAt, gotSubscriber.$updatedAt], [T1, T1]);
});
