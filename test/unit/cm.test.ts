// The context-mixing layer's parts (src/engine/cm.ts; its parity with cm.py is in
// test/engine/parity.test.ts, the engine's use of it in test/engine/cm.test.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CM_DEFAULTS, FINAL_SETS, CmContext, CmScorer, CmState, DocumentCm, CandidateCm, STRETCH, cmBlockError, squash, type CmBlock, type MatchIn } from '../../src/engine/cm';
import { MatchModel, MatchTrack } from '../../src/engine/match';

const BLOCK: CmBlock = { params: { ...CM_DEFAULTS, max_table_bits: 18 }, final: Array.from({ length: FINAL_SETS }, () => [40000, 30000, 0]) };
const MATCH = new MatchModel({ min_len: 4, table_bits: 16, verify: 64, bounds: [4, 8, 16], lambda: [0.3, 0.6, 0.9] });
const LONG = new MatchModel({ min_len: 12, table_bits: 16, verify: 64, bounds: [4, 8, 16], lambda: [0.3, 0.6, 0.9] });
const TEXT = readFileSync(path.resolve(__dirname, '..', '..', '..', 'src', 'engine', 'stops.ts'));

function scored(stream: number[], block = BLOCK): { bits: number[]; probs: number[][] } {
  const views = [MATCH, LONG].map((m) => {
    const out = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
    m.release(m.scan(stream, out));
    return out;
  });
  const sc = new CmScorer(stream, block, (i) => ({ symbol: views[0].pred[i], len: views[0].len[i], anchored: false }),
    (i) => ({ symbol: views[1].pred[i], len: views[1].len[i], anchored: false }));
  const bits: number[] = [];
  const probs: number[][] = [];
  for (let i = 0; i < stream.length; i++) {
    bits.push(sc.step(i));
    probs.push([...sc.probs]);
  }
  return { bits, probs };
}

test('squash and stretch are inverse to within the table\'s step, and bounded', () => {
  for (let d = -1024; d <= 1024; d += 7) assert.ok(Math.abs(STRETCH[squash(d)] - d) <= 16, `d ${d}`);
  for (let p = 1; p < 4096; p++) assert.ok(STRETCH[p] >= STRETCH[p - 1], `stretch is monotone at ${p}`);
  assert.equal(squash(5000), squash(2047));
  assert.ok(squash(-2047) >= 1 && squash(2047) <= 4095);
});

test('the reader tracks the open brackets and quote outside strings, and a sentinel resets them', () => {
  const c = new CmContext([]);
  for (const b of Buffer.from('f(a, [x, "([')) c.push(b);
  assert.equal(c.brk, (1 << 2) | 2);
  assert.equal(c.q, 34);
  for (const b of Buffer.from('\\"')) c.push(b);
  assert.equal(c.q, 34, 'an escaped quote does not close the string');
  for (const b of Buffer.from('"])')) c.push(b);
  assert.equal(c.brk, 0);
  assert.equal(c.q, 0);
  c.push(40);
  c.push(256);
  assert.equal(c.brk, 0, 'a sentinel resets them');
  assert.equal(c.clone().brk, c.brk);
});

test('a malformed context_mixing block is an error naming the field', () => {
  assert.equal(cmBlockError(BLOCK), undefined);
  assert.match(cmBlockError(null)!, /context_mixing must be an object/);
  assert.match(cmBlockError({ ...BLOCK, params: { ...BLOCK.params, lr: 1.5 } })!, /context_mixing\.params\.lr/);
  assert.match(cmBlockError({ ...BLOCK, params: { ...BLOCK.params, max_table_bits: 40 } })!, /context_mixing\.params\.max_table_bits/);
  const { limit: _l, ...noLimit } = BLOCK.params;
  assert.match(cmBlockError({ ...BLOCK, params: noLimit })!, /context_mixing\.params\.limit/);
  assert.match(cmBlockError({ ...BLOCK, final: BLOCK.final.slice(1) })!, /context_mixing\.final/);
  assert.match(cmBlockError({ ...BLOCK, final: BLOCK.final.map((r) => [r[0], r[1], 'x']) })!, /context_mixing\.final/);
  assert.match(cmBlockError({ ...BLOCK, weights: [1, 2] })!, /context_mixing\.weights/);
});

