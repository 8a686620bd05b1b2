// Storage through the official SDKs: buckets, the chunked upload as node-appwrite and the web
// SDK drive it, downloads compared by SHA-256, ranges, resumed and out-of-order uploads, bucket
// limits, permissions, and encrypted/compressed buckets whose bytes at rest are not the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { png } from './png.mjs';
import { InputFile } from 'node-appwrite/file';
import { adminClient, endpoint, projectId, apiKey, node, web, raw, rejectsWith, assertAppwriteError, userClient } from './helpers.mjs';

const MiB = 1024 * 1024;
const CHUNK = 5 * MiB;
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const sha = (bytes) => createHash('sha256').update(Buffer.from(bytes)).digest('hex');
const storage = (client = adminClient()) => new node.Storage(client);

async function bucket(options = {}) {
  const bucketId = uid('b');
  await storage().createBucket({
    bucketId,
    name: bucketId,
    permissions: ['read("any")', 'create("any")', 'update("any")', 'delete("any")'],
    maximumFileSize: 50 * MiB,
    ...options,
  });
  return bucketId;
}

/** One chunk as the SDKs send it: the multipart form with Content-Range (and the file id). */
async function sendChunk(bucketId, fileId, data, start, size, { first = false, name = 'big.bin' } = {}) {
  const form = new FormData();
  form.append('fileId', fileId);
  form.append('file', new Blob([data]), name);
  const headers = { 'content-range': `bytes ${start}-${start + data.length - 1}/${size}` };
  if (!first) headers['x-appwrite-id'] = fileId;
  return raw(`/storage/buckets/${bucketId}/files`, { method: 'POST', headers, body: form, key: true });
}

test('storage: buckets are managed with API keys, with Appwrite defaults', async () => {
  const s = storage();
  const bucketId = uid('b');
  const made = await s.createBucket({ bucketId, name: 'Photos' });
  assert.deepEqual(
    [made.$id, made.name, made.enabled, made.fileSecurity, made.maximumFileSize, made.compression, made.encryption, made.antivirus, made.transformations],
    [bucketId, 'Photos', true, false, 30000000, 'none', true, true, true],
  );
  await rejectsWith(assert, s.createBucket({ bucketId, name: 'again' }), 409, 'storage_bucket_already_exists');
  const updated = await s.updateBucket({ bucketId, name: 'Pictures', compression: 'gzip', allowedFileExtensions: ['jpg'] });
  assert.equal(updated.name, 'Pictures');
  assert.deepEqual(updated.allowedFileExtensions, ['jpg']);
  const listed = await s.listBuckets({ queries: [node.Query.equal('name', ['Pictures'])] });
  assert.ok(listed.buckets.some((b) => b.$id === bucketId));
  await rejectsWith(assert, s.createBucket({ bucketId: uid('b'), name: 'x', compression: 'lzma' }), 400, 'general_argument_invalid');
  await s.deleteBucket({ bucketId });
  await rejectsWith(assert, s.getBucket({ bucketId }), 404, 'storage_bucket_not_found');
});

