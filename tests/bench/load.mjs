// Load client for `cargo xtask bench`: fixed request counts at several concurrency levels against
// a running edgewrite; prints JSON (latency percentiles, throughput, and each scenario's p50 as a
// ratio of the baseline scenario, which is what to compare across machines).
const endpoint = process.env.EDGEWRITE_ENDPOINT;
const project = process.env.EDGEWRITE_PROJECT_ID;
const key = process.env.EDGEWRITE_API_KEY;
if (!endpoint || !project || !key) throw new Error('EDGEWRITE_ENDPOINT, EDGEWRITE_PROJECT_ID and EDGEWRITE_API_KEY are required');

const guest = { 'x-appwrite-project': project };
const admin = { ...guest, 'x-appwrite-key': key };
const json = { 'content-type': 'application/json' };
let counter = 0;
const uniqueEmail = () => `bench-${process.pid}-${counter++}@example.com`;

// Account fixtures: one user, one session, one JWT (created with the key, so no abuse limits).
async function post(path, headers, body) {
  const res = await fetch(endpoint + path, { method: 'POST', headers: { ...headers, ...json }, body: JSON.stringify(body) });
  if (res.status >= 400) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
const benchEmail = uniqueEmail();
const PASSWORD = 'bench-password-1';
await post('/account', admin, { userId: 'unique()', email: benchEmail, password: PASSWORD });
const session = await post('/account/sessions/email', admin, { email: benchEmail, password: PASSWORD });
const asUser = { ...guest, 'x-appwrite-session': session.secret };
const { jwt } = await post('/account/jwts', asUser, { duration: 3600 });
const asJwt = { ...guest, 'x-appwrite-jwt': jwt };

// Users fixture: 10,000 users without passwords (hashing is measured above), created with the
// key at concurrency 8; a re-run against the same state finds them already there.
const SEEDED_USERS = Number(process.env.EDGEWRITE_BENCH_USERS ?? 10_000);
{
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < SEEDED_USERS) {
      const i = next++;
      const res = await fetch(`${endpoint}/users`, {
        method: 'POST', headers: { ...admin, ...json },
        body: JSON.stringify({ userId: `bench10k-${i}`, email: `bench10k-${i}@example.com`, name: `Bench User ${i}` }),
      });
      if (res.status >= 400 && res.status !== 409) throw new Error(`seeding users: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  }));
  process.stderr.write(`  seeded ${SEEDED_USERS} users in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
const query = (q) => `queries%5B0%5D=${encodeURIComponent(JSON.stringify(q))}`;

// Databases fixture: a collection with an indexed integer and 100,000 documents, created in bulk
// (100 per request, the API's limit).
const SEEDED_DOCS = Number(process.env.EDGEWRITE_BENCH_DOCS ?? 100_000);
const docsPath = '/databases/bench/collections/items/documents';
{
  const t0 = performance.now();
  await post('/databases', admin, { databaseId: 'bench', name: 'bench' }).catch(() => {});
  await post('/databases/bench/collections', admin, { collectionId: 'items', name: 'items', permissions: ['read("any")', 'create("any")'] }).catch(() => {});
  await post('/databases/bench/collections/items/attributes/integer', admin, { key: 'n', required: false }).catch(() => {});
  await post('/databases/bench/collections/items/attributes/string', admin, { key: 'label', size: 64, required: false }).catch(() => {});
  await post('/databases/bench/collections/items/indexes', admin, { key: 'by_n', type: 'key', attributes: ['n'] }).catch(() => {});
  let next = 0;
  // The Spin host's SQLite serialises writers behind a 5 s busy timeout: seed it one batch at a time.
  const writers = (process.env.EDGEWRITE_RUNTIME ?? 'workerd') === 'spin' ? 1 : 4;
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < SEEDED_DOCS) {
      const start = next;
      next += 100;
      const documents = Array.from({ length: Math.min(100, SEEDED_DOCS - start) }, (_, i) => ({ $id: `d${start + i}`, n: start + i, label: `item ${start + i}` }));
      const res = await fetch(endpoint + docsPath, { method: 'POST', headers: { ...admin, ...json }, body: JSON.stringify({ documents }) });
      if (res.status >= 400 && res.status !== 409) throw new Error(`seeding documents: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  }));
  process.stderr.write(`  seeded ${SEEDED_DOCS} documents in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  // A fulltext index built over the seeded collection: one transaction, timed.
  const t1 = performance.now();
  await post('/databases/bench/collections/items/indexes', admin, { key: 'label_text', type: 'fulltext', attributes: ['label'] }).catch(() => {});
  process.stderr.write(`  fulltext index over ${SEEDED_DOCS} documents built in ${((performance.now() - t1) / 1000).toFixed(1)} s\n`);
}
let bulkCounter = 0;

// Storage fixture: a bucket, a 1 MB and a 50 MB file (the 50 MB one uploaded as the SDKs do,
// in 5 MiB chunks, 8 at a time after the first, and timed), and a 1200×800 PNG for previews.
const MB = 1_000_000;
const CHUNK = 5 * 1024 * 1024;
const filesPath = '/storage/buckets/benchfiles/files';
const oneMb = new Uint8Array(MB).map((_, i) => i % 251);
const fiftyMb = new Uint8Array(50 * MB).map((_, i) => (i * 7) % 253);
function fileForm(fileId, bytes, name) {
  const form = new FormData();
  form.append('fileId', fileId);
  form.append('file', new Blob([bytes]), name);
  return form;
}
async function chunkedUpload(fileId, bytes) {
  const send = async (start) => {
    const part = bytes.subarray(start, Math.min(bytes.length, start + CHUNK));
    const headers = { ...admin, 'content-range': `bytes ${start}-${start + part.length - 1}/${bytes.length}` };
    if (start > 0) headers['x-appwrite-id'] = fileId;
    const res = await fetch(endpoint + filesPath, { method: 'POST', headers, body: fileForm(fileId, part, 'big.bin') });
    if (res.status >= 400) throw new Error(`chunk at ${start}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  await send(0);
  const rest = [];
  for (let start = CHUNK; start < bytes.length; start += CHUNK) rest.push(start);
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (rest.length) await send(rest.shift());
  }));
}
const storageResults = [];
{
  await post('/storage/buckets', admin, { bucketId: 'benchfiles', name: 'bench', permissions: ['read("any")', 'create("any")'], maximumFileSize: 60 * MB }).catch(() => {});
  const res = await fetch(endpoint + filesPath, { method: 'POST', headers: admin, body: fileForm('one-mb', oneMb, 'one.bin') });
  if (res.status >= 400 && res.status !== 409) throw new Error(`uploading 1 MB: ${res.status} ${await res.text()}`);
  const { png } = await import('../e2e/png.mjs');
  const image = png(1200, 800);
  const pic = await fetch(endpoint + filesPath, { method: 'POST', headers: admin, body: fileForm('picture', image, 'picture.png') });
  if (pic.status >= 400 && pic.status !== 409) throw new Error(`uploading the PNG: ${pic.status} ${await pic.text()}`);
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await chunkedUpload(`fifty-${process.pid}-${i}`, fiftyMb);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const p50ms = times[1];
  storageResults.push({
    name: 'upload 50 MB file (10 chunks, 8 in flight)', path: filesPath, concurrency: 1, requests: 3,
    p50_ms: +p50ms.toFixed(1), p99_ms: +times[2].toFixed(1), throughput_rps: +(1000 / p50ms).toFixed(2),
    mb_per_s: +((50 * 1000) / p50ms).toFixed(1), errors: 0,
  });
  process.stderr.write(`  upload 50 MB: p50 ${p50ms.toFixed(0)} ms (${((50 * 1000) / p50ms).toFixed(1)} MB/s)\n`);
  // A 300 MB file through the Worker (workerd only: the Spin components assemble downloads in
  // memory): the server's peak RSS, reported beside the results, shows it is never held whole.
  if ((process.env.EDGEWRITE_RUNTIME ?? 'workerd') === 'workerd') {
    const big = new Uint8Array(300 * MB).map((_, i) => (i * 13) % 251);
    const t0 = performance.now();
    await post('/storage/buckets', admin, { bucketId: 'benchlarge', name: 'large', permissions: ['read("any")'], maximumFileSize: 400 * MB }).catch(() => {});
    const fileId = `large-${process.pid}`;
    const send = async (start) => {
      const part = big.subarray(start, Math.min(big.length, start + CHUNK));
      const headers = { ...admin, 'content-range': `bytes ${start}-${start + part.length - 1}/${big.length}` };
      if (start > 0) headers['x-appwrite-id'] = fileId;
      const res = await fetch(`${endpoint}/storage/buckets/benchlarge/files`, { method: 'POST', headers, body: fileForm(fileId, part, 'large.bin') });
      if (res.status >= 400) throw new Error(`large chunk at ${start}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    await send(0);
    const rest = [];
    for (let start = CHUNK; start < big.length; start += CHUNK) rest.push(start);
    await Promise.all(Array.from({ length: 8 }, async () => { while (rest.length) await send(rest.shift()); }));
    const upMs = performance.now() - t0;
    const t1 = performance.now();
    const res = await fetch(`${endpoint}/storage/buckets/benchlarge/files/${fileId}/download`, { headers: guest });
    let received = 0;
    for await (const piece of res.body) received += piece.length;
    const downMs = performance.now() - t1;
    if (received !== big.length) throw new Error(`300 MB download returned ${received} bytes`);
    for (const [name, ms] of [['upload 300 MB file (60 chunks, 8 in flight)', upMs], ['download 300 MB file (streamed)', downMs]]) {
      storageResults.push({
        name, path: `/storage/buckets/benchlarge/files`, concurrency: 1, requests: 1, p50_ms: +ms.toFixed(1), p99_ms: +ms.toFixed(1),
        throughput_rps: +(1000 / ms).toFixed(3), mb_per_s: +((300 * 1000) / ms).toFixed(1), errors: 0,
      });
      process.stderr.write(`  ${name}: ${ms.toFixed(0)} ms (${((300 * 1000) / ms).toFixed(1)} MB/s)\n`);
    }
  }
}
// Realtime fan-out (workerd: Spin takes no inbound WebSockets): 100 and 1,000 subscribers.
if ((process.env.EDGEWRITE_RUNTIME ?? 'workerd') === 'workerd') {
  const { fanout } = await import('./fanout.mjs');
  for (const subscribers of [100, 1000]) {
    for (const r of await fanout({ endpoint, project, admin, subscribers })) {
      storageResults.push(r);
      process.stderr.write(`  ${r.name}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.errors} lost\n`);
    }
  }
}
// Functions (workerd: Spin does not serve them yet).
if ((process.env.EDGEWRITE_RUNTIME ?? 'workerd') === 'workerd') {
  const { functionsBench } = await import('./functions.mjs');
  for (const r of await functionsBench({ endpoint, project, admin })) {
    storageResults.push(r);
    process.stderr.write(`  ${r.name} c=${r.concurrency}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.throughput_rps} req/s${r.interpreter_overhead_ratio ? `, interpreter ${r.interpreter_overhead_ratio}× native` : ''}\n`);
  }
}
// Messaging: create latency and delivery rate into the Twilio stand-in.
{
  const { messagingBench } = await import('./messaging.mjs');
  for (const r of await messagingBench({ endpoint, admin })) {
    storageResults.push(r);
    process.stderr.write(`  ${r.name}: create p50 ${r.p50_ms} ms, ${r.deliveries_per_s} deliveries/s, ${r.errors} refused\n`);
  }
}
// Queue wait: 100 messages (one provider slow) and 100 async executions created together.
{
  const { queueBench } = await import('./queue.mjs');
  for (const r of await queueBench({ endpoint, admin })) {
    storageResults.push(r);
    process.stderr.write(`  ${r.name}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms, ${r.errors} lost or failed\n`);
  }
}
let previewWidth = 0;

// The baseline touches no store: it measures the Worker's fixed cost.
const BASELINE = 'health/version (no store)';
const scenarios = [
  { name: BASELINE, path: '/health/version', headers: {}, levels: [[1, 300], [16, 1000]] },
  { name: 'ping (guest)', path: '/ping', headers: guest, levels: [[1, 300], [16, 1000], [64, 2000]] },
  { name: 'health/db (project SQL)', path: '/health/db', headers: admin, levels: [[1, 300], [16, 1000]] },
  { name: 'health/storage (blob write+read+delete)', path: '/health/storage', headers: admin, levels: [[1, 100], [8, 200]] },
  { name: 'account.get (session)', path: '/account', headers: asUser, levels: [[1, 300], [16, 1000]] },
  { name: 'account.get (JWT)', path: '/account', headers: asJwt, levels: [[1, 300], [16, 1000]] },
  { name: 'users.list (10k users, first page of 25)', path: '/users', headers: admin, levels: [[1, 200], [16, 500]] },
  {
    name: 'users.list (10k users, equal email, total=false)',
    path: `/users?${query({ method: 'equal', attribute: 'email', values: ['bench10k-7777@example.com'] })}&total=false`,
    headers: admin, levels: [[1, 200], [16, 500]],
  },
  { name: 'users.list (10k users, search)', path: '/users?search=bench10k-4242', headers: admin, levels: [[1, 100], [8, 200]] },
  {
    name: 'users.list (10k users, offset 5000)', path: `/users?${query({ method: 'offset', values: [5000] })}`,
    headers: admin, levels: [[1, 100], [8, 200]],
  },
  {
    name: 'document create (guest, collection permission)', path: docsPath, method: 'POST', headers: { ...guest, ...json },
    body: () => JSON.stringify({ documentId: 'unique()', data: { n: -1, label: 'new' } }), levels: [[1, 200], [8, 400]],
  },
  { name: 'document get by id (100k collection)', path: `${docsPath}/d4242`, headers: guest, levels: [[1, 300], [16, 1000]] },
  {
    name: 'document list, indexed equal (100k, with total)', path: `${docsPath}?${query({ method: 'equal', attribute: 'n', values: [77777] })}`,
    headers: guest, levels: [[1, 200], [16, 500]],
  },
  {
    name: 'document list, indexed range, total=false (100k)',
    path: `${docsPath}?${query({ method: 'greaterThan', attribute: 'n', values: [99000] })}&total=false`,
    headers: guest, levels: [[1, 200], [16, 500]],
  },
  { name: 'document list, first page with total (100k)', path: docsPath, headers: guest, levels: [[1, 100], [8, 200]] },
  {
    name: 'document list, fulltext search (100k, total=false)',
    path: `${docsPath}?${query({ method: 'search', attribute: 'label', values: ['4242'] })}&total=false`,
    headers: guest, levels: [[1, 100], [8, 200]],
  },
  {
    name: 'bulk create of 1,000 (10 requests of 100)', path: docsPath, method: 'POST', headers: { ...admin, ...json },
    body: () => JSON.stringify({ documents: Array.from({ length: 100 }, (_, i) => ({ $id: `b${process.pid}x${bulkCounter++}`, n: i })) }),
    levels: [[1, 10]],
  },
  {
    name: 'upload 1 MB file (one request)', path: filesPath, method: 'POST', headers: admin, bytes: MB,
    body: () => fileForm('unique()', oneMb, 'one.bin'), levels: [[1, 30], [8, 60]],
  },
  { name: 'download 1 MB file', path: `${filesPath}/one-mb/download`, headers: guest, bytes: MB, levels: [[1, 100], [8, 200]] },
  { name: 'download 50 MB file (streamed)', path: `${filesPath}/fifty-${process.pid}-0/download`, headers: guest, bytes: 50 * MB, levels: [[1, 5]] },
  {
    name: 'preview 1200×800 PNG → webp (cache miss)', headers: guest, levels: [[1, 20]],
    path: () => `${filesPath}/picture/preview?width=${200 + (previewWidth++ % 400)}&output=webp`,
  },
  { name: 'preview (cache hit)', path: `${filesPath}/picture/preview?width=300&output=webp`, headers: guest, levels: [[1, 100], [8, 200]] },
  {
    name: 'sign-up (Argon2id hash)', path: '/account', method: 'POST', headers: { ...admin, ...json },
    body: () => JSON.stringify({ userId: 'unique()', email: uniqueEmail(), password: PASSWORD }), levels: [[1, 40], [8, 80]],
  },
  {
    name: 'login (Argon2id verify)', path: '/account/sessions/email', method: 'POST', headers: { ...admin, ...json },
    body: () => JSON.stringify({ email: benchEmail, password: PASSWORD }), levels: [[1, 40], [8, 80]],
  },
];

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function once({ path, headers, method = 'GET', body }) {
  const t0 = performance.now();
  const res = await fetch(endpoint + (typeof path === 'function' ? path() : path), { method, headers, body: body?.() });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, ok: res.status < 400 };
}

async function level(scenario, concurrency, requests) {
  const latencies = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++;
      const r = await once(scenario);
      latencies.push(r.ms);
      if (!r.ok) errors++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    p50_ms: +percentile(latencies, 50).toFixed(3),
    p99_ms: +percentile(latencies, 99).toFixed(3),
    throughput_rps: +(requests / seconds).toFixed(1),
    errors,
  };
}

const results = [];
for (const s of scenarios) {
  for (let i = 0; i < 10; i++) await once(s); // warm-up (isolate, object, caches)
  for (const [concurrency, requests] of s.levels) {
    const r = await level(s, concurrency, requests);
    if (s.bytes) r.mb_per_s = +((r.throughput_rps * s.bytes) / MB).toFixed(1);
    const path = typeof s.path === 'function' ? s.path() : s.path;
    results.push({ name: s.name, path, concurrency, requests, ...r });
    process.stderr.write(`  ${s.name} c=${concurrency}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.throughput_rps} req/s, ${r.errors} errors\n`);
  }
}
results.push(...storageResults);
for (const r of results) {
  const base = results.find((b) => b.name === BASELINE && b.concurrency === r.concurrency) ?? results.find((b) => b.name === BASELINE);
  r.p50_ratio_to_baseline = +(r.p50_ms / base.p50_ms).toFixed(2);
}
// Argon2id's share of a login: the login p50 less a session-authenticated read's p50 (both do
// about the same SQL round trips; the difference is the hash).
const p50 = (name) => results.find((r) => r.name === name && r.concurrency === 1)?.p50_ms ?? 0;
const hashEstimate = +(p50('login (Argon2id verify)') - p50('account.get (session)')).toFixed(2);
process.stderr.write(`  Argon2id verify in workerd ≈ ${hashEstimate} ms (login p50 − account.get p50, c=1)\n`);
process.stdout.write(JSON.stringify({
  runtime: process.env.EDGEWRITE_RUNTIME ?? 'workerd', node: process.version, baseline: BASELINE,
  argon2id_verify_estimate_ms: hashEstimate, scenarios: results,
}, null, 2));
