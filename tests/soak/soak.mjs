// Soak workload for `cargo xtask soak` (xtask/src/soak.rs): for EDGEWRITE_SOAK_MINUTES minutes,
// WORKERS clients loop over a weighted mix of sign-ups, email/password logins, document creates,
// reads, updates and lists, small file uploads and downloads, synchronous executions of the echo
// function and SMS messages to a topic (delivered to the Twilio stand-in of
// tests/e2e/providers.mjs), while SUBSCRIBERS realtime WebSockets stay open on the collection's
// channel. Then it checks every acknowledged write against what the server reports and what the
// stand-ins received, and prints the report as one JSON line on stdout.
//
// stdout carries only JSON lines: {"phase":"load"} when the load starts, {"phase":"check"} when
// it stops (xtask samples the server's memory in between), then the report.
//   EDGEWRITE_ENDPOINT=… EDGEWRITE_PROJECT_ID=… EDGEWRITE_API_KEY=… EDGEWRITE_TEST_PROVIDERS_PORT=…
//   EDGEWRITE_FUNCTION_EXAMPLES=… EDGEWRITE_SOAK_MINUTES=1 node soak/soak.mjs
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startProviders } from '../e2e/providers.mjs';

const endpoint = process.env.EDGEWRITE_ENDPOINT;
const project = process.env.EDGEWRITE_PROJECT_ID;
const key = process.env.EDGEWRITE_API_KEY;
const examples = process.env.EDGEWRITE_FUNCTION_EXAMPLES;
if (!endpoint || !project || !key || !examples) throw new Error('EDGEWRITE_ENDPOINT, EDGEWRITE_PROJECT_ID, EDGEWRITE_API_KEY and EDGEWRITE_FUNCTION_EXAMPLES are required');
const MINUTES = Number(process.env.EDGEWRITE_SOAK_MINUTES ?? 10);
const WORKERS = 8;
const SUBSCRIBERS = 4;
/** SMS targets subscribed to the topic: each message is that many deliveries. */
const TARGETS = 3;
const REQUEST_TIMEOUT_MS = 30_000;
/** How long deliveries still in flight when the load stops (events, SMS) may take to land. */
const GRACE_MS = 60_000;
/** The mix: relative weights of each operation (EDGEWRITE_SOAK_MIX=docCreate=1,docRead=3 narrows it). */
const WEIGHTS = {
  signup: 4, login: 4, docCreate: 20, docRead: 24, docUpdate: 8, docList: 4,
  fileUpload: 8, fileDownload: 10, execute: 8, sms: 2,
};
if (process.env.EDGEWRITE_SOAK_MIX) {
  const mix = Object.fromEntries(process.env.EDGEWRITE_SOAK_MIX.split(',').map((part) => part.split('=')));
  const unknown = Object.keys(mix).filter((op) => !(op in WEIGHTS));
  if (unknown.length) throw new Error(`EDGEWRITE_SOAK_MIX: no operation ${unknown.join(', ')} (${Object.keys(WEIGHTS).join(', ')})`);
  for (const op of Object.keys(WEIGHTS)) WEIGHTS[op] = Number(mix[op] ?? 0);
}

const admin = { 'x-appwrite-project': project, 'x-appwrite-key': key };
const json = { 'content-type': 'application/json' };
// Each worker is its own client address (the server trusts X-Forwarded-For here).
const guestOf = (w) => ({ 'x-appwrite-project': project, 'x-forwarded-for': `10.99.0.${w + 1}` });
const tag = Date.now().toString(36);
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const log = (line) => process.stderr.write(`  soak: ${line}\n`);
const emit = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const qs = (...queries) => queries.map((q, i) => `queries%5B${i}%5D=${encodeURIComponent(JSON.stringify(q))}`).join('&');

