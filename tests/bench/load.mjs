// Load client for `cargo xtask bench`: fixed request counts at several concurrency levels against
// a running edgewrite; prints JSON (latency percentiles, throughput, and each scenario's p50 as a
// ratio of the baseline scenario, which is what to compare across machines).
const endpoint = process.env.EDGEWRITE_ENDPOINT;
const project = process.env.EDGEWRITE_PROJECT_ID;
const key = process.env.EDGEWRITE_API_KEY;
if (!endpoint || !project || !key) throw new Error('EDGEWRITE_ENDPOINT, EDGEWRITE_PROJECT_ID and EDGEWRITE_API_KEY are required');

const guest = { 'x-appwrite-project': project };
const admin = { ...guest, 'x-appwrite-key': key };

// The baseline touches no store: it measures the Worker's fixed cost.
const BASELINE = 'health/version (no store)';
const scenarios = [
  { name: BASELINE, path: '/health/version', headers: {}, levels: [[1, 300], [16, 1000]] },
  { name: 'ping (guest)', path: '/ping', headers: guest, levels: [[1, 300], [16, 1000], [64, 2000]] },
  { name: 'health/db (Durable Object)', path: '/health/db', headers: admin, levels: [[1, 300], [16, 1000]] },
  { name: 'health/storage (R2 write+read+delete)', path: '/health/storage', headers: admin, levels: [[1, 100], [8, 200]] },
];

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function once(path, headers) {
  const t0 = performance.now();
  const res = await fetch(endpoint + path, { headers });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, ok: res.status < 400 };
}

async function level(path, headers, concurrency, requests) {
  const latencies = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++;
      const r = await once(path, headers);
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
  for (let i = 0; i < 30; i++) await once(s.path, s.headers); // warm-up (isolate, object, caches)
  for (const [concurrency, requests] of s.levels) {
    const r = await level(s.path, s.headers, concurrency, requests);
    results.push({ name: s.name, path: s.path, concurrency, requests, ...r });
    process.stderr.write(`  ${s.name} c=${concurrency}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.throughput_rps} req/s, ${r.errors} errors\n`);
  }
}
for (const r of results) {
  const base = results.find((b) => b.name === BASELINE && b.concurrency === r.concurrency) ?? results.find((b) => b.name === BASELINE);
  r.p50_ratio_to_baseline = +(r.p50_ms / base.p50_ms).toFixed(2);
}
process.stdout.write(JSON.stringify({ runtime: 'workerd (wrangler dev --local)', node: process.version, baseline: BASELINE, scenarios: results }, null, 2));
