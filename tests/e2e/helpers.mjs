// Shared set-up for the end-to-end suites: where edgewrite runs and SDK clients pointed at it.
// `cargo xtask test` starts workerd and sets the EDGEWRITE_* variables; to run against a server
// you started yourself: EDGEWRITE_ENDPOINT=http://127.0.0.1:8787/v1 EDGEWRITE_PROJECT_ID=dev
// EDGEWRITE_API_KEY=... node --test e2e/
import * as node from 'node-appwrite';
import * as web from 'appwrite';
import { checkAnswer, hookClient, responseFormat } from './models.mjs';

export const endpoint = process.env.EDGEWRITE_ENDPOINT ?? 'http://127.0.0.1:8787/v1';
export const projectId = process.env.EDGEWRITE_PROJECT_ID ?? 'dev';
export const apiKey = process.env.EDGEWRITE_API_KEY ?? '';
export const runtime = process.env.EDGEWRITE_RUNTIME ?? 'workerd';

export { node, web };

// Every answer the SDKs receive is held against Appwrite's response model of its route
// (models.mjs; EDGEWRITE_MODEL_CHECK=on|report|off). Every test file imports this module.
hookClient(node.Client, 'node-appwrite');
hookClient(web.Client, 'appwrite');

/** A node-appwrite client holding the API key (every scope). */
export function adminClient() {
  if (!apiKey) throw new Error('EDGEWRITE_API_KEY is not set');
  return new node.Client().setEndpoint(endpoint).setProject(projectId).setKey(apiKey);
}

/** A web SDK client without credentials. */
export function guestClient(project = projectId) {
  return new web.Client().setEndpoint(endpoint).setProject(project);
}

/** Headless Chromium (`EDGEWRITE_CHROMIUM`, which `cargo xtask test` finds or installs). */
export async function launchChromium() {
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: process.env.EDGEWRITE_CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/** Raw HTTP against edgewrite, for wire details the SDKs hide. */
export async function raw(path, { method = 'GET', headers = {}, body, key = false, project = projectId, redirect = 'follow' } = {}) {
  const h = { ...headers };
  if (project) h['x-appwrite-project'] = project;
  if (key) h['x-appwrite-key'] = apiKey;
  const res = await fetch(`${endpoint}${path}`, { method, headers: h, body, redirect });
  const text = await res.text();
  let json;
  if ((res.headers.get('content-type') ?? '').includes('application/json')) json = JSON.parse(text);
  checkAnswer({
    method, url: `${endpoint}${path}`, status: res.status,
    kind: json !== undefined ? 'json' : text ? 'text' : 'empty', body: json ?? text, via: 'raw',
    format: responseFormat(headers),
  });
  return { status: res.status, headers: res.headers, text, json };
}

/** Asserts an Appwrite error body: status, type, and the four fields. */
export function assertAppwriteError(assert, res, status, type) {
  assert.equal(res.status, status, `status of ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.json.type, type);
  assert.equal(res.json.code, status);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
  assert.equal(typeof res.json.version, 'string');
}

/** Asserts that `promise` rejects with an AppwriteException of that code and type. */
export async function rejectsWith(assert, promise, code, type) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.constructor.name, 'AppwriteException', String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.type, type, e.message);
    return true;
  });
}

/** A unique email for one test. */
export function uniqueEmail(tag = 'user') {
  return `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/**
 * A node-appwrite client acting as a freshly signed-up user (the SSR pattern of the SDK notes:
 * create and log in with the API key, then `setSession(secret)`).
 */
export async function userClient({ email = uniqueEmail(), password = 'correct-horse-9', name = 'Test User' } = {}) {
  const admin = adminClient();
  const account = new node.Account(admin);
  const user = await account.create({ userId: node.ID.unique(), email, password, name });
  const session = await account.createEmailPasswordSession({ email, password });
  const client = new node.Client().setEndpoint(endpoint).setProject(projectId).setSession(session.secret);
  return { client, user, session, email, password };
}

/**
 * Makes the web SDK in Node keep its session the way a browser without third-party cookies
 * does: `window.localStorage.cookieFallback`, filled from the `X-Fallback-Cookies` header.
 * Returns the backing map, so a test can inspect or clear it.
 */
export function installFallbackStorage() {
  const store = new Map();
  globalThis.window = globalThis;
  globalThis.localStorage = {
    getItem: (k) => store.get(k) ?? null,
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  };
  return store;
}
