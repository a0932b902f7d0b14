#!/usr/bin/env node
// Idempotent setup of a real, offline VS Code for the extension tests:
//   .cache/vscode/node/         Node 24 (npm package node-linux-<arch>, with headers)
//   .cache/vscode/code-server/  code-server (VS Code server) built with that Node
// plus the Debian packages the tests need (chromium to drive the workbench,
// libkrb5-dev + a C++ toolchain to build code-server's native modules).
// A stamp file makes a second run return in well under a second.
//
//   node scripts/setup-vscode.mjs           # install what is missing
//   node scripts/setup-vscode.mjs --force   # reinstall Node 24 + code-server
//   node scripts/setup-vscode.mjs --check   # exit 1 unless everything is ready
//
// Env: CHROMIUM_PATH (default /usr/bin/chromium), SETUP_VSCODE_NO_APT=1 (never apt-get).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = path.join(ROOT, '.cache', 'vscode');
export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';
const NODE_PKG = `node-${process.platform}-${process.arch}`;
const STAMP = path.join(CACHE, 'stamp.json');
const STAMP_CONTENT = { node: `${NODE_PKG}@${NODE_VERSION}`, codeServer: CODE_SERVER_VERSION, stampVersion: 1 };

export function vscodePaths() {
  const nodeDir = path.join(CACHE, 'node', 'node_modules', NODE_PKG);
  const csDir = path.join(CACHE, 'code-server', 'node_modules', 'code-server');
  return {
    cache: CACHE,
    nodeDir, // npm_config_nodedir (has include/node)
    node: path.join(nodeDir, 'bin', 'node'),
    codeServerDir: csDir,
    codeServer: path.join(csDir, 'out', 'node', 'entry.js'),
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  };
}

const log = (msg) => console.log(`[setup-vscode] ${msg}`);
const secs = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

function run(cmd, args, opts = {}) {
  log(`$ ${opts.cwd ? `(cd ${path.relative(ROOT, opts.cwd) || '.'}) ` : ''}${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function debInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function readJson(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return undefined; }
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Debian packages: chromium (runtime), libkrb5-dev + toolchain (build only). */
function ensureSystemPackages({ needBuild }) {
  const p = vscodePaths();
  const missing = [];
  if (!fs.existsSync(p.chromium)) missing.push('chromium');
  if (needBuild) {
    const hasDpkg = hasCommand('dpkg-query');
    if (hasDpkg ? !debInstalled('libkrb5-dev') : !fs.existsSync('/usr/include/krb5.h')) missing.push('libkrb5-dev');
    if (!hasCommand('make') || !hasCommand('g++')) missing.push('build-essential');
    if (!hasCommand('python3')) missing.push('python3');
  }
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || process.env.SETUP_VSCODE_NO_APT === '1' || !hasCommand('apt-get')) {
    throw new Error(`missing system packages: ${missing.join(' ')}\n` +
      `  install them with: sudo apt-get install -y ${missing.join(' ')}` +
      (missing.includes('chromium') ? `\n  (or point CHROMIUM_PATH at a Chromium/Chrome binary)` : ''));
  }
  const t0 = Date.now();
  log(`installing missing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  // fonts-liberation: chromium only recommends it, but screenshots need a font.
  if (missing.includes('chromium')) install.push('fonts-liberation');
  const first = spawnSync('apt-get', install, { stdio: 'inherit', env });
  if (first.status !== 0) {
    run('apt-get', ['update'], { env });
    run('apt-get', install, { env });
  }
  log(`Debian packages installed in ${secs(t0)}`);
}

function npmEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  // Under `npm test` the outer npm exports its config as npm_config_* variables;
  // an inner npm would take them as its own. npm_config_user_agent in particular
  // says "node/v20", which code-server's postinstall reads as the Node version.
  for (const key of Object.keys(env)) {
    if (/^npm_config_user_agent$/i.test(key) || /^npm_(lifecycle|package|command|execpath|node_execpath)/i.test(key)) delete env[key];
  }
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return env;
}

/** npm's own entry script, to run it under another node binary. */
function npmCli() {
  const candidates = [];
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) candidates.push(process.env.npm_execpath);
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    const real = fs.realpathSync(which.stdout.trim());
    candidates.push(real, path.join(path.dirname(real), 'npm-cli.js'));
  }
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'));
  const found = candidates.find((c) => /npm-cli\.js$/.test(c) && fs.existsSync(c));
  if (!found) throw new Error(`cannot find npm's npm-cli.js (looked at ${candidates.join(', ')})`);
  return found;
}

