// Workspace context and the near window, on the bundled model: what a user notices is that a name
// defined in another file of the project is completed, and that a file just opened gets a
// suggestion before its whole prefix is encoded.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BOS, PRE, SUF } from '../../src/engine/contract';
import { NEVER_CANCELLED } from '../../src/engine/decoder';
import { folderContext } from '../../src/engine/context';
import { EngineCore, NEAR_FIRST_MISSING } from '../../src/engine/engine';
import { CrossIndex } from '../../src/engine/crossindex';
import { MODEL_DIR, longText } from './helpers';
import { MAIN, MAIN_CURSOR, UTIL } from '../fixtures/crossfile';

const ask = (uri: string, offset: number, extra: object = {}) => ({
  uri, version: 1, offset, candidates: 1, maxBytes: 48, temperature: 0, topP: 1, stop: 'line' as const, timeBudgetMs: 60_000, ...extra,
});

test('with its workspace context, a completion uses a name defined in another file; alone it cannot', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'megabyte-ctx-'));
  try {
    mkdirSync(path.join(dir, 'src'));
    writeFileSync(path.join(dir, 'src', 'util.ts'), UTIL);
    const file = path.join(dir, 'src', 'main.ts');
    const text = MAIN;
    const cursor = MAIN_CURSOR;
    writeFileSync(file, text);
    const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
    e.sync(file, 1, text);
    const alone = (await e.complete(ask(file, cursor))).candidates[0].text;
    const parts = await folderContext(file, text, dir, 65536);
    assert.deepEqual(parts.map((p) => [path.basename(p.path), p.reason]), [['util.ts', 'import']]);
    assert.equal(e.setContext(file, parts), true, 'the stream changed');
    assert.equal(e.setContext(file, parts), false, 'the same context again changes nothing');
    const r = await e.complete(ask(file, cursor));
    assert.deepEqual(r.context, { files: 1, bytes: Buffer.byteLength(UTIL) });
    assert.equal(r.window, 'full');
    assert.match(r.candidates[0].text, /^ChunkedUpload/, `with util.ts: ${JSON.stringify(r.candidates[0].text)}`);
    assert.doesNotMatch(alone, /^ChunkedUpload/, `alone: ${JSON.stringify(alone)}`);
    assert.deepEqual(e.contextOf(file).parts.map((p) => p.why !== undefined), [true]);
    await e.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with the workspace index alone (nothing in the stream), the match models copy the name from the other file', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const file = '/w/src/main.ts';
  e.sync(file, 1, MAIN);
  const alone = (await e.complete(ask(file, MAIN_CURSOR))).candidates[0].text;
  // the index also holds main.ts's own copy on disk, with the answer typed in: it must not count
  const answered = MAIN.slice(0, MAIN_CURSOR) + 'ToBeLeakedFromDisk(chunks);' + MAIN.slice(MAIN_CURSOR);
  e.setCrossIndex(new CrossIndex([{ path: file, text: answered }, { path: '/w/src/util.ts', text: UTIL }]));
  const r = await e.complete(ask(file, MAIN_CURSOR));
  assert.deepEqual(r.context, { files: 0, bytes: 0 }, 'the stream holds no other file');
  assert.match(r.candidates[0].text, /^ChunkedUpload/, `with the index: ${JSON.stringify(r.candidates[0].text)}`);
  assert.doesNotMatch(alone, /^ChunkedUpload/, `alone: ${JSON.stringify(alone)}`);
  await e.dispose();
});

test('the context comes first in the stream, each file closed by BOS, and the fill-in-the-middle layout follows', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const doc = 'x'.repeat(3000) + '\nmore after';
  e.sync('d', 1, doc);
  e.setContext('d', [{ path: '/a.ts', text: 'AAA' }, { path: '/b.ts', text: 'BB' }]);
  const d = (e as unknown as { docs: Map<string, Parameters<EngineCore['buildStream']>[0]> }).docs.get('d')!;
  const { stream, fim } = e.buildStream(d, 3000, true);
  assert.equal(fim, true);
  const head = [BOS, ...Buffer.from('AAA'), BOS, ...Buffer.from('BB'), BOS];
  assert.deepEqual([...stream.subarray(0, head.length)], head);
  const suf = stream.indexOf(SUF);
  assert.equal(suf % e.rt.unit(0), 0, 'SUF opens a top patch');
  const pre = stream.indexOf(PRE);
  assert.equal(Buffer.from(stream.subarray(suf + 1, pre)).toString(), '\nmore after');
  // the document's prefix: the far part before SUF, the near part after PRE
  assert.equal(stream.length - pre - 1 + (suf - head.length), 3000);
  await e.dispose();
});

test('a file just opened is answered from the text near the cursor; the full context takes over once encoded', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const text = longText(200_000);
  e.sync('big', 1, text);
  const offset = text.length - 500;
  const t0 = performance.now();
  const near = await e.complete(ask('big', offset, { nearFirst: true }));
  const nearMs = performance.now() - t0;
  assert.equal(near.window, 'near');
  assert.ok(near.contextBytes <= 4096 && near.contextBytes > 3000, `near window of ${near.contextBytes} bytes`);
  assert.ok(e.work('big').positionsRun === 0, 'the full stream was not encoded by the request');
  assert.ok(near.candidates[0].text.length > 0, 'the near window still gives a suggestion');
  await e.preEncode('big', offset, NEVER_CANCELLED);
  const t1 = performance.now();
  const full = await e.complete(ask('big', offset, { nearFirst: true }));
  assert.equal(full.window, 'full');
  assert.ok(full.contextBytes > NEAR_FIRST_MISSING, `full context: ${full.contextBytes} bytes`);
  assert.ok(e.work('big').positionsRun > 190_000 / 64, 'the background encoded the whole prefix');
  console.log(JSON.stringify({ near_ms: Math.round(nearMs), full_warm_ms: Math.round(performance.now() - t1) }));
  // without nearFirst (the CLIs, the benchmarks) a request always waits for the full context
  e.sync('big2', 1, text);
  assert.equal((await e.complete(ask('big2', offset))).window, 'full');
  await e.dispose();
});
