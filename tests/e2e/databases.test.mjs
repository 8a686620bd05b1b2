// Databases and TablesDB through node-appwrite: schema with data, a table-driven query suite run
// through both APIs, permissions by role (collection and document level), concurrency, and
// bad input. The same engine answers both APIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, rejectsWith, node, endpoint, projectId, userClient } from './helpers.mjs';

const guest = () => new node.Client().setEndpoint(endpoint).setProject(projectId);
const uid = (tag) => `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** One API surface over both services, so each suite runs through /databases and /tablesdb. */
function api(flavor, client) {
  if (flavor === 'databases') {
    const d = new node.Databases(client);
    const ids = (db, c) => ({ databaseId: db, collectionId: c });
    return {
      flavor,
      notFound: 'document_not_found',
      invalid: 'document_invalid_structure',
      exists: 'document_already_exists',
      createDatabase: (id) => d.create({ databaseId: id, name: id }),
      createCollection: (db, id, permissions = [], security = false, schema = {}) =>
        d.createCollection({ databaseId: db, collectionId: id, name: id, permissions, documentSecurity: security, attributes: schema.attributes, indexes: schema.indexes }),
      getCollection: (db, c) => d.getCollection(ids(db, c)),
      attr: {
        string: (db, c, key, size, required, xdefault, array) => d.createStringAttribute({ ...ids(db, c), key, size, required, xdefault, array }),
        integer: (db, c, key, required, min, max, xdefault) => d.createIntegerAttribute({ ...ids(db, c), key, required, min, max, xdefault }),
        float: (db, c, key, required) => d.createFloatAttribute({ ...ids(db, c), key, required }),
        boolean: (db, c, key, required, xdefault) => d.createBooleanAttribute({ ...ids(db, c), key, required, xdefault }),
        datetime: (db, c, key, required) => d.createDatetimeAttribute({ ...ids(db, c), key, required }),
        email: (db, c, key, required) => d.createEmailAttribute({ ...ids(db, c), key, required }),
        enum: (db, c, key, elements, required) => d.createEnumAttribute({ ...ids(db, c), key, elements, required }),
        longtext: (db, c, key, required) => d.createLongtextAttribute({ ...ids(db, c), key, required }),
      },
      deleteAttribute: (db, c, key) => d.deleteAttribute({ ...ids(db, c), key }),
      renameString: (db, c, key, newKey) => d.updateStringAttribute({ ...ids(db, c), key, required: false, xdefault: null, newKey }),
      listCollections: (db) => d.listCollections({ databaseId: db }).then((r) => r.collections),
      index: (db, c, key, type, attributes, orders) => d.createIndex({ ...ids(db, c), key, type, attributes, orders }),
      create: (db, c, id, data, permissions) => d.createDocument({ ...ids(db, c), documentId: id, data, permissions }),
      get: (db, c, id) => d.getDocument({ ...ids(db, c), documentId: id }),
      list: async (db, c, queries = [], total) => {
        const r = await d.listDocuments({ ...ids(db, c), queries, total });
        return { total: r.total, items: r.documents };
      },
      update: (db, c, id, data, permissions) => d.updateDocument({ ...ids(db, c), documentId: id, data, permissions }),
      upsert: (db, c, id, data) => d.upsertDocument({ ...ids(db, c), documentId: id, data }),
      remove: (db, c, id) => d.deleteDocument({ ...ids(db, c), documentId: id }),
      increment: (db, c, id, key, value, max) => d.incrementDocumentAttribute({ ...ids(db, c), documentId: id, attribute: key, value, max }),
      decrement: (db, c, id, key, value, min) => d.decrementDocumentAttribute({ ...ids(db, c), documentId: id, attribute: key, value, min }),
      createMany: (db, c, items) => d.createDocuments({ ...ids(db, c), documents: items }).then((r) => r.documents),
      upsertMany: (db, c, items) => d.upsertDocuments({ ...ids(db, c), documents: items }).then((r) => r.documents),
      updateMany: (db, c, data, queries) => d.updateDocuments({ ...ids(db, c), data, queries }).then((r) => r.documents),
      deleteMany: (db, c, queries) => d.deleteDocuments({ ...ids(db, c), queries }).then((r) => r.documents),
    };
  }
  const t = new node.TablesDB(client);
  const ids = (db, c) => ({ databaseId: db, tableId: c });
  return {
    flavor,
    notFound: 'row_not_found',
    invalid: 'row_invalid_structure',
    exists: 'row_already_exists',
    createDatabase: (id) => t.create({ databaseId: id, name: id }),
    createCollection: (db, id, permissions = [], security = false, schema = {}) =>
      t.createTable({ databaseId: db, tableId: id, name: id, permissions, rowSecurity: security, columns: schema.attributes, indexes: schema.indexes }),
    getCollection: (db, c) => t.getTable(ids(db, c)),
    attr: {
      string: (db, c, key, size, required, xdefault, array) => t.createStringColumn({ ...ids(db, c), key, size, required, xdefault, array }),
      integer: (db, c, key, required, min, max, xdefault) => t.createIntegerColumn({ ...ids(db, c), key, required, min, max, xdefault }),
      float: (db, c, key, required) => t.createFloatColumn({ ...ids(db, c), key, required }),
      boolean: (db, c, key, required, xdefault) => t.createBooleanColumn({ ...ids(db, c), key, required, xdefault }),
      datetime: (db, c, key, required) => t.createDatetimeColumn({ ...ids(db, c), key, required }),
      email: (db, c, key, required) => t.createEmailColumn({ ...ids(db, c), key, required }),
      enum: (db, c, key, elements, required) => t.createEnumColumn({ ...ids(db, c), key, elements, required }),
      longtext: (db, c, key, required) => t.createLongtextColumn({ ...ids(db, c), key, required }),
    },
    deleteAttribute: (db, c, key) => t.deleteColumn({ ...ids(db, c), key }),
    renameString: (db, c, key, newKey) => t.updateStringColumn({ ...ids(db, c), key, required: false, xdefault: null, newKey }),
    listCollections: (db) => t.listTables({ databaseId: db }).then((r) => r.tables),
    index: (db, c, key, type, columns, orders) => t.createIndex({ ...ids(db, c), key, type, columns, orders }),
    create: (db, c, id, data, permissions) => t.createRow({ ...ids(db, c), rowId: id, data, permissions }),
    get: (db, c, id) => t.getRow({ ...ids(db, c), rowId: id }),
    list: async (db, c, queries = [], total) => {
      const r = await t.listRows({ ...ids(db, c), queries, total });
      return { total: r.total, items: r.rows };
    },
    update: (db, c, id, data, permissions) => t.updateRow({ ...ids(db, c), rowId: id, data, permissions }),
    upsert: (db, c, id, data) => t.upsertRow({ ...ids(db, c), rowId: id, data }),
    remove: (db, c, id) => t.deleteRow({ ...ids(db, c), rowId: id }),
    increment: (db, c, id, key, value, max) => t.incrementRowColumn({ ...ids(db, c), rowId: id, column: key, value, max }),
    decrement: (db, c, id, key, value, min) => t.decrementRowColumn({ ...ids(db, c), rowId: id, column: key, value, min }),
    createMany: (db, c, items) => t.createRows({ ...ids(db, c), rows: items }).then((r) => r.rows),
    upsertMany: (db, c, items) => t.upsertRows({ ...ids(db, c), rows: items }).then((r) => r.rows),
    updateMany: (db, c, data, queries) => t.updateRows({ ...ids(db, c), data, queries }).then((r) => r.rows),
    deleteMany: (db, c, queries) => t.deleteRows({ ...ids(db, c), queries }).then((r) => r.rows),
  };
}

const { Query } = node;

/** A collection of people with one attribute of each kind, seeded. */
async function seededPeople(a) {
  const db = uid('db');
  await a.createDatabase(db);
  const c = 'people';
  await a.createCollection(db, c, ['read("any")']);
  await a.attr.string(db, c, 'name', 64, true);
  await a.attr.integer(db, c, 'age', false, 0, 150);
  await a.attr.float(db, c, 'score', false);
  await a.attr.boolean(db, c, 'active', false, false);
  await a.attr.datetime(db, c, 'born', false);
  await a.attr.string(db, c, 'tags', 16, false, undefined, true);
  await a.attr.email(db, c, 'email', false);
  await a.attr.enum(db, c, 'team', ['red', 'blue'], false);
  await a.index(db, c, 'by_age', 'key', ['age'], ['asc']);
  const people = [
    ['ada', { name: 'Ada Lovelace', age: 36, score: 9.5, active: true, born: '1815-12-10T00:00:00.000+00:00', tags: ['math', 'poetry'], email: 'ada@example.com', team: 'red' }],
    ['alan', { name: 'Alan Turing', age: 41, score: 9.9, active: false, born: '1912-06-23T00:00:00.000+00:00', tags: ['math', 'crypto'], email: 'alan@example.com', team: 'blue' }],
    ['grace', { name: 'Grace Hopper', age: 85, score: 9.7, active: true, born: '1906-12-09T00:00:00.000+00:00', tags: ['navy', 'cobol'], team: 'blue' }],
    ['linus', { name: 'Linus Torvalds', age: 55, score: 8.1, active: true, born: '1969-12-28T00:00:00.000+00:00', tags: ['kernel'] }],
    ['margaret', { name: 'Margaret Hamilton', age: 88, score: 9.8, born: '1936-08-17T00:00:00.000+00:00', tags: [] }],
    ['nobody', { name: 'Nobody', tags: ['50%_off'] }],
  ];
  for (const [id, data] of people) await a.create(db, c, id, data);
  // Built over existing documents, then kept up to date by every write.
  await a.index(db, c, 'name_text', 'fulltext', ['name']);
  return { db, c };
}

const CASES = [
  ['equal', [Query.equal('name', ['Ada Lovelace'])], ['ada']],
  ['equal, several values', [Query.equal('team', ['red', 'blue'])], ['ada', 'alan', 'grace']],
  ['notEqual', [Query.notEqual('team', 'blue')], ['ada']],
  ['lessThan', [Query.lessThan('age', 41)], ['ada']],
  ['lessThanEqual', [Query.lessThanEqual('age', 41)], ['ada', 'alan']],
  ['greaterThan', [Query.greaterThan('age', 80)], ['grace', 'margaret']],
  ['greaterThanEqual', [Query.greaterThanEqual('score', 9.8)], ['alan', 'margaret']],
  ['between', [Query.between('age', 40, 60)], ['alan', 'linus']],
  ['isNull', [Query.isNull('age')], ['nobody']],
  ['isNotNull', [Query.isNotNull('email')], ['ada', 'alan']],
  ['startsWith', [Query.startsWith('name', 'Al')], ['alan']],
  ['endsWith', [Query.endsWith('name', 'Hopper')], ['grace']],
  ['contains (string)', [Query.contains('name', ['Tor'])], ['linus']],
  ['contains (array)', [Query.contains('tags', ['math'])], ['ada', 'alan']],
  ['contains, LIKE metacharacters are literal', [Query.contains('tags', ['50%_off'])], ['nobody']],
  ['boolean', [Query.equal('active', [true])], ['ada', 'grace', 'linus']],
  ['datetime', [Query.lessThan('born', '1900-01-01T00:00:00.000+00:00')], ['ada']],
  ['or', [Query.or([Query.equal('team', ['red']), Query.greaterThan('age', 86)])], ['ada', 'margaret']],
  ['and', [Query.and([Query.equal('active', [true]), Query.lessThan('age', 60)])], ['ada', 'linus']],
  ['orderDesc + limit', [Query.orderDesc('age'), Query.limit(2)], ['margaret', 'grace']],
  ['orderAsc + offset', [Query.isNotNull('age'), Query.orderAsc('age'), Query.offset(3)], ['grace', 'margaret']],
  ['cursorAfter', [Query.orderAsc('name'), Query.cursorAfter('grace'), Query.limit(2)], ['linus', 'margaret']],
  ['cursorBefore', [Query.orderAsc('name'), Query.cursorBefore('linus'), Query.limit(2)], ['alan', 'grace']],
  ['$id', [Query.equal('$id', ['alan', 'linus'])], ['alan', 'linus']],
  ['search (fulltext, any word, prefixes)', [Query.search('name', 'grace turin')], ['alan', 'grace']],
  ['search + filter', [Query.search('name', 'ada alan grace'), Query.equal('team', ['blue'])], ['alan', 'grace']],
  ['notSearch', [Query.notSearch('name', 'lovelace turing hopper torvalds hamilton')], ['nobody']],
  ['search, FTS syntax is only words', [Query.search('name', 'NEAR("ada" * "')], ['ada']],
  ['search inside or', [Query.or([Query.search('name', 'hopper'), Query.lessThan('age', 41)])], ['ada', 'grace']],
  ['notSearch inside and', [Query.and([Query.notSearch('name', 'ada alan'), Query.equal('active', [true])])], ['grace', 'linus']],
  ['updatedAt helper', [Query.updatedAfter('2000-01-01T00:00:00.000+00:00'), Query.equal('team', ['red'])], ['ada']],
];

for (const flavor of ['databases', 'tablesdb']) {
  test(`${flavor}: every query method returns the expected ids in order`, async () => {
    const a = api(flavor, adminClient());
    const { db, c } = await seededPeople(a);
    for (const [name, queries, expected] of CASES) {
      const { items } = await a.list(db, c, queries);
      assert.deepEqual(items.map((d) => d.$id), expected, name);
    }
    const all = await a.list(db, c);
    assert.equal(all.total, 6);
    const noTotal = await a.list(db, c, [Query.limit(1)], false);
    assert.equal(noTotal.total, 0);
    const ada = await a.get(db, c, 'ada');
    assert.deepEqual(ada.tags, ['math', 'poetry']);
    assert.equal(ada.born, '1815-12-10T00:00:00.000+00:00');
    assert.equal(ada.active, true);
    assert.equal(ada.score, 9.5);
    assert.equal(typeof ada.$sequence, 'string');
    assert.equal(ada[flavor === 'databases' ? '$collectionId' : '$tableId'], c);
    assert.equal(ada.$databaseId, db);
    assert.equal((await a.get(db, c, 'nobody')).active, false, 'the default applies');
    const slim = await a.list(db, c, [Query.select(['name']), Query.equal('$id', ['ada'])]);
    assert.deepEqual(Object.keys(slim.items[0]).filter((k) => !k.startsWith('$')), ['name'], 'select keeps only what it names');
  });

  test(`${flavor}: bad input gets the exact error and stores nothing`, async () => {
    const a = api(flavor, adminClient());
    const { db, c } = await seededPeople(a);
    await rejectsWith(assert, a.create(db, c, 'x1', { name: 'X', shoeSize: 44 }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'x2', { name: 42 }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'x3', { name: 'X'.repeat(65) }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'x4', { age: 30 }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'x5', { name: 'X', team: 'green' }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'x6', { name: 'X', age: 151 }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'ada', { name: 'Twin' }), 409, a.exists);
    await rejectsWith(assert, a.create(db, c, 'x7', {}), 400, flavor === 'databases' ? 'document_missing_data' : 'row_missing_data');
    // As Appwrite parses a list's queries (in the database layer): general_query_invalid, with
    // the query's own message.
    await assert.rejects(a.list(db, c, ['{"method":"equal"']), (e) => {
      assert.equal(e.type, 'general_query_invalid');
      assert.equal(e.message, 'Invalid query: Syntax error');
      return true;
    });
    await rejectsWith(assert, a.list(db, c, [Query.equal('shoeSize', [1])]), 400, 'general_query_invalid');
    let deep = Query.equal('age', [1]);
    for (let i = 0; i < 10; i++) deep = Query.or([deep, Query.equal('age', [i])]);
    await rejectsWith(assert, a.list(db, c, [deep]), 400, 'general_query_invalid');
    await rejectsWith(assert, a.get(db, c, 'x1'), 404, a.notFound);
    assert.equal((await a.list(db, c)).total, 6, 'nothing was stored');
    await rejectsWith(assert, a.get(db, 'nope', 'ada'), 404, flavor === 'databases' ? 'collection_not_found' : 'table_not_found');
    await rejectsWith(assert, a.get('nope', c, 'ada'), 404, 'database_not_found');

    // A document is at most 1 MiB of values: refused whole, or when an update would grow it past.
    const longtext = await a.attr.longtext(db, c, 'bio', false);
    assert.equal(longtext.type, 'longtext');
    assert.ok(!('size' in longtext), "the longtext model has no size (its type fixes it)");
    await a.attr.longtext(db, c, 'notes', false);
    const big = 'x'.repeat(600 * 1024);
    await rejectsWith(assert, a.create(db, c, 'huge', { name: 'Huge', bio: big + big }), 400, a.invalid);
    await a.create(db, c, 'half', { name: 'Half', bio: big });
    await rejectsWith(assert, a.update(db, c, 'half', { notes: big }), 400, a.invalid);
    const half = await a.get(db, c, 'half');
    assert.equal(half.bio.length, big.length);
    assert.equal(half.notes, null, 'the refused update left nothing behind');
  });

  test(`${flavor}: schema evolution keeps data; updates, upserts, deletes`, async () => {
    const a = api(flavor, adminClient());
    const { db, c } = await seededPeople(a);
    await a.attr.string(db, c, 'city', 32, false, 'London');
    assert.equal((await a.get(db, c, 'alan')).city, 'London', 'existing documents take the default');
    await a.index(db, c, 'by_email', 'unique', ['email']);
    await rejectsWith(assert, a.create(db, c, 'copy', { name: 'Copy', email: 'ada@example.com' }), 409, a.exists);
    await a.deleteAttribute(db, c, 'email');
    const alan = await a.get(db, c, 'alan');
    assert.equal(alan.email, undefined, 'a deleted attribute is gone');
    assert.equal(alan.name, 'Alan Turing', 'other data is kept');
    const collection = await a.getCollection(db, c);
    assert.ok(!collection.indexes.some((i) => i.key === 'by_email'), 'its index went with it');

    await rejectsWith(assert, a.list(db, c, [Query.search('team', 'red')]), 400, 'general_query_invalid');
    await a.update(db, c, 'grace', { name: 'Amazing Grace' });
    assert.deepEqual((await a.list(db, c, [Query.search('name', 'amazing')])).items.map((d) => d.$id), ['grace'], 'the fulltext index follows updates');
    await a.remove(db, c, 'linus');
    assert.deepEqual((await a.list(db, c, [Query.search('name', 'linus')])).items, [], 'and deletes');
    const renamed = await a.renameString(db, c, 'city', 'town');
    assert.equal(renamed.key, 'town');
    assert.equal((await a.get(db, c, 'alan')).town, 'London', 'a renamed attribute keeps its data');
    assert.deepEqual((await a.list(db, c, [Query.equal('town', ['London']), Query.limit(1)])).items.length, 1);
    const listed = (await a.listCollections(db)).find((x) => x.$id === c);
    const attrKey = flavor === 'databases' ? 'attributes' : 'columns';
    assert.ok(listed[attrKey].some((x) => x.key === 'town') && !listed[attrKey].some((x) => x.key === 'city'));
    assert.ok(listed.indexes.some((i) => i.key === 'name_text'), 'lists carry each collection\'s indexes');
    const updated = await a.update(db, c, 'alan', { age: 42, team: null });
    assert.equal(updated.age, 42);
    assert.equal(updated.team, null);
    assert.equal(updated.name, 'Alan Turing', 'partial update');
    const upserted = await a.upsert(db, c, 'newbie', { name: 'New' });
    assert.equal(upserted.name, 'New');
    assert.equal((await a.upsert(db, c, 'newbie', { name: 'Newer' })).name, 'Newer');
    await a.remove(db, c, 'newbie');
    await rejectsWith(assert, a.get(db, c, 'newbie'), 404, a.notFound);
  });

  test(`${flavor}: update operators change values in place, within the attribute's bounds`, async () => {
    const { Operator, Condition } = node;
    const a = api(flavor, adminClient());
    const { db, c } = await seededPeople(a);
    const ops = await a.update(db, c, 'ada', {
      age: Operator.increment(4),
      score: Operator.multiply(2, 100),
      active: Operator.toggle(),
      tags: Operator.arrayAppend(['engines']),
      name: Operator.stringConcat(' (Countess)'),
      born: Operator.dateAddDays(1),
    });
    assert.equal(ops.age, 40);
    assert.equal(ops.score, 19);
    assert.equal(ops.active, false);
    assert.deepEqual(ops.tags, ['math', 'poetry', 'engines']);
    assert.equal(ops.name, 'Ada Lovelace (Countess)');
    assert.equal(ops.born, '1815-12-11T00:00:00.000+00:00');
    // Past the attribute's max (150) or the operator's own bound: unchanged.
    assert.equal((await a.update(db, c, 'ada', { age: Operator.increment(200) })).age, 40);
    assert.equal((await a.update(db, c, 'ada', { age: Operator.decrement(5, 38) })).age, 40);
    assert.equal((await a.update(db, c, 'ada', { age: Operator.decrement(5) })).age, 35);
    const arrays = await a.update(db, c, 'ada', { tags: Operator.arrayPrepend(['first']) });
    assert.deepEqual(arrays.tags, ['first', 'math', 'poetry', 'engines']);
    assert.deepEqual((await a.update(db, c, 'ada', { tags: Operator.arrayInsert(1, 'second') })).tags, ['first', 'second', 'math', 'poetry', 'engines']);
    assert.deepEqual((await a.update(db, c, 'ada', { tags: Operator.arrayRemove('math') })).tags, ['first', 'second', 'poetry', 'engines']);
    assert.deepEqual((await a.update(db, c, 'ada', { tags: Operator.arrayDiff(['first', 'second']) })).tags, ['poetry', 'engines']);
    assert.deepEqual((await a.update(db, c, 'ada', { tags: Operator.arrayFilter(Condition.NotEqual, 'poetry') })).tags, ['engines']);
    assert.equal((await a.update(db, c, 'ada', { name: Operator.stringReplace('Countess', 'Lady') })).name, 'Ada Lovelace (Lady)');
    // The name is at most 64 characters: a concatenation past it changes nothing.
    assert.equal((await a.update(db, c, 'ada', { name: Operator.stringConcat('!'.repeat(60)) })).name, 'Ada Lovelace (Lady)');
    await rejectsWith(assert, a.update(db, c, 'ada', { name: Operator.increment(1) }), 400, a.invalid);
    await rejectsWith(assert, a.create(db, c, 'opnew', { name: 'X', age: Operator.increment(1) }), 400, a.invalid);
    // Bulk updates apply an operator to every match, each from its own value.
    await a.updateMany(db, c, { age: Operator.increment(1) }, [Query.equal('team', ['blue'])]);
    assert.deepEqual([(await a.get(db, c, 'alan')).age, (await a.get(db, c, 'grace')).age], [42, 86]);
  });

  test(`${flavor}: concurrent increments all count; concurrent unique creates, one wins`, async () => {
    const a = api(flavor, adminClient());
    const db = uid('db');
    await a.createDatabase(db);
    await a.createCollection(db, 'counters');
    await a.attr.integer(db, 'counters', 'n', false, 0, 1000, 0);
    await a.attr.string(db, 'counters', 'slug', 32, false);
    await a.index(db, 'counters', 'slug_unique', 'unique', ['slug']);
    await a.create(db, 'counters', 'hits', { n: 0 });
    await Promise.all(Array.from({ length: 20 }, () => a.increment(db, 'counters', 'hits', 'n', 1)));
    assert.equal((await a.get(db, 'counters', 'hits')).n, 20);
    await rejectsWith(assert, a.increment(db, 'counters', 'hits', 'n', 5, 21), 400, flavor === 'databases' ? 'attribute_limit_exceeded' : 'column_limit_exceeded');
    assert.equal((await a.decrement(db, 'counters', 'hits', 'n', 5)).n, 15);
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => a.create(db, 'counters', `s${i}`, { slug: 'same' })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(results.filter((r) => r.status === 'rejected').every((r) => r.reason.type === a.exists));
  });
}

