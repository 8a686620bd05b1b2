// Groups what a run in EDGEWRITE_MODEL_CHECK=report mode found (models.mjs): one block per route
// and model, one line per field and problem, with one example value and the test line that saw it.
//   node e2e/model-report.mjs [--json] [target/e2e/<runtime>/model-violations.jsonl …]
// Without files: every runtime's file under target/e2e/.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
let files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  const base = join(root, 'target/e2e');
  files = existsSync(base)
    ? readdirSync(base)
      .filter((d) => ['model-violations.jsonl', 'model-checked.jsonl'].some((f) => existsSync(join(base, d, f))))
      .map((d) => join(base, d, 'model-violations.jsonl'))
    : [];
}

const read = (file) =>
  existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    : [];

for (const file of files) {
  const seen = new Map();
  for (const v of read(file)) {
    const key = [v.route, v.answered, v.model, v.field, v.problem, v.detail].join('\u0000');
    const had = seen.get(key);
    if (had) had.count += 1;
    else seen.set(key, { ...v, count: 1 });
  }
  const group = (v) => `${v.answered ?? ''} ${v.model}`;
  const all = [...seen.values()].sort((a, b) =>
    a.route.localeCompare(b.route) || group(a).localeCompare(group(b)) || a.field.localeCompare(b.field));
  const unchecked = [...new Set(read(join(dirname(file), 'model-unchecked.jsonl')).map((u) => `${u.route} (${u.why})`))].sort();
  if (asJson) {
    console.log(JSON.stringify({ file, violations: all, unchecked }, null, 2));
    continue;
  }
  const covered = read(join(dirname(file), 'model-checked.jsonl'));
  const runtime = all[0]?.runtime ?? covered[0]?.runtime ?? file;
  console.log(`# ${runtime}: ${all.length} distinct violations (${file})`);
  let route;
  let model;
  for (const v of all) {
    if (v.route !== route) {
      route = v.route;
      model = undefined;
      console.log(`\n## ${route}`);
    }
    if (group(v) !== model) {
      model = group(v);
      console.log(`- ${v.model}${v.answered && v.answered !== v.model ? ` (in ${v.answered})` : ''}`);
    }
    const ex = v.example !== undefined ? ` e.g. ${JSON.stringify(v.example)}` : '';
    console.log(`  - ${v.field}: ${v.problem}: ${v.detail}${ex} [${v.via}${v.at ? `, ${v.at}` : ''}]`);
  }
  const routes = new Set(covered.map((c) => c.route));
  console.log(`\nChecked: ${routes.size} routes (${new Set(covered.map((c) => `${c.route} ${c.model}`)).size} route/model pairs, errors included).`);
  if (unchecked.length) {
    console.log(`\n## Not checked (${unchecked.length})`);
    for (const u of unchecked) console.log(`- ${u}`);
  }
  console.log();
}
