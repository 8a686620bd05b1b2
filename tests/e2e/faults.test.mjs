// Faults in the middle of a write (EDGEWRITE_TEST_ROUTES=1: `X-Edgewrite-Fault: <op>:<n>` fails
// the n-th operation of that kind, once; components/core/src/faults.rs). Each write is driven
// through every point where it touches SQL or the blob store, one fault per try, through the
// official SDK: the client gets an Appwrite-shaped 5xx, what the write would have made is either
// whole or absent (a document with its permissions, a file with its bytes, a user with its
// session), and the same request without the fault succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputFile } from 'node-appwrite/file';
import { adminClient, guestClient, node, raw, runtime, uniqueEmail, userClient } from './helpers.mjs';

const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const sha = (bytes) => createHash('sha256').update(Buffer.from(bytes)).digest('hex');
/** More operations of one kind than any write here makes: the loop ends before this. */
const MAX_POINTS = 40;

/** A guest from an address of its own: the abuse limits count per address. */
function guest() {
  const client = guestClient();
  client.headers['x-forwarded-for'] = `10.${Array.from(randomBytes(3)).join('.')}`;
  return client;
}

/** `client`, its requests carrying the fault header. */
function faulty(client, fault) {
  client.headers['x-edgewrite-fault'] = fault;
  return client;
}

/** Asserts an AppwriteException of a server error (5xx, with a type and a message). */
function assertServerError(e, where) {
  assert.equal(e?.constructor?.name, 'AppwriteException', `${where}: ${e}`);
  assert.ok(e.code >= 500 && e.code <= 599, `${where}: code ${e.code} ${e.message}`);
  assert.equal(typeof e.type, 'string', where);
  assert.ok(e.message.length > 0, where);
}

/**
 * Runs `attempt(fault)` with `<op>:1`, `<op>:2`, … until it succeeds (the fault point was past
 * the write's last operation of that kind); after each failure `check(point)` sees the state.
 * Resolves to the number of points that failed the write.
 */
async function throughEveryPoint(op, attempt, check) {
  for (let n = 1; n <= MAX_POINTS; n++) {
    const fault = `${op}:${n}`;
    let failed = null;
    try {
      await attempt(fault);
    } catch (e) {
      failed = e;
    }
    if (!failed) return n - 1;
    assertServerError(failed, fault);
    try {
      await check(fault);
    } catch (e) {
      e.message = `after a fault at ${fault}: ${e.message}`;
      throw e;
    }
  }
  assert.fail(`${op}: the write still failed at point ${MAX_POINTS}`);
}

async function collection() {
  const db = new node.Databases(adminClient());
  const databaseId = uid('fdb');
  const collectionId = uid('fc');
  await db.create({ databaseId, name: databaseId });
  await db.createCollection({ databaseId, collectionId, name: collectionId, permissions: ['create("any")', 'read("any")'], documentSecurity: true });
  await db.createIntegerAttribute({ databaseId, collectionId, key: 'n', required: false });
  await db.createStringAttribute({ databaseId, collectionId, key: 'label', size: 64, required: false });
  return { databaseId, collectionId };
}