/** A set-up or check request: throws unless it is answered 2xx. */
async function call(path, method = 'GET', body) {
  const form = body instanceof FormData;
  const res = await fetch(endpoint + path, {
    method, headers: form ? admin : { ...admin, ...json }, body: form ? body : body && JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

// ---------------------------------------------------------------------------------------------
// Set-up

const db = 'soak';
const col = 'items';
const docsPath = `/databases/${db}/collections/${col}/documents`;
const bucket = 'soakfiles';
const filesPath = `/storage/buckets/${bucket}/files`;
const functionId = 'soakecho';
const topicId = 'soaktopic';
const phones = Array.from({ length: TARGETS }, (_, i) => `+1555700${String(i).padStart(4, '0')}`);

const providers = await startProviders({ port: Number(process.env.EDGEWRITE_TEST_PROVIDERS_PORT) });
await call('/databases', 'POST', { databaseId: db, name: 'soak' });
await call(`/databases/${db}/collections`, 'POST', { collectionId: col, name: 'items', permissions: ['read("any")', 'create("any")', 'update("any")'] });
await call(`/databases/${db}/collections/${col}/attributes/integer`, 'POST', { key: 'n', required: true });
await call(`/databases/${db}/collections/${col}/attributes/integer`, 'POST', { key: 'v', required: true });
await call(`/databases/${db}/collections/${col}/attributes/string`, 'POST', { key: 'label', size: 64, required: false });
await call('/storage/buckets', 'POST', { bucketId: bucket, name: 'soak', permissions: ['read("any")', 'create("any")'] });
await call('/functions', 'POST', { functionId, name: 'echo', runtime: 'wasm-wasip1', execute: ['any'] });
{
  const form = new FormData();
  form.append('activate', 'true');
  form.append('code', new Blob([readFileSync(join(examples, 'echo.wasm'))]), 'echo.wasm');
  const d = await call(`/functions/${functionId}/deployments`, 'POST', form);
  if (d.status !== 'ready') throw new Error(`deployment of echo: ${d.status} ${d.buildLogs}`);
}
await call('/messaging/providers/twilio', 'POST', { providerId: 'soaktwilio', name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
await call('/messaging/topics', 'POST', { topicId, name: 'soak' });
await call('/users', 'POST', { userId: 'soakphones', name: 'soak phones' });
for (const [i, identifier] of phones.entries()) {
  await call('/users/soakphones/targets', 'POST', { targetId: `soakphone${i}`, providerType: 'sms', identifier, providerId: 'soaktwilio' });
  await call(`/messaging/topics/${topicId}/subscribers`, 'POST', { subscriberId: `soakphone${i}`, targetId: `soakphone${i}` });
}

/** A realtime subscriber on the collection's channel: the create events it got, by document. */
async function subscribe(n) {
  const sub = { creates: new Map(), updates: 0, closed: false, stopping: false };
  const socket = new WebSocket(`${endpoint.replace(/^http/, 'ws')}/realtime?project=${project}`, { headers: { 'x-forwarded-for': `10.98.0.${n + 1}` } });
  const next = () => new Promise((resolve, reject) => {
    socket.once('message', resolve);
    socket.once('error', reject);
    socket.once('unexpected-response', (_, res) => reject(new Error(`realtime handshake ${res.statusCode}`)));
  });
  await next();
  socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: 'soak', channels: [`databases.${db}.collections.${col}.documents`] }] }));
  await next();
  socket.on('message', (message) => {
    const frame = JSON.parse(message);
    if (frame.type !== 'event') return;
    const id = frame.data.payload.$id;
    if (frame.data.events.some((e) => e.endsWith('.create'))) sub.creates.set(id, (sub.creates.get(id) ?? 0) + 1);
    else if (frame.data.events.some((e) => e.endsWith('.update'))) sub.updates++;
  });
  socket.on('close', () => { if (!sub.stopping) sub.closed = true; });
  // The SDKs' heartbeat, well under the server's 32 frames a minute.
  const heartbeat = setInterval(() => socket.send(JSON.stringify({ type: 'ping' })), 20_000);
  sub.stop = () => { sub.stopping = true; clearInterval(heartbeat); socket.terminate(); };
  return sub;
}
const subscribers = await Promise.all(Array.from({ length: SUBSCRIBERS }, (_, n) => subscribe(n)));
log(`set up: collection, bucket, echo function, Twilio provider with a topic of ${TARGETS}, ${SUBSCRIBERS} realtime subscribers`);

// ---------------------------------------------------------------------------------------------
// The load

