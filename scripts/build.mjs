// Bundles every entry point with esbuild (type-checking is `npm run typecheck`, tsc --noEmit).
// --production minifies nothing (stack traces stay readable) but drops source maps; --quiet prints nothing.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const list = (dir, re) => existsSync(path.join(root, dir))
  ? readdirSync(path.join(root, dir)).filter((f) => re.test(f)).map((f) => path.join(dir, f)) : [];

const entries = {
  'extension': 'src/extension/extension.ts',
  'worker': 'src/engine/worker.ts',
  'cli/score': 'src/cli/score.ts',
  'cli/complete': 'src/cli/complete.ts',
  'bench/bench': 'src/bench/bench.ts',
  'bench/infill': 'src/bench/infill.ts',
  'bench/soak': 'src/bench/soak.ts',
  'bench/calibrate': 'src/bench/calibrate.ts',
  'bench/precision': 'src/bench/precision.ts',
  'bench/curve': 'src/bench/curve.ts',
  'bench/cmab': 'src/bench/cmab.ts',
  'test/extension/index': 'test/extension/index.ts',
};
for (const f of list('test/unit', /\.test\.ts$/)) entries[`test/unit/${path.basename(f, '.ts')}`] = f;
for (const f of list('test/engine', /\.test\.ts$/)) entries[`test/engine/${path.basename(f, '.ts')}`] = f;
for (const f of list('test/extension', /\.test\.ts$/)) entries[`test/extension/${path.basename(f, '.ts')}`] = f;
const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, f]) => existsSync(path.join(root, f))));

// In a packaged extension there is no node_modules: onnxruntime-node's JavaScript is bundled
// and its native binding is loaded from <extension>/bin/napi-v6/<platform>/<arch>/, where
// scripts/package.mjs puts that platform's binaries.
const ortBinding = {
  name: 'ort-binding-path',
  setup(b) {
    b.onLoad({ filter: /onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const src = (await readFile(args.path, 'utf8')).replace(
        'require(`../bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`)',
        "require(require('path').join(__dirname, '..', 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node'))");
      return { contents: src, loader: 'js' };
    });
  },
};

const t0 = Date.now();
await esbuild.build({
  absWorkingDir: root,
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  external: ['vscode', 'mocha', 'playwright-core', ...(production ? [] : ['onnxruntime-node'])],
  plugins: production ? [ortBinding] : [],
  logLevel: 'warning',
});
if (!args.has('--quiet')) console.log(`built ${Object.keys(entryPoints).length} entry points in ${Date.now() - t0} ms`);
