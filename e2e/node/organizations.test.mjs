// End-to-end test: the official Scalekit Node SDK (pinned in package.json) against a running
// Roster server. It runs the organization examples of the Scalekit docs
// ("Managing organization identifiers & metadata", "Organization external IDs").
//
//   SCALEKIT_ENVIRONMENT_URL=http://127.0.0.1:8080 SCALEKIT_CLIENT_ID=... \
//   SCALEKIT_CLIENT_SECRET=... node --test organizations.test.mjs
//
// Every external id and display name carries a per-run suffix, so the suite also runs
// against a server that already holds data (and on either storage backend).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScalekitClient,
  ScalekitBadRequestException,
  ScalekitConflictException,
  ScalekitException,
  ScalekitNotFoundException,
} from '@scalekit-sdk/node';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set`);
  return v;
}

const url = env('SCALEKIT_ENVIRONMENT_URL').replace(/\/+$/, '');
const clientId = env('SCALEKIT_CLIENT_ID');
const clientSecret = env('SCALEKIT_CLIENT_SECRET');

const scalekit = new ScalekitClient(url, clientId, clientSecret);

// RUN makes names unique per run: the suite may run against a non-empty server.
const RUN = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

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

// rest sends body (a string, sent exactly as given) and returns the parsed JSON answer.
async function rest(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${await token()}`,
      'Content-Type': 'application/json',
    },
    body,
  });
  const text = await res.text();
  assert.ok(
    res.status >= 200 && res.status < 300,
    `${method} ${path} with body ${body}: ${res.status} ${text}`,
  );
  return JSON.parse(text);
}

// restOrganization returns the organization of a REST answer ({"organization": {...}}).
function restOrganization(answer) {
  const org = answer.organization ?? answer;
  assert.match(String(org.id), /^org_/, `no organization in ${JSON.stringify(answer)}`);
  return org;
}

const pick = (org, snake, camel) => org[snake] ?? org[camel];

test('create, find and update an organization by external id (SDK)', async () => {
  // Seed: create with external_id 'CUST-12345-ACME'.
  const extId = `CUST-12345-ACME-${RUN}`;
  const created = await scalekit.organization.createOrganization('Acme Corporation', {
    externalId: extId,
  });
  const org = created.organization;
  assert.ok(org, 'createOrganization returns { organization }');
  assert.match(org.id, /^org_/);
  assert.equal(org.externalId, extId);
  assert.equal(org.displayName, 'Acme Corporation');
  assert.ok(org.createTime, 'createTime is set');

  // Seed: find the organization by your id.
  const byExt = await scalekit.organization.getOrganizationByExternalId(extId);
  assert.equal(byExt.organization.id, org.id);
  assert.equal(byExt.organization.displayName, 'Acme Corporation');
  const byId = await scalekit.organization.getOrganization(org.id);
  assert.equal(byId.organization.id, org.id);
  assert.equal(byId.organization.externalId, extId);

  // Seed: update the external id; PATCH semantics keep the display name.
  const newExtId = `NEW-CUST-12345-ACME-${RUN}`;
  const updated = await scalekit.organization.updateOrganization(org.id, {
    externalId: newExtId,
  });
  assert.equal(updated.organization.id, org.id);
  assert.equal(updated.organization.externalId, newExtId);
  assert.equal(updated.organization.displayName, 'Acme Corporation');

  // The old external id is gone; the new one finds the organization.
  const gone = await expectReject(
    scalekit.organization.getOrganizationByExternalId(extId),
    ScalekitNotFoundException,
  );
  assert.equal(gone.httpStatus, 404);
  const again = await scalekit.organization.getOrganizationByExternalId(newExtId);
  assert.equal(again.organization.id, org.id);

  // updateOrganizationByExternalId: rename, then change the external id once more.
  const renamed = await scalekit.organization.updateOrganizationByExternalId(newExtId, {
    displayName: 'Acme Corporation Renamed',
  });
  assert.equal(renamed.organization.id, org.id);
  assert.equal(renamed.organization.displayName, 'Acme Corporation Renamed');
  assert.equal(renamed.organization.externalId, newExtId);
  const thirdExtId = `TENANT-12345-ACME-${RUN}`;
  const moved = await scalekit.organization.updateOrganizationByExternalId(newExtId, {
    externalId: thirdExtId,
  });
  assert.equal(moved.organization.externalId, thirdExtId);
  assert.equal(moved.organization.displayName, 'Acme Corporation Renamed');
  await expectReject(
    scalekit.organization.getOrganizationByExternalId(newExtId),
    ScalekitNotFoundException,
  );
  await expectReject(
    scalekit.organization.updateOrganizationByExternalId(newExtId, { displayName: 'x' }),
    ScalekitNotFoundException,
  );

  // listOrganization filters by external id (the SDK passes externalId through).
  const listed = await scalekit.organization.listOrganization({
    pageSize: 10,
    externalId: thirdExtId,
  });
  assert.equal(listed.totalSize, 1);
  assert.deepEqual(
    listed.organizations.map((o) => o.id),
    [org.id],
  );
  assert.equal(listed.nextPageToken, '');
});

