// Relationship attributes/columns through node-appwrite, both APIs: the four relation types,
// one-way and two-way, ids and nested documents as values, opt-in loading with `select`,
// filters on to-one sides, and onDelete restrict, cascade and setNull.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, rejectsWith, node, userClient } from './helpers.mjs';

const { Query } = node;
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

function api(flavor, client = adminClient()) {
  const legacy = flavor === 'databases';
  const svc = legacy ? new node.Databases(client) : new node.TablesDB(client);
  const ids = (db, c) => (legacy ? { databaseId: db, collectionId: c } : { databaseId: db, tableId: c });
  const doc = (id) => (legacy ? { documentId: id } : { rowId: id });
  return {
    code: (what) => (legacy ? `document_${what}` : `row_${what}`),
    relatedKey: legacy ? 'relatedCollection' : 'relatedTable',
    createDatabase: (id) => svc.create({ databaseId: id, name: id }),
    createCollection: (db, id, permissions = ['read("any")', 'create("any")', 'update("any")', 'delete("any")']) => (legacy
      ? svc.createCollection({ databaseId: db, collectionId: id, name: id, permissions })
      : svc.createTable({ databaseId: db, tableId: id, name: id, permissions })),
    string: (db, c, key) => (legacy
      ? svc.createStringAttribute({ ...ids(db, c), key, size: 64, required: false })
      : svc.createStringColumn({ ...ids(db, c), key, size: 64, required: false })),
    relate: (db, c, related, type, opts = {}) => (legacy
      ? svc.createRelationshipAttribute({ ...ids(db, c), relatedCollectionId: related, type, ...opts })
      : svc.createRelationshipColumn({ ...ids(db, c), relatedTableId: related, type, ...opts })),
    updateRelation: (db, c, key, opts) => (legacy
      ? svc.updateRelationshipAttribute({ ...ids(db, c), key, ...opts })
      : svc.updateRelationshipColumn({ ...ids(db, c), key, ...opts })),
    attributes: (db, c) => (legacy
      ? svc.listAttributes(ids(db, c)).then((r) => r.attributes)
      : svc.listColumns(ids(db, c)).then((r) => r.columns)),
    deleteAttribute: (db, c, key) => (legacy ? svc.deleteAttribute({ ...ids(db, c), key }) : svc.deleteColumn({ ...ids(db, c), key })),
    create: (db, c, id, data) => (legacy ? svc.createDocument({ ...ids(db, c), ...doc(id), data }) : svc.createRow({ ...ids(db, c), ...doc(id), data })),
    get: (db, c, id, queries) => (legacy ? svc.getDocument({ ...ids(db, c), ...doc(id), queries }) : svc.getRow({ ...ids(db, c), ...doc(id), queries })),
    list: (db, c, queries) => (legacy
      ? svc.listDocuments({ ...ids(db, c), queries }).then((r) => r.documents)
      : svc.listRows({ ...ids(db, c), queries }).then((r) => r.rows)),
    update: (db, c, id, data) => (legacy ? svc.updateDocument({ ...ids(db, c), ...doc(id), data }) : svc.updateRow({ ...ids(db, c), ...doc(id), data })),
    remove: (db, c, id) => (legacy ? svc.deleteDocument({ ...ids(db, c), ...doc(id) }) : svc.deleteRow({ ...ids(db, c), ...doc(id) })),
    createMany: (db, c, items) => (legacy ? svc.createDocuments({ ...ids(db, c), documents: items }) : svc.createRows({ ...ids(db, c), rows: items })),
  };
}

const idsOf = (docs) => docs.map((d) => d.$id).sort();