test('the CM learns the document: a repeated text costs far less the second time, and less than 8 bits a byte the first', () => {
  const s = [256, ...TEXT, ...TEXT];
  const { bits } = scored(s);
  const n = TEXT.length;
  const first = bits.slice(1, 1 + n).reduce((a, b) => a + b, 0) / n;
  const second = bits.slice(1 + n).reduce((a, b) => a + b, 0) / n;
  assert.ok(first < 4, `first copy ${first} bpb`);
  assert.ok(second < first / 5, `second copy ${second} bpb vs first ${first}`);
});

test('no peeking: changing symbol i changes no probability before it, nor those of byte i\'s bits before the first that differs', () => {
  const base = [256, ...TEXT.subarray(0, 2500)];
  const ref = scored(base).probs;
  for (const i of [1, 100, 777, 1500, 2499]) {
    const s = [...base];
    s[i] = s[i] ^ 0x21;
    const got = scored(s).probs;
    for (let k = 0; k < i; k++) assert.deepEqual(got[k], ref[k], `change at ${i} moved position ${k}`);
    const first = Math.clz32(base[i] ^ s[i]) - 24; // the first bit (MSB first) that differs
    assert.deepEqual(got[i].slice(0, first + 1), ref[i].slice(0, first + 1), `change at ${i}: its own first bits`);
  }
});

/** A binary arithmetic coder over 12-bit probabilities of a 1 (carryless, 32-bit, as in lpaq). */
class Encoder {
  x1 = 0;
  x2 = 0xffffffff;
  out: number[] = [];
  bit(y: number, p: number): void {
    const xmid = this.x1 + Math.floor((this.x2 - this.x1) / 4096) * p;
    if (y) this.x2 = xmid;
    else this.x1 = xmid + 1;
    while (((this.x1 ^ this.x2) & 0xff000000) === 0) {
      this.out.push(this.x2 >>> 24);
      this.x1 = (this.x1 << 8) >>> 0;
      this.x2 = ((this.x2 << 8) | 255) >>> 0;
    }
  }
  flush(): number[] {
    this.out.push(this.x1 >>> 24, 255, 255, 255);
    return this.out;
  }
}

class Decoder {
  x1 = 0;
  x2 = 0xffffffff;
  x = 0;
  k = 0;
  constructor(private readonly buf: number[]) {
    for (let i = 0; i < 4; i++) this.x = ((this.x << 8) | this.next()) >>> 0;
  }
  private next(): number {
    return this.k < this.buf.length ? this.buf[this.k++] : 255;
  }
  bit(p: number): number {
    const xmid = this.x1 + Math.floor((this.x2 - this.x1) / 4096) * p;
    const y = this.x <= xmid ? 1 : 0;
    if (y) this.x2 = xmid;
    else this.x1 = xmid + 1;
    while (((this.x1 ^ this.x2) & 0xff000000) === 0) {
      this.x1 = (this.x1 << 8) >>> 0;
      this.x2 = ((this.x2 << 8) | 255) >>> 0;
      this.x = ((this.x << 8) | this.next()) >>> 0;
    }
    return y;
  }
}

