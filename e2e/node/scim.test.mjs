// End-to-end test: full Okta and Entra ID provisioning sessions against a running Roster
// server's SCIM endpoint (issue 13), with the directory's state checked along the way through
// the official Scalekit Node SDK: `scalekit.directory.getDirectory`,
// `getPrimaryDirectoryByOrganizationId`, `listDirectoryUsers` (includeDetail,
// directoryGroupId, updatedAfter), `listDirectoryGroups`, and `scalekit.user.getUser`,
// `listOrganizationUsers`, `listUserRoles`.
//
// The sessions are the files of ../../scim/testdata/replay (their format: that folder's
// README.md), which api/scim_replay_test.go replays as well and checks through the REST API:
// one description of each session, two runners. Each file is one test here.
//
//   SCALEKIT_ENVIRONMENT_URL=http://127.0.0.1:8080 SCALEKIT_CLIENT_ID=... \
//   SCALEKIT_CLIENT_SECRET=... node --test scim.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScalekitClient, ScalekitNotFoundException } from '@scalekit-sdk/node';
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
const REPLAY_DIR = new URL('../../scim/testdata/replay/', import.meta.url);

// The wire enums (scalekit.v1.directories): DirectoryType SCIM = 1; DirectoryProvider by name.
const SCIM = 1;
const PROVIDERS = { OKTA: 1, MICROSOFT_AD: 3 };

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

