// npm run test:engine runs the same node --test tier as npm test: the unit tests and the engine
// tests (it used to run dist/test/engine/ alone and skip every unit test).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/cli/args';

const ROOT = repoRoot();
const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;

type Tier = [string, string, string[]];
function tiers(args: string[]): Tier[] {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test-all.mjs'), '--dry-run', ...args], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Tier[];
}

test('npm run test:engine is npm test\'s build and engine tiers, which run the unit and engine tests', () => {
  const m = /^node scripts\/test-all\.mjs ((?:[a-z]+ ?)+)$/.exec(scripts['test:engine']);
  assert.ok(m, `test:engine does not go through scripts/test-all.mjs: ${scripts['test:engine']}`);
  const own = tiers(m[1].trim().split(' '));
  const all = tiers([]);
  assert.deepEqual(own.map((t) => t[0]), ['build', 'engine']);
  for (const t of own) assert.deepEqual(t, all.find((a) => a[0] === t[0]), `${t[0]} differs from npm test's`);
  const nodeTest = own.find((t) => t[2].includes('--test'));
  assert.ok(nodeTest);
  for (const dir of ['dist/test/unit/', 'dist/test/engine/']) assert.ok(nodeTest[2].includes(dir), `${dir} not run`);
  assert.equal(scripts.test, 'node scripts/test-all.mjs');
});

test('an unknown tier is refused', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test-all.mjs'), '--dry-run', 'engin'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown tier engin; tiers: types, lint, build, engine/);
});
