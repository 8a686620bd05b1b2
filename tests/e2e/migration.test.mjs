// The migration CLI (`edgewrite`, built by the test command) between two edgewrite instances:
// project `other` on the suite's server (A) is filled through the SDKs, imported into project
// `migrated` on the second instance (B) with an interruption half-way and a re-run, and checked
// there through the SDKs; then A is exported, the dump imported into the empty `restored`, and
// that exported again: the two dumps are the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bcrypt } from 'hash-wasm';
import { InputFile } from 'node-appwrite/file';
import { node, endpoint, apiKey, runtime } from './helpers.mjs';

const second = process.env.EDGEWRITE_PROXY_ENDPOINT;
const cli = process.env.EDGEWRITE_CLI;
// A Spin app serves one project (README "Spin"): this test needs three, on two instances.
const skip = (runtime === 'spin' && 'a Spin app serves one project; the migration runs between workerd instances')
  || (!(second && cli) && 'the test command starts the second instance and builds the CLI');
const A = { endpoint, project: 'other' };
const B = { endpoint: second, project: 'migrated' };
const C = { endpoint: second, project: 'restored' };
const client = ({ endpoint: e, project }) => new node.Client().setEndpoint(e).setProject(project).setKey(apiKey);
const PASSWORD = 'correct-horse-9';

// B sits in front of a legacy backend (the proxy's tests): here one that serves none of what a
// migration asks for (no Functions), as an old hand-made backend would.
if (!skip) {
  const legacy = http.createServer((req, res) => {
    req.resume();
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Not here.', code: 404, type: 'general_route_not_found', version: 'legacy' }));
  });
  await new Promise((resolve) => legacy.listen(Number(process.env.EDGEWRITE_TEST_LEGACY_PORT), '127.0.0.1', resolve));
  legacy.unref();
}

/** Runs the CLI (without blocking this process: the stand-in legacy backend lives here). */
function edgewrite(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}
const importArgs = (from, to, extra = []) => ['import', 'appwrite', '--from', from.endpoint, '--project', from.project, '--key', apiKey,
  '--to', to.endpoint, '--to-project', to.project, '--to-key', apiKey, ...extra];

/** Every document of a collection, as the SDK lists them, without the ids of the instance. */
async function allDocuments(at, db, collection) {
  const docs = [];
  let after;
  for (;;) {
    const queries = [node.Query.limit(100), ...(after ? [node.Query.cursorAfter(after)] : [])];
    const page = await new node.Databases(client(at)).listDocuments({ databaseId: db, collectionId: collection, queries });
    docs.push(...page.documents.map(({ $sequence, $databaseId, $collectionId, ...rest }) => rest));
    if (page.documents.length < 100) return docs;
    after = page.documents.at(-1).$id;
  }
}

async function sha256Of(at, bucketId, fileId) {
  const bytes = await new node.Storage(client(at)).getFileDownload({ bucketId, fileId });
  return createHash('sha256').update(Buffer.from(bytes)).digest('hex');
}

