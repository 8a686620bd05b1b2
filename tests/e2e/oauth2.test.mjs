// OAuth2 sign-in against a real OpenID Connect server and GitHub's endpoints on loopback
// (oauth-provider.mjs): the web SDK in headless Chromium through every redirect, the token
// flow, linking a second provider, refused consent, and the attacks on the flow (tampered,
// replayed and transplanted state, open redirects) over raw HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { adminClient, apiKey, assertAppwriteError, endpoint, launchChromium, node, projectId, raw, rejectsWith, runtime, uniqueEmail, userClient } from './helpers.mjs';
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
async function flow(browser, { kind = 'sessions', providerName = 'oidc', success, failure, scopes = [], tamper = (u) => u, headers, project = projectId } = {}) {
  const params = new URLSearchParams({ success: success ?? `${page.origin}/done`, failure: failure ?? `${page.origin}/failed` });
  scopes.forEach((s, i) => params.append(`scopes[${i}]`, s));
  params.append('project', project);
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

test('oauth2: a provider that fails or never answers sends the browser to the failure URL, and nothing is created', { skip: noProvider, timeout: 120_000 }, async () => {
  const users = new node.Users(adminClient());
  for (const failure of ['error', 'hang']) {
    const email = uniqueEmail(`failing-${failure}`);
    provider.githubUser = { id: Date.now(), login: 'failing', name: 'Failing' };
    provider.githubEmails = [{ email, primary: true, verified: true }];
    provider.tokenFailure = failure;
    try {
      const { landed, redirect } = await flow(agent(), { providerName: 'github' });
      assert.equal(landed.pathname, '/failed', `${failure}: ${redirect.location}`);
      const error = errorOf(landed);
      assert.equal(error.type, 'user_oauth2_provider_error', failure);
      assert.equal(error.code, 424);
      assert.equal(redirect.res.headers.getSetCookie().filter((c) => c.startsWith('a_session_')).length, 0);
    } finally {
      provider.tokenFailure = null;
    }
    assert.equal((await users.list({ search: email })).total, 0, failure);
  }
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

// The project API's OAuth2 settings, on a project of their own (`oauth`) so the deployment's
// settings the other tests sign in with stay as they are; a Spin app serves one project, so
// there they change the test project's, after the tests above ran (tests run in order).
const settingsProject = runtime === 'spin' ? projectId : 'oauth';
/** Deep equality of what node-appwrite parsed (objects without a prototype) and a literal. */
const same = (actual, expected, message) => assert.deepEqual(JSON.parse(JSON.stringify(actual)), expected, message);
const projectApi = (key = apiKey) => new node.Project(new node.Client().setEndpoint(endpoint).setProject(settingsProject).setKey(key));

test('project API: the OAuth2 providers list with the deployment\'s settings, secrets never shown, and Appwrite\'s errors', { skip: noProvider }, async () => {
  const api = projectApi();
  const list = await api.listOAuth2Providers();
  const ids = list.providers.map((p) => p.$id);
  same(ids, ['apple', 'discord', 'facebook', 'github', 'gitlab', 'google', 'linkedin', 'microsoft', 'oidc', 'slack', 'spotify', 'twitch']);
  assert.equal(list.total, 12);
  const byId = Object.fromEntries(list.providers.map((p) => [p.$id, p]));
  same(byId.github, { $id: 'github', enabled: true, clientId: 'edgewrite-github', clientSecret: '' });
  same(byId.gitlab, { $id: 'gitlab', enabled: false, applicationId: 'off', secret: '', endpoint: '' });
  same(byId.discord, { $id: 'discord', enabled: false, clientId: '', clientSecret: '' });
  same(byId.apple, { $id: 'apple', enabled: false, serviceId: '', keyId: '', teamId: '', p8File: '' });
  const oidc = await api.getOAuth2Provider({ providerId: 'oidc' });
  assert.equal(oidc.wellKnownURL, `${provider.origin}/.well-known/openid-configuration`);
  assert.equal(oidc.clientSecret, '');
  same(oidc.prompt, []);
  assert.equal(oidc.maxAge, null);
  const page2 = await api.listOAuth2Providers({ queries: [node.Query.limit(2), node.Query.offset(3)], total: false });
  same(page2.providers.map((p) => p.$id), ['github', 'gitlab']);
  assert.equal(page2.total, 0);
  await rejectsWith(assert, api.listOAuth2Providers({ queries: [node.Query.equal('$id', 'github')] }), 400, 'general_query_invalid');
  // Providers Appwrite has and edgewrite does not speak, and names nobody has.
  await rejectsWith(assert, api.getOAuth2Provider({ providerId: 'amazon' }), 400, 'project_provider_unsupported');
  await rejectsWith(assert, api.updateOAuth2Amazon({ clientId: 'a', clientSecret: 'b' }), 400, 'project_provider_unsupported');
  assertAppwriteError(assert, await raw('/project/oauth2/myspace', { key: true, project: settingsProject }), 400, 'general_argument_invalid');
  assertAppwriteError(assert, await raw('/project/oauth2/myspace', { method: 'PATCH', key: true, project: settingsProject, headers: { 'content-type': 'application/json' }, body: '{}' }), 404, 'general_route_not_found');
  const q = new URLSearchParams({ success: `${page.origin}/done`, failure: `${page.origin}/failed` });
  assertAppwriteError(assert, await raw(`/account/sessions/oauth2/amazon?${q}`), 400, 'project_provider_unsupported');
});

test('project API: only keys with the project.oauth2 scopes read or change the settings', { skip: noProvider }, async () => {
  const admin = projectApi();
  const reader = await admin.createKey({ keyId: node.ID.unique(), name: 'oauth2 reader', scopes: ['project.oauth2.read'] });
  const other = await admin.createKey({ keyId: node.ID.unique(), name: 'users only', scopes: ['users.read', 'project.read'] });
  assert.equal((await projectApi(reader.secret).getOAuth2Provider({ providerId: 'github' })).clientId, 'edgewrite-github');
  await rejectsWith(assert, projectApi(reader.secret).updateOAuth2GitHub({ enabled: false }), 401, 'general_unauthorized_scope');
  await rejectsWith(assert, projectApi(other.secret).listOAuth2Providers(), 401, 'general_unauthorized_scope');
  // A signed-in user is no admin.
  const { session } = await userClient();
  assertAppwriteError(assert, await raw('/project/oauth2', { headers: { 'x-appwrite-session': session.secret } }), 401, 'general_unauthorized_scope');
  assertAppwriteError(assert, await raw('/project/oauth2', { project: settingsProject }), 401, 'general_unauthorized_scope');
  assert.equal((await admin.getOAuth2Provider({ providerId: 'github' })).enabled, true, 'nothing changed');
});

test('project API: a self-managed GitLab configured through updateOAuth2Gitlab signs users in; disabled, it refuses them', { skip: noProvider }, async () => {
  const api = projectApi();
  const saved = await api.updateOAuth2Gitlab({ applicationId: 'edgewrite-gitlab', secret: 'gitlab-secret', endpoint: provider.origin, enabled: true });
  same(saved, { $id: 'gitlab', enabled: true, applicationId: 'edgewrite-gitlab', secret: '', endpoint: provider.origin });
  provider.gitlabUser = { id: Date.now(), username: 'tanuki', name: 'Tanu Ki', email: uniqueEmail('gitlab'), confirmed_at: '2020-01-01T00:00:00Z' };
  const browser = agent();
  const { start, landed, redirect } = await flow(browser, { providerName: 'gitlab', project: settingsProject });
  assert.equal(new URL(start.location).origin + new URL(start.location).pathname, `${provider.origin}/oauth/authorize`);
  assert.equal(new URL(start.location).searchParams.get('client_id'), 'edgewrite-gitlab');
  assert.equal(`${landed.origin}${landed.pathname}`, `${page.origin}/done`, redirect.location);
  const tokenRequest = provider.tokenRequests.at(-1);
  assert.equal(tokenRequest.gitlab, true);
  assert.equal(tokenRequest.client_secret, 'gitlab-secret');
  const headers = { 'x-appwrite-project': settingsProject };
  const me = JSON.parse((await browser.get(`${endpoint}/account`, { headers })).text);
  assert.equal(me.email, provider.gitlabUser.email);
  assert.equal(me.name, 'Tanu Ki');
  const session = JSON.parse((await browser.get(`${endpoint}/account/sessions/current`, { headers })).text);
  assert.equal(session.provider, 'gitlab');
  assert.equal(session.providerUid, String(provider.gitlabUser.id));
  const q = new URLSearchParams({ success: `${page.origin}/done`, failure: `${page.origin}/failed` });
  if (settingsProject !== projectId) {
    // The other project still has the deployment's (disabled) GitLab.
    assertAppwriteError(assert, await raw(`/account/sessions/oauth2/gitlab?${q}`), 412, 'project_provider_disabled');
  }
  // Disabled, the settings stay and sign-in stops.
  const off = await api.updateOAuth2Gitlab({ enabled: false });
  same(off, { ...saved, enabled: false });
  assertAppwriteError(assert, await raw(`/account/sessions/oauth2/gitlab?${q}`, { project: settingsProject }), 412, 'project_provider_disabled');
  // A change that leaves `enabled` out enables settings that check out (Appwrite's rule).
  assert.equal((await api.updateOAuth2Gitlab({ applicationId: 'edgewrite-gitlab' })).enabled, true);
  assert.equal((await raw(`/account/sessions/oauth2/gitlab?${q}`, { project: settingsProject, redirect: 'manual' })).status, 301);
});

test('project API: settings that do not check out are refused when enabling, and nothing is stored', { skip: noProvider }, async () => {
  const api = projectApi();
  // GitHub is asked whether it knows the client and its secret.
  const wrong = api.updateOAuth2GitHub({ clientId: 'edgewrite-github', clientSecret: 'not-the-secret', enabled: true });
  await rejectsWith(assert, wrong, 400, 'general_argument_invalid');
  await wrong.catch((e) => assert.match(e.message, /^Could not enable OAuth2 provider: .*Client Secret is incorrect/));
  same(await api.getOAuth2Provider({ providerId: 'github' }), { $id: 'github', enabled: true, clientId: 'edgewrite-github', clientSecret: '' });
  await rejectsWith(assert, api.updateOAuth2Discord({ clientId: 'only-an-id', enabled: true }), 400, 'general_argument_invalid');
  assert.equal((await api.getOAuth2Provider({ providerId: 'discord' })).clientId, '');
  // Apple's key must sign; left undecided, the settings are kept but not enabled.
  const apple = { serviceId: 'app.example.web', keyId: 'KEY123', teamId: 'TEAM123', p8File: '-----BEGIN PRIVATE KEY-----garbage-----END PRIVATE KEY-----' };
  await rejectsWith(assert, api.updateOAuth2Apple({ ...apple, enabled: true }), 400, 'general_argument_invalid');
  same(await api.updateOAuth2Apple(apple), { $id: 'apple', enabled: false, serviceId: 'app.example.web', keyId: 'KEY123', teamId: 'TEAM123', p8File: '' });
  // Google's and OpenID Connect's prompts, and OpenID Connect's endpoints.
  await rejectsWith(assert, api.updateOAuth2Google({ prompt: [] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, api.updateOAuth2Google({ prompt: ['none', 'consent'] }), 400, 'general_argument_invalid');
  const google = await api.updateOAuth2Google({ clientId: 'g-id', clientSecret: 'g-secret', prompt: ['select_account'], enabled: false });
  same(google, { $id: 'google', enabled: false, clientId: 'g-id', clientSecret: '', prompt: ['select_account'] });
  for (const bad of ['not a url', 'http://idp.example/.well-known/openid-configuration', 'https://user:pass@idp.example/wk']) {
    await rejectsWith(assert, api.updateOAuth2Oidc({ wellKnownURL: bad }), 400, 'general_argument_invalid');
  }
  await rejectsWith(assert, api.updateOAuth2Oidc({ maxAge: -1 }), 400, 'general_argument_invalid');
  await rejectsWith(assert, api.updateOAuth2Oidc({ wellKnownURL: '', authorizationURL: `${provider.origin}/authorize`, enabled: true }), 400, 'general_argument_invalid');
  await rejectsWith(assert, api.updateOAuth2Microsoft({ applicationId: 'm', applicationSecret: 's', enabled: true }), 400, 'general_argument_invalid');
  await rejectsWith(assert, api.updateOAuth2Microsoft({ tenant: '../evil' }), 400, 'general_argument_invalid');
  assert.equal((await api.getOAuth2Provider({ providerId: 'oidc' })).wellKnownURL, `${provider.origin}/.well-known/openid-configuration`);

  // The deployment's client secret is never the project's: pointing the provider elsewhere
  // without entering a secret leaves none to send there.
  const q = new URLSearchParams({ success: `${page.origin}/done`, failure: `${page.origin}/failed` });
  const moved = await api.updateOAuth2Oidc({ wellKnownURL: 'https://idp.attacker.example/.well-known/openid-configuration' });
  assert.equal(moved.clientId, 'edgewrite-oidc');
  assertAppwriteError(assert, await raw(`/account/sessions/oauth2/oidc?${q}`, { project: settingsProject, redirect: 'manual' }), 412, 'project_provider_disabled');

  // With its secret entered, the project's own settings sign in, with their prompt and max_age.
  const oidc = await api.updateOAuth2Oidc({ clientSecret: 'oidc-secret', wellKnownURL: `${provider.origin}/.well-known/openid-configuration`, tokenUrl: '', prompt: ['login'], maxAge: 300 });
  assert.equal(oidc.enabled, true);
  assert.deepEqual([oidc.prompt, oidc.maxAge, oidc.clientSecret, oidc.tokenURL], [['login'], 300, '', '']);
  const start = await raw(`/account/sessions/oauth2/oidc?${q}`, { project: settingsProject, redirect: 'manual' });
  const to = new URL(start.headers.get('location'));
  assert.equal(to.searchParams.get('prompt'), 'login');
  assert.equal(to.searchParams.get('max_age'), '300');
  same((await api.updateOAuth2Oidc({ prompt: [] })).prompt, []);
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

test('browser: createOAuth2Session signs in through the redirects, links GitHub, and createOAuth2Token then createSession signs in again; a replayed or tampered callback is refused', { skip: noBrowser }, async () => {
  const email = uniqueEmail('web');
  provider.oidcUser = { sub: `web-${Date.now()}`, email, email_verified: true, name: 'Web User' };
  provider.githubUser = { id: Date.now(), login: 'webcat', name: 'Web Cat' };
  provider.githubEmails = [{ email: uniqueEmail('gh'), primary: true, verified: true }];
  const browser = await launchChromium();
  try {
    const tab = await browser.newPage();
    const callbacks = [];
    tab.on('request', (r) => { if (r.url().includes('/sessions/oauth2/callback/')) callbacks.push(r.url()); });
    await tab.goto(`${page.origin}/`);
    await startFromPage(tab, 'createOAuth2Session', 'oidc', 'done');
    const me = await tab.evaluate(async (c) => {
      const { Client, Account } = window.Appwrite;
      const account = new Account(new Client().setEndpoint(c.endpoint).setProject(c.projectId));
      return { user: await account.get(), session: await account.getSession({ sessionId: 'current' }) };
    }, { endpoint, projectId });
    assert.equal(me.user.email, email);
    assert.equal(me.session.provider, 'oidc');

    // The provider's callback replayed in the same browser, and with a tampered state.
    const callback = new URL(callbacks.at(-1));
    for (const tampered of [false, true]) {
      const url = new URL(callback);
      const state = url.searchParams.get('state');
      if (tampered) url.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
      const answer = await tab.goto(url.href);
      assert.equal(answer.status(), 400, url.href);
      assert.equal(JSON.parse(await answer.text()).type, 'user_oauth2_bad_request');
    }
    await tab.goto(`${page.origin}/`);

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