const minutes = Array.from({ length: MINUTES }, () => ({ requests: 0, status5xx: 0, noAnswer: 0, latencies: [] }));
const ops = Object.fromEntries(Object.keys(WEIGHTS).map((op) => [op, { requests: 0, ok: 0, unexpected: 0, status5xx: 0, noAnswer: 0, mismatched: 0, latencies: [] }]));
const problems = [];
const note = (what) => { if (problems.length < 30) problems.push(what); };
let loadStart = 0;

/** One request of the workload, recorded; `ok` when answered `expect`. */
async function hit(op, path, { method = 'GET', headers, body, expect = 200 }) {
  const t0 = performance.now();
  let status = 0;
  let buf = null;
  try {
    const res = await fetch(endpoint + path, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    buf = Buffer.from(await res.arrayBuffer());
    status = res.status;
  } catch (e) {
    note({ op, path, error: String(e.message ?? e) });
  }
  const ms = performance.now() - t0;
  const minute = minutes[Math.min(MINUTES - 1, Math.floor((t0 - loadStart) / 60_000))];
  const o = ops[op];
  for (const s of [minute, o]) {
    s.requests++;
    s.latencies.push(ms);
    if (status === 0) s.noAnswer++;
    if (status >= 500) s.status5xx++;
  }
  if (status === expect) o.ok++;
  else if (status !== 0 && status < 500) o.unexpected++;
  if (status !== expect && status !== 0) note({ op, path, status, body: buf.toString('utf8').slice(0, 300) });
  return { status, ok: status === expect, answered: status !== 0 && status < 500, json: () => JSON.parse(buf.toString('utf8')), buf };
}
const mismatch = (op, what) => { ops[op].mismatched++; note({ op, mismatch: what }); };

// What was acknowledged (and what may or may not have landed: no answer, or a 5xx).
const signups = [];
const unsureUsers = new Set();
const docs = new Map(); // id → {n, v, worker, unsureV: Set of versions whose update was not answered}
const docIds = [];
const unsureDocs = new Set();
const files = new Map(); // id → sha256
const fileIds = [];
const unsureFiles = new Set();
const messages = []; // {id, content}
const unsureMessages = new Set();
let executions = 0;
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const PASSWORD = 'soak-Tangerine-42!';

const OPS = {
  async signup(w, s) {
    const id = `u${w}x${s.seq++}${tag}`;
    const email = `${id}@soak.test`;
    const r = await hit('signup', '/account', { method: 'POST', headers: { ...guestOf(w), ...json }, body: JSON.stringify({ userId: id, email, password: PASSWORD, name: `soak ${id}` }), expect: 201 });
    if (r.ok) signups.push({ id, email });
    else if (!r.answered) unsureUsers.add(id);
  },
  async login(w, s) {
    if (!signups.length) return OPS.signup(w, s);
    const { email } = pick(signups);
    await hit('login', '/account/sessions/email', { method: 'POST', headers: { ...guestOf(w), ...json }, body: JSON.stringify({ email, password: PASSWORD }), expect: 201 });
  },
  async docCreate(w, s) {
    const id = `d${w}x${s.seq++}${tag}`;
    const n = s.seq;
    const r = await hit('docCreate', docsPath, { method: 'POST', headers: { ...guestOf(w), ...json }, body: JSON.stringify({ documentId: id, data: { n, v: 0, label: `soak ${id}` } }), expect: 201 });
    if (r.ok) {
      docs.set(id, { n, v: 0, unsureV: new Set() });
      docIds.push(id);
      s.docs.push(id);
    } else if (!r.answered) unsureDocs.add(id);
  },
  async docRead(w, s) {
    if (!docIds.length) return OPS.docCreate(w, s);
    const id = pick(docIds);
    const r = await hit('docRead', `${docsPath}/${id}`, { headers: guestOf(w) });
    if (r.ok && (r.json().$id !== id || r.json().n !== docs.get(id).n)) mismatch('docRead', `${id} read back as ${r.buf.toString('utf8').slice(0, 200)}`);
  },
  // Only the worker that created a document updates it, one update at a time, so its last
  // acknowledged version is what the server must hold at the end.
  async docUpdate(w, s) {
    if (!s.docs.length) return OPS.docCreate(w, s);
    const id = pick(s.docs);
    const doc = docs.get(id);
    const v = doc.v + 1 + doc.unsureV.size;
    const r = await hit('docUpdate', `${docsPath}/${id}`, { method: 'PATCH', headers: { ...guestOf(w), ...json }, body: JSON.stringify({ data: { v } }) });
    if (r.ok) {
      if (r.json().v !== v) mismatch('docUpdate', `${id} answered v=${r.json().v}, sent ${v}`);
      doc.v = v;
      doc.unsureV.clear();
    } else if (!r.answered) doc.unsureV.add(v);
  },
  async docList(w) {
    await hit('docList', `${docsPath}?${qs({ method: 'orderDesc', attribute: 'n' }, { method: 'limit', values: [10] })}&total=false`, { headers: guestOf(w) });
  },
  async fileUpload(w, s) {
    const id = `f${w}x${s.seq++}${tag}`;
    const bytes = Buffer.from(`${id} soak file\n`.repeat(40 + (s.seq % 400)));
    const form = new FormData();
    form.append('fileId', id);
    form.append('file', new Blob([bytes]), `${id}.txt`);
    const r = await hit('fileUpload', filesPath, { method: 'POST', headers: admin, body: form, expect: 201 });
    if (r.ok) {
      files.set(id, sha(bytes));
      fileIds.push(id);
    } else if (!r.answered) unsureFiles.add(id);
  },
  async fileDownload(w, s) {
    if (!fileIds.length) return OPS.fileUpload(w, s);
    const id = pick(fileIds);
    const r = await hit('fileDownload', `${filesPath}/${id}/download`, { headers: guestOf(w) });
    if (r.ok && sha(r.buf) !== files.get(id)) mismatch('fileDownload', `${id}: ${r.buf.length} bytes that are not the uploaded ones`);
  },
  async execute(w, s) {
    const token = `x${w}x${s.seq++}${tag}`;
    const r = await hit('execute', `/functions/${functionId}/executions`, { method: 'POST', headers: { ...guestOf(w), ...json }, body: JSON.stringify({ body: token, async: false, method: 'POST', path: '/soak' }), expect: 201 });
    if (!r.ok) return;
    executions++;
    const e = r.json();
    let echoed = null;
    try { echoed = JSON.parse(e.responseBody).bodyText; } catch { /* reported below */ }
    if (e.status !== 'completed' || echoed !== token) mismatch('execute', `${e.status}, echoed ${String(echoed).slice(0, 80)} for ${token}`);
  },
  async sms(w, s) {
    const id = `m${w}x${s.seq++}${tag}`;
    const content = `soak message ${id}`;
    const r = await hit('sms', '/messaging/messages/sms', { method: 'POST', headers: { ...admin, ...json }, body: JSON.stringify({ messageId: id, content, topics: [topicId] }), expect: 201 });
    if (r.ok) messages.push({ id, content });
    else if (!r.answered) unsureMessages.add(content);
  },
};
const weighted = Object.entries(WEIGHTS).flatMap(([op, weight]) => Array(weight).fill(op));

emit({ phase: 'load' });
loadStart = performance.now();
const loadEnd = loadStart + MINUTES * 60_000;
let lastProgress = loadStart;
await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
  const state = { seq: 0, docs: [] };
  while (performance.now() < loadEnd) {
    await OPS[pick(weighted)](w, state);
    if (w === 0 && performance.now() - lastProgress > 30_000) {
      lastProgress = performance.now();
      const done = minutes.reduce((a, m) => a + m.requests, 0);
      log(`${((lastProgress - loadStart) / 1000).toFixed(0)} s: ${done} requests, ${minutes.reduce((a, m) => a + m.status5xx, 0)} 5xx`);
    }
  }
}));
const loadSeconds = (performance.now() - loadStart) / 1000;
emit({ phase: 'check' });
log(`load stopped after ${loadSeconds.toFixed(0)} s; checking`);

