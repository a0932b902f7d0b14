#!/usr/bin/env node
// npm start (after scripts/build.mjs): the extension in a real VS Code, on a long sample
// document built from this repository's own sources (.cache/start/workspace/sample.ts).
//
//   node scripts/start.mjs [--check] [--server] [--port N] [--headed]
//
// With a desktop `code` on PATH: `code --extensionDevelopmentPath=<repo> <workspace>`.
// Otherwise (or with --server): the offline code-server from .cache/vscode
// (scripts/setup-vscode.mjs) on 127.0.0.1 with the extension under development; it prints
// the address to open and runs until Ctrl+C.
//
// --check (also when stdin is not a TTY and CI is set): code-server, then headless chromium
// opens the page, waits for the status bar to show MEGABYTE with a model, types in the
// sample until ghost text appears, saves test/artifacts/start.png, prints one JSON line
// with the timings and exits 0 (1 on failure): `npm ci && npm start` verified on a fresh
// machine (--headed shows that browser). Env: START_TIMEOUT_S (the whole check, default 300),
// CHROMIUM_PATH.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { ROOT, setupVscode } from './setup-vscode.mjs';
import {
  launchChromium, makeWorkbench, remoteUri, startCodeServer, waitForWorkbench, workbenchUrl,
} from '../test/e2e/server.mjs';

const START_DIR = path.join(ROOT, '.cache', 'start');
const WORKSPACE = path.join(START_DIR, 'workspace');
const SAMPLE = path.join(WORKSPACE, 'sample.ts');
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const SAMPLE_MIN_BYTES = 300_000;
const SAMPLE_MAX_BYTES = 500_000;
const CHECK_TIMEOUT_MS = Number(process.env.START_TIMEOUT_S || 300) * 1000;

