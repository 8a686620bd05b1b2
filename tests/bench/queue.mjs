// Queue-wait benchmark: how long queued work waits before its first attempt starts, under a mix
// of 100 SMS messages and 100 asynchronous executions created together (10 requests in flight),
// with one of the two SMS providers answering every delivery 5 s late. A message's wait is from
// the start of its create request to its delivery reaching the stand-in (tests/e2e/providers.mjs);
// an execution's is from its `$createdAt` to the start of its run (`$updatedAt` − `duration`),
// both clocks the server's. Without a queue (Spin) the work runs inside its request: the wait is
// only the request's own path to it. Runs alone too:
//   EDGEWRITE_ENDPOINT=… EDGEWRITE_PROJECT_ID=… EDGEWRITE_API_KEY=… EDGEWRITE_TEST_PROVIDERS_PORT=… node bench/queue.mjs
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProviders } from '../e2e/providers.mjs';

const MESSAGES = 100;
const EXECUTIONS = 100;
/** Every tenth message goes through the slow provider. */
const SLOW_EVERY = 10;
const SLOW_MS = 5000;
const IN_FLIGHT = 10;

const examplesDir = () => process.env.EDGEWRITE_FUNCTION_EXAMPLES ?? join(fileURLToPath(new URL('.', import.meta.url)), '../../target/wasm32-wasip1/release');

function row(name, waits, extra = {}) {
  const sorted = [...waits].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return {
    name, path: extra.path, concurrency: IN_FLIGHT, requests: waits.length,
    p50_ms: +at(50).toFixed(1), p99_ms: +at(99).toFixed(1), max_ms: +sorted[sorted.length - 1].toFixed(1),
    throughput_rps: 0, errors: extra.errors ?? 0, note: extra.note,
  };
}

export async function queueBench({ endpoint, admin }) {
  const providers = await startProviders({ port: Number(process.env.EDGEWRITE_TEST_PROVIDERS_PORT) });
  const json = { ...admin, 'content-type': 'application/json' };
  const call = async (path, method = 'GET', body) => {
    const form = body instanceof FormData;
    const res = await fetch(endpoint + path, { method, headers: form ? admin : json, body: form ? body : body && JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const tag = `${process.pid}${Date.now().toString(36)}`;
  const fast = `qfast${tag}`;
  const slow = `qslow${tag}`;
  const functionId = `qecho${tag}`;
  try {
    await call('/messaging/providers/twilio', 'POST', { providerId: fast, name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
    await call('/messaging/providers/vonage', 'POST', { providerId: slow, name: 'Vonage', ...providers.credentials.vonage, from: 'Edgewrite', enabled: true });
    providers.slowFor('vonage', '*', { ms: SLOW_MS });
    await call('/functions', 'POST', { functionId, name: 'echo', runtime: 'wasm-wasip1', execute: ['any'] });
    const form = new FormData();
    form.append('activate', 'true');
    form.append('code', new Blob([readFileSync(join(examplesDir(), 'echo.wasm'))]), 'echo.wasm');
    const d = await call(`/functions/${functionId}/deployments`, 'POST', form);
    if (d.status !== 'ready') throw new Error(`deployment of echo: ${d.status} ${d.buildLogs}`);

    const userId = `q${tag}`.slice(0, 36);
    await call('/users', 'POST', { userId, name: 'queue bench' });
    const targets = [];
    for (let i = 0; i < MESSAGES; i += IN_FLIGHT) {
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, MESSAGES - i) }, async (_, j) => {
        const n = i + j;
        const providerId = n % SLOW_EVERY === 0 ? slow : fast;
        const identifier = `+1777${String(n).padStart(7, '0')}`;
        const t = await call(`/users/${userId}/targets`, 'POST', { targetId: `q${n}x${tag}`.slice(0, 36), providerType: 'sms', identifier, providerId });
        targets[n] = { id: t.$id, identifier, provider: providerId === slow ? 'vonage' : 'twilio' };
      }));
    }

    // The mix: message n and execution n alternate, IN_FLIGHT requests at a time.
    const work = [];
    for (let n = 0; n < Math.max(MESSAGES, EXECUTIONS); n++) {
      if (n < MESSAGES) work.push({ kind: 'message', n });
      if (n < EXECUTIONS) work.push({ kind: 'execution', n });
    }
    const messages = [];
    const executions = [];
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < work.length) {
        const item = work[next++];
        if (item.kind === 'message') {
          const startedAt = Date.now();
          const m = await call('/messaging/messages/sms', 'POST', { messageId: 'unique()', content: `queue ${item.n}`, targets: [targets[item.n].id] });
          messages.push({ id: m.$id, startedAt, target: targets[item.n] });
        } else {
          const e = await call(`/functions/${functionId}/executions`, 'POST', { body: `queue ${item.n}`, async: true, method: 'POST', path: '/' });
          executions.push(e.$id);
        }
      }
    }));

    const deadline = Date.now() + 120_000;
    const messageWaits = [];
    let lost = 0;
    for (const m of messages) {
      const seen = await providers.waitFor(m.target.provider, m.target.identifier, { timeout: Math.max(1, deadline - Date.now()) }).catch(() => null);
      if (!seen) { lost++; continue; }
      messageWaits.push(seen[0].at - m.startedAt);
    }
    const executionWaits = [];
    let failed = 0;
    for (const id of executions) {
      for (;;) {
        const e = await call(`/functions/${functionId}/executions/${id}`);
        if (e.status === 'completed' || e.status === 'failed' || Date.now() > deadline) {
          if (e.status !== 'completed') { failed++; break; }
          const started = Date.parse(e.$updatedAt) - e.duration * 1000;
          executionWaits.push(Math.max(0, started - Date.parse(e.$createdAt)));
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const note = `${MESSAGES} SMS (every ${SLOW_EVERY}th through a provider answering ${SLOW_MS / 1000} s late) and ${EXECUTIONS} async echo executions, ${IN_FLIGHT} creates in flight`;
    return [
      row('queue wait: SMS message, create → first delivery attempt', messageWaits, { path: '/messaging/messages/sms', errors: lost + providers.rejected.length, note }),
      row('queue wait: async execution, queued → run starts', executionWaits, { path: '/functions/{functionId}/executions', errors: failed, note }),
    ];
  } finally {
    await call(`/functions/${functionId}`, 'DELETE').catch(() => {});
    for (const id of [fast, slow]) await call(`/messaging/providers/${id}`, 'DELETE').catch(() => {});
    await providers.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const endpoint = process.env.EDGEWRITE_ENDPOINT;
  const admin = { 'x-appwrite-project': process.env.EDGEWRITE_PROJECT_ID, 'x-appwrite-key': process.env.EDGEWRITE_API_KEY };
  for (const r of await queueBench({ endpoint, admin })) console.log(JSON.stringify(r));
}
