// The model check (issue #20, "Wire fidelity"): every JSON answer the end-to-end suites receive,
// through the official SDKs or `raw()`, is held against the response model Appwrite 1.9.6 gives
// that route, from tests/contract/appwrite-1.9.6/{models,routes}.json (see that folder's README).
//
// EDGEWRITE_MODEL_CHECK picks the mode:
//   on (default)  a violation throws an AssertionError from the SDK call or `raw()` that got it,
//                 so the test fails at that line
//   report        every distinct violation is appended as one JSON line to
//                 target/e2e/<runtime>/model-violations.jsonl (EDGEWRITE_MODEL_REPORT overrides),
//                 the routes it checked to model-checked.jsonl and those it left unchecked to
//                 model-unchecked.jsonl beside it, and nothing throws; `node e2e/model-report.mjs`
//                 groups them
//   off           no check
// EDGEWRITE_APPWRITE_CONTRACT names another folder holding models.json and routes.json.
//
// What a violation is: a field the model requires is absent; a field the model does not have is
// present (but in `document`, `row`, `preferences` and `any`, which Appwrite outputs as they are);
// a value of the wrong type (datetimes also in Appwrite's form, 2020-10-15T06:38:00.000+00:00);
// null where the model neither marks the field optional nor defaults it to null; a body that is
// not JSON where the route answers a model, or JSON where it answers none (204); an error body
// (4xx/5xx) that is not Appwrite's {message, code, type, version}. Related documents inside a
// document or row are checked as documents or rows.
//
// Not checked (and said so once per test file on stderr): edgewrite's own /v1/__edgewrite test
// routes, routes 1.9.6 does not have, answers in an X-Appwrite-Response-Format older than 1.9
// (older models by design), and what the proxy test's legacy stand-in answers. Binary answers
// and 204s have no model. Requests a test makes with fetch() itself, old SDK generations
// (node-appwrite 11, web 10/17/21/24: older formats, older models) and realtime frames are outside
// the hook. The Python SDK's answers are checked after its flows, from the file they write
// (check-answers.mjs).
import { readFileSync, appendFileSync, mkdirSync, existsSync } from 'node:fs';
import { AssertionError } from 'node:assert';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
// A copy of the contract travels with the suite, so a clean clone checks it too.
const contractDir = process.env.EDGEWRITE_APPWRITE_CONTRACT ?? resolve(repoRoot, 'tests/contract/appwrite-1.9.6');
const runtimeName = process.env.EDGEWRITE_RUNTIME ?? 'workerd';

/** `on`, `report` or `off`. */
export const mode = (() => {
  const v = (process.env.EDGEWRITE_MODEL_CHECK ?? 'on').trim().toLowerCase();
  if (['off', '0', 'false', 'no'].includes(v)) return 'off';
  if (v === 'report') return 'report';
  return 'on';
})();

export const reportFile =
  process.env.EDGEWRITE_MODEL_REPORT ?? join(repoRoot, 'target/e2e', runtimeName, 'model-violations.jsonl');
const uncheckedFile = join(dirname(reportFile), 'model-unchecked.jsonl');
const checkedFile = join(dirname(reportFile), 'model-checked.jsonl');

// ---------------------------------------------------------------------------------------------
// What models.json leaves out, from Appwrite 1.9.6's source (src/Appwrite/Utopia/Response.php,
// app/init/models.php, the models' `conditions`, the route modules' response models).

