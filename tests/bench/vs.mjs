// Load client for `cargo xtask bench --vs pocketbase`: the same scenarios, data and client against
// PocketBase and edgewrite (workerd, and its Spin components when SPIN_ENDPOINT is set), plus a
// hello-world Worker under the same `wrangler dev` as the floor.
// Prints JSON: per scenario and concurrency, each server's throughput, p50/p99 and CPU per request.
//
// CPU is read from /proc: utime+stime of every process in the server's process group (wrangler's
// Node and its workerd processes together), before and after each measured level.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const pocketbaseUrl = env('POCKETBASE_URL');
const superuser = { identity: env('POCKETBASE_SUPERUSER_EMAIL'), password: env('POCKETBASE_SUPERUSER_PASSWORD') };
const edgewriteEndpoint = env('EDGEWRITE_ENDPOINT');
const project = env('EDGEWRITE_PROJECT_ID');
const key = env('EDGEWRITE_API_KEY');
const helloUrl = env('HELLO_URL');
const groups = Object.fromEntries(env('BENCH_PROCESS_GROUPS').split(',').map((pair) => pair.split('=')));
const scale = Number(process.env.EDGEWRITE_BENCH_SCALE || 1);
if (!(scale > 0)) throw new Error('EDGEWRITE_BENCH_SCALE must be a positive number');

const DOCS = 10_000;
const USERS = 100;
// Not among the common passwords edgewrite refuses by default.
const PASSWORD = 'bench-Passw0rd-x9';
// PocketBase ids are 15 characters of [a-z0-9]; edgewrite takes the same ids.
const docId = (i) => `d${String(i).padStart(14, '0')}`;
const userEmail = (i) => `user-${i}@bench.test`;
const json = { 'content-type': 'application/json' };

// ---- process CPU --------------------------------------------------------------------------------
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
function cpuMs(group) {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // After the parenthesised command: state ppid pgrp … utime(11) stime(12).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[2] === group) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / ticksPerSecond;
}

// ---- HTTP ---------------------------------------------------------------------------------------
async function call(base, { method = 'GET', path, headers = {}, body }) {
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text };
}

async function must(base, request) {
  const res = await call(base, request);
  if (res.status >= 300) throw new Error(`${request.method ?? 'GET'} ${request.path}: ${res.status} ${res.text}`);
  return JSON.parse(res.text);
}

async function pool(count, concurrency, task) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await task(next++);
  }));
}

