#!/usr/bin/env node
// The packaged extension in a real VS Code, installed the way a user installs it:
//
//   node test/e2e/vsix.mjs [--vsix FILE] [--keep] [--headed]      (npm run test:vsix)
//
// 1. `npm run package` (or the .vsix given with --vsix) -> megabyte-complete-linux-x64-<v>.vsix
// 2. code-server's own CLI installs it into a fresh temporary extensions dir and user-data dir
//    (`code-server --extensions-dir D --user-data-dir U --install-extension F.vsix`); the exit
//    code and the installed folder (package.json, dist/, models/, onnxruntime binding) are checked.
// 3. code-server (scripts/setup-vscode.mjs, VS Code 1.139.1 on Node 24) starts on that extensions
//    dir with no extensionDevelopmentPath and no smoke-test driver, so only the installed copy can
//    run; headless chromium opens a workspace holding ghost.py, waits for the status bar to show
//    the model ready, types at the end of the file (where the calibrated model is sure and right:
//    browser-tests.mjs RIGHT_PY), waits for ghost text, presses Tab,
//    saves, and checks the file on disk holds the suggestion. The extension's own log must say
//    it loaded its model from the installed folder (not from this repository).
// Screenshot: test/artifacts/vsix.png (ghost text shown; on failure, the page as it was).
// On failure the code-server and VS Code logs are copied to test/artifacts/vsix-logs/.
// The last line printed is one JSON object {vsix, vsixBytes, installSeconds, readySeconds,
// ghostSeconds, ok, ...}; exit 1 on failure. readySeconds: page load to the status bar showing
// "MEGABYTE <model> · <device>"; ghostSeconds: the last typed key to ghost text.
//
// Env: VSIX_TIMEOUT_S (whole run, default 1200), VSIX_READY_TIMEOUT_S (default 240),
// VSIX_GHOST_TIMEOUT_S (default 180), CHROMIUM_PATH.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { ROOT, setupVscode } from '../../scripts/setup-vscode.mjs';
import {
  WORKBENCH_TIMEOUT_MS, cursorPosition, installVsix, launchChromium, listFiles, makeWorkbench, saveRunLogs, sleep,
  startCodeServer, tail, waitForWorkbench, workbenchUrl,
} from './server.mjs';
import { RIGHT_PY, RIGHT_TYPED } from './browser-tests.mjs';

const EXTENSION_ID = 'megabyte-local.megabyte-complete';
const MODEL_READY = /MEGABYTE \S+ · (CPU|CUDA|WebGPU)/;
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const SHOT = path.join(ARTIFACTS, 'vsix.png');
const LOGS_OUT = path.join(ARTIFACTS, 'vsix-logs');
const TOTAL_TIMEOUT_MS = Number(process.env.VSIX_TIMEOUT_S || 1200) * 1000;
const READY_TIMEOUT_MS = Number(process.env.VSIX_READY_TIMEOUT_S || 240) * 1000;
const GHOST_TIMEOUT_MS = Number(process.env.VSIX_GHOST_TIMEOUT_S || 180) * 1000;

// The workspace file, and what is typed at its end (the browser test's right case: one fact, one place).
const FILE = 'ghost.py';
const ORIGINAL = RIGHT_PY;
const TYPED = RIGHT_TYPED;