for (const flavor of ['databases', 'tablesdb']) {
  test(`${flavor}: many-to-one and one-to-many, two-way: ids, nested creates, select, filters, restrict`, async () => {
    const a = api(flavor);
    const db = uid('rel');
    await a.createDatabase(db);
    for (const c of ['authors', 'posts', 'books']) await a.createCollection(db, c);
    await a.string(db, 'authors', 'name');
    await a.string(db, 'posts', 'title');
    await a.string(db, 'books', 'title');
    const made = await a.relate(db, 'posts', 'authors', 'manyToOne', { twoWay: true, key: 'author', twoWayKey: 'posts' });
    assert.equal(made.type, 'relationship');
    assert.equal(made[a.relatedKey], 'authors');
    assert.deepEqual([made.relationType, made.twoWay, made.twoWayKey, made.onDelete, made.side], ['manyToOne', true, 'posts', 'restrict', 'parent']);
    const childSide = (await a.attributes(db, 'authors')).find((x) => x.key === 'posts');
    assert.deepEqual([childSide.side, childSide[a.relatedKey], childSide.twoWayKey], ['child', 'posts', 'author']);

    await a.create(db, 'authors', 'ada', { name: 'Ada' });
    const p1 = await a.create(db, 'posts', 'p1', { title: 'Engines', author: 'ada' });
    assert.equal(p1.author, 'ada', 'a to-one side reads as the related id');
    await a.create(db, 'posts', 'p2', { title: 'Machines', author: { $id: 'alan', name: 'Alan' } });
    assert.equal((await a.get(db, 'authors', 'alan')).name, 'Alan', 'a nested document is created');
    await a.create(db, 'posts', 'p3', { title: 'Notes', author: 'ada' });

    assert.deepEqual(idsOf(await a.list(db, 'posts', [Query.equal('author', ['ada'])])), ['p1', 'p3']);
    const loaded = await a.get(db, 'posts', 'p1', [Query.select(['*', 'author.*'])]);
    assert.equal(loaded.title, 'Engines');
    assert.equal(loaded.author.name, 'Ada');
    assert.equal(loaded.author.$id, 'ada');
    assert.equal(loaded.author.posts, undefined, 'the related document does not repeat the link back');
    const narrow = await a.get(db, 'posts', 'p1', [Query.select(['author.name'])]);
    assert.equal(narrow.title, undefined);
    assert.equal(narrow.author.name, 'Ada');
    const ada = await a.get(db, 'authors', 'ada');
    assert.equal(ada.posts, undefined, 'a to-many side loads only when selected');
    const withPosts = await a.get(db, 'authors', 'ada', [Query.select(['*', 'posts.*'])]);
    assert.deepEqual(idsOf(withPosts.posts), ['p1', 'p3']);
    const listed = await a.list(db, 'authors', [Query.select(['name', 'posts.title']), Query.orderAsc('name')]);
    assert.deepEqual(listed.map((x) => [x.name, x.posts.map((p) => p.title).sort()]), [['Ada', ['Engines', 'Notes']], ['Alan', ['Machines']]]);
    await rejectsWith(assert, a.get(db, 'posts', 'p1', [Query.select(['author'])]), 400, 'general_query_invalid');
    await rejectsWith(assert, a.update(db, 'posts', 'p1', { author: ['ada'] }), 400, 'relationship_value_invalid');
    await rejectsWith(assert, a.createMany(db, 'posts', [{ title: 'x' }]), 400, 'general_bad_request');

    // From the "one" side: the list replaces the links; posts linked elsewhere move here.
    await a.update(db, 'authors', 'alan', { posts: ['p2', 'p3'] });
    assert.equal((await a.get(db, 'posts', 'p3')).author, 'alan');
    assert.deepEqual(idsOf((await a.get(db, 'authors', 'ada', [Query.select(['posts.*'])])).posts), ['p1']);

    // restrict: an author with posts stays; unlinked, it goes.
    await rejectsWith(assert, a.remove(db, 'authors', 'ada'), 403, a.code('delete_restricted'));
    await a.update(db, 'posts', 'p1', { author: null });
    assert.equal((await a.get(db, 'posts', 'p1')).author, null);
    await a.remove(db, 'authors', 'ada');

    // one-to-many, parent side to-many: the children read the parent's id.
    await a.relate(db, 'authors', 'books', 'oneToMany', { twoWay: true, key: 'books', twoWayKey: 'writer', onDelete: 'cascade' });
    await a.update(db, 'authors', 'alan', { books: [{ $id: 'b1', title: 'On Computable Numbers' }, { $id: 'b2', title: 'Intelligence' }] });
    assert.deepEqual(idsOf(await a.list(db, 'books', [Query.equal('writer', ['alan'])])), ['b1', 'b2']);
    const renamed = await a.updateRelation(db, 'authors', 'books', { newKey: 'works', onDelete: 'setNull' });
    assert.equal(renamed.key, 'works');
    assert.equal(renamed.onDelete, 'setNull');
    assert.equal((await a.attributes(db, 'books')).find((x) => x.key === 'writer').twoWayKey, 'works');
    assert.deepEqual(idsOf((await a.get(db, 'authors', 'alan', [Query.select(['works.*'])])).works), ['b1', 'b2']);
    await a.updateRelation(db, 'authors', 'works', { onDelete: 'cascade' });
    // cascade: alan's books go with alan (the posts relationship restricts nothing: unlinked first).
    await a.update(db, 'authors', 'alan', { posts: [] });
    await a.remove(db, 'authors', 'alan');
    assert.deepEqual(await a.list(db, 'books', []), []);
    await a.deleteAttribute(db, 'authors', 'works');
    assert.equal((await a.attributes(db, 'books')).some((x) => x.key === 'writer'), false, 'deleting one side deletes both');
  });

  test(`${flavor}: one-to-one one-way with cascade, and many-to-many with setNull`, async () => {
    const a = api(flavor);
    const db = uid('rel');
    await a.createDatabase(db);
    for (const c of ['people', 'profiles', 'tags', 'notes']) await a.createCollection(db, c);
    await a.string(db, 'profiles', 'bio');
    await a.string(db, 'tags', 'label');
    await a.string(db, 'notes', 'text');
    await a.relate(db, 'people', 'profiles', 'oneToOne', { key: 'profile', onDelete: 'cascade' });
    assert.deepEqual((await a.attributes(db, 'profiles')).map((x) => x.key), ['bio'], 'a one-way relationship shows on one side only');
    await a.create(db, 'people', 'u1', { profile: { $id: 'pr1', bio: 'hi' } });
    await rejectsWith(assert, a.create(db, 'people', 'u2', { profile: 'pr1' }), 409, a.code('already_exists'));
    await rejectsWith(assert, a.get(db, 'people', 'u2'), 404, a.code('not_found'));
    assert.equal((await a.get(db, 'profiles', 'pr1')).profile, undefined);
    await a.remove(db, 'people', 'u1');
    await rejectsWith(assert, a.get(db, 'profiles', 'pr1'), 404, a.code('not_found'));

    await a.relate(db, 'notes', 'tags', 'manyToMany', { twoWay: true, key: 'tags', twoWayKey: 'notes', onDelete: 'setNull' });
    await a.create(db, 'tags', 't1', { label: 'one' });
    await a.create(db, 'notes', 'n1', { text: 'x', tags: ['t1', { $id: 't2', label: 'two' }, 'missing'] });
    await a.create(db, 'notes', 'n2', { text: 'y', tags: ['t1'] });
    assert.deepEqual(idsOf((await a.get(db, 'notes', 'n1', [Query.select(['tags.*'])])).tags), ['t1', 't2'], 'unknown ids are not linked');
    assert.deepEqual(idsOf((await a.get(db, 'tags', 't1', [Query.select(['notes.*'])])).notes), ['n1', 'n2']);
    await rejectsWith(assert, a.list(db, 'notes', [Query.equal('tags', ['t1'])]), 400, 'general_query_invalid');
    await a.remove(db, 'notes', 'n1');
    assert.equal((await a.get(db, 'tags', 't2')).label, 'two', 'setNull keeps the related documents');
    assert.deepEqual(idsOf((await a.get(db, 'tags', 't1', [Query.select(['notes.*'])])).notes), ['n2']);
  });
}

