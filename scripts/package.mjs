// npm run package: a platform vsix (linux-x64 by default, or --target T) holding the esbuild
// bundle (onnxruntime-node's JavaScript included), media, the bundled models, and that platform's
// onnxruntime binaries under bin/napi-v6/.
// The extension is staged in .cache/package/ from a whitelist, then packed by vsce with
// --no-dependencies (everything it needs at run time is already in the stage).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';

import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const target = argv.includes('--target') ? argv[argv.indexOf('--target') + 1] : 'linux-x64';
const [plat, arch] = target.split('-');
const ortPlat = { linux: 'linux', darwin: 'darwin', win32: 'win32', alpine: 'linux' }[plat];
const stage = path.join(root, '.cache', 'package');
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

const copy = (rel, filter) => {
  const src = path.join(root, rel);
  if (!existsSync(src)) throw new Error(`missing ${rel}`);
  cpSync(src, path.join(stage, rel), { recursive: true, filter: filter ?? (() => true) });
};
// The whitelist (also mirrored in .vscodeignore for anyone packing from the repo root).
for (const f of ['README.md', 'LICENSE', 'dist/extension.js', 'dist/worker.js', 'media/icon.png', 'media/continuation.js', 'media/continuation.css']) copy(f);
// README.md shows these by relative path; they ship so the extension's page in VS Code shows them
// (vsce keeps the links relative: --no-rewrite-relative-links below).
copy('media/screenshots', (p) => p.endsWith('.png') || statSync(p).isDirectory());
for (const m of readdirSync(path.join(root, 'models'))) {
  if (existsSync(path.join(root, 'models', m, 'manifest.json'))) copy(`models/${m}`, (p) => !p.endsWith('fixture.json'));
}
// onnxruntime-node's JavaScript is in the production bundle; its native binding loads from here.
cpSync(path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6', ortPlat, arch), path.join(stage, 'bin/napi-v6', ortPlat, arch), { recursive: true });

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
