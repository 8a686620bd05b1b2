#!/usr/bin/env node
// Generates the raster icon sets served by the Avatars API
// (GET /v1/avatars/{flags,browsers,credit-cards}/{code}) into
// components/avatars/icons/, together with index.tsv and NOTICE.md.
//
//   cd tools/avatar-icons && npm ci && node generate.mjs
//
// Inputs:  codes/{flags,browsers,credit-cards}.tsv   (code<TAB>name<TAB>appwrite-file)
//          the pinned npm packages in package.json / package-lock.json
// Outputs: components/avatars/icons/{flags,browsers,credit-cards}/*.png
//          components/avatars/icons/index.tsv         (set<TAB>code<TAB>file)
//          components/avatars/icons/NOTICE.md
//
// The output is deterministic: same inputs + same lockfile => identical bytes.
// Any code without an image, any malformed input line, or any set over its
// size budget makes the script exit non-zero.

import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';
import opentype from 'opentype.js';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import * as cardIcons from 'react-svg-credit-card-payment-icons/icons/flat-rounded';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const OUT = join(REPO, 'components', 'avatars', 'icons');

// Keep libvips single-threaded and uncached so nothing depends on scheduling.
sharp.concurrency(1);
sharp.cache(false);

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const FLAG_W = 200;
const FLAG_H = 150;
const BROWSER_SIZE = 256;
const CARD_W = 256;

// Size budgets (bytes, sum of the PNG files of a set).
const BUDGET = {
  flags: 350 * 1024,
  browsers: 120 * 1024,
  'credit-cards': 80 * 1024,
};

// PNG encoder settings per set (palette = libimagequant quantisation).
const PNG = {
  flags: { palette: true, quality: 90, colours: 128, dither: 0.6, compressionLevel: 9, effort: 10 },
  browsers: { palette: true, quality: 85, colours: 128, dither: 0.5, compressionLevel: 9, effort: 10 },
  'credit-cards': { palette: true, quality: 90, colours: 64, dither: 0.4, compressionLevel: 9, effort: 10 },
};

// Browser code -> image. `pkg` images come from @browser-logos/<pkg>
// (<pkg>_256x256.png); `standin` images are drawn by this script.
const BROWSER_IMAGES = {
  chrome: { pkg: 'chrome' },
  chromium: { pkg: 'chromium' },
  firefox: { pkg: 'firefox' },
  safari: { pkg: 'safari' },
  edge: { pkg: 'edge' },
  opera: { pkg: 'opera' },
  'opera-mini': { pkg: 'opera-mini' },
  'android-webview': { pkg: 'android-webview' },
  avant: { standin: 'globe' },
};
const BROWSERS = {
  aa: { image: 'avant', standin: 'No permissively licensed Avant Browser logo is published on npm; a neutral globe icon drawn by generate.mjs is used instead.' },
  an: { image: 'android-webview', standin: '@browser-logos/android-webview-beta is not published on npm; the stable Android WebView logo from the same family (@browser-logos/android-webview) is used instead.' },
  ch: { image: 'chrome' },
  ci: { image: 'chrome' },
  cm: { image: 'chrome' },
  cr: { image: 'chromium' },
  ff: { image: 'firefox' },
  sf: { image: 'safari' },
  mf: { image: 'safari' },
  ps: { image: 'edge' },
  oi: { image: 'edge' },
  om: { image: 'opera-mini' },
  op: { image: 'opera' },
  on: { image: 'opera' },
};

