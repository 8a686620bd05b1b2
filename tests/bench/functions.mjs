// Functions benchmark: execution latency of the echo example cold (the first run of a fresh
// deployment: module read from the blob store and compiled) and warm, executions per second at
// concurrency 10, and the interpreter's overhead on a CPU-bound module against the same module
// run natively (V8's compiler, through node:wasi). Runs alone too:
//   EDGEWRITE_ENDPOINT=… EDGEWRITE_PROJECT_ID=… EDGEWRITE_API_KEY=… node bench/functions.mjs
import { WASI } from 'node:wasi';
import { readFileSync, writeFileSync, openSync, closeSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const examplesDir = () => process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? join(fileURLToPath(new URL('.', import.meta.url)), '../../target/wasm32-wasip1/release');
const PRIMES_BELOW = 300_000;

function stats(name, latencies, seconds, extra = {}) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return {
    name, path: '/functions/{functionId}/executions', concurrency: extra.concurrency ?? 1, requests: latencies.length,
    p50_ms: +at(50).toFixed(2), p99_ms: +at(99).toFixed(2), throughput_rps: +(latencies.length / seconds).toFixed(1), errors: extra.errors ?? 0,
    ...extra.more,
  };
}

export async function functionsBench({ endpoint, project, admin }) {
  const json = { ...admin, 'content-type': 'application/json' };
  const call = async (path, method = 'GET', body) => {
    const res = await fetch(endpoint + path, { method, headers: body instanceof FormData ? admin : json, body: body instanceof FormData ? body : body && JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const deploy = async (functionId, name) => {
    const form = new FormData();
    form.append('activate', 'true');
    form.append('code', new Blob([readFileSync(join(examplesDir(), `${name}.wasm`))]), `${name}.wasm`);
    const d = await call(`/functions/${functionId}/deployments`, 'POST', form);
    if (d.status !== 'ready') throw new Error(`deployment of ${name}: ${d.status} ${d.buildLogs}`);
  };
  const tag = `${process.pid}${Date.now().toString(36)}`;
  const echo = `benchecho${tag}`;
  const primes = `benchprimes${tag}`;
  await call('/functions', 'POST', { functionId: echo, name: 'echo', runtime: 'wasm-wasip1', execute: ['any'], logging: true });
  await call('/functions', 'POST', { functionId: primes, name: 'primes', runtime: 'wasm-wasip1', execute: ['any'], timeout: 120 });
  await deploy(primes, 'primes');
  const execute = async (functionId, body = '') => {
    const t0 = performance.now();
    const e = await call(`/functions/${functionId}/executions`, 'POST', { body, method: 'POST', path: '/' });
    const ms = performance.now() - t0;
    if (e.status !== 'completed') throw new Error(`execution of ${functionId}: ${e.status} ${e.errors}`);
    return { ms, e };
  };
  const results = [];

  // Cold: each run is the first of a new deployment (a new module to fetch and compile).
  const cold = [];
  for (let i = 0; i < 10; i++) {
    await deploy(echo, 'echo');
    cold.push((await execute(echo, 'cold')).ms);
  }
  results.push(stats('function execution, echo, cold (first run of a deployment)', cold, cold.reduce((a, b) => a + b, 0) / 1000));

  // Warm: the module is compiled and cached in the isolate.
  for (let i = 0; i < 10; i++) await execute(echo, 'warm-up');
  const warm = [];
  let t0 = performance.now();
  for (let i = 0; i < 200; i++) warm.push((await execute(echo, 'warm')).ms);
  results.push(stats('function execution, echo, warm', warm, (performance.now() - t0) / 1000));

  // Throughput at concurrency 10.
  const concurrent = [];
  let left = 500;
  t0 = performance.now();
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (left-- > 0) concurrent.push((await execute(echo, 'c10')).ms);
  }));
  results.push(stats('function execution, echo, warm', concurrent, (performance.now() - t0) / 1000, { concurrency: 10 }));

  // Interpreter overhead: the same CPU-bound module in edgewrite and natively.
  const body = String(PRIMES_BELOW);
  await execute(primes, '1000');
  const interpreted = [];
  for (let i = 0; i < 5; i++) interpreted.push((await execute(primes, body)).ms);
  const native = nativeRuns('primes', body, 5);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const interpretedMs = median(interpreted) - median(warm);
  const nativeMs = median(native);
  results.push(stats(`function execution, primes below ${PRIMES_BELOW} (CPU-bound)`, interpreted, interpreted.reduce((a, b) => a + b, 0) / 1000, {
    more: {
      native_ms: +nativeMs.toFixed(2),
      interpreter_overhead_ratio: +(interpretedMs / nativeMs).toFixed(1),
      note: 'interpreter_overhead_ratio = (p50 − warm echo p50) / native run (V8 via node:wasi)',
    },
  }));
  for (const id of [echo, primes]) await call(`/functions/${id}`, 'DELETE').catch(() => {});
  return results;
}

/** Runs `name`'s module natively (V8, node:wasi) with `body` as the request, `n` times; ms each. */
function nativeRuns(name, body, n) {
  const dir = mkdtempSync(join(tmpdir(), 'edgewrite-native-'));
  const module = new WebAssembly.Module(readFileSync(join(examplesDir(), `${name}.wasm`)));
  const times = [];
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, 'in.json'), JSON.stringify({ method: 'POST', path: '/', bodyText: body, headers: {} }));
    const stdin = openSync(join(dir, 'in.json'), 'r');
    const stdout = openSync(join(dir, 'out.json'), 'w');
    const wasi = new WASI({ version: 'preview1', stdin, stdout, env: {} });
    const instance = new WebAssembly.Instance(module, wasi.getImportObject());
    const t0 = performance.now();
    wasi.start(instance);
    times.push(performance.now() - t0);
    closeSync(stdin);
    closeSync(stdout);
  }
  return times;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const endpoint = process.env.EDGEWRITE_ENDPOINT;
  const project = process.env.EDGEWRITE_PROJECT_ID;
  const admin = { 'x-appwrite-project': project, 'x-appwrite-key': process.env.EDGEWRITE_API_KEY };
  for (const r of await functionsBench({ endpoint, project, admin })) console.log(JSON.stringify(r));
}
