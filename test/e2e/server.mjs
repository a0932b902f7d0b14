// The offline VS Code shared by the e2e tests (test/e2e/run.mjs) and `npm start`
// (scripts/start.mjs): code-server from .cache/vscode (scripts/setup-vscode.mjs) on
// 127.0.0.1, the workbench URL that loads an extension under development, and
// Debian chromium through playwright-core.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import process from 'node:process';

export const SERVER_START_TIMEOUT_MS = 90_000;
export const WORKBENCH_TIMEOUT_MS = 120_000;

/** User settings for a quiet, offline workbench (no telemetry, tips, updates or AI features). */
export const QUIET_SETTINGS = {
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
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

export function httpGet(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

export function tail(file, lines = 60) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

export function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Starts code-server with its state under `dir` (user data, extensions, config, log) and
 * waits for /healthz. `smokeTestDriver` (on by default) is what makes a built VS Code honour
 * the workbench URL's payload (extensionDevelopmentPath, extensionTestsPath).
 * Returns { port, child, exited, logFile, stop() }; stop() kills the whole process group.
 */
export async function startCodeServer({ vs, dir, port, env = {}, settings = {}, smokeTestDriver = true, log = () => {} }) {
  port ||= await freePort();
  const userData = path.join(dir, 'user-data');
  writeJson(path.join(userData, 'User', 'settings.json'), { ...QUIET_SETTINGS, ...settings });
  const logFile = path.join(dir, 'code-server.log');
  const out = fs.openSync(logFile, 'a');
  const args = [
    vs.codeServer,
    '--config', path.join(dir, 'config.yaml'), // written by code-server; keeps ~/.config untouched
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir', userData,
    '--extensions-dir', path.join(dir, 'extensions'),
    ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    '--log', 'info',
  ];
  log(`starting code-server on 127.0.0.1:${port} (log ${logFile})`);
  const child = spawn(vs.node, args, {
    cwd: dir,
    detached: true, // own process group: the server and its extension hosts are killed together
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env, XDG_DATA_HOME: path.join(dir, 'xdg-data'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config') },
  });
  fs.closeSync(out);
  let exitedWith;
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => { exitedWith = code ?? sig; resolve(exitedWith); }));
  const server = {
    port,
    child,
    exited,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kill = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
      kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      kill('SIGKILL'); // whole group: extension hosts, pty host, file watcher
      if (!done) await Promise.race([exited, sleep(2000)]);
    },
  };
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) throw Object.assign(new Error(`code-server exited (${exitedWith}) while starting:\n${tail(logFile)}`), { server });
    if ((await httpGet(`http://127.0.0.1:${port}/healthz`)) === 200) return server;
    await sleep(250);
  }
  await server.stop();
  throw new Error(`code-server did not answer /healthz within ${SERVER_START_TIMEOUT_MS / 1000}s:\n${tail(logFile)}`);
}

/**
 * The payload's values are URIs: vscode-remote://<host:port>/abs/path puts the extension (and a
 * test runner) in code-server's Node extension host (a bare /abs/path parses as file:// and
 * only works when the tests lie inside the extension folder).
 */
export function remoteUri(port, absPath) {
  return `vscode-remote://127.0.0.1:${port}${absPath.split(path.sep).map(encodeURIComponent).join('/')}`;
}

export function workbenchUrl(port, folder, payload) {
  const q = new URLSearchParams({ folder });
  if (payload) q.set('payload', JSON.stringify(payload));
  return `http://127.0.0.1:${port}/?${q}`;
}


/** Files under `dir`, recursively ([] when it does not exist). */
export function listFiles(dir) {
  let entries = [];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return []; }
  return entries.flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/**
 * Copies a run's logs from its temp dir `tmp` (code-server.log, browser-console.log, VS Code's
 * own logs) to `dst`, and prints the last lines of the extension's own log files.
 */
export function saveRunLogs(tmp, dst, { root, extensionId, log = () => {} }) {
  fs.rmSync(dst, { recursive: true, force: true });
  fs.mkdirSync(dst, { recursive: true });
  for (const f of ['code-server.log', 'browser-console.log']) {
    if (fs.existsSync(path.join(tmp, f))) fs.copyFileSync(path.join(tmp, f), path.join(dst, f));
  }
  // exthost, remoteagent, ...
  try { fs.cpSync(path.join(tmp, 'user-data', 'logs'), path.join(dst, 'vscode-logs'), { recursive: true, force: true }); } catch { /* none */ }
  log(`logs saved to ${path.relative(root, dst)}/`);
  for (const f of listFiles(path.join(dst, 'vscode-logs')).filter((p) => p.includes(extensionId) && p.endsWith('.log'))) {
    console.log(`\n  --- ${path.relative(root, f)} (last lines)`);
    console.log(tail(f, 15).split('\n').map((l) => `  ${l.slice(0, 400)}`).join('\n'));
  }
}
/**
 * Headless (or headed) Debian chromium through playwright-core. `ownSignals`: the caller handles
 * SIGINT/SIGTERM/SIGHUP itself (playwright's own handlers would exit the process mid-cleanup).
 */
