// idp.mjs — a scriptable upstream OpenID Connect identity provider for e2e tests.
//
// Built on oidc-provider 9.13.3 (panva, OpenID certified). Roster acts as the
// relying party to it when a test exercises an OIDC SSO connection.
//
//   node idp.mjs <config.json>
//
// Listens on 127.0.0.1 only and prints exactly one line to stdout when ready:
//
//   IDP_READY http://127.0.0.1:<port>
//
// Everything else (oidc-provider's dev/runtime warnings) goes to stderr. SIGTERM
// or SIGINT closes the server and exits 0.
//
// Config (JSON):
//   {
//     "port": 0,                          // 0 or absent = pick a free port
//     "clients": [{                       // passed to oidc-provider as client metadata
//       "client_id": "roster",
//       "client_secret": "secret",
//       "redirect_uris": ["http://127.0.0.1:8080/sso/v1/oidc/callback"],
//       "token_endpoint_auth_method": "client_secret_basic"   // default; or client_secret_post, none
//                                     // (oidc-provider 9 accepts basic and post for either one)
//     }],                                 // grant_types default to ["authorization_code","refresh_token"]
//     "users": {                          // accountId -> claims; accountId becomes "sub"
//       "ada": {"email": "ada@example.com", "email_verified": true, "given_name": "Ada",
//               "family_name": "Lovelace", "employee_number": "42", "groups": ["eng"]}
//     },
//     "defaultUser": "ada",               // optional; used when there is no login_hint (default: first user)
//     "scopes": [...],                    // optional: replaces the scope list
//     "claims": {...},                    // optional: replaces the scope->claims map (oidc-provider format)
//     "jwks": {"keys": [<private JWK>]},  // optional: signing keys; default = fresh RS256 key per start
//     "ttl": {...}                        // optional: oidc-provider ttl overrides (seconds)
//   }
//
// Behaviour:
// - Issuer is http://127.0.0.1:<port>; discovery at /.well-known/openid-configuration,
//   authorize /auth, token /token, userinfo /me, JWKS /jwks.
// - PKCE (S256 only) is required for every client. The `claims` request parameter is supported.
// - By default EVERY claim of a user is returned in the ID token (and from userinfo) whenever
//   the `openid` scope is granted: all user claim names are mapped under the `openid` scope and
//   conformIdTokenClaims is false. Standard profile/email/phone/address scopes are also defined,
//   and every custom claim name is also registered as a scope of the same name.
// - Non-interactive login: /auth redirects (303) to /interaction/<uid>, which logs in the user
//   named by `login_hint` (matched against the accountId, then email, preferred_username, upn,
//   case-insensitively) or `defaultUser`/the first user when there is no hint, and auto-consents
//   to everything requested. An unknown login_hint ends the flow with error=access_denied at the
//   redirect_uri. A client that follows redirects with a cookie jar lands on redirect_uri?code=...
//   If the session cookie already holds a different user than the login_hint names, the user is
//   switched. No browser is needed.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider, { interactionPolicy } from 'oidc-provider';

// stdout carries only the IDP_READY line. oidc-provider prints its notices with console.info.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node idp.mjs <config.json>');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
const users = config.users || {};
const accountIds = Object.keys(users);
if (accountIds.length === 0) {
  console.error('idp: config.users must name at least one user');
  process.exit(2);
}

// Claims that oidc-provider manages itself or that are JWT/ID-token protocol claims.
const RESERVED = new Set([
  'sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'azp', 'at_hash', 'c_hash', 's_hash',
  'sid', 'auth_time', 'acr', 'amr', 'scope', 'client_id',
]);
const STANDARD_SCOPES = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
};

const userClaimNames = [...new Set(accountIds.flatMap((id) => Object.keys(users[id] || {})))]
  .filter((name) => !RESERVED.has(name));

function defaultClaims() {
  const claims = { openid: ['sub', ...userClaimNames], ...STANDARD_SCOPES };
  for (const name of userClaimNames) {
    if (!(name in claims) && name !== 'offline_access') claims[name] = [name];
  }
  return claims;
}
const claims = config.claims || defaultClaims();
const scopes = config.scopes
  || [...new Set(['openid', 'offline_access', ...Object.keys(claims).filter((k) => Array.isArray(claims[k]))])];

function resolveAccount(hint) {
  if (hint === undefined || hint === null || hint === '') {
    return config.defaultUser && users[config.defaultUser] ? config.defaultUser : accountIds[0];
  }
  if (Object.hasOwn(users, hint)) return hint;
  const h = String(hint).toLowerCase();
  for (const field of ['email', 'preferred_username', 'upn']) {
    const found = accountIds.find((id) => typeof users[id]?.[field] === 'string' && users[id][field].toLowerCase() === h);
    if (found) return found;
  }
  return undefined;
}