/** The generic lists: list model → [items key, item model]. Every one has `total` (integer). */
const LISTS = {
  authProviderList: ['platforms', 'authProvider'], branchList: ['branches', 'branch'],
  bucketList: ['buckets', 'bucket'], collectionList: ['collections', 'collection'],
  columnIndexList: ['indexes', 'columnIndex'], continentList: ['continents', 'continent'],
  countryList: ['countries', 'country'], currencyList: ['currencies', 'currency'],
  databaseList: ['databases', 'database'], deploymentList: ['deployments', 'deployment'],
  devKeyList: ['devKeys', 'devKey'], documentList: ['documents', 'document'],
  emailTemplateList: ['templates', 'emailTemplate'], embeddingList: ['embeddings', 'embedding'],
  executionList: ['executions', 'execution'], fileList: ['files', 'file'],
  frameworkList: ['frameworks', 'framework'], functionList: ['functions', 'function'],
  healthStatusList: ['statuses', 'healthStatus'], identityList: ['identities', 'identity'],
  indexList: ['indexes', 'index'], insightList: ['insights', 'insight'],
  installationList: ['installations', 'installation'], keyList: ['keys', 'key'],
  languageList: ['languages', 'language'], localeCodeList: ['localeCodes', 'localeCode'],
  logList: ['logs', 'log'], membershipList: ['memberships', 'membership'],
  messageList: ['messages', 'message'], metricList: ['metrics', 'metric'],
  firebaseProjectList: ['projects', 'firebaseProject'], migrationList: ['migrations', 'migration'],
  mockNumberList: ['mockNumbers', 'mockNumber'], notificationList: ['notifications', 'notification'],
  phoneList: ['phones', 'phone'], presenceList: ['presences', 'presence'],
  projectList: ['projects', 'project'], providerList: ['providers', 'provider'],
  proxyRuleList: ['rules', 'proxyRule'], reportList: ['reports', 'report'],
  resourceTokenList: ['tokens', 'resourceToken'], rowList: ['rows', 'row'],
  runtimeList: ['runtimes', 'runtime'], scheduleList: ['schedules', 'schedule'],
  sessionList: ['sessions', 'session'], siteList: ['sites', 'site'],
  specificationList: ['specifications', 'specification'], subscriberList: ['subscribers', 'subscriber'],
  tableList: ['tables', 'table'], targetList: ['targets', 'target'], teamList: ['teams', 'team'],
  templateFunctionList: ['templates', 'templateFunction'], templateSiteList: ['templates', 'templateSite'],
  topicList: ['topics', 'topic'], transactionList: ['transactions', 'transaction'],
  userList: ['users', 'user'], variableList: ['variables', 'variable'],
  vcsContentList: ['contents', 'vcsContent'], vcsNamespaceList: ['namespaces', 'vcsNamespace'],
  vectorsdbCollectionList: ['collections', 'vectorsdbCollection'], webhookList: ['webhooks', 'webhook'],
};

/** Models Appwrite outputs as they are (`isAny`): their own fields are checked, others allowed. */
const FREE_FORM = new Set(['any', 'document', 'row', 'preferences']);

/**
 * The OAuth2 provider models (`oAuth2Github` …): model → [provider ids ($id condition), client
 * id field, client secret field]. Both fields are named by methods of each model, which the
 * extraction missed (OAuth2Base::getClientIdFieldName/getClientSecretFieldName; Apple has no
 * secret field, its key, key id and team id stand for it).
 */
const OAUTH2_MODELS = {
  oAuth2Amazon: [['amazon'], 'clientId', 'clientSecret'], oAuth2Apple: [['apple'], 'serviceId', null],
  oAuth2Appwrite: [['appwrite'], 'clientId', 'clientSecret'], oAuth2Auth0: [['auth0'], 'clientId', 'clientSecret'],
  oAuth2Authentik: [['authentik'], 'clientId', 'clientSecret'], oAuth2Autodesk: [['autodesk'], 'clientId', 'clientSecret'],
  oAuth2Bitbucket: [['bitbucket'], 'key', 'secret'], oAuth2Bitly: [['bitly'], 'clientId', 'clientSecret'],
  oAuth2Box: [['box'], 'clientId', 'clientSecret'], oAuth2Dailymotion: [['dailymotion'], 'apiKey', 'apiSecret'],
  oAuth2Discord: [['discord'], 'clientId', 'clientSecret'], oAuth2Disqus: [['disqus'], 'publicKey', 'secretKey'],
  oAuth2Dropbox: [['dropbox'], 'appKey', 'appSecret'], oAuth2Etsy: [['etsy'], 'keyString', 'sharedSecret'],
  oAuth2Facebook: [['facebook'], 'appId', 'appSecret'], oAuth2Figma: [['figma'], 'clientId', 'clientSecret'],
  oAuth2FusionAuth: [['fusionauth'], 'clientId', 'clientSecret'], oAuth2Github: [['github'], 'clientId', 'clientSecret'],
  oAuth2Gitlab: [['gitlab'], 'applicationId', 'secret'], oAuth2Google: [['google'], 'clientId', 'clientSecret'],
  oAuth2Keycloak: [['keycloak'], 'clientId', 'clientSecret'], oAuth2Kick: [['kick'], 'clientId', 'clientSecret'],
  oAuth2Linkedin: [['linkedin'], 'clientId', 'primaryClientSecret'],
  oAuth2Microsoft: [['microsoft'], 'applicationId', 'applicationSecret'],
  oAuth2Notion: [['notion'], 'oauthClientId', 'oauthClientSecret'], oAuth2Oidc: [['oidc'], 'clientId', 'clientSecret'],
  oAuth2Okta: [['okta'], 'clientId', 'clientSecret'], oAuth2Paypal: [['paypal', 'paypalSandbox'], 'clientId', 'secretKey'],
  oAuth2Podio: [['podio'], 'clientId', 'clientSecret'], oAuth2Salesforce: [['salesforce'], 'customerKey', 'customerSecret'],
  oAuth2Slack: [['slack'], 'clientId', 'clientSecret'], oAuth2Spotify: [['spotify'], 'clientId', 'clientSecret'],
  oAuth2Stripe: [['stripe'], 'clientId', 'apiSecretKey'],
  oAuth2Tradeshift: [['tradeshift', 'tradeshiftBox'], 'oauth2ClientId', 'oauth2ClientSecret'],
  oAuth2Twitch: [['twitch'], 'clientId', 'clientSecret'], oAuth2WordPress: [['wordpress'], 'clientId', 'clientSecret'],
  oAuth2X: [['x'], 'customerKey', 'secretKey'], oAuth2Yahoo: [['yahoo'], 'clientId', 'clientSecret'],
  oAuth2Yandex: [['yandex'], 'clientId', 'clientSecret'], oAuth2Zoho: [['zoho'], 'clientId', 'clientSecret'],
  oAuth2Zoom: [['zoom'], 'clientId', 'clientSecret'],
};