function installNode(force) {
  const p = vscodePaths();
  const ok = () => {
    if (!fs.existsSync(p.node)) return false;
    const r = spawnSync(p.node, ['--version'], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.trim() === `v${NODE_VERSION}`;
  };
  if (!force && ok()) { log(`Node ${NODE_VERSION} already present`); return; }
  const t0 = Date.now();
  const dir = path.join(CACHE, 'node');
  // The `node` npm package only runs a preinstall that installs node-<os>-<arch>;
  // installing that package directly needs no install scripts.
  writeJson(path.join(dir, 'package.json'), {
    name: 'vscode-test-node', private: true, dependencies: { [NODE_PKG]: NODE_VERSION },
  });
  run('npm', ['install', '--no-package-lock'], { cwd: dir, env: npmEnv() });
  if (!ok()) throw new Error(`Node ${NODE_VERSION} did not install to ${p.node}`);
  log(`Node ${NODE_VERSION} installed in ${secs(t0)}`);
}

function installCodeServer(force) {
  const p = vscodePaths();
  const dir = path.join(CACHE, 'code-server');
  // Built from source by the nested install (kerberos needs libkrb5-dev).
  const marker = path.join(p.codeServerDir, 'lib', 'vscode', 'node_modules', 'kerberos', 'build', 'Release', 'kerberos.node');
  const ok = () => {
    if (!fs.existsSync(p.codeServer) || !fs.existsSync(marker)) return false;
    // --config: keep code-server from writing ~/.config/code-server/config.yaml
    const r = spawnSync(p.node, [p.codeServer, '--config', path.join(dir, 'config.yaml'), '--version'],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, XDG_DATA_HOME: path.join(dir, 'xdg-data') } });
    return r.status === 0 && r.stdout.split('\n').some((l) => l.startsWith(`${CODE_SERVER_VERSION} `));
  };
  if (!force && ok()) { log(`code-server ${CODE_SERVER_VERSION} already present`); return; }
  const t0 = Date.now();
  if (force) fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
  // npm 11 runs dependencies' install scripts only when allowScripts lists them.
  // code-server's postinstall runs `npm install` in lib/vscode and
  // lib/vscode/extensions, whose own package.json files carry their allowScripts.
  writeJson(path.join(dir, 'package.json'), {
    name: 'vscode-test-code-server',
    private: true,
    dependencies: { 'code-server': CODE_SERVER_VERSION },
    allowScripts: { [`code-server@${CODE_SERVER_VERSION}`]: true, argon2: true },
  });
  const env = npmEnv({
    PATH: `${path.dirname(p.node)}${path.delimiter}${process.env.PATH}`,
    npm_config_nodedir: p.nodeDir, // headers for node-gyp, no download
  });
  // npm puts the directory of the node that runs it first on its scripts' PATH,
  // so code-server's postinstall (which insists on Node 24) must see npm itself
  // running under Node 24, not the machine's node.
  run(p.node, [npmCli(), 'install', '--omit=dev', '--no-package-lock', '--foreground-scripts'], { cwd: dir, env });
  if (!ok()) throw new Error(`code-server did not install correctly (missing ${path.relative(ROOT, marker)} or --version failed)`);
  log(`code-server ${CODE_SERVER_VERSION} installed in ${secs(t0)}`);
}

export function isReady() {
  const p = vscodePaths();
  const stamp = readJson(STAMP);
  return !!stamp && JSON.stringify(stamp) === JSON.stringify(STAMP_CONTENT) &&
    fs.existsSync(p.node) && fs.existsSync(p.codeServer) && fs.existsSync(p.chromium);
}

/** Returns the paths; installs whatever is missing. */
export function setupVscode({ force = false } = {}) {
  const t0 = Date.now();
  if (!force && isReady()) {
    log(`ready (stamp ${path.relative(ROOT, STAMP)}), checked in ${secs(t0)}`);
    return vscodePaths();
  }
  fs.rmSync(STAMP, { force: true });
  ensureSystemPackages({ needBuild: true });
  let t = Date.now();
  installNode(force);
  log(`tier node: ${secs(t)}`);
  t = Date.now();
  installCodeServer(force);
  log(`tier code-server: ${secs(t)}`);
  writeJson(STAMP, STAMP_CONTENT);
  log(`ready in ${secs(t0)}`);
  return vscodePaths();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  try {
    if (args.includes('--check')) {
      const ready = isReady();
      log(ready ? 'ready' : 'not set up: run node scripts/setup-vscode.mjs');
      process.exit(ready ? 0 : 1);
    }
    const p = setupVscode({ force: args.includes('--force') });
    for (const [k, v] of Object.entries(p)) log(`${k.padEnd(13)} ${v}`);
  } catch (err) {
    console.error(`[setup-vscode] FAILED: ${err.message}`);
    process.exit(1);
  }
}