for (const flavor of ['databases', 'tablesdb']) {
  test(`${flavor}: bulk create, upsert, update and delete are all-or-nothing and for API keys only`, async () => {
    const a = api(flavor, adminClient());
    const db = uid('bulk');
    await a.createDatabase(db);
    await a.createCollection(db, 'items', ['read("any")', 'create("any")']);
    await a.attr.integer(db, 'items', 'n', true);
    const made = await a.createMany(db, 'items', [
      { $id: 'a', n: 1 },
      { $id: 'b', n: 2, $permissions: ['read("users")'] },
      { n: 3 },
    ]);
    assert.equal(made.length, 3);
    assert.deepEqual(made[1].$permissions, ['read("users")']);
    await rejectsWith(assert, a.createMany(db, 'items', [{ $id: 'c', n: 4 }, { $id: 'a', n: 5 }]), 409, a.exists);
    assert.equal((await a.list(db, 'items')).total, 3, 'a failed bulk create stores nothing');
    await rejectsWith(assert, a.createMany(db, 'items', [{ $id: 'd', n: 'x' }]), 400, a.invalid);
    const upserted = await a.upsertMany(db, 'items', [{ $id: 'a', n: 10 }, { $id: 'z', n: 26 }]);
    assert.deepEqual(upserted.map((d) => [d.$id, d.n]), [['a', 10], ['z', 26]]);
    const updated = await a.updateMany(db, 'items', { n: 0 }, [Query.lessThan('n', 5)]);
    assert.deepEqual(updated.map((d) => d.$id).sort(), made.filter((d) => d.n < 5 && d.$id !== 'a').map((d) => d.$id).sort());
    const deleted = await a.deleteMany(db, 'items', [Query.equal('n', [0])]);
    assert.equal(deleted.length, 2);
    assert.deepEqual((await a.list(db, 'items')).items.map((d) => d.$id).sort(), ['a', 'z']);
    const { client } = await userClient();
    await rejectsWith(assert, api(flavor, client).createMany(db, 'items', [{ n: 1 }]), 401, 'general_unauthorized_scope');
    await rejectsWith(assert, api(flavor, guest()).deleteMany(db, 'items', []), 401, 'general_unauthorized_scope');
  });
}

