// The match model's rule (src/engine/match.ts; its parity with match.py is in test/engine/parity.test.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MatchModel, MatchTrack, matchParamsError, mixRow, mixedBits, type MatchParams } from '../../src/engine/match';
import { readManifest } from '../../src/engine/manifest';
import { VOCAB_SIZE } from '../../src/engine/contract';

const PARAMS: MatchParams = { min_len: 4, table_bits: 12, verify: 64, bounds: [4, 8, 16], lambda: [0.3, 0.6, 0.9] };
const sym = (s: string) => [...Buffer.from(s)];

test('scan predicts what followed the last occurrence of the context, with the match length', () => {
  const m = new MatchModel(PARAMS);
  const s = sym('abcdXabcdY abcd');
  const out = { pred: new Int32Array(s.length), len: new Int32Array(s.length) };
  const run = m.scan(s, out);
  // after the second "abcd" the match points at the first one: it predicts X
  assert.equal(String.fromCharCode(out.pred[9]), 'X');
  assert.equal(out.len[9], 4);
  // after the third "abcd", the most recent occurrence wins: Y is next, and the run says so
  assert.deepEqual(run.prediction, { symbol: 'Y'.charCodeAt(0), lambda: 0.3 });
  // nothing before the first repeat
  assert.ok([...out.pred.subarray(0, 9)].every((p) => p === -1));
  m.release(run);
});

test('a running match grows its length and its weight, and a wrong prediction ends it', () => {
  const m = new MatchModel(PARAMS);
  const s = sym('the quick brown fox; the quick brown cat');
  const out = { pred: new Int32Array(s.length), len: new Int32Array(s.length) };
  m.release(m.scan(s, out));
  const at = s.length - 3; // predicting the "c" of cat: the match says "f"
  assert.equal(String.fromCharCode(out.pred[at]), 'f');
  assert.ok(out.len[at] >= 16);
  assert.equal(m.lambda(out.len[at]), 0.9);
  assert.equal(out.pred[at + 1], -1, 'after the miss no match runs ("c" never followed "n ")');
});

test('during generation a candidate copies from the document only, never from its own text', () => {
  const m = new MatchModel(PARAMS);
  const base = sym('12345');
  const run = m.scan(base);
  for (const c of sym('1234')) run.push(c);
  assert.equal(run.prediction.symbol, '5'.charCodeAt(0), 'the document had 5 after 1234');
  const copy = run.clone();
  run.push('5'.charCodeAt(0));
  // scored as one text, "1234512345" would predict "1" (from the first copy of itself); the
  // candidate's source ran out at the document's end and its own "12345" is not a source
  assert.equal(run.prediction.symbol, -1);
  const whole = sym('123451234');
  const out = { pred: new Int32Array(whole.length + 1), len: new Int32Array(whole.length + 1) };
  m.release(m.scan([...whole, 53], out));
  assert.equal(String.fromCharCode(out.pred[9]), '5');
  // clones are independent
  assert.equal(copy.prediction.symbol, '5'.charCodeAt(0));
  m.release(run);
});

test('mixRow gives the log-probabilities of the mixture, and mixedBits agrees with it', () => {
  const logits = new Float32Array(VOCAB_SIZE).map((_, i) => Math.sin(i));
  const out = new Float32Array(VOCAB_SIZE);
  mixRow(logits, 0, 65, 0.7, out);
  let total = 0;
  for (const l of out) total += Math.exp(l);
  assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
  let z = 0;
  for (const l of logits) z += Math.exp(l);
  const p65 = Math.exp(logits[65]) / z;
  assert.ok(Math.abs(Math.exp(out[65]) - (0.3 * p65 + 0.7)) < 1e-6);
  assert.ok(Math.abs(-out[65] / Math.LN2 - mixedBits(-Math.log2(p65), true, 0.7)) < 1e-4);
  assert.ok(Math.abs(-out[66] / Math.LN2 - mixedBits(-Math.log2(Math.exp(logits[66]) / z), false, 0.7)) < 1e-4);
});