test('arithmetic coding round-trips a file with the CM\'s probabilities, and its size is the summed bits within a few bytes', () => {
  const data = [...TEXT.subarray(0, 6000)];
  const s = [256, ...data];
  const { bits } = scored(s);
  const total = bits.reduce((a, b) => a + b, 0);
  // encode: each byte's bits with the probabilities of the bit tree from the state before it
  // (generation's distribution), then learn the byte (scoring's codeByte): the two must agree
  const code = (y: ((p: number) => number) | undefined, enc?: Encoder): number[] => {
    const state = new CmState(s.length, BLOCK);
    const got: number[] = [256];
    const ctx = new CmContext(got);
    ctx.push(256);
    const tracks = [new MatchTrack(MATCH), new MatchTrack(LONG)];
    const tree = new Float64Array(256);
    for (let i = 1; i < s.length; i++) {
      for (const t of tracks) {
        if (t.done === 0) t.step(got, 0);
        t.step(got, i);
      }
      const m: MatchIn[] = tracks.map((t) => ({ symbol: t.symbol(got), len: t.len, anchored: false }));
      state.byteDistribution(ctx, m[0], m[1], undefined, tree);
      let c0 = 1;
      for (let j = 0; j < 8; j++) {
        const p = state.nodeFinal[c0];
        const bit = y ? y(p) : (s[i] >> (7 - j)) & 1;
        if (enc) enc.bit(bit, p);
        c0 = (c0 << 1) | bit;
      }
      const b = c0 & 255;
      state.codeByte(ctx, b, m[0], m[1]);
      got.push(b);
      ctx.push(b);
    }
    return got.slice(1);
  };
  const enc = new Encoder();
  code(undefined, enc);
  const bytes = enc.flush();
  const dec = new Decoder(bytes);
  const back = code((p) => dec.bit(p));
  assert.deepEqual(back, data, 'decoded = the file');
  assert.ok(Math.abs(bytes.length - total / 8) < 8, `coded ${bytes.length} bytes, summed bits ${total / 8} bytes`);
});

test('DocumentCm: a request\'s tail is undone, so the shared state is what learning the shared part alone gives', () => {
  const s = Uint16Array.from([256, ...TEXT.subarray(0, 3000)]);
  const fresh = new DocumentCm(BLOCK, s.length, MATCH, LONG);
  fresh.extend(s, 2000);
  const snap = (d: DocumentCm) => {
    const h = createHash('sha256');
    for (const a of [...d.state.t, ...d.state.ts, d.state.w, d.state.w2, d.state.ss, d.state.apm1, d.state.apm2, ...d.state.sm]) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    return h.digest('hex');
  };
  const d = new DocumentCm(BLOCK, s.length, MATCH, LONG);
  d.extend(s, 2000);
  const before = snap(d);
  d.at(s); // learns [2000, 3000) journaled
  assert.notEqual(snap(d), before, 'the tail was learned');
  const other = Uint16Array.from([...s.subarray(0, 2000), ...TEXT.subarray(0, 500)]);
  d.extend(other, 2000); // a stream that does not extend the last one: the tail goes
  assert.equal(snap(d), before);
  assert.equal(snap(d), snap(fresh));
});

test('generation reads the same distribution scoring codes with, and candidates never learn', () => {
  const s = [256, ...TEXT.subarray(0, 4000)];
  const logits = new Float32Array(260); // a uniform network
  const views = [MATCH, LONG].map((m) => {
    const out = { pred: new Int32Array(s.length), len: new Int32Array(s.length) };
    m.release(m.scan(s, out));
    return out;
  });
  const sc = new CmScorer(s, BLOCK, (i) => ({ symbol: views[0].pred[i], len: views[0].len[i], anchored: false }),
    (i) => ({ symbol: views[1].pred[i], len: views[1].len[i], anchored: false }));
  const bits = s.map((_, i) => sc.step(i, logits, 0));
  for (const n of [600, 2100, 3990]) {
    const d = new DocumentCm(BLOCK, s.length, MATCH, LONG);
    const st = Uint16Array.from(s.slice(0, n));
    d.extend(st, n - 300);
    const at = d.at(st);
    const c = new CandidateCm(d.state, at.ctx, at.match, at.long, () => 0);
    const row = c.row(logits, 0, new Float32Array(260));
    assert.ok(Math.abs(-row[s[n]] / Math.LN2 - bits[n]) < 1e-4, `at ${n}: generation ${-row[s[n]] / Math.LN2} vs scoring ${bits[n]}`);
    let sum = 0;
    for (let x = 0; x < 260; x++) sum += Math.exp(row[x]);
    assert.ok(Math.abs(sum - 1) < 1e-5, `the row sums to ${sum}`);
    const w = Int32Array.from(d.state.w);
    const t = d.state.t.map((a) => Uint32Array.from(a));
    for (let k = 0; k < 50; k++) {
      c.push(s[n + k] ?? 32);
      c.row(logits, 0, row);
    }
    assert.deepEqual(d.state.w, w, 'a candidate wrote the mixer');
    d.state.t.forEach((a, i) => assert.ok(Buffer.from(a.buffer).equals(Buffer.from(t[i].buffer)), `a candidate wrote table ${i}`));
  }
});