test('list organizations page by page (pageSize 2)', async () => {
  const mine = new Set();
  for (let i = 0; i < 5; i++) {
    const r = await scalekit.organization.createOrganization(`Paging ${RUN} #${i}`, {
      externalId: `PAGE-${i}-${RUN}`,
    });
    mine.add(r.organization.id);
  }
  const seen = new Set();
  let pageToken;
  let totalSize;
  let pages = 0;
  for (;;) {
    const page = await scalekit.organization.listOrganization({
      pageSize: 2,
      ...(pageToken && { pageToken }),
    });
    pages++;
    assert.ok(page.organizations.length <= 2, `page ${pages} has ${page.organizations.length}`);
    if (totalSize === undefined) totalSize = page.totalSize;
    assert.equal(page.totalSize, totalSize, 'totalSize is the same on every page');
    for (const o of page.organizations) {
      assert.ok(!seen.has(o.id), `organization ${o.id} repeated on page ${pages}`);
      seen.add(o.id);
    }
    if (!page.nextPageToken) break;
    assert.ok(page.organizations.length > 0, 'a page with a next page token is not empty');
    assert.ok(pages < 1000, 'paging does not end');
    pageToken = page.nextPageToken;
  }
  assert.ok(totalSize >= mine.size, `totalSize ${totalSize} counts our ${mine.size}`);
  assert.equal(seen.size, totalSize, 'pages hold exactly totalSize organizations');
  assert.ok(pages >= Math.ceil(totalSize / 2));
  for (const id of mine) assert.ok(seen.has(id), `${id} was listed`);
});

test('search organizations by display name fragment', async () => {
  const frag = `Zyx${RUN.replace(/[^a-z0-9]/gi, '')}`;
  const a = await scalekit.organization.createOrganization(`Northwind ${frag} Traders`);
  const b = await scalekit.organization.createOrganization(`Contoso ${frag}`);
  await scalekit.organization.createOrganization(`Unrelated ${RUN}`);
  const found = await scalekit.organization.searchOrganization(frag, 10);
  const ids = found.organizations.map((o) => o.id).sort();
  assert.deepEqual(ids, [a.organization.id, b.organization.id].sort());
  assert.equal(found.totalSize, 2);
  for (const o of found.organizations) assert.ok(o.displayName.includes(frag));
});

