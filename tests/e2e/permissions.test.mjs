// The document permission matrix (legacy Databases API): every role kind a permission can name,
// against every kind of caller, with the collection deciding (documentSecurity off) and with the
// document deciding (documentSecurity on). Expectations follow from the roles each caller holds.
// Then: what a guest may count, which roles a client may grant, and that API keys bypass it all.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, node, endpoint, projectId, userClient } from './helpers.mjs';

const guest = () => new node.Client().setEndpoint(endpoint).setProject(projectId);
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const { Query } = node;

const OK = 'ok';
const DENIED = '401 user_unauthorized';
const HIDDEN = '404 document_not_found';

/** The document calls of the legacy Databases API, for one client. */
function docs(client) {
  const d = new node.Databases(client);
  const ids = (db, c) => ({ databaseId: db, collectionId: c });
  return {
    createCollection: (db, id, permissions, security) =>
      d.createCollection({ databaseId: db, collectionId: id, name: id, permissions, documentSecurity: security, attributes: [{ key: 'text', type: 'string', size: 64, required: true }] }),
    create: (db, c, id, data, permissions) => d.createDocument({ ...ids(db, c), documentId: id, data, permissions }),
    get: (db, c, id) => d.getDocument({ ...ids(db, c), documentId: id }),
    list: async (db, c, queries = []) => {
      const r = await d.listDocuments({ ...ids(db, c), queries });
      return { total: r.total, ids: r.documents.map((x) => x.$id).sort(), items: r.documents };
    },
    update: (db, c, id, data, permissions) => d.updateDocument({ ...ids(db, c), documentId: id, data, permissions }),
    remove: (db, c, id) => d.deleteDocument({ ...ids(db, c), documentId: id }),
  };
}

/** Awaits one call: `{ outcome: 'ok', value }`, or the `code type` of the AppwriteException it threw. */
async function attempt(promise) {
  try {
    return { outcome: OK, value: await promise };
  } catch (e) {
    if (e?.constructor?.name !== 'AppwriteException') throw e;
    return { outcome: `${e.code} ${e.type}` };
  }
}

/** `read`, `update` and `delete` for one role (what a document grants in the matrix). */
const grant = (role, actions = ['read', 'update', 'delete']) => actions.map((a) => `${a}("${role}")`);

/**
 * The roles a signed-in user holds (`appwrite-api.md` §2.1), from the user and memberships as
 * the server reports them: `any`, `users`, `users/verified|unverified`, `user:ID` (and its
 * verification dimension), `label:X` per label, and per membership `team:T`, `team:T/ROLE`, `member:M`.
 */
function rolesOfUser(user, memberships) {
  const status = user.emailVerification || user.phoneVerification ? 'verified' : 'unverified';
  return new Set([
    'any', 'users', `users/${status}`, `user:${user.$id}`, `user:${user.$id}/${status}`,
    ...user.labels.map((l) => `label:${l}`),
    ...memberships.filter((m) => m.confirm).flatMap((m) => [`team:${m.teamId}`, ...m.roles.map((r) => `team:${m.teamId}/${r}`), `member:${m.$id}`]),
  ]);
}

/** One database, five users, a team and a label, made once for the whole file. */
let world;
before(async () => {
  const admin = adminClient();
  const db = uid('perm');
  await new node.Databases(admin).create({ databaseId: db, name: db });
  const names = ['unverified', 'verified', 'member', 'vip', 'nobody'];
  const made = await Promise.all(names.map((name) => userClient({ name })));
  const signedIn = Object.fromEntries(names.map((name, i) => [name, made[i]]));

  const users = new node.Users(admin);
  await users.updateEmailVerification({ userId: signedIn.verified.user.$id, emailVerification: true });
  await users.updateLabels({ userId: signedIn.vip.user.$id, labels: ['vip'] });
  const teams = new node.Teams(admin);
  const team = await teams.create({ teamId: uid('team'), name: 'Editors' });
  const membership = await teams.createMembership({ teamId: team.$id, roles: ['editor'], userId: signedIn.member.user.$id });
  assert.equal(membership.confirm, true, 'a server key adds members directly');

  const callers = [{ name: 'guest', client: guest(), id: null, roles: new Set(['any', 'guests']) }];
  for (const name of names) {
    const userId = signedIn[name].user.$id;
    const user = await users.get({ userId });
    const { memberships } = await users.listMemberships({ userId });
    callers.push({ name, client: signedIn[name].client, id: userId, roles: rolesOfUser(user, memberships) });
  }
  const by = Object.fromEntries(callers.map((c) => [c.name, c]));
  // The set-up the matrix relies on, as the server reports it.
  assert.ok(by.verified.roles.has('users/verified'));
  assert.ok(by.unverified.roles.has('users/unverified'));
  assert.ok(by.vip.roles.has('label:vip'));
  assert.ok(by.member.roles.has(`team:${team.$id}/editor`));
  assert.ok(!by.member.roles.has(`team:${team.$id}/owner`), 'a team made by a key has no owner');
  world = { db, team, membership, callers, by };
});