const t0 = Date.now();
const log = (msg) => console.log(`[start ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

function parseArgs(argv) {
  const opts = { check: false, server: false, port: 0, headed: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') opts.check = true;
    else if (a === '--server') opts.server = true;
    else if (a === '--headed') opts.headed = true;
    else if (a === '--port') opts.port = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log('usage: node scripts/start.mjs [--check] [--server] [--port N] [--headed]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port needs a port number');
  // Unattended in CI: nobody will open the address, so verify instead of waiting for Ctrl+C.
  if (!process.stdin.isTTY && process.env.CI) opts.check = true;
  return opts;
}

// ---------------------------------------------------------------- the sample workspace
function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return sourceFiles(p);
      return e.name.endsWith('.ts') ? [p] : [];
    });
}

/** 300–500 KB of real TypeScript (src/, repeated as needed), ending in a function to complete. */
function writeSample() {
  const files = sourceFiles(path.join(ROOT, 'src'));
  if (files.length === 0) throw new Error('no TypeScript sources under src/ to build the sample from');
  const tail = [
    '',
    '// ---- Try it here: type, wait for the ghost text, Tab accepts it, Alt+] / Alt+[ show the other',
    '// candidates. Command palette: "MEGABYTE: Summarize continuation", "MEGABYTE: Toggle surprisal view".',
    'export function clamp(value: number, lo: number, hi: number): number {',
    '  ',
  ].join('\n');
  // @ts-nocheck: the concatenation redeclares everything; the language server need not say so 1,000 times.
  const parts = [`// @ts-nocheck\n// A long sample document for MEGABYTE Complete: this repository's own sources, concatenated.\n`];
  let bytes = Buffer.byteLength(parts[0]) + Buffer.byteLength(tail);
  for (let copy = 1; bytes < SAMPLE_MIN_BYTES; copy++) {
    for (const f of files) {
      const part = `\n// ---- ${path.relative(ROOT, f)}${copy > 1 ? ` (copy ${copy})` : ''}\n${fs.readFileSync(f, 'utf8')}`;
      if (bytes + Buffer.byteLength(part) > SAMPLE_MAX_BYTES) break;
      parts.push(part);
      bytes += Buffer.byteLength(part);
      if (bytes >= SAMPLE_MIN_BYTES) break;
    }
  }
  const text = parts.join('') + tail;
  fs.mkdirSync(WORKSPACE, { recursive: true });
  fs.writeFileSync(SAMPLE, text);
  const lines = text.split('\n');
  return { bytes: Buffer.byteLength(text), line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function readJson(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return undefined; }
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------- desktop VS Code
function startDesktop(sample) {
  const args = [`--extensionDevelopmentPath=${ROOT}`, WORKSPACE, '--goto', `${SAMPLE}:${sample.line}:${sample.column}`];
  log(`desktop VS Code: code ${args.join(' ')}`);
  const child = spawn('code', args, { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
}

// ---------------------------------------------------------------- code-server
async function startServer(opts, sample) {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) {
    throw new Error('dist/extension.js is missing: run `node scripts/build.mjs` first (npm start does)');
  }
  const vs = setupVscode();
  const serverDir = path.join(START_DIR, 'server');
  fs.mkdirSync(serverDir, { recursive: true });
  // The user's own changes to settings.json (Ctrl+,) survive a restart.
  const userSettings = readJson(path.join(serverDir, 'user-data', 'User', 'settings.json')) ?? {};
  const server = await startCodeServer({ vs, dir: serverDir, port: opts.port, settings: userSettings, log });
  const { port } = server;
  const url = workbenchUrl(port, WORKSPACE, [
    ['extensionDevelopmentPath', remoteUri(port, ROOT)],
    ['openFile', `${remoteUri(port, SAMPLE)}:${sample.line}:${sample.column}`],
    ['gotoLineMode', 'true'],
    ['skipWelcome', 'true'],
  ]);
  return { vs, server, url };
}

async function check(vs, url, timings, headed) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'start.png');
  fs.rmSync(shot, { force: true });
  const browser = await launchChromium(vs, { headed, log, ownSignals: true });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    let t = Date.now();
    await page.goto(url, { timeout: 120_000 });
    await waitForWorkbench(page);
    timings.workbenchMs = Date.now() - t;
    const wb = makeWorkbench(page);
    t = Date.now();
    const status = await wb.waitForStatus(/MEGABYTE \S+ · (CPU|CUDA|WebGPU)/, 120_000);
    timings.statusBarMs = Date.now() - t;
    log(`status bar: ${status}`);
    await wb.openFile('sample.ts');
    await page.keyboard.press('Control+End');
    t = Date.now();
    // Type like a user; the first keystrokes wait for the sample's encoding, later ones get answers.
    const ghost = wb.ghost();
    let typed = '';
    for (const word of ['if (value < lo) ', 'return lo;', '\n', 'if (value > hi) ', 'return hi;', '\n', 'return ']) {
      await page.keyboard.type(word, { delay: 40 });
      typed += word;
      if (await ghost.waitFor({ state: 'visible', timeout: 15_000 }).then(() => true, () => false)) break;
    }
    await ghost.waitFor({ state: 'visible', timeout: Math.max(1_000, 120_000 - (Date.now() - t)) });
    timings.ghostTextMs = Date.now() - t;
    const ghostText = ((await ghost.textContent()) ?? '').replace(/\u00a0/g, ' ');
    await page.screenshot({ path: shot });
    return { status, typed, ghostText };
  } catch (err) {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) await pages[0].screenshot({ path: shot }).catch(() => {});
    throw err;
  } finally {
    await browser.close().catch(() => {});
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const sample = writeSample();
  log(`sample ${path.relative(ROOT, SAMPLE)}: ${(sample.bytes / 1024).toFixed(0)} KB, ${sample.line} lines`);

  if (!opts.check && !opts.server && onPath('code')) return startDesktop(sample);

  const timings = {};
  let t = Date.now();
  const { vs, server, url } = await startServer(opts, sample);
  timings.serverMs = Date.now() - t;
  let stopping = false;
  const shutdown = async (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping code-server');
    await server.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  server.exited.then((c) => {
    if (!stopping) {
      console.error(`[start] code-server exited (${c}); its log: ${server.logFile}`);
      process.exit(1);
    }
  });

  if (!opts.check) {
    console.log(`\n  MEGABYTE Complete in VS Code (code-server, offline): open\n\n    ${url}\n`);
    console.log(`  The extension runs from ${ROOT} (development mode); sample.ts is opened at its end.`);
    console.log(`  Server log: ${server.logFile}. Ctrl+C stops the server.\n`);
    return;
  }

  const watchdog = setTimeout(() => {
    console.log(JSON.stringify({ ok: false, error: `the check took over ${CHECK_TIMEOUT_MS / 1000}s`, timings }));
    void shutdown(1);
  }, CHECK_TIMEOUT_MS);
  try {
    const r = await check(vs, url, timings, opts.headed);
    timings.totalMs = Date.now() - t0;
    log(`ghost text after typing ${JSON.stringify(r.typed)}: ${JSON.stringify(r.ghostText.slice(0, 60))}`);
    console.log(JSON.stringify({
      ok: true, url, sampleBytes: sample.bytes, status: r.status, ghostText: r.ghostText.slice(0, 200),
      screenshot: path.relative(ROOT, path.join(ARTIFACTS, 'start.png')), timings,
    }));
    clearTimeout(watchdog);
    await shutdown(0);
  } catch (err) {
    clearTimeout(watchdog);
    timings.totalMs = Date.now() - t0;
    console.error(err?.stack || String(err));
    console.log(JSON.stringify({ ok: false, error: String(err?.message || err).split('\n')[0], serverLog: server.logFile, timings }));
    await shutdown(1);
  }
}

main().catch((err) => {
  console.error(`[start] ${err?.stack || err}`);
  process.exit(1);
});
