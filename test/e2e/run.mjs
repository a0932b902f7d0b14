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
//   --grep RE           only tests whose title matches the regular expression RE (both phases)
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
// Figures the tests report (event-loop gaps, timings) are printed as `·` lines and
// again under "figures" in the summary. The extension logs at debug level; a failed
// run saves every log under test/artifacts/e2e-logs/. Starting code-server and
// chromium is shared with `npm start` (test/e2e/server.mjs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { ROOT, setupVscode } from '../../scripts/setup-vscode.mjs';
import { browserTests } from './browser-tests.mjs';
import {
  WORKBENCH_TIMEOUT_MS, launchChromium, remoteUri, saveRunLogs, sleep, startCodeServer, waitForWorkbench,
  makeWorkbench, workbenchUrl,
} from './server.mjs';

const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const EXTENSION_ID = 'megabyte-local.megabyte-complete';
// The extension's log at debug level (one line per completion), saved with the logs of a failed run.
const EXTENSION_LOG_LEVEL = `${EXTENSION_ID}:debug`;
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

// ---------------------------------------------------------------- state for cleanup
const state = { server: undefined, browser: undefined, tmp: undefined };
const results = []; // { phase, title, state: passed|failed|pending, durationMs, error }
let harnessError;
let summaryPrinted = false;

const notes = []; // figures the tests report (helpers.report in the suite, log.note in browser tests)
function note(text) {
  notes.push(text);
  console.log(`    · ${text}`);
}

function record(r) {
  results.push(r);
  const mark = r.state === 'passed' ? '✓' : r.state === 'failed' ? '✗' : '-';
  const dur = r.durationMs != null ? ` (${r.durationMs} ms)` : '';
  console.log(`  ${mark} [${r.phase}] ${r.title}${r.state === 'pending' ? ' (pending)' : dur}`);
}

// ---------------------------------------------------------------- helpers
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- code-server (test/e2e/server.mjs)
async function startServer(vs, tmp, extraEnv, settings) {
  try {
    state.server = await startCodeServer({ vs, dir: tmp, env: extraEnv, settings, log });
  } catch (err) {
    state.server = err.server;
    throw err;
  }
  return state.server.port;
}

async function stopServer() {
  await state.server?.stop();
}

// ---------------------------------------------------------------- browser
async function launchBrowser(vs, opts) {
  state.browser = await launchChromium(vs, { headed: opts.headed, log, ownSignals: true });
  return state.browser;
}

async function newPage(browser, consoleLog, label) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('console', (msg) => fs.appendFileSync(consoleLog, `[${label}] [${msg.type()}] ${msg.text()}\n`));
  page.on('pageerror', (err) => fs.appendFileSync(consoleLog, `[${label}] [pageerror] ${err.stack || err}\n`));
  return { context, page };
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
    ['logLevel', EXTENSION_LOG_LEVEL],
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
      if (r.note !== undefined) { note(r.note); continue; }
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
async function runBrowserTests(browser, port, opts, tmp) {
  const tests = browserTests.filter((t) => !opts.grep || new RegExp(opts.grep).test(t.name));
  if (tests.length === 0) return;
  const consoleLog = path.join(tmp, 'browser-console.log');
  const { context, page } = await newPage(browser, consoleLog, 'browser-tests');
  log('phase 2: browser tests');
  await page.goto(workbenchUrl(port, path.join(tmp, 'workspace'), [
    ['extensionDevelopmentPath', remoteUri(port, opts.devPath)], ['logLevel', EXTENSION_LOG_LEVEL]]),
    { timeout: WORKBENCH_TIMEOUT_MS });
  await waitForWorkbench(page);
  const wb = makeWorkbench(page);
  for (const t of tests) {
    // stale outputs of an earlier run must not pass for this run's
    for (const f of t.artifacts ?? []) fs.rmSync(path.join(ARTIFACTS, f), { force: true });
    const start = Date.now();
    try {
      await withTimeout(t.run({ page, workbench: wb, workspace: path.join(tmp, 'workspace'), artifacts: ARTIFACTS, log, note }),
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
  saveRunLogs(tmp, path.join(ARTIFACTS, 'e2e-logs'), { root: ROOT, extensionId: EXTENSION_ID, log });
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
  if (notes.length) {
    console.log('\n  figures:');
    for (const n of notes) console.log(`    · ${n}`);
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
    const settings = Object.assign({}, ...browserTests.map((t) => t.settings ?? {}));
    const port = await startServer(vs, tmp, env, settings);
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