// ---------------------------------------------------------------------------------------------
// The checks

const graceEnd = Date.now() + GRACE_MS;

// Realtime: every subscriber gets one create event per acknowledged create (all were made while
// it was subscribed); those still in flight get until the grace period ends.
while (Date.now() < graceEnd && subscribers.some((sub) => docIds.some((id) => !sub.creates.has(id)))) await sleep(250);
const realtime = subscribers.map((sub) => {
  const lost = docIds.filter((id) => !sub.creates.has(id)).length;
  let extra = 0;
  for (const [id, count] of sub.creates) extra += docs.has(id) ? count - 1 : unsureDocs.has(id) ? count - 1 : count;
  return { received_creates: sub.creates.size, received_updates: sub.updates, lost, extra, closed_early: sub.closed };
});
for (const sub of subscribers) sub.stop();

// Messages: each one `sent`, delivered to every target of the topic, and each delivery reached
// the stand-in exactly once.
const statuses = new Map();
for (const m of messages) {
  for (;;) {
    const got = await call(`/messaging/messages/${m.id}`);
    if (got.status === 'sent' || got.status === 'failed' || Date.now() > graceEnd) {
      statuses.set(m.id, got);
      break;
    }
    await sleep(200);
  }
}
const byContent = new Map();
for (const r of providers.requests) {
  if (r.provider !== 'twilio') continue;
  if (!byContent.has(r.content)) byContent.set(r.content, []);
  byContent.get(r.content).push(r.to);
}
const messageCheck = { acknowledged: messages.length, sent: 0, not_sent: 0, delivered_total_wrong: 0, deliveries_expected: messages.length * TARGETS, deliveries_received: 0, lost: 0, extra: 0, rejected_by_stand_in: providers.rejected.length };
for (const m of messages) {
  const got = statuses.get(m.id);
  if (got.status === 'sent') messageCheck.sent++;
  else {
    messageCheck.not_sent++;
    note({ op: 'sms', message: m.id, status: got.status, deliveryErrors: got.deliveryErrors });
  }
  if (got.deliveredTotal !== TARGETS) messageCheck.delivered_total_wrong++;
  const received = byContent.get(m.content) ?? [];
  byContent.delete(m.content);
  messageCheck.deliveries_received += received.length;
  for (const phone of phones) {
    const times = received.filter((to) => to === phone).length;
    if (times === 0) messageCheck.lost++;
    messageCheck.extra += Math.max(0, times - 1);
  }
  messageCheck.extra += received.filter((to) => !phones.includes(to)).length;
}
for (const [content, received] of byContent) if (!unsureMessages.has(content)) messageCheck.extra += received.length;
for (const r of providers.rejected.slice(0, 5)) note({ op: 'sms', rejected: `${r.status} ${r.reason.split('\n')[0]}` });
await providers.close();