const echoModule = () => readFileSync(join(process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release', 'echo.wasm'));
const files = { small: randomBytes(1024), medium: randomBytes(6 * 1024 * 1024), large: randomBytes(20 * 1024 * 1024) };
const collections = { notes: 400, tasks: 350, events: 250 };
let people;

async function populateA() {
  // A push provider (disabled: it has no credentials yet), which alice's device names.
  await new node.Messaging(client(A)).createFcmProvider({ providerId: 'push', name: 'Push', enabled: false });
  const users = new node.Users(client(A));
  const alice = await users.create({ userId: 'alice', email: 'alice@migrate.test', password: PASSWORD, name: 'Alice' });
  await users.updatePrefs({ userId: 'alice', prefs: { theme: 'dark' } });
  await users.updateLabels({ userId: 'alice', labels: ['admin'] });
  await users.createTarget({ userId: 'alice', targetId: 'alice-device', providerType: 'push', identifier: 'device-token-1', name: 'phone', providerId: 'push' });
  const bob = await users.create({ userId: 'bob', email: 'bob@migrate.test', password: PASSWORD, name: 'Bob' });
  const carol = await users.createBcryptUser({
    userId: 'carol', email: 'carol@migrate.test', name: 'Carol',
    password: await bcrypt({ password: PASSWORD, salt: randomBytes(16), costFactor: 6, outputType: 'encoded' }),
  });
  people = [alice, bob, carol];
  const teams = new node.Teams(client(A));
  await teams.create({ teamId: 'crew', name: 'Crew' });
  await teams.updatePrefs({ teamId: 'crew', prefs: { color: 'teal' } });
  await teams.createMembership({ teamId: 'crew', roles: ['owner'], userId: 'alice' });
  await teams.createMembership({ teamId: 'crew', roles: ['member'], userId: 'bob' });

  const db = new node.Databases(client(A));
  await db.create({ databaseId: 'app', name: 'App' });
  for (const [collectionId, count] of Object.entries(collections)) {
    await db.createCollection({ databaseId: 'app', collectionId, name: collectionId, permissions: ['read("users")', 'create("users")'], documentSecurity: true });
    await db.createStringAttribute({ databaseId: 'app', collectionId, key: 'title', size: 128, required: true });
    await db.createIntegerAttribute({ databaseId: 'app', collectionId, key: 'rank', required: false, min: 0, max: 100000 });
    await db.createBooleanAttribute({ databaseId: 'app', collectionId, key: 'done', required: false, xdefault: false });
    await db.createDatetimeAttribute({ databaseId: 'app', collectionId, key: 'due', required: false });
    await db.createEnumAttribute({ databaseId: 'app', collectionId, key: 'kind', elements: ['a', 'b', 'c'], required: false });
    await db.createStringAttribute({ databaseId: 'app', collectionId, key: 'tags', size: 16, required: false, array: true });
    await db.createIndex({ databaseId: 'app', collectionId, key: 'by_rank', type: 'key', attributes: ['rank'] });
    for (let start = 0; start < count; start += 100) {
      const documents = Array.from({ length: Math.min(100, count - start) }, (_, i) => {
        const n = start + i;
        const owner = people[n % 3].$id;
        return {
          $id: `${collectionId}-${n}`, $permissions: [`read("user:${owner}")`, `update("user:${owner}")`],
          title: `${collectionId} #${n} ünïcödé`, rank: n, done: n % 2 === 0, due: new Date(Date.UTC(2026, 0, 1 + (n % 28))).toISOString(),
          kind: ['a', 'b', 'c'][n % 3], tags: [`t${n % 5}`, 'x'],
        };
      });
      await db.createDocuments({ databaseId: 'app', collectionId, documents });
    }
  }

  const messaging = new node.Messaging(client(A));
  await messaging.createTopic({ topicId: 'news', name: 'News', subscribe: ['users'] });
  await messaging.createSubscriber({ topicId: 'news', subscriberId: 'alice-news', targetId: 'alice-device' });
  await new node.Project(client(A)).createKey({ keyId: 'backend', name: 'Backend', scopes: ['users.read', 'documents.write'] });

  const storage = new node.Storage(client(A));
  await storage.createBucket({ bucketId: 'media', name: 'Media', permissions: ['read("users")'], fileSecurity: true, maximumFileSize: 30 * 1024 * 1024 });
  for (const [fileId, bytes] of Object.entries(files)) {
    await storage.createFile({ bucketId: 'media', fileId, file: InputFile.fromBuffer(bytes, `${fileId}.bin`), permissions: ['read("user:alice")'] });
  }
}

/** Every resource of a project but documents, field for field as the SDK reads it, less what
 * only the instance's own use makes (`$sequence`, `accessedAt`, `userAccessedAt`). */
async function everything(at) {
  const c = client(at);
  const all = [node.Query.limit(100)];
  const users = (await new node.Users(c).list({ queries: all })).users;
  const teams = (await new node.Teams(c).list({ queries: all })).teams;
  const memberships = [];
  for (const team of teams) memberships.push(...(await new node.Teams(c).listMemberships({ teamId: team.$id, queries: all })).memberships);
  const databases = (await new node.Databases(c).list({ queries: all })).databases;
  const collections = [];
  for (const db of databases) collections.push(...(await new node.Databases(c).listCollections({ databaseId: db.$id, queries: all })).collections);
  const buckets = (await new node.Storage(c).listBuckets({ queries: all })).buckets;
  const files = [];
  for (const bucket of buckets) files.push(...(await new node.Storage(c).listFiles({ bucketId: bucket.$id, queries: all })).files);
  const fns = new node.Functions(c);
  // The second instance sends /v1/functions to its legacy backend, which has none.
  const functions = at.endpoint === second ? [] : (await fns.list({ queries: all })).functions;
  const variables = [];
  const deployments = [];
  for (const f of functions) {
    variables.push(...(await fns.listVariables({ functionId: f.$id })).variables);
    // The target builds the code again: how long that took is its own.
    deployments.push(...(await fns.listDeployments({ functionId: f.$id, queries: all })).deployments.map(({ buildDuration, ...d }) => d));
  }
  const messaging = new node.Messaging(c);
  const providers = (await messaging.listProviders({ queries: all })).providers;
  const topics = (await messaging.listTopics({ queries: all })).topics;
  const subscribers = [];
  for (const topic of topics) subscribers.push(...(await messaging.listSubscribers({ topicId: topic.$id, queries: all })).subscribers);
  // A key's secret is never carried (it cannot be read back; the report says so).
  const keys = (await new node.Project(c).listKeys()).keys.map(({ secret, ...key }) => key);
  const instanceOnly = new Set(['$sequence', 'accessedAt', 'userAccessedAt']);
  const all_ = { providers, users, teams, memberships, databases, collections, buckets, files, functions, variables, deployments, topics, subscribers, keys };
  return JSON.parse(JSON.stringify(all_, (k, v) => (instanceOnly.has(k) ? undefined : v)));
}

/** Asserts `actual` equals `expected` field for field, naming the first field that differs. */
function sameFields(actual, expected, path = '') {
  if (expected !== null && typeof expected === 'object') {
    assert.equal(typeof actual, 'object', `${path} is an object or array`);
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual ?? {})])];
    for (const key of keys) sameFields(actual?.[key], expected[key], `${path}.${key}`);
  } else {
    assert.deepEqual(actual, expected, path);
  }
}

