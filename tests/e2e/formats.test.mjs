// Older SDK generations against edgewrite: each sends the X-Appwrite-Response-Format it was built
// for, and gets its answers in that format and its parameters read the old way, as Appwrite's
// version filters do (node-appwrite 11 → 1.4.0 with string queries, web 10 → 1.0.0, web 17 →
// 1.6.0, web 21 → 1.8.0 with numeric $sequence). The newest SDKs (27.x) run through every other suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import node11 from 'node-appwrite-11';
import { InputFile } from 'node-appwrite/file';
import * as web10 from 'appwrite-web-10';
import * as web17 from 'appwrite-web-17';
import * as web21 from 'appwrite-web-21';
import { adminClient, raw, node, endpoint, projectId, apiKey, uniqueEmail, installFallbackStorage } from './helpers.mjs';

if (!globalThis.window) installFallbackStorage();
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PASSWORD = 'an-old-sdk-password-1';

/** A collection `c` of database `db` with an integer `n`, readable by anyone, and three documents. */
async function numbers() {
  const d = new node.Databases(adminClient());
  const db = uid('fmt');
  await d.create({ databaseId: db, name: db });
  await d.createCollection({ databaseId: db, collectionId: 'c', name: 'c', permissions: ['read("any")', 'create("users")'] });
  await d.createIntegerAttribute({ databaseId: db, collectionId: 'c', key: 'n', required: false });
  for (const n of [1, 2, 3]) await d.createDocument({ databaseId: db, collectionId: 'c', documentId: `n${n}`, data: { n } });
  return db;
}

