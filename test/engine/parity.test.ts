// The TypeScript engine against PyTorch (models/training/fixture.py wrote the fixture from the
// checkpoint the bundled model was exported from).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineCore, scoreStream } from '../../src/engine/engine';
import { BOS, EOM, PRE, SUF } from '../../src/engine/contract';
import { CmScorer, type MatchIn } from '../../src/engine/cm';
import { NEVER_CANCELLED } from '../../src/engine/decoder';
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
  e.contextMixing = false; // the match model's own linear mixing (the layer before context mixing)
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

/** fixture.py cm_case: the CM layer over a FIM stream of the text twice, anchored at the cursor. */
interface CmCase { stream: number[]; cursor: number; anchor: [number, number, boolean, number] | null; alone: number[][]; probs: number[][]; bits: number[]; bits_total: number }

function cmCase(): CmCase {
  return JSON.parse(readFileSync(path.join(MODEL_DIR, 'fixture.json'), 'utf8')).cm;
}

/** The CM scorer over a case's stream with the match models as the engine runs them at a cursor (the anchor there). */
function caseScorer(e: EngineCore, k: CmCase, disable: readonly string[] = []): CmScorer {
  const mix = e.mixing()!;
  const s = k.stream;
  const suf = s.indexOf(SUF);
  const a = mix.match.anchor(s, k.cursor, suf + 1, s.indexOf(PRE) - suf - 1);
  assert.deepEqual(a ? [a.source, a.evidence, a.twoSided, a.end] : null, k.anchor, 'the anchor at the cursor equals match.py\'s');
  // before the cursor: the plain scan; from it: the candidate's run, anchored (as generation does)
  const views = [mix.match, mix.long].map((m, q) => {
    const out = { pred: new Int32Array(s.length), len: new Int32Array(s.length) };
    m.release(m.scan(s.slice(0, k.cursor), out));
    const run = m.scan(s.slice(0, k.cursor));
    if (q === 0 && a) run.anchorAt(a);
    const v: MatchIn[] = [];
    for (let i = 0; i < s.length; i++) {
      if (i < k.cursor) v.push({ symbol: out.pred[i], len: out.len[i], anchored: false });
      else {
        v.push({ symbol: run.prediction.symbol, len: run.length, anchored: run.isAnchored });
        run.push(s[i]);
      }
    }
    return v;
  });
  return new CmScorer(s, mix.block, (i) => views[0][i], (i) => views[1][i],
    (i) => (views[0][i].anchored && views[0][i].symbol === EOM ? mix.match.lambda(views[0][i].len, true) : 0), disable);
}

test('context-mixing layer alone: its 8 bit probabilities equal cm.py at every position of a FIM stream (exact)', async () => {
  const k = cmCase();
  assert.ok(k, 'the fixture has the cm case (fixture.py with a manifest that has context_mixing)');
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const sc = caseScorer(e, k);
  let bytes = 0;
  for (let i = 0; i < k.stream.length; i++) {
    sc.step(i);
    if (k.stream[i] >= 256) continue;
    bytes++;
    assert.deepEqual([...sc.probs], k.alone[i], `position ${i}`);
  }
  assert.ok(bytes > 1000);
  await e.dispose();
});

test('context-mixing layer with the network: bits equal PyTorch + cm.py (p_net rounded to 12 bits: at most 1 % of bit probabilities differ, no byte by 0.05 bits)', async () => {
  const k = cmCase();
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const sc = caseScorer(e, k);
  const s = Uint16Array.from(k.stream);
  let differ = 0;
  let total = 0;
  let worst = 0;
  let sum = 0;
  await scoreStream(e.rt, s, 1, (pos, b) => {
    sum += b;
    worst = Math.max(worst, Math.abs(b - k.bits[pos]));
    if (s[pos] >= 256) return;
    for (let j = 0; j < 8; j++) {
      total++;
      if (sc.probs[j] !== k.probs[pos][j]) differ++;
    }
  }, NEVER_CANCELLED, undefined, e.matcher(), sc);
  assert.ok(differ <= total / 100, `${differ} of ${total} bit probabilities differ`);
  assert.ok(worst < 0.05, `max |bits - python| = ${worst}`);
  assert.ok(Math.abs(sum - k.bits_total) < 0.5, `total ${sum} vs python ${k.bits_total}`);
  await e.dispose();
});
