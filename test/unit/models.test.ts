// Finding models on disk (against a temp directory of fake manifests) and choosing one by name.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { formatBytes, listModels, readModel, resolveModel, sameDir, type ModelEntry } from '../../src/extension/models';

function fixture(): { root: string; done: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'megabyte-models-'));
  const put = (rel: string, content: string | Buffer) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  };
  // zeta: a manifest with recorded sizes and an evaluation
  put('zeta/manifest.json', JSON.stringify({ name: 'Zeta', description: 'big one', files: [{ path: 'a.onnx', bytes: 1000 }, { path: 'b.onnx', bytes: 24 }], evaluation: { heldout_bpb: 1.25 } }));
  // alpha: no name (the directory names it), file sizes stat'ed
  put('alpha/manifest.json', JSON.stringify({ files: [{ path: 'm.onnx' }] }));
  put('alpha/m.onnx', Buffer.alloc(300));
  // beta: no files listed: the directory's files are counted; a blank name falls back too
  put('beta/manifest.json', JSON.stringify({ name: '  ', evaluation: { heldout_bpb: 'n/a' } }));
  put('beta/x.bin', Buffer.alloc(50));
  // not models: broken JSON, a JSON array, no manifest, a skipped directory
  put('broken/manifest.json', '{ nope');
  put('array/manifest.json', '[1, 2]');
  put('empty/readme.txt', 'hi');
  put('training/manifest.json', JSON.stringify({ name: 'should be skipped' }));
  // a manifest listing a missing file: the size is unknown, the model still listed
  put('gamma/manifest.json', JSON.stringify({ name: 'gamma', files: [{ path: 'missing.onnx' }] }));
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
}

test('listModels finds each subfolder with a manifest, sorted by name, skipping broken ones and skip-listed folders', async () => {
  const { root, done } = fixture();
  try {
    const models = await listModels([{ dir: root, source: 'bundled', skip: ['training'] }]);
    assert.deepEqual(models.map((m) => m.name), ['alpha', 'beta', 'gamma', 'Zeta']);
    const byName = new Map(models.map((m) => [m.name, m]));
    assert.deepEqual(byName.get('Zeta'), { dir: path.join(root, 'zeta'), name: 'Zeta', description: 'big one', sizeBytes: 1024, heldoutBpb: 1.25, source: 'bundled' });
    assert.equal(byName.get('alpha')!.sizeBytes, 300);
    assert.equal(byName.get('beta')!.heldoutBpb, undefined);
    assert.ok(byName.get('beta')!.sizeBytes! > 50, 'the manifest and x.bin are counted');
    assert.equal(byName.get('gamma')!.sizeBytes, undefined);
  } finally {
    done();
  }
});

test('listModels takes a root that is itself a model, and a missing root holds none', async () => {
  const { root, done } = fixture();
  try {
    const models = await listModels([
      { dir: path.join(root, 'zeta'), source: 'user' },
      { dir: path.join(root, 'does-not-exist'), source: 'user' },
    ]);
    assert.deepEqual(models.map((m) => [m.name, m.source]), [['Zeta', 'user']]);
  } finally {
    done();
  }
});

test('readModel returns undefined for a folder without a readable JSON object manifest', async () => {
  const { root, done } = fixture();
  try {
    for (const dir of ['broken', 'array', 'empty', 'nowhere']) assert.equal(await readModel(path.join(root, dir), 'user'), undefined, dir);
  } finally {
    done();
  }
});

const entry = (name: string, dir: string, source: ModelEntry['source']): ModelEntry => ({ dir, name, source });

test('resolveModel prefers the user folder by manifest name, then matches directory names', () => {
  const entries = [
    entry('tiny', '/bundled/tiny-dir', 'bundled'),
    entry('small', '/bundled/small', 'bundled'),
    entry('tiny', '/home/u/models/mine', 'user'),
  ];
  assert.equal(resolveModel(entries, 'tiny')!.dir, '/home/u/models/mine');
  assert.equal(resolveModel(entries, '  small ')!.dir, '/bundled/small');
  assert.equal(resolveModel(entries, 'tiny-dir')!.dir, '/bundled/tiny-dir');
  assert.equal(resolveModel(entries, 'absent'), undefined);
});

test('resolveModel with an empty name picks the first bundled model, else the first user model', () => {
  assert.equal(resolveModel([entry('u', '/u', 'user'), entry('b', '/b', 'bundled')], '')!.name, 'b');
  assert.equal(resolveModel([entry('u', '/u', 'user')], ' ')!.name, 'u');
  assert.equal(resolveModel([], ''), undefined);
});

test('sameDir compares resolved paths and is false when either is missing', () => {
  assert.equal(sameDir('/a/b/../c', '/a/c/'), true);
  assert.equal(sameDir('/a/c', '/a/d'), false);
  assert.equal(sameDir(undefined, '/a'), false);
  assert.equal(sameDir('/a', undefined), false);
});

test('formatBytes uses binary units, one decimal below 100 and none above', () => {
  const cases: [number | undefined, string][] = [
    [undefined, '? B'], [0, '0 B'], [1023, '1023 B'], [1024, '1.0 KB'], [1536, '1.5 KB'],
    [150 * 1024, '150 KB'], [5 * 1024 ** 2, '5.0 MB'], [3 * 1024 ** 3, '3.0 GB'], [2048 * 1024 ** 3, '2048 GB'],
  ];
  for (const [n, s] of cases) assert.equal(formatBytes(n), s, String(n));
});
