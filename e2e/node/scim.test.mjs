// End-to-end test: an Okta-shaped and an Entra-shaped SCIM provisioning session against a
// running Roster server's SCIM endpoint (issue 13), read back with the official Scalekit Node
// SDK: `scalekit.directory.listDirectoryUsers` / `listDirectoryGroups` and
// `scalekit.user.getUser`. The requests follow ../shared/notes/scim-idp-requests.md; the Go
// replays in api/scim_replay_test.go send the full sessions.
//
//   SCALEKIT_ENVIRONMENT_URL=http://127.0.0.1:8080 SCALEKIT_CLIENT_ID=... \
//   SCALEKIT_CLIENT_SECRET=... node --test scim.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScalekitClient } from '@scalekit-sdk/node';
// The package index does not re-export the MembershipStatus enum (see users.test.mjs).
import { MembershipStatus } from '@scalekit-sdk/node/lib/pkg/grpc/scalekit/v1/commons/commons_pb.js';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set`);
  return v;
}

const url = env('SCALEKIT_ENVIRONMENT_URL').replace(/\/+$/, '');
const clientId = env('SCALEKIT_CLIENT_ID');
const clientSecret = env('SCALEKIT_CLIENT_SECRET');
const scalekit = new ScalekitClient(url, clientId, clientSecret);
const RUN = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const SCIM = 1;
const OKTA = 1;
const MICROSOFT_AD = 3;

let accessToken;
async function token() {
  if (accessToken) return accessToken;
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST /oauth/token: ${res.status} ${text}`);
  accessToken = JSON.parse(text).access_token;
  return accessToken;
}

