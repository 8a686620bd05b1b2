// Realtime fan-out for `cargo xtask bench` (workerd): N raw WebSocket subscribers on one
// collection channel (each from its own client address, as real clients are: the per-IP
// connection limit applies), then documents written one at a time through the REST API. Each
// delivery's latency runs from the start of the write request to its arrival at a subscriber.
import WebSocket from 'ws';

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export async function fanout({ endpoint, project, admin, subscribers, writes = 20 }) {
  const headers = { ...admin, 'content-type': 'application/json' };
  const post = (path, body) => fetch(endpoint + path, { method: 'POST', headers, body: JSON.stringify(body) }).then((r) => r.arrayBuffer());
  await post('/databases/bench/collections', { collectionId: 'fanout', name: 'fanout', permissions: ['read("any")'] });
  await post('/databases/bench/collections/fanout/attributes/string', { key: 'v', size: 32, required: false });
  const channel = 'databases.bench.collections.fanout.documents';
  const url = `${endpoint.replace(/^http/, 'ws')}/realtime?project=${project}`;
  const arrivals = new Map();
  const sockets = [];
  const open = async (n) => {
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    const socket = new WebSocket(url, { headers: { 'x-forwarded-for': ip } });
    const next = () => new Promise((resolve, reject) => {
      socket.once('message', resolve);
      socket.once('error', reject);
      socket.once('unexpected-response', (_, res) => reject(new Error(`handshake ${res.statusCode}`)));
    });
    await next();
    socket.send(JSON.stringify({ type: 'subscribe', data: [{ subscriptionId: 'bench', channels: [channel] }] }));
    await next();
    socket.on('message', (message) => {
      const at = performance.now();
      const frame = JSON.parse(message);
      if (frame.type === 'event') arrivals.get(frame.data.payload.$id)?.push(at);
    });
    sockets.push(socket);
  };
  const base = Math.floor(Math.random() * 1_000_000);
  for (let i = 0; i < subscribers; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, subscribers - i) }, (_, j) => open(base + i + j)));
  }
  const each = [];
  const whole = [];
  let lost = 0;
  for (let w = 0; w < writes; w++) {
    const id = `fan${subscribers}x${w}${Date.now().toString(36)}`;
    arrivals.set(id, []);
    const t0 = performance.now();
    await post('/databases/bench/collections/fanout/documents', { documentId: id, data: { v: `w${w}` } });
    const deadline = Date.now() + 30_000;
    while (arrivals.get(id).length < subscribers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const times = arrivals.get(id);
    lost += subscribers - times.length;
    each.push(...times.map((t) => t - t0));
    whole.push(Math.max(...times) - t0);
  }
  for (const socket of sockets) socket.terminate();
  each.sort((a, b) => a - b);
  whole.sort((a, b) => a - b);
  const row = (name, list) => ({
    name, path: '/v1/realtime', concurrency: subscribers, requests: writes,
    p50_ms: +percentile(list, 50).toFixed(1), p99_ms: +percentile(list, 99).toFixed(1),
    throughput_rps: +((subscribers * 1000) / percentile(whole, 50)).toFixed(0), errors: lost,
  });
  return [
    row(`realtime fan-out to ${subscribers} subscribers: write → each delivery`, each),
    row(`realtime fan-out to ${subscribers} subscribers: write → last delivery`, whole),
  ];
}
