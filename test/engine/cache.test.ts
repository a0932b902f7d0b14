// The per-document global KV cache: rewinding after an edit, typing at the cursor, the budget.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { CompleteRequest } from '../../src/engine/api';
import { EngineCore } from '../../src/engine/engine';
import { longText, MODEL_DIR } from './helpers';

const req = (version: number, offset: number, extra: Partial<CompleteRequest> = {}): CompleteRequest => ({
  uri: 'doc', version, offset, candidates: 3, maxBytes: 24, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 60000, ...extra,
});

function sameCandidates(a: { text: string; bits: number[] }[], b: { text: string; bits: number[] }[]): void {
  assert.deepEqual(a.map((c) => c.text), b.map((c) => c.text));
  a.forEach((c, i) => c.bits.forEach((x, j) => assert.ok(Math.abs(x - b[i].bits[j]) < 1e-3, `bits differ at ${i}:${j}`)));
}

test('an edit in the middle rewinds the cache and predicts exactly what encoding from scratch predicts', async () => {
  const text = longText(20_000);
  const cached = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  cached.sync('doc', 1, text);
  await cached.complete(req(1, text.length));
  const edited = text.slice(0, 7000) + 'const inserted = 42;\n' + text.slice(7000);
  cached.sync('doc', 2, edited);
  const before = cached.work('doc').positionsRun;
  const a = await cached.complete(req(2, edited.length));
  const rerun = cached.work('doc').positionsRun - before;
  const fresh = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  fresh.sync('doc', 1, edited);
  const b = await fresh.complete(req(1, edited.length));
  sameCandidates(a.candidates, b.candidates);
  // Only the patches from the one holding byte 7000 onwards are encoded again.
  const U0 = cached.rt.unit(0);
  const total = fresh.work('doc').positionsRun;
  const editByte = Buffer.byteLength(text.slice(0, 7000));
  // position k reads patch k-1 of the stream (BOS + bytes): positions 0..floor((1+e)/U0) survive
  assert.equal(rerun, total - (Math.floor((1 + editByte) / U0) + 1), `re-encoded ${rerun} of ${total} positions`);
  await cached.dispose();
  await fresh.dispose();
});

test('typing at the cursor with text after it (fill-in-the-middle) keeps the cache and matches a fresh engine', async () => {
  const text = longText(12_000);
  const cursor = 9000;
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  let doc = text;
  e.sync('doc', 1, doc);
  await e.complete(req(1, cursor));
  let c = cursor;
  for (const [v, ch] of [[2, 'x'], [3, 'y'], [4, '\n']] as const) {
    doc = doc.slice(0, c) + ch + doc.slice(c);
    c++;
    e.sync('doc', v, doc);
    const before = e.work('doc').positionsRun;
    await e.complete(req(v, c));
    assert.ok(e.work('doc').positionsRun - before <= 1, 'a keystroke at the cursor costs at most one global step');
  }
  const last = await e.complete(req(4, c));
  const fresh = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  fresh.sync('doc', 1, doc);
  // (a fresh engine picks the same far/near split: the cursor moved less than the near window)
  const b = await fresh.complete(req(1, c));
  sameCandidates(last.candidates, b.candidates);
  await e.dispose();
  await fresh.dispose();
});

test('a stale version is rejected and an out-of-range offset is a validation error', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  e.sync('doc', 3, 'hello');
  await assert.rejects(e.complete(req(2, 1)), /stale/);
  await assert.rejects(e.complete(req(3, 99)), /outside the document/);
  await assert.rejects(e.complete(req(3, 1, { candidates: -1 })), /candidates/);
  await assert.rejects(e.complete({ ...req(3, 1), uri: 'nope' }), /unknown document/);
  await e.dispose();
});

test('documents share the memory budget: the least recently used cache is dropped first', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], memoryBudgetBytes: 1 });
  const text = longText(8000);
  e.sync('a', 1, text);
  e.sync('b', 1, text);
  await e.complete({ ...req(1, text.length), uri: 'a', candidates: 1, maxBytes: 4 });
  const one = e.cacheBytes();
  await e.complete({ ...req(1, text.length), uri: 'b', candidates: 1, maxBytes: 4 });
  assert.ok(e.cacheBytes() <= one * 1.01, 'only the most recent document keeps its cache');
  await e.dispose();
});

test('edits (VS Code contentChanges) give the same text, cache reuse and predictions as a full sync', async () => {
  const text = longText(20_000);
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  e.sync('doc', 1, text);
  await e.complete(req(1, text.length));
  // Two edits in one message, applied in order (the engine takes sequences; the extension sends
  // single-change events): a replacement and an insertion.
  const step1 = text.slice(0, 12_000) + 'let y = 7;' + text.slice(12_004);
  const edited = step1.slice(0, 15_000) + 'é€\n' + step1.slice(15_000);
  assert.equal(e.edit('doc', 1, 2, [{ offset: 12_000, length: 4, text: 'let y = 7;' }, { offset: 15_000, length: 0, text: 'é€\n' }], edited.length), true);
  const before = e.work('doc').positionsRun;
  const a = await e.complete(req(2, edited.length));
  const rerun = e.work('doc').positionsRun - before;
  const fresh = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  fresh.sync('doc', 1, edited);
  const b = await fresh.complete(req(1, edited.length));
  sameCandidates(a.candidates, b.candidates);
  assert.ok(rerun < fresh.work('doc').positionsRun / 2, `an edit at 60% re-encoded ${rerun} of ${fresh.work('doc').positionsRun} positions`);

  // An edit against a version the engine does not hold, out of range, or of the wrong resulting
  // length is refused, and the document answers nothing until its full text comes again.
  assert.equal(e.edit('doc', 1, 3, [{ offset: 0, length: 0, text: 'x' }], edited.length + 1), false);
  await assert.rejects(e.complete(req(2, 10)), /stale/);
  await assert.rejects(e.complete(req(3, 10)), /stale/);
  e.sync('doc', 3, edited);
  assert.equal(e.edit('doc', 3, 4, [{ offset: edited.length, length: 1, text: '' }], edited.length - 1), false, 'out of range');
  e.sync('doc', 4, edited);
  assert.equal(e.edit('doc', 4, 5, [{ offset: 0, length: 0, text: 'ab' }], edited.length + 1), false, 'length disagrees');
  e.sync('doc', 5, edited);
  const before2 = e.work('doc').positionsRun;
  const c = await e.complete(req(5, edited.length));
  assert.equal(e.work('doc').positionsRun - before2, 0, 'a refused edit keeps the cache: the same text re-synced encodes nothing');
  sameCandidates(c.candidates, b.candidates);
  assert.equal(e.edit('nope', 1, 2, [], 0), false, 'an unknown document');
  await e.dispose();
  await fresh.dispose();
});