/** Every item of a list endpoint, paged by cursor, by id; and the server's (capped) total. */
async function everything(path, key) {
  const items = new Map();
  let cursor = null;
  for (;;) {
    const page = await call(`${path}?${qs({ method: 'limit', values: [100] }, ...(cursor ? [{ method: 'cursorAfter', values: [cursor] }] : []))}&total=false`);
    for (const item of page[key]) items.set(item.$id, item);
    if (page[key].length < 100) break;
    cursor = page[key].at(-1).$id;
  }
  const { total } = await call(`${path}?${qs({ method: 'limit', values: [1] })}`);
  return { items, total };
}
/** Acknowledged ids missing from `items`, and items neither acknowledged nor unsure. */
function compare(acknowledged, unsure, items, ours = () => true) {
  const known = new Set(acknowledged);
  const lost = acknowledged.filter((id) => !items.has(id));
  const extra = [...items.keys()].filter((id) => ours(id) && !known.has(id) && !unsure.has(id));
  return { lost, extra };
}
const COUNT_CAP = 5000; // the server's `total` counts at most this many (Appwrite's APP_LIMIT_COUNT)

const users = await everything('/users', 'users');
const signupIds = signups.map((u) => u.id);
const userDiff = compare(signupIds, unsureUsers, users.items, (id) => id.startsWith('u') && id.endsWith(tag));
const userCheck = { acknowledged: signups.length, server_total: users.total, total_ok: users.total >= Math.min(signups.length, COUNT_CAP), lost: userDiff.lost.length, extra: userDiff.extra.length };

