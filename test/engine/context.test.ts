// Workspace context and the near window, on the bundled model: what a user notices is that a name
// defined in another file of the project is completed, and that a file just opened gets a
// suggestion before its whole prefix is encoded.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BOS, PRE, SUF } from '../../src/engine/contract';
import { NEVER_CANCELLED } from '../../src/engine/decoder';
import { WorkspaceContext, folderContext, folderCrossIndex } from '../../src/engine/context';
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

/** util.ts with the name to complete far down, past a small stream budget: 2 KB of other code first. */
function farUtil(): string {
  let head = '// Helpers of the upload pipeline.\n';
  for (let i = 0; Buffer.byteLength(head) < 2048; i++) head += `export function part${i}Size(n: number): number {\n  return n * ${i + 3} + ${i};\n}\n\n`;
  return head + UTIL;
}

test('through WorkspaceContext, a name defined in another file beyond the stream budget is completed from the match models\' index', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'megabyte-xidx-'));
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  try {
    mkdirSync(path.join(dir, 'src'));
    const util = path.join(dir, 'src', 'util.ts');
    writeFileSync(util, farUtil());
    const file = path.join(dir, 'src', 'main.ts');
    writeFileSync(file, MAIN);
    const uri = pathToFileURL(file).href;
    const logs: string[] = [];
    const ws = new WorkspaceContext(async () => undefined, (_l, m) => logs.push(m), () => undefined);
    const cfg = { enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 1024, indexBytes: 1_000_000 };
    e.sync(uri, 1, MAIN);
    const fill = async () => (await e.complete(ask(uri, MAIN_CURSOR))).candidates[0].text;

    // the stream alone: util.ts's first 1 KB, without the name
    ws.configure({ ...cfg, indexBytes: 0 }, 512 * 2 ** 20);
    for (let i = 0; i < 200 && !ws.info()?.done; i++) await new Promise((r) => setTimeout(r, 10));
    await ws.assemble(e, uri);
    await ws.crossIndexed();
    const streamOnly = e.contextOf(uri);
    assert.deepEqual(streamOnly.parts.map((p) => path.basename(p.path)), ['util.ts']);
    assert.ok(streamOnly.bytes <= 1024 && Buffer.byteLength(farUtil().slice(0, farUtil().indexOf('crc32OfChunkedUpload'))) > 1024, 'the name is past the stream\'s part of util.ts');
    assert.equal(streamOnly.indexed, undefined, 'no index');
    assert.equal(e.crossIndex as unknown, undefined);
    const alone = await fill();
    assert.doesNotMatch(alone, /^ChunkedUpload/, `the stream's 1 KB of util.ts: ${JSON.stringify(alone)}`);

    // with the index: the same stream, and the whole of util.ts for the match models
    ws.configure(cfg, 512 * 2 ** 20);
    for (let i = 0; i < 200 && !ws.info()?.done; i++) await new Promise((r) => setTimeout(r, 10));
    await ws.assemble(e, uri);
    await ws.crossIndexed();
    const info = e.contextOf(uri);
    assert.deepEqual(info.parts, streamOnly.parts, 'the stream is unchanged');
    assert.deepEqual(info.indexed, { files: 1, bytes: Buffer.byteLength(farUtil()), paths: [util] }, 'the index holds util.ts whole, not main.ts');
    const r = await e.complete(ask(uri, MAIN_CURSOR));
    assert.deepEqual(r.indexed, { files: 1, bytes: Buffer.byteLength(farUtil()) });
    assert.match(r.candidates[0].text, /^ChunkedUpload/, `with the index: ${JSON.stringify(r.candidates[0].text)}`);

    // assembled again with nothing changed: the index is kept, not rebuilt
    const built = e.crossIndex;
    const builds = logs.filter((m) => m.includes('the match models index')).length;
    ws.stale(uri);
    await ws.assemble(e, uri);
    await ws.crossIndexed();
    assert.equal(e.crossIndex, built, 'the same index');
    assert.equal(logs.filter((m) => m.includes('the match models index')).length, builds, 'no rebuild logged');

    // util.ts changed on disk: rebuilt with its new text
    appendFileSync(util, 'export const crc32Seed = 7;\n');
    await ws.filesChanged([util], []);
    await ws.assemble(e, uri);
    await ws.crossIndexed();
    assert.notEqual(e.crossIndex, built, 'rebuilt');
    assert.equal(e.contextOf(uri).indexed?.bytes, Buffer.byteLength(farUtil()) + 28);

    // the CLIs' index (folderCrossIndex) is the worker's
    const cli = await folderCrossIndex(file, MAIN, dir, 1_000_000);
    assert.deepEqual(cli?.text, e.crossIndex?.text);
    assert.deepEqual(cli?.files, e.crossIndex?.files);
  } finally {
    await e.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
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