/** Each role kind, naming one role of the shared world. `unheld`: no caller holds it, on purpose. */
const ROLE_KINDS = [
  { kind: 'any', role: () => 'any' },
  { kind: 'guests', role: () => 'guests' },
  { kind: 'users', role: () => 'users' },
  { kind: 'users/verified', role: () => 'users/verified' },
  { kind: 'users/unverified', role: () => 'users/unverified' },
  { kind: 'user:ID', role: (w) => `user:${w.by.verified.id}` },
  { kind: 'team:ID', role: (w) => `team:${w.team.$id}` },
  { kind: 'team:ID/ROLE', role: (w) => `team:${w.team.$id}/editor` },
  { kind: 'team:ID/ROLE, a role nobody has', role: (w) => `team:${w.team.$id}/owner`, unheld: true },
  { kind: 'member:MEMBERSHIP_ID', role: (w) => `member:${w.membership.$id}` },
  { kind: 'label:X', role: () => 'label:vip' },
];

for (const { kind, role: roleOf, unheld } of ROLE_KINDS) {
  test(`permission matrix: ${kind}`, async () => {
    const { db, callers, by } = world;
    const role = roleOf(world);
    const holders = callers.filter((c) => c.roles.has(role)).map((c) => c.name);
    assert.equal(holders.length === 0, Boolean(unheld), `holders of ${role}: ${holders}`);
    if (role !== 'any') assert.ok(holders.length < callers.length, `someone lacks ${role}`);

    const admin = docs(adminClient());
    // Collection-level: the role may do everything; documents carry a decoy grant that must not
    // count while documentSecurity is off.
    const open = uid('open');
    await admin.createCollection(db, open, grant(role, ['read', 'create', 'update', 'delete']), false);
    // Document-level: the collection grants only create("any"); each document grants the role.
    const secure = uid('secure');
    await admin.createCollection(db, secure, ['create("any")'], true);
    const decoy = `user:${by.nobody.id}`;
    // What each collection holds (id → text), kept in step with every successful call.
    const model = { [open]: new Map(), [secure]: new Map() };
    for (const who of callers) {
      await admin.create(db, open, who.name, { text: 'original' }, grant(decoy));
      model[open].set(who.name, 'original');
      await admin.create(db, secure, who.name, { text: 'original' }, grant(role));
      model[secure].set(who.name, 'original');
    }

    for (const who of callers) {
      const as = docs(who.client);
      const holds = who.roles.has(role);
      const check = async (what, promise, want) => {
        const { outcome, value } = await attempt(promise);
        assert.equal(outcome, want, `${kind}: ${who.name} (${holds ? 'holds' : 'lacks'} ${role}) ${what}`);
        return value;
      };
      const sees = (c, list, what) => {
        assert.deepEqual(list.ids, [...model[c].keys()].sort(), `${kind}: ${who.name} ${what}`);
        assert.equal(list.total, model[c].size, `${kind}: ${who.name} ${what}, total`);
      };

      // documentSecurity off: the collection's permissions alone decide.
      const openList = await check('lists, documentSecurity off', as.list(db, open), holds ? OK : DENIED);
      if (holds) sees(open, openList, 'lists every document');
      const got = await check('gets, documentSecurity off', as.get(db, open, who.name), holds ? OK : DENIED);
      if (holds) assert.equal(got.text, 'original');
      const updated = await check('updates, documentSecurity off', as.update(db, open, who.name, { text: `by ${who.name}` }), holds ? OK : DENIED);
      if (holds) {
        assert.equal(updated.text, `by ${who.name}`);
        model[open].set(who.name, updated.text);
      }
      await check('deletes, documentSecurity off', as.remove(db, open, who.name), holds ? OK : DENIED);
      if (holds) model[open].delete(who.name);
      const created = await check('creates, documentSecurity off', as.create(db, open, `new-${who.name}`, { text: 'made' }), holds ? OK : DENIED);
      if (holds) {
        // Without `permissions`, a user gets read/update/delete on its own document; a guest, nothing.
        assert.deepEqual([...created.$permissions].sort(), who.id ? grant(`user:${who.id}`).sort() : []);
        model[open].set(created.$id, 'made');
      }

      // documentSecurity on: the document's permissions decide.
      const secureList = await check('lists, documentSecurity on', as.list(db, secure), OK);
      if (holds) sees(secure, secureList, 'lists every document it may read');
      else {
        assert.deepEqual(secureList.ids, [], `${kind}: ${who.name} lists nothing`);
        assert.equal(secureList.total, 0, `${kind}: ${who.name} counts nothing`);
      }
      const seen = await check('gets, documentSecurity on', as.get(db, secure, who.name), holds ? OK : HIDDEN);
      if (holds) assert.equal(seen.text, 'original');
      const changed = await check('updates, documentSecurity on', as.update(db, secure, who.name, { text: `by ${who.name}` }), holds ? OK : DENIED);
      if (holds) {
        assert.equal(changed.text, `by ${who.name}`);
        model[secure].set(who.name, changed.text);
      }
      await check('deletes, documentSecurity on', as.remove(db, secure, who.name), holds ? OK : DENIED);
      if (holds) model[secure].delete(who.name);
      // A client may grant only roles it holds (admins, any role: the documents above).
      const granted = await check(`creates a document granting ${role}`, as.create(db, secure, `new-${who.name}`, { text: 'made' }, grant(role)), holds ? OK : DENIED);
      if (holds) {
        assert.deepEqual([...granted.$permissions].sort(), grant(role).sort());
        model[secure].set(granted.$id, 'made');
      }
    }

    // The API key sees everything, and every refused call left its document as it was.
    for (const c of [open, secure]) {
      const all = await admin.list(db, c);
      assert.equal(all.total, model[c].size, `${kind}: the key counts every document`);
      assert.deepEqual(Object.fromEntries(all.items.map((d) => [d.$id, d.text])), Object.fromEntries(model[c]), `${kind}: what the key sees`);
    }
  });
}

