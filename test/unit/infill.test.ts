// The infilling benchmark's similarity: 1 - Levenshtein distance / the longer length.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { similarity } from '../../src/bench/stats';

test('similarity is 1 for equal strings, 0 with nothing in common, and counts edits over the longer length', () => {
  assert.equal(similarity('return x', 'return x'), 1);
  assert.equal(similarity('', ''), 1);
  assert.equal(similarity('', 'ab'), 0);
  assert.equal(similarity('abc', 'xyz'), 0);
  assert.equal(similarity('abc', 'abd'), 1 - 1 / 3);
  assert.equal(similarity('kitten', 'sitting'), 1 - 3 / 7);
  assert.equal(similarity('abc', 'ab'), similarity('ab', 'abc'));
});
