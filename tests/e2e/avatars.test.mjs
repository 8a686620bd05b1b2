// Avatars (`/v1/avatars/…`) through the web SDK's URL builders and node-appwrite: the QR code as
// a PNG of the asked size. The other avatar kinds are not served yet (README, "Routes served").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, assertAppwriteError, guestClient, node, raw, web } from './helpers.mjs';

/** Width, height and colour type from a PNG's IHDR. */
function pngHeader(bytes) {
  const buf = Buffer.from(bytes);
  assert.equal(buf.subarray(1, 4).toString(), 'PNG', 'a PNG');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), colorType: buf[25] };
}

test('avatars.getQR: a PNG QR code of the asked size, cached privately, downloadable', async () => {
  const avatars = new web.Avatars(guestClient());
  const url = avatars.getQR({ text: 'https://edgewrite.test/welcome', size: 300, margin: 2 });
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.equal(res.headers.get('cache-control'), 'private, max-age=3888000');
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual(pngHeader(bytes), { width: 300, height: 300, colorType: 0 });
  // The same text makes the same image; other text another.
  assert.deepEqual(new Uint8Array(await (await fetch(url)).arrayBuffer()), bytes);
  const other = new Uint8Array(await (await fetch(avatars.getQR({ text: 'https://edgewrite.test/other', size: 300, margin: 2 }))).arrayBuffer());
  assert.notDeepEqual(other, bytes);
  // Defaults: 400 pixels.
  const plain = new Uint8Array(await (await fetch(avatars.getQR({ text: 'hello' }))).arrayBuffer());
  assert.equal(pngHeader(plain).width, 400);
  const download = await fetch(avatars.getQR({ text: 'hello', download: true }));
  assert.equal(download.headers.get('content-disposition'), 'attachment; filename="qr.png"');
  // node-appwrite (server side) gets the bytes.
  const fromServer = await new node.Avatars(adminClient()).getQR({ text: 'hello', size: 64 });
  assert.equal(pngHeader(new Uint8Array(fromServer)).width, 64);
});

test('avatars.getQR refuses a missing text, a size out of 1–1000 and a margin out of 0–10', async () => {
  assertAppwriteError(assert, await raw('/avatars/qr'), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/avatars/qr?text=a&size=0'), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/avatars/qr?text=a&size=1001'), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/avatars/qr?text=a&margin=11'), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw(`/avatars/qr?text=${'a'.repeat(513)}`), 400, 'general_argument_invalid');
});
