// End-to-end test: the official Scalekit Node SDK (pinned in package.json) against a running
// Roster server. It runs the user examples of the Scalekit docs ("Work with user profiles",
// "Customize user profiles") and the UserService wrappers around them: memberships, roles on
// memberships, permissions, invitations, paging, search and the delete cascades.
//
//   SCALEKIT_ENVIRONMENT_URL=http://127.0.0.1:8080 SCALEKIT_CLIENT_ID=... \
//   SCALEKIT_CLIENT_SECRET=... node --test users.test.mjs
//
// Every email, external id, organization name, role and permission name carries a per-run
// suffix, so the suite also runs against a server that already holds data (and on either
// storage backend). The custom attribute keys of the docs (zip_code, ...) are environment-wide
// definitions: they are created once and reused by later runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScalekitClient,
  ScalekitBadRequestException,
  ScalekitConflictException,
  ScalekitNotFoundException,
} from '@scalekit-sdk/node';
// The package index does not re-export the MembershipStatus enum (protobuf-es enums are
// numbers: ACTIVE = 1, PENDING_INVITE = 3); the package has no "exports" map, so the generated
// module the SDK itself uses can be imported directly.
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

// RUN makes names unique per run: the suite may run against a non-empty server. WORD is RUN
// as letters, digits and '_' (role and permission names allow nothing else).
const RUN = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const WORD = RUN.replace(/[^a-zA-Z0-9]/g, '_');

assert.equal(MembershipStatus.ACTIVE, 1);
assert.equal(MembershipStatus.PENDING_INVITE, 3);

// mail returns an email address unique to this run.
const mail = (local, domain = 'example.com') => `${local}.${RUN}@${domain}`;

// expectReject awaits promise, which must reject with an instance of cls; it returns the error.
async function expectReject(promise, cls) {
  try {
    await promise;
  } catch (err) {
    assert.ok(
      err instanceof cls,
      `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message ?? err}`,
    );
    return err;
  }
  assert.fail(`expected ${cls.name}, but the call succeeded`);
}

// REST helpers: the curl examples of the docs, sent with fetch.
let accessToken;
async function token() {
  if (accessToken) return accessToken;
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST /oauth/token: ${res.status} ${text}`);
  const body = JSON.parse(text);
  assert.equal(typeof body.access_token, 'string');
  assert.match(String(body.token_type), /^bearer$/i);
  accessToken = body.access_token;
  return accessToken;
}

// send sends body (a string, sent exactly as given) and returns { status, body, text }.
async function send(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${await token()}`,
      'Content-Type': 'application/json',
    },
    body,
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

// rest is send for calls that must succeed (2xx); it returns the parsed JSON answer.
async function rest(method, path, body) {
  const r = await send(method, path, body);
  assert.ok(
    r.status >= 200 && r.status < 300,
    `${method} ${path} with body ${body}: ${r.status} ${r.text}`,
  );
  return r.body;
}

// defineAttribute defines a custom user attribute (customize-user-profiles.md: "Dashboard >
// User Attributes > Add Attribute"; Roster's API for it is POST /api/v1/user-attributes).
// A key that an earlier run against the same server defined answers 409: that is fine.
async function defineAttribute(key, displayName) {
  const r = await send(
    'POST',
    '/api/v1/user-attributes',
    JSON.stringify({ key, display_name: displayName }),
  );
  assert.ok(
    r.status === 200 || r.status === 409,
    `POST /api/v1/user-attributes ${key}: ${r.status} ${r.text}`,
  );
  if (r.status === 200) assert.equal(r.body.attribute?.key, key, r.text);
}

// tsMillis converts a google.protobuf.Timestamp (protobuf-es: seconds is a bigint).
function tsMillis(ts) {
  assert.ok(ts, 'timestamp is set');
  assert.equal(typeof ts.seconds, 'bigint');
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
}

// assertRecent checks that a timestamp lies within the last few minutes.
function assertRecent(ts, what) {
  const ms = tsMillis(ts);
  assert.ok(Math.abs(Date.now() - ms) < 5 * 60 * 1000, `${what} ${new Date(ms).toISOString()} is not recent`);
}

// plain copies a protobuf-es map (a plain object) for deepEqual.
const plain = (m) => ({ ...m });

const roleNames = (roles) => roles.map((r) => r.name).sort();

async function newOrg(label) {
  const { organization } = await scalekit.organization.createOrganization(`${label} ${RUN}`);
  assert.match(organization.id, /^org_/);
  return organization;
}

// membershipIn returns the user's membership in an organization.
function membershipIn(user, orgId) {
  const m = user.memberships.find((x) => x.organizationId === orgId);
  assert.ok(m, `user ${user.id} has no membership in ${orgId}: ${user.memberships.map((x) => x.organizationId)}`);
  return m;
}

async function expectUserGone(userId) {
  const err = await expectReject(scalekit.user.getUser(userId), ScalekitNotFoundException);
  assert.equal(err.httpStatus, 404);
}

