// npm run package: a platform vsix (linux-x64 by default, or --target T) holding the esbuild
// bundle (onnxruntime-node's JavaScript included), media, the bundled models, and that platform's
// onnxruntime binaries under bin/napi-v6/.
// The extension is staged in .cache/package/ from the whitelist in .vscodeignore (its `!` lines,
// the one list of what ships), then packed by vsce with --no-dependencies (everything it needs at
// run time is already in the stage). A `!bin/napi-v6/...` line stands for the target platform's
// onnxruntime binaries, taken from node_modules. --list prints the staged files as JSON and stops.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';

import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const target = argv.includes('--target') ? argv[argv.indexOf('--target') + 1] : 'linux-x64';
const [plat, arch] = target.split('-');
const ortPlat = { linux: 'linux', darwin: 'darwin', win32: 'win32', alpine: 'linux' }[plat];
if (!ortPlat || !arch) throw new Error(`unknown --target ${target} (like linux-x64, darwin-arm64, win32-x64)`);
const stage = path.join(root, '.cache', 'package');

/** The `!` lines of .vscodeignore: what ships (README.md shows media/screenshots by relative path). */
function whitelist() {
  return readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => l.startsWith('!')).map((l) => l.slice(1));
}

/** A .vscodeignore glob as a regular expression: `**` any path, `*` any name part. */
const globRe = (glob) => new RegExp(`^${glob.split(/(\*\*|\*)/).map((t) => (t === '**' ? '.*' : t === '*' ? '[^/]*' : t.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`);

function walk(rel) {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs).flatMap((f) => walk(rel ? `${rel}/${f}` : f));
}

/** Every repository file a whitelist line matches (walking only below its wildcard-free prefix); one that matches nothing is an error. */
function matches(glob) {
  const parts = glob.split('/');
  const wild = parts.findIndex((p) => p.includes('*'));
  const base = wild < 0 ? glob : parts.slice(0, wild).join('/');
  const re = globRe(glob);
  const found = walk(base).filter((f) => re.test(f));
  if (!found.length) throw new Error(`.vscodeignore ships ${glob}, which matches no file (build first?)`);
  return found;
}

const ortDir = path.join('node_modules/onnxruntime-node/bin/napi-v6', ortPlat, arch);
if (!walk(ortDir).length) throw new Error(`no onnxruntime binaries for ${target} at ${ortDir}`);
/** [source, staged path] of every file that ships for this target. */
const files = whitelist().flatMap((glob) => (glob.startsWith('bin/napi-v6/')
  // onnxruntime-node's JavaScript is in the production bundle; its native binding loads from here.
  ? walk(ortDir).map((f) => [f, path.join('bin/napi-v6', ortPlat, arch, path.relative(ortDir, f)).split(path.sep).join('/')])
  : matches(glob).map((f) => [f, f])));
if (argv.includes('--list')) {
  console.log(JSON.stringify(files.map(([, to]) => to)));
  process.exit(0);
}
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const [from, to] of files) {
  mkdirSync(path.dirname(path.join(stage, to)), { recursive: true });
  cpSync(path.join(root, from), path.join(stage, to));
}

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
delete pkg.devDependencies;
delete pkg.scripts;
delete pkg.dependencies;
pkg.repository ??= { type: 'git', url: 'https://example.invalid/megabyte-complete.git' };
writeFileSync(path.join(stage, 'package.json'), JSON.stringify(pkg, null, 2));
writeFileSync(path.join(stage, '.vscodeignore'), '');

const out = path.join(root, `${pkg.name}-${target}-${pkg.version}.vsix`);
const vsce = path.join(root, 'node_modules', '.bin', 'vsce');
const r = spawnSync(vsce, ['package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--target', target, '--out', out], { cwd: stage, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
console.log(JSON.stringify({ vsix: path.relative(root, out), bytes: statSync(out).size, target }));
