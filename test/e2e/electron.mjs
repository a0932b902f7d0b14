#!/usr/bin/env node
// Second launcher: the same mocha suite (dist/test/extension/index.js) in desktop
// VS Code (Electron) through @vscode/test-electron, for machines that can
// download VS Code or have one installed. Offline it fails fast with a clear
// message; use `npm run test:extension` (code-server, offline) there.
//
//   node test/e2e/electron.mjs              (npm run test:electron builds first)
//
// Env: VSCODE_VERSION (default stable), VSCODE_EXECUTABLE (use an installed VS
// Code, no download), E2E_DOWNLOAD_TIMEOUT_S (idle timeout while downloading,
// default 20), E2E_TIMEOUT_S (whole run, default 900), MEGABYTE_TEST_GREP.
// On Linux without $DISPLAY run it under xvfb-run -a.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEV_PATH = ROOT;
const TESTS_PATH = path.join(ROOT, 'dist', 'test', 'extension', 'index.js');
const CACHE = path.join(ROOT, '.cache', 'vscode-electron');
const VERSION = process.env.VSCODE_VERSION || 'stable';
const DOWNLOAD_TIMEOUT_MS = Number(process.env.E2E_DOWNLOAD_TIMEOUT_S || 20) * 1000;
const TOTAL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_S || 900) * 1000;

const log = (msg) => console.log(`[electron] ${msg}`);

function fail(msg) {
  console.error(`[electron] ${msg}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function summarize(resultFile) {
  let text = '';
  try { text = fs.readFileSync(resultFile, 'utf8'); } catch { return undefined; }
  const records = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const tests = records.filter((r) => !r.done && r.note === undefined);
  for (const t of records.filter((r) => !r.done)) {
    if (t.note !== undefined) { console.log(`    · ${t.note}`); continue; }
    const mark = t.state === 'passed' ? '✓' : t.state === 'failed' ? '✗' : '-';
    console.log(`  ${mark} ${t.title}${t.state === 'pending' ? ' (pending)' : ` (${t.durationMs ?? 0} ms)`}`);
  }
  const failed = tests.filter((t) => t.state === 'failed');
  failed.forEach((t, i) => console.log(`\n  ${i + 1}) ${t.title}\n${String(t.error).replace(/^/gm, '      ')}`));
  const pending = tests.filter((t) => t.state === 'pending').length;
  console.log('');
  if (pending) console.log(`${pending} pending`);
  console.log(`${tests.filter((t) => t.state === 'passed').length} passed, ${failed.length} failed`);
  return { failed: failed.length, done: records.some((r) => r.done) };
}

async function main() {
  if (!fs.existsSync(TESTS_PATH)) fail(`extension test bundle not found: ${TESTS_PATH}\n  build it first: node scripts/build.mjs`);
  const { downloadAndUnzipVSCode, runTests } = await import('@vscode/test-electron');

  let vscodeExecutablePath = process.env.VSCODE_EXECUTABLE;
  if (!vscodeExecutablePath) {
    log(`downloading VS Code ${VERSION} into ${path.relative(ROOT, CACHE)} (idle timeout ${DOWNLOAD_TIMEOUT_MS / 1000}s)`);
    try {
      vscodeExecutablePath = await downloadAndUnzipVSCode({ version: VERSION, cachePath: CACHE, timeout: DOWNLOAD_TIMEOUT_MS });
    } catch (err) {
      fail(`could not download VS Code ${VERSION}: ${err?.message || err}\n` +
        '  This machine is probably offline. Either run the offline launcher (code-server):\n' +
        '    npm run test:extension\n' +
        '  or point VSCODE_EXECUTABLE at an installed VS Code (e.g. /usr/share/code/code).');
    }
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    log('warning: no $DISPLAY; Electron needs one (run: xvfb-run -a node test/e2e/electron.mjs)');
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-electron-'));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  const resultFile = path.join(tmp, 'mocha.jsonl');
  log(`VS Code: ${vscodeExecutablePath}`);
  let code;
  try {
    code = await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: DEV_PATH,
      extensionTestsPath: TESTS_PATH,
      extensionTestsEnv: {
        MEGABYTE_TEST_RESULT: resultFile,
        MEGABYTE_E2E: '1',
        ...(process.env.MEGABYTE_TEST_GREP ? { MEGABYTE_TEST_GREP: process.env.MEGABYTE_TEST_GREP } : {}),
      },
      launchArgs: [
        workspace,
        '--user-data-dir', path.join(tmp, 'user-data'),
        '--extensions-dir', path.join(tmp, 'extensions'),
        '--disable-extensions', // other installed extensions; the one under development still loads
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        '--disable-gpu',
      ],
    });
  } catch (err) {
    code = err?.code ?? 1;
    log(`VS Code exited: ${err?.message || err}`);
  }
  const summary = summarize(resultFile);
  fs.rmSync(tmp, { recursive: true, force: true });
  if (!summary) fail(`the suite wrote no results (VS Code exit code ${code})`);
  if (!summary.done) fail('the suite did not finish');
  return summary.failed || code ? 1 : 0;
}

setTimeout(() => fail(`overall timeout (${TOTAL_TIMEOUT_MS / 1000}s)`), TOTAL_TIMEOUT_MS).unref();
main().then((code) => process.exit(code), (err) => fail(err?.stack || String(err)));