// ---- the backends -------------------------------------------------------------------------------
// Each turns a scenario's inputs into one request of its own REST API (edgewrite: the public
// Appwrite API only); `user(i)` is the credentials of seeded user i % USERS.
// edgewrite in workerd, and (with SPIN_ENDPOINT) its Spin components: one API, two runtimes.
const appwrite = (name, endpoint, group, writers) => ({
  name,
  base: endpoint,
  group,
  async seed() {
    const admin = { 'x-appwrite-project': project, 'x-appwrite-key': key, ...json };
    const post = (path, body) => must(endpoint, { method: 'POST', path, headers: admin, body });
    await post('/databases', { databaseId: 'bench', name: 'bench' });
    await post('/databases/bench/collections', {
      collectionId: 'items', name: 'items', permissions: ['read("users")', 'create("users")'], documentSecurity: false,
    });
    await post('/databases/bench/collections/items/attributes/integer', { key: 'n', required: false });
    await post('/databases/bench/collections/items/attributes/string', { key: 'label', size: 64, required: false });
    await post('/databases/bench/collections/items/indexes', { key: 'by_n', type: 'key', attributes: ['n'] });
    // 100 documents per request, the API's bulk limit.
    await pool(DOCS / 100, writers, (batch) => post('/databases/bench/collections/items/documents', {
      documents: Array.from({ length: 100 }, (_, j) => {
        const i = batch * 100 + j;
        return { $id: docId(i), n: i, label: `item ${i}` };
      }),
    }));
    await pool(USERS, writers, (i) => post('/users', { userId: `u${i}`, email: userEmail(i), password: PASSWORD, name: `User ${i}` }));
    // With the key the new session's secret is in the response, as for a server-side SDK.
    this.sessions = [];
    await pool(USERS, writers, async (i) => {
      const session = await post('/account/sessions/email', { email: userEmail(i), password: PASSWORD });
      this.sessions[i] = { 'x-appwrite-project': project, 'x-appwrite-session': session.secret };
    });
  },
  user(i) {
    return this.sessions[i % USERS];
  },
  getDocument: (user, id) => ({ path: `/databases/bench/collections/items/documents/${id}`, headers: user }),
  listDocuments(user, min) {
    const queries = [
      { method: 'greaterThan', attribute: 'n', values: [min] },
      { method: 'orderAsc', attribute: 'n' },
      { method: 'limit', values: [25] },
    ].map((q, i) => `queries%5B${i}%5D=${encodeURIComponent(JSON.stringify(q))}`);
    return { path: `/databases/bench/collections/items/documents?${queries.join('&')}`, headers: user };
  },
  createDocument: (user, n) => ({
    method: 'POST', path: '/databases/bench/collections/items/documents', headers: { ...user, ...json },
    body: { documentId: 'unique()', data: { n, label: `new ${n}` } },
  }),
  currentUser: (user) => ({ path: '/account', headers: user }),
  signUp: (email) => ({
    method: 'POST', path: '/account', headers: { 'x-appwrite-project': project, ...json },
    body: { userId: 'unique()', email, password: PASSWORD },
  }),
  login: (email) => ({
    method: 'POST', path: '/account/sessions/email', headers: { 'x-appwrite-project': project, ...json },
    body: { email, password: PASSWORD },
  }),
});
// The Spin test host serialises writers behind SQLite's busy timeout: seed it one at a time.
const edgewrite = appwrite('edgewrite', edgewriteEndpoint, groups.edgewrite, 4);
const spin = process.env.SPIN_ENDPOINT ? appwrite('spin', process.env.SPIN_ENDPOINT, groups.spin, 1) : null;
const pocketbase = {
  name: 'pocketbase',
  base: pocketbaseUrl,
  group: groups.pocketbase,
  async seed() {
    const { token } = await must(pocketbaseUrl, {
      method: 'POST', path: '/api/collections/_superusers/auth-with-password', headers: json, body: superuser,
    });
    const admin = { authorization: token, ...json };
    const post = (path, body) => must(pocketbaseUrl, { method: 'POST', path, headers: admin, body });
    const signedIn = '@request.auth.id != ""';
    await post('/api/collections', {
      name: 'items', type: 'base', listRule: signedIn, viewRule: signedIn, createRule: signedIn,
      fields: [{ name: 'n', type: 'number', onlyInt: true }, { name: 'label', type: 'text', max: 64 }],
      indexes: ['CREATE INDEX idx_items_n ON items (n)'],
    });
    await pool(DOCS, 8, (i) => post('/api/collections/items/records', { id: docId(i), n: i, label: `item ${i}` }));
    await pool(USERS, 4, (i) => post('/api/collections/users/records', {
      email: userEmail(i), password: PASSWORD, passwordConfirm: PASSWORD, name: `User ${i}`,
    }));
    this.tokens = [];
    await pool(USERS, 4, async (i) => {
      const auth = await post('/api/collections/users/auth-with-password', { identity: userEmail(i), password: PASSWORD });
      this.tokens[i] = { authorization: auth.token };
    });
  },
  user(i) {
    return this.tokens[i % USERS];
  },
  getDocument: (user, id) => ({ path: `/api/collections/items/records/${id}`, headers: user }),
  listDocuments: (user, min) => ({
    path: `/api/collections/items/records?filter=${encodeURIComponent(`n>${min}`)}&sort=n&perPage=25`, headers: user,
  }),
  createDocument: (user, n) => ({
    method: 'POST', path: '/api/collections/items/records', headers: { ...user, ...json }, body: { n, label: `new ${n}` },
  }),
  // PocketBase has no read-only "who am I": auth-refresh is how its SDK reloads the signed-in
  // user (it also signs a new token, an HMAC).
  currentUser: (user) => ({ method: 'POST', path: '/api/collections/users/auth-refresh', headers: user }),
  signUp: (email) => ({
    method: 'POST', path: '/api/collections/users/records', headers: json,
    body: { email, password: PASSWORD, passwordConfirm: PASSWORD },
  }),
  login: (email) => ({
    method: 'POST', path: '/api/collections/users/auth-with-password', headers: json,
    body: { identity: email, password: PASSWORD },
  }),
};

const hello = { name: 'hello', base: helloUrl, group: groups.hello };
const backends = [pocketbase, edgewrite, spin].filter(Boolean);

// ---- scenarios ----------------------------------------------------------------------------------
// Random inputs come from a seeded generator, so both backends get the same sequence.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
let signUps = 0;

