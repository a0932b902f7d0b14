#!/usr/bin/env node
// End-to-end tests in a real VS Code (code-server 4.139.1 = VS Code 1.139.1),
// offline, driven by Debian chromium through playwright-core.
//
//   node test/e2e/run.mjs [options]          (npm run test:extension builds first)
//
//   --dev-path DIR      extension under test (default: repo root)
//   --tests-path FILE   compiled mocha suite entry (default: dist/test/extension/index.js)
//   --no-ext-tests      skip the extension-host mocha suite
//   --no-browser-tests  skip the browser (workbench DOM) tests
//   --grep TEXT         only tests whose title contains TEXT (both phases)
//   --keep              keep the temp dir (user data, workspace, logs)
//   --headed            show the browser (needs a display)
//
// Env: E2E_TIMEOUT_S (whole run, default 900), E2E_EXT_TIMEOUT_S (mocha phase,
// default 600), CHROMIUM_PATH.
//
// Phase 1 opens the workbench with ?payload=[[extensionDevelopmentPath],[extensionTestsPath]]
// on a server started with --vscode-option enable-smoke-test-driver (VS Code only
// honours the payload in a built product when that option is on). The suite runs
// in code-server's Node extension host, writes its results to $MEGABYTE_TEST_RESULT
// and VS Code then reports the extension host's exit through window.codeAutomationExit.
// Phase 2 opens a fresh window with only extensionDevelopmentPath and runs the
// browser tests from test/e2e/browser-tests.mjs against the workbench DOM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { ROOT, setupVscode } from '../../scripts/setup-vscode.mjs';
import { browserTests } from './browser-tests.mjs';

const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const EXTENSION_ID = 'megabyte-local.megabyte-complete';
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[e2e ${elapsed()}] ${msg}`);

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const opts = {
    devPath: ROOT,
    testsPath: path.join(ROOT, 'dist', 'test', 'extension', 'index.js'),
    extTests: true, browserTests: true, grep: undefined, keep: false, headed: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--dev-path') opts.devPath = path.resolve(val());
    else if (a === '--tests-path') opts.testsPath = path.resolve(val());
    else if (a === '--no-ext-tests') opts.extTests = false;
    else if (a === '--no-browser-tests') opts.browserTests = false;
    else if (a === '--grep') opts.grep = val();
    else if (a === '--keep') opts.keep = true;
    else if (a === '--headed') opts.headed = true;
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

const TOTAL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_S || 900) * 1000;
const EXT_TIMEOUT_MS = Number(process.env.E2E_EXT_TIMEOUT_S || 600) * 1000;
const SERVER_START_TIMEOUT_MS = 90_000;
const WORKBENCH_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------- state for cleanup
const state = { server: undefined, serverExited: undefined, browser: undefined, tmp: undefined, logFile: undefined };
const results = []; // { phase, title, state: passed|failed|pending, durationMs, error }
let harnessError;
let summaryPrinted = false;

function record(r) {
  results.push(r);
  const mark = r.state === 'passed' ? '✓' : r.state === 'failed' ? '✗' : '-';
  const dur = r.durationMs != null ? ` (${r.durationMs} ms)` : '';
  console.log(`  ${mark} [${r.phase}] ${r.title}${r.state === 'pending' ? ' (pending)' : dur}`);
}

// ---------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function httpGet(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

function tail(file, lines = 60) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function copyDir(src, dst) {
  try { fs.cpSync(src, dst, { recursive: true, force: true }); } catch { /* best effort */ }
}

// ---------------------------------------------------------------- code-server
async function startServer(vs, tmp, extraEnv) {
  const port = await freePort();
  const userData = path.join(tmp, 'user-data');
  writeJson(path.join(userData, 'User', 'settings.json'), {
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'chat.disableAIFeatures': true,
    'security.workspace.trust.enabled': false,
    'git.enabled': false,
    'editor.inlineSuggest.enabled': true,
    'files.hotExit': 'off',
    'window.confirmBeforeClose': 'never',
  });
  const logFile = path.join(tmp, 'code-server.log');
  state.logFile = logFile;
  const out = fs.openSync(logFile, 'a');
  const args = [
    vs.codeServer,
    '--config', path.join(tmp, 'config.yaml'), // written by code-server; keeps ~/.config untouched
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir', userData,
    '--extensions-dir', path.join(tmp, 'extensions'),
    '--vscode-option', 'enable-smoke-test-driver',
    '--log', 'info',
  ];
  log(`starting code-server on 127.0.0.1:${port} (log ${logFile})`);
  const child = spawn(vs.node, args, {
    cwd: tmp,
    detached: true, // own process group: we kill the server and its extension hosts together
    stdio: ['ignore', out, out],
    env: { ...process.env, ...extraEnv, XDG_DATA_HOME: path.join(tmp, 'xdg-data'), XDG_CONFIG_HOME: path.join(tmp, 'xdg-config') },
  });
  fs.closeSync(out);
  state.server = child;
  state.serverExited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  let exited;
  state.serverExited.then((c) => { exited = c; });
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`code-server exited (${exited}) while starting:\n${tail(logFile)}`);
    if ((await httpGet(`http://127.0.0.1:${port}/healthz`)) === 200) return port;
    await sleep(250);
  }
  throw new Error(`code-server did not answer /healthz within ${SERVER_START_TIMEOUT_MS / 1000}s:\n${tail(logFile)}`);
}

