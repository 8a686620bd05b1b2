// The web SDK in a real browser: Debian's Chromium (headless, loopback only) loads a page from
// its own origin, which uploads files through `appwrite`'s Storage (CORS with credentials, the
// chunked upload from a page), then views and previews them by the SDK's URL builders.
// `cargo xtask test` finds or installs Chromium and passes it as EDGEWRITE_CHROMIUM; without
// one these tests report themselves skipped. Web SDK 21.5 (the one Appwrite's React starter
// ships) runs in the browser too: sign-up, login, TablesDB rows and realtime over URL channels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { adminClient, endpoint, launchChromium, projectId, node, runtime } from './helpers.mjs';

const chromium = process.env.EDGEWRITE_CHROMIUM;
const skip = chromium ? false : 'no Chromium (EDGEWRITE_CHROMIUM is not set)';

/** Serves the page and the SDK bundle (`package`'s) on a loopback port of its own. */
async function pageServer(pkg = 'appwrite') {
  const sdk = await readFile(new URL(`../node_modules/${pkg}/dist/iife/sdk.js`, import.meta.url));
  const server = http.createServer((req, res) => {
    if (req.url === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(sdk);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>edgewrite</title><script src="/sdk.js"></script>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

test('browser: a page uploads with the web SDK, then views and previews its files', { skip }, async () => {
  const bucketId = `web${Date.now().toString(36)}`;
  await new node.Storage(adminClient()).createBucket({
    bucketId, name: 'browser', permissions: ['read("any")', 'create("any")'], maximumFileSize: 20 * 1024 * 1024,
  });
  const { server, origin } = await pageServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const result = await page.evaluate(async ({ endpoint, projectId, bucketId }) => {
      const { Client, Storage, ID } = window.Appwrite;
      const storage = new Storage(new Client().setEndpoint(endpoint).setProject(projectId));
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      const g = canvas.getContext('2d');
      g.fillStyle = '#3366ff';
      g.fillRect(0, 0, 320, 240);
      g.fillStyle = '#ffcc00';
      g.fillRect(40, 40, 100, 100);
      const png = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      const made = await storage.createFile({ bucketId, fileId: ID.unique(), file: new File([png], 'canvas.png', { type: 'image/png' }) });
      const viewed = new Uint8Array(await (await fetch(storage.getFileView({ bucketId, fileId: made.$id }))).arrayBuffer());
      const original = new Uint8Array(await png.arrayBuffer());
      const img = new Image();
      img.src = storage.getFilePreview({ bucketId, fileId: made.$id, width: 64, height: 48, output: 'webp' });
      await img.decode();
      // Six MiB of noise: the SDK uploads it in two chunks from the page.
      const big = new Uint8Array(6 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
      const large = await storage.createFile({ bucketId, fileId: ID.unique(), file: new File([big], 'noise.bin') });
      const back = new Uint8Array(await (await fetch(storage.getFileDownload({ bucketId, fileId: large.$id }))).arrayBuffer());
      return {
        mimeType: made.mimeType,
        same: viewed.length === original.length && viewed.every((b, i) => b === original[i]),
        preview: [img.naturalWidth, img.naturalHeight],
        chunks: [large.chunksUploaded, large.chunksTotal],
        largeSame: back.length === big.length && back.every((b, i) => b === big[i]),
      };
    }, { endpoint, projectId, bucketId });
    assert.equal(result.mimeType, 'image/png');
    assert.ok(result.same, 'the viewed bytes are the uploaded canvas');
    assert.deepEqual(result.preview, [64, 48]);
    assert.deepEqual(result.chunks, [2, 2]);
    assert.ok(result.largeSame, 'the chunked upload downloads byte for byte');
  } finally {
    await browser.close();
    server.close();
  }
});

test('browser: web SDK 21 signs up and in, lists TablesDB rows, and gets realtime events over URL channels', { skip }, async () => {
  const databaseId = `web21${Date.now().toString(36)}`;
  const tables = new node.TablesDB(adminClient());
  await tables.create({ databaseId, name: 'web21' });
  await tables.createTable({ databaseId, tableId: 'notes', name: 'notes', permissions: ['read("users")'] });
  await tables.createIntegerColumn({ databaseId, tableId: 'notes', key: 'n', required: false });
  await tables.createRow({ databaseId, tableId: 'notes', rowId: 'first', data: { n: 1 } });
  const { server, origin } = await pageServer('appwrite-web-21');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const email = `web21-${Date.now().toString(36)}@example.com`;
    const signedIn = await page.evaluate(async ({ endpoint, projectId, databaseId, email }) => {
      const { Client, Account, TablesDB, ID, Query } = window.Appwrite;
      const client = new Client().setEndpoint(endpoint).setProject(projectId);
      const account = new Account(client);
      await account.create({ userId: ID.unique(), email, password: 'correct-horse-9', name: 'Web 21' });
      const session = await account.createEmailPasswordSession({ email, password: 'correct-horse-9' });
      const me = await account.get();
      const rows = await new TablesDB(client).listRows({ databaseId, tableId: 'notes', queries: [Query.equal('n', 1)] });
      window.events = [];
      window.unsubscribe = client.subscribe(`databases.${databaseId}.tables.notes.rows`, (event) => window.events.push(event));
      return { me, session, rows };
    }, { endpoint, projectId, databaseId, email });
    assert.equal(signedIn.me.email, email);
    assert.equal(signedIn.session.provider, 'email');
    // Headless Chromium's own User-Agent names the session's client, OS and device.
    assert.deepEqual(
      [signedIn.session.clientCode, signedIn.session.clientName, signedIn.session.clientEngine, signedIn.session.osCode, signedIn.session.deviceName],
      ['CH', 'Chrome', 'Blink', 'LIN', 'desktop'],
    );
    assert.equal(signedIn.rows.total, 1);
    assert.equal(signedIn.rows.rows[0].$id, 'first');
    assert.equal(signedIn.rows.rows[0].$sequence, 1, 'format 1.8.0: a numeric $sequence');
    if (runtime === 'spin') return; // Spin takes no inbound WebSockets (README, "Realtime").
    // The SDK opens the socket with the channel in its URL; then a row is written.
    const deadline = Date.now() + 10_000;
    let event;
    for (let n = 2; !event && Date.now() < deadline; n++) {
      await tables.createRow({ databaseId, tableId: 'notes', rowId: `row${n}`, data: { n } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      event = (await page.evaluate(() => window.events)).find((e) => e.payload?.$id === `row${n}`);
    }
    assert.ok(event, 'a realtime event reached the page');
    assert.ok(event.events.some((e) => e.endsWith('.create')), JSON.stringify(event.events));
    assert.ok(event.channels.includes(`databases.${databaseId}.tables.notes.rows`));
  } finally {
    await browser.close();
    server.close();
  }
});