// Sign-up and login come last: logins beyond a user's session limit end the sessions that the
// other scenarios use.
const scenarios = [
  {
    name: 'get document by id', levels: [[1, 2000], [10, 5000], [50, 5000]],
    request: (s, i, rnd) => s.getDocument(s.user(i), docId(Math.floor(rnd() * DOCS))),
  },
  {
    name: 'list n>x sort n, 25, total', levels: [[1, 1000], [10, 2000], [50, 2000]],
    request: (s, i, rnd) => s.listDocuments(s.user(i), Math.floor(rnd() * DOCS)),
  },
  {
    name: 'create document', levels: [[1, 1000], [10, 2000], [50, 2000]],
    request: (s, i, rnd) => s.createDocument(s.user(i), Math.floor(rnd() * DOCS)),
  },
  { name: 'get current user', levels: [[1, 2000], [10, 5000], [50, 5000]], request: (s, i) => s.currentUser(s.user(i)) },
  {
    name: 'sign-up', levels: [[1, 100], [10, 200], [50, 200]],
    request: (s) => s.signUp(`signup-${signUps++}@bench.test`),
  },
  { name: 'password login', levels: [[1, 100], [10, 200], [50, 200]], request: (s, i) => s.login(userEmail(i % USERS)) },
];
const helloLevels = [[1, 3000], [10, 10000], [50, 10000]];
const WARM_UP = 10;

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

async function measure(server, concurrency, requests, request) {
  const latencies = [];
  let errors = 0;
  let firstError;
  const cpu0 = cpuMs(server.group);
  const t0 = performance.now();
  await pool(requests, concurrency, async (i) => {
    const started = performance.now();
    const res = await call(server.base, request(i));
    latencies.push(performance.now() - started);
    if (res.status >= 300) {
      errors++;
      firstError ??= `${res.status} ${res.text.slice(0, 200)}`;
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(server.group) - cpu0;
  latencies.sort((a, b) => a - b);
  const result = {
    requests,
    throughput_rps: +(requests / seconds).toFixed(1),
    p50_ms: +percentile(latencies, 50).toFixed(2),
    p99_ms: +percentile(latencies, 99).toFixed(2),
    cpu_ms_per_request: +(cpu / requests).toFixed(3),
    errors,
  };
  if (firstError) result.first_error = firstError;
  process.stderr.write(`    ${server.name} c=${concurrency}: ${result.throughput_rps} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ${result.cpu_ms_per_request} ms CPU/req${errors ? `, ${errors} errors (${firstError})` : ''}\n`);
  return result;
}

const scaled = (concurrency, requests) => Math.max(concurrency, Math.round(requests * scale));

for (const server of backends) {
  const t0 = performance.now();
  await server.seed();
  process.stderr.write(`  seeded ${server.name}: ${DOCS} documents, ${USERS} users in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

process.stderr.write('  hello-world Worker (GET /, and GET /object through one Durable Object)\n');
const floor = {};
const objectFloor = {};
for (const [concurrency, requests] of helloLevels) {
  for (const [path, into] of [['/', floor], ['/object', objectFloor]]) {
    for (let i = 0; i < WARM_UP; i++) await call(helloUrl, { path });
    into[concurrency] = { concurrency, ...(await measure(hello, concurrency, scaled(concurrency, requests), () => ({ path }))) };
  }
}

const results = [];
for (const scenario of scenarios) {
  process.stderr.write(`  ${scenario.name}\n`);
  for (const [concurrency, requests] of scenario.levels) {
    const row = { name: scenario.name, concurrency };
    for (const server of backends) {
      const warm = random(7);
      for (let i = 0; i < WARM_UP; i++) await call(server.base, scenario.request(server, i, warm));
      const rnd = random(concurrency * 1000 + results.length);
      row[server.name] = await measure(server, concurrency, scaled(concurrency, requests), (i) => scenario.request(server, i, rnd));
    }
    row.hello = floor[concurrency];
    row.hello_object = objectFloor[concurrency];
    row.edgewrite_over_pocketbase = +(row.edgewrite.throughput_rps / row.pocketbase.throughput_rps).toFixed(3);
    row.edgewrite_share_of_hello = +(row.edgewrite.throughput_rps / row.hello.throughput_rps).toFixed(3);
    row.edgewrite_share_of_hello_object = +(row.edgewrite.throughput_rps / row.hello_object.throughput_rps).toFixed(3);
    if (spin) row.spin_over_pocketbase = +(row.spin.throughput_rps / row.pocketbase.throughput_rps).toFixed(3);
    results.push(row);
  }
}

process.stdout.write(JSON.stringify({
  node: process.version, scale, documents: DOCS, users: USERS, warm_up_requests: WARM_UP,
  hello: Object.values(floor), hello_object: Object.values(objectFloor), scenarios: results,
}, null, 2));