function sameDirs(a, b, rel = '') {
  const names = (d) => readdirSync(join(d, rel)).sort();
  assert.deepEqual(names(b), names(a), `the same entries in ${rel || '.'}`);
  for (const name of names(a)) {
    const path = join(rel, name);
    if (statSync(join(a, path)).isDirectory()) sameDirs(a, b, path);
    else if (!readFileSync(join(a, path)).equals(readFileSync(join(b, path)))) {
      // Show the first line that differs, then fail.
      const [la, lb] = [readFileSync(join(a, path), 'utf8').split('\n'), readFileSync(join(b, path), 'utf8').split('\n')];
      const i = la.findIndex((line, n) => line !== lb[n]);
      assert.equal(lb[i], la[i], `${path} line ${i + 1}`);
      assert.fail(`${path} is not byte for byte the same`);
    }
  }
}

test('migration: import appwrite A → B, interrupted and re-run, arrives whole', { skip, timeout: 600_000 }, async () => {
  await populateA();
  const interrupted = await edgewrite(importArgs(A, B), { EDGEWRITE_MIGRATE_STOP_AFTER: '12' });
  assert.equal(interrupted.status, 3, interrupted.stderr);
  let partial = 0;
  for (const collectionId of Object.keys(collections)) {
    partial += (await new node.Databases(client(B)).listDocuments({ databaseId: 'app', collectionId, queries: [node.Query.limit(1)] })).total;
  }
  assert.ok(partial > 0 && partial < 1000, `half-way: ${partial} documents`);

  const dry = await edgewrite(importArgs(A, C, ['--dry-run']));
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal((await new node.Users(client(C)).list()).total, 0, 'a dry run writes nothing');

  const rerun = await edgewrite(importArgs(A, B));
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stderr, /documents\s+1000\s+1000/);
  const notCarried = rerun.stderr.split('\n').filter((line) => line.includes('not carried:'));
  assert.deepEqual(
    notCarried.map((line) => line.trim().split(' (')[0]),
    ['not carried: keys: secret', 'not carried: providers: secret credentials'],
    'edgewrite takes every system field; only secrets no one can read stay behind',
  );

  // Every user, target, team, membership, database, collection (with its attributes and
  // indexes), bucket, file, function, variable, deployment, topic, subscriber and API key, field
  // for field: times, ids and all
  // (before any login on B).
  sameFields(await everything(B), await everything(A));

  // Users, with their passwords: each logs in on B with the password it had on A.
  const usersB = await new node.Users(client(B)).list();
  assert.deepEqual(usersB.users.map((u) => u.$id).sort(), ['alice', 'bob', 'carol']);
  const aliceB = usersB.users.find((u) => u.$id === 'alice');
  assert.deepEqual(JSON.parse(JSON.stringify([aliceB.prefs, aliceB.labels, aliceB.name])), [{ theme: 'dark' }, ['admin'], 'Alice']);
  for (const email of ['alice@migrate.test', 'carol@migrate.test']) {
    const guest = new node.Client().setEndpoint(B.endpoint).setProject(B.project);
    const session = await new node.Account(guest).createEmailPasswordSession({ email, password: PASSWORD });
    assert.ok(session.secret || session.$id, `${email} logs in on B`);
  }
  assert.deepEqual(aliceB.targets.filter((t) => t.providerType === 'push').map((t) => [t.$id, t.identifier]), [['alice-device', 'device-token-1']]);
  const crew = await new node.Teams(client(B)).listMemberships({ teamId: 'crew' });
  assert.deepEqual(crew.memberships.map((m) => [m.userId, m.roles]).sort(), [['alice', ['owner']], ['bob', ['member']]]);
  assert.deepEqual(JSON.parse(JSON.stringify(await new node.Teams(client(B)).getPrefs({ teamId: 'crew' }))), { color: 'teal' });

  // Every document, field for field, with its permissions and times.
  for (const collectionId of Object.keys(collections)) {
    const [onA, onB] = [await allDocuments(A, 'app', collectionId), await allDocuments(B, 'app', collectionId)];
    assert.equal(onB.length, collections[collectionId]);
    assert.deepEqual(JSON.parse(JSON.stringify(onB)), JSON.parse(JSON.stringify(onA)), `${collectionId}: every field, permission and time`);
  }
  const notes = await new node.Databases(client(B)).getCollection({ databaseId: 'app', collectionId: 'notes' });
  assert.deepEqual(notes.attributes.map((a) => a.key), ['title', 'rank', 'done', 'due', 'kind', 'tags']);
  assert.deepEqual(notes.indexes.map((i) => i.key), ['by_rank']);

  // Files, by SHA-256, with their permissions.
  for (const [fileId, bytes] of Object.entries(files)) {
    assert.equal(await sha256Of(B, 'media', fileId), createHash('sha256').update(bytes).digest('hex'), fileId);
    assert.deepEqual((await new node.Storage(client(B)).getFile({ bucketId: 'media', fileId })).$permissions, ['read("user:alice")']);
  }

  // A third run finds everything there: nothing written twice.
  const again = await edgewrite(importArgs(A, B));
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /users\s+3\s+0\s+3/);
  assert.match(again.stderr, /files\s+3\s+0\s+3/);
  assert.equal((await new node.Databases(client(B)).listDocuments({ databaseId: 'app', collectionId: 'tasks', queries: [node.Query.limit(1)] })).total, collections.tasks);
});

