// Confidence (src/engine/confidence.ts) and its evaluation's rules (src/bench/positions.ts): where a
// suggestion may be cut, what is shown at a threshold, when a calibration is refused, what counts
// as right and as characters kept.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  CONFIDENCE_FEATURES, Calibration, confidenceBlockError, confidenceSkew, cutPoints, modelDigest, present, type ConfidenceBlock, type Scored,
} from '../../src/engine/confidence';
import { isRight, keptAndWrong } from '../../src/bench/positions';
import { fitLogistic, withBlock } from '../../src/bench/calibration';

const block = (weights: number[], threshold = 0.5): ConfidenceBlock => ({ kind: 'test', fitted_on: 'x', features: [...CONFIDENCE_FEATURES], weights, threshold });
const w = (f: Partial<Record<(typeof CONFIDENCE_FEATURES)[number], number>>) => CONFIDENCE_FEATURES.map((n) => f[n] ?? 0);
const cand = (text: string, bitsPerByte: number[] | number, stoppedBy: Scored['stoppedBy'] = 'block'): Scored => ({
  text, stoppedBy, bits: Array.isArray(bitsPerByte) ? bitsPerByte : Array.from(Buffer.from(text, 'utf8'), () => bitsPerByte),
});
const ctx = { linePrefix: '    ', suffix: '\nnext()\n', candidates: 1 };

test('cut points: token boundaries on the first line, whole lines after it, never inside a word', () => {
  assert.deepEqual(cutPoints('return foo.bar'), [6, 7, 10, 11, 14]);
  const t = 'if x:\n    y = 1\n    z';
  const pts = cutPoints(t);
  assert.ok(pts.every((k) => k <= 5 || t[k] === '\n' || k === t.length), JSON.stringify(pts));
  assert.ok(pts.includes(t.indexOf('\n', 6)) && pts.includes(t.length));
  assert.deepEqual(cutPoints('a😀b'), [1, 3, 4], 'never between the halves of a surrogate pair');
});

test('present: confident bytes are shown whole, a costly tail is cut at a boundary, and with nothing confident nothing is shown', () => {
  // confidence falls with the prefix's bits: 1 - bits/4 of it before the logistic
  const cal = new Calibration(block(w({ bias: 4, bits: -8 })));
  const sure = present([cand('return value', 0.01)], ctx, cal, 0.5)[0];
  assert.equal(sure.shown, 'return value');
  assert.ok(sure.confidence! > 0.9);
  // cheap "return " then an expensive name: the name goes, "return " stays
  const bits = [...Array(7).fill(0.05), ...Array(5).fill(3)];
  const cut = present([cand('return value', bits)], ctx, cal, 0.5)[0];
  assert.equal(cut.offered, 'return value');
  assert.equal(cut.shown, 'return ');
  assert.ok(cut.shownConfidence! >= 0.5 && cut.confidence! < 0.5);
  const none = present([cand('return value', 3)], ctx, cal, 0.5)[0];
  assert.equal(none.shown, '');
  // threshold 0, or no calibration: everything offered is shown
  assert.equal(present([cand('return value', 3)], ctx, cal, 0)[0].shown, 'return value');
  assert.equal(present([cand('return value', 3)], ctx, undefined, 0.9)[0].shown, 'return value');
});

test('present: fewer than 3 visible characters are never shown under a threshold; the suffix overlap is post-processed away first', () => {
  const cal = new Calibration(block(w({ bias: 10 })));
  assert.equal(present([cand('x)', 0)], ctx, cal, 0.5)[0].shown, '');
  // the candidate repeats the line after the cursor: the post-processing drops it
  const p = present([cand('next()', 0)], { ...ctx, suffix: 'next()\n' }, cal, 0.5)[0];
  assert.equal(p.offered, '');
  assert.equal(p.shown, '');
});

test('a copy from the document (the match model predicted its bytes) scores by its share copied and the context it starts from', () => {
  const cal = new Calibration(block(w({ bias: -2, copied: 1, copy_start: 8 })));
  const text = 'value = 1';
  const copied = (lens: number[]) => present([{ ...cand(text, 0.5), copyLen: lens }], ctx, cal, 0)[0].confidence!;
  const n = Buffer.byteLength(text);
  const long = copied(Array.from({ length: n }, (_, i) => 15 + i)); // a copy after 15 matching symbols
  const short = copied(Array.from({ length: n }, (_, i) => 4 + i));
  const none = copied(Array(n).fill(0));
  const noInfo = present([cand(text, 0.5)], ctx, cal, 0)[0].confidence!; // rows without copyLen: no copies
  assert.ok(long > short && short > none, `${long} > ${short} > ${none}`);
  assert.equal(noInfo, none);
});

