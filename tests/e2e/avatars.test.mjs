// Avatars (`/v1/avatars/…`) through the web SDK's URL builders and node-appwrite: QR codes,
// initials, flags, browser and credit-card icons, each decoded as a PNG of the asked size; remote
// images and favicons from a server the deployment allows (EDGEWRITE_TEST_IMAGES_PORT), and the
// server-side request forgery they must refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, assertAppwriteError, guestClient, node, raw, web, userClient } from './helpers.mjs';
import http from 'node:http';
import { decodePng, png as makePng } from './png.mjs';

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

/** Fetches an avatar URL (as an <img> would) and decodes it. */
async function image(url, init) {
  const res = await fetch(url, init);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  assert.equal(res.headers.get('content-type'), 'image/png');
  return { res, png: decodePng(new Uint8Array(await res.arrayBuffer())) };
}

test('avatars.getInitials: the initials punched out of a square of the name\'s colour', async () => {
  const avatars = new web.Avatars(guestClient());
  const { res, png } = await image(avatars.getInitials({ name: 'Ada Lovelace', width: 120, height: 80 }));
  assert.equal(res.headers.get('cache-control'), 'private, max-age=3888000');
  assert.deepEqual([png.width, png.height], [120, 80]);
  // "A" + "L" = 141: the palette's second colour, #FE9567, all around the letters.
  assert.deepEqual(png.pixel(0, 0), [0xfe, 0x95, 0x67, 255]);
  assert.deepEqual(png.pixel(119, 79), [0xfe, 0x95, 0x67, 255]);
  let holes = 0;
  for (let y = 0; y < 80; y++) for (let x = 0; x < 120; x++) if (png.pixel(x, y)[3] === 0) holes++;
  assert.ok(holes > 100, `the letters are transparent (${holes} pixels)`);
  // A chosen background; the default size is 500.
  const red = (await image(avatars.getInitials({ name: 'Ada Lovelace', background: 'ff0000' }))).png;
  assert.deepEqual([red.width, red.height, ...red.pixel(3, 3)], [500, 500, 255, 0, 0, 255]);
  // Without a name: the signed-in user's, from its session (cookie-less: the session header).
  const user = await userClient({ name: 'Grace Hopper' });
  const mine = await fetch(avatars.getInitials({ width: 64, height: 64 }), { headers: { 'x-appwrite-session': user.session.secret } });
  const named = await fetch(avatars.getInitials({ name: 'Grace Hopper', width: 64, height: 64 }));
  assert.deepEqual(new Uint8Array(await mine.arrayBuffer()), new Uint8Array(await named.arrayBuffer()));
  // node-appwrite gets the bytes.
  const fromServer = await new node.Avatars(adminClient()).getInitials({ name: 'Zed', width: 32, height: 16 });
  const decoded = decodePng(new Uint8Array(fromServer));
  assert.deepEqual([decoded.width, decoded.height], [32, 16]);
  assertAppwriteError(assert, await raw('/avatars/initials?name=a&background=zzz'), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/avatars/initials?name=a&width=2001'), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw(`/avatars/initials?name=${'a'.repeat(129)}`), 400, 'general_argument_invalid');
});

test('avatars.getFlag, getBrowser, getCreditCard: the set\'s icon, covered to the asked size', async () => {
  const avatars = new web.Avatars(guestClient());
  const flag = await image(avatars.getFlag({ code: 'br', width: 90, height: 60 }));
  assert.equal(flag.res.headers.get('cache-control'), 'private, max-age=2592000');
  assert.deepEqual([flag.png.width, flag.png.height], [90, 60]);
  const [r, g, b] = flag.png.pixel(1, 1);
  assert.ok(g > 100 && g > r && g > b, `Brazil's corner is green: ${[r, g, b]}`);
  const [, , blue] = flag.png.pixel(45, 30);
  assert.ok(blue > 80, 'its centre is the blue globe');
  // Defaults: 100 × 100; codes in any case; every set.
  const square = (await image(avatars.getFlag({ code: 'JP' }))).png;
  assert.deepEqual([square.width, square.height], [100, 100]);
  assert.deepEqual(square.pixel(50, 50).slice(0, 3).map((v) => v > 150), [true, false, false], 'the red sun');
  for (const code of ['aa', 'an', 'ch', 'ci', 'cm', 'cr', 'ff', 'sf', 'mf', 'ps', 'oi', 'om', 'op', 'on']) {
    const icon = (await image(avatars.getBrowser({ code, width: 40, height: 40 }))).png;
    assert.deepEqual([icon.width, icon.height], [40, 40], code);
  }
  // A zero side follows the other's scale: cards are 256 × 164.
  const card = (await image(avatars.getCreditCard({ code: 'visa', width: 128, height: 0 }))).png;
  assert.deepEqual([card.width, card.height], [128, 82]);
  const fromServer = decodePng(new Uint8Array(await new node.Avatars(adminClient()).getCreditCard({ code: 'targeta-shopping', width: 20, height: 20 })));
  assert.deepEqual([fromServer.width, fromServer.height], [20, 20]);
  for (const bad of ['/avatars/flags/xx', '/avatars/browsers/zz', '/avatars/credit-cards/paypal', '/avatars/flags/us?width=2001', '/avatars/flags/us?quality=101']) {
    assertAppwriteError(assert, await raw(bad), 400, 'general_argument_invalid');
  }
});

/**
 * The remote side of `getImage` and `getFavicon`, on the private origin the suite's deployment
 * allows. `hits` counts requests per path, so a test sees what edgewrite fetched.
 */
async function imageServer() {
  const port = Number(process.env.EDGEWRITE_TEST_IMAGES_PORT);
  const hits = new Map();
  const origin = `http://127.0.0.1:${port}`;
  const routes = {
    '/logo.png': (res) => res.writeHead(200, { 'content-type': 'image/png' }).end(makePng(64, 32)),
    '/big.png': (res) => res.writeHead(200, { 'content-type': 'image/png' }).end(makePng(180, 180)),
    '/thin.png': (res) => res.writeHead(200, { 'content-type': 'image/png' }).end(makePng(1, 4000)),
    '/favicon.ico': (res) => res.writeHead(200, { 'content-type': 'image/x-icon' }).end(Buffer.from([0, 0, 1, 0, 1, 0, 16, 16])),
    '/page': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end(
      '<html><head><link rel="icon" href="/small.png" sizes="16x16"><link rel="icon" href="/big.png" sizes="180x180"><link rel="icon" href="/evil.svg"></head></html>'),
    '/plain-page': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><title>no icons</title></html>'),
    '/moved-page': (res) => res.writeHead(302, { location: '/page' }).end(),
    '/to-metadata': (res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    '/to-loopback': (res) => res.writeHead(301, { location: `http://localhost:${port}/page` }).end(),
    '/icon-to-private': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<link rel="icon" href="http://10.0.0.7/icon.png">'),
    '/not-an-image': (res) => res.writeHead(200, { 'content-type': 'image/png' }).end('<html>surprise</html>'),
    '/missing.png': (res) => res.writeHead(404).end(),
    '/slow': () => {}, // never answers
    '/endless': (res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(1 << 20, 7);
      const pump = () => { while (res.write(chunk)); };
      res.on('drain', pump);
      pump();
    },
  };
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    (routes[path] ?? ((r) => r.writeHead(404).end()))(res);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin, port, hits, close: () => { server.closeAllConnections(); server.close(); } };
}

test('avatars.getImage: a remote image covered to the asked size, cached, never from a private address', async () => {
  const remote = await imageServer();
  try {
    const avatars = new web.Avatars(guestClient());
    const url = `${remote.origin}/logo.png?v=${Date.now()}`;
    const first = await image(avatars.getImage({ url, width: 50, height: 50 }));
    assert.deepEqual([first.png.width, first.png.height], [50, 50]);
    assert.equal(first.res.headers.get('cache-control'), 'private, max-age=2592000');
    assert.equal(first.res.headers.get('x-appwrite-cache'), 'miss');
    const again = await image(avatars.getImage({ url, width: 50, height: 50 }));
    assert.equal(again.res.headers.get('x-appwrite-cache'), 'hit');
    assert.equal(remote.hits.get('/logo.png'), 1, 'the second answer came from the cache');
    // Defaults: 400 × 400; one zero side follows the image's aspect (64 × 32).
    assert.equal((await image(avatars.getImage({ url: `${remote.origin}/logo.png?d` }))).png.width, 400);
    const aspect = (await image(avatars.getImage({ url: `${remote.origin}/logo.png?a`, width: 32, height: 0 }))).png;
    assert.deepEqual([aspect.width, aspect.height], [32, 16]);
    const fromServer = decodePng(new Uint8Array(await new node.Avatars(adminClient()).getImage({ url: `${remote.origin}/logo.png?n`, width: 8, height: 8 })));
    assert.equal(fromServer.width, 8);
    // A source one pixel wide is cut before it is scaled (no huge intermediate image).
    const thin = (await image(avatars.getImage({ url: `${remote.origin}/thin.png`, width: 2000, height: 2000 }))).png;
    assert.deepEqual([thin.width, thin.height], [2000, 2000]);

    // Server-side request forgery: loopback (other ports, other spellings), private, link-local
    // (cloud metadata) and local names are refused before any request leaves.
    for (const target of [
      `http://127.0.0.1:${remote.port + 1}/logo.png`,
      `http://localhost:${remote.port}/logo.png`,
      // (The allowed origin in another spelling is the allowed origin: other ports here.)
      `http://2130706433:${remote.port + 1}/logo.png`,
      `http://0x7f.1:${remote.port + 1}/logo.png`,
      `http://[::1]:${remote.port}/logo.png`,
      `http://[::ffff:127.0.0.1]:${remote.port}/logo.png`,
      'http://10.0.0.7/logo.png',
      'http://192.168.1.1/logo.png',
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.google.internal/computeMetadata/v1/',
    ]) {
      assertAppwriteError(assert, await raw(`/avatars/image?url=${encodeURIComponent(target)}`), 404, 'avatar_remote_url_failed');
    }
    // No redirect is followed (Appwrite's rule), so none can lead inside.
    assertAppwriteError(assert, await raw(`/avatars/image?url=${encodeURIComponent(`${remote.origin}/to-metadata`)}`), 404, 'avatar_image_not_found');
    assertAppwriteError(assert, await raw(`/avatars/image?url=${encodeURIComponent(`${remote.origin}/missing.png`)}`), 404, 'avatar_image_not_found');
    assertAppwriteError(assert, await raw(`/avatars/image?url=${encodeURIComponent(`${remote.origin}/not-an-image`)}`), 404, 'avatar_image_not_found');
    // An answer without end is cut at the size cap.
    assertAppwriteError(assert, await raw(`/avatars/image?url=${encodeURIComponent(`${remote.origin}/endless`)}`), 404, 'avatar_remote_url_failed');
    for (const bad of ['file:///etc/passwd', 'gopher://example.com/', 'not a url']) {
      assertAppwriteError(assert, await raw(`/avatars/image?url=${encodeURIComponent(bad)}`), 400, 'general_argument_invalid');
    }
    assertAppwriteError(assert, await raw('/avatars/image'), 400, 'general_argument_invalid');
  } finally {
    remote.close();
  }
});

test('avatars.getFavicon: the page\'s largest raster icon, redirects checked hop by hop, slow servers given up on', async () => {
  const remote = await imageServer();
  try {
    const avatars = new web.Avatars(guestClient());
    const icon = await image(avatars.getFavicon({ url: `${remote.origin}/moved-page` }));
    assert.deepEqual([icon.png.width, icon.png.height], [56, 56]);
    assert.equal(remote.hits.get('/big.png'), 1);
    assert.equal(remote.hits.get('/evil.svg'), undefined, 'an SVG icon is passed over');
    // Without a <link>, the site's /favicon.ico, as it is.
    const ico = await fetch(avatars.getFavicon({ url: `${remote.origin}/plain-page` }));
    assert.equal(ico.status, 200);
    assert.equal(ico.headers.get('content-type'), 'image/x-icon');
    assert.deepEqual([...new Uint8Array(await ico.arrayBuffer())], [0, 0, 1, 0, 1, 0, 16, 16]);
    // A redirect or an icon link into a private address is refused at that hop.
    for (const path of ['/to-metadata', '/to-loopback', '/icon-to-private']) {
      assertAppwriteError(assert, await raw(`/avatars/favicon?url=${encodeURIComponent(remote.origin + path)}`), 404, 'avatar_remote_url_failed');
    }
    assertAppwriteError(assert, await raw(`/avatars/favicon?url=${encodeURIComponent('http://127.0.0.1:9/')}`), 404, 'avatar_remote_url_failed');
    // A server that never answers is given up on (5 s), with Appwrite's error.
    const started = Date.now();
    assertAppwriteError(assert, await raw(`/avatars/favicon?url=${encodeURIComponent(`${remote.origin}/slow`)}`), 404, 'avatar_remote_url_failed');
    assert.ok(Date.now() - started < 30_000, 'the request did not hang');
  } finally {
    remote.close();
  }
});

test('avatars.getScreenshot: no browser runs here, so the service answers that it is disabled', async () => {
  const url = new web.Avatars(guestClient()).getScreenshot({ url: 'https://example.com' });
  const res = await fetch(url);
  assert.equal(res.status, 403);
  assert.equal((await res.json()).type, 'general_service_disabled');
});