test('create a user with an organization membership, read and update it (work-with-user-profiles)', async () => {
  const org = await newOrg('Acme Corp');
  const email = mail('user');
  const externalId = `ext_12345a67b89c-${RUN}`;

  // Seed: "Create user with organization membership", as written (org id and uniqueness aside).
  const { user } = await scalekit.user.createUserAndMembership(org.id, {
    email,
    externalId,
    metadata: { department: 'engineering', location: 'nyc-office' },
    userProfile: {
      firstName: 'John',
      lastName: 'Doe',
    },
  });
  assert.match(user.id, /^usr_/);
  assert.equal(user.email, email);
  assert.equal(user.externalId, externalId);
  assert.deepEqual(plain(user.metadata), { department: 'engineering', location: 'nyc-office' });
  // The SDK sends the names in the deprecated first_name/last_name fields; Roster stores them
  // as given/family name and answers both spellings.
  assert.equal(user.userProfile.givenName, 'John');
  assert.equal(user.userProfile.firstName, 'John');
  assert.equal(user.userProfile.familyName, 'Doe');
  assert.equal(user.userProfile.lastName, 'Doe');
  assert.equal(user.userProfile.name, 'John Doe', 'name defaults to given + family name');
  assert.equal(user.memberships.length, 1);
  const [m] = user.memberships;
  assert.equal(m.organizationId, org.id);
  assert.equal(m.name, org.displayName, 'a membership carries the organization name');
  assert.deepEqual(roleNames(m.roles), ['member'], 'the default member role');
  assert.match(m.roles[0].id, /^role_/);
  // The wrapper omits sendInvitationEmail here; the documented default is true: an invitation.
  assert.equal(m.membershipStatus, MembershipStatus.PENDING_INVITE);
  assertRecent(m.joinTime, 'joinTime');

  // Seed: "Get user profile information", and the documented user profile structure.
  const got = (await scalekit.user.getUser(user.id)).user;
  assert.equal(got.id, user.id);
  assert.equal(got.email, email);
  assert.equal(got.externalId, externalId);
  assertRecent(got.createTime, 'createTime');
  assertRecent(got.updateTime, 'updateTime');
  const p = got.userProfile;
  assert.match(p.id, /^usp_/);
  assert.equal(p.givenName, 'John');
  assert.equal(p.familyName, 'Doe');
  assert.equal(p.firstName, 'John');
  assert.equal(p.lastName, 'Doe');
  assert.equal(p.name, 'John Doe');
  assert.equal(typeof p.emailVerified, 'boolean');
  assert.deepEqual(plain(p.metadata), {});
  assert.deepEqual(plain(p.customAttributes), {});
  assert.deepEqual(plain(got.metadata), { department: 'engineering', location: 'nyc-office' });
  assert.equal(got.memberships.length, 1);
  assert.equal(got.memberships[0].organizationId, org.id);
  assert.equal(got.memberships[0].name, org.displayName);
  assert.equal(got.memberships[0].membershipStatus, MembershipStatus.PENDING_INVITE);
  assert.deepEqual(roleNames(got.memberships[0].roles), ['member']);

  // Seed: "Update user information". (The doc logs updatedUser.id; the wrapper answers
  // { user }, so the id is updatedUser.user.id.)
  const lastUpdated = new Date().toISOString();
  const updatedUser = await scalekit.user.updateUser(user.id, {
    userProfile: {
      firstName: 'Jane',
      lastName: 'Smith', // Updated after marriage
    },
    metadata: {
      department: 'Product', // Transferred departments
      role: 'Senior Developer',
      lastUpdated,
      manager: 'john.doe@example.com',
    },
  });
  const u = updatedUser.user;
  assert.equal(u.id, user.id);
  assert.equal(u.userProfile.givenName, 'Jane');
  assert.equal(u.userProfile.firstName, 'Jane');
  assert.equal(u.userProfile.familyName, 'Smith');
  assert.equal(u.userProfile.lastName, 'Smith');
  assert.equal(u.userProfile.name, 'Jane Smith', 'a defaulted name follows the new names');
  // Metadata merges (docs/metadata.md): location from the create is still there.
  assert.deepEqual(plain(u.metadata), {
    department: 'Product',
    location: 'nyc-office',
    role: 'Senior Developer',
    lastUpdated,
    manager: 'john.doe@example.com',
  });
  assert.equal(u.email, email, 'email unchanged');
  assert.equal(u.externalId, externalId, 'external id unchanged');
  assert.ok(tsMillis(u.updateTime) >= tsMillis(got.createTime), 'updateTime moves forward');
  assert.equal(u.memberships.length, 1, 'memberships unchanged');

  // Seed: "Update user metadata". notificationPreferences is an object, which a
  // map<string, string> cannot hold: the SDK's protobuf encoder turns every value into a
  // string (String(value)), so the server receives "[object Object]".
  const lastLoginAt = new Date().toISOString();
  const afterMeta = await scalekit.user.updateUser(user.id, {
    metadata: {
      theme: 'dark',
      timezone: 'America/New_York',
      notificationPreferences: {
        email: true,
        slack: false,
        mobile: true,
      },
      lastLoginAt,
    },
  });
  const um = afterMeta.user;
  assert.equal(um.metadata.theme, 'dark');
  assert.equal(um.metadata.timezone, 'America/New_York');
  assert.equal(um.metadata.lastLoginAt, lastLoginAt);
  assert.equal(um.metadata.notificationPreferences, '[object Object]');
  assert.equal(um.metadata.department, 'Product', 'earlier keys are kept');
  assert.equal(um.metadata.location, 'nyc-office');
  assert.equal(um.userProfile.name, 'Jane Smith', 'profile unchanged by a metadata update');
  assert.equal(um.userProfile.givenName, 'Jane');

  // getUser sees the same.
  const again = (await scalekit.user.getUser(user.id)).user;
  assert.deepEqual(plain(again.metadata), plain(um.metadata));
  assert.equal(again.userProfile.name, 'Jane Smith');
});

