// A certified OpenID Provider (oidc-provider) set up like Multicart and
// Istores as far as a standard provider can be, for the example's interop
// tests (interop_harness_test.go starts it; nothing else should).
//
//   node server.mjs   with SHOPSSO_OP_CONFIG='{"clients":[...], ...}'
//
// It listens on 127.0.0.1 on a free port and prints one line to stdout,
// {"port":N,"issuer":"..."}, once it accepts connections.
//
// In front of the provider's own endpoints, a shim renames the two
// services' authorize parameters to the standard ones:
//   GET /                 Multicart: application -> client_id,
//                         return -> redirect_uri, adds response_type=code
//   GET /oauth/authorize  Istores: scopes -> scope
// The token endpoint is Multicart's path, /api/connect/token (Istores'
// token URL is set to it too). Discovery, JWKS, revocation, end-session and
// userinfo are the provider's own.
//
// Test-only endpoints (never in a real provider):
//   GET  /_test/stats           counters of token-endpoint calls by grant,
//                               refused refresh-token reuses, revoked grants
//   POST /_test/revoke-grants   withdraws every grant (as a customer or an
//                               administrator revoking the app's access)
//   GET/POST /interaction/:uid  a tiny login-and-consent page: Approve or Deny
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.SHOPSSO_OP_CONFIG || '{}');

// Resource servers: the access token of a login is a JWT for its service's
// API (RFC 8707 resource indicators, RFC 9068 JWT access tokens).
const resources = {
  'urn:multicart:api': {
    scope: 'multicart.api',
    audience: cfg.multicartAudience || 'multicart.api',
  },
  'urn:istores:api': {
    scope: [
      'products:read', 'products:create', 'products:update', 'products:delete',
      'pages:read', 'pages:create', 'pages:update', 'pages:delete',
      'customers:read', 'customers:create', 'customers:update', 'customers:delete',
      'charge:wallet', 'charge:card',
      'pbl:read', 'pbl:create', 'pbl:update', 'pbl:delete',
    ].join(' '),
    audience: 'istores.api',
  },
};

// resourceOf names the resource server a client's tokens are for: the
// client's "resource" metadata entry set by the test, else Multicart's.
function resourceOf(client) {
  return client?.metadata()['urn:shopsso:resource'] || 'urn:multicart:api';
}

const accessTokenTTL = cfg.accessTokenTTL || 60;

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa = { ...privateKey.export({ format: 'jwk' }), kid: `rsa-${randomBytes(6).toString('hex')}`, use: 'sig', alg: 'RS256' };
  return { keys: [rsa] };
}

const counters = {
  grants: {}, // token-endpoint successes by grant type
  errors: {}, // token-endpoint failures by grant type and error
  reuse: 0, // refresh tokens used a second time (the grant is then revoked)
  revoked: 0, // grants revoked, for any reason
  ended: 0, // RP-initiated logouts that ended the session
  fetched: {}, // GETs of the discovery document and of the key set
};

