// npm test: every tier in order, each timed; stops at the first failing tier.
//   1. types and lint   2. engine (node --test)   3. recipe (pytest)   4. extension in a real VS Code
//   5. the packaged vsix installed into that VS Code
// MEGABYTE_SKIP_TIERS=extension (comma list) skips tiers, for quick local runs only.
// The engine tier includes the WebGPU tests (test/engine/webgpu.test.ts): without a WebGPU adapter
// they skip and say why; MEGABYTE_REQUIRE_WEBGPU=1 (.ci/run, once it installed lavapipe) fails them instead.
// Tier names as arguments run only those tiers (`npm run test:engine` is `build engine`: the
// same node --test command as npm test's); --dry-run prints the chosen tiers as JSON instead.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const skip = new Set((process.env.MEGABYTE_SKIP_TIERS ?? '').split(',').filter(Boolean));
const tiers = [
  ['types', 'npx', ['tsc', '--noEmit', '-p', '.']],
  ['lint', 'npx', ['eslint', 'src', 'test']],
  ['build', 'node', ['scripts/build.mjs']],
  ['engine', 'node', ['--test', '--test-concurrency=1', 'dist/test/unit/', 'dist/test/engine/']],
  ['python', 'node', ['scripts/python.mjs', '-m', 'pytest', '-q', 'models/training/tests']],
  ['extension', 'node', ['test/e2e/run.mjs']],
  // The packaged vsix installed into that VS Code as a user installs it: loads its own model, shows ghost text.
  ['vsix', 'node', ['test/e2e/vsix.mjs']],
];
const argv = process.argv.slice(2);
const dryRun = argv.includes('--dry-run');
const only = argv.filter((a) => a !== '--dry-run');
const unknown = only.filter((a) => !tiers.some(([name]) => name === a));
if (unknown.length) {
  console.error(`unknown tier ${unknown.join(', ')}; tiers: ${tiers.map(([name]) => name).join(', ')}`);
  process.exit(2);
}
const chosen = only.length ? tiers.filter(([name]) => only.includes(name)) : tiers;
if (dryRun) {
  console.log(JSON.stringify(chosen));
  process.exit(0);
}
const times = {};
for (const [name, cmd, args] of chosen) {
  if (skip.has(name)) {
    console.log(`\n=== ${name}: skipped (MEGABYTE_SKIP_TIERS)`);
    continue;
  }
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  times[name] = +((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.log(`\n=== ${name} failed (exit ${r.status}) after ${times[name]} s`);
    console.log(JSON.stringify({ tiers: times, failed: name }));
    process.exit(r.status || 1);
  }
}
console.log(JSON.stringify({ tiers: times, failed: null }));