test('storage: node SDK uploads of 1 KB, 6 MB and 40 MB download byte for byte', async () => {
  const bucketId = await bucket();
  const s = storage();
  for (const size of [1024, 6 * 1000 * 1000, 40 * 1000 * 1000]) {
    const data = randomBytes(size);
    const fileId = uid('f');
    const made = await s.createFile({ bucketId, fileId, file: InputFile.fromBuffer(data, `blob-${size}.bin`) });
    assert.equal(made.$id, fileId);
    assert.equal(made.sizeOriginal, size);
    assert.equal(made.chunksTotal, Math.max(1, Math.ceil(size / CHUNK)));
    assert.equal(made.chunksUploaded, made.chunksTotal);
    const got = await s.getFile({ bucketId, fileId });
    assert.equal(got.name, `blob-${size}.bin`);
    // 1.9.6's File model: at the bucket's root, no folder and the name as the key (the Python
    // SDK refuses a file without them).
    assert.deepEqual([got.folder, got.key], ['', `blob-${size}.bin`]);
    const downloaded = await s.getFileDownload({ bucketId, fileId });
    assert.equal(sha(downloaded), sha(data), `${size} bytes round-trip`);
    // Streamed or not, the length is known up front.
    const head = await fetch(`${endpoint}/storage/buckets/${bucketId}/files/${fileId}/download`, {
      headers: { 'x-appwrite-project': projectId, 'x-appwrite-key': apiKey },
    });
    assert.equal(head.headers.get('content-length'), String(size));
    await head.body.cancel();
  }
  const text = await s.createFile({ bucketId, fileId: node.ID.unique(), file: InputFile.fromBuffer(Buffer.from('hello, storage'), 'hello.txt') });
  assert.equal(text.mimeType, 'text/plain');
  assert.equal(text.signature, createHash('md5').update('hello, storage').digest('hex'));
  const { files, total } = await s.listFiles({ bucketId, queries: [node.Query.lessThan('sizeOriginal', 2000)] });
  assert.ok(files.every((f) => f.sizeOriginal < 2000));
  assert.ok(files.some((f) => f.$id === text.$id));
  assert.equal(total, 2);
  assert.equal((await s.listFiles({ bucketId, search: 'hello' })).files[0].$id, text.$id);
});

