#!/usr/bin/env node
// The latency a user feels: keystroke -> ghost text in a real VS Code (code-server, driven by
// chromium through playwright-core, the extension loaded as in test/e2e/run.mjs), on held-out
// files with their language service running (TypeScript / JavaScript: code-server's built-in
// TypeScript service).
//
//   node test/e2e/latency.mjs [--quick] [--places N] [--variant NAME=JSON]... [--no-write] [--label L] [--keep]
//   (npm run bench:editor -- ...: builds first)
//
// Scripted editing as a user does it, at 80-150 ms per key (seeded): go to a line (Ctrl+G),
// select its text and type its first 3 characters over it ("move": last key -> ghost text), then
// one of: type 3 characters along the ghost text ("along", each key), press Tab to accept, End,
// Enter ("next": one more keystroke -> ghost text) and undo twice ("undo"), or pause and type the
// line's next character ("along" when it is the ghost text's next one, else "next").
// Key time: the page's keydown listener; ghost time: a MutationObserver seeing the ghost-text
// decoration appear or change, both on the machine's epoch clock. The extension traces each
// request (MEGABYTE_TRACE, src/extension/trace.ts), so each sample is split into: VS Code ->
// provider (the workbench's own delay and RPC), debounce, host sync, worker blocked (a model run
// of background encoding not yet pre-empted), worker queued, encode, generate, transport,
// post-processing, render (provider returned -> the DOM shows it).
// Also: activation -> model ready (the extension's trace), page load -> status bar ready, and
// opening a file -> its first ghost text. The 1 MB file is visited after its background encode
// finished, bottom up (every move only rewinds the KV cache; a move down re-encodes what lies
// between, which the table says).
// --variant NAME=JSON (repeatable): user settings for one fresh session each, run one after the
// other on the same places and keys, for a before/after comparison under the same load.
// Output: JSON lines on stdout; with writing on, test/bench/editor-<date>[-label].json and .md.
// Machine load (uptime, top processes) is recorded at the start and the end.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { ROOT, setupVscode } from '../../scripts/setup-vscode.mjs';
import {
  WORKBENCH_TIMEOUT_MS, launchChromium, makeWorkbench, remoteUri, sleep, startCodeServer, statusBarText,
  waitForWorkbench, workbenchUrl, writeJson, QUIET_SETTINGS,
} from './server.mjs';

const MODEL_READY = /MEGABYTE \S+ · (CPU|CUDA|WebGPU)/;
/** Two held-out files (packages no network trained on): the same files in corpus v1 and v2. */
const TS_FILE = ['zod', 'src/v4/classic/from-json-schema.ts'];
const BIG_SOURCE = ['typescript', 'lib/_tsc.js'];

/**
 * A file of an npm package of the corpus: corpus v1 kept the sources unpacked
 * (.cache/corpus/src/npm-<pkg>/package/), corpus v2 keeps the tarballs
 * (.cache/corpus-v2/dl/npm/<pkg>-<version>.tgz), from which the file is unpacked once.
 */