async function rest(method, path) {
  const res = await fetch(`${url}${path}`, { method, headers: { Authorization: `Bearer ${await token()}` } });
  const text = await res.text();
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// A directory of a new organization whose domain is `domain`, with its endpoint and token
// (the SDK has no secret call: the REST route gives the token once).
async function directory(provider, domain) {
  const { organization: org } = await scalekit.organization.createOrganization(`SCIM Co ${RUN} ${provider}`);
  await scalekit.domain.createDomain(org.id, domain);
  const { directory: dir } = await scalekit.directory.createDirectory(org.id, { directoryType: SCIM, directoryProvider: provider });
  const secret = await rest('POST', `/api/v1/organizations/${org.id}/directories/${dir.id}/secrets`);
  const endpoint = dir.directoryEndpoint;
  assert.ok(endpoint.startsWith(`${url}/scim/v2/dir_`), endpoint);
  async function scim(method, path, body, want) {
    const res = await fetch(endpoint + path, {
      method,
      headers: { Authorization: `Bearer ${secret.plain_secret}`, 'Content-Type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, want, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
  return { org, dir, scim };
}

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

// The Roster user of an email, through the SDK (the DirectoryUser message has no user ID).
async function rosterUser(orgId, email) {
  const page = await scalekit.user.listOrganizationUsers(orgId, { pageSize: 100 });
  const u = page.users.find((x) => x.email === email);
  assert.ok(u, `no user ${email} in the organization`);
  return (await scalekit.user.getUser(u.id)).user;
}

function status(user, orgId) {
  return user.memberships.find((m) => m.organizationId === orgId)?.membershipStatus;
}

test('SCIM: an Okta session, read back through the SDK', async () => {
  const domain = `okta-${RUN}.test`.toLowerCase();
  const { org, dir, scim } = await directory(OKTA, domain);
  const list = await scim('GET', '/Users?startIndex=1&count=2', undefined, 200);
  assert.equal(list.totalResults, 0);
  const email = `ann@${domain}`;
  const ann = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:acme:2.0:User'],
    userName: email, name: { givenName: 'Ann', familyName: 'Lee' },
    emails: [{ primary: true, value: email, type: 'work' }], displayName: 'Ann Lee', locale: 'en-US',
    externalId: '00uann', groups: [], password: 'Secr3t!', active: true,
    'urn:ietf:params:scim:schemas:extension:acme:2.0:User': { badge: 'B7' },
  }, 201);
  const found = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`, undefined, 200);
  assert.equal(found.totalResults, 1);
  const put = await scim('PUT', `/Users/${ann.id}`, { ...ann, name: { givenName: 'Annie', familyName: 'Lee' } }, 200);
  assert.equal(put.name.givenName, 'Annie');
  await scim('PATCH', `/Users/${ann.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] }, 200);
  assert.equal(status(await rosterUser(org.id, email), org.id), MembershipStatus.INACTIVE);
  await scim('PATCH', `/Users/${ann.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: true } }] }, 200);
  const g = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Test SCIMv2', members: [] }, 201);
  await scim('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [
    { op: 'add', path: 'members', value: [{ value: ann.id, display: email }] }] }, 204);
  await scim('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { id: g.id, displayName: 'Engineering' } }] }, 204);

  const users = await scalekit.directory.listDirectoryUsers(org.id, dir.id, { pageSize: 30, includeDetail: true });
  assert.equal(users.totalSize, 1);
  const du = users.users[0];
  assert.equal(du.email, email);
  assert.equal(du.givenName, 'Annie');
  assert.equal(du.groups.length, 1);
  assert.equal(du.groups[0].displayName, 'Engineering');
  assert.equal(du.userDetail['urn:ietf:params:scim:schemas:extension:acme:2.0:User'].badge, 'B7');
  const groups = await scalekit.directory.listDirectoryGroups(org.id, dir.id, { pageSize: 10 });
  assert.equal(groups.totalSize, 1);
  assert.equal(groups.groups[0].displayName, 'Engineering');
  assert.equal(groups.groups[0].totalUsers, 1);
  const u = await rosterUser(org.id, email);
  assert.equal(status(u, org.id), MembershipStatus.ACTIVE);
  assert.equal(u.userProfile.givenName, 'Annie');
  assert.equal(u.userProfile.familyName, 'Lee');
});

test('SCIM: an Entra ID session, read back through the SDK', async () => {
  const domain = `entra-${RUN}.test`.toLowerCase();
  const { org, dir, scim } = await directory(MICROSOFT_AD, domain);
  await scim('GET', '/Users?filter=userName+eq+%22a9d1b2c4-0000-4000-8000-000000000000%22', undefined, 200);
  const email = `bob@${domain}`;
  const bob = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    externalId: 'bob', userName: email, active: true, emails: [{ primary: true, type: 'work', value: email }],
    meta: { resourceType: 'User' }, name: { formatted: 'Bob Kay', familyName: 'Kay', givenName: 'Bob' }, roles: [],
    addresses: null, phoneNumbers: null, title: null, manager: null,
  }, 201);
  await scim('PATCH', `/Users/${bob.id}`, { schemas: [PATCH], Operations: [
    { op: 'Replace', path: 'name.familyName', value: 'Kay-Lee' },
    { op: 'Replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Sales' }] }, 200);
  await scim('PATCH', `/Users/${bob.id}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }, 200);
  assert.equal(status(await rosterUser(org.id, email), org.id), MembershipStatus.INACTIVE);
  const still = await scim('GET', `/Users?filter=${encodeURIComponent(`emails[type eq "work"].value eq "${email}"`)}`, undefined, 200);
  assert.equal(still.totalResults, 1, 'a soft-deleted user stays queryable');
  await scim('PATCH', `/Users/${bob.id}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] }, 200);
  const g = await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
    externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', displayName: 'Sales', meta: { resourceType: 'Group' },
  }, 201);
  await scim('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: bob.id }] }] }, 204);

  const users = await scalekit.directory.listDirectoryUsers(org.id, dir.id, { pageSize: 30, includeDetail: true, directoryGroupId: g.id });
  assert.equal(users.totalSize, 1);
  assert.equal(users.users[0].familyName, 'Kay-Lee');
  assert.equal(users.users[0].userDetail['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].department, 'Sales');
  const u = await rosterUser(org.id, email);
  assert.equal(status(u, org.id), MembershipStatus.ACTIVE);
  assert.equal(u.userProfile.familyName, 'Kay-Lee');

  await scim('DELETE', `/Users/${bob.id}`, undefined, 204);
  assert.equal((await scalekit.directory.listDirectoryUsers(org.id, dir.id)).totalSize, 0);
  const page = await scalekit.user.listOrganizationUsers(org.id, { pageSize: 100 });
  assert.equal(page.users.find((x) => x.email === email), undefined, 'the deprovisioned user is gone');
});
