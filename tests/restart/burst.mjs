// Restart survival (`cargo xtask test` runs it; xtask/src/restart.rs): `prepare` makes a
// collection and a bucket; `burst` writes documents, users and files as fast as 8 clients can
// until the server is killed under it, and records each write and what it was answered; after
// the restart `check` reads every one back: each write answered 2xx is there whole, each other
// one is there whole or absent. Prints one JSON line: {checked, acknowledged, lost, torn}.
//   node restart/burst.mjs prepare|burst|check <state.json>
// with EDGEWRITE_ENDPOINT, EDGEWRITE_PROJECT_ID, EDGEWRITE_API_KEY.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const [phase, stateFile] = process.argv.slice(2);
const endpoint = process.env.EDGEWRITE_ENDPOINT;
const admin = { 'x-appwrite-project': process.env.EDGEWRITE_PROJECT_ID, 'x-appwrite-key': process.env.EDGEWRITE_API_KEY };
const json = { ...admin, 'content-type': 'application/json' };
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
const fileBytes = (id) => Buffer.from(`restart-survival file ${id}\n`.repeat(200));

async function call(path, { method = 'GET', body, headers = json } = {}) {
  const res = await fetch(endpoint + path, { method, headers, body, signal: AbortSignal.timeout(15_000) });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, buf, json: () => JSON.parse(buf.toString('utf8')) };
}

async function prepare() {
  const tag = Date.now().toString(36);
  const state = { databaseId: `rs${tag}`, collectionId: `rc${tag}`, bucketId: `rb${tag}`, writes: [] };
  const must = async (path, body) => {
    const res = await call(path, { method: 'POST', body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${res.buf}`);
  };
  await must('/databases', { databaseId: state.databaseId, name: 'restart' });
  await must(`/databases/${state.databaseId}/collections`, { collectionId: state.collectionId, name: 'restart', permissions: ['read("any")'] });
  await must(`/databases/${state.databaseId}/collections/${state.collectionId}/attributes/integer`, { key: 'n', required: true });
  await must(`/databases/${state.databaseId}/collections/${state.collectionId}/attributes/string`, { key: 'label', size: 64, required: true });
  await must('/storage/buckets', { bucketId: state.bucketId, name: 'restart', permissions: ['read("any")'] });
  writeFileSync(stateFile, JSON.stringify(state));
}

/** One write of kind `kind` numbered `n`: its request. */
function write(state, kind, n) {
  const id = `${kind[0]}${n}x${Date.now().toString(36)}`.slice(0, 36);
  if (kind === 'document') {
    return { kind, id, run: () => call(`/databases/${state.databaseId}/collections/${state.collectionId}/documents`, { method: 'POST', body: JSON.stringify({ documentId: id, data: { n, label: `doc ${n}` } }) }) };
  }
  if (kind === 'user') {
    return { kind, id, run: () => call('/users', { method: 'POST', body: JSON.stringify({ userId: id, email: `${id}@restart.test`, name: `user ${n}` }) }) };
  }
  return {
    kind, id, run: () => {
      const form = new FormData();
      form.append('fileId', id);
      form.append('file', new Blob([fileBytes(id)]), `${id}.txt`);
      return call(`/storage/buckets/${state.bucketId}/files`, { method: 'POST', body: form, headers: admin });
    },
  };
}

async function burst() {
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const kinds = ['document', 'document', 'user', 'file'];
  let n = 0;
  let down = 0;
  const save = () => writeFileSync(stateFile, JSON.stringify(state));
  // Each client writes until the server stops answering for good (several refusals in a row).
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (down < 8) {
      const w = write(state, kinds[n % kinds.length], n++);
      const entry = { kind: w.kind, id: w.id, status: 0 };
      state.writes.push(entry);
      try {
        entry.status = (await w.run()).status;
        down = 0;
      } catch {
        entry.status = 0; // no answer: the server died under it, or was gone
        down++;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (state.writes.length % 50 === 0) save();
    }
  }));
  save();
}

async function check() {
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const out = { checked: 0, acknowledged: 0, lost: [], torn: [] };
  for (const w of state.writes) {
    out.checked++;
    const acknowledged = w.status >= 200 && w.status < 300;
    if (acknowledged) out.acknowledged++;
    let found;
    let whole;
    if (w.kind === 'document') {
      const res = await call(`/databases/${state.databaseId}/collections/${state.collectionId}/documents/${w.id}`);
      found = res.status === 200;
      whole = found && res.json().label === `doc ${res.json().n}`;
    } else if (w.kind === 'user') {
      const res = await call(`/users/${w.id}`);
      found = res.status === 200;
      whole = found && res.json().email === `${w.id}@restart.test`;
    } else {
      const meta = await call(`/storage/buckets/${state.bucketId}/files/${w.id}`);
      found = meta.status === 200;
      if (found) {
        const body = await call(`/storage/buckets/${state.bucketId}/files/${w.id}/download`, { headers: admin });
        whole = body.status === 200 && sha(body.buf) === sha(fileBytes(w.id));
      }
    }
    if (!found && acknowledged) out.lost.push(w);
    if (found && !whole) out.torn.push(w);
  }
  console.log(JSON.stringify(out));
  if (out.lost.length || out.torn.length) process.exitCode = 1;
}

await ({ prepare, burst, check })[phase]();