test('sendInvitationEmail: false makes an ACTIVE membership', async () => {
  const org = await newOrg('Active Co');
  const { user } = await scalekit.user.createUserAndMembership(org.id, {
    email: mail('active'),
    sendInvitationEmail: false,
  });
  assert.equal(user.memberships[0].membershipStatus, MembershipStatus.ACTIVE);
  assert.deepEqual(roleNames(user.memberships[0].roles), ['member']);
  assert.equal(user.externalId, undefined, 'no external id was set');
  assert.equal(user.userProfile.name, '', 'no names, no name');
  const got = (await scalekit.user.getUser(user.id)).user;
  assert.equal(got.memberships[0].membershipStatus, MembershipStatus.ACTIVE);
});

test('user external ids and metadata (customize-user-profiles)', async () => {
  const org = await newOrg('Company Inc');
  const extId = `SALESFORCE-003921-${RUN}`;

  // Seed: "Create user with external ID and metadata". quota is a number in the doc; the SDK
  // encodes it as the string "150000".
  const { user } = await scalekit.user.createUserAndMembership(org.id, {
    email: mail('john.doe', 'company.com'),
    externalId: extId,
    metadata: {
      department: 'Sales',
      employeeId: 'EMP-002',
      territory: 'West Coast',
      quota: 150000,
      crmAccountId: 'ACC-789',
      hubspotContactId: '12345',
    },
    userProfile: {
      firstName: 'John',
      lastName: 'Doe',
    },
    sendInvitationEmail: true,
  });
  assert.equal(user.externalId, extId);
  assert.deepEqual(plain(user.metadata), {
    department: 'Sales',
    employeeId: 'EMP-002',
    territory: 'West Coast',
    quota: '150000',
    crmAccountId: 'ACC-789',
    hubspotContactId: '12345',
  });
  assert.equal(user.memberships[0].membershipStatus, MembershipStatus.PENDING_INVITE);

  // Seed: "Find user by external ID". The doc calls getUserByExternalId(orgId, extId); the
  // SDK's signature is getUserByExternalId(externalId) and answers { user }.
  const found = await scalekit.user.getUserByExternalId(extId);
  assert.equal(found.user.id, user.id);
  assert.equal(found.user.email, user.email);
  assert.equal(found.user.userProfile.name, 'John Doe');
  // Called as the doc writes it, the SDK looks the organization id up as a user external id.
  await expectReject(scalekit.user.getUserByExternalId(org.id, extId), ScalekitNotFoundException);

  // Seed: "Update user external ID and metadata", on a user created without an external id.
  const { user: other } = await scalekit.user.createUserAndMembership(org.id, {
    email: mail('unlinked', 'company.com'),
    sendInvitationEmail: false,
  });
  assert.equal(other.externalId, undefined);
  const linkedId = `SALESFORCE-003922-${RUN}`;
  const linked = await scalekit.user.updateUser(other.id, {
    externalId: linkedId,
    metadata: {
      department: 'Sales',
      employeeId: 'EMP-003',
      territory: 'West Coast',
      quota: 150000,
      crmAccountId: 'ACC-790',
      hubspotContactId: '12346',
    },
  });
  assert.equal(linked.user.externalId, linkedId);
  assert.equal(linked.user.metadata.quota, '150000');
  assert.equal(linked.user.metadata.employeeId, 'EMP-003');
  assert.equal((await scalekit.user.getUserByExternalId(linkedId)).user.id, other.id);
  // An external id belongs to one user.
  const dup = await expectReject(
    scalekit.user.updateUser(other.id, { externalId: extId }),
    ScalekitConflictException,
  );
  assert.equal(dup.httpStatus, 409);
  assert.equal((await scalekit.user.getUser(other.id)).user.externalId, linkedId);

  // updateUserByExternalId: PATCH semantics, merged metadata, the name follows.
  const byExt = await scalekit.user.updateUserByExternalId(extId, {
    userProfile: { firstName: 'Johnny' },
    metadata: { territory: 'East Coast' },
  });
  assert.equal(byExt.user.id, user.id);
  assert.equal(byExt.user.externalId, extId);
  assert.equal(byExt.user.userProfile.givenName, 'Johnny');
  assert.equal(byExt.user.userProfile.familyName, 'Doe', 'last name not sent, not changed');
  assert.equal(byExt.user.userProfile.name, 'Johnny Doe');
  assert.equal(byExt.user.metadata.territory, 'East Coast');
  assert.equal(byExt.user.metadata.department, 'Sales');
  await expectReject(
    scalekit.user.updateUserByExternalId(`NO-SUCH-${RUN}`, { metadata: { territory: 'x' } }),
    ScalekitNotFoundException,
  );

  // deleteUserByExternalId deletes the user and frees the external id.
  await scalekit.user.deleteUserByExternalId(extId);
  await expectUserGone(user.id);
  await expectReject(scalekit.user.getUserByExternalId(extId), ScalekitNotFoundException);
  const reborn = await scalekit.user.createUserAndMembership(org.id, {
    email: mail('reborn', 'company.com'),
    externalId: extId,
  });
  assert.notEqual(reborn.user.id, user.id);
  // The other user was not touched.
  assert.equal((await scalekit.user.getUser(other.id)).user.externalId, linkedId);
});

