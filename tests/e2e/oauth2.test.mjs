// OAuth2 sign-in against a real OpenID Connect server and GitHub's endpoints on loopback
// (oauth-provider.mjs): the web SDK in headless Chromium through every redirect, the token
// flow, linking a second provider, refused consent, and the attacks on the flow (tampered,
// replayed and transplanted state, open redirects) over raw HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { adminClient, assertAppwriteError, endpoint, node, projectId, raw, uniqueEmail, userClient } from './helpers.mjs';
import { startProvider } from './oauth-provider.mjs';

const port = Number(process.env.EDGEWRITE_TEST_OAUTH_PORT ?? 0);
const chromium = process.env.EDGEWRITE_CHROMIUM;
const noProvider = port ? false : 'EDGEWRITE_TEST_OAUTH_PORT is not set (cargo xtask test sets it)';
const noBrowser = noProvider || (chromium ? false : 'no Chromium (EDGEWRITE_CHROMIUM is not set)');
const apiOrigin = new URL(endpoint).origin;

let provider;
let page;
before(async () => {
  if (!port) return;
  provider = await startProvider(port);
  page = await pageServer();
});
after(async () => {
  await provider?.close();
  page?.server.close();
});

/** The app: a page with the web SDK, and the success and failure pages it returns to. */
async function pageServer() {
  const sdk = await readFile(new URL('../node_modules/appwrite/dist/iife/sdk.js', import.meta.url));
  const server = http.createServer((req, res) => {
    if (req.url === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(sdk);
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><meta charset="utf-8"><title>app</title><script src="/sdk.js"></script>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/** A fresh address per flow, so abuse limits of one test never touch another. */
function address() {
  return `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
}

/** A browser stand-in over raw HTTP: follows redirects by hand, keeping cookies per host. */
function agent() {
  const jar = new Map();
  const ip = address();
  return {
    jar,
    async get(url, { method = 'GET', body, headers = {} } = {}) {
      const target = new URL(url, apiOrigin);
      const cookie = [...jar.entries()].filter(([k]) => k.startsWith(`${target.host}|`)).map(([k, v]) => `${k.split('|')[1]}=${v}`).join('; ');
      const res = await fetch(target, {
        method,
        body,
        redirect: 'manual',
        headers: { ...headers, ...(cookie ? { cookie } : {}), 'x-forwarded-for': ip },
      });
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const i = pair.indexOf('=');
        jar.set(`${target.host}|${pair.slice(0, i)}`, pair.slice(i + 1));
      }
      return { res, location: res.headers.get('location'), text: await res.text() };
    },
  };
}

/**
 * Starts a sign-in the way the web SDK's URL does and follows it to the app; returns every hop.
 * `tamper(url)` may rewrite the callback URL the provider sends the browser to.
 */
async function flow(browser, { kind = 'sessions', providerName = 'oidc', success, failure, scopes = [], tamper = (u) => u, headers } = {}) {
  const params = new URLSearchParams({ success: success ?? `${page.origin}/done`, failure: failure ?? `${page.origin}/failed` });
  scopes.forEach((s, i) => params.append(`scopes[${i}]`, s));
  params.append('project', projectId);
  const start = await browser.get(`${endpoint}/account/${kind}/oauth2/${providerName}?${params}`, { headers });
  if (start.res.status !== 301) return { start };
  const authorize = await browser.get(start.location);
  const callbackUrl = tamper(authorize.location);
  const callback = await browser.get(callbackUrl);
  const redirect = await browser.get(callback.location);
  return { start, authorize, callbackUrl, callback, redirect, landed: redirect.location && new URL(redirect.location) };
}

function errorOf(landed) {
  return JSON.parse(landed.searchParams.get('error'));
}

test('oauth2: the start redirects to the provider with a signed state, PKCE, a nonce and the scopes', { skip: noProvider }, async () => {
  const { start } = await flow(agent(), { scopes: ['offline_access'] });
  assert.equal(start.res.status, 301);
  assert.match(start.res.headers.get('cache-control'), /no-store/);
  const to = new URL(start.location);
  assert.equal(to.origin, provider.origin);
  assert.equal(to.searchParams.get('client_id'), 'edgewrite-oidc');
  assert.equal(to.searchParams.get('redirect_uri'), `${apiOrigin}/v1/account/sessions/oauth2/callback/oidc/${projectId}`);
  assert.equal(to.searchParams.get('response_type'), 'code');
  assert.equal(to.searchParams.get('scope'), 'openid profile email offline_access');
  assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
  assert.match(to.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(to.searchParams.get('nonce'), /^[A-Za-z0-9_-]{22}$/);
  assert.match(to.searchParams.get('state'), /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/);
  const binding = start.res.headers.getSetCookie().find((c) => c.startsWith(`a_oauth2_${projectId}=`));
  assert.match(binding, /HttpOnly; SameSite=Lax/);
});

test('oauth2: a full session flow over HTTP signs in, and the PKCE verifier reaches the token endpoint', { skip: noProvider }, async () => {
  provider.oidcUser = { sub: `raw-${Date.now()}`, email: uniqueEmail('oidc'), email_verified: true, name: 'Raw Flow' };
  const browser = agent();
  const { landed, redirect } = await flow(browser);
  assert.equal(redirect.res.status, 301);
  assert.equal(`${landed.origin}${landed.pathname}`, `${page.origin}/done`);
  assert.equal(landed.search, '');
  const tokenRequest = provider.tokenRequests.at(-1);
  assert.match(tokenRequest.code_verifier, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(tokenRequest.client_secret, 'oidc-secret');
  const cookie = redirect.res.headers.getSetCookie().find((c) => c.startsWith(`a_session_${projectId}=`));
  assert.ok(cookie, 'the session cookie is set');
  const me = await browser.get(`${endpoint}/account`, { headers: { 'x-appwrite-project': projectId } });
  const user = JSON.parse(me.text);
  assert.equal(user.email, provider.oidcUser.email);
  assert.equal(user.emailVerification, true);
  assert.equal(user.name, 'Raw Flow');
  const session = JSON.parse((await browser.get(`${endpoint}/account/sessions/current`, { headers: { 'x-appwrite-project': projectId } })).text);
  assert.equal(session.provider, 'oidc');
  assert.equal(session.providerUid, provider.oidcUser.sub);
  assert.equal(session.providerAccessToken, '', 'provider tokens never leave');
  assert.equal(session.providerRefreshToken, '');
  assert.ok(session.providerAccessTokenExpiry);
  assert.deepEqual(session.factors, ['email', 'oauth2']);
});

test('oauth2: a replayed or tampered state is refused, and a state works only in the browser that started it', { skip: noProvider }, async () => {
  provider.oidcUser = { sub: `replay-${Date.now()}`, email: uniqueEmail('replay'), email_verified: true, name: 'R' };
  const browser = agent();
  const done = await flow(browser);
  assert.equal(new URL(done.landed).pathname, '/done');
  // The same redirect again: the state is used up.
  const replayed = await browser.get(done.callback.location);
  assert.equal(replayed.res.status, 400);
  assert.equal(JSON.parse(replayed.text).type, 'user_oauth2_bad_request');

  const tampered = await flow(agent(), {
    tamper: (url) => {
      const u = new URL(url);
      const [id, tag] = u.searchParams.get('state').split('.');
      u.searchParams.set('state', `${id.slice(0, -2)}AA.${tag}`);
      return u.href;
    },
  });
  assert.equal(tampered.redirect.res.status, 400);
  assert.equal(JSON.parse(tampered.redirect.text).type, 'user_oauth2_bad_request');

  // Another browser (without the first one's binding cookie) finishing the first one's flow.
  const victim = agent();
  const started = await victim.get(`${endpoint}/account/sessions/oauth2/oidc?${new URLSearchParams({ success: `${page.origin}/done`, failure: `${page.origin}/failed`, project: projectId })}`);
  const authorize = await victim.get(started.location);
  const attacker = agent();
  const callback = await attacker.get(authorize.location);
  const redirect = await attacker.get(callback.location);
  const landed = new URL(redirect.location);
  assert.equal(landed.pathname, '/failed');
  assert.equal(errorOf(landed).type, 'user_oauth2_bad_request');
  assert.equal(redirect.res.headers.getSetCookie().filter((c) => c.startsWith('a_session_')).length, 0);
});

test('oauth2: success and failure URLs must be on the allowed origins', { skip: noProvider }, async () => {
  for (const [success, failure] of [
    ['https://evil.example/steal', `${page.origin}/failed`],
    [`${page.origin}/done`, 'https://evil.example/x'],
    [`https://attacker@evil.example/`, `${page.origin}/failed`],
    ['javascript:alert(1)', `${page.origin}/failed`],
  ]) {
    const res = await raw(`/account/sessions/oauth2/oidc?${new URLSearchParams({ success, failure })}`, { headers: { 'x-forwarded-for': address() } });
    assertAppwriteError(assert, res, 400, 'general_argument_invalid');
  }
  // The app's own scheme is fine.
  const app = await flow(agent(), { kind: 'tokens', success: `appwrite-callback-${projectId}://cb`, failure: `appwrite-callback-${projectId}://cb` });
  assert.equal(app.start.res.status, 301);
  assert.equal(app.landed.protocol, `appwrite-callback-${projectId}:`);
});

test('oauth2: a form_post callback (Apple) continues as a GET to the project with what the provider posted', { skip: noProvider }, async () => {
  const res = await fetch(`${endpoint}/account/sessions/oauth2/callback/github/${projectId}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ code: 'c1', state: 's.t', user: '{"name":{"firstName":"Ada"}}' }).toString(),
  });
  assert.equal(res.status, 303);
  const to = new URL(res.headers.get('location'), apiOrigin);
  assert.equal(to.pathname, '/v1/account/sessions/oauth2/github/redirect');
  assert.deepEqual(Object.fromEntries(to.searchParams), { code: 'c1', state: 's.t', user: '{"name":{"firstName":"Ada"}}', project: projectId });
  const bad = await raw(`/account/sessions/oauth2/callback/github/${encodeURIComponent('bad project!')}`, { project: '' });
  assertAppwriteError(assert, bad, 400, 'general_argument_invalid');
});

test('oauth2: unknown and disabled providers are refused with Appwrite errors', { skip: noProvider }, async () => {
  const q = new URLSearchParams({ success: `${page.origin}/done`, failure: `${page.origin}/failed` });
  assertAppwriteError(assert, await raw(`/account/sessions/oauth2/myspace?${q}`), 400, 'general_argument_invalid');
  // gitlab is configured but disabled; discord is not configured.
  assertAppwriteError(assert, await raw(`/account/sessions/oauth2/gitlab?${q}`), 412, 'project_provider_disabled');
  assertAppwriteError(assert, await raw(`/account/sessions/oauth2/discord?${q}`), 412, 'project_provider_disabled');
});

test('oauth2: refused consent lands on the failure URL with the error, and creates nothing', { skip: noProvider }, async () => {
  const before = (await new node.Users(adminClient()).list({ queries: [node.Query.limit(1)] })).total;
  provider.deny = true;
  try {
    const { landed, redirect } = await flow(agent());
    assert.equal(landed.pathname, '/failed');
    const error = errorOf(landed);
    assert.equal(error.type, 'user_oauth2_provider_error');
    assert.equal(error.code, 424);
    assert.match(error.message, /access_denied/);
    assert.equal(redirect.res.headers.getSetCookie().filter((c) => c.startsWith('a_session_')).length, 0);
  } finally {
    provider.deny = false;
  }
  assert.equal((await new node.Users(adminClient()).list({ queries: [node.Query.limit(1)] })).total, before);
});

test('oauth2: an unverified provider email never takes over the account that has it', { skip: noProvider }, async () => {
  const email = uniqueEmail('victim');
  const users = new node.Users(adminClient());
  const victim = await users.create({ userId: node.ID.unique(), email, password: 'victim-password-1' });
  provider.oidcUser = { sub: `attacker-${Date.now()}`, email, email_verified: false, name: 'Attacker' };
  const { landed } = await flow(agent());
  assert.equal(landed.pathname, '/failed');
  assert.equal(errorOf(landed).type, 'general_bad_request');
  const identities = await users.listIdentities({ queries: [node.Query.equal('userId', victim.$id)] });
  assert.equal(identities.total, 0);
  // Verified, the provider's word is enough: the identity joins the existing user.
  provider.oidcUser = { ...provider.oidcUser, email_verified: true };
  const joined = await flow(agent());
  assert.equal(joined.landed.pathname, '/done');
  const after = await users.listIdentities({ queries: [node.Query.equal('userId', victim.$id)] });
  assert.equal(after.total, 1);
  assert.equal(after.identities[0].provider, 'oidc');
  assert.equal(after.identities[0].providerEmail, email);
  assert.equal(after.identities[0].providerAccessToken, '');
});

test('oauth2: node-appwrite createOAuth2Token answers the provider URL; the server-side flow needs no browser binding', { skip: noProvider }, async () => {
  provider.oidcUser = { sub: `ssr-${Date.now()}`, email: uniqueEmail('ssr'), email_verified: true, name: 'SSR' };
  const account = new node.Account(adminClient());
  const url = await account.createOAuth2Token({ provider: node.OAuthProvider.Oidc, success: `${page.origin}/ssr`, failure: `${page.origin}/failed` });
  assert.ok(url.startsWith(`${provider.origin}/authorize?`), url);
  const browser = agent();
  const authorize = await browser.get(url);
  const callback = await browser.get(authorize.location);
  const redirect = await browser.get(callback.location);
  const landed = new URL(redirect.location);
  assert.equal(landed.pathname, '/ssr');
  const userId = landed.searchParams.get('userId');
  const secret = landed.searchParams.get('secret');
  assert.match(secret, /^[0-9a-f]{64}$/);
  const session = await account.createSession({ userId, secret });
  assert.equal(session.provider, 'oidc');
  assert.equal(session.providerUid, provider.oidcUser.sub);
  assert.deepEqual(session.factors, ['email', 'oauth2']);
  // A token is good once.
  await assert.rejects(account.createSession({ userId, secret }), (e) => e.type === 'user_invalid_token');
});

test('oauth2: linking a provider and signing in by its token leaves the user\'s own email unverified', { skip: noProvider }, async () => {
  const { user, session } = await userClient();
  assert.equal(user.emailVerification, false);
  provider.oidcUser = { sub: `link-${Date.now()}`, email: uniqueEmail('elsewhere'), email_verified: true, name: 'Linked' };
  // Signed in (the session header), the token flow links the provider account to this user.
  const { landed } = await flow(agent(), { kind: 'tokens', headers: { 'x-appwrite-session': session.secret } });
  assert.equal(landed.pathname, '/done');
  assert.equal(landed.searchParams.get('userId'), user.$id);
  const made = await new node.Account(adminClient()).createSession({ userId: user.$id, secret: landed.searchParams.get('secret') });
  assert.equal(made.provider, 'oidc');
  const after = await new node.Users(adminClient()).get({ userId: user.$id });
  assert.equal(after.emailVerification, false, 'the provider verified another address, not this one');
});

test('oauth2: refreshing an OAuth2 session gets new provider tokens; identities list and delete', { skip: noProvider }, async () => {
  provider.oidcUser = { sub: `refresh-${Date.now()}`, email: uniqueEmail('refresh'), email_verified: true, name: 'Refresh' };
  const browser = agent();
  await flow(browser);
  const refreshes = provider.tokenRequests.length;
  const headers = { 'x-appwrite-project': projectId, 'content-type': 'application/json' };
  const patched = await browser.get(`${endpoint}/account/sessions/current`, { method: 'PATCH', headers, body: '{}' });
  assert.equal(patched.res.status, 200, patched.text);
  assert.equal(provider.tokenRequests.length, refreshes + 1);
  assert.equal(provider.tokenRequests.at(-1).grant_type, 'refresh_token');
  assert.equal(JSON.parse(patched.text).providerRefreshToken, '');
  const mine = JSON.parse((await browser.get(`${endpoint}/account/identities`, { headers })).text);
  assert.equal(mine.total, 1);
  const removed = await browser.get(`${endpoint}/account/identities/${mine.identities[0].$id}`, { method: 'DELETE', headers });
  assert.equal(removed.res.status, 204);
  assert.equal(JSON.parse((await browser.get(`${endpoint}/account/identities`, { headers })).text).total, 0);
});

/** Starts `method` (createOAuth2Session or createOAuth2Token) from `tab` and waits to land on `landing`. */
async function startFromPage(tab, method, providerName, landing, extra = {}) {
  await Promise.all([
    tab.waitForNavigation({ url: (u) => u.startsWith(`${page.origin}/${landing}`) }),
    tab.evaluate((c, origin, method, providerName, landing, extra) => {
      const { Client, Account } = window.Appwrite;
      new Account(new Client().setEndpoint(c.endpoint).setProject(c.projectId))[method]({
        provider: providerName, success: `${origin}/${landing === 'failed' ? 'done' : landing}`, failure: `${origin}/failed`, ...extra,
      });
    }, { endpoint, projectId }, page.origin, method, providerName, landing, extra),
  ]);
}

test('browser: createOAuth2Session signs in through the redirects, links GitHub, and createOAuth2Token then createSession signs in again', { skip: noBrowser }, async () => {
  const { default: puppeteer } = await import('puppeteer-core');
  const email = uniqueEmail('web');
  provider.oidcUser = { sub: `web-${Date.now()}`, email, email_verified: true, name: 'Web User' };
  provider.githubUser = { id: Date.now(), login: 'webcat', name: 'Web Cat' };
  provider.githubEmails = [{ email: uniqueEmail('gh'), primary: true, verified: true }];
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    const tab = await browser.newPage();
    await tab.goto(`${page.origin}/`);
    await startFromPage(tab, 'createOAuth2Session', 'oidc', 'done');
    const me = await tab.evaluate(async (c) => {
      const { Client, Account } = window.Appwrite;
      const account = new Account(new Client().setEndpoint(c.endpoint).setProject(c.projectId));
      return { user: await account.get(), session: await account.getSession({ sessionId: 'current' }) };
    }, { endpoint, projectId });
    assert.equal(me.user.email, email);
    assert.equal(me.session.provider, 'oidc');

    // Signed in, the GitHub account links to the same user.
    await startFromPage(tab, 'createOAuth2Session', 'github', 'linked', { scopes: ['repo'] });
    const linked = await tab.evaluate(async (c) => {
      const { Client, Account } = window.Appwrite;
      const account = new Account(new Client().setEndpoint(c.endpoint).setProject(c.projectId));
      return { user: await account.get(), identities: await account.listIdentities() };
    }, { endpoint, projectId });
    assert.equal(linked.user.$id, me.user.$id);
    assert.deepEqual(linked.identities.identities.map((i) => i.provider).sort(), ['github', 'oidc']);
    const github = linked.identities.identities.find((i) => i.provider === 'github');
    assert.equal(github.providerUid, String(provider.githubUser.id));

    // A new browser profile: the token flow, then createSession.
    const incognito = await browser.createBrowserContext();
    const fresh = await incognito.newPage();
    await fresh.goto(`${page.origin}/`);
    await startFromPage(fresh, 'createOAuth2Token', 'github', 'token');
    const again = await fresh.evaluate(async (c) => {
      const { Client, Account } = window.Appwrite;
      const account = new Account(new Client().setEndpoint(c.endpoint).setProject(c.projectId));
      const query = new URLSearchParams(location.search);
      const session = await account.createSession({ userId: query.get('userId'), secret: query.get('secret') });
      return { session, user: await account.get() };
    }, { endpoint, projectId });
    assert.equal(again.user.$id, me.user.$id);
    assert.equal(again.session.provider, 'github');

    // Refused consent lands on the failure page.
    provider.deny = true;
    await startFromPage(fresh, 'createOAuth2Session', 'github', 'failed');
    const failed = JSON.parse(new URL(fresh.url()).searchParams.get('error'));
    assert.equal(failed.type, 'user_oauth2_provider_error');
    await incognito.close();
  } finally {
    provider.deny = false;
    await browser.close();
  }
});
