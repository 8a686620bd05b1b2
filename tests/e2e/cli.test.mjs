// appwrite-cli (npm `appwrite-cli` 12, the CLI for Appwrite 1.9) against edgewrite, as a developer
// uses it without a console login: `appwrite client` with an API key, `push` of a config with a
// TablesDB database, tables, columns, indexes and a bucket, a second push that changes a column,
// then `pull`. What it pushed is read back with node-appwrite, field by field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminClient, apiKey, endpoint, node, projectId } from './helpers.mjs';

const cliPath = fileURLToPath(new URL('../node_modules/appwrite-cli/index.js', import.meta.url));
const run = `${Date.now().toString(36)}`;
const databaseId = `cli${run}`;
let home;
let work;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'edgewrite-cli-home-'));
  work = await mkdtemp(join(tmpdir(), 'edgewrite-cli-work-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

/** Runs `appwrite ...args` in the work directory with its own HOME; resolves to its output. */
function appwrite(...args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliPath, ...args], {
      cwd: work,
      env: { ...process.env, HOME: home, NO_COLOR: '1', FORCE_COLOR: '0' },
      timeout: 120_000,
    }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      // The CLI reports some failures on stderr with exit status 0.
      if (error || /\bError\b/.test(stderr)) reject(new Error(`appwrite ${args.join(' ')} failed:\n${output}`));
      else resolve(output);
    });
  });
}

const config = ({ titleRequired = true, pagesMax = 10000 } = {}) => ({
  projectId,
  endpoint,
  tablesDB: [{ $id: databaseId, name: 'CLI database', enabled: true }],
  tables: [{
    $id: 'books',
    $permissions: ['read("any")', 'create("users")'],
    databaseId,
    name: 'Books',
    enabled: true,
    rowSecurity: true,
    columns: [
      { key: 'title', type: 'string', required: titleRequired, array: false, size: 64, default: titleRequired ? null : 'Untitled' },
      { key: 'pages', type: 'integer', required: false, array: false, min: 1, max: pagesMax, default: 100 },
      { key: 'published', type: 'boolean', required: false, array: false, default: false },
      { key: 'genre', type: 'string', required: false, array: false, format: 'enum', elements: ['fiction', 'poetry'], size: 7, default: null },
      { key: 'released', type: 'datetime', required: false, array: false, format: 'datetime', default: null },
    ],
    indexes: [{ key: 'by_title', type: 'key', status: 'available', columns: ['title'], orders: ['ASC'] }],
  }],
  buckets: [{
    $id: `covers${run}`,
    $permissions: ['read("any")'],
    fileSecurity: false,
    name: 'Covers',
    enabled: true,
    maximumFileSize: 5_000_000,
    allowedFileExtensions: ['png', 'jpg'],
    compression: 'none',
    encryption: true,
    antivirus: false,
  }],
});

test('appwrite-cli: client with an API key, push of tables and a bucket, changed columns pushed again, and pull', { timeout: 300_000 }, async () => {
  await appwrite('client', '--endpoint', endpoint, '--project-id', projectId, '--key', apiKey);
  await writeFile(join(work, 'appwrite.config.json'), JSON.stringify(config(), null, 2));
  await appwrite('--all', '--force', 'push', 'tables');
  await appwrite('--all', '--force', 'push', 'buckets');

  const tables = new node.TablesDB(adminClient());
  const table = await tables.getTable({ databaseId, tableId: 'books' });
  assert.equal(table.name, 'Books');
  assert.equal(table.rowSecurity, true);
  assert.deepEqual([...table.$permissions].sort(), ['create("users")', 'read("any")']);
  const columns = Object.fromEntries((await tables.listColumns({ databaseId, tableId: 'books' })).columns.map((c) => [c.key, c]));
  assert.deepEqual(Object.keys(columns).sort(), ['genre', 'pages', 'published', 'released', 'title']);
  assert.equal(columns.title.size, 64);
  assert.equal(columns.title.required, true);
  assert.deepEqual([columns.pages.min, columns.pages.max, columns.pages.default], [1, 10000, 100]);
  assert.equal(columns.published.default, false);
  assert.deepEqual([...columns.genre.elements], ['fiction', 'poetry']);
  assert.equal(columns.released.type, 'datetime');
  const index = (await tables.listIndexes({ databaseId, tableId: 'books' })).indexes.find((i) => i.key === 'by_title');
  assert.deepEqual([...index.columns], ['title']);
  const bucket = await new node.Storage(adminClient()).getBucket({ bucketId: `covers${run}` });
  assert.deepEqual([bucket.maximumFileSize, [...bucket.allowedFileExtensions], bucket.encryption], [5_000_000, ['png', 'jpg'], true]);

  // A second push that changes two columns in place (the CLI updates them; a change it cannot
  // make in place, such as a size, it makes by deleting and creating the column).
  await writeFile(join(work, 'appwrite.config.json'), JSON.stringify(config({ titleRequired: false, pagesMax: 20000 }), null, 2));
  const second = await appwrite('--all', '--force', 'push', 'tables');
  assert.match(second, /title in Books \(books\)\s*│ changing/, second);
  const title = await tables.getColumn({ databaseId, tableId: 'books', key: 'title' });
  assert.deepEqual([title.required, title.default, title.size], [false, 'Untitled', 64]);
  assert.equal((await tables.getColumn({ databaseId, tableId: 'books', key: 'pages' })).max, 20000);
  assert.equal((await tables.listIndexes({ databaseId, tableId: 'books' })).total, 1);

  // Pull into a config that knows only the project.
  await writeFile(join(work, 'appwrite.config.json'), JSON.stringify({ projectId, endpoint }, null, 2));
  await appwrite('--all', '--force', 'pull', 'tables');
  const pulled = JSON.parse(await readFile(join(work, 'appwrite.config.json'), 'utf8'));
  assert.ok(pulled.tablesDB.some((db) => db.$id === databaseId), JSON.stringify(pulled.tablesDB));
  const books = pulled.tables.find((t) => t.$id === 'books' && t.databaseId === databaseId);
  assert.ok(books, 'the table is pulled');
  const pulledTitle = books.columns.find((c) => c.key === 'title');
  assert.deepEqual([pulledTitle.type, pulledTitle.size, pulledTitle.required, pulledTitle.default], ['string', 64, false, 'Untitled']);
  assert.equal(books.columns.find((c) => c.key === 'pages').max, 20000);
  assert.deepEqual(books.indexes.map((i) => i.key), ['by_title']);
});
