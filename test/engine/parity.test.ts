// The TypeScript engine against PyTorch (models/training/fixture.py wrote the fixture from the
// checkpoint the bundled model was exported from).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EngineCore } from '../../src/engine/engine';
import { BOS, PRE, SUF } from '../../src/engine/contract';
import { fixture, MODEL_DIR } from './helpers';

test('network alone: bits of every byte equal PyTorch within 1e-3, and bits per byte within 0.001', async () => {
  const fx = fixture();
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], matchModel: false });
  e.sync('f', 1, fx.text.toString('utf8'));
  const r = await e.score({ uri: 'f', version: 1 });
  assert.equal(r.bytes, fx.bits.length);
  let worst = 0;
  for (let i = 0; i < r.bytes; i++) worst = Math.max(worst, Math.abs(r.bits[i] - fx.bits[i]));
  assert.ok(worst < 1e-3, `max |bits - pytorch| = ${worst}`);
  assert.ok(Math.abs(r.bitsPerByte - fx.bpb) < 0.001, `bpb ${r.bitsPerByte} vs python ${fx.bpb}`);
  const w = await e.score({ uri: 'f', version: 1, contextBytes: fx.context });
  assert.ok(Math.abs(w.bitsPerByte - fx.bpbContext) < 0.001, `windowed bpb ${w.bitsPerByte} vs python ${fx.bpbContext}`);
  assert.ok(w.bitsPerByte > r.bitsPerByte, 'a 256-byte window must cost bits against the full file');
  await e.dispose();
});

test('network alone: greedy decoding with the KV caches gives the same 64 bytes as PyTorch re-running the model', async () => {
  const fx = fixture();
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], matchModel: false });
  const text = fx.prompt.toString('utf8');
  e.sync('p', 1, text);
  const r = await e.complete({ uri: 'p', version: 1, offset: text.length, candidates: 1, maxBytes: 64, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 60000, useSuffix: false });
  assert.equal(r.candidates[0].text, fx.greedy.toString('utf8'));
  await e.dispose();
});

test('with the match model: its predictions equal match.py at every position, and the mixture\'s bits equal PyTorch + match.py', async () => {
  const fx = fixture();
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const matcher = e.matcher();
  assert.ok(matcher, 'the bundled manifest has a match_model');
  const stream = [BOS, ...fx.text];
  const out = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
  matcher.release(matcher.scan(stream, out));
  assert.deepEqual([...out.pred], fx.match.pred);
  assert.deepEqual([...out.len], fx.match.len);
  e.sync('f', 1, fx.text.toString('utf8'));
  const r = await e.score({ uri: 'f', version: 1 });
  let worst = 0;
  for (let i = 0; i < r.bytes; i++) worst = Math.max(worst, Math.abs(r.bits[i] - fx.match.bits[i]));
  assert.ok(worst < 1e-3, `max |bits - python| = ${worst}`);
  assert.ok(Math.abs(r.bitsPerByte - fx.match.bpb) < 0.001, `bpb ${r.bitsPerByte} vs python ${fx.match.bpb}`);
  assert.ok(r.bitsPerByte < fx.bpb - 0.05, `the mixture (${r.bitsPerByte}) must beat the network alone (${fx.bpb}) on a text that repeats itself`);
  await e.dispose();
});

test('the match model\'s anchor at the cursor equals match.py\'s, with the suffix and left to right', async () => {
  const fx = fixture();
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const matcher = e.matcher()!;
  const doc = Buffer.concat([fx.text, fx.text]);
  const shape = (a: { source: number; evidence: number; twoSided: boolean; end: number } | undefined) => (a ? [a.source, a.evidence, a.twoSided, a.end] : null);
  let twoSided = 0;
  for (const k of fx.match.anchors) {
    const suffix = [...doc.subarray(k.e, k.e + 2048)];
    const fim = [BOS, SUF, ...suffix, PRE, ...doc.subarray(0, k.c)];
    assert.deepEqual(shape(matcher.anchor(fim, fim.length, 2, suffix.length)), k.fim, `FIM anchor at ${k.c}`);
    const l2r = [BOS, ...doc.subarray(0, k.c)];
    assert.deepEqual(shape(matcher.anchor(l2r, l2r.length, 0, 0)), k.l2r, `left-to-right anchor at ${k.c}`);
    if (k.fim?.[2]) twoSided++;
  }
  assert.ok(twoSided > 5, `the doubled text must give suffix anchors (${twoSided})`);
  await e.dispose();
});