test('agreement between candidates raises confidence', () => {
  const cal = new Calibration(block(w({ bias: -1, agree: 3 })));
  const ctx3 = { ...ctx, candidates: 3 };
  const agreeing = present([cand('foo(1)', 1), cand('foo(1)', 1), cand('foo(2)', 1)], ctx3, cal, 0)[0].confidence!;
  const alone = present([cand('foo(1)', 1), cand('bar', 1), cand('baz', 1)], ctx3, cal, 0)[0].confidence!;
  assert.ok(agreeing > alone, `${agreeing} vs ${alone}`);
});

test('a calibration block is checked field by field; the digest changes with the network, the mixing and the generation rule', () => {
  assert.equal(confidenceBlockError(block(w({}))), undefined);
  assert.match(confidenceBlockError({ ...block(w({})), features: 'bias' })!, /features/);
  // other features (another version's fit): well formed, but not used
  assert.equal(confidenceBlockError({ ...block([1]), features: ['bias'] }), undefined);
  assert.match(confidenceSkew({ ...block([1]), features: ['bias'] })!, /features/);
  assert.equal(confidenceSkew(block(w({}))), undefined);
  assert.match(confidenceBlockError({ ...block(w({})), weights: [1, 2] })!, /weights/);
  assert.match(confidenceBlockError({ ...block(w({})), weights: w({ bias: NaN }) })!, /weights/);
  assert.match(confidenceBlockError({ ...block(w({})), threshold: 2 })!, /threshold/);
  assert.match(confidenceBlockError({ ...block(w({})), fitted_on: '' })!, /fitted_on/);
  const m = { files: [{ sha256: 'a' }], match_model: { x: 1 }, context_mixing: { y: 2 } };
  const d = modelDigest(m, 'match');
  assert.equal(modelDigest({ ...m }, 'match'), d);
  assert.notEqual(modelDigest({ ...m, files: [{ sha256: 'b' }] }, 'match'), d);
  assert.notEqual(modelDigest({ ...m, match_model: { x: 2 } }, 'match'), d);
  assert.notEqual(modelDigest(m, 'context-mixing'), d);
});

test('right, kept and wrong characters as a user would count them', () => {
  assert.ok(isRight('return ', 'return x'));
  assert.ok(isRight('foo()\n', 'foo()'));
  assert.ok(!isRight('foo()\nbar', 'foo()'));
  assert.ok(!isRight('', 'x'));
  assert.deepEqual(keptAndWrong('return x + 1', 'return x + 1', cutPoints), { kept: 12, wrong: 0 });
  // wrong after "return x": accept-word keeps "return x", the rest was shown wrong
  assert.deepEqual(keptAndWrong('return xy', 'return x + 1', cutPoints), { kept: 7, wrong: 2 });
});

test('the logistic fit recovers a separable rule and predicts rates near the observed ones', () => {
  const data: { x: number[]; y: number }[] = [];
  for (let i = 0; i < 400; i++) {
    const bits = (i % 40) / 8;
    const y = (i * 7919) % 100 < 100 / (1 + Math.exp(-(3 - 2 * bits))) ? 1 : 0;
    data.push({ x: w({ bias: 1, bits }), y });
  }
  const weights = fitLogistic(data, 0.01);
  const cal = new Calibration(block(weights));
  assert.ok(weights[CONFIDENCE_FEATURES.indexOf('bits')] < -1, JSON.stringify(weights));
  const lo = data.filter((d) => d.x[1] < 1);
  const observed = lo.reduce((a, d) => a + d.y, 0) / lo.length;
  const predicted = lo.reduce((a, d) => a + cal.probability(d.x), 0) / lo.length;
  assert.ok(Math.abs(observed - predicted) < 0.1, `${observed} vs ${predicted}`);
});

test('withBlock: one block per generation rule of this network; a re-fit replaces its rule\'s block, blocks of another network go', () => {
  const m = { files: [{ sha256: 'aa' }], match_model: { lambda: [0.5] } } as unknown as Parameters<typeof withBlock>[0];
  const b = (gen: 'network' | 'match', t: number): ConfidenceBlock => ({ ...block(w({}), t), fitted_on: modelDigest(m, gen) });
  const stale: ConfidenceBlock = { ...block(w({})), fitted_on: 'ffffffffffffffff' };
  assert.deepEqual(withBlock({ ...m, confidence: stale }, b('match', 0.5)), b('match', 0.5));
  const both = withBlock({ ...m, confidence: b('network', 0.6) }, b('match', 0.5));
  assert.deepEqual(both, [b('match', 0.5), b('network', 0.6)]);
  assert.deepEqual(withBlock({ ...m, confidence: both }, b('match', 0.4)), [b('match', 0.4), b('network', 0.6)]);
});