/** Fields models.json gets wrong or leaves out. */
const FIELD_FIXES = {
  ...Object.fromEntries(Object.entries(OAUTH2_MODELS).map(([model, [, id, secret]]) => [model, {
    [id]: { type: 'string', default: '' },
    ...(secret ? { [secret]: { type: 'string', default: '' } } : {}),
  }])),
  // Declared a string, but Appwrite's error handler puts the HTTP status (an integer) there and
  // the output step does not cast it: {"message":…,"code":404,"type":…,"version":…}.
  error: { code: { type: 'integer', default: 0 } },
  // Declared TYPE_DATETIME, but the value is the format's name, "datetime".
  attributeDatetime: { format: { type: 'string', default: 'datetime' } },
  columnDatetime: { format: { type: 'string', default: 'datetime' } },
  // The rules are named by constants (Type::TOTP …), which the extraction missed.
  mfaFactors: Object.fromEntries(
    ['totp', 'phone', 'email', 'recoveryCode'].map((k) => [k, { type: 'boolean', default: false }]),
  ),
};

/**
 * How Appwrite picks one model of several for a value (each model's `conditions`: every listed
 * attribute equal, or one of a list). Candidates are tried in the order the rule lists them.
 */
const CONDITIONS = (() => {
  const c = {};
  const kinds = {
    Boolean: { type: 'boolean' }, Bigint: { type: 'bigint' }, Integer: { type: 'integer' },
    Float: { type: 'double' }, Email: { type: 'string', format: 'email' },
    Enum: { type: 'string', format: 'enum' }, Url: { type: 'string', format: 'url' },
    Ip: { type: 'string', format: 'ip' }, Datetime: { type: 'datetime' },
    Relationship: { type: 'relationship' }, Point: { type: 'point' }, Line: { type: 'linestring' },
    Polygon: { type: 'polygon' }, Varchar: { type: 'varchar' }, Text: { type: 'text' },
    Mediumtext: { type: 'mediumtext' }, Longtext: { type: 'longtext' }, String: { type: 'string' },
    Object: { type: 'object' }, Vector: { type: 'vector' },
  };
  for (const [k, v] of Object.entries(kinds)) {
    c[`attribute${k}`] = v;
    c[`column${k}`] = v;
  }
  for (const [m, t] of Object.entries({
    algoArgon2: 'argon2', algoBcrypt: 'bcrypt', algoMd5: 'md5', algoPhpass: 'phpass',
    algoScrypt: 'scrypt', algoScryptModified: 'scryptMod', algoSha: 'sha',
  })) c[m] = { type: t };
  for (const [m, id] of Object.entries({
    policyMembershipPrivacy: 'membership-privacy', policyPasswordDictionary: 'password-dictionary',
    policyPasswordHistory: 'password-history', policyPasswordPersonalData: 'password-personal-data',
    policyPasswordStrength: 'password-strength', policySessionAlert: 'session-alert',
    policySessionDuration: 'session-duration', policySessionInvalidation: 'session-invalidation',
    policySessionLimit: 'session-limit', policyUserLimit: 'user-limit',
  })) c[m] = { $id: id };
  for (const [m, [ids]] of Object.entries(OAUTH2_MODELS)) c[m] = { $id: ids.length === 1 ? ids[0] : ids };
  return c;
})();

const ATTRIBUTE_MODELS = ['Boolean', 'Bigint', 'Integer', 'Float', 'Email', 'Enum', 'Url', 'Ip', 'Datetime',
  'Relationship', 'Point', 'Line', 'Polygon', 'Varchar', 'Text', 'Mediumtext', 'Longtext', 'String'];
const POLICY_MODELS = Object.keys(CONDITIONS).filter((m) => m.startsWith('policy'));

/**
 * Routes whose models routes.json lacks (defined in Appwrite's route modules, whose response
 * models the extraction did not follow) or that it lacks altogether. [method, path, models].
 */