test('node-appwrite 11 (format 1.4.0): users without targets or mfa, sessions without secrets, string queries', async () => {
  const c = new node11.Client().setEndpoint(endpoint).setProject(projectId).setKey(apiKey);
  const users = new node11.Users(c);
  const email = uniqueEmail('n11');
  const made = await users.create(node11.ID.unique(), email, undefined, PASSWORD, 'Old Node');
  assert.equal(made.email, email);
  for (const user of [made, await users.get(made.$id)]) {
    assert.ok(!('targets' in user) && !('mfa' in user), `1.4 users have neither: ${Object.keys(user)}`);
  }
  // Its Query class writes the old string form: `equal("$id", ["…"])`.
  assert.match(node11.Query.equal('$id', [made.$id]), /^equal\(/);
  const listed = await users.list([node11.Query.equal('$id', [made.$id]), node11.Query.limit(5)]);
  assert.deepEqual(listed.users.map((u) => u.$id), [made.$id]);
  assert.ok(!('targets' in listed.users[0]));

  await new node.Account(adminClient()).createEmailPasswordSession({ email, password: PASSWORD });
  const sessions = await users.listSessions(made.$id);
  assert.equal(sessions.total, 1);
  assert.ok(!('factors' in sessions.sessions[0]) && !('secret' in sessions.sessions[0]), '1.4 sessions have neither');

  const db = await numbers();
  const databases = new node11.Databases(c);
  const page = await databases.listDocuments(db, 'c', [node11.Query.greaterThan('n', 1), node11.Query.orderDesc('n')]);
  assert.deepEqual(page.documents.map((d) => d.$id), ['n3', 'n2']);
  assert.equal(typeof page.documents[0].$sequence, 'number', 'before 1.9 $sequence was a number');
  const created = await databases.createDocument(db, 'c', 'n9', { n: 9 });
  assert.equal(typeof created.$sequence, 'number');
  await assert.rejects(databases.listDocuments(db, 'c', ['equal']), (e) => e.code === 400 && e.type === 'general_query_invalid');

  const teamId = uid('t');
  const teams = new node.Teams(adminClient());
  await teams.create({ teamId, name: 'old' });
  await teams.createMembership({ teamId, roles: ['member'], userId: made.$id });
  const memberships = await new node11.Teams(c).listMemberships(teamId);
  assert.equal(memberships.total, 1);
  assert.ok(!('mfa' in memberships.memberships[0]) && !('userPhone' in memberships.memberships[0]));
});

test('web SDK 10 (format 1.0.0): sign up, log in, read documents with string queries, log out', async () => {
  const client = new web10.Client().setEndpoint(endpoint).setProject(projectId);
  const account = new web10.Account(client);
  const email = uniqueEmail('w10');
  const made = await account.create(web10.ID.unique(), email, PASSWORD, 'Old Web');
  assert.equal(made.email, email);
  const session = await account.createEmailSession(email, PASSWORD);
  assert.equal(session.userId, made.$id);
  assert.ok(!('factors' in session) && !('secret' in session), 'sessions before 1.5 had neither');
  const me = await account.get();
  assert.equal(me.$id, made.$id);
  assert.ok('mfa' in me && 'targets' in me, 'the account keeps mfa and targets, as Appwrite answers old formats');
  const db = await numbers();
  const page = await new web10.Databases(client).listDocuments(db, 'c', [web10.Query.equal('n', 2)]);
  assert.deepEqual(page.documents.map((d) => d.$id), ['n2']);
  assert.equal(page.documents[0].$sequence, Number(page.documents[0].$sequence));
  assert.equal(typeof page.documents[0].$sequence, 'number');
  await account.deleteSession('current');
  await assert.rejects(account.get(), (e) => e.code === 401);
});

test('web SDK 17 (format 1.6.0): account, prefs in order, documents with JSON queries, a team, files; each answer as 1.6 had it', async () => {
  const client = new web17.Client().setEndpoint(endpoint).setProject(projectId);
  const account = new web17.Account(client);
  const email = uniqueEmail('w17');
  const made = await account.create(web17.ID.unique(), email, PASSWORD, 'Web 17');
  const session = await account.createEmailPasswordSession(email, PASSWORD);
  assert.equal(session.userId, made.$id);
  assert.deepEqual(session.factors, ['password']);
  const me = await account.get();
  assert.equal(me.email, email);
  await account.updatePrefs({ theme: 'dark', zebra: 1, apple: 2 });
  assert.deepEqual(Object.keys((await account.getPrefs())), ['theme', 'zebra', 'apple'], 'prefs keep their order');

  const db = await numbers();
  const documents = new web17.Databases(client);
  const page = await documents.listDocuments(db, 'c', [web17.Query.greaterThan('n', 1), web17.Query.orderDesc('n')]);
  assert.deepEqual(page.documents.map((d) => d.$id), ['n3', 'n2']);
  assert.equal(typeof page.documents[0].$sequence, 'number');
  const mine = await documents.createDocument(db, 'c', web17.ID.unique(), { n: 9 });
  assert.equal(mine.n, 9);
  assert.equal(typeof mine.$sequence, 'number');
  assert.equal((await documents.getDocument(db, 'c', mine.$id)).n, 9);

  const teams = new web17.Teams(client);
  const team = await teams.create(web17.ID.unique(), 'Web 17 team');
  const memberships = await teams.listMemberships(team.$id);
  assert.equal(memberships.total, 1);
  assert.equal(memberships.memberships[0].userId, made.$id);

  // (Web SDKs before 18 upload through a FormData polyfill that needs a browser; the file is the
  // server's.)
  const bucketId = uid('w17');
  const adminStorage = new node.Storage(adminClient());
  await adminStorage.createBucket({ bucketId, name: bucketId, permissions: ['read("users")'] });
  await adminStorage.createFile({ bucketId, fileId: 'f', file: InputFile.fromBuffer(Buffer.from('web 17 bytes'), 'w17.txt') });
  const files = await new web17.Storage(client).listFiles(bucketId);
  assert.deepEqual([files.total, files.files[0].sizeOriginal, files.files[0].name], [1, 12, 'w17.txt']);
  await account.deleteSession('current');
});

test('web SDK 21 (format 1.8.0): TablesDB rows with numeric $sequence; the account as 1.8 had it', async () => {
  const client = new web21.Client().setEndpoint(endpoint).setProject(projectId);
  const account = new web21.Account(client);
  const email = uniqueEmail('w21');
  await account.create({ userId: web21.ID.unique(), email, password: PASSWORD });
  await account.createEmailPasswordSession({ email, password: PASSWORD });
  const me = await account.get();
  assert.equal(me.email, email);
  const db = await numbers();
  const tables = new web21.TablesDB(client);
  const rows = await tables.listRows({ databaseId: db, tableId: 'c', queries: [web21.Query.lessThan('n', 3), web21.Query.orderAsc('n')] });
  assert.deepEqual(rows.rows.map((r) => r.$id), ['n1', 'n2']);
  assert.equal(typeof rows.rows[0].$sequence, 'number');
  const row = await tables.createRow({ databaseId: db, tableId: 'c', rowId: 'mine', data: { n: 7 } });
  assert.equal(typeof row.$sequence, 'number');
  await account.deleteSession({ sessionId: 'current' });
});

test('the format header: newer SDKs are warned and answered as today; 1.9.5, 0 and none change nothing', async () => {
  const db = await numbers();
  const get = (format) => raw(`/databases/${db}/collections/c/documents/n1`, { key: true, headers: format === undefined ? {} : { 'x-appwrite-response-format': format } });
  const today = await get(undefined);
  assert.equal(typeof today.json.$sequence, 'string');
  for (const format of ['1.9.5', '1.9.6', '0', '']) {
    const res = await get(format);
    assert.deepEqual(res.json, today.json, format);
    assert.equal(res.headers.get('x-appwrite-warning'), null, format);
  }
  const newer = await get('2.0.0');
  assert.deepEqual(newer.json, today.json);
  assert.match(newer.headers.get('x-appwrite-warning') ?? '', /built for Appwrite 2\.0\.0\. However, the current Appwrite server version is 1\.9\.6/);
  assert.equal(typeof (await get('1.8.0')).json.$sequence, 'number');
  assert.equal(typeof (await get('abc')).json.$sequence, 'number', 'as PHP compares it, junk is older than everything');
});