test('a manifest whose match_model is malformed is refused with the reason and the file', async () => {
  assert.equal(matchParamsError(PARAMS), undefined);
  assert.match(matchParamsError({ ...PARAMS, lambda: [0.3, 1.5, 0.9] })!, /lambda/);
  assert.match(matchParamsError({ ...PARAMS, bounds: [4, 4, 16] })!, /increasing/);
  assert.match(matchParamsError({ ...PARAMS, lambda: [0.3] })!, /one length/);
  const dir = mkdtempSync(path.join(tmpdir(), 'megabyte-match-'));
  try {
    const m = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'models', 'mb-small', 'manifest.json'), 'utf8'));
    m.match_model = { ...m.match_model, table_bits: 40 };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    await assert.rejects(readManifest(dir, false), (e: Error) => /manifest\.json: match_model\.table_bits/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a request whose stream extends the last one resumes its scan and predicts what a fresh scan would', () => {
  const text = sym('alpha beta gamma; alpha beta delta; alpha be');
  const cached = new MatchModel(PARAMS);
  const fresh = new MatchModel(PARAMS);
  for (let n = 10; n <= text.length; n += 7) {
    const stream = Uint16Array.from(text.slice(0, n));
    const a = cached.scanForGeneration(stream);
    const b = fresh.scan(stream);
    assert.deepEqual(a.state, b.state, `state after ${n} symbols`);
    assert.deepEqual(a.prediction, b.prediction);
    cached.release(a);
    fresh.release(b);
  }
  // an edit before the end (not an extension) scans anew
  const edited = Uint16Array.from(sym('alpha beta gamma; alpha beta gamma; alpha be'));
  const a = cached.scanForGeneration(edited);
  const b = fresh.scan(edited);
  assert.deepEqual(a.prediction, b.prediction);
  assert.equal(String.fromCharCode(a.prediction.symbol), 't');
});

test('randomised: the inlined scan, the step function (advance) and MatchTrack predict the same at every position', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let trial = 0; trial < 20; trial++) {
    const m = new MatchModel({ ...PARAMS, min_len: 2 + rand(5) });
    // a small alphabet with copied stretches, so matches start, run and break often
    const s: number[] = [];
    while (s.length < 3000) {
      if (s.length > 50 && rand(3) === 0) {
        const from = rand(s.length - 20);
        for (let k = 0; k < 5 + rand(40); k++) s.push(rand(10) === 0 ? rand(4) : s[from + k]);
      } else s.push(rand(4) === 0 ? 256 + rand(3) : 97 + rand(6));
    }
    const out = { pred: new Int32Array(s.length), len: new Int32Array(s.length) };
    m.release(m.scan(s, out));
    const table = new Int32Array(1 << PARAMS.table_bits).fill(-1);
    const track = new MatchTrack(m);
    let ptr = 0;
    let len = 0;
    for (let i = 0; i < s.length; i++) {
      const r = m.advance((j) => s[j], i, ptr, len, (h) => table[h]);
      if (r.slot >= 0) table[r.slot] = i;
      ptr = r.ptr;
      len = r.len;
      track.step(s, i);
      assert.equal(len > 0 ? s[ptr] : -1, out.pred[i], `trial ${trial}, position ${i}: advance`);
      assert.equal(len, out.len[i], `trial ${trial}, position ${i}: advance length`);
      assert.equal(track.symbol(s), out.pred[i], `trial ${trial}, position ${i}: track`);
      assert.equal(track.len, out.len[i], `trial ${trial}, position ${i}: track length`);
    }
  }
});

test('MatchTrack: undo() takes back what was processed after begin(), table included', () => {
  const m = new MatchModel(PARAMS);
  const s = sym('the cat sat on the mat; the cat sat on the hat; the cat');
  const t = new MatchTrack(m);
  for (let i = 0; i < 20; i++) t.step(s, i);
  const before = { table: Int32Array.from(t.table), ptr: t.ptr, len: t.len, done: t.done };
  t.begin();
  for (let i = 20; i < s.length; i++) t.step(s, i);
  t.undo();
  assert.deepEqual({ table: t.table, ptr: t.ptr, len: t.len, done: t.done }, before);
});