for (const flavor of ['databases', 'tablesdb']) {
  test(`${flavor}: links reach only what the caller may read; cascades only what it may delete; cycles end`, async () => {
    const a = api(flavor);
    const db = uid('relsec');
    await a.createDatabase(db);
    const users = ['read("users")', 'create("users")', 'update("users")', 'delete("users")'];
    await a.createCollection(db, 'lists', users);
    await a.createCollection(db, 'vault', []);
    await a.createCollection(db, 'shared', ['read("users")']);
    await a.string(db, 'vault', 'v');
    await a.string(db, 'shared', 'v');
    await a.relate(db, 'lists', 'vault', 'manyToMany', { key: 'secrets', onDelete: 'cascade' });
    await a.relate(db, 'lists', 'shared', 'manyToMany', { key: 'shared', onDelete: 'cascade' });
    await a.create(db, 'vault', 'secret', { v: 'x' });
    await a.create(db, 'shared', 'common', { v: 'y' });
    const { client } = await userClient();
    const asUser = api(flavor, client);
    // The vault is unreadable to the user: no link to it, so no cascade can reach it.
    await rejectsWith(assert, asUser.create(db, 'lists', 'l1', { secrets: ['secret'] }), 401, 'user_unauthorized');
    // Readable but not deletable: linking works, the cascading delete is refused whole.
    await asUser.create(db, 'lists', 'l2', { shared: ['common'] });
    await rejectsWith(assert, asUser.remove(db, 'lists', 'l2'), 401, 'user_unauthorized');
    assert.equal((await a.get(db, 'shared', 'common')).v, 'y');
    assert.equal((await a.get(db, 'vault', 'secret')).v, 'x');
    assert.equal((await asUser.get(db, 'lists', 'l2')).$id, 'l2');

    // A cycle through a self-relationship: the delete takes both and ends.
    await a.createCollection(db, 'nodes');
    await a.relate(db, 'nodes', 'nodes', 'manyToMany', { twoWay: true, key: 'next', twoWayKey: 'prev', onDelete: 'cascade' });
    await a.create(db, 'nodes', 'x', { next: [] });
    await a.create(db, 'nodes', 'y', { next: ['x'] });
    await a.update(db, 'nodes', 'x', { next: ['y'] });
    await a.remove(db, 'nodes', 'x');
    assert.deepEqual(await a.list(db, 'nodes', []), []);
  });
}