function corpusFile([pkg, rel]) {
  const v1 = path.join(ROOT, '.cache', 'corpus', 'src', `npm-${pkg}`, 'package', rel);
  if (fs.existsSync(v1)) return v1;
  const dl = path.join(ROOT, '.cache', 'corpus-v2', 'dl', 'npm');
  const tgz = fs.existsSync(dl) && fs.readdirSync(dl).find((f) => f.startsWith(`${pkg}-`) && /^\d/.test(f.slice(pkg.length + 1)) && f.endsWith('.tgz'));
  if (!tgz) throw new Error(`${pkg}/${rel} missing: neither corpus v1 (${v1}) nor corpus v2's ${dl}/${pkg}-*.tgz is here (models/training/corpus.py)`);
  const dir = path.join(ROOT, '.cache', 'latency-src', tgz.replace(/\.tgz$/, ''));
  const file = path.join(dir, 'package', rel);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    execSync(`tar -xzf ${JSON.stringify(path.join(dl, tgz))} -C ${JSON.stringify(dir)} ${JSON.stringify(`package/${rel}`)}`);
  }
  return file;
}
const BIG_BYTES = 1_000_000;
const KEY_MS = [80, 150];
const t0 = Date.now();
const log = (m) => console.error(`[latency ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
const out = (o) => console.log(JSON.stringify(o));

function parseArgs(argv) {
  const o = { quick: false, places: undefined, variants: [], write: true, label: '', keep: false, headed: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--quick') o.quick = true;
    else if (a === '--places') o.places = Number(val());
    else if (a === '--variant') {
      const v = val();
      const eq = v.indexOf('=');
      if (eq < 1) throw new Error(`--variant wants NAME=JSON, got ${v}`);
      o.variants.push({ name: v.slice(0, eq), settings: JSON.parse(v.slice(eq + 1)) });
    } else if (a === '--no-write') o.write = false;
    else if (a === '--label') o.label = val();
    else if (a === '--keep') o.keep = true;
    else if (a === '--headed') o.headed = true;
    else throw new Error(`unknown option ${a} (known: --quick --places N --variant NAME=JSON --no-write --label L --keep --headed)`);
  }
  if (o.places !== undefined && !(Number.isInteger(o.places) && o.places > 0)) throw new Error('--places wants a positive integer');
  if (!o.variants.length) o.variants.push({ name: 'default', settings: {} });
  return o;
}

/** Machine load now: the 1/5/15-minute load averages and the busiest processes. */
function machineLoad() {
  let top = [];
  try {
    top = execSync('ps -eo pcpu,rss,args --sort=-pcpu', { encoding: 'utf8' }).split('\n').slice(1, 9)
      .map((l) => l.trim().replace(/\s+/g, ' ').slice(0, 140)).filter(Boolean);
  } catch { /* no ps */ }
  return { at: new Date().toISOString(), loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), cpus: os.cpus().length, top };
}

function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const pct = (xs, p) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  return Math.round(v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]);
};

// ---------------------------------------------------------------- the page's own instruments
function instrument() {
  const w = /** @type {any} */ (window);
  w.__lat = { keys: [], ghosts: [], last: '' };
  const now = () => performance.timeOrigin + performance.now();
  window.addEventListener('keydown', (e) => w.__lat.keys.push({ t: now(), key: e.key }), true);
  const ghostText = () => {
    const els = document.querySelectorAll('.editor-instance .monaco-editor .view-lines .ghost-text-decoration, ' +
      '.editor-instance .monaco-editor .ghost-text-decoration-preview');
    let s = '';
    for (const e of els) s += e.textContent;
    return s.replace(/\u00a0/g, ' ');
  };
  const check = () => {
    const text = ghostText();
    if (text !== w.__lat.last) {
      w.__lat.last = text;
      w.__lat.ghosts.push({ t: now(), text });
    }
  };
  const start = () => new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true });
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
}

async function lastKeyTime(page) {
  return page.evaluate(() => /** @type {any} */ (window).__lat.keys.at(-1)?.t);
}

/** The first ghost-text change after `after` that shows something (resolves undefined on timeout). */
async function ghostAfter(page, after, timeoutMs) {
  try {
    const h = await page.waitForFunction((t) => /** @type {any} */ (window).__lat.ghosts.find((g) => g.t > t && g.text !== ''),
      after, { polling: 50, timeout: timeoutMs });
    return await h.jsonValue();
  } catch {
    return undefined;
  }
}

async function currentGhost(page) {
  return page.evaluate(() => /** @type {any} */ (window).__lat.last);
}

async function typeKey(page, key, r) {
  await page.keyboard.press(key);
  await sleep(KEY_MS[0] + r() * (KEY_MS[1] - KEY_MS[0]));
}

const keyOf = (ch) => (ch === ' ' ? 'Space' : ch);

// ---------------------------------------------------------------- one file
/** Lines worth visiting: some code on them, not a comment, not too long; spread over the file. */
function pickPlaces(text, n, r, order) {
  const lines = text.split('\n');
  const ok = [];
  lines.forEach((l, i) => {
    const s = l.trim();
    if (s.length >= 12 && s.length <= 100 && /^[A-Za-z_$]/.test(s) && !/^(\/\/|\*|\/\*)/.test(s) && i > 5) ok.push(i);
  });
  const chosen = new Set();
  while (chosen.size < Math.min(n, ok.length)) chosen.add(ok[Math.floor(r() * ok.length)]);
  const list = [...chosen];
  list.sort((a, b) => (order === 'down-up' ? b - a : a - b));
  if (order === 'random') list.sort(() => r() - 0.5);
  return list.map((i) => ({ line: i + 1, text: lines[i] }));
}

async function goToLine(page, line) {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`:${line}`); // Ctrl+G's quick input is Quick Open with its ':' prefix
  await sleep(150);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 15_000 }).catch(() => {});
}

async function visitFile(ctx, file) {
  const { page, wb, samples, variant, r } = ctx;
  const name = path.basename(file.path);
  const text = fs.readFileSync(file.path, 'utf8');
  const places = pickPlaces(text, file.places, r, file.order);
  const waitMs = file.ghostWaitMs;
  log(`${name}: ${places.length} places`);
  await wb.openFile(name);
  const openedAt = await page.evaluate(() => performance.timeOrigin + performance.now());
  let encodeMs;
  if (file.encodeFirst) {
    // An edit at the end (Enter, Backspace: the text as it was) makes the worker encode the whole
    // file in the background as the cached prefix; wait until the status bar says it is done.
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await sleep(300);
    await page.keyboard.press('Backspace');
    const tEdit = Date.now();
    const until = tEdit + file.encodeTimeoutMs;
    let s = await statusBarText(page);
    let seen = false;
    let quiet = 0;
    while (Date.now() < until && (!seen ? Date.now() - tEdit < 30_000 : quiet < 3)) {
      s = await statusBarText(page);
      if (/encoding/.test(s)) { seen = true; quiet = 0; } else quiet++;
      await sleep(1000);
    }
    encodeMs = Date.now() - tEdit;
    log(`${name}: encoded ${encodeMs} ms after the edit at its end (status ${JSON.stringify(s)}, encoding seen: ${seen})`);
  }
  let firstGhost;
  for (let p = 0; p < places.length; p++) {
    const place = places[p];
    const base = { file: name, line: place.line, variant: variant.name, place: p };
    const content = place.text.trim();
    await page.keyboard.press('Escape');
    await goToLine(page, place.line);
    await page.keyboard.press('End');
    await page.keyboard.press('Shift+Home'); // the line's text, up to its indentation
    await sleep(300);
    // move: type the line's first 3 characters over it
    for (const ch of content.slice(0, 3)) await typeKey(page, keyOf(ch), r);
    let k = await lastKeyTime(page);
    let g = await ghostAfter(page, k, waitMs);
    if (process.env.LATENCY_SHOTS) await page.screenshot({ path: path.join(process.env.LATENCY_SHOTS, `${name}-${p}.png`) }).catch(() => {});
    samples.push({ ...base, kind: 'move', key: k, ghost: g?.t, text: g?.text, first: p === 0 });
    if (p === 0 && g) firstGhost = { file: name, openToGhostMs: Math.round(g.t - openedAt), latencyMs: Math.round(g.t - k), encodeMs };
    if (!g) {
      log(`${name}:${place.line} no ghost text within ${waitMs} ms`);
      continue;
    }
    const action = ['along', 'accept', 'next'][p % 3];
    if (action === 'along') {
      // keep typing along the suggestion: each key should leave the rest of it in place
      let ghost = g.text;
      for (let i = 0; i < 3 && ghost.length > 1 && /^[\x21-\x7e]/.test(ghost); i++) {
        await page.keyboard.press(keyOf(ghost[0]));
        k = await lastKeyTime(page);
        const h = await ghostAfter(page, k, waitMs);
        samples.push({ ...base, kind: 'along', key: k, ghost: h?.t, text: h?.text });
        if (!h) break;
        ghost = h.text;
        await sleep(KEY_MS[0] + r() * (KEY_MS[1] - KEY_MS[0]));
      }
    } else if (action === 'accept') {
      await sleep(400);
      await page.keyboard.press('Tab');
      await sleep(500);
      if ((await currentGhost(page)) !== '') await page.keyboard.press('Tab'); // Tab indented first
      await sleep(300);
      await page.keyboard.press('End');
      await page.keyboard.press('Enter');
      k = await lastKeyTime(page);
      const h = await ghostAfter(page, k, waitMs);
      samples.push({ ...base, kind: 'next', key: k, ghost: h?.t, text: h?.text, after: 'accept+Enter' });
      await sleep(400);
      await page.keyboard.press('Control+Z');
      await sleep(120);
      await page.keyboard.press('Control+Z');
      k = await lastKeyTime(page);
      const u = await ghostAfter(page, k, waitMs);
      samples.push({ ...base, kind: 'undo', key: k, ghost: u?.t, text: u?.text });
    } else {
      await sleep(400); // read the suggestion, then one more character of the line
      const ch = content[3];
      if (ch === undefined) continue;
      const along = g.text.startsWith(ch);
      await page.keyboard.press(keyOf(ch));
      k = await lastKeyTime(page);
      const h = await ghostAfter(page, k, waitMs);
      samples.push({ ...base, kind: along ? 'along' : 'next', key: k, ghost: h?.t, text: h?.text, after: 'pause' });
    }
    await page.keyboard.press('Escape');
  }
  return firstGhost;
}

// ---------------------------------------------------------------- the split
function readTrace(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const PHASES = ['toProvider', 'debounce', 'hostSync', 'blocked', 'queued', 'encode', 'generate', 'transport', 'post', 'render'];

/** The request that put this ghost text on screen: the last one to return items between the key and the ghost. */
function split(sample, records) {
  const G = sample.ghost;
  const K = sample.key;
  const served = records.filter((r) => r.kind === 'complete' && (r.outcome === 'model' || r.outcome === 'along' || r.outcome === 'early')
    && r.items > 0 && r.tCall >= K - 2 && r.tReturn <= G + 2);
  if (!served.length) return undefined;
  const r = served.reduce((a, b) => (b.tReturn > a.tReturn ? b : a));
  const ph = Object.fromEntries(PHASES.map((p) => [p, 0]));
  ph.toProvider = r.tCall - K;
  ph.render = G - r.tReturn;
  if (r.outcome === 'along' || !r.engine?.length) {
    ph.post = r.tReturn - r.tCall;
  } else {
    ph.debounce = (r.tDebounced ?? r.tCall) - r.tCall;
    ph.hostSync = r.engine[0].tSent - (r.tDebounced ?? r.tCall);
    for (const e of r.engine) {
      const w = e.worker ?? { blockedMs: 0, queuedMs: 0, runMs: e.ms.total };
      ph.blocked += w.blockedMs;
      ph.queued += w.queuedMs;
      ph.encode += e.ms.encode;
      ph.generate += e.ms.total - e.ms.encode;
      ph.transport += e.tResult - e.tSent - w.blockedMs - w.queuedMs - e.ms.total;
    }
    ph.post = r.tReturn - r.engine.at(-1).tResult;
  }
  for (const p of PHASES) ph[p] = Math.round(ph[p] * 10) / 10;
  return { phases: ph, outcome: r.outcome, engineCalls: r.engine?.length ?? 0, contextBytes: r.engine?.at(-1)?.contextBytes,
    behind: r.engine?.map((e) => e.worker?.behind).filter(Boolean) };
}

function summarize(samples) {
  const groups = new Map();
  for (const s of samples) {
    const key = `${s.file}|${s.variant}|${s.kind}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  const rows = [];
  for (const [key, list] of groups) {
    const [file, variant, kind] = key.split('|');
    const shown = list.filter((s) => s.latencyMs !== undefined);
    const withSplit = shown.filter((s) => s.split);
    const phase = Object.fromEntries(PHASES.map((p) => [p, pct(withSplit.map((s) => s.split.phases[p]), 50)]));
    rows.push({ file, variant, kind, n: list.length, shown: shown.length, p50: pct(shown.map((s) => s.latencyMs), 50),
      p95: pct(shown.map((s) => s.latencyMs), 95), split: withSplit.length, phaseP50: phase });
  }
  return rows;
}