test('storage: view and download headers, ranges and conditional requests', async () => {
  const bucketId = await bucket();
  const data = Buffer.from('0123456789'.repeat(100));
  const file = await storage().createFile({ bucketId, fileId: 'numbers', file: InputFile.fromBuffer(data, 'numbers.txt') });
  const path = `/storage/buckets/${bucketId}/files/${file.$id}`;
  const view = await raw(`${path}/view`);
  assert.equal(view.status, 200);
  assert.equal(view.text, data.toString());
  assert.equal(view.headers.get('content-type'), 'text/plain');
  assert.equal(view.headers.get('content-disposition'), `inline; filename="numbers.txt"; filename*=UTF-8''numbers.txt`);
  assert.equal(view.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(view.headers.get('cache-control'), 'public, max-age=300, must-revalidate');
  const etag = view.headers.get('etag');
  assert.ok(etag.startsWith(`"${file.signature}-`), etag);
  const download = await raw(`${path}/download`);
  assert.equal(download.headers.get('content-disposition'), `attachment; filename="numbers.txt"; filename*=UTF-8''numbers.txt`);
  assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
  const part = await raw(`${path}/download`, { headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.text, '0123456789');
  assert.equal(part.headers.get('content-range'), 'bytes 10-19/1000');
  const tail = await raw(`${path}/view`, { headers: { range: 'bytes=995-' } });
  assert.equal(tail.text, '56789');
  assertAppwriteError(assert, await raw(`${path}/view`, { headers: { range: 'bytes=0-1000' } }), 416, 'storage_invalid_range');
  assert.equal((await raw(`${path}/view`, { headers: { 'if-none-match': etag } })).status, 304);
  // The project may come as a query parameter, as the web SDK's URL builders put it.
  const viaQuery = await fetch(`${endpoint}${path}/view?project=${projectId}`);
  assert.equal(await viaQuery.text(), data.toString());
  // An HTML upload is never served as HTML inline.
  const page = await storage().createFile({ bucketId, fileId: 'page', file: InputFile.fromBuffer(Buffer.from('<script>alert(1)</script>'), 'page.html') });
  const shown = await raw(`/storage/buckets/${bucketId}/files/${page.$id}/view`);
  assert.equal(shown.headers.get('content-type'), 'text/plain');
  assert.equal(shown.headers.get('content-security-policy'), "script-src 'none'; object-src 'none'");
  // Any name, however odd, makes a valid header.
  const odd = await storage().createFile({ bucketId, fileId: 'odd', file: InputFile.fromBuffer(Buffer.from('x'), 'résumé "v2"\u0007.txt') });
  const oddView = await raw(`/storage/buckets/${bucketId}/files/${odd.$id}/view`);
  assert.equal(oddView.status, 200);
  assert.match(oddView.headers.get('content-disposition'), /^inline; filename="r_sum_ [^"]*"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20/);
  assert.equal((await fetch(`${endpoint}${path}/view?project=${projectId}`, { method: 'HEAD' })).status, 200);
});

test('storage: a chunked upload resumes, takes chunks out of order and again, and refuses bad ranges', async () => {
  // Signed-in users may upload here, but read nothing they did not upload.
  const bucketId = await bucket({ permissions: ['create("users")'] });
  const size = 2 * CHUNK + 1234;
  const data = randomBytes(size);
  const fileId = uid('f');
  const chunk = (i) => data.subarray(i * CHUNK, Math.min(size, (i + 1) * CHUNK));
  const last = await sendChunk(bucketId, fileId, chunk(2), 2 * CHUNK, size, { first: true });
  assert.equal(last.status, 201, last.text);
  assert.deepEqual([last.json.$id, last.json.chunksUploaded, last.json.chunksTotal], [fileId, 1, 3]);
  // Interrupted here; later the client sends the rest, one chunk twice.
  assert.equal((await sendChunk(bucketId, fileId, chunk(0), 0, size)).json.chunksUploaded, 2);
  assert.equal((await sendChunk(bucketId, fileId, chunk(0), 0, size)).json.chunksUploaded, 2, 're-sent chunks count once');
  await rejectsWith(assert, storage().getFileDownload({ bucketId, fileId }), 404, 'storage_file_not_found');
  const done = await sendChunk(bucketId, fileId, chunk(1), CHUNK, size);
  assert.equal(done.status, 201);
  assert.equal(done.json.chunksUploaded, 3, 'the completing request reports the finished file');
  assert.equal(sha(await storage().getFileDownload({ bucketId, fileId })), sha(data));
  assert.equal((await sendChunk(bucketId, fileId, chunk(1), CHUNK, size)).status, 200, 'a chunk of a finished file: the file');
  await rejectsWith(assert, storage().createFile({ bucketId, fileId, file: InputFile.fromBuffer(Buffer.from('x'), 'x.txt') }), 409, 'storage_file_already_exists');

  const other = uid('f');
  assertAppwriteError(assert, await sendChunk(bucketId, other, chunk(1).subarray(1), CHUNK + 1, size, { first: true }), 400, 'storage_invalid_content_range');
  assertAppwriteError(assert, await sendChunk(bucketId, other, chunk(1).subarray(1), CHUNK, size, { first: true }), 400, 'storage_invalid_content_range');
  await rejectsWith(assert, storage().getFile({ bucketId, fileId: other }), 404, 'storage_file_not_found');
  assert.equal((await sendChunk(bucketId, other, chunk(0), 0, size, { first: true })).status, 201);
  assertAppwriteError(assert, await sendChunk(bucketId, other, chunk(1), CHUNK, size + CHUNK), 400, 'storage_invalid_content_range');
  const form = new FormData();
  form.append('fileId', other);
  form.append('file', new Blob([chunk(0)]), 'x.bin');
  assertAppwriteError(assert, await raw(`/storage/buckets/${bucketId}/files`, {
    method: 'POST', key: true, body: form, headers: { 'content-range': `bytes 0-${CHUNK - 1}/${size}`, 'x-appwrite-id': '../../etc' },
  }), 400, 'storage_invalid_appwrite_id');
  assert.equal((await storage().getFile({ bucketId, fileId: other })).chunksUploaded, 1, 'refused chunks left the upload as it was');

  // Another party may neither add to an upload in progress nor learn about a finished one.
  const { client } = await userClient();
  const chunkAs = (fileId, i, headers = {}) => {
    const form = new FormData();
    form.append('fileId', fileId);
    form.append('file', new Blob([chunk(i)]), 'x.bin');
    return fetch(`${endpoint}/storage/buckets/${bucketId}/files`, {
      method: 'POST', body: form,
      headers: { 'x-appwrite-project': projectId, 'x-appwrite-session': client.config.session, 'content-range': `bytes ${i * CHUNK}-${i * CHUNK + chunk(i).length - 1}/${size}`, 'x-appwrite-id': fileId, ...headers },
    });
  };
  assert.equal((await chunkAs(other, 1)).status, 409, "someone else's upload");
  assert.equal((await storage().getFile({ bucketId, fileId: other })).chunksUploaded, 1);
  const finished = await chunkAs(fileId, 1);
  assert.equal(finished.status, 409, 'a finished file is not shown to those who cannot read it');
});

test('storage: extension and size limits, and permissions by bucket and by file', async () => {
  const s = storage();
  const limited = await bucket({ allowedFileExtensions: ['txt'], maximumFileSize: 1000 });
  await rejectsWith(assert, s.createFile({ bucketId: limited, fileId: 'p', file: InputFile.fromBuffer(Buffer.from('png'), 'x.png') }), 400, 'storage_file_type_unsupported');
  await rejectsWith(assert, s.createFile({ bucketId: limited, fileId: 'big', file: InputFile.fromBuffer(Buffer.alloc(2000), 'big.txt') }), 400, 'storage_invalid_file_size');
  await s.createFile({ bucketId: limited, fileId: 'ok', file: InputFile.fromBuffer(Buffer.from('fine'), 'ok.txt') });

  // Private files: a bucket where signed-in users may upload, each reading only its own.
  const bucketId = uid('b');
  await s.createBucket({ bucketId, name: 'private', permissions: ['create("users")'], fileSecurity: true });
  const alice = await userClient();
  const bob = await userClient();
  const asAlice = storage(alice.client);
  const mine = await asAlice.createFile({ bucketId, fileId: 'diary', file: InputFile.fromBuffer(Buffer.from('dear diary'), 'diary.txt') });
  assert.deepEqual(mine.$permissions.sort(), ['delete("user:' + alice.user.$id + '")', 'read("user:' + alice.user.$id + '")', 'update("user:' + alice.user.$id + '")'].sort());
  assert.equal(Buffer.from(await asAlice.getFileDownload({ bucketId, fileId: 'diary' })).toString(), 'dear diary');
  await rejectsWith(assert, storage(bob.client).getFile({ bucketId, fileId: 'diary' }), 404, 'storage_file_not_found');
  await rejectsWith(assert, storage(bob.client).getFileDownload({ bucketId, fileId: 'diary' }), 404, 'storage_file_not_found');
  assert.equal((await storage(bob.client).listFiles({ bucketId })).total, 0, 'not even counted');
  const guestView = await fetch(`${endpoint}/storage/buckets/${bucketId}/files/diary/view?project=${projectId}`);
  assert.ok([401, 404].includes(guestView.status));
  await rejectsWith(assert, storage(bob.client).deleteFile({ bucketId, fileId: 'diary' }), 404, 'storage_file_not_found');
  await rejectsWith(assert, asAlice.createFile({
    bucketId, fileId: 'grant', file: InputFile.fromBuffer(Buffer.from('x'), 'x.txt'), permissions: [`read("user:${bob.user.$id}")`],
  }), 401, 'user_unauthorized');
  const shared = await asAlice.updateFile({ bucketId, fileId: 'diary', name: 'shared.txt', permissions: [`read("user:${alice.user.$id}")`, `delete("user:${alice.user.$id}")`, 'read("users")'] });
  assert.equal(shared.name, 'shared.txt');
  assert.equal(Buffer.from(await storage(bob.client).getFileView({ bucketId, fileId: 'diary' })).toString(), 'dear diary');
  const privateView = await raw(`/storage/buckets/${bucketId}/files/diary/view`, { headers: { 'x-appwrite-session': alice.session.secret } });
  assert.equal(privateView.headers.get('cache-control'), 'private, max-age=3888000');
  await asAlice.deleteFile({ bucketId, fileId: 'diary' });
  await rejectsWith(assert, asAlice.getFile({ bucketId, fileId: 'diary' }), 404, 'storage_file_not_found');
});

test('storage: encrypted and compressed buckets round-trip; the stored bytes are not the file', async () => {
  const s = storage();
  const text = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(20000));
  for (const [compression, encryption] of [['none', true], ['gzip', false], ['zstd', true], ['gzip', true]]) {
    const bucketId = await bucket({ compression, encryption });
    const file = await s.createFile({ bucketId, fileId: 'fox', file: InputFile.fromBuffer(text, 'fox.txt') });
    assert.deepEqual([file.compression, file.encryption], [compression, encryption]);
    assert.equal(sha(await s.getFileDownload({ bucketId, fileId: 'fox' })), sha(text), `${compression}/${encryption}`);
    const part = await raw(`/storage/buckets/${bucketId}/files/fox/view`, { headers: { range: 'bytes=4-8' } });
    assert.equal(part.text, 'quick');
    const stored = await raw(`/__edgewrite/stored-file?bucketId=${bucketId}&fileId=fox`, { key: true });
    assert.equal(stored.status, 200);
    const atRest = Buffer.from(await (await fetch(`${endpoint}/__edgewrite/stored-file?bucketId=${bucketId}&fileId=fox`, {
      headers: { 'x-appwrite-project': projectId, 'x-appwrite-key': apiKey },
    })).arrayBuffer());
    assert.ok(atRest.length > 0);
    assert.equal(atRest.includes(Buffer.from('quick brown fox')), false, 'no plaintext at rest');
    if (compression !== 'none') assert.ok(file.sizeActual < text.length / 10, 'compressed');
  }
  // A chunked upload into an encrypting bucket, then ranges across the chunk boundary.
  const bucketId = await bucket({ encryption: true });
  const data = randomBytes(CHUNK + 4096);
  await s.createFile({ bucketId, fileId: 'two', file: InputFile.fromBuffer(data, 'two.bin') });
  assert.equal(sha(await s.getFileDownload({ bucketId, fileId: 'two' })), sha(data));
  const across = await fetch(`${endpoint}/storage/buckets/${bucketId}/files/two/download`, {
    headers: { 'x-appwrite-project': projectId, 'x-appwrite-key': apiKey, range: `bytes=${CHUNK - 10}-${CHUNK + 9}` },
  });
  assert.equal(across.status, 206);
  assert.deepEqual(Buffer.from(await across.arrayBuffer()), data.subarray(CHUNK - 10, CHUNK + 10));
});

test('storage: the web SDK uploads a File and its view URL serves it', async () => {
  const bucketId = await bucket();
  const client = new web.Client().setEndpoint(endpoint).setProject(projectId);
  const s = new web.Storage(client);
  const bytes = randomBytes(6 * MiB);
  const made = await s.createFile({ bucketId, fileId: web.ID.unique(), file: new File([bytes], 'photo.bin') });
  assert.equal(made.chunksUploaded, 2);
  const url = s.getFileView({ bucketId, fileId: made.$id });
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(sha(await res.arrayBuffer()), sha(bytes));
});

test('storage: file tokens let their holder read one private file, until deleted', async () => {
  const s = storage();
  const bucketId = uid('b');
  await s.createBucket({ bucketId, name: 'private' });
  const secretBytes = Buffer.from('for token holders only');
  await s.createFile({ bucketId, fileId: 'doc', file: InputFile.fromBuffer(secretBytes, 'doc.txt') });
  await s.createFile({ bucketId, fileId: 'other', file: InputFile.fromBuffer(Buffer.from('other'), 'other.txt') });
  const url = (fileId, token) => `${endpoint}/storage/buckets/${bucketId}/files/${fileId}/view?project=${projectId}${token ? `&token=${encodeURIComponent(token)}` : ''}`;
  assert.equal((await fetch(url('doc'))).status, 401, 'a guest cannot read a private file');

  const tokens = new node.Tokens(adminClient());
  const token = await tokens.createFileToken({ bucketId, fileId: 'doc' });
  assert.equal(token.resourceId, `${bucketId}:doc`);
  assert.equal(token.resourceType, 'files');
  const held = await fetch(url('doc', token.secret));
  assert.equal(held.status, 200);
  assert.equal(await held.text(), secretBytes.toString());
  assert.equal((await fetch(url('other', token.secret))).status, 401, 'only the file the token names');
  assert.equal((await fetch(url('doc', token.secret.slice(0, -2) + 'xx'))).status, 401, 'a forged secret grants nothing');
  const listed = await tokens.list({ bucketId, fileId: 'doc' });
  assert.deepEqual(listed.tokens.map((t) => t.$id), [token.$id]);
  assert.equal(listed.tokens[0].secret, token.secret);
  const later = new Date(Date.now() + 3600_000).toISOString();
  assert.equal((await tokens.update({ tokenId: token.$id, expire: later })).expire.slice(0, 16), later.slice(0, 16));
  await rejectsWith(assert, tokens.update({ tokenId: token.$id, expire: '2000-01-01T00:00:00.000Z' }), 400, 'general_argument_invalid');
  await tokens.delete({ tokenId: token.$id });
  assert.equal((await fetch(url('doc', token.secret))).status, 401, 'a deleted token grants nothing');
  await rejectsWith(assert, tokens.get({ tokenId: token.$id }), 404, 'token_not_found');
});

test('storage: previews resize, crop and convert images, cached; transformations can be off', async () => {
  const s = storage();
  const bucketId = await bucket();
  const image = png(400, 200);
  const file = await s.createFile({ bucketId, fileId: 'grad', file: InputFile.fromBuffer(image, 'grad.png') });
  assert.equal(file.mimeType, 'image/png');
  const preview = (query) => fetch(`${endpoint}/storage/buckets/${bucketId}/files/grad/preview?project=${projectId}&${query}`);
  const first = await preview('width=50&height=50&output=png&gravity=left');
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'image/png');
  const bytes = Buffer.from(await first.arrayBuffer());
  assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [50, 50], 'a 50×50 PNG');
  assert.equal(first.headers.get('x-appwrite-cache'), 'miss');
  const again = await preview('width=50&height=50&output=png&gravity=left');
  assert.equal(again.headers.get('x-appwrite-cache'), 'hit');
  assert.deepEqual(Buffer.from(await again.arrayBuffer()), bytes);
  const webp = Buffer.from(await (await preview('width=100&output=webp&rotation=90&borderWidth=2&borderColor=00ff00')).arrayBuffer());
  assert.equal(webp.subarray(8, 12).toString(), 'WEBP');
  const jpg = await preview('height=20&quality=50&opacity=0.5&borderRadius=5&background=ffffff');
  assert.equal(jpg.headers.get('content-type'), 'image/png', 'a PNG stays PNG unless asked');
  const asJpeg = Buffer.from(await (await preview('width=30&output=jpg')).arrayBuffer());
  assert.deepEqual([...asJpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  assertAppwriteError(assert, await raw(`/storage/buckets/${bucketId}/files/grad/preview?width=5000`), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw(`/storage/buckets/${bucketId}/files/grad/preview?gravity=middle`), 400, 'general_argument_invalid');
  // Work past the canvas cap is refused before anything is allocated.
  assertAppwriteError(assert, await raw(`/storage/buckets/${bucketId}/files/grad/preview?width=4000&height=4000&borderWidth=100`, { key: true }), 400, 'storage_image_resolution_exceeded');
  // A file that is no image: a placeholder of the size asked for.
  await s.createFile({ bucketId, fileId: 'notes', file: InputFile.fromBuffer(Buffer.from('just text'), 'notes.txt') });
  const icon = Buffer.from(await (await fetch(`${endpoint}/storage/buckets/${bucketId}/files/notes/preview?project=${projectId}&width=64&height=32&output=png`)).arrayBuffer());
  assert.deepEqual([icon.readUInt32BE(16), icon.readUInt32BE(20)], [64, 32]);
  const capped = Buffer.from(await (await fetch(`${endpoint}/storage/buckets/${bucketId}/files/notes/preview?project=${projectId}&width=4000&height=4000&output=png`)).arrayBuffer());
  assert.deepEqual([capped.readUInt32BE(16), capped.readUInt32BE(20)], [512, 512], 'placeholders stay small');
  const off = await bucket({ transformations: false });
  await s.createFile({ bucketId: off, fileId: 'grad', file: InputFile.fromBuffer(image, 'grad.png') });
  assertAppwriteError(assert, await raw(`/storage/buckets/${off}/files/grad/preview?width=10`), 403, 'storage_bucket_transformations_disabled');
});