for (const flavor of ['databases', 'tablesdb']) {
  test(`${flavor}: a collection created with its schema inline, all or nothing`, async () => {
    const a = api(flavor, adminClient());
    const db = uid('inline');
    await a.createDatabase(db);
    const key = flavor === 'databases' ? 'attributes' : 'columns';
    const made = await a.createCollection(db, 'books', [], false, {
      attributes: [
        { key: 'title', type: 'string', size: 100, required: true },
        { key: 'pages', type: 'integer', required: false, min: 1, max: 5000 },
        { key: 'contact', type: 'string', format: 'email', required: false },
      ],
      indexes: [{ key: 'title_unique', type: 'unique', [key]: ['title'] }],
    });
    assert.deepEqual(made[key].map((x) => [x.key, x.type, x.format ?? '']), [['title', 'string', ''], ['pages', 'integer', ''], ['contact', 'string', 'email']]);
    assert.deepEqual(made.indexes.map((i) => i.key), ['title_unique']);
    await a.create(db, 'books', 'b1', { title: 'Dune', pages: 412, contact: 'frank@example.com' });
    await rejectsWith(assert, a.create(db, 'books', 'b2', { title: 'Dune' }), 409, a.exists);
    await rejectsWith(assert, a.createCollection(db, 'broken', [], false, {
      attributes: [{ key: 'ok', type: 'string', size: 10, required: false }, { key: 'bad', type: 'teleport', required: false }],
    }), 400, 'general_argument_invalid');
    await rejectsWith(assert, a.getCollection(db, 'broken'), 404, flavor === 'databases' ? 'collection_not_found' : 'table_not_found');
  });
}