test('faults: a document write failed at any SQL or cache point is whole or absent, and its retry succeeds', async () => {
  const { databaseId, collectionId } = await collection();
  const admin = new node.Databases(adminClient());
  const permissions = ['read("any")', 'update("any")', 'delete("any")'];

  // Create: absent after each failure (its permissions too), then made by the retry.
  let documentId = uid('d');
  let failedCreates = 0;
  for (const op of ['sql', 'kv.get', 'kv.put']) {
    failedCreates += await throughEveryPoint(op, async (fault) => {
      documentId = uid('d');
      await new node.Databases(faulty(adminClient(), fault)).createDocument({ databaseId, collectionId, documentId, data: { n: 1, label: 'one' }, permissions });
    }, async (fault) => {
      const listed = await admin.listDocuments({ databaseId, collectionId, queries: [node.Query.equal('$id', [documentId])] });
      if (listed.total === 0) {
        const retried = await admin.createDocument({ databaseId, collectionId, documentId, data: { n: 1, label: 'one' }, permissions });
        assert.deepEqual([...retried.$permissions].sort(), [...permissions].sort(), fault);
      } else {
        // The write committed before the fault: it is there whole, permissions and all.
        assert.deepEqual([...listed.documents[0].$permissions].sort(), [...permissions].sort(), fault);
      }
      // A guest reads it through its document permission: permissions were written with it.
      const seen = await new node.Databases(guestClient()).getDocument({ databaseId, collectionId, documentId });
      assert.equal(seen.n, 1, fault);
    });
  }
  assert.ok(failedCreates >= 1, 'a create touches SQL at least once');

  // Update: unchanged or wholly changed after each failure.
  const target = await admin.createDocument({ databaseId, collectionId, documentId: uid('u'), data: { n: 1, label: 'before' }, permissions });
  let n = 1;
  await throughEveryPoint('sql', async (fault) => {
    n += 1;
    await new node.Databases(faulty(adminClient(), fault)).updateDocument({ databaseId, collectionId, documentId: target.$id, data: { n, label: `after ${n}` }, permissions: ['read("any")', 'update("any")'] });
  }, async (fault) => {
    const now = await admin.getDocument({ databaseId, collectionId, documentId: target.$id });
    const whole = now.n === n && now.label === `after ${n}` && now.$permissions.length === 2;
    const untouched = now.n !== n && now.label !== `after ${n}`;
    assert.ok(whole || untouched, `${fault}: half an update: ${JSON.stringify(now)}`);
    assert.equal(now.label === `after ${now.n}` || now.label === 'before', true, `${fault}: fields from two writes: ${JSON.stringify(now)}`);
  });

  // Delete: there or gone; the retry deletes it.
  await throughEveryPoint('sql', async (fault) => {
    const doomed = await admin.createDocument({ databaseId, collectionId, documentId: uid('x'), data: { n: 0 }, permissions });
    documentId = doomed.$id;
    await new node.Databases(faulty(adminClient(), fault)).deleteDocument({ databaseId, collectionId, documentId });
  }, async (fault) => {
    const listed = await admin.listDocuments({ databaseId, collectionId, queries: [node.Query.equal('$id', [documentId])] });
    if (listed.total === 1) await admin.deleteDocument({ databaseId, collectionId, documentId });
    const after = await admin.listDocuments({ databaseId, collectionId, queries: [node.Query.equal('$id', [documentId])] });
    assert.equal(after.total, 0, fault);
  });
});

async function bucket() {
  const bucketId = uid('fb');
  await new node.Storage(adminClient()).createBucket({ bucketId, name: bucketId, permissions: ['read("any")', 'create("any")'] });
  return bucketId;
}

test('faults: an upload failed at any SQL or blob point leaves no file, or the whole file, and its retry succeeds', async () => {
  const bucketId = await bucket();
  const storage = new node.Storage(adminClient());
  const bytes = randomBytes(64 * 1024);
  for (const op of ['sql', 'blob.put']) {
      let fileId = uid('f');
      await throughEveryPoint(op, async (fault) => {
        fileId = uid('f');
        await new node.Storage(faulty(adminClient(), fault)).createFile({ bucketId, fileId, file: InputFile.fromBuffer(bytes, 'small.bin') });
      }, async (fault) => {
        const listed = await storage.listFiles({ bucketId, queries: [node.Query.equal('$id', [fileId])] });
        if (listed.total === 0) {
          await storage.createFile({ bucketId, fileId, file: InputFile.fromBuffer(bytes, 'small.bin') });
        }
        const got = await storage.getFileDownload({ bucketId, fileId });
        assert.equal(sha(got), sha(bytes), `${fault}: a file row whose bytes are not the file`);
      });
  }
});

test('faults: a chunked upload whose chunk failed goes on with that chunk sent again', async () => {
  const bucketId = await bucket();
  const storage = new node.Storage(adminClient());
  const CHUNK = 5 * 1024 * 1024;
  const bytes = randomBytes(2 * CHUNK + 1000);
  const send = async (fileId, i, fault) => {
    const start = i * CHUNK;
    const data = bytes.subarray(start, Math.min(bytes.length, start + CHUNK));
    const form = new FormData();
    form.append('fileId', fileId);
    form.append('file', new Blob([data]), 'big.bin');
    const headers = { 'content-range': `bytes ${start}-${start + data.length - 1}/${bytes.length}` };
    if (i > 0) headers['x-appwrite-id'] = fileId;
    if (fault) headers['x-edgewrite-fault'] = fault;
    return raw(`/storage/buckets/${bucketId}/files`, { method: 'POST', headers, body: form, key: true });
  };
  for (const fault of ['blob.put:1', 'sql:1', 'sql:2', 'sql:3', 'sql:4']) {
    const fileId = uid('c');
    assert.equal((await send(fileId, 0)).status, 201);
    const failed = await send(fileId, 1, fault);
    if (failed.status < 300) continue; // the fault point was past this chunk's last operation
    assert.ok(failed.status >= 500, `${fault}: ${failed.status} ${failed.text}`);
    assert.equal(typeof failed.json?.type, 'string', `${fault}: ${failed.text}`);
    assert.ok((await send(fileId, 1)).status < 300, `${fault}: the chunk sent again`);
    const last = await send(fileId, 2);
    assert.equal(last.status, 201, last.text);
    assert.equal(last.json.chunksUploaded, 3);
    const got = await storage.getFileDownload({ bucketId, fileId });
    assert.equal(sha(got), sha(bytes), `${fault}: the assembled file`);
  }
});