test('memberships in several organizations, roles and permissions', async () => {
  const org1 = await newOrg('Membership One');
  const org2 = await newOrg('Membership Two');
  const org3 = await newOrg('Membership Three');
  const ext1 = `MEMBER-1-${RUN}`;
  const { user } = await scalekit.user.createUserAndMembership(org1.id, {
    email: mail('member.one'),
    externalId: ext1,
    userProfile: { firstName: 'Mona', lastName: 'Member' },
    sendInvitationEmail: false,
  });

  // createMembership: a second organization, with a role, metadata and no invitation.
  const created = await scalekit.user.createMembership(org2.id, user.id, {
    roles: ['admin'],
    metadata: { team: 'platform', seat: 'A-12' },
    sendInvitationEmail: false,
  });
  assert.equal(created.user.id, user.id);
  assert.equal(created.user.memberships.length, 2);
  const m2 = membershipIn(created.user, org2.id);
  assert.equal(m2.name, org2.displayName);
  assert.deepEqual(roleNames(m2.roles), ['admin']);
  assert.deepEqual(plain(m2.metadata), { team: 'platform', seat: 'A-12' });
  assert.equal(m2.membershipStatus, MembershipStatus.ACTIVE);
  const got = (await scalekit.user.getUser(user.id)).user;
  assert.deepEqual(got.memberships.map((m) => m.organizationId).sort(), [org1.id, org2.id].sort());
  assert.deepEqual(roleNames(membershipIn(got, org1.id).roles), ['member']);

  // A second membership in the same organization is a conflict.
  await expectReject(
    scalekit.user.createMembership(org2.id, user.id, { sendInvitationEmail: false }),
    ScalekitConflictException,
  );

  // createMembershipByExternalId, with the documented defaults: member role, an invitation.
  const byExt = await scalekit.user.createMembershipByExternalId(org3.id, ext1, {
    metadata: { via: 'external_id' },
  });
  assert.equal(byExt.user.id, user.id);
  assert.equal(byExt.user.memberships.length, 3);
  const m3 = membershipIn(byExt.user, org3.id);
  assert.deepEqual(roleNames(m3.roles), ['member']);
  assert.equal(m3.membershipStatus, MembershipStatus.PENDING_INVITE);
  assert.deepEqual(plain(m3.metadata), { via: 'external_id' });

  // updateMembership replaces the roles; metadata it does not send stays.
  const upd = await scalekit.user.updateMembership(org2.id, user.id, { roles: ['member'] });
  const m2b = membershipIn(upd.user, org2.id);
  assert.deepEqual(roleNames(m2b.roles), ['member']);
  assert.deepEqual(plain(m2b.metadata), { team: 'platform', seat: 'A-12' });
  assert.deepEqual(roleNames(membershipIn(upd.user, org1.id).roles), ['member'], 'other memberships untouched');
  // updateMembershipByExternalId with metadata only: roles stay (the SDK sends roles: []).
  const upd2 = await scalekit.user.updateMembershipByExternalId(org2.id, ext1, {
    metadata: { team: 'infra' },
  });
  const m2c = membershipIn(upd2.user, org2.id);
  assert.deepEqual(roleNames(m2c.roles), ['member']);
  assert.deepEqual(plain(m2c.metadata), { team: 'infra', seat: 'A-12' });

  // listUserRoles.
  const listed = await scalekit.user.listUserRoles(org2.id, user.id);
  assert.deepEqual(roleNames(listed.roles), ['member']);
  assert.match(listed.roles[0].id, /^role_/);

  // A permission, and a role that grants it (RolesService wrappers).
  const permName = `reports_read_${WORD}`;
  const perm = await scalekit.permission.createPermission({
    name: permName,
    description: 'Read reports',
  });
  assert.equal(perm.permission.name, permName);
  assert.match(perm.permission.id, /^perm_/);
  const roleName = `report_viewer_${WORD}`;
  const role = await scalekit.role.createRole({
    name: roleName,
    displayName: 'Report Viewer',
    description: 'Reads reports',
    permissions: [permName],
  });
  assert.equal(role.role.name, roleName);
  assert.equal(role.role.displayName, 'Report Viewer');

  // Before the role: no permissions.
  assert.deepEqual((await scalekit.user.listUserPermissions(org2.id, user.id)).permissions, []);

  // assignUserRoles adds to the roles held.
  const assigned = await scalekit.user.assignUserRoles(org2.id, user.id, [roleName]);
  assert.deepEqual(roleNames(assigned.roles), [roleName, 'member'].sort());
  assert.deepEqual(roleNames((await scalekit.user.listUserRoles(org2.id, user.id)).roles), [roleName, 'member'].sort());
  const assignedRole = (await scalekit.user.listUserRoles(org2.id, user.id)).roles.find((r) => r.name === roleName);
  assert.equal(assignedRole.displayName, 'Report Viewer');
  assert.equal(assignedRole.id, role.role.id);

  // listUserPermissions: what the user's roles grant in that organization only.
  const perms = await scalekit.user.listUserPermissions(org2.id, user.id);
  assert.deepEqual(perms.permissions.map((x) => x.name), [permName]);
  assert.equal(perms.permissions[0].description, 'Read reports');
  assert.equal(perms.permissions[0].id, perm.permission.id);
  assert.deepEqual((await scalekit.user.listUserPermissions(org1.id, user.id)).permissions, []);

  // removeUserRole takes it away again.
  await scalekit.user.removeUserRole(org2.id, user.id, roleName);
  assert.deepEqual(roleNames((await scalekit.user.listUserRoles(org2.id, user.id)).roles), ['member']);
  assert.deepEqual((await scalekit.user.listUserPermissions(org2.id, user.id)).permissions, []);
  await expectReject(
    scalekit.user.removeUserRole(org2.id, user.id, roleName),
    ScalekitNotFoundException,
  );

  // Roles of a membership that does not exist.
  const { organization: stranger } = await scalekit.organization.createOrganization(`Stranger ${RUN}`);
  await expectReject(scalekit.user.listUserRoles(stranger.id, user.id), ScalekitNotFoundException);
});

