// End-to-end SAML test: an application on the official Scalekit Node SDK signs a user in
// through Roster, whose organization's SAML connection trusts SimpleSAMLphp (Debian's
// package, run by e2e/saml_test.go). Then the user's company (its domain) moves to an
// organization with an OIDC connection (oidc-provider from npm): the same person stays one
// user, with one normalized profile and two external identities. Last, an application on the
// official WorkOS Node SDK reads each connection's provider in the profile's connectionType.
//
// Environment: SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET,
// APP_REDIRECT_URI, SAML_ORG_ID, SAML_CONNECTION_ID, SAML_IDP_METADATA_URL, IDP_URL,
// IDP_CLIENT_ID, IDP_CLIENT_SECRET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ScalekitClient } from '@scalekit-sdk/node';
import { WorkOS, ConnectionType } from '@workos-inc/node';
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
let movedOrg;
let movedConn;
// The user's email domain: Roster links and creates users by email only in a domain of the
// connection's organization (docs/sso.md "Linking identities").
const movedDomain = 'moved-e2e.test';

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

  await scalekit.domain.createDomain(samlOrg, movedDomain);
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
  movedOrg = organization.id;
  movedConn = connection.id;

  // Before the domain moves, the new organization's provider cannot sign her in.
  const refused = await follow(scalekit.getAuthorizationUrl(redirectUri, { organizationId: organization.id, loginHint: 'mover', state: 'early' }),
    redirectUri);
  assert.equal(refused.searchParams.get('error'), 'access_denied');
  assert.match(refused.searchParams.get('error_description'), /moved-e2e\.test/);
  assert.equal(refused.searchParams.get('code'), null);

  // The company moves: its domain leaves the SAML organization for the new one.
  const { domains } = await scalekit.domain.listDomains(samlOrg);
  await scalekit.domain.deleteDomain(samlOrg, domains.find((d) => d.domain === movedDomain).id);
  await scalekit.domain.createDomain(organization.id, movedDomain);

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

test('the WorkOS SDK reads the provider in connectionType: OktaSAML for the Okta SAML connection, GoogleOAuth for the Google OIDC one', async () => {
  assert.ok(movedConn, 'the earlier tests ran first');
  const u = new URL(url);
  const workos = new WorkOS(clientSecret, { apiHostname: u.hostname, port: Number(u.port), https: false, clientId });
  for (const [connection, organization, loginHint, want] of [
    [samlConn, samlOrg, undefined, ConnectionType.OktaSAML],
    [movedConn, movedOrg, 'mover', ConnectionType.GoogleOAuth],
  ]) {
    const state = crypto.randomBytes(8).toString('hex');
    const back = await follow(workos.sso.getAuthorizationUrl({ clientId, redirectUri, connection, state, loginHint }), redirectUri);
    assert.equal(back.searchParams.get('error'), null, `sign-in refused: ${back.searchParams.get('error_description')}`);
    const { profile } = await workos.sso.getProfileAndToken({ code: back.searchParams.get('code'), clientId });
    assert.equal(profile.connectionType, want);
    assert.equal(profile.connectionId, connection);
    assert.equal(profile.organizationId, organization);
    assert.equal(profile.id, userId, 'one person, one user');
  }
});