const seenGrants = new Set();

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function json(res, status, v) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(v));
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}${cfg.issuerPath || ''}`;
  const provider = new Provider(issuer, {
    clients: cfg.clients || [],
    extraClientMetadata: { properties: ['urn:shopsso:resource'] },
    jwks: signingKeys(),
    cookies: { keys: [randomBytes(32).toString('hex')] },
    routes: { token: '/api/connect/token' },
    pkce: { required: () => true },
    // A refresh token is good for one use; presenting a used one revokes
    // the whole grant (RFC 9700 §4.14.2; oidc-provider's refresh grant does
    // this for every consumed token).
    rotateRefreshToken: true,
    conformIdTokenClaims: false, // claims in the ID token, as Multicart's carry them
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      roles: ['roles'],
    },
    scopes: ['openid', 'offline_access'],
    ttl: {
      AccessToken: accessTokenTTL,
      ClientCredentials: accessTokenTTL,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 600,
      AuthorizationCode: 60,
    },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            name: 'Customer One',
            given_name: 'Customer',
            family_name: 'One',
            email: `${sub}@shop.example`,
            email_verified: true,
            roles: ['customer'],
          };
        },
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          // The provider's own form (id="op.logoutForm", with its xsrf
          // field) and a button that confirms, as a customer does.
          ctx.body = page('Log out', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" id="op-logout">Log out</button>`);
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, client, oneOf) => (oneOf ? oneOf[0] : resourceOf(client)),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const rs = resources[indicator];
          if (!rs) throw new Provider.errors.InvalidTarget();
          return {
            scope: rs.scope,
            audience: rs.audience,
            accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  provider.proxy = false;

  provider.on('grant.success', (ctx) => {
    const g = ctx.oidc.params.grant_type;
    counters.grants[g] = (counters.grants[g] || 0) + 1;
  });
  provider.on('grant.error', (ctx, err) => {
    const key = `${ctx.oidc.params?.grant_type}:${err.error}`;
    counters.errors[key] = (counters.errors[key] || 0) + 1;
    const detail = err.error_detail || err.error_description;
    if (detail === 'refresh token already used') counters.reuse += 1;
    process.stderr.write(`interop provider: token endpoint refused ${key}: ${detail}\n`);
  });
  provider.on('server_error', (_ctx, err) => {
    process.stderr.write(`interop provider: server error: ${err.stack || err}\n`);
  });
  provider.on('grant.revoked', () => { counters.revoked += 1; });
  provider.on('grant.saved', (grant) => { seenGrants.add(grant.jti); });
  provider.on('end_session.success', () => { counters.ended += 1; });

  const callback = provider.callback();

  async function interaction(req, res, uid) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (req.method === 'GET') {
      const { prompt, params } = details;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page('Sign in', `<h1 id="prompt">${escape(prompt.name)}</h1>
<p>${escape(params.client_id)} asks for: <span id="scope">${escape(params.scope || '')}</span></p>
<form method="post" action="/interaction/${escape(uid)}" id="op-interaction">
<input name="login" value="customer-1">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`));
      return;
    }
    const form = await readForm(req);
    let result;
    if (form.get('decision') !== 'approve') {
      result = { error: 'access_denied', error_description: 'the customer declined' };
    } else if (details.prompt.name === 'login') {
      result = { login: { accountId: form.get('login') || 'customer-1' } };
    } else {
      const { prompt: { details: missing }, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  async function testEndpoint(req, res, path) {
    if (path === '/_test/stats' && req.method === 'GET') {
      json(res, 200, counters);
      return;
    }
    if (path === '/_test/revoke-grants' && req.method === 'POST') {
      let n = 0;
      for (const id of seenGrants) {
        await Promise.all([
          provider.AccessToken.revokeByGrantId(id),
          provider.RefreshToken.revokeByGrantId(id),
          provider.AuthorizationCode.revokeByGrantId(id),
          provider.Grant.adapter.destroy(id),
        ]);
        n += 1;
      }
      seenGrants.clear();
      counters.revoked += n;
      json(res, 200, { revoked: n });
      return;
    }
    json(res, 404, { error: 'not_found' });
  }

  // shim renames a service's authorize parameters to the standard ones and
  // hands the request to the provider's authorization endpoint.
  function shim(req, url, renames, extra) {
    const q = new URLSearchParams();
    for (const [k, v] of url.searchParams) q.append(renames[k] || k, v);
    for (const [k, v] of Object.entries(extra)) if (!q.has(k)) q.set(k, v);
    req.url = `/auth?${q}`;
  }

  server.on('request', (req, res) => {
    // An issuer with a path publishes its discovery document under that
    // path (OIDC Discovery §4); the provider itself is mounted at the root.
    const prefix = (cfg.issuerPath || '').replace(/\/$/, '');
    if (prefix && req.url.startsWith(`${prefix}/.well-known/`)) req.url = req.url.slice(prefix.length);
    const url = new URL(req.url, issuer);
    const path = url.pathname;
    const fail = (err) => {
      process.stderr.write(`interop provider: ${req.method} ${path}: ${err.stack || err}\n`);
      if (!res.headersSent) json(res, 500, { error: 'server_error' });
      else res.end();
    };
    if (req.method === 'GET' && (path === '/.well-known/openid-configuration' || path === '/jwks')) {
      counters.fetched[path] = (counters.fetched[path] || 0) + 1;
    }
    if (path.startsWith('/_test/')) {
      testEndpoint(req, res, path).catch(fail);
      return;
    }
    const m = /^\/interaction\/([\w-]+)$/.exec(path);
    if (m) {
      interaction(req, res, m[1]).catch(fail);
      return;
    }
    if (req.method === 'GET' && path === '/' && url.searchParams.has('application')) {
      shim(req, url, { application: 'client_id', return: 'redirect_uri' }, { response_type: 'code' });
    } else if (req.method === 'GET' && path === '/oauth/authorize') {
      shim(req, url, { scopes: 'scope' }, {});
    }
    callback(req, res);
  });

  process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