// Credit-card code -> source. `icon` = export name of
// react-svg-credit-card-payment-icons/icons/flat-rounded; `standin` = a
// neutral card drawn by generate.mjs (solid colour, generic chip, brand name
// set in Inter Bold) because no permissively licensed artwork exists on npm.
const STANDIN_CARD_REASON = 'No permissively licensed artwork for this brand is published on npm; a neutral card (solid colour, generic chip, brand name in Inter Bold) drawn by generate.mjs is used instead. It is not the brand\'s logo.';
const CARDS = {
  amex: { icon: 'AmericanExpress' },
  argencard: { standin: { label: 'Argencard', colour: '#1D4F91' } },
  cabal: { standin: { label: 'Cabal', colour: '#0A6E8A' } },
  cencosud: { standin: { label: 'Cencosud', colour: '#2E7D32' } },
  diners: { icon: 'DinersClub' },
  discover: { icon: 'Discover' },
  elo: { icon: 'Elo' },
  hipercard: { icon: 'Hipercard' },
  jcb: { icon: 'JCB' },
  mastercard: { icon: 'Mastercard' },
  naranja: { standin: { label: 'Naranja', colour: '#E8590C' } },
  'targeta-shopping': { standin: { label: 'Tarjeta Shopping', colour: '#8E244D' } },
  unionpay: { icon: 'UnionPay' },
  visa: { icon: 'Visa' },
  mir: { icon: 'Mir' },
  maestro: { icon: 'Maestro' },
  rupay: { standin: { label: 'RuPay', colour: '#3F4A5A' } },
};

// Font used for the text of stand-in images (glyph outlines are converted to
// SVG paths, so rendering never depends on the fonts installed on the machine).
const FONT_PKG = '@fontsource/inter';
const FONT_FILE = 'files/inter-latin-700-normal.woff';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const errors = [];
function fail(msg) {
  errors.push(msg);
}
function bail() {
  if (errors.length) {
    console.error(`generate.mjs: ${errors.length} error(s):`);
    for (const e of errors) console.error(`  - ${e}`);
    process.exit(1);
  }
}

function readCodes(set) {
  const file = join(HERE, 'codes', `${set}.tsv`);
  const rows = [];
  const seen = new Set();
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line === '' && i === lines.length - 1) return;
    const f = line.split('\t');
    if (f.length !== 3 || !/^[a-z0-9-]+$/.test(f[0]) || !f[1] || !f[2]) {
      fail(`codes/${set}.tsv:${i + 1}: expected "code<TAB>name<TAB>file", got ${JSON.stringify(line)}`);
      return;
    }
    if (seen.has(f[0])) fail(`codes/${set}.tsv:${i + 1}: duplicate code ${f[0]}`);
    seen.add(f[0]);
    rows.push({ code: f[0], name: f[1], appwriteFile: f[2] });
  });
  if (rows.length === 0) fail(`codes/${set}.tsv: no codes`);
  return rows;
}

// Packages are read straight from node_modules (some block
// require.resolve('<pkg>/package.json') through their "exports" map).
function pkgDir(name) {
  const dir = join(HERE, 'node_modules', ...name.split('/'));
  if (!existsSync(join(dir, 'package.json'))) throw new Error(`package ${name} is not installed; run npm ci first`);
  return dir;
}
function pkgJson(name) {
  return JSON.parse(readFileSync(join(pkgDir(name), 'package.json'), 'utf8'));
}
function copyrightLine(name) {
  for (const f of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'LICENCE']) {
    const p = join(pkgDir(name), f);
    if (!existsSync(p)) continue;
    for (const l of readFileSync(p, 'utf8').split('\n')) {
      const t = l.trim();
      // "Copyright (c) ...", "Copyright © ...", "Copyright 2016 ..."; a line
      // holding several notices (Inter's) is cut before the second one.
      if (/^copyright\s+(\(c\)|©|\d{4})/i.test(t)) return t.split(/\s+\S+:\s+(?=copyright\b)/i)[0];
    }
  }
  return null;
}

function repoUrl(j) {
  const u = typeof j.repository === 'string' ? j.repository : j.repository?.url;
  if (!u) return null;
  const m = u.match(/github\.com[/:]([^/]+\/[^/]+?)(\.git)?$/);
  return m ? `https://github.com/${m[1]}` : u;
}

function setSvgSize(svg, w, h) {
  const m = svg.match(/<svg\b[^>]*>/);
  if (!m) throw new Error('no <svg> root element');
  let tag = m[0].replace(/\s(width|height)="[^"]*"/g, '');
  tag = tag.replace(/^<svg\b/, `<svg width="${w}" height="${h}"`);
  return svg.replace(m[0], tag);
}
function viewBoxOf(svg) {
  const m = svg.match(/<svg\b[^>]*\bviewBox="([^"]+)"/);
  if (!m) throw new Error('svg has no viewBox');
  const v = m[1].trim().split(/[\s,]+/).map(Number);
  if (v.length !== 4 || v.some((n) => !Number.isFinite(n))) throw new Error(`bad viewBox ${m[1]}`);
  return { w: v[2], h: v[3] };
}