function signingKeys() {
  if (config.jwks) return config.jwks;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: `idp-${crypto.randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }] };
}

// Login prompt: also request login when login_hint names a different user than the session's.
const policy = interactionPolicy.base();
policy.get('login').checks.push(new interactionPolicy.Check(
  'login_hint_mismatch',
  'login_hint names a different End-User than the current session',
  'login_required',
  (ctx) => {
    const { oidc } = ctx;
    if (!oidc.session.accountId || oidc.result?.login || oidc.params.login_hint === undefined) {
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }
    return resolveAccount(oidc.params.login_hint) === oidc.session.accountId
      ? interactionPolicy.Check.NO_NEED_TO_PROMPT
      : interactionPolicy.Check.REQUEST_PROMPT;
  },
));

// Grant everything the request asks for (scopes, claims parameter, resource scopes).
async function grantAll(ctx, grant) {
  const { oidc } = ctx;
  const oidcScopes = [...oidc.requestParamOIDCScopes];
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  const requestedClaims = [...oidc.requestParamClaims];
  if (requestedClaims.length) grant.addOIDCClaims(requestedClaims);
  for (const [indicator, rs] of Object.entries(oidc.resourceServers || {})) {
    const wanted = [...oidc.requestParamScopes].filter((s) => rs.scopes.has(s));
    if (wanted.length) grant.addResourceScope(indicator, wanted.join(' '));
  }
  await grant.save();
  return grant;
}

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(config.port) || 0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...c,
  })),
  jwks: signingKeys(),
  claims,
  scopes,
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 86400,
    Grant: 86400,
    RefreshToken: 86400,
    ...(config.ttl || {}),
  },
  clientBasedCORS: () => true,
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(users, id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { ...users[id], sub: id };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (!grant || grant.accountId !== oidc.account.accountId) {
      grant = new oidc.provider.Grant({ accountId: oidc.account.accountId, clientId: oidc.client.clientId });
    }
    return grantAll(ctx, grant);
  },
  interactions: {
    policy,
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
});
provider.on('server_error', (ctx, err) => console.error('idp server_error:', err));

const oidcCallback = provider.callback();

async function handleInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const accountId = resolveAccount(params.login_hint);
    if (!accountId) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: `unknown login_hint ${JSON.stringify(params.login_hint)}`,
      }, { mergeWithLastSubmission: false });
      return;
    }
    if (session?.accountId && session.accountId !== accountId) {
      // Switching users: oidc-provider would otherwise render an auto-submitting logout form
      // (needs a browser). End the old session here and detach it from the interaction instead.
      const old = session.cookie && await provider.Session.find(session.cookie);
      if (old) await old.destroy();
      delete details.session;
      await details.save(details.exp - Math.floor(Date.now() / 1000));
    }
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  // consent (e.g. prompt=consent): loadExistingGrant already granted everything requested.
  let grantId = details.grantId;
  if (!grantId) {
    const grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (params.scope) grant.addOIDCScope(String(params.scope));
    grantId = await grant.save();
  }
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// Test control: PUT /_test/users/<accountId> with a JSON object replaces that user's claims
// (claim names must be among those of the config, which the provider releases), so a test can
// sign the same person in again with changed claims.
async function updateUser(req, res) {
  const id = decodeURIComponent(req.url.slice('/_test/users/'.length));
  let body = '';
  for await (const chunk of req) body += chunk;
  const claims = JSON.parse(body);
  const unknown = Object.keys(claims).filter((k) => k !== 'sub' && !userClaimNames.includes(k));
  if (!Object.hasOwn(users, id) || unknown.length) {
    res.statusCode = 400;
    res.end(`unknown user or claims: ${JSON.stringify({ id, unknown })}`);
    return;
  }
  users[id] = claims;
  res.statusCode = 204;
  res.end();
}

server.on('request', (req, res) => {
  if (req.method === 'PUT' && req.url.startsWith('/_test/users/')) {
    updateUser(req, res).catch((err) => { res.statusCode = 400; res.end(String(err)); });
    return;
  }
  if (req.url.startsWith('/interaction/')) {
    handleInteraction(req, res).catch((err) => {
      console.error('idp interaction error:', err);
      if (!res.headersSent) {
        res.statusCode = 400;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ error: 'interaction_failed', error_description: String(err.message || err) }));
      }
    });
    return;
  }
  oidcCallback(req, res);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`IDP_READY ${issuer}\n`);