test('greedy: where the match model\'s linear rule ends the middle or runs its copy on, so does the candidate; elsewhere the mixed distribution\'s most likely byte; bits always the mixed distribution\'s', () => {
  const s = [256, ...TEXT.subarray(0, 4000)];
  const EOM_ = 259;
  const any = () => true;
  const cases = { end: 0, copy: 0, mixed: 0, changed: 0 };
  for (let n = 1500; n < 3990 && (cases.end < 3 || cases.copy < 3 || cases.mixed < 3); n += 7) {
    const d = new DocumentCm(BLOCK, s.length, MATCH, LONG);
    const st = Uint16Array.from(s.slice(0, n));
    d.extend(st, n - 300);
    const at = d.at(st);
    const c = new CandidateCm(d.state, at.ctx, at.match, at.long, () => 0);
    const copy = at.match.prediction;
    // a network that hesitates between ending (30 %) and the rest: EOM wins the linear rule unless a copy runs
    const logits = new Float32Array(260);
    logits[EOM_] = Math.log(0.3 / 0.7 * 259);
    const row = c.row(logits, 0, new Float32Array(260));
    let top = 0;
    for (let x = 0; x < 256; x++) if (row[x] > row[top]) top = x;
    const g = c.greedy(logits, 0, any);
    assert.ok(Math.abs(g.bits + row[g.symbol] / Math.LN2) < 1e-6, `at ${n}: greedy's bits ${g.bits} vs the row's ${-row[g.symbol] / Math.LN2}`);
    const pNet = 0.7 / 259;
    if (copy.symbol >= 0 && copy.lambda > 0 && (1 - copy.lambda) * pNet + copy.lambda > (1 - copy.lambda) * 0.3) {
      assert.equal(g.symbol, copy.symbol, `at ${n}: the copy runs on`);
      cases.copy++;
    } else if (copy.symbol < 0) {
      assert.equal(g.symbol, EOM_, `at ${n}: the middle ends`);
      if (row[top] > row[EOM_]) cases.changed++; // the row's argmax would have gone on
      cases.end++;
    }
    // a flat network and no copy to follow: the mixed distribution's most likely byte
    if (copy.symbol < 0) {
      const flat = new Float32Array(260);
      const r2 = c.row(flat, 0, new Float32Array(260));
      let t2 = 0;
      for (let x = 0; x < 256; x++) if (r2[x] > r2[t2]) t2 = x;
      const g2 = c.greedy(flat, 0, (x) => x < 256);
      assert.equal(g2.symbol, t2, `at ${n}: the mixed distribution's argmax`);
      assert.ok(Math.abs(g2.bits + r2[t2] / Math.LN2) < 1e-6);
      cases.mixed++;
    }
  }
  assert.ok(cases.end >= 3 && cases.copy >= 3 && cases.mixed >= 3, JSON.stringify(cases));
  assert.ok(cases.changed >= 1, `the linear rule ended a middle where the row's argmax went on somewhere (${JSON.stringify(cases)})`);
});