export async function launchChromium(vs, { headed = false, log = () => {}, ownSignals = false } = {}) {
  // require() (not import) so NODE_PATH can supply playwright-core when the repo has no node_modules yet
  const { chromium } = createRequire(import.meta.url)('playwright-core');
  log(`launching ${vs.chromium}`);
  return chromium.launch({
    executablePath: vs.chromium,
    headless: !headed,
    timeout: 60_000,
    ...(ownSignals ? { handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false } : {}),
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export async function waitForWorkbench(page, timeout = WORKBENCH_TIMEOUT_MS) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout });
}

/** The text of the extension's status bar item ("MEGABYTE mb-small · CPU"), '' while absent. */
export async function statusBarText(page) {
  const item = page.locator('.statusbar-item', { hasText: 'MEGABYTE' }).first();
  return (await item.count()) ? ((await item.textContent().catch(() => '')) ?? '').replace(/\s+/g, ' ').trim() : '';
}

/** The active editor's cursor from the status bar ("Ln 12, Col 5") as { line, column }; undefined while absent. */
export async function cursorPosition(page) {
  const item = page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first();
  if (!(await item.count())) return undefined;
  const m = /Ln (\d+), Col (\d+)/.exec((await item.textContent().catch(() => '')) ?? '');
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}

/**
 * Installs a .vsix with code-server's own CLI, as a user would (`code-server --install-extension`),
 * into `extensionsDir` / `userDataDir`; config and XDG dirs go under `stateDir`, away from ~/.
 * Returns { code, output, ms }; `onSpawn(child)` lets a caller kill it on Ctrl+C.
 */
export function installVsix({ vs, vsix, extensionsDir, userDataDir, stateDir, timeoutMs = 180_000, onSpawn = () => {} }) {
  const t = Date.now();
  const child = spawn(vs.node, [
    vs.codeServer,
    '--config', path.join(stateDir, 'config.yaml'),
    '--extensions-dir', extensionsDir,
    '--user-data-dir', userDataDir,
    '--install-extension', vsix,
  ], {
    cwd: stateDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDG_DATA_HOME: path.join(stateDir, 'xdg-data'), XDG_CONFIG_HOME: path.join(stateDir, 'xdg-config') },
  });
  onSpawn(child);
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, sig) => { clearTimeout(timer); resolve({ code: code ?? sig, output, ms: Date.now() - t }); });
  });
}

/** Workbench actions for browser tests and `npm start --check`, through the DOM as a user would. */
export function makeWorkbench(page) {
  const editorLines = page.locator('.editor-instance .monaco-editor .view-lines').first();
  return {
    page,
    /** Quick Open (Ctrl+P) a workspace file and wait until its editor has focus. */
    async openFile(name) {
      await page.locator('.monaco-workbench').click({ position: { x: 700, y: 450 } }).catch(() => {});
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await input.fill(name);
      // Until the filter has run, the list shows recently opened files: wait for this one on top.
      await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: path.basename(name) }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await page.locator(`.tab.active[aria-label^="${path.basename(name)}"]`).first().waitFor({ timeout: 15_000 });
      await editorLines.waitFor({ timeout: 15_000 });
      await editorLines.click();
    },
    /** Runs a command by its palette title (F1, type, Enter); the focused editor stays the target. */
    async runCommand(title) {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await input.fill(`>${title}`);
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
      await row.waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await input.waitFor({ state: 'hidden', timeout: 15_000 }).catch(() => {});
    },
    /** The extension's status bar text, '' while it has none. */
    statusBar: () => statusBarText(page),
    /** Waits until the status bar text matches `re`; returns it. */
    async waitForStatus(re, timeout = 90_000) {
      const deadline = Date.now() + timeout;
      let text = '';
      while (Date.now() < deadline) {
        text = await statusBarText(page);
        if (re.test(text)) return text;
        await sleep(250);
      }
      throw new Error(`the status bar did not match ${re} within ${timeout / 1000}s (it shows ${JSON.stringify(text)})`);
    },
    /** The ghost text (inline suggestion) in the active editor. */
    ghost: () => page.locator('.ghost-text-decoration, .ghost-text-decoration-preview').first(),
    /** Text of the active editor's rendered lines (only what is on screen), with spaces as spaces. */
    async visibleText() {
      const lines = await editorLines.locator('.view-line').allTextContents();
      return lines.map((l) => l.replace(/\u00a0/g, ' ')).join('\n');
    },
  };
}
