// A line of `npm run complete -- --jobs FILE.jsonl` (src/cli/jobs.ts): its options over the
// command line's, every key checked, a bad line an error that names the line.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkOffset, JobError, parseJobLine, type CompleteOptions } from '../../src/cli/jobs';

const DEFAULTS: CompleteOptions = {
  candidates: 1, maxBytes: 128, temperature: 0, topP: 0.95, seed: 1, stop: 'block', timeMs: 60000, useSuffix: true, minConfidence: undefined,
};

const bad = (line: number, re: RegExp) => (e: unknown) => e instanceof JobError && e.line === line && e.message.startsWith(`line ${line}: `) && re.test(e.message);

test('a line\'s keys override the defaults; what it leaves out stays', () => {
  const job = parseJobLine('{"file": "a.py", "offset": 12, "candidates": 3, "max_bytes": 64, "stop": "line", "temperature": 0.5, "no_suffix": true, "min_confidence": 0.4}', 7, DEFAULTS);
  assert.deepEqual(job, {
    line: 7, file: 'a.py', offset: 12,
    options: { ...DEFAULTS, candidates: 3, maxBytes: 64, stop: 'line', temperature: 0.5, useSuffix: false, minConfidence: 0.4 },
  });
  const plain = parseJobLine('{"file": "b.py"}', 1, { ...DEFAULTS, minConfidence: 0.7 });
  assert.deepEqual(plain, { line: 1, file: 'b.py', offset: undefined, options: { ...DEFAULTS, minConfidence: 0.7 } }, 'no offset: the end of the file');
  assert.equal(parseJobLine('{"file": "b.py", "min_confidence": null}', 1, { ...DEFAULTS, minConfidence: 0.7 })?.options.minConfidence, undefined, 'null: the model\'s default');
  assert.equal(parseJobLine('{"file": "b.py", "min_confidence": 0}', 1, DEFAULTS)?.options.minConfidence, 0, '0 is 0 (everything), not the default');
  assert.equal(parseJobLine('   ', 3, DEFAULTS), undefined, 'a blank line is skipped');
});

test('a bad line is an error naming its line and what is wrong', () => {
  assert.throws(() => parseJobLine('{"file": ', 4, DEFAULTS), bad(4, /not JSON/));
  assert.throws(() => parseJobLine('["a.py", 3]', 5, DEFAULTS), bad(5, /must be a JSON object/));
  assert.throws(() => parseJobLine('{"offset": 3}', 6, DEFAULTS), bad(6, /file must be the path/));
  assert.throws(() => parseJobLine('{"file": ""}', 6, DEFAULTS), bad(6, /file must be the path/));
  assert.throws(() => parseJobLine('{"file": "a", "ofset": 3}', 8, DEFAULTS), bad(8, /unknown key "ofset"; known keys: file, offset, /));
  assert.throws(() => parseJobLine('{"file": "a", "offset": -1}', 9, DEFAULTS), bad(9, /offset must be an integer/));
  assert.throws(() => parseJobLine('{"file": "a", "offset": "12"}', 9, DEFAULTS), bad(9, /offset must be an integer/));
  assert.throws(() => parseJobLine('{"file": "a", "candidates": 17}', 10, DEFAULTS), bad(10, /candidates must be an integer in 1\.\.16, got 17/));
  assert.throws(() => parseJobLine('{"file": "a", "max_bytes": 2.5}', 10, DEFAULTS), bad(10, /max_bytes must be an integer/));
  assert.throws(() => parseJobLine('{"file": "a", "stop": "para"}', 11, DEFAULTS), bad(11, /stop must be one of line, block, budget/));
  assert.throws(() => parseJobLine('{"file": "a", "temperature": "hot"}', 12, DEFAULTS), bad(12, /temperature must be a number/));
  assert.throws(() => parseJobLine('{"file": "a", "no_suffix": 1}', 13, DEFAULTS), bad(13, /no_suffix must be true or false/));
  assert.throws(() => parseJobLine('{"file": "a", "min_confidence": 1.5}', 14, DEFAULTS), bad(14, /min_confidence must be a number in 0\.\.1/));
});

test('the offset is checked against the document: within it, not inside a UTF-8 character', () => {
  const bytes = Buffer.from('a = "é"\n');
  assert.equal(checkOffset(bytes, undefined, 'x.py'), bytes.length);
  assert.equal(checkOffset(bytes, 0, 'x.py'), 0);
  assert.equal(checkOffset(bytes, bytes.length, 'x.py'), bytes.length);
  assert.throws(() => checkOffset(bytes, bytes.length + 1, 'x.py'), /offset 10 is past the end of x\.py \(9 bytes\)/);
  assert.throws(() => checkOffset(bytes, 6, 'x.py'), /offset 6 is inside a UTF-8 character of x\.py/);
});