const t0 = Date.now();
const log = (msg) => console.log(`[vsix ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const secs = (ms) => (ms == null ? null : Math.round(ms / 100) / 10);

function parseArgs(argv) {
  const opts = { vsix: undefined, keep: false, headed: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--vsix') {
      if (i + 1 >= argv.length) throw new Error('--vsix needs a file');
      opts.vsix = path.resolve(argv[++i]);
    } else if (a === '--keep') opts.keep = true;
    else if (a === '--headed') opts.headed = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node test/e2e/vsix.mjs [--vsix FILE] [--keep] [--headed]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

// ---------------------------------------------------------------- state, for cleanup in every case
const state = { children: new Set(), server: undefined, browser: undefined, tmp: undefined, keep: false };
const result = { vsix: null, vsixBytes: null, installSeconds: null, readySeconds: null, ghostSeconds: null, ok: false };
let finished = false;

async function cleanup() {
  for (const kill of state.children) kill();
  state.children.clear();
  if (state.browser) {
    const b = state.browser;
    state.browser = undefined;
    await Promise.race([b.close().catch(() => {}), sleep(10_000)]);
  }
  if (state.server) {
    const s = state.server;
    state.server = undefined;
    await s.stop().catch(() => {});
  }
  if (state.tmp) {
    if (state.keep) log(`temp dir kept: ${state.tmp}`);
    else fs.rmSync(state.tmp, { recursive: true, force: true });
    state.tmp = undefined;
  }
}

function saveLogs() {
  if (state.tmp) saveRunLogs(state.tmp, LOGS_OUT, { root: ROOT, extensionId: EXTENSION_ID, log });
}

async function finish(err) {
  if (finished) return;
  finished = true;
  if (err) {
    result.ok = false;
    result.error = String(err?.message || err).split('\n')[0];
    console.error(`[vsix] FAILED: ${err?.stack || err}`);
    saveLogs();
  }
  await cleanup();
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

/** Runs a command, output passed through with a prefix; resolves with its stdout. */
function runCommand(cmd, args, { cwd = ROOT, prefix } = {}) {
  return new Promise((resolve, reject) => {
    // Own process group, so npm and what it runs (build, vsce) are killed together.
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
    state.children.add(kill);
    let stdout = '';
    const pass = (stream, out) => {
      let buf = '';
      stream.on('data', (d) => {
        if (out === process.stdout) stdout += d;
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const l of lines) out.write(`${prefix}${l}\n`);
      });
      stream.on('end', () => { if (buf) out.write(`${prefix}${buf}\n`); });
    };
    pass(child.stdout, process.stdout);
    pass(child.stderr, process.stderr);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      state.children.delete(kill);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? sig}`));
    });
  });
}

// ---------------------------------------------------------------- 1. the vsix
async function packageVsix() {
  log('npm run package');
  const started = Date.now();
  const stdout = await runCommand('npm', ['run', 'package'], { prefix: '  | ' });
  // scripts/package.mjs ends with {vsix, bytes, target}
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const j = JSON.parse(line);
      if (j && typeof j.vsix === 'string') return path.resolve(ROOT, j.vsix);
    } catch { /* not JSON */ }
  }
  // Otherwise: the .vsix in the repo root written by this run.
  const fresh = fs.readdirSync(ROOT).filter((f) => f.endsWith('.vsix'))
    .map((f) => path.join(ROOT, f)).filter((f) => fs.statSync(f).mtimeMs >= started - 1000)
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!fresh.length) throw new Error('npm run package finished but wrote no .vsix in the repository root');
  return fresh[0];
}

// ---------------------------------------------------------------- 2. install with code-server's CLI
async function install(vs, vsix, tmp) {
  const extensionsDir = path.join(tmp, 'extensions');
  const userDataDir = path.join(tmp, 'user-data');
  log(`installing ${path.basename(vsix)}: code-server --extensions-dir ${extensionsDir} --user-data-dir ${userDataDir} --install-extension`);
  const r = await installVsix({
    vs, vsix, extensionsDir, userDataDir, stateDir: tmp,
    onSpawn: (c) => {
      const kill = () => { try { c.kill('SIGKILL'); } catch { /* gone */ } };
      state.children.add(kill);
      c.on('close', () => state.children.delete(kill));
    },
  });
  for (const l of r.output.trim().split('\n')) console.log(`  | ${l}`);
  result.installSeconds = secs(r.ms);
  if (r.code !== 0) throw new Error(`code-server --install-extension exited with ${r.code}:\n${r.output}`);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const dirs = fs.existsSync(extensionsDir)
    ? fs.readdirSync(extensionsDir).filter((d) => d.toLowerCase().startsWith(`${EXTENSION_ID}-`)) : [];
  if (dirs.length !== 1) {
    throw new Error(`expected one ${EXTENSION_ID}-* folder in ${extensionsDir} after the install, found ${JSON.stringify(dirs)}`);
  }
  const dir = path.join(extensionsDir, dirs[0]);
  const installed = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  if (`${installed.publisher}.${installed.name}` !== EXTENSION_ID || installed.version !== pkg.version) {
    throw new Error(`the installed package.json is ${installed.publisher}.${installed.name}@${installed.version}, expected ${EXTENSION_ID}@${pkg.version}`);
  }
  const missing = ['dist/extension.js', 'dist/worker.js', 'bin/napi-v6/linux/x64'].filter((f) => !fs.existsSync(path.join(dir, f)));
  const models = fs.existsSync(path.join(dir, 'models'))
    ? fs.readdirSync(path.join(dir, 'models')).filter((m) => fs.existsSync(path.join(dir, 'models', m, 'manifest.json'))) : [];
  if (!models.length) missing.push('models/*/manifest.json');
  if (missing.length) throw new Error(`the installed extension ${dir} lacks ${missing.join(', ')}`);
  let registered = [];
  try { registered = JSON.parse(fs.readFileSync(path.join(extensionsDir, 'extensions.json'), 'utf8')).map((e) => e.identifier?.id); } catch { /* checked below */ }
  if (!registered.includes(EXTENSION_ID)) throw new Error(`${extensionsDir}/extensions.json does not list ${EXTENSION_ID}`);
  log(`installed in ${result.installSeconds}s: ${dir} (models: ${models.join(', ')})`);
  return dir;
}