test('an unknown role is a bad request that names the role', async () => {
  const org1 = await newOrg('Role Check One');
  const org2 = await newOrg('Role Check Two');
  const { user } = await scalekit.user.createUserAndMembership(org1.id, {
    email: mail('role.check'),
    sendInvitationEmail: false,
  });
  const missing = `no_such_role_${WORD}`;
  const err = await expectReject(
    scalekit.user.createMembership(org2.id, user.id, { roles: [missing], sendInvitationEmail: false }),
    ScalekitBadRequestException,
  );
  assert.equal(err.httpStatus, 400);
  assert.ok(err.message.includes(missing), `message names the role: ${err.message}`);
  // Nothing was created.
  const got = (await scalekit.user.getUser(user.id)).user;
  assert.deepEqual(got.memberships.map((m) => m.organizationId), [org1.id]);

  // The same for updateMembership and assignUserRoles.
  const e2 = await expectReject(
    scalekit.user.updateMembership(org1.id, user.id, { roles: [missing] }),
    ScalekitBadRequestException,
  );
  assert.ok(e2.message.includes(missing), e2.message);
  const e3 = await expectReject(
    scalekit.user.assignUserRoles(org1.id, user.id, [missing]),
    ScalekitBadRequestException,
  );
  assert.ok(e3.message.includes(missing), e3.message);
  assert.deepEqual(roleNames((await scalekit.user.listUserRoles(org1.id, user.id)).roles), ['member']);
});

test('a duplicate email is a conflict (emails compare case-insensitively)', async () => {
  const org1 = await newOrg('Dup One');
  const org2 = await newOrg('Dup Two');
  const email = mail('dup');
  await scalekit.user.createUserAndMembership(org1.id, { email });
  const err = await expectReject(
    scalekit.user.createUserAndMembership(org1.id, { email }),
    ScalekitConflictException,
  );
  assert.equal(err.httpStatus, 409);
  assert.equal(err.errorCode, 'ALREADY_EXISTS');
  await expectReject(
    scalekit.user.createUserAndMembership(org2.id, { email: email.toUpperCase() }),
    ScalekitConflictException,
  );
  // The loser was not created: org2 has no users.
  const listed = await scalekit.user.listOrganizationUsers(org2.id, { pageSize: 10 });
  assert.equal(listed.totalSize, 0);
  assert.deepEqual(listed.users, []);
});