const documents = await everything(docsPath, 'documents');
const docDiff = compare(docIds, unsureDocs, documents.items);
let staleVersions = 0;
for (const [id, doc] of docs) {
  const got = documents.items.get(id);
  if (got && got.v !== doc.v && !doc.unsureV.has(got.v)) {
    staleVersions++;
    note({ op: 'docUpdate', stale: `${id} holds v=${got.v}, last acknowledged ${doc.v}` });
  }
}
const landed = [...unsureDocs].filter((id) => documents.items.has(id)).length;
const docCheck = {
  acknowledged: docIds.length, server_total: documents.total, total_ok: documents.total === Math.min(docIds.length + landed, COUNT_CAP),
  lost: docDiff.lost.length, extra: docDiff.extra.length, lost_updates: staleVersions,
};

const stored = await everything(filesPath, 'files');
const fileDiff = compare(fileIds, unsureFiles, stored.items);
const fileCheck = {
  acknowledged: fileIds.length, server_total: stored.total,
  total_ok: stored.total === Math.min(fileIds.length + [...unsureFiles].filter((id) => stored.items.has(id)).length, COUNT_CAP),
  lost: fileDiff.lost.length, extra: fileDiff.extra.length,
};
for (const id of [...userDiff.lost, ...docDiff.lost, ...fileDiff.lost].slice(0, 10)) note({ lost: id });
for (const id of [...userDiff.extra, ...docDiff.extra, ...fileDiff.extra].slice(0, 10)) note({ extra: id });

// ---------------------------------------------------------------------------------------------
// The report

const summarise = (s) => {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const { latencies, ...counts } = s;
  return { ...counts, p50_ms: +percentile(sorted, 50).toFixed(1), p99_ms: +percentile(sorted, 99).toFixed(1) };
};
const perMinute = minutes.map((m, i) => ({ minute: i + 1, ...summarise(m) }));
const sum = (field) => Object.values(ops).reduce((a, o) => a + o[field], 0);
const realtimeLost = realtime.reduce((a, r) => a + r.lost, 0);
const realtimeExtra = realtime.reduce((a, r) => a + r.extra, 0);
const lost = userCheck.lost + docCheck.lost + docCheck.lost_updates + fileCheck.lost + messageCheck.lost + messageCheck.not_sent + realtimeLost;
const extra = userCheck.extra + docCheck.extra + fileCheck.extra + messageCheck.extra + realtimeExtra;
const failures = [];
if (sum('status5xx')) failures.push(`${sum('status5xx')} answers were 5xx`);
if (sum('noAnswer')) failures.push(`${sum('noAnswer')} requests got no answer`);
if (sum('unexpected')) failures.push(`${sum('unexpected')} answers had an unexpected status`);
if (sum('mismatched')) failures.push(`${sum('mismatched')} answers did not hold what was written`);
if (lost) failures.push(`${lost} acknowledged writes or deliveries lost`);
if (extra) failures.push(`${extra} writes or deliveries appeared that were never acknowledged (or twice)`);
if (!userCheck.total_ok || !docCheck.total_ok || !fileCheck.total_ok) failures.push('a server total disagrees with the acknowledged writes');
if (messageCheck.delivered_total_wrong) failures.push(`${messageCheck.delivered_total_wrong} messages report a deliveredTotal other than ${TARGETS}`);
if (messageCheck.rejected_by_stand_in) failures.push(`the Twilio stand-in refused ${messageCheck.rejected_by_stand_in} requests`);
if (realtime.some((r) => r.closed_early)) failures.push('a realtime subscriber was disconnected');

emit({
  minutes: MINUTES, workers: WORKERS, load_seconds: +loadSeconds.toFixed(1), weights: WEIGHTS,
  totals: { requests: sum('requests'), status_5xx: sum('status5xx'), no_answer: sum('noAnswer'), unexpected: sum('unexpected'), mismatched: sum('mismatched'), executions, lost, extra },
  per_minute: perMinute,
  operations: Object.fromEntries(Object.entries(ops).map(([op, s]) => [op, summarise(s)])),
  checks: { users: userCheck, documents: docCheck, files: fileCheck, messages: messageCheck, realtime },
  failures,
  problems,
});
