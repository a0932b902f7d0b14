// package.json `contributes` and the code say the same: every command id and title is the
// extension's command table (src/extension/contributes.ts, which commands.ts registers), every
// setting's type, default, bounds and choices are the typed config's (config.ts clamps by the same
// table). And what ships is one list: scripts/package.mjs stages exactly .vscodeignore's whitelist.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Module from 'node:module';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/cli/args';
import { COMMAND_CATEGORY, COMMAND_TITLES, SETTINGS, type NullableNumberSetting, type Setting } from '../../src/extension/contributes';

const isNullableNumber = (s: Setting): s is NullableNumberSetting => Array.isArray(s.type);

const ROOT = repoRoot();
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

interface PkgProperty { type: string | string[]; default: unknown; minimum?: number; maximum?: number; enum?: string[]; items?: { type: string; enum?: string[] } }

test('package.json commands are the command table, ids and titles', () => {
  const declared = (pkg.contributes.commands as { command: string; title: string; category: string }[]);
  assert.deepEqual(declared.map((c) => [c.command, c.title]), Object.entries(COMMAND_TITLES));
  for (const c of declared) assert.equal(c.category, COMMAND_CATEGORY, c.command);
  // Menus may only name commands that exist.
  for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, { command: string }[]>)) {
    for (const i of items) assert.ok(i.command in COMMAND_TITLES, `menu ${menu} names ${i.command}`);
  }
});

test('package.json settings are the typed config\'s: type, default, minimum, maximum, choices', () => {
  const props: Record<string, PkgProperty> = Object.assign({}, ...(pkg.contributes.configuration as { properties: Record<string, PkgProperty> }[]).map((c) => c.properties));
  assert.deepEqual(Object.keys(props).sort(), Object.keys(SETTINGS).sort(), 'the same settings');
  for (const [id, s] of Object.entries(SETTINGS) as [string, Setting][]) {
    const p = props[id];
    assert.deepEqual(p.type, s.type, `${id} type`);
    assert.deepEqual(p.default, s.default, `${id} default`);
    if (isNullableNumber(s)) {
      // a number or null: null the default, the number bounded
      assert.equal(p.minimum, s.minimum, `${id} minimum`);
      assert.equal(p.maximum, s.maximum, `${id} maximum`);
      assert.equal(s.default, null, `${id} defaults to null`);
    } else if (s.type === 'integer' || s.type === 'number') {
      assert.equal(p.minimum, s.minimum, `${id} minimum`);
      assert.equal(p.maximum, s.maximum, `${id} maximum`);
      assert.ok(s.minimum <= s.default && s.default <= s.maximum, `${id} default within bounds`);
    } else {
      assert.equal(p.minimum, undefined, `${id} has no minimum`);
      assert.equal(p.maximum, undefined, `${id} has no maximum`);
    }
    assert.deepEqual(p.enum, s.type === 'string' ? s.enum : undefined, `${id} enum`);
    if (s.type === 'array') assert.deepEqual(p.items?.enum, s.itemEnum, `${id} item enum`);
  }
});