function markdown(report) {
  const L = [];
  L.push(`# Editor latency: keystroke -> ghost text (${report.date})`, '');
  L.push(`\`${report.command}\` — code-server ${report.vscode}, headless chromium, the dev build of the extension, ` +
    `${report.cpus} cores. ${report.quick ? 'Quick form.' : 'Full form.'}`, '');
  if (report.nice > 0) {
    L.push(`The benchmark (code-server, its extension host and chromium) ran at nice ${report.nice}, below the other jobs on the machine.`, '');
  }
  L.push('Machine load (1/5/15-min load average; busiest processes) at the start and the end:', '');
  for (const l of [report.loadStart, report.loadEnd]) {
    L.push(`- ${l.at}: load ${l.loadavg.join(' / ')}`);
    for (const t of l.top.slice(0, 6)) L.push(`  - \`${t.replace(/`/g, "'")}\``);
  }
  L.push('', '## Start-up', '');
  for (const st of report.startup) {
    L.push(`- ${st.variant}: activation -> model ready (extension trace) ${st.activationToReadyMs ?? 'n/a'} ms ` +
      `(model load alone ${st.loadMs ?? 'n/a'} ms); page load -> status bar shows the model ready ${st.pageToReadyMs} ms`);
    for (const f of st.openToFirstGhost) {
      L.push(`  - open ${f.file} -> first ghost text: ${f.openToGhostMs} ms (its keystroke -> ghost ${f.latencyMs} ms` +
        `${f.encodeMs !== undefined ? `; the whole file encoded in the background first, ${f.encodeMs} ms` : ''})`);
    }
  }
  L.push('', '## Keystroke -> ghost text (ms)', '');
  L.push('move: go to a line, type 3 characters over it (last key). next: one more keystroke that is not the ghost text ' +
    '(after a pause, or Enter after accepting). along: a key typed along the ghost text. undo: Ctrl+Z twice after accepting.', '');
  L.push('Phases are medians over the samples whose request was found in the trace (they need not add up to the p50).', '');
  L.push(`| file | variant | kind | n | shown | p50 | p95 | ${PHASES.join(' | ')} |`);
  L.push(`|---|---|---|---|---|---|---|${PHASES.map(() => '---').join('|')}|`);
  for (const r of report.summary) {
    L.push(`| ${r.file} | ${r.variant} | ${r.kind} | ${r.n} | ${r.shown} | ${r.p50 ?? '-'} | ${r.p95 ?? '-'} | ` +
      `${PHASES.map((p) => r.phaseP50[p] ?? '-').join(' | ')} |`);
  }
  L.push('', 'Phases: toProvider = key event -> our provider called (the workbench\'s own inline-suggest delay and RPC); ' +
    'debounce = our wait; hostSync = document sync and request; blocked = the worker busy in a model run of background ' +
    'encoding when the request arrived; queued = the worker finishing that chunk or earlier requests; encode, generate = the ' +
    'engine (ms.encode, ms.total - encode); transport = messages; post = post-processing and items; render = provider returned ' +
    '-> the DOM shows the ghost text.', '');
  if (report.variants.length > 1) {
    L.push('Variants (one fresh session each, one after the other, same places and keys):', '');
    for (const v of report.variants) L.push(`- ${v.name}: \`${JSON.stringify(v.settings)}\``);
    L.push('');
  }
  return L.join('\n') + '\n';
}