const EXTRA_ROUTES = (() => {
  const rows = [];
  const add = (method, path, models) => rows.push([method, path, models]);
  // Databases (legacy API) and TablesDB.
  for (const [db, coll, collId, attr, doc, docId, idx, p] of [
    ['databases', 'collections', 'collectionId', 'attributes', 'documents', 'documentId', 'index', 'attribute'],
    ['tablesdb', 'tables', 'tableId', 'columns', 'rows', 'rowId', 'columnIndex', 'column'],
  ]) {
    const base = `/v1/${db}`;
    const c = `${base}/:databaseId/${coll}`;
    const one = `${c}/:${collId}`;
    const item = db === 'databases' ? 'document' : 'row';
    const container = db === 'databases' ? 'collection' : 'table';
    add('GET', base, ['databaseList']);
    add('POST', base, ['database']);
    add('GET', `${base}/:databaseId`, ['database']);
    add('PUT', `${base}/:databaseId`, ['database']);
    add('DELETE', `${base}/:databaseId`, ['none']);
    add('GET', c, [`${container}List`]);
    add('POST', c, [container]);
    add('GET', one, [container]);
    add('PUT', one, [container]);
    add('DELETE', one, ['none']);
    add('GET', `${one}/${attr}`, [`${p}List`]);
    add('GET', `${one}/${attr}/:key`, ATTRIBUTE_MODELS.map((k) => `${p}${k}`));
    add('DELETE', `${one}/${attr}/:key`, ['none']);
    for (const k of ATTRIBUTE_MODELS) {
      const kind = k.toLowerCase();
      add('POST', `${one}/${attr}/${kind}`, [`${p}${k}`]);
      add('PATCH', `${one}/${attr}/${kind}/:key`, [`${p}${k}`]);
    }
    add('PATCH', `${one}/${attr}/:key/relationship`, [`${p}Relationship`]);
    add('GET', `${one}/${doc}`, [`${item}List`]);
    add('POST', `${one}/${doc}`, [item, `${item}List`]);
    add('PUT', `${one}/${doc}`, [`${item}List`]);
    add('PATCH', `${one}/${doc}`, [`${item}List`]);
    add('DELETE', `${one}/${doc}`, [`${item}List`]);
    add('GET', `${one}/${doc}/:${docId}`, [item]);
    add('PUT', `${one}/${doc}/:${docId}`, [item]);
    add('PATCH', `${one}/${doc}/:${docId}`, [item]);
    add('DELETE', `${one}/${doc}/:${docId}`, ['none']);
    add('PATCH', `${one}/${doc}/:${docId}/:${p}/increment`, [item]);
    add('PATCH', `${one}/${doc}/:${docId}/:${p}/decrement`, [item]);
    add('GET', `${one}/indexes`, [`${idx}List`]);
    add('POST', `${one}/indexes`, [idx]);
    add('GET', `${one}/indexes/:key`, [idx]);
    add('DELETE', `${one}/indexes/:key`, ['none']);
    add('GET', `${base}/transactions`, ['transactionList']);
    add('POST', `${base}/transactions`, ['transaction']);
    add('GET', `${base}/transactions/:transactionId`, ['transaction']);
    add('PATCH', `${base}/transactions/:transactionId`, ['transaction']);
    add('DELETE', `${base}/transactions/:transactionId`, ['none']);
    add('POST', `${base}/transactions/:transactionId/operations`, ['transaction']);
  }
  add('GET', '/v1/functions/:functionId/executions', ['executionList']);
  add('GET', '/v1/functions/:functionId/executions/:executionId', ['execution']);
  add('GET', '/v1/health', ['healthStatus']);
  add('GET', '/v1/health/version', ['healthVersion']);
  add('GET', '/v1/health/time', ['healthTime']);
  add('GET', '/v1/health/anti-virus', ['healthAntivirus']);
  add('GET', '/v1/health/certificate', ['healthCertificate']);
  for (const s of ['db', 'cache', 'pubsub']) add('GET', `/v1/health/${s}`, ['healthStatusList']);
  for (const s of ['geo', 'storage', 'storage/local']) add('GET', `/v1/health/${s}`, ['healthStatus']);
  for (const q of ['audits', 'builds', 'certificates', 'databases', 'deletes', 'functions', 'mails',
    'messaging', 'migrations', 'notifications', 'stats-resources', 'stats-usage', 'webhooks', 'failed/:name']) {
    add('GET', `/v1/health/queue/${q}`, ['healthQueue']);
  }
  add('GET', '/v1/projects', ['projectList']);
  add('POST', '/v1/projects', ['project']);
  add('PATCH', '/v1/projects/:projectId', ['project']);
  add('GET', '/v1/project/policies/:policyId', POLICY_MODELS);
  add('GET', '/v1/project/oauth2/:provider', Object.keys(OAUTH2_MODELS));
  add('POST', '/v1/project/smtp/tests', ['none']);
  return rows;
})();