test('list organization users page by page (pageSize 2)', async () => {
  const org = await newOrg('Paging Users');
  const other = await newOrg('Paging Others');
  const mine = new Set();
  for (let i = 0; i < 5; i++) {
    const { user } = await scalekit.user.createUserAndMembership(org.id, {
      email: mail(`pager${i}`),
      sendInvitationEmail: false,
    });
    mine.add(user.id);
  }
  await scalekit.user.createUserAndMembership(other.id, { email: mail('not.paged') });

  const seen = [];
  let pageToken;
  let pages = 0;
  for (;;) {
    const page = await scalekit.user.listOrganizationUsers(org.id, {
      pageSize: 2,
      ...(pageToken && { pageToken }),
    });
    pages++;
    assert.ok(page.users.length <= 2, `page ${pages} has ${page.users.length}`);
    assert.equal(page.totalSize, 5, `totalSize on page ${pages}`);
    for (const u of page.users) {
      assert.ok(!seen.includes(u.id), `user ${u.id} repeated on page ${pages}`);
      assert.ok(membershipIn(u, org.id));
      seen.push(u.id);
    }
    if (!page.nextPageToken) break;
    assert.ok(page.users.length > 0, 'a page with a next page token is not empty');
    assert.ok(pages < 10, 'paging does not end');
    pageToken = page.nextPageToken;
  }
  assert.equal(seen.length, 5);
  assert.equal(pages, 3);
  assert.deepEqual([...seen].sort(), [...mine].sort());
});

test('search users and organization users by email fragment (case-insensitive)', async () => {
  const orgA = await newOrg('Search A');
  const orgB = await newOrg('Search B');
  const frag = `Qz${RUN.replace(/[^a-z0-9]/gi, '')}`;
  const { user: a } = await scalekit.user.createUserAndMembership(orgA.id, {
    email: `Alice.${frag}@Example.com`,
    sendInvitationEmail: false,
  });
  const { user: b } = await scalekit.user.createUserAndMembership(orgB.id, {
    email: `bob@${frag.toLowerCase()}.example.org`,
    sendInvitationEmail: false,
  });
  await scalekit.user.createUserAndMembership(orgA.id, { email: mail('carol') });

  const all = await scalekit.user.searchUsers(frag.toUpperCase());
  assert.deepEqual(all.users.map((u) => u.id).sort(), [a.id, b.id].sort());
  assert.equal(all.totalSize, 2);
  for (const u of all.users) assert.ok(u.email.toLowerCase().includes(frag.toLowerCase()), u.email);
  assert.equal(all.users.find((u) => u.id === a.id).email, `Alice.${frag}@Example.com`, 'email kept as given');

  const inA = await scalekit.user.searchOrganizationUsers(orgA.id, frag.toLowerCase());
  assert.deepEqual(inA.users.map((u) => u.id), [a.id]);
  assert.equal(inA.totalSize, 1);
  const inB = await scalekit.user.searchOrganizationUsers(orgB.id, frag);
  assert.deepEqual(inB.users.map((u) => u.id), [b.id]);
  const none = await scalekit.user.searchOrganizationUsers(orgB.id, `nobody-${RUN}`);
  assert.equal(none.totalSize, 0);
  assert.deepEqual(none.users, []);
});

test('resend an invitation', async () => {
  const org = await newOrg('Invites');
  const { user } = await scalekit.user.createUserAndMembership(org.id, { email: mail('invitee') });
  const pending = user.memberships[0];
  assert.equal(pending.membershipStatus, MembershipStatus.PENDING_INVITE);

  // The wrapper answers ResendInviteResponse { invite }.
  const first = await scalekit.user.resendInvite(org.id, user.id);
  const inv = first.invite;
  assert.ok(inv, 'resendInvite answers { invite }');
  assert.equal(inv.organizationId, org.id);
  assert.equal(inv.userId, user.id);
  assert.equal(inv.resentCount, 1);
  // The enum name, as membership_status spells it (both official SDKs expect it).
  assert.equal(inv.status, 'PENDING_INVITE');
  assertRecent(inv.resentAt, 'resentAt');
  assert.ok(tsMillis(inv.expiresAt) > Date.now(), 'the invitation expires in the future');
  assert.ok(tsMillis(inv.expiresAt) >= tsMillis(pending.expiresAt), 'resending renews the expiry');

  const second = await scalekit.user.resendInvite(org.id, user.id);
  assert.equal(second.invite.resentCount, 2);
  assert.equal(second.invite.status, 'PENDING_INVITE');
  const got = (await scalekit.user.getUser(user.id)).user;
  assert.equal(got.memberships[0].membershipStatus, MembershipStatus.PENDING_INVITE);

  // An active membership has no invitation to resend.
  const { user: active } = await scalekit.user.createUserAndMembership(org.id, {
    email: mail('already.active'),
    sendInvitationEmail: false,
  });
  await expectReject(scalekit.user.resendInvite(org.id, active.id), ScalekitBadRequestException);
});