test('config.ts clamps by the table', async () => {
  // config.ts imports vscode only for types and its default workspace; give it a stub module.
  const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
  const load = M._load;
  M._load = (req: string, ...rest: unknown[]) => (req === 'vscode' ? { workspace: {} } : load(req, ...rest));
  try {
    const { Config, clampSetting, clampNullableSetting } = await import('../../src/extension/config');
    const values: Record<string, unknown> = { debounceMs: -5, maxBytes: 1e9, candidates: 2.6, temperature: 'hot', stopRule: 'paragraph', matchModel: 'no', memoryBudgetMB: 1 };
    const cfg = new Config({ getConfiguration: () => ({ get: (k: string) => values[k] }) } as never);
    const c = cfg.completion();
    assert.equal(c.debounceMs, SETTINGS['megabyte.completion.debounceMs'].minimum);
    assert.equal(c.maxBytes, SETTINGS['megabyte.completion.maxBytes'].maximum);
    assert.equal(c.candidates, 3);
    assert.equal(c.temperature, SETTINGS['megabyte.completion.temperature'].default);
    assert.equal(c.stopRule, SETTINGS['megabyte.completion.stopRule'].default);
    const e = cfg.engineOptions();
    assert.equal(e.matchModel, SETTINGS['megabyte.performance.matchModel'].default);
    assert.equal(e.memoryBudgetBytes, SETTINGS['megabyte.performance.memoryBudgetMB'].minimum * 2 ** 20);
    assert.deepEqual(e.executionProviders, [...SETTINGS['megabyte.performance.executionProviders'].default]);
    assert.equal(clampSetting('megabyte.completion.temperature', 0.35), 0.35, 'a number setting is not rounded');
    // megabyte.completion.minConfidence: null, unset or not a number is the model's default (undefined), a number is clamped to 0..1
    assert.equal(c.minConfidence, undefined, 'unset: the model decides');
    const id = 'megabyte.completion.minConfidence';
    assert.equal(clampNullableSetting(id, null), undefined);
    assert.equal(clampNullableSetting(id, 'high'), undefined);
    assert.equal(clampNullableSetting(id, 0), 0, '0 stays 0 (show everything), not the default');
    assert.equal(clampNullableSetting(id, 0.42), 0.42);
    assert.equal(clampNullableSetting(id, 7), SETTINGS[id].maximum);
    assert.equal(clampNullableSetting(id, -1), SETTINGS[id].minimum);
    values.minConfidence = 0.25;
    assert.equal(cfg.completion().minConfidence, 0.25, 'read from megabyte.completion.minConfidence');
  } finally {
    M._load = load;
  }
});

test('megabyte.context.indexBytes reaches the worker\'s configuration; untrusted, off or both budgets 0 is no workspace', async () => {
  const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
  const load = M._load;
  M._load = (req: string, ...rest: unknown[]) => (req === 'vscode' ? { workspace: {} } : load(req, ...rest));
  try {
    const { Config } = await import('../../src/extension/config');
    const { WORKSPACE_OFF } = await import('../../src/engine/api');
    const values: Record<string, unknown> = {};
    const cfg = new Config({ getConfiguration: () => ({ get: (k: string) => values[k] }) } as never);
    const folders = [{ uri: { scheme: 'file', fsPath: '/w' } }] as never;
    assert.equal(cfg.workspaceContext(folders, true).indexBytes, SETTINGS['megabyte.context.indexBytes'].default, 'the default');
    values.indexBytes = 1e12;
    assert.equal(cfg.workspaceContext(folders, true).indexBytes, SETTINGS['megabyte.context.indexBytes'].maximum, 'clamped');
    values.workspaceBytes = 0;
    values.indexBytes = 100_000;
    const only = cfg.workspaceContext(folders, true);
    assert.deepEqual([only.enabled, only.budgetBytes, only.indexBytes], [true, 0, 100_000], 'the index alone, without other files in the stream');
    assert.deepEqual(cfg.workspaceContext(folders, false), WORKSPACE_OFF, 'restricted mode: the file alone');
    values.indexBytes = 0;
    assert.deepEqual(cfg.workspaceContext(folders, true), WORKSPACE_OFF, 'both budgets 0');
    values.indexBytes = 100_000;
    values.workspace = false;
    assert.deepEqual(cfg.workspaceContext(folders, true), WORKSPACE_OFF, 'megabyte.context.workspace off');
  } finally {
    M._load = load;
  }
});

test('scripts/package.mjs stages exactly the .vscodeignore whitelist', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs'), '--list'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  const staged: string[] = JSON.parse(r.stdout);
  for (const f of ['package.json', 'README.md', 'dist/extension.js', 'dist/worker.js', 'models/mb-small/manifest.json', 'models/mb-small/level0.onnx', 'bin/napi-v6/linux/x64/onnxruntime_binding.node']) {
    assert.ok(staged.includes(f), `${f} ships`);
  }
  for (const f of staged) assert.ok(!/fixture\.json$|\.map$|^src\/|^test\//.test(f), `${f} should not ship`);
  const script = readFileSync(path.join(ROOT, 'scripts', 'package.mjs'), 'utf8');
  assert.match(script, /\.vscodeignore/, 'package.mjs reads .vscodeignore');
  for (const f of staged.filter((x) => !x.startsWith('bin/') && x !== 'package.json')) assert.ok(!script.includes(`'${f}'`), `package.mjs names ${f} itself: a second list`);
});