async function stopServer() {
  const child = state.server;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const kill = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
  kill('SIGTERM');
  const done = await Promise.race([state.serverExited.then(() => true), sleep(5000).then(() => false)]);
  kill('SIGKILL'); // whole group: extension hosts, pty host, file watcher
  if (!done) await Promise.race([state.serverExited, sleep(2000)]);
}

// ---------------------------------------------------------------- browser
async function launchBrowser(vs, opts) {
  // require() (not import) so NODE_PATH can supply playwright-core when the repo has no node_modules yet
  const { chromium } = createRequire(import.meta.url)('playwright-core');
  log(`launching ${vs.chromium}`);
  state.browser = await chromium.launch({
    executablePath: vs.chromium,
    headless: !opts.headed,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return state.browser;
}

// The payload's values are URIs: vscode-remote://<host:port>/abs/path puts the
// extension and its test runner in code-server's Node extension host (a bare
// /abs/path parses as file:// and only works when the tests lie inside the
// extension folder).
function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${absPath.split(path.sep).map(encodeURIComponent).join('/')}`;
}

function workbenchUrl(port, workspace, payload) {
  const q = new URLSearchParams({ folder: workspace });
  if (payload) q.set('payload', JSON.stringify(payload));
  return `http://127.0.0.1:${port}/?${q}`;
}

async function newPage(browser, consoleLog, label) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('console', (msg) => fs.appendFileSync(consoleLog, `[${label}] [${msg.type()}] ${msg.text()}\n`));
  page.on('pageerror', (err) => fs.appendFileSync(consoleLog, `[${label}] [pageerror] ${err.stack || err}\n`));
  return { context, page };
}

async function waitForWorkbench(page) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: WORKBENCH_TIMEOUT_MS });
}

// ---------------------------------------------------------------- phase 1: mocha in the extension host
async function runExtensionTests(browser, port, opts, tmp, resultFile) {
  if (!fs.existsSync(opts.testsPath)) {
    throw new Error(`extension test bundle not found: ${opts.testsPath}\n  build it first: node scripts/build.mjs`);
  }
  if (!fs.existsSync(path.join(opts.devPath, 'package.json'))) {
    throw new Error(`no extension at ${opts.devPath} (package.json missing)`);
  }
  const consoleLog = path.join(tmp, 'browser-console.log');
  const { context, page } = await newPage(browser, consoleLog, 'ext-tests');
  let exitCode;
  // Called by the workbench when the test run ends (VS Code's smoke-test hook).
  await page.exposeFunction('codeAutomationExit', (code) => { exitCode = code; });
  let fatal;
  page.on('console', (msg) => {
    if (msg.text().includes('No extension host found that can launch the test runner')) fatal = msg.text();
  });
  const url = workbenchUrl(port, path.join(tmp, 'workspace'), [
    ['extensionDevelopmentPath', remoteUri(port, opts.devPath)],
    ['extensionTestsPath', remoteUri(port, opts.testsPath)],
  ]);
  log('phase 1: extension-host tests (mocha)');
  await page.goto(url, { timeout: WORKBENCH_TIMEOUT_MS });
  await waitForWorkbench(page);
  log('workbench loaded; waiting for the suite');
  // The suite appends one JSON line per finished test, then {done: true, ...}.
  const deadline = Date.now() + EXT_TIMEOUT_MS;
  let consumed = 0;
  let done;
  let exitSeenAt;
  let sawAny = false;
  while (!done) {
    let text = '';
    try { text = fs.readFileSync(resultFile, 'utf8'); } catch { /* not yet */ }
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    for (const line of complete.slice(consumed).split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line);
      if (r.done) { done = r; break; }
      sawAny = true;
      record({ phase: 'ext', title: r.title, state: r.state, durationMs: r.durationMs, error: r.error });
    }
    consumed = complete.length;
    if (done) break;
    if (fatal) throw new Error(`VS Code: ${fatal}`);
    if (exitCode !== undefined) {
      exitSeenAt ??= Date.now();
      if (Date.now() - exitSeenAt > 3000) {
        throw new Error(`the test run ended (exit code ${exitCode}) without a result in ${resultFile} ` +
          '(did the suite load? see test/artifacts/e2e-logs/)');
      }
    }
    if (page.isClosed()) throw new Error('the workbench page closed before the suite finished');
    if (Date.now() > deadline) throw new Error(`extension tests did not finish within ${EXT_TIMEOUT_MS / 1000}s`);
    await sleep(200);
  }
  log(`suite finished in ${(done.durationMs / 1000).toFixed(1)}s`);
  if (!sawAny) {
    record({ phase: 'ext', title: 'the suite ran at least one test', state: 'failed', error: 'the suite reported no tests' });
  }
  await withTimeout(context.close(), 10_000, 'closing the test window').catch(() => {});
}

