// Messaging benchmark: the latency of creating an SMS (queued, not delivered, in the request)
// and how fast delivery empties a topic of 100 and of 1,000 targets into the Twilio stand-in
// (tests/e2e/providers.mjs, which checks every request as Twilio would). Runs alone too, with
// EDGEWRITE_TEST_PROVIDERS_PORT where edgewrite's EDGEWRITE_MESSAGING_BASE_URLS points twilio.
import { startProviders } from '../e2e/providers.mjs';

export async function messagingBench({ endpoint, admin }) {
  const providers = await startProviders({ port: Number(process.env.EDGEWRITE_TEST_PROVIDERS_PORT) });
  const json = { ...admin, 'content-type': 'application/json' };
  const call = async (path, method = 'GET', body) => {
    const res = await fetch(endpoint + path, { method, headers: json, body: body && JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const tag = `${process.pid}${Date.now().toString(36)}`;
  const results = [];
  try {
    const providerId = `benchtw${tag}`;
    await call('/messaging/providers/twilio', 'POST', { providerId, name: 'Twilio', ...providers.credentials.twilio, from: '+15550009999', enabled: true });
    for (const size of [100, 1000]) {
      const topicId = `bench${size}${tag}`;
      await call('/messaging/topics', 'POST', { topicId, name: `bench ${size}` });
      const userId = `bench${size}${tag}`;
      await call('/users', 'POST', { userId, name: 'bench' });
      for (let i = 0; i < size; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, size - i) }, async (_, j) => {
          const n = i + j;
          const targetId = `t${size}x${n}${tag}`.slice(0, 36);
          await call(`/users/${userId}/targets`, 'POST', { targetId, providerType: 'sms', identifier: `+1${size}${String(n).padStart(7, '0')}`, providerId });
          await call(`/messaging/topics/${topicId}/subscribers`, 'POST', { subscriberId: targetId, targetId });
        }));
      }
      const latencies = [];
      const t0 = performance.now();
      const sent = [];
      for (let k = 0; k < 3; k++) {
        const c0 = performance.now();
        const m = await call('/messaging/messages/sms', 'POST', { messageId: 'unique()', content: `bench ${k}`, topics: [topicId] });
        latencies.push(performance.now() - c0);
        sent.push(m.$id);
      }
      for (const id of sent) {
        for (;;) {
          const m = await call(`/messaging/messages/${id}`);
          if (m.status === 'sent' || m.status === 'failed') {
            if (m.deliveredTotal !== size) throw new Error(`message to ${size}: ${m.status}, ${m.deliveredTotal} delivered`);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const sorted = latencies.sort((a, b) => a - b);
      results.push({
        name: `messaging: SMS to a topic of ${size} (3 messages, create → sent)`, path: '/messaging/messages/sms', concurrency: 1,
        requests: 3, p50_ms: +sorted[1].toFixed(2), p99_ms: +sorted[2].toFixed(2),
        throughput_rps: +((3 * size) / seconds).toFixed(1), deliveries_per_s: +((3 * size) / seconds).toFixed(1), errors: providers.rejected.length,
      });
    }
    await call(`/messaging/providers/${providerId}`, 'DELETE');
  } finally {
    await providers.close();
  }
  return results;
}