// REST for the two calls the SDK does not wrap: the directory secret and AssignRoles.
async function rest(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${await token()}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// Keys a runner knows; any other key in a session file fails the test, so a misspelt check
// cannot check nothing.
const KEYS = {
  session: ['about', 'provider', 'headers', 'steps'],
  step: ['name', 'method', 'path', 'headers', 'body', 'bodyFrom', 'merge', 'status', 'capture', 'expect', 'mark', 'assignRoles', 'check'],
  assignment: ['group', 'role'],
  check: ['directory', 'users', 'groups', 'updatedAfter'],
  directory: ['users', 'groups'],
  user: ['directoryUser', 'groups', 'email', 'membership', 'profile', 'roles'],
  group: ['displayName', 'totalUsers', 'members', 'groupDetail'],
  updatedAfter: ['mark', 'users', 'groups'],
};

function known(kind, value, where) {
  assert.ok(value && typeof value === 'object' && !Array.isArray(value), `${where}: a ${kind} must be an object`);
  for (const k of Object.keys(value)) assert.ok(KEYS[kind].includes(k), `${where}: unknown ${kind} key "${k}"`);
}

// expect patterns (README.md): objects match a subset of keys, arrays element by element
// with the same length, null an absent key, {"$count": n} an array of n elements.
function match(want, got, at, diffs = []) {
  if (want === null) {
    if (got !== undefined && got !== null) diffs.push(`${at} = ${JSON.stringify(got)}, want it absent`);
  } else if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      diffs.push(`${at} = ${JSON.stringify(got)}, want ${want.length} elements like ${JSON.stringify(want)}`);
    } else {
      want.forEach((w, i) => match(w, got[i], `${at}[${i}]`, diffs));
    }
  } else if (typeof want === 'object') {
    const keys = Object.keys(want);
    if (keys.length === 1 && keys[0] === '$count') {
      if (!Array.isArray(got) || got.length !== want.$count) diffs.push(`${at} = ${JSON.stringify(got)}, want ${want.$count} elements`);
    } else if (!got || typeof got !== 'object' || Array.isArray(got)) {
      diffs.push(`${at} = ${JSON.stringify(got)}, want an object`);
    } else {
      for (const k of keys.sort()) match(want[k], got[k], `${at}.${k}`, diffs);
    }
  } else if (want !== got) {
    diffs.push(`${at} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  return diffs;
}

function mergePatch(target, patch) {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const sorted = (a) => [...a].sort();

// One session against a new organization and directory of this server.
class Replay {
  constructor(file, session) {
    this.file = file;
    this.session = session;
    this.vars = { domain: `${file.replace(/\.json$/, '')}-${RUN}.test`.toLowerCase() };
    this.answers = new Map(); // step name → its answer
    this.marks = new Map(); // mark → Date
    this.userIds = new Map(); // alias → the Roster user ID seen at a check
  }

  fill(s) {
    return s.replace(/\{(uuid|domain|(?:user|group):[A-Za-z0-9_-]+)\}/g, (m, key) => {
      if (key === 'uuid') return randomUUID();
      assert.ok(key in this.vars, `placeholder ${m} used before it was captured`);
      return this.vars[key];
    });
  }

  fillJSON(v) {
    if (typeof v === 'string') return this.fill(v);
    if (Array.isArray(v)) return v.map((e) => this.fillJSON(e));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, this.fillJSON(e)]));
    return v;
  }

  id(kind, alias) {
    return this.fill(`{${kind}:${alias}}`);
  }

  ids(kind, aliases) {
    return sorted(aliases.map((a) => this.id(kind, a)));
  }

  async setUp() {
    const { organization: org } = await scalekit.organization.createOrganization(`SCIM replay ${this.file} ${RUN}`);
    await scalekit.domain.createDomain(org.id, this.vars.domain);
    const provider = PROVIDERS[this.session.provider];
    assert.ok(provider, `${this.file}: unknown provider ${this.session.provider}`);
    const { directory: dir } = await scalekit.directory.createDirectory(org.id, { directoryType: SCIM, directoryProvider: provider });
    assert.equal(dir.directoryEndpoint, `${url}/scim/v2/${dir.id}`);
    const secret = await rest('POST', `/api/v1/organizations/${org.id}/directories/${dir.id}/secrets`);
    this.org = org;
    this.dir = dir;
    this.secret = secret.plain_secret;
  }

  async run() {
    known('session', this.session, this.file);
    await this.setUp();
    for (const [i, step] of this.session.steps.entries()) {
      const where = `${this.file} step ${i + 1} "${step.name}"`;
      known('step', step, where);
      if (step.method) await this.request(where, step);
      else if (step.mark) {
        await sleep(5);
        this.marks.set(step.mark, new Date());
        await sleep(5);
      } else if (step.assignRoles) await this.assignRoles(where, step.assignRoles);
      else if (step.check) await this.check(where, step.check);
      else assert.fail(`${where}: neither a request, a mark, a role mapping nor a check`);
    }
  }

  async request(where, step) {
    let body;
    if (step.bodyFrom) {
      assert.ok(this.answers.has(step.bodyFrom), `${where}: bodyFrom "${step.bodyFrom}": no answer of that step`);
      body = this.answers.get(step.bodyFrom);
      if (step.merge !== undefined) body = mergePatch(body, this.fillJSON(step.merge));
    } else if (step.body !== undefined) {
      body = this.fillJSON(step.body);
    }
    const path = this.fill(step.path);
    const res = await fetch(this.dir.directoryEndpoint + path, {
      method: step.method,
      headers: { ...this.session.headers, ...step.headers, Authorization: `Bearer ${this.secret}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, step.status, `${where}: ${step.method} ${path} answered ${res.status} ${text}, want ${step.status}`);
    if (text) {
      // "all responses application/scim+json" (Entra's guidelines)
      assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/, `${where}: Content-Type`);
    }
    const answer = text ? JSON.parse(text) : undefined;
    this.answers.set(step.name, answer);
    if (step.expect !== undefined) {
      const diffs = match(this.fillJSON(step.expect), answer, 'answer');
      assert.deepEqual(diffs, [], `${where}: ${diffs.join('; ')}\nanswer: ${text}`);
    }
    if (step.capture) {
      assert.ok(answer?.id, `${where}: capture ${step.capture}: the answer has no id: ${text}`);
      this.vars[step.capture] = answer.id;
    }
  }

  async assignRoles(where, assignments) {
    const list = assignments.map((a) => {
      known('assignment', a, where);
      return { group_id: this.id('group', a.group), role_name: a.role };
    });
    const res = await rest('PUT', `/api/v1/organizations/${this.org.id}/directories/${this.dir.id}/groups/-/roles:assign`, { assignments: list });
    assert.equal(res.role_assignments.assignments.length, list.length, `${where}: ${JSON.stringify(res)}`);
  }

  // Every page of a directory list through the SDK.
  async all(list, field, options = {}) {
    const out = [];
    let pageToken;
    do {
      const page = await scalekit.directory[list](this.org.id, this.dir.id, { pageSize: 30, ...options, pageToken });
      out.push(...page[field]);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  async check(where, c) {
    known('check', c, where);
    const org = this.org.id;
    const dir = this.dir.id;
    const usersPage = await scalekit.directory.listDirectoryUsers(org, dir, { pageSize: 30, includeDetail: true });
    const groupsPage = await scalekit.directory.listDirectoryGroups(org, dir, { pageSize: 30, includeDetail: true });
    assert.equal(usersPage.nextPageToken, '', `${where}: the replay's directory has more than one page of users`);
    const dirUsers = new Map(usersPage.users.map((u) => [u.id, u]));
    const dirGroups = new Map(groupsPage.groups.map((g) => [g.id, g]));

    if (c.directory) {
      known('directory', c.directory, where);
      const got = (await scalekit.directory.getDirectory(org, dir)).directory;
      const primary = await scalekit.directory.getPrimaryDirectoryByOrganizationId(org);
      assert.equal(primary.id, dir, `${where}: getPrimaryDirectoryByOrganizationId`);
      if (c.directory.users !== undefined) {
        assert.deepEqual([got.totalUsers, usersPage.totalSize, usersPage.users.length], Array(3).fill(c.directory.users),
          `${where}: getDirectory totalUsers, listDirectoryUsers totalSize and length`);
        assert.equal(primary.totalUsers, c.directory.users, `${where}: the primary directory's totalUsers`);
      }
      if (c.directory.groups !== undefined) {
        assert.deepEqual([got.totalGroups, groupsPage.totalSize, groupsPage.groups.length], Array(3).fill(c.directory.groups),
          `${where}: getDirectory totalGroups, listDirectoryGroups totalSize and length`);
      }
    }

    const orgUsers = c.users ? (await scalekit.user.listOrganizationUsers(org, { pageSize: 100 })).users : [];
    for (const alias of Object.keys(c.users ?? {}).sort()) {
      const want = c.users[alias];
      const at = `${where}: user ${alias}`;
      const id = this.id('user', alias);
      if (want === 'gone') {
        assert.ok(!dirUsers.has(id), `${at}: still in listDirectoryUsers`);
        const userId = this.userIds.get(alias);
        assert.ok(userId, `${at}: gone, but no earlier check saw its Roster user`);
        await assert.rejects(scalekit.user.getUser(userId), ScalekitNotFoundException, `${at}: getUser(${userId}) after the delete`);
        assert.ok(!orgUsers.some((u) => u.id === userId), `${at}: still in listOrganizationUsers`);
        continue;
      }
      known('user', want, at);
      const du = dirUsers.get(id);
      assert.ok(du, `${at}: not in listDirectoryUsers`);
      if (want.directoryUser) {
        const diffs = match(this.fillJSON(want.directoryUser), du, 'DirectoryUser');
        assert.deepEqual(diffs, [], `${at}: ${diffs.join('; ')}`);
      }
      if (want.groups) {
        assert.deepEqual(sorted(du.groups.map((g) => g.id)), this.ids('group', want.groups), `${at}: DirectoryUser groups (${want.groups})`);
      }
      // The Roster user: by the DirectoryUser's email the first time, then by its ID.
      let userId = this.userIds.get(alias);
      if (!userId) {
        const found = orgUsers.find((u) => u.email === du.email);
        assert.ok(found, `${at}: no user ${du.email} in listOrganizationUsers`);
        userId = found.id;
        this.userIds.set(alias, userId);
      }
      assert.ok(orgUsers.some((u) => u.id === userId), `${at}: not in listOrganizationUsers`);
      const { user } = await scalekit.user.getUser(userId);
      const m = user.memberships.find((x) => x.organizationId === org);
      assert.ok(m, `${at}: no membership of the organization`);
      if (want.email) assert.equal(user.email, this.fill(want.email), `${at}: email`);
      if (want.membership) assert.equal(MembershipStatus[m.membershipStatus], want.membership, `${at}: membershipStatus`);
      if (want.profile) {
        const diffs = match(this.fillJSON(want.profile), user.userProfile, 'userProfile');
        assert.deepEqual(diffs, [], `${at}: ${diffs.join('; ')}`);
      }
      if (want.roles) {
        assert.deepEqual(sorted(m.roles.map((r) => r.name)), sorted(want.roles), `${at}: the membership's roles`);
        const { roles } = await scalekit.user.listUserRoles(org, userId);
        assert.deepEqual(sorted(roles.map((r) => r.name)), sorted(want.roles), `${at}: listUserRoles`);
      }
    }

    for (const alias of Object.keys(c.groups ?? {}).sort()) {
      const want = c.groups[alias];
      const at = `${where}: group ${alias}`;
      const id = this.id('group', alias);
      if (want === 'gone') {
        assert.ok(!dirGroups.has(id), `${at}: still in listDirectoryGroups`);
        await assert.rejects(scalekit.directory.listDirectoryUsers(org, dir, { directoryGroupId: id }), ScalekitNotFoundException,
          `${at}: listDirectoryUsers by the deleted group`);
        continue;
      }
      known('group', want, at);
      const g = dirGroups.get(id);
      assert.ok(g, `${at}: not in listDirectoryGroups`);
      if (want.displayName !== undefined) assert.equal(g.displayName, this.fill(want.displayName), `${at}: displayName`);
      if (want.totalUsers !== undefined) assert.equal(g.totalUsers, want.totalUsers, `${at}: totalUsers`);
      if (want.members) {
        const members = await this.all('listDirectoryUsers', 'users', { directoryGroupId: id });
        assert.deepEqual(sorted(members.map((u) => u.id)), this.ids('user', want.members), `${at}: members (${want.members})`);
      }
      if (want.groupDetail) {
        const diffs = match(this.fillJSON(want.groupDetail), g.groupDetail, 'groupDetail');
        assert.deepEqual(diffs, [], `${at}: ${diffs.join('; ')}`);
      }
    }

    if (c.updatedAfter) {
      known('updatedAfter', c.updatedAfter, where);
      const mark = this.marks.get(c.updatedAfter.mark);
      assert.ok(mark, `${where}: no mark "${c.updatedAfter.mark}"`);
      const updatedAfter = mark.toISOString();
      const users = await this.all('listDirectoryUsers', 'users', { updatedAfter });
      assert.deepEqual(sorted(users.map((u) => u.id)), this.ids('user', c.updatedAfter.users), `${where}: users updated after the mark (${c.updatedAfter.users})`);
      const groups = await this.all('listDirectoryGroups', 'groups', { updatedAfter });
      assert.deepEqual(sorted(groups.map((g) => g.id)), this.ids('group', c.updatedAfter.groups), `${where}: groups updated after the mark (${c.updatedAfter.groups})`);
    }
  }
}

const files = readdirSync(REPLAY_DIR).filter((f) => f.endsWith('.json')).sort();
assert.ok(files.length > 0, `no session files in ${REPLAY_DIR.pathname}`);
for (const file of files) {
  const session = JSON.parse(readFileSync(new URL(file, REPLAY_DIR), 'utf8'));
  test(`SCIM replay ${file}: ${session.provider}, checked through the SDK`, async () => {
    await new Replay(file, session).run();
  });
}
