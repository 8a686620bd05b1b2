// The model check for answers another client received: a file of JSON lines, one answer each
// ({test, method, url, status, kind, body, format}), as tests/python/test_sdk.py writes them with
// EDGEWRITE_MODEL_ANSWERS set. Each is held against Appwrite 1.9.6's model of its route, as the
// Node suites' answers are (models.mjs). Prints every violation and a summary line; exits 1 if
// any. Usage: node e2e/check-answers.mjs <answers.jsonl> <client name>
import { readFileSync } from 'node:fs';
import { checkAnswer } from './models.mjs';

const [file, client = 'client'] = process.argv.slice(2);
const answers = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
let violations = 0;
for (const answer of answers) {
  try {
    checkAnswer({ ...answer, via: client });
  } catch (error) {
    violations += 1;
    console.log(`✖ ${client} model check (${answer.test}): ${error.message}`);
  }
}
console.log(`${client} model check: ${answers.length} answers, ${violations} violations`);
process.exit(violations ? 1 : 0);
