// Functions through the official SDKs: functions, variables, deployments of the example
// modules (examples/functions, built by `cargo xtask test`), synchronous executions with the
// request and response exact, a function writing through the API with its key, execute roles,
// and modules that loop, hog memory or are not modules at all, failing cleanly.
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { InputFile } from 'node-appwrite/file';
import { adminClient, guestClient, endpoint, runtime, node, web, raw, rejectsWith, assertAppwriteError, userClient } from './helpers.mjs';

const test = nodeTest;
// Spin has no queue consumer and no cron trigger (README, "Functions").
const cloudflareOnly = (name, fn) => nodeTest(name, { skip: runtime === 'spin' && 'Spin has no Cron Trigger or queue' }, fn);
const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? '../target/wasm32-wasip1/release';
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const functions = (client = adminClient()) => new node.Functions(client);
const moduleBytes = (name) => readFileSync(join(examples, `${name}.wasm`));

/** A function with `name`'s module deployed and active. */
async function deployed(name, options = {}) {
  const functionId = uid('f');
  const f = functions();
  await f.create({ functionId, name, runtime: 'wasm-wasip1', execute: ['any'], ...options });
  const deployment = await f.createDeployment({
    functionId,
    code: InputFile.fromBuffer(moduleBytes(name), `${name}.wasm`),
    activate: true,
  });
  const ready = await waitFor(() => f.getDeployment({ functionId, deploymentId: deployment.$id }), (d) => d.status !== 'waiting');
  assert.equal(ready.status, 'ready', ready.buildLogs);
  return { functionId, deploymentId: deployment.$id };
}