// ---------------------------------------------------------------- 3. the installed copy in the workbench
async function waitGhost(ghost, timeout) {
  return ghost.waitFor({ state: 'visible', timeout }).then(() => true, () => false);
}

async function drive(vs, tmp, extensionDir, opts) {
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  const file = path.join(workspace, FILE);
  fs.writeFileSync(file, ORIGINAL);

  // No extensionDevelopmentPath, no smoke-test driver: a user's code-server on the extensions dir
  // the CLI installed into (startCodeServer uses <dir>/extensions and <dir>/user-data).
  try {
    state.server = await startCodeServer({ vs, dir: tmp, smokeTestDriver: false, log });
  } catch (err) {
    state.server = err.server;
    throw err;
  }
  const { port } = state.server;
  state.server.exited.then((c) => { if (!finished) void finish(new Error(`code-server exited (${c}); its log:\n${tail(state.server?.logFile ?? '')}`)); });

  state.browser = await launchChromium(vs, { headed: opts.headed, log, ownSignals: true });
  const page = await (await state.browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const consoleLog = path.join(tmp, 'browser-console.log');
  page.on('console', (m) => fs.appendFileSync(consoleLog, `[${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => fs.appendFileSync(consoleLog, `[pageerror] ${e.stack || e}\n`));
  try {
    let t = Date.now();
    await page.goto(workbenchUrl(port, workspace), { timeout: WORKBENCH_TIMEOUT_MS });
    await waitForWorkbench(page);
    log(`workbench loaded in ${secs(Date.now() - t)}s; waiting for the status bar`);
    const wb = makeWorkbench(page);
    const status = await wb.waitForStatus(MODEL_READY, READY_TIMEOUT_MS);
    result.readySeconds = secs(Date.now() - t);
    result.status = status;
    log(`status bar after ${result.readySeconds}s: ${JSON.stringify(status)}`);

    await wb.openFile(FILE);
    await page.keyboard.press('Control+End');
    await page.keyboard.type(TYPED, { delay: 40 });
    t = Date.now();
    log(`typed ${JSON.stringify(TYPED)} at the end of ${FILE}; waiting for ghost text`);
    const ghost = wb.ghost();
    // Typing asks the model by itself; if nothing shows by half the budget, ask explicitly (the
    // command Alt+\ runs: a playwright press of Alt+\ showed nothing in this workbench).
    if (!(await waitGhost(ghost, GHOST_TIMEOUT_MS / 2))) {
      log('no ghost text yet; Trigger Inline Suggestion (Alt+\\)');
      await wb.runCommand('Trigger Inline Suggestion');
      if (!(await waitGhost(ghost, Math.max(1000, GHOST_TIMEOUT_MS - (Date.now() - t))))) {
        throw new Error(`no ghost text within ${GHOST_TIMEOUT_MS / 1000}s of typing (status bar: ${JSON.stringify(await wb.statusBar())})`);
      }
    }
    result.ghostSeconds = secs(Date.now() - t);
    // The ghost text on the cursor's line: syntax-coloured, so several spans (later lines of a
    // multi-line suggestion are a view zone outside .view-lines).
    const ghostFirst = (await page.locator('.editor-instance .monaco-editor .view-lines .ghost-text-decoration').allTextContents())
      .join('').replace(/\u00a0/g, ' ');
    result.ghostText = ghostFirst.slice(0, 200);
    const cursor = await cursorPosition(page);
    log(`ghost text after ${result.ghostSeconds}s: ${JSON.stringify(ghostFirst)} (cursor ${JSON.stringify(cursor)})`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SHOT });
    if (!cursor) throw new Error('no "Ln N, Col M" in the status bar');

    // Tab accepts; the saved file must hold the suggestion right after the cursor. When the
    // suggestion starts with indentation beyond the cursor, VS Code's Tab indents first (context
    // key inlineSuggestionHasIndentationLessThanTabSize) and the ghost text stays, less that
    // indentation: a user presses Tab again, and so does this check.
    const ghostNow = async () => (await page.locator('.editor-instance .monaco-editor .view-lines .ghost-text-decoration').allTextContents())
      .join('').replace(/\u00a0/g, ' ');
    await page.keyboard.press('Tab');
    await sleep(500);
    for (let tabs = 1; tabs < 4 && /^[ \t]/.test(ghostFirst); tabs++) {
      const rest = await ghostNow();
      if (!rest || rest.trimStart() !== ghostFirst.trimStart()) break; // accepted (or another suggestion)
      log(`Tab indented (the suggestion starts with indentation); Tab again`);
      await page.keyboard.press('Tab');
      await sleep(500);
    }
    await page.keyboard.press('Control+S');
    const deadline = Date.now() + 15_000;
    let saved = ORIGINAL;
    while (saved === ORIGINAL && Date.now() < deadline) {
      await sleep(250);
      saved = fs.readFileSync(file, 'utf8');
    }
    const head = ORIGINAL + TYPED;
    if (!saved.startsWith(head)) throw new Error(`${FILE} after Tab and save does not start with the typed text:\n${JSON.stringify(saved)}`);
    const expected = { line: ORIGINAL.split('\n').length, column: TYPED.length + 1 }; // the end of the typed text
    if (cursor.line !== expected.line || cursor.column !== expected.column) {
      throw new Error(`the cursor was at ${JSON.stringify(cursor)} before Tab, expected ${JSON.stringify(expected)}`);
    }
    const inserted = saved.slice(head.length);
    result.inserted = inserted.slice(0, 200);
    if (!inserted.length) throw new Error(`Tab inserted nothing: ${FILE} is ${JSON.stringify(saved)}`);
    if (!inserted.startsWith(ghostFirst)) {
      throw new Error(`Tab inserted ${JSON.stringify(inserted)}, which does not start with the ghost text ${JSON.stringify(ghostFirst)}`);
    }
    log(`Tab inserted ${Buffer.byteLength(inserted)} bytes: ${JSON.stringify(inserted.slice(0, 80))}`);

    // The extension that served them is the installed copy: its log names the model it loaded.
    let loaded;
    const logDeadline = Date.now() + 20_000;
    while (!loaded && Date.now() < logDeadline) {
      for (const f of listFiles(path.join(tmp, 'user-data', 'logs')).filter((p) => p.endsWith('.log'))) {
        const m = /Loading model (.+)$/m.exec(fs.readFileSync(f, 'utf8'));
        if (m) { loaded = m[1].trim(); break; }
      }
      if (!loaded) await sleep(500);
    }
    if (!loaded) throw new Error(`no "Loading model" line in the VS Code logs under ${path.join(tmp, 'user-data', 'logs')}`);
    if (!path.resolve(loaded).startsWith(extensionDir + path.sep)) {
      throw new Error(`the extension loaded its model from ${loaded}, not from the installed copy ${extensionDir}`);
    }
    result.model = path.relative(extensionDir, loaded);
    log(`the model came from the installed copy: ${loaded}`);
  } catch (err) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SHOT, timeout: 10_000 }).catch(() => {});
    throw err;
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  state.keep = opts.keep;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.rmSync(SHOT, { force: true });
  fs.rmSync(LOGS_OUT, { recursive: true, force: true });
  setTimeout(() => void finish(new Error(`the check took over ${TOTAL_TIMEOUT_MS / 1000}s (VSIX_TIMEOUT_S)`)), TOTAL_TIMEOUT_MS).unref();

  const vs = setupVscode();
  const vsix = opts.vsix ?? await packageVsix();
  if (!fs.existsSync(vsix)) throw new Error(`no such vsix: ${vsix}`);
  result.vsix = path.relative(ROOT, vsix).startsWith('..') ? vsix : path.relative(ROOT, vsix);
  result.vsixBytes = fs.statSync(vsix).size;
  log(`vsix ${result.vsix}: ${(result.vsixBytes / 1048576).toFixed(1)} MiB`);

  state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-vsix-'));
  const extensionDir = await install(vs, vsix, state.tmp);
  await drive(vs, state.tmp, extensionDir, opts);
  result.ok = true;
  log(`ok; screenshot ${path.relative(ROOT, SHOT)}`);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`[vsix] ${sig}: cleaning up`);
    void finish(new Error(`interrupted (${sig})`));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(() => finish(), (err) => finish(err));
}
