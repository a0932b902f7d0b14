// What the editor offers of an engine answer (src/extension/offer.ts): while typing the
// candidates' confident parts (`shown`), on an explicit ask every candidate's `offered` text, each
// list without blanks or repeats and in the engine's order (the most confident first).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Candidate, CompleteResult } from '../../src/engine/api';
import { describeShown, textsOf } from '../../src/extension/offer';

function cand(offered: string, shown: string, confidence?: number): Candidate {
  return { text: `${offered}\n\n`, bits: [], stoppedBy: 'block', copyLen: [], offered, shown, confidence, shownConfidence: shown ? confidence : undefined };
}

const result = (candidates: Candidate[], calibrated = true, threshold = 0.6): Pick<CompleteResult, 'candidates' | 'confidence'> =>
  ({ candidates, confidence: { calibrated, threshold } });

test('typing offers the confident parts, an explicit ask every offered text, in the engine\'s order', () => {
  const r = result([
    cand('return a * b', 'return a * b', 0.9),
    cand('return a + b\n    pass', 'return a + b', 0.7), // cut to its first line
    cand('return math.pi * radius', '', 0.2), // held back
    cand('', '', 0), // nothing left after post-processing
  ]);
  assert.deepEqual(textsOf(r, false), {
    texts: ['return a * b', 'return a + b'],
    offered: ['return a * b', 'return a + b\n    pass', 'return math.pi * radius'],
  });
  assert.deepEqual(textsOf(r, true).texts, ['return a * b', 'return a + b\n    pass', 'return math.pi * radius'], 'an explicit ask shows the held-back one too');
  assert.equal(describeShown(r), '2 shown (1 cut), 1 held back at confidence 0.6');
});

test('equal texts are offered once (the first kept); all held back offers nothing while typing', () => {
  const r = result([cand('x = 1', '', 0.3), cand('x = 1', '', 0.3), cand('y = 2', '', 0.1)]);
  assert.deepEqual(textsOf(r, false), { texts: [], offered: ['x = 1', 'y = 2'] });
  assert.deepEqual(textsOf(r, true).texts, ['x = 1', 'y = 2']);
  assert.equal(describeShown(r), '0 shown, 3 held back at confidence 0.6');
});

test('without a calibration shown is offered: the same texts either way', () => {
  const r = result([cand('foo()', 'foo()'), cand('bar()', 'bar()')], false, 0);
  assert.deepEqual(textsOf(r, false).texts, textsOf(r, true).texts);
  assert.equal(describeShown(r), '2 shown, 0 held back uncalibrated');
});
