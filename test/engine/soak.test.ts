// Long sessions (issue 7), short: the soak of src/bench/soak.ts (npm run soak runs 10,000
// keystrokes) with 400 keystrokes on the real worker and the bundled model, and the same harness
// made to behave like a buggy extension, to show that its checks catch what they claim to.
// (Its own file: the engine runs in workers here, see worker.test.ts.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { sameCompletion, soak, validCandidate } from '../../src/bench/soak';
import { MODEL_DIR } from './helpers';

const log = process.env.SOAK_VERBOSE ? (line: string) => process.stderr.write(`[soak] ${line}\n`) : undefined;

test('400 keystrokes with edits, jumps and cancellations on a 200 KB document: only current versions are shown', async () => {
  const r = await soak({ modelDir: MODEL_DIR, keystrokes: 400, seed: 7, docBytes: 200 * 1024, verifyEvery: 200, progress: log });
  const summary = JSON.stringify(r);
  assert.equal(r.keystrokes, 400, summary);
  assert.ok(r.docBytesStart >= 200 * 1024 - 4, summary);
  assert.equal(r.shownWrongVersion, 0, summary);
  assert.equal(r.shownWrongContext, 0, summary);
  assert.equal(r.invalidCandidates, 0, summary);
  assert.equal(r.unhandledRejections, 0, summary);
  assert.equal(r.errors, 0, summary);
  assert.equal(r.workerRestarts, 0, summary);
  assert.equal(r.workerErrorLogs, 0, summary);
  assert.equal(r.contentMismatch, 0, summary);
  assert.equal(r.verified, 2, summary);
  // The session really was busy: suggestions shown, many cancelled by the next keystroke, edits elsewhere.
  assert.ok(r.completions >= 20, summary);
  assert.ok(r.cancelled + r.stale >= 20, summary);
  assert.ok(r.edits >= 20 && r.jumps >= 1 && r.backspaces >= 5, summary);
  assert.equal(r.finalVersion, 1 + r.keystrokes - r.jumps, summary);
});

test('the checks catch an extension that shows results without cancelling them when the document changes', async () => {
  const r = await soak({ modelDir: MODEL_DIR, keystrokes: 120, seed: 3, docBytes: 16 * 1024, verifyEvery: 0, fault: 'noCancel', progress: log });
  assert.ok(r.shownWrongVersion > 0, JSON.stringify(r));
  assert.equal(r.ok, false);
});

test("the content check catches an engine whose copy of the document is one edit behind", async () => {
  const r = await soak({ modelDir: MODEL_DIR, keystrokes: 120, seed: 3, docBytes: 16 * 1024, verifyEvery: 20, fault: 'lagSync', progress: log });
  assert.ok(r.verified + r.errors >= 1, JSON.stringify(r));
  assert.ok(r.contentMismatch > 0, JSON.stringify(r));
  assert.equal(r.ok, false);
});

test('candidate validity and near-tie comparison', () => {
  const c = (text: string, bits: number[]) => ({ text, bits, stoppedBy: 'budget' as const });
  assert.ok(validCandidate(c('ab', [1, 2]), 16));
  assert.ok(validCandidate(c('é', [1, 2]), 16));
  assert.ok(!validCandidate(c('é', [1]), 16), 'one bit count per byte');
  assert.ok(!validCandidate(c('a\uFFFD', [1, 1, 1, 1]), 16), 'replacement character');
  assert.ok(!validCandidate(c('\ud83c', [1, 1, 1]), 16), 'lone surrogate');
  assert.ok(!validCandidate(c('abc', [1, 1, 1]), 2), 'over the byte budget');
  assert.ok(sameCompletion([c('ab', [1, 2])], [c('ab', [1.001, 2])]));
  assert.ok(!sameCompletion([c('ab', [1, 2])], [c('ab', [1.5, 2])]), 'same text, other bits: another prefix');
  assert.ok(sameCompletion([c('ab', [1, 2])], [c('ac', [1, 2.01])]), 'parting at a near-tie');
  assert.ok(!sameCompletion([c('ab', [1, 2])], [c('ac', [1, 3])]), 'parting without a tie');
  assert.ok(!sameCompletion([c('ab', [1, 2])], [c('ab', [1, 2]), c('x', [1])]));
});
