// End-to-end SSO test: an application built on the official Scalekit Node SDK (and one built on
// the official WorkOS Node SDK) signs users in through Roster, whose organization connection
// points at a real OpenID provider (oidc-provider from npm, run by e2e/sso_test.go from
// e2e/node/idp.mjs). No browser: redirects are followed with a cookie jar, as a browser would.
//
// Environment: SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET (an API
// client whose redirect URIs include APP_REDIRECT_URI), IDP_URL, IDP_CLIENT_ID,
// IDP_CLIENT_SECRET. The provider's users are listed in e2e/sso_test.go (idpUsers).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ScalekitClient } from '@scalekit-sdk/node';
import { WorkOS } from '@workos-inc/node';
import { follow as browserFollow } from './browser.mjs';
import { rest } from './rest.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set`);
  return v;
}

const url = env('SCALEKIT_ENVIRONMENT_URL').replace(/\/+$/, '');
const clientId = env('SCALEKIT_CLIENT_ID');
const clientSecret = env('SCALEKIT_CLIENT_SECRET');
const idpURL = env('IDP_URL');
const redirectUri = env('APP_REDIRECT_URI');
const RUN = `${Date.now()}${Math.random().toString(36).slice(2, 6)}`;

const scalekit = new ScalekitClient(url, clientId, clientSecret);

const api = rest(url, clientId, clientSecret);