async function waitFor(read, done, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A minimal ustar archive holding `files` ({name: Buffer}). */
function tar(files) {
  const blocks = [];
  for (const [name, data] of Object.entries(files)) {
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

test('functions: create, list, update and delete with API keys; runtimes and specifications', async () => {
  const f = functions();
  const runtimes = await f.listRuntimes();
  assert.deepEqual(runtimes.runtimes.map((r) => r.$id), ['wasm-wasip1']);
  const specs = await f.listSpecifications();
  assert.equal(specs.specifications.length, 1);
  assert.ok(specs.specifications[0].memory > 0);

  const functionId = uid('f');
  const created = await f.create({ functionId, name: 'Hello', runtime: 'wasm-wasip1', execute: ['users'], timeout: 5, schedule: '*/5 * * * *' });
  assert.equal(created.$id, functionId);
  assert.equal(created.name, 'Hello');
  assert.deepEqual(created.execute, ['users']);
  assert.equal(created.timeout, 5);
  assert.equal(created.enabled, true);
  assert.equal(created.deploymentId, '');
  assert.deepEqual(created.vars, []);
  await rejectsWith(assert, f.create({ functionId, name: 'Again', runtime: 'wasm-wasip1' }), 409, 'function_already_exists');
  await rejectsWith(assert, f.create({ functionId: uid('f'), name: 'Node', runtime: 'node-18.0' }), 404, 'function_runtime_unsupported');
  await rejectsWith(assert, f.create({ functionId: uid('f'), name: 'Cron', runtime: 'wasm-wasip1', schedule: '61 * * * *' }), 400, 'general_argument_invalid');

  const updated = await f.update({ functionId, name: 'Renamed', timeout: 30, enabled: false });
  assert.equal(updated.name, 'Renamed');
  assert.equal(updated.timeout, 30);
  assert.equal(updated.enabled, false);
  // As in Appwrite, what an update leaves out returns to its default.
  assert.deepEqual(updated.execute, []);
  assert.equal(updated.schedule, '');
  const list = await f.list({ queries: [node.Query.equal('name', 'Renamed')] });
  assert.ok(list.functions.some((x) => x.$id === functionId));
  const searched = await f.list({ search: functionId });
  assert.equal(searched.total, 1);

  // Without a key the Functions API is closed.
  const res = await raw(`/functions/${functionId}`);
  assertAppwriteError(assert, res, 401, 'general_unauthorized_scope');

  await f.delete({ functionId });
  await rejectsWith(assert, f.get({ functionId }), 404, 'function_not_found');
});

test('functions: variables reach executions; secret values are never returned', async () => {
  const { functionId } = await deployed('echo');
  const f = functions();
  const plain = await f.createVariable({ functionId, variableId: 'plain', key: 'ECHO_PLAIN', value: 'visible' });
  assert.equal(plain.value, 'visible');
  assert.equal(plain.secret, false);
  const secret = await f.createVariable({ functionId, variableId: 'secret', key: 'ECHO_SECRET', value: 's3cr3t', secret: true });
  assert.equal(secret.value, '');
  assert.equal(secret.secret, true);
  assert.equal((await f.getVariable({ functionId, variableId: 'secret' })).value, '');
  const listed = await f.listVariables({ functionId });
  assert.equal(listed.total, 2);
  assert.deepEqual(listed.variables.map((v) => v.value).sort(), ['', 'visible']);
  assert.ok((await f.get({ functionId })).vars.every((v) => v.key !== 'ECHO_SECRET' || v.value === ''));
  await rejectsWith(assert, f.createVariable({ functionId, variableId: 'dup', key: 'ECHO_PLAIN', value: 'x' }), 409, 'variable_already_exists');
  // A secret stays secret; its value can still change.
  await rejectsWith(assert, f.updateVariable({ functionId, variableId: 'secret', key: 'ECHO_SECRET', secret: false }), 400, 'general_argument_invalid');
  const changed = await f.updateVariable({ functionId, variableId: 'secret', key: 'ECHO_SECRET', value: 'rotated' });
  assert.equal(changed.value, '');

  const execution = await f.createExecution({ functionId, body: '', method: 'GET' });
  assert.equal(execution.status, 'completed', execution.errors);
  const env = JSON.parse(execution.responseBody).env;
  assert.equal(env.ECHO_PLAIN, 'visible');
  assert.equal(env.ECHO_SECRET, 'rotated');
  assert.ok(!JSON.stringify(await f.listVariables({ functionId })).includes('rotated'));

  await f.deleteVariable({ functionId, variableId: 'plain' });
  await rejectsWith(assert, f.getVariable({ functionId, variableId: 'plain' }), 404, 'variable_not_found');
});

test('functions: a synchronous execution gets the request exactly and answers with the response', async () => {
  const { functionId, deploymentId } = await deployed('echo', { scopes: ['users.read'] });
  const f = functions();
  const execution = await f.createExecution({
    functionId,
    body: 'hello, function',
    async: false,
    xpath: '/items/7?sort=asc&tag=a%20b',
    method: 'PATCH',
    headers: { 'X-Custom': 'yes', 'content-type': 'text/plain', 'x-appwrite-key': 'forged' },
  });
  assert.equal(execution.status, 'completed', execution.errors);
  assert.equal(execution.trigger, 'http');
  assert.equal(execution.functionId, functionId);
  assert.ok(!('resourceId' in execution) && !('resourceType' in execution), "1.9.6's Execution has neither");
  assert.equal(execution.deploymentId, deploymentId);
  assert.equal(execution.requestMethod, 'PATCH');
  assert.equal(execution.requestPath, '/items/7?sort=asc&tag=a%20b');
  assert.equal(execution.responseStatusCode, 200);
  assert.equal(execution.responseHeaders.find((h) => h.name === 'x-echo')?.value, 'yes');
  assert.ok(execution.requestHeaders.some((h) => h.name === 'x-custom' && h.value === 'yes'));
  assert.ok(!execution.requestHeaders.some((h) => h.name === 'x-appwrite-key'), 'the key is never shown');
  assert.equal(typeof execution.duration, 'number');

  const seen = JSON.parse(execution.responseBody);
  assert.equal(seen.method, 'PATCH');
  assert.equal(seen.path, '/items/7');
  assert.equal(seen.queryString, 'sort=asc&tag=a%20b');
  assert.deepEqual(seen.query, { sort: 'asc', tag: 'a b' });
  assert.equal(seen.bodyText, 'hello, function');
  assert.equal(seen.headers['x-custom'], 'yes');
  assert.equal(seen.headers['content-type'], 'text/plain');
  assert.equal(seen.headers['x-appwrite-trigger'], 'http');
  assert.ok(seen.hasKey, 'the execution key arrives');
  assert.notEqual(seen.headers['x-appwrite-key'], 'forged');
  assert.equal(seen.env.APPWRITE_FUNCTION_ID, functionId);
  assert.equal(seen.env.APPWRITE_FUNCTION_NAME, 'echo');
  assert.equal(seen.env.APPWRITE_FUNCTION_DEPLOYMENT, deploymentId);
  assert.equal(seen.env.APPWRITE_FUNCTION_PROJECT_ID, process.env.EDGEWRITE_PROJECT_ID ?? 'dev');
  assert.match(seen.env.APPWRITE_FUNCTION_API_ENDPOINT, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);

  // Logs and errors: the log import and standard error, shown to API keys.
  assert.match(execution.logs, /echo PATCH \/items\/7/);
  assert.match(execution.errors, /a line on standard error/);
  const stored = await f.getExecution({ functionId, executionId: execution.$id });
  assert.equal(stored.status, 'completed');
  assert.equal(stored.responseStatusCode, 200);
  assert.equal(stored.responseBody, '', 'the body is only for the synchronous caller');
  assert.match(stored.logs, /echo PATCH/);
  const listed = await f.listExecutions({ functionId });
  assert.ok(listed.executions.some((e) => e.$id === execution.$id));

  // The status the function picks comes back as the execution's.
  const teapot = await f.createExecution({ functionId, xpath: '/?status=418', method: 'GET' });
  assert.equal(teapot.responseStatusCode, 418);

  await f.deleteExecution({ functionId, executionId: execution.$id });
  await rejectsWith(assert, f.getExecution({ functionId, executionId: execution.$id }), 404, 'execution_not_found');
});

test('functions: execute roles decide who may run a function; clients never see logs', async () => {
  const { functionId } = await deployed('echo', { execute: ['users'] });
  const guest = new web.Functions(guestClient());
  await rejectsWith(assert, guest.createExecution({ functionId, body: 'x' }), 401, 'user_unauthorized');

  const alice = await userClient();
  const asAlice = new node.Functions(alice.client);
  const execution = await asAlice.createExecution({ functionId, body: 'from alice' });
  assert.equal(execution.status, 'completed');
  assert.equal(execution.logs, '');
  assert.equal(execution.errors, '');
  assert.deepEqual(execution.$permissions, [`read("user:${alice.user.$id}")`]);
  const seen = JSON.parse(execution.responseBody);
  assert.equal(seen.headers['x-appwrite-user-id'], alice.user.$id);
  assert.equal((await asAlice.getExecution({ functionId, executionId: execution.$id })).$id, execution.$id);
  assert.equal((await asAlice.listExecutions({ functionId })).total, 1);

  const bob = await userClient();
  const asBob = new node.Functions(bob.client);
  await rejectsWith(assert, asBob.getExecution({ functionId, executionId: execution.$id }), 404, 'execution_not_found');
  assert.equal((await asBob.listExecutions({ functionId })).total, 0);
  await rejectsWith(assert, asAlice.deleteExecution({ functionId, executionId: execution.$id }), 401, 'user_unauthorized');

  // A disabled function is gone for clients.
  await functions().update({ functionId, name: 'echo', enabled: false });
  await rejectsWith(assert, asAlice.createExecution({ functionId }), 404, 'function_not_found');
});

test('functions: a function creates a document through the API with its own key and scopes', async () => {
  const admin = adminClient();
  const databases = new node.Databases(admin);
  const databaseId = uid('db');
  await databases.create({ databaseId, name: 'fn' });
  const collectionId = uid('c');
  await databases.createCollection({ databaseId, collectionId, name: 'notes', permissions: ['read("any")'] });
  await databases.createStringAttribute({ databaseId, collectionId, key: 'text', size: 100, required: true });

  const { functionId } = await deployed('create-document', { scopes: ['documents.read', 'documents.write'] });
  const execution = await functions().createExecution({
    functionId,
    body: JSON.stringify({ databaseId, collectionId, data: { text: 'written by a function' } }),
  });
  assert.equal(execution.status, 'completed', execution.errors);
  assert.equal(execution.responseStatusCode, 201, execution.responseBody);
  const document = JSON.parse(execution.responseBody);
  const read = await databases.getDocument({ databaseId, collectionId, documentId: document.$id });
  assert.equal(read.text, 'written by a function');
  assert.match(execution.logs, /create document: 201/);

  // Without the scope, the key is refused like any other key.
  const { functionId: weak } = await deployed('create-document', { scopes: ['documents.read'] });
  const refused = await functions().createExecution({
    functionId: weak,
    body: JSON.stringify({ databaseId, collectionId, data: { text: 'nope' } }),
  });
  assert.equal(refused.responseStatusCode, 401);
  assert.equal(JSON.parse(refused.responseBody).type, 'general_unauthorized_scope');
  assert.equal((await databases.listDocuments({ databaseId, collectionId })).total, 1);
});

test('functions: fetch reaches only the project API and allow-listed hosts', async () => {
  const { functionId } = await deployed('fetch-elsewhere');
  const execution = await functions().createExecution({ functionId, body: 'http://127.0.0.1:9/secret' });
  assert.equal(execution.status, 'completed', execution.errors);
  assert.match(execution.responseBody, /^refused: fetch to 127\.0\.0\.1 is not allowed/);
  // The deployment's own host outside its API is not reachable either, and neither are
  // spellings that only look like the API.
  const origin = new URL(endpoint).origin;
  for (const url of [`${origin}/__scheduled`, `${origin}/v1@example.com/`, 'file:///etc/passwd']) {
    const e = await functions().createExecution({ functionId, body: url });
    assert.match(e.responseBody, /^refused: /, url);
  }
});

test('functions: a module that never returns fails at its timeout and the server keeps serving', async () => {
  const { functionId } = await deployed('spin-forever', { timeout: 1 });
  const execution = await functions().createExecution({ functionId });
  assert.equal(execution.status, 'failed');
  assert.equal(execution.responseStatusCode, 500);
  assert.match(execution.errors, /timed out after 1 seconds/);
  assert.equal((await raw('/health/version')).status, 200);
  const again = await functions().createExecution({ functionId });
  assert.equal(again.status, 'failed');
});

test('functions: a module that takes too much memory fails with a clear error', async () => {
  const { functionId } = await deployed('memory-hog');
  const execution = await functions().createExecution({ functionId });
  assert.equal(execution.status, 'failed');
  assert.match(execution.errors, /ran out of memory: functions may use at most \d+ MiB/);
  assert.match(execution.logs, /1 MiB/);
  assert.equal((await raw('/health/version')).status, 200);
});

test('functions: a garbage upload fails its deployment, not the server; archives are unpacked', async () => {
  const f = functions();
  const functionId = uid('f');
  await f.create({ functionId, name: 'garbage', runtime: 'wasm-wasip1', execute: ['any'] });
  const bad = await f.createDeployment({
    functionId,
    code: InputFile.fromBuffer(Buffer.from('#!/bin/sh\necho not wasm\n'), 'code.tar.gz'),
    activate: true,
  });
  const failed = await waitFor(() => f.getDeployment({ functionId, deploymentId: bad.$id }), (d) => d.status !== 'waiting');
  assert.equal(failed.status, 'failed');
  assert.match(failed.buildLogs, /neither a WebAssembly module/);
  assert.equal((await f.get({ functionId })).deploymentId, '', 'a failed build is never activated');
  await rejectsWith(assert, f.createExecution({ functionId }), 404, 'deployment_not_found');
  await rejectsWith(assert, f.updateFunctionDeployment({ functionId, deploymentId: bad.$id }), 400, 'build_not_ready');

  // A module importing what edgewrite does not provide fails with the import named.
  const foreign = Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x02, 0x0b, 0x01, 0x03,
    0x65, 0x6e, 0x76, 0x03, 0x6e, 0x65, 0x74, 0x00, 0x00,
  ]);
  const unlinked = await f.createDeployment({ functionId, code: InputFile.fromBuffer(foreign, 'm.wasm'), activate: false });
  assert.equal(unlinked.status, 'failed');
  assert.match(unlinked.buildLogs, /unsupported import env::net/);

  // The example inside a .tar.gz, as Appwrite's CLI uploads code.
  const archive = gzipSync(tar({ 'README.md': Buffer.from('echo'), 'bin/echo.wasm': moduleBytes('echo') }));
  const good = await f.createDeployment({ functionId, code: InputFile.fromBuffer(archive, 'code.tar.gz'), activate: true });
  assert.equal(good.status, 'ready', good.buildLogs);
  assert.equal(good.sourceSize, archive.length);
  assert.equal(good.buildSize, moduleBytes('echo').length);
  const fn = await f.get({ functionId });
  assert.equal(fn.deploymentId, good.$id);
  assert.equal(fn.latestDeploymentId, good.$id);
  assert.equal((await f.createExecution({ functionId, method: 'GET' })).status, 'completed');
  const deployments = await f.listDeployments({ functionId });
  assert.equal(deployments.total, 3);
  const source = Buffer.from(await f.getDeploymentDownload({ functionId, deploymentId: good.$id }));
  assert.ok(source.equals(archive));

  await f.deleteDeployment({ functionId, deploymentId: good.$id });
  assert.equal((await f.get({ functionId })).deploymentId, '');
  await rejectsWith(assert, f.getDeployment({ functionId, deploymentId: good.$id }), 404, 'deployment_not_found');
});

test('functions: a deployment over 5 MiB arrives in chunks, as the SDK sends it, and is built once complete', async () => {
  const f = functions();
  const functionId = uid('f');
  await f.create({ functionId, name: 'big', runtime: 'wasm-wasip1', execute: ['any'] });
  // Incompressible padding makes the archive two 5 MiB parts.
  const archive = gzipSync(tar({ 'assets/padding.bin': randomBytes(6 * 1024 * 1024), 'echo.wasm': moduleBytes('echo') }));
  assert.ok(archive.length > 5 * 1024 * 1024);
  const progress = [];
  const deployment = await f.createDeployment({
    functionId,
    code: InputFile.fromBuffer(archive, 'code.tar.gz'),
    activate: true,
    onProgress: (p) => progress.push(p.chunksUploaded),
  });
  assert.deepEqual(progress, [1, 2]);
  const ready = await waitFor(() => f.getDeployment({ functionId, deploymentId: deployment.$id }), (d) => d.status !== 'waiting' && d.status !== 'processing');
  assert.equal(ready.status, 'ready', ready.buildLogs);
  assert.equal(ready.sourceSize, archive.length);
  assert.equal((await f.createExecution({ functionId, method: 'GET' })).status, 'completed');
  const source = Buffer.from(await f.getDeploymentDownload({ functionId, deploymentId: deployment.$id }));
  assert.ok(source.equals(archive), 'the download is the upload, part by part');
  // Past the 10 MB limit the first part is refused.
  const huge = randomBytes(11 * 1000 * 1000);
  await rejectsWith(assert, f.createDeployment({ functionId, code: InputFile.fromBuffer(huge, 'huge.tar.gz'), activate: false }), 400, 'storage_invalid_file_size');
});

test('functions: a function may run another through the API, one level deep and no further', async () => {
  const { functionId: echo } = await deployed('echo');
  const { functionId: caller } = await deployed('call-api', { scopes: ['execution.write', 'execution.read'] });
  const f = functions();
  // caller → echo: a function starting another function's execution with its key.
  const run = (body) => f.createExecution({ functionId: caller, body: JSON.stringify(body) });
  const one = await run({ method: 'POST', path: `/functions/${echo}/executions`, body: { body: 'nested', path: '/inner' } });
  assert.equal(one.responseStatusCode, 201, one.responseBody);
  const inner = JSON.parse(one.responseBody);
  assert.equal(inner.status, 'completed');
  assert.equal(JSON.parse(inner.responseBody).path, '/inner');
  // caller → caller → anything: the second level may not start executions.
  const deep = await run({
    method: 'POST',
    path: `/functions/${caller}/executions`,
    body: { body: JSON.stringify({ method: 'POST', path: `/functions/${echo}/executions`, body: {} }) },
  });
  assert.equal(deep.responseStatusCode, 201, deep.responseBody);
  const middle = JSON.parse(deep.responseBody);
  assert.equal(middle.responseStatusCode, 429, middle.responseBody);
  assert.equal(JSON.parse(middle.responseBody).type, 'general_rate_limit_exceeded');
  // The same through the queue: an asynchronous execution keeps the depth it was started at.
  const queued = await run({
    method: 'POST',
    path: `/functions/${caller}/executions`,
    body: { async: true, body: JSON.stringify({ method: 'POST', path: `/functions/${echo}/executions`, body: {} }) },
  });
  const started = JSON.parse(queued.responseBody);
  const done = await waitFor(() => f.getExecution({ functionId: caller, executionId: started.$id }), (e) => e.status === 'completed' || e.status === 'failed');
  assert.equal(done.responseStatusCode, 429, 'the queued run is still one level down');
});

/** Runs the Cron Trigger now (wrangler dev --test-scheduled). */
async function tick() {
  const res = await fetch(`${new URL(endpoint).origin}/__scheduled?cron=*+*+*+*+*`);
  assert.equal(res.status, 200, await res.text());
}

test('functions: an asynchronous execution is queued, then runs: waiting → processing → completed', async () => {
  const { functionId } = await deployed('echo');
  const f = functions();
  const started = await f.createExecution({ functionId, body: 'later', async: true, xpath: '/async', method: 'PUT' });
  assert.ok(['waiting', 'processing', 'completed'].includes(started.status), started.status);
  assert.equal(started.trigger, 'http');
  assert.equal(started.responseBody, '');
  const done = await waitFor(() => f.getExecution({ functionId, executionId: started.$id }), (e) => ['completed', 'failed'].includes(e.status));
  assert.equal(done.status, 'completed', done.errors);
  assert.equal(done.responseStatusCode, 200);
  assert.equal(done.responseBody, '', 'an asynchronous execution keeps no body');
  assert.match(done.logs, /echo PUT \/async/);
  assert.equal(done.requestMethod, 'PUT');

  // Scheduled for later: it waits for its time, whatever ticks come before.
  const at = new Date(Date.now() + 5 * 60_000).toISOString();
  const scheduled = await f.createExecution({ functionId, async: true, scheduledAt: at });
  assert.equal(scheduled.status, 'scheduled');
  assert.equal(new Date(scheduled.scheduledAt).getTime(), new Date(at).getTime());
  if (runtime !== 'spin') await tick();
  assert.equal((await f.getExecution({ functionId, executionId: scheduled.$id })).status, 'scheduled');
  await rejectsWith(assert, f.createExecution({ functionId, async: false, scheduledAt: at }), 400, 'general_argument_invalid');
  await rejectsWith(assert, f.createExecution({ functionId, async: true, scheduledAt: new Date().toISOString() }), 400, 'general_argument_invalid');
});

cloudflareOnly('functions: a schedule starts its function once per minute from the Cron Trigger', async () => {
  const { functionId } = await deployed('echo', { schedule: '* * * * *' });
  const f = functions();
  const minute = () => Math.floor(Date.now() / 60_000);
  const before = minute();
  await tick();
  await tick();
  const sameMinute = before === minute();
  const runs = await waitFor(
    () => f.listExecutions({ functionId, queries: [node.Query.equal('trigger', 'schedule')] }),
    (l) => l.total > 0 && l.executions.every((e) => e.status === 'completed'),
  );
  assert.ok(runs.total >= 1);
  if (sameMinute) assert.equal(runs.total, 1, 'two ticks in one minute start it once');
  assert.equal(runs.executions[0].status, 'completed', runs.executions[0].errors);
  assert.equal(runs.executions[0].trigger, 'schedule');
});

cloudflareOnly('functions: events start functions after the write commits, with the event and its payload', async () => {
  const admin = adminClient();
  const databases = new node.Databases(admin);
  const databaseId = uid('db');
  await databases.create({ databaseId, name: 'ev' });
  const collectionId = uid('c');
  await databases.createCollection({ databaseId, collectionId, name: 'ev', permissions: ['read("any")'] });
  await databases.createStringAttribute({ databaseId, collectionId, key: 'text', size: 100, required: true });
  const { functionId } = await deployed('echo', { events: [`databases.${databaseId}.collections.${collectionId}.documents.*.create`] });
  const f = functions();

  const document = await databases.createDocument({ databaseId, collectionId, documentId: node.ID.unique(), data: { text: 'hi' } });
  await databases.updateDocument({ databaseId, collectionId, documentId: document.$id, data: { text: 'not a create' } });
  const runs = await waitFor(
    () => f.listExecutions({ functionId }),
    (l) => l.total > 0 && l.executions.every((e) => e.status === 'completed' || e.status === 'failed'),
  );
  assert.equal(runs.total, 1, 'one create, one execution');
  const run = runs.executions[0];
  assert.equal(run.trigger, 'event');
  assert.equal(run.status, 'completed', run.errors);
  const event = run.requestHeaders.find((h) => h.name === 'x-appwrite-event')?.value;
  assert.equal(event, `databases.${databaseId}.collections.${collectionId}.documents.${document.$id}.create`);
  assert.match(run.logs, /echo POST \//);

  // A function's own writes start nothing: the create-document example writing into the
  // watched collection leaves the echo function's count as it was.
  const { functionId: writer } = await deployed('create-document', { scopes: ['documents.write'] });
  const wrote = await f.createExecution({ functionId: writer, body: JSON.stringify({ databaseId, collectionId, data: { text: 'from a function' } }) });
  assert.equal(wrote.responseStatusCode, 201, wrote.responseBody);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await f.listExecutions({ functionId })).total, 1);
});

test('function templates: the catalogue is empty, and a template is function_template_not_found (not a function)', async () => {
  const list = await raw('/functions/templates', { key: true });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json, { total: 0, templates: [] });
  assertAppwriteError(assert, await raw('/functions/templates/starter', { key: true }), 404, 'function_template_not_found');
});