test('faults: a sign-up or sign-in failed at any SQL or cache point leaves a whole user and session, or none', async () => {
  const users = new node.Users(adminClient());
  const password = 'correct-horse-9';
  let email = uniqueEmail('fault');
  let userId = uid('fu');
  for (const op of ['sql', 'kv.get', 'kv.put', 'kv.delete']) {
    await throughEveryPoint(op, async (fault) => {
      email = uniqueEmail('fault');
      userId = uid('fu');
      await new node.Account(faulty(guest(), fault)).create({ userId, email, password, name: 'Fault' });
    }, async (fault) => {
      const listed = await users.list({ queries: [node.Query.equal('email', [email])] });
      if (listed.total === 0) {
        await new node.Account(guest()).create({ userId, email, password, name: 'Fault' });
      } else {
        assert.equal(listed.users[0].$id, userId, fault);
      }
      // Whole: the password was stored with the user, so a sign-in works.
      const session = await new node.Account(guest()).createEmailPasswordSession({ email, password });
      assert.equal(session.userId, userId, fault);
    });

  }

  // Sign-in: a session is either made whole (it authenticates) or not made at all.
  for (const op of ['sql', 'kv.get', 'kv.put', 'kv.delete']) {
    await throughEveryPoint(op, async (fault) => {
      await new node.Account(faulty(guest(), fault)).createEmailPasswordSession({ email, password });
    }, async (fault) => {
      const { sessions } = await users.listSessions({ userId });
      for (const s of sessions) assert.equal(s.userId, userId, fault);
      const retried = await new node.Account(guest()).createEmailPasswordSession({ email, password });
      assert.equal(retried.userId, userId, fault);
    });
  }
});

test('faults: a team created at any SQL point exists with its owner, or not at all', async () => {
  const owner = await userClient();
  const teams = new node.Teams(owner.client);
  let teamId = uid('ft');
  await throughEveryPoint('sql', async (fault) => {
    teamId = uid('ft');
    const client = new node.Client().setEndpoint(owner.client.config.endpoint).setProject(owner.client.config.project).setSession(owner.session.secret);
    await new node.Teams(faulty(client, fault)).create({ teamId, name: 'Faulty' });
  }, async (fault) => {
    const listed = await new node.Teams(adminClient()).list({ queries: [node.Query.equal('$id', [teamId])] });
    if (listed.total === 0) {
      await teams.create({ teamId, name: 'Faulty' });
    }
    // Whole: the creator is its owner, so it sees and manages the team.
    const { memberships } = await teams.listMemberships({ teamId });
    assert.equal(memberships.length, 1, fault);
    assert.equal(memberships[0].userId, owner.user.$id, fault);
    assert.ok(memberships[0].roles.includes('owner'), fault);
  });
});

test('faults: a delivery attempt that fails on the network is retried, and the SMS is sent once', async () => {
  const { startProviders } = await import('./providers.mjs');
  const providers = await startProviders({ port: Number(process.env.EDGEWRITE_TEST_PROVIDERS_PORT) });
  try {
    const messaging = new node.Messaging(adminClient());
    const twilio = await messaging.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
    const userId = uid('fu');
    await new node.Users(adminClient()).create({ userId, name: 'network' });
    const identifier = `+1555${Math.floor(1e6 + Math.random() * 9e6)}`;
    const target = await new node.Users(adminClient()).createTarget({ userId, targetId: uid('t'), providerType: 'sms', identifier, providerId: twilio.$id });
    // Queued (workerd), the fault rides in the delivery job; without a queue (Spin) the
    // delivery runs in the request itself.
    const fault = runtime === 'spin' ? 'outbound:1' : 'job:outbound:1';
    const sms = await new node.Messaging(faulty(adminClient(), fault)).createSms({ messageId: uid('m'), content: 'again', targets: [target.$id] });
    let m = sms;
    for (const until = Date.now() + 20_000; !['sent', 'failed'].includes(m.status) && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 150));
      m = await messaging.getMessage({ messageId: sms.$id });
    }
    assert.equal(m.status, 'sent', JSON.stringify(m.deliveryErrors));
    assert.equal(providers.deliveredTo('twilio', identifier).length, 1, 'sent once');
    await messaging.deleteProvider({ providerId: twilio.$id });
  } finally {
    await providers.close();
  }
});