// ---------------------------------------------------------------- phase 2: browser tests
function makeWorkbench(page) {
  return {
    page,
    /** Quick Open (Ctrl+P) a workspace file and wait until its editor has focus. */
    async openFile(name) {
      await page.locator('.monaco-workbench').click({ position: { x: 700, y: 450 } }).catch(() => {});
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await input.fill(name);
      await page.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await page.locator(`.tab[aria-label^="${name}"]`).first().waitFor({ timeout: 15_000 }).catch(() => {});
      await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor({ timeout: 15_000 });
      await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    },
  };
}

async function runBrowserTests(browser, port, opts, tmp) {
  const tests = browserTests.filter((t) => !opts.grep || t.name.includes(opts.grep));
  if (tests.length === 0) return;
  const consoleLog = path.join(tmp, 'browser-console.log');
  const { context, page } = await newPage(browser, consoleLog, 'browser-tests');
  log('phase 2: browser tests');
  await page.goto(workbenchUrl(port, path.join(tmp, 'workspace'), [['extensionDevelopmentPath', remoteUri(port, opts.devPath)]]),
    { timeout: WORKBENCH_TIMEOUT_MS });
  await waitForWorkbench(page);
  const wb = makeWorkbench(page);
  for (const t of tests) {
    // stale outputs of an earlier run must not pass for this run's
    for (const f of t.artifacts ?? []) fs.rmSync(path.join(ARTIFACTS, f), { force: true });
    const start = Date.now();
    try {
      await withTimeout(t.run({ page, workbench: wb, workspace: path.join(tmp, 'workspace'), artifacts: ARTIFACTS, log }),
        t.timeoutMs ?? 120_000, t.name);
      record({ phase: 'browser', title: t.name, state: 'passed', durationMs: Date.now() - start });
    } catch (err) {
      const shot = path.join(ARTIFACTS, `failed-${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`);
      await page.screenshot({ path: shot, timeout: 10_000 }).catch(() => {});
      record({ phase: 'browser', title: t.name, state: 'failed', durationMs: Date.now() - start,
        error: `${err?.stack || err}\n  screenshot: ${path.relative(ROOT, shot)}` });
    }
  }
  await context.close().catch(() => {});
}

// ---------------------------------------------------------------- main
async function cleanup() {
  if (state.browser) { await withTimeout(state.browser.close(), 10_000, 'closing chromium').catch(() => {}); state.browser = undefined; }
  await stopServer();
}