// follow plays the browser (browser.mjs) up to the application's redirect URI.
const follow = (start) => browserFollow(start, redirectUri);

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function decodeJwt(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

// signIn runs one Scalekit-SDK sign-in and returns what authenticateWithCode gave back.
async function signIn(options) {
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(8).toString('hex');
  const authUrl = scalekit.getAuthorizationUrl(redirectUri, {
    state, nonce: `n-${state}`, codeChallenge: challenge, codeChallengeMethod: 'S256', ...options,
  });
  const back = await follow(authUrl);
  assert.equal(back.searchParams.get('error'), null, `sign-in refused: ${back.searchParams.get('error_description')}`);
  assert.equal(back.searchParams.get('state'), state);
  const res = await scalekit.authenticateWithCode(back.searchParams.get('code'), redirectUri, { codeVerifier: verifier });
  assert.equal(decodeJwt(res.idToken).nonce, `n-${state}`);
  return res;
}

let orgId;
let connId;
const domain = `sso-e2e.test`;

before(async () => {
  const { organization } = await scalekit.organization.createOrganization(`SSO Org ${RUN}`, { externalId: `sso-${RUN}` });
  orgId = organization.id;
  for (const [key, type] of [['employee_number', 'integer'], ['sso_cost_center', 'string']]) {
    const r = await api('POST', '/api/v1/user-attributes', { key, display_name: key, type });
    assert.ok(r.status === 200 || r.status === 409, `define ${key}: ${JSON.stringify(r.body)}`);
  }
  // Connection: created through the SDK (provider and type only, as the SDK's wrapper sends),
  // configured through the REST API (UpdateConnection has no SDK wrapper), enabled through
  // the SDK.
  const created = await scalekit.connection.createConnection(orgId, { provider: 1 /* OKTA */, type: 1 /* OIDC */ });
  connId = created.connection.id;
  const r = await api('PATCH', `/api/v1/organizations/${orgId}/connections/${connId}`, {
    oidc_config: {
      issuer: idpURL, client_id: env('IDP_CLIENT_ID'), client_secret: env('IDP_CLIENT_SECRET'),
      scopes: ['openid', 'profile', 'email'], pkce_enabled: true,
    },
    attribute_mapping: { employee_number: 'employee_number', 'group:Admins': 'admin' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.connection.oidc_config.client_secret ?? null, null, 'the client secret must never be returned');
  assert.ok(!JSON.stringify(r.body).includes(env('IDP_CLIENT_SECRET')), 'the client secret must never be returned');
  await scalekit.connection.enableConnection(orgId, connId);
  // The domain routes sign-ins by email. The e2e test runs once per fresh database, so the
  // domain is free; a rerun against the same database would find it taken (409).
  await scalekit.domain.createDomain(orgId, domain);
  const got = await scalekit.connection.getConnection(orgId, connId);
  assert.equal(got.connection.enabled, true);
  assert.equal(got.connection.domains[0].domain, domain);
});

test('a custom attribute mapped from a provider claim reaches the ID token and the stored profile', async () => {
  const res = await signIn({ organizationId: orgId, loginHint: 'ada@sso-e2e.test' });
  assert.equal(res.user.email, 'ada@sso-e2e.test');
  assert.equal(res.user.givenName, 'Ada');
  assert.equal(res.user.familyName, 'Lovelace');
  assert.ok(res.refreshToken, 'a refresh token');

  // The ID token verifies against Roster's /keys with the SDK's own check.
  const claims = await scalekit.validateToken(res.idToken, { issuer: url, audience: [clientId] });
  assert.equal(claims.custom_attributes.employee_number, '1815');
  assert.deepEqual(claims.amr, [connId]);
  assert.equal(claims.oid, orgId);
  assert.equal(claims.locale, 'en-GB');
  for (const k of ['at_hash', 'c_hash', 'azp', 'iat', 'exp']) assert.ok(claims[k] !== undefined, `ID token claim ${k}`);

  const { user } = await scalekit.user.getUser(res.user.id);
  assert.equal(user.userProfile.customAttributes.employee_number, '1815');
  assert.equal(user.memberships[0].organizationId, orgId);
  assert.equal(user.memberships[0].provisioningMethod, 'jit_using_sso');
  assert.deepEqual(user.memberships[0].roles.map((r) => r.name), ['admin'], 'the Admins group maps to the admin role');
  assert.ok(user.lastLoginTime, 'last_login_time is set');

  // Refresh: both tokens come back, rotated.
  const refreshed = await scalekit.refreshAccessToken(res.refreshToken);
  assert.ok(refreshed.accessToken);
  assert.notEqual(refreshed.refreshToken, res.refreshToken);
});

test('a second sign-in with changed claims updates the profile; unmapped attributes set through the API survive', async () => {
  const first = await signIn({ organizationId: orgId, loginHint: 'ada@sso-e2e.test' });
  // Through REST: SDK 2.11.0's updateUser drops customAttributes (see users.test.mjs).
  const set = await api('PATCH', `/api/v1/users/${first.user.id}`, { user_profile: { custom_attributes: { sso_cost_center: 'CC-42' } } });
  assert.equal(set.status, 200, JSON.stringify(set.body));

  const r = await fetch(`${idpURL}/_test/users/ada`, {
    method: 'PUT',
    body: JSON.stringify({ email: 'ada@sso-e2e.test', email_verified: true, given_name: 'Augusta', family_name: 'King',
      locale: 'en-GB', employee_number: '1816', groups: ['Staff'] }),
  });
  assert.equal(r.status, 204);
  const second = await signIn({ domainHint: domain, loginHint: 'ada@sso-e2e.test' });
  assert.equal(second.user.id, first.user.id, 'the same person is the same user');
  assert.equal(second.user.givenName, 'Augusta');

  const { user } = await scalekit.user.getUser(first.user.id);
  assert.equal(user.userProfile.givenName, 'Augusta');
  assert.equal(user.userProfile.familyName, 'King');
  assert.equal(user.userProfile.customAttributes.employee_number, '1816');
  assert.equal(user.userProfile.customAttributes.sso_cost_center, 'CC-42');
});

test('Google-, Entra- and generic-shaped claims normalize to the same profile', async () => {
  const seen = [];
  for (const who of ['google', 'entra', 'generic']) {
    const res = await signIn({ organizationId: orgId, loginHint: who });
    const { user } = await scalekit.user.getUser(res.user.id);
    const p = user.userProfile;
    seen.push({ given: p.givenName, family: p.familyName, name: p.name, locale: p.locale, picture: p.picture,
      domain: user.email.split('@')[1] });
  }
  for (const s of seen) {
    assert.deepEqual(s, { given: 'Grace', family: 'Hopper', name: 'Grace Hopper', locale: 'en',
      picture: 'https://img.example/grace.png', domain: 'sso-e2e.test' });
  }
});

test('the WorkOS SDK completes a sign-in and reads the profile', async () => {
  const u = new URL(url);
  const workos = new WorkOS(clientSecret, { apiHostname: u.hostname, port: Number(u.port), https: false, clientId });
  const state = crypto.randomBytes(8).toString('hex');
  const authUrl = workos.sso.getAuthorizationUrl({ clientId, redirectUri, organization: orgId, state, loginHint: 'ada@sso-e2e.test' });
  const back = await follow(authUrl);
  assert.equal(back.searchParams.get('state'), state);
  const { accessToken, profile } = await workos.sso.getProfileAndToken({ code: back.searchParams.get('code'), clientId });
  assert.equal(profile.email, 'ada@sso-e2e.test');
  assert.equal(profile.firstName, 'Augusta');
  assert.equal(profile.lastName, 'King');
  assert.equal(profile.idpId, 'ada');
  assert.equal(profile.connectionId, connId);
  assert.equal(profile.organizationId, orgId);
  assert.equal(profile.connectionType, 'GenericOIDC');
  assert.equal(profile.customAttributes.employee_number, '1816');
  assert.equal(profile.role.slug, 'admin');
  assert.equal(profile.rawAttributes.employee_number, '1816');
  const again = await workos.sso.getProfile({ accessToken });
  assert.equal(again.id, profile.id);
  assert.equal(again.email, profile.email);
});