for (const flavor of ['databases', 'tablesdb']) {
  test(`${flavor}: transactions stage writes and apply them together on commit, or not at all`, async () => {
    const a = api(flavor, adminClient());
    const svc = flavor === 'databases' ? new node.Databases(adminClient()) : new node.TablesDB(adminClient());
    const cKey = flavor === 'databases' ? 'collectionId' : 'tableId';
    const dKey = flavor === 'databases' ? 'documentId' : 'rowId';
    const db = uid('tx');
    await a.createDatabase(db);
    await a.createCollection(db, 'acc', ['read("any")']);
    await a.attr.integer(db, 'acc', 'n', false);
    await a.create(db, 'acc', 'x', { n: 1 });
    const stage = (id, data, transactionId) => (flavor === 'databases'
      ? svc.createDocument({ databaseId: db, collectionId: 'acc', documentId: id, data, transactionId })
      : svc.createRow({ databaseId: db, tableId: 'acc', rowId: id, data, transactionId }));

    const tx = await svc.createTransaction({ ttl: 120 });
    assert.equal(tx.status, 'pending');
    const staged = await stage('y', { n: 5 }, tx.$id);
    assert.equal(staged.$id, 'y');
    // Before the commit it has no sequence or times: the model's defaults, as Appwrite answers.
    assert.deepEqual([staged.$sequence, staged.$createdAt, staged.$updatedAt, staged.n], ['', '', '', 5]);
    assert.ok(Array.isArray(staged.$permissions));
    await rejectsWith(assert, a.get(db, 'acc', 'y'), 404, a.notFound);
    const withOps = await svc.createOperations({
      transactionId: tx.$id,
      operations: [{ action: 'update', databaseId: db, [cKey]: 'acc', [dKey]: 'x', data: { n: 2 } }],
    });
    assert.equal(withOps.operations, 2);
    assert.equal((await a.get(db, 'acc', 'x')).n, 1, 'nothing applies before the commit');
    const committed = await svc.updateTransaction({ transactionId: tx.$id, commit: true });
    assert.equal(committed.status, 'committed');
    assert.equal((await a.get(db, 'acc', 'x')).n, 2);
    assert.equal((await a.get(db, 'acc', 'y')).n, 5);
    await rejectsWith(assert, svc.updateTransaction({ transactionId: tx.$id, commit: true }), 400, 'transaction_not_ready');

    // One conflicting operation: none of them applies.
    const bad = await svc.createTransaction({});
    await stage('z', { n: 9 }, bad.$id);
    await stage('x', { n: 9 }, bad.$id);
    await rejectsWith(assert, svc.updateTransaction({ transactionId: bad.$id, commit: true }), 409, 'transaction_conflict');
    await rejectsWith(assert, a.get(db, 'acc', 'z'), 404, a.notFound);
    assert.equal((await svc.getTransaction({ transactionId: bad.$id })).status, 'failed');

    // Bulk writes and increments stage too; a bulk update sees documents created earlier in the
    // same transaction, and a fulltext index follows every one of them.
    await a.attr.string(db, 'acc', 'label', 32, false);
    await a.index(db, 'acc', 'label_text', 'fulltext', ['label']);
    const ids = (db_, c) => (flavor === 'databases' ? { databaseId: db_, collectionId: c } : { databaseId: db_, tableId: c });
    const many = await svc.createTransaction({});
    const stagedMany = flavor === 'databases'
      ? await svc.createDocuments({ ...ids(db, 'acc'), documents: [{ $id: 'm1', n: 10, label: 'draft one' }, { $id: 'm2', n: 20, label: 'draft two' }], transactionId: many.$id })
      : await svc.createRows({ ...ids(db, 'acc'), rows: [{ $id: 'm1', n: 10, label: 'draft one' }, { $id: 'm2', n: 20, label: 'draft two' }], transactionId: many.$id });
    assert.equal(stagedMany.total, 2);
    assert.deepEqual(stagedMany[flavor === 'databases' ? 'documents' : 'rows'], [], 'none written yet');
    const stagedIncrement = await (flavor === 'databases'
      ? svc.incrementDocumentAttribute({ ...ids(db, 'acc'), documentId: 'x', attribute: 'n', value: 5, transactionId: many.$id })
      : svc.incrementRowColumn({ ...ids(db, 'acc'), rowId: 'x', column: 'n', value: 5, transactionId: many.$id }));
    assert.deepEqual([stagedIncrement.$id, stagedIncrement.$permissions, stagedIncrement.$sequence], ['x', [], '']);
    await (flavor === 'databases'
      ? svc.updateDocuments({ ...ids(db, 'acc'), data: { label: 'final' }, queries: [Query.search('label', 'draft'), Query.greaterThan('n', 15)], transactionId: many.$id })
      : svc.updateRows({ ...ids(db, 'acc'), data: { label: 'final' }, queries: [Query.search('label', 'draft'), Query.greaterThan('n', 15)], transactionId: many.$id }));
    await svc.createOperations({
      transactionId: many.$id,
      operations: [{ action: 'bulkDelete', databaseId: db, [cKey]: 'acc', data: { queries: [Query.equal('$id', ['y'])] } }],
    });
    assert.equal((await a.get(db, 'acc', 'x')).n, 2, 'staged increments wait for the commit');
    assert.equal((await svc.updateTransaction({ transactionId: many.$id, commit: true })).status, 'committed');
    assert.equal((await a.get(db, 'acc', 'x')).n, 7);
    assert.equal((await a.get(db, 'acc', 'm1')).label, 'draft one');
    assert.equal((await a.get(db, 'acc', 'm2')).label, 'final');
    await rejectsWith(assert, a.get(db, 'acc', 'y'), 404, a.notFound);
    assert.deepEqual((await a.list(db, 'acc', [Query.search('label', 'final')])).items.map((d) => d.$id), ['m2']);
    assert.deepEqual((await a.list(db, 'acc', [Query.search('label', 'draft')])).items.map((d) => d.$id), ['m1']);

    // An increment past its bound fails the whole commit.
    const capped = await svc.createTransaction({});
    await stage('v', { n: 1 }, capped.$id);
    await (flavor === 'databases'
      ? svc.incrementDocumentAttribute({ ...ids(db, 'acc'), documentId: 'x', attribute: 'n', value: 5, max: 10, transactionId: capped.$id })
      : svc.incrementRowColumn({ ...ids(db, 'acc'), rowId: 'x', column: 'n', value: 5, max: 10, transactionId: capped.$id }));
    await rejectsWith(assert, svc.updateTransaction({ transactionId: capped.$id, commit: true }), 409, 'transaction_conflict');
    assert.equal((await a.get(db, 'acc', 'x')).n, 7);
    await rejectsWith(assert, a.get(db, 'acc', 'v'), 404, a.notFound);

    const dropped = await svc.createTransaction({});
    await stage('w', { n: 1 }, dropped.$id);
    assert.equal((await svc.updateTransaction({ transactionId: dropped.$id, rollback: true })).status, 'rolled_back');
    await rejectsWith(assert, a.get(db, 'acc', 'w'), 404, a.notFound);
    await rejectsWith(assert, svc.updateTransaction({ transactionId: dropped.$id, commit: true, rollback: true }), 400, 'general_bad_request');

    const anonymous = flavor === 'databases' ? new node.Databases(guest()) : new node.TablesDB(guest());
    await rejectsWith(assert, anonymous.createTransaction({}), 401, 'user_unauthorized');
    // A transaction belongs to whoever made it.
    const { client } = await userClient();
    const other = flavor === 'databases' ? new node.Databases(client) : new node.TablesDB(client);
    await rejectsWith(assert, other.getTransaction({ transactionId: tx.$id }), 404, 'transaction_not_found');
  });
}

