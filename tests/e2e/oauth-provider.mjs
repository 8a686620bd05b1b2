// The OAuth2 providers' stand-in for tests/e2e/oauth2.test.mjs, on the loopback port that
// `cargo xtask` configured edgewrite with (EDGEWRITE_TEST_OAUTH_PORT): a real OpenID Connect
// server (`oauth2-mock-server`: discovery, JWKS, RS256 ID tokens with the nonce, PKCE checked)
// for the `oidc` provider, and GitHub's OAuth endpoints (`/login/oauth/*`, `/user`,
// `/user/emails`) for `github`, which edgewrite reaches through EDGEWRITE_OAUTH2_BASE_URLS.
// A self-managed GitLab (`/oauth/*`, `/api/v4/user`) stands in for `gitlab`, which a project
// points at through the project API's `endpoint` setting.
// None asks for consent: the authorization endpoint answers at once, as a user who already
// consented would see it; `provider.deny = true` makes it answer `access_denied` instead.
import http from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

export async function startProvider(port) {
  const origin = `http://127.0.0.1:${port}`;
  const oidc = new OAuth2Server();
  oidc.issuer.url = origin;
  await oidc.issuer.keys.generate('RS256');
  const provider = {
    origin,
    deny: false,
    /** The OpenID Connect user the next sign-in is. */
    oidcUser: { sub: 'oidc-user-1', email: 'oidc-user@example.com', email_verified: true, name: 'Oidc User' },
    /** The GitHub user the next sign-in is, and their emails. */
    githubUser: { id: 4242, login: 'octo', name: 'Octo Cat' },
    githubEmails: [{ email: 'octo@example.com', primary: true, verified: true }],
    /** The GitLab user the next sign-in is. */
    gitlabUser: { id: 77, username: 'tanuki', name: 'Tanu Ki', email: 'tanuki@example.com', confirmed_at: '2020-01-01T00:00:00Z' },
    /** Every token request's form, newest last. */
    tokenRequests: [],
    /** How GitHub's token endpoint fails next: `'error'` (a 502), `'hang'` (never answers), or not. */
    tokenFailure: null,
    close: () => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
  oidc.service.on('beforeAuthorizeRedirect', ({ url }) => {
    if (provider.deny) {
      url.searchParams.delete('code');
      url.searchParams.set('error', 'access_denied');
      url.searchParams.set('error_description', 'The user refused.');
    }
  });
  oidc.service.on('beforeTokenSigning', (token) => {
    // The ID token (the one with an audience) names the current user.
    if (token.payload.aud) {
      Object.assign(token.payload, provider.oidcUser);
    }
  });
  oidc.service.on('beforeResponse', (response, req) => {
    provider.tokenRequests.push({ ...req.body });
  });
  oidc.service.on('beforeUserinfo', (response) => {
    response.body = { ...provider.oidcUser };
  });

  const githubCodes = new Map();
  const github = (req, res, body) => {
    const url = new URL(req.url, origin);
    const json = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/login/oauth/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri'));
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      if (provider.deny) {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = randomUUID();
        githubCodes.set(code, url.searchParams.get('code_challenge'));
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token') {
      const form = Object.fromEntries(new URLSearchParams(body));
      provider.tokenRequests.push(form);
      if (provider.tokenFailure === 'hang') return undefined;
      if (provider.tokenFailure === 'error') return json(502, { message: 'Bad Gateway' });
      // GitHub answers 200 with an error for a bad code or client; a code is good once.
      if (form.client_secret !== 'github-secret') {
        return json(200, { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
      }
      if (!githubCodes.has(form.code)) {
        return json(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      }
      githubCodes.delete(form.code);
      return json(200, { access_token: `gho_${randomUUID()}`, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const authorized = (req.headers.authorization ?? '').startsWith('Bearer gho_');
    if (url.pathname === '/user') return authorized ? json(200, provider.githubUser) : json(401, { message: 'Bad credentials' });
    if (url.pathname === '/user/emails') return authorized ? json(200, provider.githubEmails) : json(401, { message: 'Bad credentials' });
    return json(404, { message: 'Not Found' });
  };

  const gitlabCodes = new Map();
  const gitlab = (req, res, body) => {
    const url = new URL(req.url, origin);
    const json = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/oauth/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri'));
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      const code = randomUUID();
      gitlabCodes.set(code, { challenge: url.searchParams.get('code_challenge'), clientId: url.searchParams.get('client_id') });
      back.searchParams.set('code', code);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/oauth/token') {
      const form = Object.fromEntries(new URLSearchParams(body));
      provider.tokenRequests.push({ ...form, gitlab: true });
      const issued = gitlabCodes.get(form.code);
      gitlabCodes.delete(form.code);
      const challenge = form.code_verifier && createHash('sha256').update(form.code_verifier).digest('base64url');
      if (!issued || form.client_secret !== 'gitlab-secret' || form.client_id !== issued.clientId || challenge !== issued.challenge) {
        return json(400, { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid.' });
      }
      return json(200, { access_token: `glpat-${randomUUID()}`, token_type: 'Bearer', expires_in: 7200, refresh_token: randomUUID() });
    }
    if (url.pathname === '/api/v4/user') {
      const authorized = (req.headers.authorization ?? '').startsWith('Bearer glpat-');
      return authorized ? json(200, provider.gitlabUser) : json(401, { message: '401 Unauthorized' });
    }
    return json(404, { message: '404 Not Found' });
  };

  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path.startsWith('/oauth/') || path.startsWith('/api/v4/')) {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => gitlab(req, res, body));
      return;
    }
    if (path.startsWith('/login/oauth/') || path === '/user' || path === '/user/emails') {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => github(req, res, body));
      return;
    }
    oidc.service.requestHandler(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return provider;
}
