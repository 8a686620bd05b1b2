// Locale (`/v1/locale…`) through node-appwrite and the web SDK: the caller's country from the
// header the deployment trusts (`cargo xtask test` names `cf-ipcountry`, as a proxy in front
// would set it), every list against the data set's counts, names in the X-Appwrite-Locale
// language.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, endpoint, guestClient, node, projectId, raw, runtime, web } from './helpers.mjs';

/** The data set's counts (components/locale: keshvar, iso_currency, isolang at build time). */
const COUNTS = await (async () => {
  const res = await raw('/__edgewrite/locale-counts', { key: true });
  return res.status === 200 ? res.json : null;
})();

const guest = (locale) => {
  const client = new node.Client().setEndpoint(endpoint).setProject(projectId);
  if (locale) client.setLocale(locale);
  return new node.Locale(client);
};

test('locale.get names the caller\'s country, continent, EU membership and currency', async () => {
  const client = new node.Client().setEndpoint(endpoint).setProject(projectId).addHeader('cf-ipcountry', 'DE');
  const here = await new node.Locale(client).get();
  assert.deepEqual(
    [here.countryCode, here.country, here.continentCode, here.continent, here.eu, here.currency],
    ['DE', 'Germany', 'EU', 'Europe', true, 'EUR'],
  );
  const inFrench = await new node.Locale(client.setLocale('fr')).get();
  assert.equal(inFrench.country, 'Allemagne');
  const us = await new node.Locale(new node.Client().setEndpoint(endpoint).setProject(projectId).addHeader('cf-ipcountry', 'US')).get();
  assert.deepEqual([us.countryCode, us.continentCode, us.eu, us.currency], ['US', 'NA', false, 'USD']);
  // A caller the proxy cannot place gets Appwrite's unknown answer; so does one the runtime
  // cannot place (Spin has no geodata; wrangler dev stands a fixed country in for it).
  const placeless = new node.Client().setEndpoint(endpoint).setProject(projectId).addHeader('cf-ipcountry', 'XX');
  const nowhere = await new node.Locale(placeless).get();
  assert.deepEqual([nowhere.countryCode, nowhere.country, nowhere.continentCode, nowhere.continent, nowhere.eu, nowhere.currency], ['--', 'Unknown', '--', 'Unknown', false, '']);
  const bare = await guest().get();
  if (runtime === 'spin') assert.equal(bare.countryCode, '--');
  else assert.match(bare.countryCode, /^[A-Z]{2}$/, 'request.cf.country of wrangler dev');
  for (const bogus of ['T1', 'Germany', '1']) {
    const c = new node.Client().setEndpoint(endpoint).setProject(projectId).addHeader('cf-ipcountry', bogus);
    assert.equal((await new node.Locale(c).get()).countryCode, '--', bogus);
  }
});

test('locale lists: countries, EU countries, phones, continents, currencies, languages and codes, each with the data set\'s count', async () => {
  const locale = guest();
  const countries = await locale.listCountries();
  assert.equal(countries.total, countries.countries.length);
  assert.ok(countries.total >= 240, `${countries.total} countries`);
  if (COUNTS) assert.equal(countries.total, COUNTS.countries);
  const names = countries.countries.map((c) => c.name);
  assert.deepEqual(names, [...names].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.from(a) > Buffer.from(b) ? 1 : 0)));
  assert.ok(countries.countries.some((c) => c.code === 'JP' && c.name === 'Japan'));

  const eu = await locale.listCountriesEU();
  assert.equal(eu.total, 27);
  assert.ok(eu.countries.some((c) => c.code === 'FR') && !eu.countries.some((c) => c.code === 'GB'));

  const phones = await locale.listCountriesPhones();
  assert.equal(phones.total, phones.phones.length);
  if (COUNTS) assert.equal(phones.total, COUNTS.phones);
  assert.ok(phones.phones.some((p) => p.code === '+49' && p.countryCode === 'DE' && p.countryName === 'Germany'));
  assert.ok(phones.phones.some((p) => p.code === '+1268' && p.countryCode === 'AG'));

  const continents = await locale.listContinents();
  assert.deepEqual(continents.continents.map((c) => c.code).sort(), ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);

  const currencies = await locale.listCurrencies();
  if (COUNTS) assert.equal(currencies.total, COUNTS.currencies);
  const euro = currencies.currencies.find((c) => c.code === 'EUR');
  assert.deepEqual([euro.symbol, euro.decimalDigits], ['€', 2]);
  assert.equal(currencies.currencies.find((c) => c.code === 'JPY').decimalDigits, 0);

  const languages = await locale.listLanguages();
  if (COUNTS) assert.equal(languages.total, COUNTS.languages);
  const german = languages.languages.find((l) => l.code === 'de');
  assert.deepEqual([german.name, german.nativeName], ['German', 'Deutsch']);

  const codes = await locale.listCodes();
  if (COUNTS) assert.equal(codes.total, COUNTS.codes);
  assert.ok(codes.localeCodes.some((c) => c.code === 'en' && c.name === 'English'));
  assert.ok(codes.localeCodes.some((c) => c.code === 'de' && c.name === 'German'));
});

test('locale names follow X-Appwrite-Locale, with the language as a fallback and English last', async () => {
  const inGerman = await guest('de').listCountries();
  assert.ok(inGerman.countries.some((c) => c.code === 'DE' && c.name === 'Deutschland'));
  const inGermanSwiss = await guest('de-CH').listCountriesEU();
  assert.ok(inGermanSwiss.countries.some((c) => c.code === 'AT' && c.name === 'Österreich'));
  const unknown = await guest('tlh').listCountries();
  assert.ok(unknown.countries.some((c) => c.code === 'DE' && c.name === 'Germany'));
  const phones = await guest('ja').listCountriesPhones();
  assert.ok(phones.phones.some((p) => p.countryCode === 'JP' && p.countryName === '日本'));
});

test('web SDK: a guest page reads the locale lists; the key and a project are not needed', async () => {
  const locale = new web.Locale(guestClient());
  assert.ok((await locale.listCountries()).total >= 240);
  assert.match((await locale.get()).countryCode, runtime === 'spin' ? /^--$/ : /^[A-Z]{2}$/);
  // The API key is accepted too (servers render sign-up forms).
  assert.equal((await new node.Locale(adminClient()).listContinents()).total, 7);
});