const state = { server: undefined, browser: undefined };

/** One code-server + chromium session with a variant's settings: start-up figures; samples appended. */
async function session(vs, tmp, workspace, files, variant, baseSettings, samples, opts) {
  const dir = path.join(tmp, `session-${variant.name}`);
  fs.mkdirSync(dir, { recursive: true });
  const traceFile = path.join(dir, 'trace.jsonl');
  // A fresh copy of each file: earlier sessions edited theirs.
  for (const f of files) fs.copyFileSync(f.source, f.path);
  log(`session ${variant.name}: ${JSON.stringify(variant.settings)}`);
  state.server = await startCodeServer({ vs, dir, env: { MEGABYTE_TRACE: traceFile }, settings: { ...baseSettings, ...variant.settings }, log });
  state.browser = await launchChromium(vs, { headed: opts.headed, log, ownSignals: true });
  const page = await (await state.browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  await page.addInitScript(instrument);
  const tGoto = Date.now();
  await page.goto(workbenchUrl(state.server.port, workspace, [['extensionDevelopmentPath', remoteUri(state.server.port, ROOT)],
    ['logLevel', 'megabyte-local.megabyte-complete:debug']]), { timeout: WORKBENCH_TIMEOUT_MS });
  await waitForWorkbench(page);
  const wb = makeWorkbench(page);
  await wb.waitForStatus(MODEL_READY, 240_000);
  const pageToReadyMs = Date.now() - tGoto;
  log(`model ready ${pageToReadyMs} ms after page load`);
  const own = [];
  const ctx = { page, wb, samples: own, variant, r: rng(17) };
  const openToFirstGhost = [];
  for (const f of files) {
    const first = await visitFile(ctx, f);
    if (first) openToFirstGhost.push(first);
  }
  await sleep(500); // the trace flushes every 200 ms
  await state.browser.close().catch(() => {});
  state.browser = undefined;
  await state.server.stop();
  state.server = undefined;
  const records = readTrace(traceFile);
  for (const s of own) {
    if (s.ghost !== undefined) {
      s.latencyMs = Math.round(s.ghost - s.key);
      s.split = split(s, records);
    }
    samples.push(s);
  }
  const act = records.find((r) => r.kind === 'activate');
  const model = records.find((r) => r.kind === 'model');
  return {
    activationToReadyMs: act && model ? Math.round(model.tReady - act.t) : null,
    loadMs: model ? Math.round(model.tReady - model.tLoad) : null,
    pageToReadyMs,
    openToFirstGhost,
    requests: records.filter((r) => r.kind === 'complete').length,
  };
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.error(`[latency] ${sig}: cleaning up`);
    await state.browser?.close().catch(() => {});
    await state.server?.stop();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const vs = setupVscode();
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) throw new Error('dist/extension.js missing: node scripts/build.mjs');
  const tsFile = corpusFile(TS_FILE);
  const bigSource = opts.quick ? undefined : corpusFile(BIG_SOURCE);
  const loadStart = machineLoad();
  out({ type: 'load', ...loadStart });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-latency-'));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  const files = [{ source: tsFile, path: path.join(workspace, path.basename(tsFile)), places: opts.places ?? (opts.quick ? 6 : 18),
    order: 'random', ghostWaitMs: 10_000 }];
  if (!opts.quick) {
    const src = fs.readFileSync(bigSource);
    const cut = src.lastIndexOf(10, BIG_BYTES) + 1;
    fs.writeFileSync(path.join(tmp, 'tsc-1mb.js'), src.subarray(0, cut));
    files.push({ source: path.join(tmp, 'tsc-1mb.js'), path: path.join(workspace, 'tsc-1mb.js'), places: opts.places ?? 12, order: 'down-up', ghostWaitMs: 15_000,
      encodeFirst: true, encodeTimeoutMs: 240_000 });
  }
  const baseSettings = { ...QUIET_SETTINGS, 'files.autoSave': 'off' };
  const samples = [];
  const report = { date: new Date().toISOString().slice(0, 10), quick: opts.quick, cpus: os.cpus().length,
    command: `npm run bench:editor --${opts.quick ? ' --quick' : ''}${opts.variants.length > 1 ? ' (variants)' : ''}`,
    vscode: '4.139.1 (VS Code 1.139.1)', variants: opts.variants, loadStart, startup: [], requests: 0, nice: os.getPriority() };
  try {
    // One fresh session per variant, one after the other (a settings file changed under a running
    // code-server did not reach the extension reliably here).
    for (const variant of opts.variants) {
      const startup = await session(vs, tmp, workspace, files, variant, baseSettings, samples, opts);
      report.startup.push({ variant: variant.name, ...startup });
      report.requests += startup.requests;
      out({ type: 'startup', variant: variant.name, ...startup });
    }
    for (const s of samples) out({ type: 'sample', ...s });
    report.summary = summarize(samples);
    for (const r of report.summary) out({ type: 'summary', ...r });
    report.samples = samples;
  } finally {
    await state.browser?.close().catch(() => {});
    await state.server?.stop();
    if (opts.keep) log(`temp dir kept: ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  report.loadEnd = machineLoad();
  out({ type: 'load', ...report.loadEnd });
  if (opts.write) {
    const base = path.join(ROOT, 'test', 'bench', `editor-${report.date}${opts.label ? `-${opts.label}` : ''}`);
    writeJson(`${base}.json`, report);
    fs.writeFileSync(`${base}.md`, markdown(report));
    log(`wrote ${path.relative(ROOT, base)}.md / .json`);
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err?.stack || err);
  process.exit(1);
});