test('deleting a membership: the last one deletes the user (cascade), others keep it', async () => {
  const org1 = await newOrg('Leave One');
  const org2 = await newOrg('Leave Two');
  const { user: only } = await scalekit.user.createUserAndMembership(org1.id, {
    email: mail('only.member'),
    sendInvitationEmail: false,
  });
  const extTwice = `TWICE-${RUN}`;
  const { user: twice } = await scalekit.user.createUserAndMembership(org1.id, {
    email: mail('twice.member'),
    externalId: extTwice,
    sendInvitationEmail: false,
  });
  await scalekit.user.createMembership(org2.id, twice.id, { sendInvitationEmail: false });

  // The SDK never sends cascade; the documented default is true.
  await scalekit.user.deleteMembership(org1.id, only.id);
  await expectUserGone(only.id);

  await scalekit.user.deleteMembership(org1.id, twice.id);
  const kept = (await scalekit.user.getUser(twice.id)).user;
  assert.deepEqual(kept.memberships.map((m) => m.organizationId), [org2.id]);
  const org1Users = await scalekit.user.listOrganizationUsers(org1.id, { pageSize: 10 });
  assert.equal(org1Users.totalSize, 0);
  await expectReject(scalekit.user.deleteMembership(org1.id, twice.id), ScalekitNotFoundException);

  // deleteMembershipByExternalId of the last membership deletes the user too.
  await scalekit.user.deleteMembershipByExternalId(org2.id, extTwice);
  await expectUserGone(twice.id);
  await expectReject(scalekit.user.getUserByExternalId(extTwice), ScalekitNotFoundException);
});

test('deleting an organization deletes the users that were only in it', async () => {
  const doomed = await newOrg('Doomed');
  const survivor = await newOrg('Survivor');
  const { user: shared } = await scalekit.user.createUserAndMembership(doomed.id, {
    email: mail('shared'),
    sendInvitationEmail: false,
  });
  await scalekit.user.createMembership(survivor.id, shared.id, { roles: ['admin'], sendInvitationEmail: false });
  const { user: lonely } = await scalekit.user.createUserAndMembership(doomed.id, {
    email: mail('lonely'),
  });

  await scalekit.organization.deleteOrganization(doomed.id);
  await expectReject(scalekit.organization.getOrganization(doomed.id), ScalekitNotFoundException);

  const kept = (await scalekit.user.getUser(shared.id)).user;
  assert.equal(kept.memberships.length, 1);
  assert.equal(kept.memberships[0].organizationId, survivor.id);
  assert.deepEqual(roleNames(kept.memberships[0].roles), ['admin']);
  await expectUserGone(lonely.id);
  // The lonely user's email is free again.
  const again = await scalekit.user.createUserAndMembership(survivor.id, { email: mail('lonely') });
  assert.notEqual(again.user.id, lonely.id);
});

test('custom attributes: define zip_code, PATCH it over REST, read it through the SDK (customize-user-profiles)', async () => {
  await defineAttribute('zip_code', 'ZIP code');
  const org = await newOrg('Logistics');
  const { user } = await scalekit.user.createUserAndMembership(org.id, {
    email: mail('zip'),
    userProfile: { firstName: 'John', lastName: 'Doe' },
    sendInvitationEmail: false,
  });

  // "Modify user profile attributes API": the curl body, verbatim.
  const patched = await rest(
    'PATCH',
    `/api/v1/users/${user.id}`,
    `{
  "user_profile": {
    "custom_attributes": {
      "zip_code": "90210"
    }
  }
}`,
  );
  assert.equal(patched.user?.id, user.id, JSON.stringify(patched));
  assert.equal(patched.user.user_profile?.custom_attributes?.zip_code, '90210', JSON.stringify(patched));
  assert.equal(patched.user.user_profile.first_name, 'John', 'names untouched');

  // Read back through the SDK (gRPC).
  const got = (await scalekit.user.getUser(user.id)).user;
  assert.equal(got.userProfile.customAttributes.zip_code, '90210');
  assert.equal(got.userProfile.givenName, 'John');
  assert.equal(got.userProfile.name, 'John Doe');

  // The REST profile has the documented standard attributes (snake_case).
  const viaRest = (await rest('GET', `/api/v1/users/${user.id}`)).user;
  const rp = viaRest.user_profile;
  assert.match(rp.id, /^usp_/);
  assert.equal(rp.first_name, 'John');
  assert.equal(rp.last_name, 'Doe');
  assert.equal(rp.name, 'John Doe');
  assert.equal(typeof rp.email_verified, 'boolean');
  assert.deepEqual(rp.custom_attributes, { zip_code: '90210' });
  assert.deepEqual(rp.metadata, {});

  // The doc's Node example for the same update. SDK 2.11.0's updateUser wrapper copies only
  // userProfile.firstName/lastName into the request: customAttributes, locale, name and
  // phoneNumber never reach the server, so zip_code keeps 90210.
  const viaSdk = await scalekit.user.updateUser(user.id, {
    userProfile: {
      customAttributes: {
        zip_code: '11120',
      },
      firstName: 'John',
      lastName: 'Doe',
      locale: 'en-US',
      name: 'John Michael Doe',
      phoneNumber: '+14155552671',
    },
  });
  assert.equal(viaSdk.user.userProfile.customAttributes.zip_code, '90210');
  assert.equal(viaSdk.user.userProfile.givenName, 'John');
  assert.equal(viaSdk.user.userProfile.name, 'John Doe');
  assert.equal(viaSdk.user.userProfile.locale, '');

  // An attribute that is not defined is refused, naming the key.
  const undefinedKey = 'undefined_attr_key';
  const bad = await send(
    'PATCH',
    `/api/v1/users/${user.id}`,
    JSON.stringify({ user_profile: { custom_attributes: { [undefinedKey]: 'x' } } }),
  );
  assert.equal(bad.status, 400, bad.text);
  assert.ok(bad.text.includes(undefinedKey), bad.text);
  assert.equal((await scalekit.user.getUser(user.id)).user.userProfile.customAttributes.zip_code, '90210');
});