// ---------------------------------------------------------------------------------------------
// The contract, loaded once.

let contract;
function loadContract() {
  if (contract !== undefined) return contract;
  const models = join(contractDir, 'models.json');
  const routes = join(contractDir, 'routes.json');
  if (!existsSync(models) || !existsSync(routes)) {
    console.warn(`model check: ${contractDir} has no models.json/routes.json; the check is off`);
    return (contract = null);
  }
  const m = JSON.parse(readFileSync(models, 'utf8'));
  for (const [name, fixes] of Object.entries(FIELD_FIXES)) {
    m[name] = { ...(m[name] ?? { class: name }), fields: { ...(m[name]?.fields ?? {}), ...fixes } };
  }
  for (const [name, [key, item]] of Object.entries(LISTS)) {
    if (m[name]) continue;
    m[name] = {
      class: name,
      fields: { total: { type: 'integer', default: 0 }, [key]: { type: `model:${item}`, array: true, default: [] } },
    };
  }
  const table = new Map(); // "METHOD /v1/path" → {path, models}
  for (const r of JSON.parse(readFileSync(routes, 'utf8'))) {
    const models = [...new Set(r.models)];
    for (const p of [r.path, ...(r.aliases ?? [])]) {
      const key = `${r.method} ${p}`;
      // An alias never replaces the route that owns the path.
      if (p !== r.path && table.has(key)) continue;
      table.set(key, { method: r.method, path: p, canonical: r.path, models });
    }
  }
  for (const [method, path, models] of EXTRA_ROUTES) {
    const known = table.get(`${method} ${path}`);
    if (!known || known.models.length === 0) table.set(`${method} ${path}`, { method, path, canonical: path, models });
  }
  const routesList = [...table.values()].map((r) => ({ ...r, segments: r.path.split('/').filter(Boolean) }));
  return (contract = { models: m, routes: routesList });
}