function saveLogs(tmp) {
  const dst = path.join(ARTIFACTS, 'e2e-logs');
  fs.rmSync(dst, { recursive: true, force: true });
  fs.mkdirSync(dst, { recursive: true });
  for (const f of ['code-server.log', 'browser-console.log']) {
    if (fs.existsSync(path.join(tmp, f))) fs.copyFileSync(path.join(tmp, f), path.join(dst, f));
  }
  copyDir(path.join(tmp, 'user-data', 'logs'), path.join(dst, 'vscode-logs')); // exthost, remoteagent, ...
  log(`logs saved to ${path.relative(ROOT, dst)}/`);
  // The extension's own output channel(s): show their last lines right away.
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
  let extLogs = [];
  try { extLogs = walk(path.join(dst, 'vscode-logs')).filter((f) => f.includes(EXTENSION_ID) && f.endsWith('.log')); } catch { /* none */ }
  for (const f of extLogs) {
    console.log(`\n  --- ${path.relative(ROOT, f)} (last lines)`);
    console.log(tail(f, 15).split('\n').map((l) => `  ${l.slice(0, 400)}`).join('\n'));
  }
}

function printSummary() {
  const failed = results.filter((r) => r.state === 'failed');
  const passed = results.filter((r) => r.state === 'passed');
  const pending = results.filter((r) => r.state === 'pending');
  if (failed.length) {
    console.log('\n  failures:');
    failed.forEach((r, i) => {
      console.log(`\n  ${i + 1}) [${r.phase}] ${r.title}`);
      console.log(String(r.error ?? '').split('\n').map((l) => `      ${l}`).join('\n'));
    });
  }
  console.log('');
  if (pending.length) console.log(`${pending.length} pending`);
  console.log(`${passed.length} passed, ${failed.length} failed`);
  return failed.length;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.rmSync(path.join(ARTIFACTS, 'e2e-logs'), { recursive: true, force: true });
  for (const f of fs.readdirSync(ARTIFACTS)) if (/^failed-.*\.png$/.test(f)) fs.rmSync(path.join(ARTIFACTS, f));
  const vs = setupVscode();
  startWatchdog();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-e2e-'));
  state.tmp = tmp;
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  for (const t of browserTests) for (const [name, text] of Object.entries(t.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(workspace, name)), { recursive: true });
    fs.writeFileSync(path.join(workspace, name), text);
  }
  const resultFile = path.join(tmp, 'results', 'mocha.jsonl');
  const env = {
    MEGABYTE_TEST_RESULT: resultFile,
    MEGABYTE_E2E: '1',
    ...(opts.grep ? { MEGABYTE_TEST_GREP: opts.grep } : {}),
  };
  log(`extension ${opts.devPath}; temp ${tmp}`);
  try {
    const port = await startServer(vs, tmp, env);
    log('code-server is up');
    const browser = await launchBrowser(vs, opts);
    if (opts.extTests) {
      try {
        await runExtensionTests(browser, port, opts, tmp, resultFile);
      } catch (err) {
        record({ phase: 'ext', title: 'extension test run', state: 'failed', error: err?.stack || String(err) });
      }
    }
    if (opts.browserTests) {
      try {
        await runBrowserTests(browser, port, opts, tmp);
      } catch (err) {
        record({ phase: 'browser', title: 'browser test run', state: 'failed', error: err?.stack || String(err) });
      }
    }
  } catch (err) {
    harnessError = err;
    record({ phase: 'harness', title: 'start VS Code', state: 'failed', error: err?.stack || String(err) });
  } finally {
    await cleanup();
  }
  if (summaryPrinted) await new Promise(() => {}); // the watchdog reports and exits
  summaryPrinted = true;
  const failures = printSummary();
  if (failures || harnessError) saveLogs(tmp);
  if (opts.keep) log(`temp dir kept: ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  log(`done in ${elapsed()}`);
  return failures ? 1 : 0;
}

// Started once VS Code is installed (a first-time setup takes minutes and blocks).
function startWatchdog() {
  setTimeout(async () => {
    record({ phase: 'harness', title: `overall timeout (E2E_TIMEOUT_S=${TOTAL_TIMEOUT_MS / 1000})`, state: 'failed',
      error: 'the run took too long; VS Code and chromium were killed' });
    await withTimeout(cleanup(), 15_000, 'cleanup').catch(() => {});
    if (summaryPrinted) return; // main() is finishing and reports the failure above
    summaryPrinted = true;
    printSummary();
    if (state.tmp) saveLogs(state.tmp);
    process.exit(1);
  }, TOTAL_TIMEOUT_MS).unref();
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.error(`[e2e] ${sig}: cleaning up`);
    await withTimeout(cleanup(), 15_000, 'cleanup').catch(() => {});
    process.exit(130);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => process.exit(code), async (err) => {
    console.error(err?.stack || err);
    await cleanup().catch(() => {});
    console.log('0 passed, 1 failed');
    process.exit(1);
  });
}