test('the full create-user curl example of work-with-user-profiles, read through the SDK', async () => {
  await defineAttribute('department', 'Department');
  await defineAttribute('security_clearance', 'Security clearance');
  const org = await newOrg('Acme Corp Curl');
  // The document's body: "roles": "admin" (a string where the API has a list) included. Only
  // the email and external id get the run suffix.
  const email = mail('curl.user');
  const extId = `ext_12345a67b89c-curl-${RUN}`;
  const answer = await rest(
    'POST',
    `/api/v1/organizations/${org.id}/users`,
    `{ "email": "${email}", "external_id": "${extId}", "membership": { "metadata": { "department": "engineering", "location": "nyc-office" }, "roles": "admin" }, "metadata": { "department": "engineering", "location": "nyc-office" }, "user_profile": { "custom_attributes": { "department": "engineering", "security_clearance": "level2" }, "first_name": "John", "last_name": "Doe", "locale": "en-US", "metadata": { "account_status": "active", "signup_source": "mobile_app" }, "name": "John Michael Doe", "phone_number": "+14155552671" }}`,
  );
  const id = answer.user?.id;
  assert.match(String(id), /^usr_/, JSON.stringify(answer));

  const { user } = await scalekit.user.getUser(id);
  assert.equal(user.email, email);
  assert.equal(user.externalId, extId);
  assert.deepEqual(plain(user.metadata), { department: 'engineering', location: 'nyc-office' });
  const p = user.userProfile;
  assert.equal(p.givenName, 'John');
  assert.equal(p.familyName, 'Doe');
  assert.equal(p.name, 'John Michael Doe', 'an explicit name wins over given + family');
  assert.equal(p.locale, 'en-US');
  assert.equal(p.phoneNumber, '+14155552671');
  assert.deepEqual(plain(p.customAttributes), { department: 'engineering', security_clearance: 'level2' });
  assert.deepEqual(plain(p.metadata), { account_status: 'active', signup_source: 'mobile_app' });
  const m = membershipIn(user, org.id);
  assert.deepEqual(roleNames(m.roles), ['admin']);
  assert.deepEqual(plain(m.metadata), { department: 'engineering', location: 'nyc-office' });
  assert.equal(m.name, org.displayName);
});

test('listPermissions pages: pageSize, nextPageToken, prevPageToken, totalSize', async () => {
  const mine = [];
  for (let i = 0; i < 5; i++) {
    const name = `paged_${i}_${WORD}`;
    await scalekit.permission.createPermission({ name, description: `Paged ${i}` });
    mine.push(name);
  }
  // Walk every page of 2; the server may hold permissions of earlier runs.
  const seen = [];
  let pageToken;
  let total;
  let pages = 0;
  do {
    const res = await scalekit.permission.listPermissions(pageToken, 2);
    assert.ok(res.permissions.length <= 2, `pageSize 2 answered ${res.permissions.length} permissions`);
    if (total === undefined) total = res.totalSize;
    assert.equal(res.totalSize, total, 'totalSize is the same on every page');
    assert.equal(res.prevPageToken === '', pages === 0, 'prevPageToken is empty on the first page only');
    seen.push(...res.permissions.map((p) => p.name));
    pageToken = res.nextPageToken;
    pages++;
  } while (pageToken);
  assert.equal(seen.length, total, 'the pages hold totalSize permissions');
  assert.equal(new Set(seen).size, seen.length, 'no permission on two pages');
  // Creation order: this run's permissions come last, in the order they were made.
  assert.deepEqual(seen.slice(-5), mine);
  assert.ok(pages >= 3);
});