/** The route of `method` + `pathname` (with /v1), the most literal one when several match. */
export function findRoute(method, pathname) {
  const c = loadContract();
  if (!c) return null;
  const segs = pathname.split('/').filter(Boolean);
  let best = null;
  let bestScore = -1;
  for (const r of c.routes) {
    if (r.method !== method || r.segments.length !== segs.length) continue;
    let score = 0;
    let ok = true;
    for (let i = 0; i < segs.length; i++) {
      const s = r.segments[i];
      if (s.startsWith(':')) continue;
      if (s !== segs[i]) {
        ok = false;
        break;
      }
      // Literal segments count, earlier ones more.
      score += 2 ** (segs.length - i);
    }
    if (ok && score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Validation.

const DATETIME_APPWRITE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/;
const DATETIME_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function kindOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'double';
  if (typeof v === 'bigint') return 'integer';
  return typeof v;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof ArrayBuffer);
}

function sample(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined) return undefined;
  try {
    const s = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}` : x));
    if (s === undefined) return String(v);
    return s.length > 160 ? `${s.slice(0, 157)}...` : JSON.parse(s);
  } catch {
    return String(v);
  }
}

/** The candidates of a union that Appwrite would pick for `value`, by their conditions. */
function byConditions(value, candidates) {
  if (!isObject(value)) return null;
  for (const name of candidates) {
    const cond = CONDITIONS[name];
    if (!cond) return null; // Not all candidates have conditions: decide by shape.
    const ok = Object.entries(cond).every(([k, want]) =>
      Array.isArray(want) ? want.includes(value[k]) : value[k] === want,
    );
    if (ok) return name;
  }
  return undefined; // Every candidate has conditions and none matched.
}

/** Checks `value` against one of several models; the violations of the one it is meant as. */
function checkUnion(value, candidates, path, out) {
  const picked = byConditions(value, candidates);
  if (picked) return checkModel(value, picked, path, out);
  if (picked === undefined) {
    out.push({
      field: path || '(body)', model: candidates.join('|'), problem: 'no-model',
      detail: `matches none of ${candidates.join(', ')} (type ${JSON.stringify(value?.type)}, format ${JSON.stringify(value?.format)})`,
      example: sample(value),
    });
    return candidates[0];
  }
  // A list is meant when its items key is there.
  for (const name of candidates) {
    const list = LISTS[name];
    if (list && isObject(value) && list[0] in value) return checkModel(value, name, path, out);
  }
  let best = null;
  for (const name of candidates) {
    const found = [];
    checkModel(value, name, path, found);
    if (!best || found.length < best.found.length) best = { name, found };
    if (found.length === 0) break;
  }
  out.push(...best.found);
  return best.name;
}

/** Checks `value` against model `name`; pushes {field, model, problem, detail, example}. */
function checkModel(value, name, path, out) {
  const c = loadContract();
  const model = c.models[name];
  if (!model) {
    out.push({ field: path || '(body)', model: name, problem: 'unknown-model', detail: `models.json has no ${name}` });
    return name;
  }
  if (!isObject(value)) {
    out.push({ field: path || '(body)', model: name, problem: 'type', detail: `expected a ${name} object, got ${kindOf(value)}`, example: sample(value) });
    return name;
  }
  const fields = model.fields;
  for (const [key, spec] of Object.entries(fields)) {
    const p = path ? `${path}.${key}` : key;
    if (!(key in value)) {
      if (spec.required !== false) out.push({ field: p, model: name, problem: 'missing', detail: `required ${describe(spec)} is absent` });
      continue;
    }
    checkField(value[key], spec, p, name, out);
  }
  if (!FREE_FORM.has(name)) {
    for (const key of Object.keys(value)) {
      if (!(key in fields)) {
        const p = path ? `${path}.${key}` : key;
        out.push({ field: p, model: name, problem: 'unexpected', detail: `${name} has no field ${key}`, example: sample(value[key]) });
      }
    }
  } else if (name === 'document' || name === 'row') {
    // Related documents (relationship attributes) are documents too: an object carrying the
    // container's id ($collectionId, $tableId) is held against the same model.
    const marker = name === 'document' ? '$collectionId' : '$tableId';
    for (const [key, v] of Object.entries(value)) {
      if (key in fields) continue;
      const p = path ? `${path}.${key}` : key;
      if (isObject(v) && marker in v) checkModel(v, name, p, out);
      else if (Array.isArray(v)) v.forEach((x, i) => isObject(x) && marker in x && checkModel(x, name, `${p}[${i}]`, out));
    }
  }
  return name;
}

function describe(spec) {
  return `${spec.array ? 'array of ' : ''}${spec.type}`;
}

function checkField(v, spec, path, modelName, out) {
  if (v === null) {
    if (spec.required === false || spec.default === null) return;
    out.push({ field: path, model: modelName, problem: 'null', detail: `${describe(spec)} is null` });
    return;
  }
  if (spec.array) {
    if (!Array.isArray(v)) {
      out.push({ field: path, model: modelName, problem: 'type', detail: `expected ${describe(spec)}, got ${kindOf(v)}`, example: sample(v) });
      return;
    }
    v.forEach((item, i) => checkValue(item, spec, `${path}[${i}]`, modelName, out));
    return;
  }
  checkValue(v, spec, path, modelName, out);
}

function checkValue(v, spec, path, modelName, out) {
  const t = spec.type;
  const bad = (expected) =>
    out.push({ field: path, model: modelName, problem: 'type', detail: `expected ${expected}, got ${kindOf(v)}`, example: sample(v) });
  if (v === null) {
    if (spec.required === false || spec.default === null) return;
    out.push({ field: path, model: modelName, problem: 'null', detail: `${t} is null` });
    return;
  }
  if (t.startsWith('model:')) {
    checkModel(v, t.slice(6), path, out);
    return;
  }
  if (t.startsWith('oneOf:')) {
    checkUnion(v, t.slice(6).split(','), path, out);
    return;
  }
  if (t === '$this->getPolicyModels()') {
    checkUnion(v, POLICY_MODELS, path, out);
    return;
  }
  switch (t) {
    case 'string':
    case 'enum':
      if (typeof v !== 'string') bad('string');
      return;
    case 'id':
      // Document/Row filters cast $sequence to a string.
      if (typeof v !== 'string') bad('string (a numeric id as text)');
      return;
    case 'integer':
      if (!(typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)))) bad('integer');
      return;
    case 'float':
    case 'double':
      if (typeof v !== 'number' && typeof v !== 'bigint') bad('number');
      return;
    case 'boolean':
      if (typeof v !== 'boolean') bad('boolean');
      return;
    case 'datetime':
      if (typeof v !== 'string') return bad('datetime string');
      if (v === '' || DATETIME_APPWRITE.test(v)) return;
      if (DATETIME_ISO.test(v)) {
        out.push({ field: path, model: modelName, problem: 'datetime-format', detail: 'not in Appwrite\'s form YYYY-MM-DDTHH:MM:SS.mmm+00:00', example: v });
      } else bad('datetime string');
      return;
    case 'json':
      if (typeof v !== 'object') bad('JSON object or array');
      return;
    case 'array':
      if (!Array.isArray(v)) bad('array');
      return;
    default:
      out.push({ field: path, model: modelName, problem: 'unknown-type', detail: `models.json type ${t}` });
  }
}

// ---------------------------------------------------------------------------------------------
// Checking one answer, and what happens to violations.

const seenUnchecked = new Set();
function unchecked(routeKey, why) {
  const k = `${routeKey} ${why}`;
  if (seenUnchecked.has(k)) return;
  seenUnchecked.add(k);
  if (mode === 'report') {
    try {
      mkdirSync(dirname(uncheckedFile), { recursive: true });
      appendFileSync(uncheckedFile, `${JSON.stringify({ runtime: runtimeName, route: routeKey, why })}\n`);
    } catch {}
  }
  console.error(`model check: not checked: ${routeKey} (${why})`);
}

const seenChecked = new Set();
/** Report mode: which route answered which model at least once (the check's coverage). */
function checked(routeKey, model, via) {
  if (mode !== 'report') return;
  const k = `${routeKey} ${model} ${via}`;
  if (seenChecked.has(k)) return;
  seenChecked.add(k);
  try {
    mkdirSync(dirname(checkedFile), { recursive: true });
    appendFileSync(checkedFile, `${JSON.stringify({ runtime: runtimeName, route: routeKey, model, via })}\n`);
  } catch {}
}

/** The test file and line that made the request, for the report. */
function caller() {
  const stack = new Error().stack?.split('\n') ?? [];
  for (const line of stack) {
    const m = line.match(/\/e2e\/([^/]+\.test\.mjs):(\d+)/);
    if (m) return `${m[1]}:${m[2]}`;
  }
  return undefined;
}

const reported = new Set();
function deliver(violations, ctx) {
  checked(ctx.route, ctx.model, ctx.via);
  if (violations.length === 0) return;
  const at = caller();
  if (mode === 'report') {
    const lines = [];
    for (const v of violations) {
      const field = v.field.replace(/\[\d+\]/g, '[]');
      const key = [ctx.route, ctx.model ?? v.model, v.model, field, v.problem, v.detail].join('\u0000');
      if (reported.has(key)) continue;
      reported.add(key);
      lines.push(JSON.stringify({
        runtime: runtimeName, route: ctx.route, status: ctx.status, via: ctx.via, model: v.model,
        answered: ctx.model, field, problem: v.problem, detail: v.detail, example: v.example,
        path: ctx.path, at,
      }));
    }
    if (lines.length) {
      mkdirSync(dirname(reportFile), { recursive: true });
      appendFileSync(reportFile, `${lines.join('\n')}\n`);
    }
    return;
  }
  const shown = violations.slice(0, 12).map((v) =>
    `  ${v.model}: ${v.field}: ${v.problem}: ${v.detail}${v.example !== undefined ? ` (value ${JSON.stringify(v.example)})` : ''}`,
  );
  if (violations.length > shown.length) shown.push(`  … and ${violations.length - shown.length} more`);
  const err = new AssertionError({
    message: `model check: ${ctx.route} (${ctx.path}, ${ctx.status ?? 'status unknown'}, via ${ctx.via}) does not answer ${ctx.model}:\n${shown.join('\n')}`,
    operator: 'modelCheck',
    stackStartFn: deliver,
  });
  throw err;
}

/** Whether version `a` (x.y.z) is lower than `b`. */
function olderThan(a, b) {
  const pa = String(a).split('.').map((x) => parseInt(x, 10) || 0);
  const pb = String(b).split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) < (pb[i] ?? 0);
  }
  return false;
}

/** The X-Appwrite-Response-Format among `headers`, whatever its case. */
export function responseFormat(...headers) {
  let found;
  for (const h of headers) {
    for (const [k, v] of Object.entries(h ?? {})) if (k.toLowerCase() === 'x-appwrite-response-format') found = v;
  }
  return found;
}

/** Upstream routes the proxy test's legacy stand-in answers (not edgewrite's answers). */
function isLegacyAnswer(url) {
  const proxy = process.env.EDGEWRITE_PROXY_ENDPOINT;
  if (!proxy) return false;
  const p = new URL(proxy);
  if (url.origin !== p.origin) return false;
  return /^\/v1\/functions(\/|$)|^\/v1\/storage\/buckets\/legacy(\/|$)/.test(url.pathname);
}

/** `/v1/…` of a URL, or null when it is not an API path. */
function apiPath(url) {
  const i = url.pathname.indexOf('/v1/');
  if (i >= 0) return url.pathname.slice(i);
  return url.pathname.endsWith('/v1') ? '/v1' : null;
}

/**
 * Checks one answer. `kind`: 'json' (a parsed JSON body in `body`), 'text' (a body that is not
 * JSON), 'binary' (skipped) or 'empty'. `status` may be unknown (the SDKs hide it) for 2xx.
 */
export function checkAnswer({ method, url, status, kind, body, via, format }) {
  if (mode === 'off' || !loadContract()) return;
  url = url instanceof URL ? url : new URL(String(url));
  method = method.toUpperCase();
  if (method === 'HEAD' || method === 'OPTIONS') return;
  if (status !== undefined && status >= 300 && status < 400) return;
  const path = apiPath(url);
  if (!path || isLegacyAnswer(url)) return;
  if (path.startsWith('/v1/__edgewrite')) {
    unchecked(`${method} ${path.split('/').slice(0, 3).join('/')}/…`, 'edgewrite-only test route');
    return;
  }
  const route = findRoute(method, path);
  const routeKey = !route
    ? `${method} ${path}`
    : route.canonical === route.path
      ? `${method} ${route.path}`
      : `${method} ${route.canonical} (alias ${route.path})`;
  const ctx = { route: routeKey, path, status, via };
  // An older X-Appwrite-Response-Format gets older models (Appwrite's version filters), which
  // 1.9.6's do not describe; its errors are still 1.9.6's.
  const older = format && olderThan(format, '1.9.0');
  if (status !== undefined && status >= 400) {
    ctx.model = 'error';
    if (kind !== 'json') {
      deliver([{ field: '(body)', model: 'error', problem: 'not-json', detail: `a ${status} answer whose body is not JSON`, example: sample(body) }], ctx);
      return;
    }
    const out = [];
    checkModel(body, 'error', '', out);
    if (isObject(body) && typeof body.code === 'number' && body.code !== status) {
      out.push({ field: 'code', model: 'error', problem: 'value', detail: `code ${body.code} but HTTP status ${status}`, example: body.code });
    }
    deliver(out, ctx);
    return;
  }
  if (kind === 'binary') return;
  if (older) {
    unchecked(routeKey, `answered in response format ${format}`);
    return;
  }
  if (!route) {
    unchecked(`${method} ${path}`, 'no such route in routes.json');
    return;
  }
  const models = route.models.filter((m) => m !== 'none');
  const none = route.models.includes('none');
  if (route.models.length === 0) {
    unchecked(routeKey, 'routes.json names no model');
    return;
  }
  if (route.models.includes('any')) return;
  if (kind === 'json') {
    if (models.length === 0) {
      ctx.model = 'none';
      deliver([{ field: '(body)', model: 'none', problem: 'unexpected-body', detail: 'Appwrite answers this route with no content (204)', example: sample(body) }], ctx);
      return;
    }
    const out = [];
    ctx.model = models.length === 1 ? checkModel(body, models[0], '', out) : checkUnion(body, models, '', out);
    deliver(out, ctx);
    return;
  }
  if (models.length > 0 && !none) {
    ctx.model = models.join('|');
    deliver([{ field: '(body)', model: ctx.model, problem: 'not-json', detail: `a ${status ?? '2xx'} answer whose body is not JSON`, example: sample(body) }], ctx);
  } else checked(routeKey, 'none', via);
}

// ---------------------------------------------------------------------------------------------
// The SDK hook.

/**
 * Wraps `Client.prototype.call` of node-appwrite or appwrite (web). Both SDKs' `call` parse a
 * JSON answer with json-bigint, whose objects have no prototype, and wrap any other text as
 * `{message: text}` (a plain object); binary answers asked for as 'arrayBuffer' come back as an
 * ArrayBuffer. A 4xx/5xx becomes an AppwriteException whose `response` holds the body as text.
 * `chunkedUpload` goes through `call` for every chunk, so uploads are checked too.
 */
export function hookClient(Client, via) {
  const original = Client.prototype.call;
  if (mode === 'off' || original.__edgewriteModelCheck) return;
  const wrapped = async function (method, url, headers = {}, params = {}, responseType = 'json') {
    let result;
    try {
      result = await Reflect.apply(original, this, [method, url, headers, params, responseType]);
    } catch (e) {
      if (e && e.name === 'AppwriteException' && typeof e.code === 'number' && e.code >= 400) {
        let body;
        let kind = 'text';
        try {
          body = JSON.parse(e.response);
          kind = 'json';
        } catch {
          body = e.response;
        }
        checkAnswer({ method, url, status: e.code, kind, body, via, format: responseFormat(this.headers, headers) });
      }
      throw e;
    }
    let kind;
    if (result instanceof ArrayBuffer || ArrayBuffer.isView(result)) kind = 'binary';
    else if (result !== null && typeof result === 'object' && (Object.getPrototypeOf(result) === null || Array.isArray(result))) kind = 'json';
    else if (result === null || result === undefined) kind = 'empty';
    else kind = 'text';
    if (kind === 'text' && responseType === 'arrayBuffer') kind = 'binary';
    checkAnswer({ method, url, kind, body: kind === 'text' ? result?.message : result, via, format: responseFormat(this.headers, headers) });
    return result;
  };
  wrapped.__edgewriteModelCheck = true;
  Client.prototype.call = wrapped;
}