test('faults: an asynchronous execution whose queueing or run failed ends failed or runs once', { skip: runtime === 'spin' && 'Spin has no queue: executions run in their request' }, async () => {
  const functions = new node.Functions(adminClient());
  const functionId = uid('ff');
  await functions.create({ functionId, name: 'echo', runtime: 'wasm-wasip1', execute: ['any'] });
  const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release';
  const code = InputFile.fromBuffer(readFileSync(join(examples, 'echo.wasm')), 'echo.wasm');
  const d = await functions.createDeployment({ functionId, code, activate: true });
  assert.equal(d.status, 'ready');

  // Queueing fails: the execution is answered failed, never left waiting.
  const refused = await new node.Functions(faulty(adminClient(), 'jobs:1')).createExecution({ functionId, body: 'x', async: true });
  assert.equal(refused.status, 'failed', JSON.stringify(refused));

  // The run fails reading the execution, or claiming it: the consumer queues the job again, and
  // the execution completes.
  for (let n = 1; n <= 2; n++) {
    const e = await new node.Functions(faulty(adminClient(), `job:sql:${n}`)).createExecution({ functionId, body: `run ${n}`, async: true });
    let now = e;
    const until = Date.now() + 40_000;
    while (!['completed', 'failed'].includes(now.status) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      now = await functions.getExecution({ functionId, executionId: e.$id });
    }
    assert.equal(now.status, 'completed', `job:sql:${n}: ${JSON.stringify(now)}`);
  }
  await functions.delete({ functionId });
});

test('faults: a job the queue delivers twice acts once: one SMS per target, one run per execution', { skip: runtime === 'spin' && 'Spin has no queue: jobs run once, in their request' }, async () => {
  const { startProviders } = await import('./providers.mjs');
  const providers = await startProviders({ port: Number(process.env.EDGEWRITE_TEST_PROVIDERS_PORT) });
  try {
    const messaging = new node.Messaging(adminClient());
    const users = new node.Users(adminClient());
    const twilio = await messaging.createTwilioProvider({ providerId: uid('tw'), name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
    const targets = [];
    for (let i = 0; i < 3; i++) {
      const userId = uid('fu');
      await users.create({ userId, name: 'twice' });
      const identifier = `+1555${Math.floor(1e6 + Math.random() * 9e6)}`;
      targets.push({ identifier, ...(await users.createTarget({ userId, targetId: uid('t'), providerType: 'sms', identifier, providerId: twilio.$id })) });
    }
    const sms = await new node.Messaging(faulty(adminClient(), 'jobs.twice:1')).createSms({ messageId: uid('m'), content: 'once', targets: targets.map((t) => t.$id) });
    let m = sms;
    for (const until = Date.now() + 20_000; !['sent', 'failed'].includes(m.status) && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 150));
      m = await messaging.getMessage({ messageId: sms.$id });
    }
    assert.equal(m.status, 'sent', JSON.stringify(m.deliveryErrors));
    assert.equal(m.deliveredTotal, 3);
    await new Promise((r) => setTimeout(r, 1000)); // the second delivery of the job, had it sent anything
    for (const t of targets) assert.equal(providers.deliveredTo('twilio', t.identifier).length, 1, `one SMS to ${t.identifier}`);
    await messaging.deleteProvider({ providerId: twilio.$id });
  } finally {
    await providers.close();
  }

  // An execution of the create-document example: a second run would make a second document.
  const { databaseId, collectionId } = await collection();
  const functions = new node.Functions(adminClient());
  const functionId = uid('fw');
  await functions.create({ functionId, name: 'writer', runtime: 'wasm-wasip1', execute: ['any'], scopes: ['documents.read', 'documents.write'] });
  const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release';
  await functions.createDeployment({ functionId, code: InputFile.fromBuffer(readFileSync(join(examples, 'create-document.wasm')), 'create-document.wasm'), activate: true });
  const label = uid('once');
  const e = await new node.Functions(faulty(adminClient(), 'jobs.twice:1')).createExecution({ functionId, async: true, body: JSON.stringify({ databaseId, collectionId, data: { n: 7, label } }) });
  let now = e;
  for (const until = Date.now() + 30_000; !['completed', 'failed'].includes(now.status) && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 250));
    now = await functions.getExecution({ functionId, executionId: e.$id });
  }
  assert.equal(now.status, 'completed', JSON.stringify(now));
  await new Promise((r) => setTimeout(r, 1000));
  const made = await new node.Databases(adminClient()).listDocuments({ databaseId, collectionId, queries: [node.Query.equal('label', [label])] });
  assert.equal(made.total, 1, 'the execution ran once');
  await functions.delete({ functionId });
});

test('faults: a fault header that names no operation is ignored', async () => {
  // A malformed fault names nothing: the request is served as usual.
  const res = await raw('/health/version', { headers: { 'x-edgewrite-fault': 'disk:1' } });
  assert.equal(res.status, 200);
});