// Render an SVG string to an RGBA raster of exactly w x h. The SVG is drawn at
// 2x and reduced with Lanczos, which removes the hairline seams librsvg leaves
// between abutting shapes.
async function rasterSvg(svg, w, h) {
  return sharp(Buffer.from(setSvgSize(svg, w * 2, h * 2)), { density: 72 })
    .resize(w, h, { kernel: 'lanczos3', fit: 'fill' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
}

async function encodePng(raw, opts, { opaque = false } = {}) {
  let img = sharp(raw.data, { raw: raw.info });
  if (opaque) img = img.flatten({ background: '#ffffff' });
  return img.png(opts).toBuffer();
}

let font;
function loadFont() {
  if (!font) {
    const buf = readFileSync(join(pkgDir(FONT_PKG), FONT_FILE));
    font = opentype.parse(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }
  return font;
}
// Text as a filled SVG path, left-aligned at x with baseline y, shrunk so it
// is at most maxWidth wide. Glyphs are laid out one by one (advance + pair
// kerning); no shaping features are needed for plain Latin brand names.
function textPath(text, x, y, size, maxWidth, fill) {
  const f = loadFont();
  const glyphs = [...text].map((ch) => {
    const g = f.charToGlyph(ch);
    if (!g || g.index === 0) throw new Error(`font has no glyph for ${JSON.stringify(ch)}`);
    return g;
  });
  const advances = glyphs.map((g, i) => g.advanceWidth + (i + 1 < glyphs.length ? f.getKerningValue(g, glyphs[i + 1]) : 0));
  const units = advances.reduce((a, b) => a + b, 0);
  const s = Math.min(size, (maxWidth * f.unitsPerEm) / units);
  let pen = x;
  const parts = glyphs.map((g, i) => {
    const d = g.getPath(pen, y, s).toPathData(2);
    pen += (advances[i] * s) / f.unitsPerEm;
    return d;
  });
  return `<path fill="${fill}" d="${parts.join('')}"/>`;
}

function standinCardSvg({ label, colour }) {
  // 780 x 500, the same geometry as the flat-rounded card icons.
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 780 500">
<rect width="780" height="500" rx="40" fill="${colour}"/>
<rect x="70" y="120" width="116" height="88" rx="16" fill="#E9C46A"/>
<path d="M70 149h40M70 179h40M146 149h40M146 179h40M110 120v88M146 120v88" stroke="#B8912F" stroke-width="6" fill="none"/>
${textPath(label, 70, 400, 104, 640, '#FFFFFF')}
</svg>`;
}

function standinGlobeSvg() {
  // Neutral "web browser" globe, 256 x 256.
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 256 256">
<circle cx="128" cy="128" r="116" fill="#2F6DB5"/>
<g fill="none" stroke="#FFFFFF" stroke-width="10" stroke-linecap="round">
<circle cx="128" cy="128" r="80"/>
<ellipse cx="128" cy="128" rx="34" ry="80"/>
<path d="M48 128h160M128 48v160M62 88h132M62 168h132"/>
</g>
</svg>`;
}

function writeFile(path, buf) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, buf);
}

function cleanDir(dir) {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.png')) rmSync(join(dir, f));
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const sets = {
  flags: readCodes('flags'),
  browsers: readCodes('browsers'),
  'credit-cards': readCodes('credit-cards'),
};
bail();

// Cross-check the hand-written tables against the code lists.
for (const [set, table] of [['browsers', BROWSERS], ['credit-cards', CARDS]]) {
  const codes = new Set(sets[set].map((r) => r.code));
  for (const c of codes) if (!(c in table)) fail(`${set}: code "${c}" has no image mapping in generate.mjs`);
  for (const c of Object.keys(table)) if (!codes.has(c)) fail(`${set}: generate.mjs maps "${c}" which is not in codes/${set}.tsv`);
}
for (const [code, b] of Object.entries(BROWSERS)) {
  if (!(b.image in BROWSER_IMAGES)) fail(`browsers: code "${code}" maps to unknown image "${b.image}"`);
}
for (const r of sets.flags) {
  if (!existsSync(join(pkgDir('flag-icons'), 'flags', '4x3', `${r.code}.svg`))) {
    fail(`flags: flag-icons has no flags/4x3/${r.code}.svg (${r.name})`);
  }
}
for (const [code, c] of Object.entries(CARDS)) {
  if (c.icon && typeof cardIcons[c.icon] !== 'function') {
    fail(`credit-cards: react-svg-credit-card-payment-icons has no flat-rounded export "${c.icon}" for ${code}`);
  }
}
for (const [name, b] of Object.entries(BROWSER_IMAGES)) {
  if (b.pkg && !existsSync(join(pkgDir(`@browser-logos/${b.pkg}`), `${b.pkg}_256x256.png`))) {
    fail(`browsers: @browser-logos/${b.pkg} has no ${b.pkg}_256x256.png (image ${name})`);
  }
}
bail();

const index = []; // [set, code, file]
const sizes = { flags: 0, browsers: 0, 'credit-cards': 0 };
const written = new Map(); // relative file -> bytes
const cardSources = {};

async function emit(set, file, png) {
  const rel = `${set}/${file}`;
  if (!written.has(rel)) {
    writeFile(join(OUT, rel), png);
    written.set(rel, png.length);
    sizes[set] += png.length;
  }
  return rel;
}

for (const set of Object.keys(sets)) cleanDir(join(OUT, set));

// Flags ---------------------------------------------------------------------
for (const r of sets.flags) {
  const svg = readFileSync(join(pkgDir('flag-icons'), 'flags', '4x3', `${r.code}.svg`), 'utf8');
  const vb = viewBoxOf(svg);
  if (Math.abs(vb.w * 3 - vb.h * 4) > 1e-6) fail(`flags: ${r.code}.svg is not 4:3 (${vb.w}x${vb.h})`);
  const raw = await rasterSvg(svg, FLAG_W, FLAG_H);
  const png = await encodePng(raw, PNG.flags, { opaque: true });
  index.push(['flags', r.code, await emit('flags', `${r.code}.png`, png)]);
}

// Browsers ------------------------------------------------------------------
const browserPng = {};
for (const [name, b] of Object.entries(BROWSER_IMAGES)) {
  let raw;
  if (b.pkg) {
    const src = join(pkgDir(`@browser-logos/${b.pkg}`), `${b.pkg}_256x256.png`);
    raw = await sharp(readFileSync(src))
      .resize(BROWSER_SIZE, BROWSER_SIZE, { kernel: 'lanczos3', fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } else if (b.standin === 'globe') {
    raw = await rasterSvg(standinGlobeSvg(), BROWSER_SIZE, BROWSER_SIZE);
  }
  browserPng[name] = await encodePng(raw, PNG.browsers);
}
for (const r of sets.browsers) {
  const image = BROWSERS[r.code].image;
  index.push(['browsers', r.code, await emit('browsers', `${image}.png`, browserPng[image])]);
}
for (const name of Object.keys(BROWSER_IMAGES)) {
  if (!written.has(`browsers/${name}.png`)) fail(`browsers: image "${name}" is not used by any code`);
}

// Credit cards --------------------------------------------------------------
for (const r of sets['credit-cards']) {
  const c = CARDS[r.code];
  let svg;
  if (c.icon) {
    const comp = cardIcons[c.icon];
    svg = renderToStaticMarkup(createElement(comp, {}));
    const meta = comp.cardMetadata || {};
    cardSources[r.code] = { icon: c.icon, author: meta.iconAuthor, licence: meta.iconLicense };
  } else {
    svg = standinCardSvg(c.standin);
    cardSources[r.code] = { standin: true };
  }
  const vb = viewBoxOf(svg);
  const h = Math.round((CARD_W * vb.h) / vb.w);
  const raw = await rasterSvg(svg, CARD_W, h);
  const png = await encodePng(raw, PNG['credit-cards']);
  index.push(['credit-cards', r.code, await emit('credit-cards', `${r.code}.png`, png)]);
}
bail();

// Verify: every code exactly once, every file present and a PNG.
for (const set of Object.keys(sets)) {
  const got = index.filter((e) => e[0] === set).map((e) => e[1]);
  const want = sets[set].map((r) => r.code);
  if (got.length !== want.length || new Set(got).size !== want.length || want.some((c) => !got.includes(c))) {
    fail(`${set}: index does not list every code exactly once`);
  }
}
for (const [, code, file] of index) {
  const p = join(OUT, file);
  if (!existsSync(p) || statSync(p).size === 0) fail(`${file} (for ${code}) was not written`);
  else if (!readFileSync(p).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) fail(`${file} is not a PNG`);
}
for (const set of Object.keys(sets)) {
  if (sizes[set] > BUDGET[set]) fail(`${set}: ${sizes[set]} bytes exceeds the budget of ${BUDGET[set]} bytes`);
}
bail();

writeFile(join(OUT, 'index.tsv'), index.map((e) => e.join('\t')).join('\n') + '\n');
writeFile(join(OUT, 'NOTICE.md'), notice());

for (const set of Object.keys(sets)) {
  const files = [...written.keys()].filter((f) => f.startsWith(`${set}/`)).length;
  console.log(`${set.padEnd(13)} ${String(sets[set].length).padStart(3)} codes, ${String(files).padStart(3)} files, ${sizes[set]} bytes (${(sizes[set] / 1024).toFixed(1)} KiB, budget ${BUDGET[set] / 1024} KiB)`);
}
console.log(`wrote ${relative(REPO, OUT)}/{index.tsv,NOTICE.md}`);

// ---------------------------------------------------------------------------
// NOTICE.md
// ---------------------------------------------------------------------------

function notice() {
  const browserLogos = [...new Set(Object.values(BROWSER_IMAGES).filter((b) => b.pkg).map((b) => b.pkg))].sort();
  const row = (cells) => `| ${cells.join(' | ')} |`;
  const need = (v, what) => {
    if (!v) throw new Error(`NOTICE: missing ${what}`);
    return v;
  };

  const fi = pkgJson('flag-icons');
  const cc = pkgJson('react-svg-credit-card-payment-icons');
  const inter = pkgJson('@fontsource/inter');
  const ccAuthors = [...new Set(Object.values(cardSources).filter((s) => s.icon).map((s) => `${s.author} (${s.licence})`))].sort();

  const lines = [];
  lines.push('# Avatar icons: sources and licences');
  lines.push('');
  lines.push('Generated by `tools/avatar-icons/generate.mjs`; do not edit by hand. Regenerate with');
  lines.push('`cd tools/avatar-icons && npm ci && node generate.mjs`.');
  lines.push('');
  lines.push('None of these images is copied from Appwrite. Product names, logos and flags');
  lines.push('remain the trademarks or property of their respective owners; they are used');
  lines.push('here only to identify the browser, card network or country.');
  lines.push('');
  lines.push('## Image sources');
  lines.push('');
  lines.push(row(['Package', 'Version', 'Licence', 'Copyright', 'Used for']));
  lines.push(row(['---', '---', '---', '---', '---']));
  lines.push(row([
    '`flag-icons`', fi.version, need(fi.license, 'flag-icons licence'),
    need(copyrightLine('flag-icons'), 'flag-icons copyright'),
    `flags/*.png (all ${sets.flags.length} flags, from flags/4x3/*.svg)`,
  ]));
  for (const p of browserLogos) {
    const j = pkgJson(`@browser-logos/${p}`);
    const uses = Object.entries(BROWSERS).filter(([, b]) => b.image === p).map(([c]) => c);
    lines.push(row([
      `\`@browser-logos/${p}\``, j.version,
      j.license || 'MIT ¹', copyrightLine(`@browser-logos/${p}`) || 'Copyright (c) Cătălin Mariș ¹',
      `browsers/${p}.png (${uses.join(', ')}), from ${p}_256x256.png`,
    ]));
  }
  lines.push(row([
    '`react-svg-credit-card-payment-icons`', cc.version,
    `${need(cc.license, 'card icons licence')} (package.json); icon artwork ${ccAuthors.join(', ')} ²`,
    copyrightLine('react-svg-credit-card-payment-icons') || `no copyright line in the package; icon author per its metadata: ${ccAuthors.map((a) => a.replace(/ \(.*/, '')).join(', ')} ²`,
    `credit-cards/*.png for ${Object.keys(cardSources).filter((c) => cardSources[c].icon).join(', ')} ("flat-rounded" style)`,
  ]));
  lines.push(row([
    '`@fontsource/inter`', inter.version, need(inter.license, 'inter licence'),
    need(copyrightLine('@fontsource/inter'), 'inter copyright'),
    'Inter Bold glyph outlines for the text of the stand-in credit cards ³',
  ]));
  lines.push('');
  lines.push('¹ The `@browser-logos/*` npm packages carry no `license` field and no licence file;');
  lines.push(`they are published from ${need(repoUrl(pkgJson('@browser-logos/chrome')), 'browser-logos repository')},`);
  lines.push('whose LICENSE.txt is the MIT licence, "Copyright (c) Cătălin Mariș".');
  lines.push('');
  lines.push(`² \`react-svg-credit-card-payment-icons\` (${repoUrl(cc) || 'repository unknown'}) declares "${cc.license}" in`);
  lines.push('package.json while the LICENSE file it ships is the Apache License 2.0 text; each icon\'s');
  lines.push('`cardMetadata` names its author and licence (listed above). Both licences are permissive.');
  lines.push('The SVG markup is obtained by rendering the React components with `react-dom/server`.');
  lines.push('');
  lines.push('³ Text is converted to vector outlines with opentype.js before rasterising; the images');
  lines.push('contain no font software. The font is licensed under the SIL Open Font License 1.1.');
  lines.push('');
  lines.push('## Stand-in images');
  lines.push('');
  lines.push('These codes have no permissively licensed image on npm, so a stand-in is used:');
  lines.push('');
  lines.push(row(['Set', 'Code', 'Name', 'File', 'Why']));
  lines.push(row(['---', '---', '---', '---', '---']));
  const nameOf = (set, code) => sets[set].find((r) => r.code === code).name;
  for (const [code, b] of Object.entries(BROWSERS)) {
    if (b.standin) lines.push(row(['browsers', `\`${code}\``, nameOf('browsers', code), `browsers/${b.image}.png`, b.standin]));
  }
  for (const [code, c] of Object.entries(CARDS)) {
    if (c.standin) lines.push(row(['credit-cards', `\`${code}\``, nameOf('credit-cards', code), `credit-cards/${code}.png`, STANDIN_CARD_REASON]));
  }
  lines.push('');
  lines.push('## Build tools (not part of the images)');
  lines.push('');
  lines.push(row(['Package', 'Version', 'Licence', 'Role']));
  lines.push(row(['---', '---', '---', '---']));
  for (const [p, role] of [
    ['sharp', 'SVG rasterising (librsvg), resizing and palette-PNG encoding (libimagequant), via its prebuilt libvips'],
    ['opentype.js', 'text to SVG path outlines'],
    ['react', 'rendering the credit-card icon components to SVG markup'],
    ['react-dom', 'rendering the credit-card icon components to SVG markup'],
  ]) {
    const j = pkgJson(p);
    lines.push(row([`\`${p}\``, j.version, j.license, role]));
  }
  lines.push('');
  lines.push('## Output');
  lines.push('');
  lines.push(`- flags: ${FLAG_W}x${FLAG_H}, opaque, palette PNG`);
  lines.push(`- browsers: ${BROWSER_SIZE}x${BROWSER_SIZE} RGBA palette PNG, one file per distinct image`);
  lines.push(`- credit-cards: width ${CARD_W} at the source aspect ratio, RGBA palette PNG`);
  lines.push('- `index.tsv`: `set<TAB>code<TAB>file` for every code (file relative to this directory)');
  lines.push('');
  return lines.join('\n');
}