test('permissions: collection-level roles, document security, and what a guest never sees', async () => {
  const admin = api('databases', adminClient());
  const db = uid('perm');
  await admin.createDatabase(db);
  // Collection-level only: users may read and create; guests may do nothing.
  await admin.createCollection(db, 'notes', ['read("users")', 'create("users")']);
  await admin.attr.string(db, 'notes', 'text', 100, true);
  // Document security: anyone may create; each document decides who reads it.
  await admin.createCollection(db, 'posts', ['create("any")'], true);
  await admin.attr.string(db, 'posts', 'text', 100, true);

  const alice = await userClient({ name: 'Alice' });
  const bob = await userClient({ name: 'Bob' });
  const asAlice = api('databases', alice.client);
  const asBob = api('databases', bob.client);
  const asGuest = api('databases', guest());

  const note = await asAlice.create(db, 'notes', 'n1', { text: 'hi' });
  assert.deepEqual(note.$permissions.sort(), [`delete("user:${alice.user.$id}")`, `read("user:${alice.user.$id}")`, `update("user:${alice.user.$id}")`].sort());
  assert.equal((await asBob.list(db, 'notes')).total, 1, 'collection read("users") lets any user read');
  await rejectsWith(assert, asGuest.list(db, 'notes'), 401, 'user_unauthorized');
  await rejectsWith(assert, asGuest.create(db, 'notes', 'n2', { text: 'x' }), 401, 'user_unauthorized');
  await rejectsWith(assert, asBob.update(db, 'notes', 'n1', { text: 'mine now' }), 401, 'user_unauthorized');
  await rejectsWith(assert, asBob.remove(db, 'notes', 'n1'), 401, 'user_unauthorized');

  await asAlice.create(db, 'posts', 'public', { text: 'for all' }, ['read("any")']);
  await asAlice.create(db, 'posts', 'private', { text: 'for me' });
  await rejectsWith(assert, asAlice.create(db, 'posts', 'grant', { text: 'x' }, [`read("user:${bob.user.$id}")`]), 401, 'user_unauthorized');
  const guestView = await asGuest.list(db, 'posts');
  assert.deepEqual(guestView.items.map((d) => d.$id), ['public']);
  assert.equal(guestView.total, 1, 'total counts only what the guest may read');
  await rejectsWith(assert, asGuest.get(db, 'posts', 'private'), 404, 'document_not_found');
  const aliceView = await asAlice.list(db, 'posts');
  assert.deepEqual(aliceView.items.map((d) => d.$id).sort(), ['private', 'public']);
  assert.equal((await asBob.list(db, 'posts')).total, 1);
  await rejectsWith(assert, asBob.update(db, 'posts', 'private', { text: 'x' }), 401, 'user_unauthorized');
  const shared = await asAlice.update(db, 'posts', 'private', undefined, [`read("users")`, `update("user:${alice.user.$id}")`]);
  assert.deepEqual(shared.$permissions, ['read("users")', `update("user:${alice.user.$id}")`]);
  assert.equal((await asBob.list(db, 'posts')).total, 2, 'new permissions apply at once');

  // Team roles resolve in permissions (team:ID and team:ID/role).
  const teams = new node.Teams(alice.client);
  const team = await teams.create({ teamId: uid('t'), name: 'Readers' });
  await new node.Teams(adminClient()).createMembership({ teamId: team.$id, roles: ['editor'], userId: bob.user.$id });
  await asAlice.create(db, 'posts', 'team-only', { text: 'team' }, [`read("team:${team.$id}")`, `update("team:${team.$id}/owner")`]);
  assert.ok((await asBob.list(db, 'posts')).items.some((d) => d.$id === 'team-only'), 'team:ID reaches members');
  await rejectsWith(assert, asBob.update(db, 'posts', 'team-only', { text: 'x' }), 401, 'user_unauthorized');
  assert.equal((await asAlice.update(db, 'posts', 'team-only', { text: 'edited' })).text, 'edited', 'team:ID/owner reaches the owner');
});
