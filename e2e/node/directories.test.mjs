// End-to-end test: the official Scalekit Node SDK's `scalekit.directory.*` against a running
// Roster server (SCIM directories, issue 13). No SCIM client writes here, so the lists are
// empty (scim.test.mjs provisions through the SCIM endpoint); what is checked is that every
// wrapper reaches its RPC, passes its options and gets the answer shape (and errors) it expects.
//
//   SCALEKIT_ENVIRONMENT_URL=http://127.0.0.1:8080 SCALEKIT_CLIENT_ID=... \
//   SCALEKIT_CLIENT_SECRET=... node --test directories.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScalekitClient,
  ScalekitBadRequestException,
  ScalekitConflictException,
  ScalekitNotFoundException,
} from '@scalekit-sdk/node';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set`);
  return v;
}

const url = env('SCALEKIT_ENVIRONMENT_URL').replace(/\/+$/, '');
const scalekit = new ScalekitClient(url, env('SCALEKIT_CLIENT_ID'), env('SCALEKIT_CLIENT_SECRET'));
const RUN = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

// The wire enums (scalekit.v1.directories): DirectoryType SCIM = 1, LDAP = 2;
// DirectoryProvider OKTA = 1, MICROSOFT_AD = 3.
const SCIM = 1;
const LDAP = 2;
const OKTA = 1;
const MICROSOFT_AD = 3;

async function expectReject(promise, cls) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err?.constructor?.name}: ${err?.message ?? err}`);
    return err;
  }
  assert.fail(`expected ${cls.name}, but the call succeeded`);
}

test('directories: create, list, get, primary, enable/disable, lists with options, delete (SDK)', async () => {
  const { organization: org } = await scalekit.organization.createOrganization(`Directory Co ${RUN}`);
  const { organization: other } = await scalekit.organization.createOrganization(`Other Co ${RUN}`);

  // No directory yet: the primary-directory helper rejects with its plain string.
  await assert.rejects(
    scalekit.directory.getPrimaryDirectoryByOrganizationId(org.id),
    (err) => err === 'directory does not exist for organization',
  );

  const created = await scalekit.directory.createDirectory(org.id, { directoryType: SCIM, directoryProvider: OKTA });
  const dir = created.directory;
  assert.match(dir.id, /^dir_/);
  assert.equal(dir.organizationId, org.id);
  assert.equal(dir.directoryType, SCIM);
  assert.equal(dir.directoryProvider, OKTA);
  assert.equal(dir.enabled, true);
  assert.equal(dir.status, 'DRAFT');
  assert.equal(dir.directoryEndpoint, `${url}/scim/v2/${dir.id}`);

  // One directory per provider; a directory type Roster does not serve is refused.
  await expectReject(scalekit.directory.createDirectory(org.id, { directoryType: SCIM, directoryProvider: OKTA }), ScalekitConflictException);
  await expectReject(scalekit.directory.createDirectory(org.id, { directoryType: LDAP, directoryProvider: OKTA }), ScalekitBadRequestException);
  const second = (await scalekit.directory.createDirectory(org.id, { directoryType: SCIM, directoryProvider: MICROSOFT_AD })).directory;

  const list = await scalekit.directory.listDirectories(org.id);
  assert.deepEqual(list.directories.map((d) => d.id), [dir.id, second.id]);
  const primary = await scalekit.directory.getPrimaryDirectoryByOrganizationId(org.id);
  assert.equal(primary.id, dir.id);

  const got = await scalekit.directory.getDirectory(org.id, dir.id);
  assert.equal(got.directory.id, dir.id);
  assert.equal(got.directory.totalUsers, 0);
  assert.equal(got.directory.totalGroups, 0);
  assert.deepEqual(got.directory.secrets, []);
  // Another organization never sees it.
  await expectReject(scalekit.directory.getDirectory(other.id, dir.id), ScalekitNotFoundException);
  assert.deepEqual((await scalekit.directory.listDirectories(other.id)).directories, []);

  const disabled = await scalekit.directory.disableDirectory(org.id, dir.id);
  assert.equal(disabled.enabled, false);
  assert.equal((await scalekit.directory.getDirectory(org.id, dir.id)).directory.enabled, false);
  const enabled = await scalekit.directory.enableDirectory(org.id, dir.id);
  assert.equal(enabled.enabled, true);

  // Lists with the wrappers' options (updatedAfter is turned into a Timestamp by the SDK).
  const users = await scalekit.directory.listDirectoryUsers(org.id, dir.id, {
    pageSize: 30, includeDetail: true, updatedAfter: '2024-01-01T00:00:00Z',
  });
  assert.deepEqual(users.users, []);
  assert.equal(users.totalSize, 0);
  assert.equal(users.nextPageToken, '');
  const groups = await scalekit.directory.listDirectoryGroups(org.id, dir.id, {
    pageSize: 10, includeDetail: true, updatedAfter: new Date().toISOString(),
  });
  assert.deepEqual(groups.groups, []);
  assert.equal(groups.totalSize, 0);
  await expectReject(scalekit.directory.listDirectoryUsers(org.id, dir.id, { pageSize: 31 }), ScalekitBadRequestException);
  await expectReject(scalekit.directory.listDirectoryGroups(org.id, dir.id, { pageToken: 'not-a-token' }), ScalekitBadRequestException);
  await expectReject(
    scalekit.directory.listDirectoryUsers(org.id, dir.id, { directoryGroupId: 'dirgroup_1' }),
    ScalekitNotFoundException,
  );
  await expectReject(scalekit.directory.listDirectoryUsers(other.id, dir.id), ScalekitNotFoundException);

  // Delete: gone, and the other directory becomes the primary one.
  await expectReject(scalekit.directory.deleteDirectory(other.id, dir.id), ScalekitNotFoundException);
  await scalekit.directory.deleteDirectory(org.id, dir.id);
  await expectReject(scalekit.directory.getDirectory(org.id, dir.id), ScalekitNotFoundException);
  assert.equal((await scalekit.directory.getPrimaryDirectoryByOrganizationId(org.id)).id, second.id);
  await scalekit.directory.deleteDirectory(org.id, second.id);
  await assert.rejects(
    scalekit.directory.getPrimaryDirectoryByOrganizationId(org.id),
    (err) => err === 'directory does not exist for organization',
  );
});