test('migration: export → import into an empty project → export gives the same dump', { skip, timeout: 600_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'edgewrite-dump-'));
  try {
    const [first, second_] = [join(work, 'first'), join(work, 'second')];
    const exported = await edgewrite(['export', '--from', A.endpoint, '--project', A.project, '--key', apiKey, '--to', first]);
    assert.equal(exported.status, 0, exported.stderr);
    const manifest = JSON.parse(readFileSync(join(first, 'manifest.json'), 'utf8'));
    for (const path of ['', 'manifest.json', 'users.jsonl', 'blobs/media/large']) {
      assert.equal(statSync(join(first, path)).mode & 0o077, 0, `${path || 'the dump'} is its owner's only (it holds password hashes)`);
    }
    assert.deepEqual([manifest.format, manifest.version, manifest.counts.documents, manifest.counts.files], ['edgewrite-dump', 2, 1000, 3]);
    const imported = await edgewrite(['import', 'dir', first, '--to', C.endpoint, '--to-project', C.project, '--to-key', apiKey]);
    assert.equal(imported.status, 0, imported.stderr);
    const again = await edgewrite(['export', '--from', C.endpoint, '--project', C.project, '--key', apiKey, '--to', second_]);
    assert.equal(again.status, 0, again.stderr);
    // The dump holds every system field, so the same bytes mean the same history.
    sameDirs(first, second_);
    sameFields(await everything(C), await everything(A));

    // A version 1 dump (records without system fields) still imports: the resources arrive,
    // with the import's times.
    const v1 = join(work, 'v1');
    cpSync(first, v1, { recursive: true });
    writeFileSync(join(v1, 'manifest.json'), JSON.stringify({ ...manifest, version: 1 }));
    const systemOnly = new Set(['$createdAt', '$updatedAt', 'registration', 'passwordUpdate', 'invited', 'joined']);
    for (const name of ['providers', 'users', 'teams', 'memberships', 'databases', 'collections', 'buckets', 'files', 'topics', 'subscribers', 'keys']) {
      const lines = readFileSync(join(v1, `${name}.jsonl`), 'utf8').split('\n').filter(Boolean).map((line) => {
        const record = JSON.parse(line, (k, v) => (systemOnly.has(k) ? undefined : v));
        if (name === 'users') record.targets = record.targets.filter((t) => t.providerType === 'push');
        if (name === 'memberships') delete record.$id;
        return JSON.stringify(record);
      });
      writeFileSync(join(v1, `${name}.jsonl`), lines.map((l) => `${l}\n`).join(''));
    }
    const D = { endpoint: second, project: 'restored-v1' };
    const fromV1 = await edgewrite(['import', 'dir', v1, '--to', D.endpoint, '--to-project', D.project, '--to-key', apiKey]);
    assert.equal(fromV1.status, 0, fromV1.stderr);
    assert.match(fromV1.stderr, /documents\s+1000\s+1000/);
    const [onD, onA] = [await everything(D), await everything(A)];
    assert.deepEqual(onD.users.map((u) => [u.$id, u.email, u.labels]), onA.users.map((u) => [u.$id, u.email, u.labels]));
    assert.deepEqual(onD.files.map((f) => [f.$id, f.signature]), onA.files.map((f) => [f.$id, f.signature]));
    assert.notEqual(onD.users[0].$createdAt, onA.users[0].$createdAt, 'a version 1 dump has no times to restore');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('migration: functions move with their variables and every ready deployment\'s code, the active one active', { skip, timeout: 600_000 }, async () => {
  // The second instance sends /v1/functions to its legacy backend (the proxy's tests), so the
  // functions go to fresh projects of the first: through `import appwrite` and through a dump.
  const functions = new node.Functions(client(A));
  // It listens to every document event: a migration's writes must not start it.
  await functions.create({ functionId: 'greeter', name: 'Greeter', runtime: 'wasm-wasip1', execute: ['any'], timeout: 5, events: ['databases.*.collections.*.documents.*'] });
  await functions.createVariable({ functionId: 'greeter', variableId: 'greeting', key: 'GREETING', value: 'hello' });
  for (const activate of [false, true]) {
    const d = await functions.createDeployment({ functionId: 'greeter', code: InputFile.fromBuffer(echoModule(), 'echo.wasm'), activate });
    assert.equal(d.status, 'ready', d.buildLogs);
  }
  const E = { endpoint, project: 'copied' };
  const direct = await edgewrite(importArgs(A, E));
  assert.equal(direct.status, 0, direct.stderr);
  assert.match(direct.stderr, /deployments\s+2\s+2/);
  sameFields(await everything(E), await everything(A));

  const work = mkdtempSync(join(tmpdir(), 'edgewrite-dump-'));
  try {
    const exported = await edgewrite(['export', '--from', A.endpoint, '--project', A.project, '--key', apiKey, '--to', work + '/d']);
    assert.equal(exported.status, 0, exported.stderr);
    const F = { endpoint, project: 'copied-dump' };
    const imported = await edgewrite(['import', 'dir', work + '/d', '--to', F.endpoint, '--to-project', F.project, '--to-key', apiKey]);
    assert.equal(imported.status, 0, imported.stderr);
    sameFields(await everything(F), await everything(A));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  // A second run (every document upserted again) finds everything there and starts nothing.
  const again = await edgewrite(importArgs(A, E));
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /deployments\s+2\s+0\s+2/);
  assert.equal((await new node.Functions(client(E)).listExecutions({ functionId: 'greeter' })).total, 0, 'a migration starts no function');

  // The copy runs its active deployment, which kept its id.
  const run = async (at) => JSON.parse((await new node.Functions(client(at)).createExecution({ functionId: 'greeter', body: 'ping' })).responseBody);
  const [onE, onA] = [await run(E), await run(A)];
  assert.equal(onE.bodyText, 'ping');
  assert.equal(onE.env.APPWRITE_FUNCTION_DEPLOYMENT, onA.env.APPWRITE_FUNCTION_DEPLOYMENT);
  assert.equal(onE.env.APPWRITE_FUNCTION_PROJECT_ID, 'copied');
});

test('migration: an enabled provider arrives disabled, with its shown settings, and the run says why', { skip, timeout: 600_000 }, async () => {
  await new node.Messaging(client(A)).createSendgridProvider({
    providerId: 'mail', name: 'Mail', apiKey: 'SG.not-readable', fromName: 'Acme', fromEmail: 'noreply@acme.test', enabled: true,
  });
  const E = { endpoint, project: 'copied' };
  const run = await edgewrite(importArgs(A, E));
  assert.equal(run.status, 1, 'a provider that cannot send any more is a loss');
  assert.match(run.stderr, /providers mail: not carried: it arrived disabled/);
  const [onE, onA] = await Promise.all([E, A].map((at) => new node.Messaging(client(at)).getProvider({ providerId: 'mail' })));
  assert.equal(onA.enabled, true);
  assert.equal(onE.enabled, false);
  sameFields({ ...onE, enabled: true }, onA);
});