test('external id and metadata over REST, exactly as the curl examples send them', async () => {
  // "Create a new organization with an external ID": the body has a trailing comma. The
  // external id gets the run suffix; the bytes around it are the document's.
  const extId = `CUST-12345-MGSFT-${RUN}`;
  const created = restOrganization(
    await rest(
      'POST',
      '/api/v1/organizations',
      `{ "display_name": "Megasoft Inc", "external_id": "${extId}",}`,
    ),
  );
  assert.equal(pick(created, 'external_id', 'externalId'), extId);
  assert.equal(pick(created, 'display_name', 'displayName'), 'Megasoft Inc');

  // "Update an existing organization's external ID".
  const tenantId = `TENANT-12345-MGSFT-${RUN}`;
  const moved = restOrganization(
    await rest(
      'PATCH',
      `/api/v1/organizations/${created.id}`,
      `{ "display_name": "Megasoft Inc", "external_id": "${tenantId}",}`,
    ),
  );
  assert.equal(moved.id, created.id);
  assert.equal(pick(moved, 'external_id', 'externalId'), tenantId);
  const viaSdk = await scalekit.organization.getOrganizationByExternalId(tenantId);
  assert.equal(viaSdk.organization.id, created.id);

  // "Create a new organization with metadata" and "Update an existing organization's metadata",
  // verbatim.
  const withMeta = restOrganization(
    await rest(
      'POST',
      '/api/v1/organizations',
      '{ "display_name": "Megasoft Inc", "metadata": { "invoice_email": "invoices@megasoft.com" }}',
    ),
  );
  assert.equal(withMeta.metadata?.invoice_email, 'invoices@megasoft.com');
  const patched = restOrganization(
    await rest(
      'PATCH',
      `/api/v1/organizations/${withMeta.id}`,
      '{ "display_name": "Megasoft Inc", "metadata": { "invoice_email": "billing@megasoft.com" }}',
    ),
  );
  assert.equal(patched.metadata?.invoice_email, 'billing@megasoft.com');

  // "All organization endpoints that return organization details will include the external ID
  // and metadata": read it back through the SDK (gRPC); protobuf-es maps are plain objects.
  const got = await scalekit.organization.getOrganization(withMeta.id);
  assert.equal(got.organization.displayName, 'Megasoft Inc');
  assert.equal(got.organization.metadata.invoice_email, 'billing@megasoft.com');
  assert.equal(got.organization.externalId, undefined, 'no external id was set');
});

test('duplicate external id is a conflict', async () => {
  const extId = `DUP-${RUN}`;
  await scalekit.organization.createOrganization('First Owner', { externalId: extId });
  const err = await expectReject(
    scalekit.organization.createOrganization('Second Owner', { externalId: extId }),
    ScalekitConflictException,
  );
  assert.equal(err.httpStatus, 409);
  assert.equal(err.errorCode, 'ALREADY_EXISTS');
  // The loser was not created.
  const listed = await scalekit.organization.listOrganization({ externalId: extId });
  assert.equal(listed.totalSize, 1);
  assert.equal(listed.organizations[0].displayName, 'First Owner');
});

test('external id is at most 255 characters', async () => {
  const suffix = `-${RUN}`;
  const long = 'L'.repeat(256 - suffix.length) + suffix;
  assert.equal(long.length, 256);
  const err = await expectReject(
    scalekit.organization.createOrganization('Too Long Ltd', { externalId: long }),
    ScalekitBadRequestException,
  );
  assert.equal(err.httpStatus, 400);
  assert.match(err.message, /external_id/);

  const max = long.slice(1);
  assert.equal(max.length, 255);
  const ok = await scalekit.organization.createOrganization('Just Fits Ltd', { externalId: max });
  assert.equal(ok.organization.externalId, max);
  const found = await scalekit.organization.getOrganizationByExternalId(max);
  assert.equal(found.organization.id, ok.organization.id);
});

test('delete an organization', async () => {
  const extId = `DEL-${RUN}`;
  const { organization } = await scalekit.organization.createOrganization('Short Lived', {
    externalId: extId,
  });
  await scalekit.organization.deleteOrganization(organization.id);
  const err = await expectReject(
    scalekit.organization.getOrganization(organization.id),
    ScalekitNotFoundException,
  );
  assert.equal(err.httpStatus, 404);
  await expectReject(
    scalekit.organization.getOrganizationByExternalId(extId),
    ScalekitNotFoundException,
  );
  // The external id is free again.
  const reborn = await scalekit.organization.createOrganization('Born Again', {
    externalId: extId,
  });
  assert.notEqual(reborn.organization.id, organization.id);
});

test('a client with a wrong secret is refused', async () => {
  const bad = new ScalekitClient(url, clientId, `${clientSecret}-wrong`);
  // Observed SDK quirk: a failed token request lets the raw AxiosError escape.
  await assert.rejects(bad.organization.listOrganization({ pageSize: 1 }), (err) => {
    assert.ok(!(err instanceof ScalekitException), 'the SDK does not wrap token failures');
    assert.equal(err.response?.status, 401, `got ${err?.message}`);
    return true;
  });
});