test('a guest never counts a private document, whatever the query; an API key sees everything', async () => {
  const { db, team, callers, by } = world;
  const admin = docs(adminClient());
  const c = uid('mixed');
  await admin.createCollection(db, c, ['create("any")'], true);
  const seed = [
    ['pub-any', ['read("any")']],
    ['pub-guests', ['read("guests")']],
    ['users', ['read("users")']],
    ['verified', ['read("users/verified")']],
    ['nobodys', [`read("user:${by.nobody.id}")`]],
    ['team', [`read("team:${team.$id}")`]],
    ['label', ['read("label:vip")']],
    ['update-only', ['update("any")', 'delete("any")']],
    ['none', []],
  ];
  for (const [id, permissions] of seed) await admin.create(db, c, id, { text: id }, permissions);
  const privateIds = seed.map(([id]) => id).filter((id) => !id.startsWith('pub'));

  for (const who of callers) {
    const as = docs(who.client);
    const readable = seed.filter(([, perms]) => perms.some((p) => p.startsWith('read(') && who.roles.has(p.slice(6, -2)))).map(([id]) => id).sort();
    const at = (what) => `${who.name} ${what}`;
    const all = await as.list(db, c);
    assert.deepEqual(all.ids, readable, at('lists what it may read'));
    assert.equal(all.total, readable.length, at('counts what it may read'));
    const first = await as.list(db, c, [Query.orderAsc('$id'), Query.limit(1)]);
    assert.deepEqual(first.ids, readable.slice(0, 1), at('limit 1'));
    assert.equal(first.total, readable.length, at('total ignores limit'));
    const rest = await as.list(db, c, [Query.orderAsc('$id'), Query.offset(1)]);
    assert.deepEqual(rest.ids, readable.slice(1), at('offset 1'));
    assert.equal(rest.total, readable.length, at('total ignores offset'));
    const asked = await as.list(db, c, [Query.equal('$id', privateIds)]);
    const readablePrivate = privateIds.filter((id) => readable.includes(id)).sort();
    assert.deepEqual(asked.ids, readablePrivate, at('asking for private documents by id'));
    assert.equal(asked.total, readablePrivate.length, at('counting private documents by id'));
    const text = await as.list(db, c, [Query.startsWith('text', 'n')]);
    assert.equal(text.total, readable.filter((id) => id.startsWith('n')).length, at('filtering on data'));
    for (const [id] of seed) {
      const { outcome } = await attempt(as.get(db, c, id));
      assert.equal(outcome, readable.includes(id) ? OK : HIDDEN, at(`gets ${id}`));
    }
  }
  // Spelled out for the guest.
  const asGuest = docs(guest());
  const guestView = await asGuest.list(db, c);
  assert.deepEqual(guestView.ids, ['pub-any', 'pub-guests']);
  assert.equal(guestView.total, 2, 'a guest counts only public documents');
  assert.equal((await asGuest.list(db, c, [Query.equal('$id', ['none', 'users'])])).total, 0);
  // update/delete without read: the document stays invisible but may be changed.
  assert.equal((await asGuest.update(db, c, 'update-only', { text: 'blind' })).text, 'blind');

  // Collection read OR document read: with read("users") on the collection every user reads all.
  const shared = uid('shared');
  await admin.createCollection(db, shared, ['read("users")'], true);
  await admin.create(db, shared, 'open', { text: 'open' }, ['read("any")']);
  await admin.create(db, shared, 'closed', { text: 'closed' }, []);
  for (const who of callers) {
    const list = await docs(who.client).list(db, shared);
    const expected = who.roles.has('users') ? ['closed', 'open'] : ['open'];
    assert.deepEqual(list.ids, expected, `${who.name} in a collection users may read`);
    assert.equal(list.total, expected.length);
  }

  // The API key: every document, every call, no permissions needed.
  const everything = await admin.list(db, c);
  assert.deepEqual(everything.ids, seed.map(([id]) => id).sort());
  assert.equal(everything.total, seed.length);
  assert.equal((await admin.list(db, c, [Query.limit(1)])).total, seed.length);
  assert.equal((await admin.get(db, c, 'none')).text, 'none');
  assert.equal((await admin.update(db, c, 'none', { text: 'edited' })).text, 'edited');
  await admin.remove(db, c, 'none');
  assert.equal((await admin.list(db, shared)).total, 2);
  const locked = uid('locked');
  await admin.createCollection(db, locked, [], false);
  await admin.create(db, locked, 'd', { text: 'x' });
  assert.equal((await admin.list(db, locked)).total, 1, 'a collection without permissions is open to the key');
  const { outcome } = await attempt(docs(by.vip.client).list(db, locked));
  assert.equal(outcome, DENIED, 'and closed to everyone else');
});

