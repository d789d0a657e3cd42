// End-to-end SAML test: an application on the official Scalekit Node SDK signs a user in
// through Roster, whose organization's SAML connection trusts SimpleSAMLphp (Debian's
// package, run by e2e/saml_test.go). Then the user's company moves to an organization with an
// OIDC connection (oidc-provider from npm): the same person stays one user, with one
// normalized profile and two external identities.
//
// Environment: SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET,
// APP_REDIRECT_URI, SAML_ORG_ID, SAML_CONNECTION_ID, SAML_IDP_METADATA_URL, IDP_URL,
// IDP_CLIENT_ID, IDP_CLIENT_SECRET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ScalekitClient } from '@scalekit-sdk/node';
import { follow } from './browser.mjs';
import { rest } from './rest.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set`);
  return v;
}

const url = env('SCALEKIT_ENVIRONMENT_URL').replace(/\/+$/, '');
const clientId = env('SCALEKIT_CLIENT_ID');
const clientSecret = env('SCALEKIT_CLIENT_SECRET');
const redirectUri = env('APP_REDIRECT_URI');
const samlOrg = env('SAML_ORG_ID');
const samlConn = env('SAML_CONNECTION_ID');
const scalekit = new ScalekitClient(url, clientId, clientSecret);

const api = rest(url, clientId, clientSecret);

async function signIn(options) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const state = crypto.randomBytes(8).toString('hex');
  const authUrl = scalekit.getAuthorizationUrl(redirectUri, {
    state, nonce: `n-${state}`, codeChallengeMethod: 'S256',
    codeChallenge: crypto.createHash('sha256').update(verifier).digest('base64url'), ...options,
  });
  const back = await follow(authUrl, redirectUri);
  assert.equal(back.searchParams.get('error'), null, `sign-in refused: ${back.searchParams.get('error_description')}`);
  assert.equal(back.searchParams.get('state'), state);
  return scalekit.authenticateWithCode(back.searchParams.get('code'), redirectUri, { codeVerifier: verifier });
}

let userId;

test('a SAML connection configured from the IdP metadata URL signs a user in; a custom SAML attribute reaches the ID token and the profile', async () => {
  for (const [key, type] of [['department', 'string'], ['employee_number', 'integer']]) {
    const r = await api('POST', '/api/v1/user-attributes', { key, display_name: key, type });
    assert.ok(r.status === 200 || r.status === 409, `define ${key}: ${JSON.stringify(r.body)}`);
  }
  const r = await api('PATCH', `/api/v1/organizations/${samlOrg}/connections/${samlConn}`, {
    saml_config: { idp_metadata_url: env('SAML_IDP_METADATA_URL'), saml_signing_option: 'SAML_RESPONSE_ASSERTION_SIGNING' },
    attribute_mapping: { department: 'department', employee_number: 'employeeNumber', 'group:Admins': 'admin' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const sc = r.body.connection.saml_config;
  assert.equal(sc.idp_entity_id, env('SAML_IDP_METADATA_URL'));
  assert.equal(sc.idp_certificates.length, 1);
  assert.equal(r.body.connection.status, 'COMPLETED');
  await scalekit.connection.enableConnection(samlOrg, samlConn);
  const { connection } = await scalekit.connection.getConnection(samlOrg, samlConn);
  assert.equal(connection.enabled, true);
  assert.equal(connection.settings.value.spAssertionUrl, `${url}/sso/saml/${samlConn}/acs`);

  const res = await signIn({ organizationId: samlOrg });
  userId = res.user.id;
  assert.equal(res.user.email, 'grace@moved-e2e.test');
  assert.equal(res.user.givenName, 'Grace');
  assert.equal(res.user.familyName, 'Hopper');
  const claims = await scalekit.validateToken(res.idToken, { issuer: url, audience: [clientId] });
  assert.equal(claims.custom_attributes.department, 'R&D');
  assert.equal(claims.custom_attributes.employee_number, '1815');
  assert.deepEqual(claims.amr, [samlConn]);
  assert.deepEqual(claims.groups, ['Admins', 'Staff']);

  const { user } = await scalekit.user.getUser(userId);
  assert.equal(user.userProfile.customAttributes.department, 'R&D');
  assert.deepEqual(user.memberships.map((m) => m.organizationId), [samlOrg]);
  assert.deepEqual(user.memberships[0].roles.map((r) => r.name), ['admin']);
  assert.equal(user.userProfile.externalIdentities.length, 1);
  assert.equal(user.userProfile.externalIdentities[0].connectionId, samlConn);
  assert.equal(user.userProfile.externalIdentities[0].connectionType, 'SAML');
});

test('after the company moves to an OIDC provider, the same person is the same user with two external identities', async () => {
  assert.ok(userId, 'the SAML sign-in ran first');
  const { organization } = await scalekit.organization.createOrganization(`Moved Co ${Date.now()}`);
  const { connection } = await scalekit.connection.createConnection(organization.id, { provider: 2 /* GOOGLE */, type: 1 /* OIDC */ });
  const r = await api('PATCH', `/api/v1/organizations/${organization.id}/connections/${connection.id}`, {
    oidc_config: { issuer: env('IDP_URL'), client_id: env('IDP_CLIENT_ID'), client_secret: env('IDP_CLIENT_SECRET'),
      scopes: ['openid', 'profile', 'email'] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await scalekit.connection.enableConnection(organization.id, connection.id);

  const res = await signIn({ organizationId: organization.id, loginHint: 'mover' });
  assert.equal(res.user.id, userId, 'one person, one user');

  const { user } = await scalekit.user.getUser(userId);
  assert.equal(user.userProfile.givenName, 'Grace');
  assert.equal(user.userProfile.familyName, 'Hopper');
  assert.equal(user.userProfile.name, 'Grace Hopper');
  assert.equal(user.userProfile.customAttributes.department, 'R&D', 'attributes the new provider does not send are kept');
  assert.deepEqual(user.memberships.map((m) => m.organizationId).sort(), [samlOrg, organization.id].sort());
  const ids = user.userProfile.externalIdentities.map((i) => [i.connectionId, i.connectionType]);
  assert.deepEqual(ids, [[samlConn, 'SAML'], [connection.id, 'OIDC']]);
});