test('a client grants only roles it holds, on create and on update', async () => {
  const { db, team, by } = world;
  const admin = docs(adminClient());
  const c = uid('grants');
  await admin.createCollection(db, c, ['create("any")'], true);
  const vip = by.vip;
  const as = docs(vip.client);
  const mine = await as.create(db, c, 'mine', { text: 'mine' });
  assert.deepEqual([...mine.$permissions].sort(), grant(`user:${vip.id}`).sort());

  for (const role of [`user:${by.verified.id}`, 'users/verified', 'guests', `team:${team.$id}`, `member:${world.membership.$id}`, 'label:gold']) {
    const create = await attempt(as.create(db, c, uid('x'), { text: 'x' }, [`read("${role}")`]));
    assert.equal(create.outcome, DENIED, `vip may not grant ${role} on create`);
    const update = await attempt(as.update(db, c, 'mine', undefined, [...grant(`user:${vip.id}`), `read("${role}")`]));
    assert.equal(update.outcome, DENIED, `vip may not grant ${role} on update`);
  }
  assert.deepEqual([...(await admin.get(db, c, 'mine')).$permissions].sort(), grant(`user:${vip.id}`).sort(), 'refused grants changed nothing');
  const held = ['read("label:vip")', 'read("users/unverified")', `update("user:${vip.id}/unverified")`, `delete("user:${vip.id}")`, 'read("any")'];
  assert.deepEqual((await as.update(db, c, 'mine', undefined, held)).$permissions, held, 'roles it holds, it may grant');
  const asGuest = docs(guest());
  assert.equal((await attempt(asGuest.create(db, c, uid('g'), { text: 'g' }, ['read("users")']))).outcome, DENIED, 'a guest may not grant users');
  assert.deepEqual((await asGuest.create(db, c, 'by-guest', { text: 'g' }, ['read("guests")', 'read("any")'])).$permissions, ['read("guests")', 'read("any")']);
  // An API key may grant any role.
  assert.deepEqual((await admin.update(db, c, 'mine', undefined, ['read("label:gold")'])).$permissions, ['read("label:gold")']);
  assert.equal((await attempt(as.get(db, c, 'mine'))).outcome, HIDDEN, 'and take a role away at once');
});
