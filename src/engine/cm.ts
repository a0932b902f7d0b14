// The context-mixing layer: online context models mixed with the network, bit by bit. The
// TypeScript twin of models/training/megabyte/cm.py, whose docstring gives the design; both are
// integer arithmetic so they agree bit for bit (test/engine/parity.test.ts checks this engine
// against fixture.py's output from cm.py), except where the network's probability enters (rounded
// to 12 bits from onnxruntime's floats here, PyTorch's there).
//
// Engine use: a document keeps one CmState (tables, mixer, APMs) for the part of its stream that
// every request shares (BOS far); a request learns its own tail (SUF suffix PRE near) into the same
// tables with a journal and undoes it afterwards, so the shared state is never polluted. Candidates
// only read the tables: each has its own CmContext (last bytes, hashes) and never learns from its
// own text.
import { EOM, VOCAB_SIZE } from './contract';
import type { MatchRun } from './match';
import { MatchModel, MatchTrack } from './match';
import type { External } from './crossindex';

export const CM_CONTEXTS = ['order0', 'order1', 'order2', 'order3', 'order4', 'order6', 'word', 'word2',
  'column', 'indent', 'sparse23', 'sparse24', 'bracket'] as const;
export const CM_INPUTS = [...CM_CONTEXTS, 'match', 'match_long'] as const;
const N_CTX = CM_CONTEXTS.length;
const N_MATCH = 2;
/** Inputs: per context stretch(p) and an adaptive map of its bit history; the match models; a bias. */
const N_INPUTS = 2 * N_CTX + N_MATCH + 1;
const MO = 2 * N_CTX; // where the match inputs start
const SS_LIMIT = 255; // a state map entry's count cap
const MIXER_SELECT = 4 * 256;
const MIXER2_SELECT = 6 * 8;
const APM2_BITS = 16;
/** The final mixer's weight sets: bit position x p_cm's confidence x the match state. */
export const FINAL_SETS = 8 * 4 * 4;

export interface CmParams {
  limit: number;
  lr: number;
  init_weight: number;
  match_rate: number;
  apm_rate: number;
  min_table_bits: number;
  max_table_bits: number;
  long_min_len: number;
}

/** manifest.json `context_mixing` (models/training/cm_fit.py writes it). */
export interface CmBlock {
  kind?: string;
  params: CmParams;
  /** The mixer's initial weights (one per input, the bias last); absent: params.init_weight each. */
  weights?: number[];
  /**
   * Where a document's small adaptive tables start (cm_fit.py: as training files left them), each
   * base64 of little-endian int32: the match maps (sm), both mixers'
   * weights (w, w2), the first APM (apm1) and the bit-history maps (ss). Absent: the neutral start.
   */
  priors?: Record<string, string>;
  /** The final mixer's weights per set: [w(p_cm), w(p_net), w(bias)], 65536 = 1.0. */
  final: number[][];
  [k: string]: unknown;
}

const PRIOR_SIZES: Record<string, number> = {
  sm: N_MATCH * 64, w: MIXER_SELECT * N_INPUTS, w2: MIXER2_SELECT * N_INPUTS, apm1: 256 * 33, ss: N_CTX * 256,
};

function priorTable(b64: string): Int32Array {
  const buf = Buffer.from(b64, 'base64');
  const out = new Int32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt32LE(4 * i);
  return out;
}

export const CM_DEFAULTS: CmParams = {
  limit: 127, lr: 8, init_weight: 4096, match_rate: 6, apm_rate: 7, min_table_bits: 16, max_table_bits: 22, long_min_len: 12,
};

const PARAM_RANGES: Record<keyof CmParams, [number, number]> = {
  limit: [1, 255], lr: [0, 64], init_weight: [-(1 << 20), 1 << 20], match_rate: [1, 15], apm_rate: [1, 15],
  min_table_bits: [8, 24], max_table_bits: [8, 24], long_min_len: [1, 32],
};

/**
 * The layer's second match model: the first one's parameters without its suffix anchor, with the
 * block's longer minimum length (long_min_len).
 */
export function longMatchModel(match: MatchModel, block: CmBlock): MatchModel {
  const { anchor: _a, anchor_bounds: _b, anchor_lambda: _l, ...plain } = match.params;
  return new MatchModel({ ...plain, min_len: block.params.long_min_len });
}

/** Checks a manifest's context_mixing block; returns why it is unusable (naming the field), or undefined. */
export function cmBlockError(p: unknown): string | undefined {
  const b = p as Partial<CmBlock>;
  if (!b || typeof b !== 'object' || Array.isArray(b)) return 'context_mixing must be an object';
  if (!b.params || typeof b.params !== 'object') return 'context_mixing.params must be an object';
  for (const [k, [lo, hi]] of Object.entries(PARAM_RANGES)) {
    const v = (b.params as unknown as Record<string, unknown>)[k];
    if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) return `context_mixing.params.${k} must be an integer in ${lo}..${hi}`;
  }
  if (b.params.min_table_bits > b.params.max_table_bits) return 'context_mixing.params.min_table_bits must be <= max_table_bits';
  if (b.weights !== undefined && (!Array.isArray(b.weights) || b.weights.length !== N_INPUTS || b.weights.some((w) => !Number.isInteger(w) || Math.abs(w) > 1 << 24))) {
    return `context_mixing.weights must be ${N_INPUTS} integers`;
  }
  if (b.priors !== undefined) {
    if (!b.priors || typeof b.priors !== 'object') return 'context_mixing.priors must be an object';
    for (const [k, n] of Object.entries(PRIOR_SIZES)) {
      const v = (b.priors as Record<string, unknown>)[k];
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || Buffer.from(v, 'base64').length !== 4 * n) return `context_mixing.priors.${k} must be base64 of ${n} int32`;
    }
  }
  if (!Array.isArray(b.final) || b.final.length !== FINAL_SETS || b.final.some((r) => !Array.isArray(r) || r.length !== 3 || r.some((w) => !Number.isInteger(w) || Math.abs(w) > 1 << 24))) {
    return `context_mixing.final must be ${FINAL_SETS} rows of 3 integers`;
  }
  return undefined;
}

// --- integer primitives (cm.py) ---
const SQ = [1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549, 2994, 3348,
  3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094];

export function squash(d: number): number {
  if (d > 2047) d = 2047;
  if (d < -2047) d = -2047;
  const w = d & 127;
  const k = (d >> 7) + 16;
  return (SQ[k] * (128 - w) + SQ[k + 1] * w + 64) >> 7;
}

export const STRETCH = (() => {
  const t = new Int16Array(4096);
  let pi = 0;
  for (let x = -2047; x <= 2047; x++) {
    const v = squash(x);
    for (let i = pi; i <= v; i++) t[i] = x;
    pi = v + 1;
  }
  for (let i = pi; i < 4096; i++) t[i] = 2047;
  return t;
})();

const RATE = Int32Array.from({ length: 256 }, (_, n) => Math.floor(65536 / (n + 1.5)));

// Bit histories (cm.py _hist_table): a slot's 8-bit state stands for (n0, n1, last bit), bounded: a
// run up to 40, else the larger count up to HIST_CAP[smaller count]; on a bit the opposite count
// above 2 loses half its excess. States numbered breadth-first from (0, 0); NEX[2 * state + y].
const HIST_CAP = [40, 12, 6, 4, 4];
const { NEX, SS_INIT } = (() => {
  const states: [number, number, number][] = [[0, 0, 0]];
  const num = new Map<string, number>([['0,0,0', 0]]);
  const nex: number[] = [];
  for (let k = 0; k < states.length; k++) {
    for (let y = 0; y < 2; y++) {
      let [n0, n1] = states[k];
      if (y) {
        n1++;
        if (n0 > 2) n0 = 2 + ((n0 - 2) >> 1);
      } else {
        n0++;
        if (n1 > 2) n1 = 2 + ((n1 - 2) >> 1);
      }
      const cap = HIST_CAP[Math.min(4, n0, n1)];
      n0 = Math.min(n0, cap);
      n1 = Math.min(n1, cap);
      const t: [number, number, number] = [n0, n1, n0 && n1 ? y : 0];
      const key = t.join(',');
      if (!num.has(key)) {
        num.set(key, states.length);
        states.push(t);
      }
      nex.push(num.get(key)!);
    }
  }
  if (states.length > 256) throw new Error('bit histories: too many states');
  // a state map entry: 16-bit probability << 8 | count, from (n1 + 1/2) / (n0 + n1 + 1)
  const init = new Int32Array(256).fill(32768 << 8);
  states.forEach(([n0, n1], k) => { init[k] = Math.floor((2 * n1 + 1) * 65536 / (2 * (n0 + n1) + 2)) << 8; });
  return { NEX: Uint8Array.from(nex), SS_INIT: init };
})();

export function h2(a: number, b: number): number {
  let h = (Math.imul(a, 0x9e3779b1) ^ b) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

export function tableBits(n: number, p: CmParams): number {
  const bl = n <= 0 ? 0 : 32 - Math.clz32(n);
  return Math.max(p.min_table_bits, Math.min(p.max_table_bits, bl + 3));
}

function matchBucket(len: number): number {
  if (len < 12) return len;
  return Math.min(15, 8 + 31 - Math.clz32(len));
}

function isWord(b: number): boolean {
  return (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b === 95 || b >= 128;
}

export function finalSet(j: number, stCm: number, ms: number): number {
  return (j * 4 + Math.min(3, Math.abs(stCm) >> 9)) * 4 + ms;
}

/** One match model's view at a position: predicted symbol (-1: none), length, suffix-anchored. */
export interface MatchIn { symbol: number; len: number; anchored: boolean }
export const NO_MATCH: MatchIn = { symbol: -1, len: 0, anchored: false };

/**
 * The byte-boundary context of one reader of a stream: the last 8 bytes, the identifier hashes,
 * the line and its indentation, the open brackets and quote, and the 13 context hashes. The
 * document's reader, and one clone per candidate (its own generated bytes in `gen`).
 */
export class CmContext {
  c4 = 0;
  c8 = 0;
  w0 = 0;
  w1 = 0;
  line = 0;
  prevLine = -1;
  indent = 0;
  inIndent = true;
  brk = 0;
  q = 0;
  n = 0;
  readonly h = new Uint32Array(N_CTX);
  private gen: number[] = [];

  constructor(private base: ArrayLike<number> = []) {
    this.contexts();
  }

  /**
   * Reads on from `stream`, which holds this reader's history so far (the same symbols) and
   * more: a request's stream that extends the one the state was built on. No generated symbols.
   */
  rebase(stream: ArrayLike<number>): void {
    if (this.gen.length) throw new Error('a candidate\'s reader cannot be rebased');
    this.base = stream;
  }

  private at(j: number): number {
    const s = j < this.base.length ? this.base[j] : this.gen[j - this.base.length];
    return s < 256 ? s : 0;
  }

  private contexts(): void {
    const c4 = this.c4;
    const col = this.n - this.line;
    let above = 0;
    if (this.prevLine >= 0 && this.prevLine + col < this.line) above = this.at(this.prevLine + col);
    const h = this.h;
    h[0] = h2(0, 0);
    h[1] = h2(1, c4 & 0xff);
    h[2] = h2(2, c4 & 0xffff);
    h[3] = h2(3, c4 & 0xffffff);
    h[4] = h2(4, c4);
    h[5] = h2(h2(5, c4), this.c8 & 0xffff);
    h[6] = h2(6, this.w0);
    h[7] = h2(h2(7, this.w0), this.w1);
    h[8] = h2(h2(8, above), c4 & 0xff);
    h[9] = h2(h2(9, this.indent), c4 & 0xffff);
    h[10] = h2(10, (c4 & 0xffff00) >>> 0);
    h[11] = h2(11, (c4 & 0xff00ff00) >>> 0);
    h[12] = h2(h2(12, (this.brk & 0xff) | (this.q << 8)), c4 & 0xff); // innermost 4 brackets, quote, last byte
  }

  /**
   * Moves past position `n` of the stream, whose symbol is `sym` (the next one of `base`, or a
   * candidate's generated symbol, which is appended to its own history).
   */
  push(sym: number): void {
    if (this.n >= this.base.length) this.gen.push(sym);
    const b = sym < 256 ? sym : 0;
    const n = this.n++;
    this.c8 = ((this.c8 << 8) | (this.c4 >>> 24)) >>> 0;
    this.c4 = ((this.c4 << 8) | b) >>> 0;
    if (sym >= 256) {
      this.w0 = this.w1 = 0;
      this.brk = this.q = 0;
      this.line = n + 1;
      this.prevLine = -1;
      this.indent = 0;
      this.inIndent = true;
    } else {
      if (isWord(b)) this.w0 = h2(this.w0, b);
      else if (this.w0) {
        this.w1 = this.w0;
        this.w0 = 0;
      }
      // the innermost 8 open brackets (2 bits each) and the open quote, outside strings
      if (this.q) {
        if (b === this.q && (this.c4 >>> 8 & 0xff) !== 92) this.q = 0;
        else if (b === 10 && this.q !== 96) this.q = 0;
      } else if (b === 34 || b === 39 || b === 96) this.q = b;
      else if (b === 40 || b === 91 || b === 123) this.brk = ((this.brk << 2) | (b === 40 ? 1 : b === 91 ? 2 : 3)) & 0xffff;
      else if (b === 41 || b === 93 || b === 125) this.brk >>>= 2;
      if (b === 10) {
        this.prevLine = this.line;
        this.line = n + 1;
        this.indent = 0;
        this.inIndent = true;
      } else if (this.inIndent && (b === 9 || b === 32)) this.indent++;
      else this.inIndent = false;
    }
    this.contexts();
  }

  /** A reader at the same place, its generated symbols copied (over `base`: rebased there). */
  clone(base: ArrayLike<number> = this.base): CmContext {
    const c = new CmContext(base);
    c.c4 = this.c4; c.c8 = this.c8; c.w0 = this.w0; c.w1 = this.w1; c.line = this.line; c.prevLine = this.prevLine;
    c.indent = this.indent; c.inIndent = this.inIndent; c.brk = this.brk; c.q = this.q; c.n = this.n; c.h.set(this.h); c.gen = [...this.gen];
    return c;
  }
}

/**
 * A log of the writes a request makes into a CmState's large tables (the context tables and the
 * second APM), to undo them; the small tables are copied whole at begin() instead.
 */
class Journal {
  private ids = new Int32Array(1 << 16);
  private idx = new Int32Array(1 << 16);
  private old = new Float64Array(1 << 16);
  private n = 0;
  constructor(private readonly tables: (Uint32Array | Int32Array | Uint8Array)[], readonly small: { a: Int32Array | Uint16Array; copy: Int32Array | Uint16Array }[]) {}
  log(id: number, k: number): void {
    if (this.n === this.ids.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T, m: T): T => {
        m.set(a);
        return m;
      };
      this.ids = grow(this.ids, new Int32Array(2 * this.n));
      this.idx = grow(this.idx, new Int32Array(2 * this.n));
      this.old = grow(this.old, new Float64Array(2 * this.n));
    }
    this.ids[this.n] = id;
    this.idx[this.n] = k;
    this.old[this.n++] = this.tables[id][k];
  }
  undo(): void {
    for (let i = this.n - 1; i >= 0; i--) this.tables[this.ids[i]][this.idx[i]] = this.old[i];
    this.n = 0;
    for (const s of this.small) s.a.set(s.copy);
  }
}

/** The learned part: context tables, match maps, the mixer, the APMs. */
export class CmState {
  readonly p: CmParams;
  readonly bits: number;
  /** Per context: slots of (check byte << 24 | count << 16 | 16-bit probability). */
  readonly t: Uint32Array[] = [];
  /** Per context, each slot's bit history (a state of NEX). */
  readonly ts: Uint8Array[] = [];
  /** Per context, the map from a bit history to a probability (16-bit p << 8 | count). */
  readonly ss = new Int32Array(N_CTX * 256);
  readonly sm: Uint16Array[] = [];
  readonly w: Int32Array;
  /** The second mixer's weights, its set chosen by how many orders are confident and the bit position. */
  readonly w2: Int32Array;
  readonly apm1: Int32Array;
  readonly apm2: Int32Array;
  readonly final: Int32Array;
  private readonly off: boolean[];
  private journal?: Journal;
  // scratch of the bit being coded
  private readonly x = new Int32Array(8 * N_INPUTS);
  private readonly idx = new Int32Array(8 * N_CTX);
  private readonly chk = new Int32Array(8 * N_CTX);
  private readonly idx3 = new Int32Array(8 * N_CTX);
  private readonly mctx = new Int32Array(8 * N_MATCH);

  constructor(n: number, block: CmBlock, disable: readonly string[] = []) {
    this.p = block.params;
    this.bits = tableBits(n, this.p);
    const size = 1 << this.bits;
    for (let i = 0; i < N_CTX; i++) this.t.push(new Uint32Array(size).fill(32768));
    for (let i = 0; i < N_CTX; i++) this.ts.push(new Uint8Array(size));
    for (let i = 0; i < N_CTX; i++) this.ss.set(SS_INIT, i * 256);
    for (let q = 0; q < N_MATCH; q++) this.sm.push(new Uint16Array(64).fill(32768));
    this.w = new Int32Array(MIXER_SELECT * N_INPUTS);
    this.w2 = new Int32Array(MIXER2_SELECT * N_INPUTS).fill(block.params.init_weight);
    for (let s = 0; s < MIXER_SELECT; s++) for (let i = 0; i < N_INPUTS; i++) this.w[s * N_INPUTS + i] = block.weights ? block.weights[i] : this.p.init_weight;
    const row = Int32Array.from({ length: 33 }, (_, k) => squash((k - 16) * 128) * 16);
    this.apm1 = new Int32Array(256 * 33);
    for (let c = 0; c < 256; c++) this.apm1.set(row, c * 33);
    this.apm2 = new Int32Array((1 << APM2_BITS) * 33);
    for (let c = 0; c < 1 << APM2_BITS; c++) this.apm2.set(row, c * 33);
    this.final = Int32Array.from(block.final.flat());
    if (block.priors) {
      const t = Object.fromEntries(Object.entries(block.priors).map(([k, v]) => [k, priorTable(v)]));
      for (let q = 0; q < N_MATCH; q++) this.sm[q].set(t.sm.subarray(q * 64, (q + 1) * 64));
      this.w.set(t.w);
      this.w2.set(t.w2);
      this.apm1.set(t.apm1);
      this.ss.set(t.ss);
    }
    this.off = CM_INPUTS.map((name) => disable.includes(name));
  }

  /** Bytes of memory the state holds. */
  bytes(): number {
    return N_CTX * (5 << this.bits) + this.w.byteLength + this.apm1.byteLength + this.apm2.byteLength;
  }

  /** Starts logging writes (a request's tail); undo() restores the state as it was here. */
  begin(): void {
    const small = [this.w, this.w2, this.apm1, this.ss, ...this.sm].map((a) => ({ a, copy: a.slice() }));
    this.journal = new Journal([...this.t, this.apm2, ...this.ts], small);
  }

  undo(): void {
    this.journal?.undo();
    this.journal = undefined;
  }

  get journaling(): boolean {
    return this.journal !== undefined;
  }

  /**
   * p_cm of bit j (c0: the partial byte with its leading 1) from the state at the byte's start;
   * the scratch of bit j keeps what update() needs. Nothing is written while a byte is predicted
   * (its 8 bits learn after it, in order), so the byte distribution of generation (every node of
   * the bit tree from the same state) is exactly the one scoring codes with. A slot whose check
   * byte differs reads as fresh (its update resets it).
   */
  private predict(ctx: CmContext, c0: number, j: number, m0: MatchIn, m1: MatchIn, ms: number): number {
    const shift = 32 - this.bits;
    const xo = j * N_INPUTS;
    const x = this.x;
    const h = ctx.h;
    const off = this.off;
    // a nibble's 15 nodes share one bucket of 16 slots (one cache line): found by hashing the
    // context with the bits before the nibble; the node is the nibble's partial bits with a leading 1
    const key = j < 4 ? 1 : c0 >> (j - 4);
    const nib = j < 4 ? c0 : (c0 & ((1 << (j - 4)) - 1)) | (1 << (j - 4));
    const io = j * N_CTX;
    for (let i = 0; i < N_CTX; i++) {
      const s = h2(h[i], key);
      const k = ((s >>> shift) & ~15) | nib;
      const chk = s & 0xff;
      const e = this.t[i][k];
      const hit = e >>> 24 === chk;
      const p = hit ? e & 0xffff : 32768;
      const k3 = i * 256 + (hit ? this.ts[i][k] : 0);
      this.idx[io + i] = k;
      this.chk[io + i] = chk;
      this.idx3[io + i] = k3;
      x[xo + i] = off[i] ? 0 : STRETCH[p >> 4];
      x[xo + N_CTX + i] = off[i] ? 0 : STRETCH[this.ss[k3] >> 12];
    }
    for (let q = 0; q < N_MATCH; q++) {
      const m = q === 0 ? m0 : m1;
      this.mctx[j * N_MATCH + q] = -1;
      x[xo + MO + q] = 0;
      if (m.len > 0 && m.symbol >= 0 && m.symbol < 256 && ((m.symbol + 256) >> (8 - j)) === c0 && !off[N_CTX + q]) {
        const e = (m.symbol >> (7 - j)) & 1;
        const c = matchBucket(m.len) * 2 + e + (m.anchored ? 32 : 0);
        this.mctx[j * N_MATCH + q] = c;
        x[xo + MO + q] = STRETCH[this.sm[q][c] >> 4];
      }
    }
    x[xo + N_INPUTS - 1] = 256;
    this.ms = this.mctx[j * N_MATCH] >= 0 ? ms : 0;
    const sel = (this.ms * 256 + c0) * N_INPUTS;
    const w = this.w;
    const sel2 = (this.orderSet(x, xo) * 8 + j) * N_INPUTS;
    let dot = 0;
    let dot2 = 0;
    for (let i = 0; i < N_INPUTS; i++) {
      dot += w[sel + i] * x[xo + i];
      dot2 += this.w2[sel2 + i] * x[xo + i];
    }
    const d1 = Math.max(-2047, Math.min(2047, Math.floor(dot / 65536)));
    const d2 = Math.max(-2047, Math.min(2047, Math.floor(dot2 / 65536)));
    this.sP1[j] = squash(d1);
    this.sP2[j] = squash(d2);
    this.sSel2[j] = sel2;
    const pm = squash((d1 + d2) >> 1);
    const st = STRETCH[pm] + 2048;
    const lo = st >> 7;
    const wt = st & 127;
    const i1 = c0 * 33 + lo;
    const a1 = (this.apm1[i1] * (128 - wt) + this.apm1[i1 + 1] * wt) >> 11;
    const c2 = h2(c0, ctx.c4 & 0xffff) >>> (32 - APM2_BITS);
    const i2 = c2 * 33 + lo;
    const a2 = (this.apm2[i2] * (128 - wt) + this.apm2[i2 + 1] * wt) >> 11;
    let pc = (pm + a1 + 2 * a2 + 2) >> 2;
    pc = pc < 1 ? 1 : pc > 4095 ? 4095 : pc;
    this.sPm[j] = pm;
    this.sSel[j] = sel;
    this.sI1[j] = i1 + (wt >> 6);
    this.sI2[j] = i2 + (wt >> 6);
    return pc;
  }

  private readonly sPm = new Int32Array(8);
  /** The match state of the bit last predicted (0 when the match does not agree with its bits). */
  private ms = 0;
  private readonly sP1 = new Int32Array(8);
  private readonly sP2 = new Int32Array(8);
  private readonly sSel2 = new Int32Array(8);

  /**
   * The second mixer's set: how many of orders 1, 2, 3, 4, 6 are confident (|stretch(p)| of
   * their slot at least 512), 0..5.
   */
  private orderSet(x: Int32Array, xo: number): number {
    let n = 0;
    for (let i = 1; i <= 5; i++) if (x[xo + i] >= 512 || x[xo + i] <= -512) n++;
    return n;
  }
  private readonly sSel = new Int32Array(8);
  private readonly sI1 = new Int32Array(8);
  private readonly sI2 = new Int32Array(8);

  /** Learns bit j (its scratch from predict) with value y. */
  private update(j: number, y: number): void {
    const J = this.journal;
    const x = this.x;
    const xo = j * N_INPUTS;
    const err = ((y << 12) - this.sP1[j]) * this.p.lr;
    const err2 = ((y << 12) - this.sP2[j]) * this.p.lr;
    const w = this.w;
    const w2 = this.w2;
    const sel = this.sSel[j];
    const sel2 = this.sSel2[j];
    for (let i = 0; i < N_INPUTS; i++) {
      if (x[xo + i]) {
        w[sel + i] += (x[xo + i] * err) >> 14;
        w2[sel2 + i] += (x[xo + i] * err2) >> 14;
      }
    }
    const ar = this.p.apm_rate;
    const k1 = this.sI1[j];
    const k2 = this.sI2[j];
    this.apm1[k1] += ((y << 16) - this.apm1[k1]) >> ar;
    if (J) J.log(N_CTX, k2);
    this.apm2[k2] += ((y << 16) - this.apm2[k2]) >> ar;
    const lim = this.p.limit;
    const mr = this.p.match_rate;
    const io = j * N_CTX;
    for (let i = 0; i < N_CTX; i++) {
      const k = this.idx[io + i];
      const chk = this.chk[io + i];
      const t = this.t[i];
      const ts = this.ts[i];
      let e = t[k];
      let st = ts[k];
      if (e >>> 24 !== chk) {
        e = ((chk << 24) | 32768) >>> 0;
        st = 0;
      }
      if (J) {
        J.log(i, k);
        J.log(N_CTX + 1 + i, k);
      }
      let p = e & 0xffff;
      let nn = (e >>> 16) & 0xff;
      p += Math.floor(((y << 16) - p) * RATE[nn] / 65536);
      if (nn < lim) nn++;
      t[k] = ((chk << 24) | (nn << 16) | p) >>> 0;
      ts[k] = NEX[2 * st + y];
      const k3 = this.idx3[io + i];
      const v = this.ss[k3];
      let sp = v >> 8;
      const sn = v & 255;
      sp += Math.floor(((y << 16) - sp) * RATE[sn] / 65536);
      this.ss[k3] = (sp << 8) | (sn < SS_LIMIT ? sn + 1 : sn);
    }
    for (let q = 0; q < N_MATCH; q++) {
      const c = this.mctx[j * N_MATCH + q];
      if (c < 0) continue;
      const sm = this.sm[q];
      sm[c] += ((y << 16) - sm[c]) >> mr;
    }
  }

  /** The final mixer: p_cm and the network's stretch (undefined: the CM alone), after predict() of the bit. */
  private mixFinal(pc: number, j: number, netSt: number | undefined): number {
    if (netSt === undefined) return pc;
    const sc = STRETCH[pc];
    const f = finalSet(j, sc, this.ms) * 3;
    const w = this.final;
    let pf = squash(Math.floor((w[f] * sc + w[f + 1] * netSt + w[f + 2] * 256) / 65536));
    pf = pf < 1 ? 1 : pf > 4095 ? 4095 : pf;
    return pf;
  }

  private static matchState(m0: MatchIn): number {
    const len = m0.symbol >= 0 && m0.symbol < 256 ? m0.len : 0;
    return len === 0 ? 0 : len < 16 ? 1 : len < 32 ? 2 : 3;
  }

  /**
   * Codes byte b at the context's position: predicts and learns its 8 bits. Returns its bits
   * under the final mixer (with netSt: the network's stretch along b's path) or the CM alone;
   * `probs` gets the 8 final probabilities of a 1.
   */
  codeByte(ctx: CmContext, b: number, m0: MatchIn, m1: MatchIn, netSt?: ArrayLike<number>, probs?: Int32Array): number {
    const ms = CmState.matchState(m0);
    let c0 = 1;
    let bits = 0;
    for (let j = 0; j < 8; j++) {
      const y = (b >> (7 - j)) & 1;
      const pc = this.predict(ctx, c0, j, m0, m1, ms);
      const pf = this.mixFinal(pc, j, netSt ? netSt[j] : undefined);
      if (probs) probs[j] = pf;
      bits -= Math.log2((y ? pf : 4096 - pf) / 4096);
      c0 = (c0 << 1) | y;
    }
    for (let j = 0; j < 8; j++) this.update(j, (b >> (7 - j)) & 1);
    return bits;
  }

  /**
   * The distribution over the 256 bytes at the context's position (read-only: generation), from
   * the final probabilities of every node of the bit tree; netNode[c0] is the network's stretch
   * at node c0 (1..255), or undefined for the CM alone. out[b] = P(b), summing to 1.
   */
  byteDistribution(ctx: CmContext, m0: MatchIn, m1: MatchIn, netNode: Int16Array | undefined, out: Float64Array): void {
    const ms = CmState.matchState(m0);
    const node = this.nodeP;
    node[1] = 1;
    for (let c0 = 1; c0 < 256; c0++) {
      const j = 31 - Math.clz32(c0);
      const pc = this.predict(ctx, c0, j, m0, m1, ms);
      const pf = this.mixFinal(pc, j, netNode ? netNode[c0] : undefined);
      this.nodeFinal[c0] = pf;
      const p1 = pf / 4096;
      const up = node[c0];
      node[2 * c0] = up * (1 - p1);
      node[2 * c0 + 1] = up * p1;
    }
    for (let b = 0; b < 256; b++) out[b] = node[256 + b];
  }

  /**
   * The most likely byte that `ok` allows (greedy decoding) without the whole tree: best-first
   * over the bit tree from the root (mass `scale`), whose nodes' probabilities only shrink going
   * down, so the first allowed leaf taken is the argmax of byteDistribution's scale * P(b)
   * exactly; nodes below `floor` (the best sentinel's probability) are never expanded. Returns
   * the byte (-1: none above floor) and its probability.
   */
  bestByte(ctx: CmContext, m0: MatchIn, m1: MatchIn, netNode: Int16Array | undefined, scale: number, ok: (b: number) => boolean, floor: number): { byte: number; p: number } {
    const ms = CmState.matchState(m0);
    const hp = this.heapP;
    const hn = this.heapN;
    let size = 0;
    const pushHeap = (p: number, n: number) => {
      let i = size++;
      while (i > 0) {
        const up = (i - 1) >> 1;
        if (hp[up] > p || (hp[up] === p && hn[up] < n)) break;
        hp[i] = hp[up];
        hn[i] = hn[up];
        i = up;
      }
      hp[i] = p;
      hn[i] = n;
    };
    const popHeap = () => {
      const last = --size;
      const p = hp[last];
      const n = hn[last];
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && (hp[c + 1] > hp[c] || (hp[c + 1] === hp[c] && hn[c + 1] < hn[c]))) c++;
        if (hp[c] < p || (hp[c] === p && hn[c] > n)) break;
        hp[i] = hp[c];
        hn[i] = hn[c];
        i = c;
      }
      hp[i] = p;
      hn[i] = n;
    };
    pushHeap(scale, 1);
    while (size > 0) {
      const p = hp[0];
      const c0 = hn[0];
      popHeap();
      if (p <= floor) break;
      if (c0 >= 256) {
        if (ok(c0 - 256)) return { byte: c0 - 256, p };
        continue;
      }
      const j = 31 - Math.clz32(c0);
      const pc = this.predict(ctx, c0, j, m0, m1, ms);
      const p1 = this.mixFinal(pc, j, netNode ? netNode[c0] : undefined) / 4096;
      pushHeap(p * (1 - p1), 2 * c0);
      pushHeap(p * p1, 2 * c0 + 1);
    }
    return { byte: -1, p: 0 };
  }

  /** P(b) of byteDistribution for one byte b (its 8 nodes only): the product along its path of the bit tree. */
  byteP(ctx: CmContext, m0: MatchIn, m1: MatchIn, netNode: Int16Array | undefined, b: number): number {
    const ms = CmState.matchState(m0);
    let p = 1;
    let c0 = 1;
    for (let j = 0; j < 8; j++) {
      const y = (b >> (7 - j)) & 1;
      const p1 = this.mixFinal(this.predict(ctx, c0, j, m0, m1, ms), j, netNode ? netNode[c0] : undefined) / 4096;
      p *= y ? p1 : 1 - p1;
      c0 = (c0 << 1) | y;
    }
    return p;
  }

  private readonly heapP = new Float64Array(512);
  private readonly heapN = new Int32Array(512);
  private readonly nodeP = new Float64Array(512);
  /** byteDistribution's final 12-bit probability of a 1 at each node c0 (1..255). */
  readonly nodeFinal = new Int32Array(256);
}

/**
 * The network's stretch at every node of the bit tree from one row of its 260-symbol logits
 * (cm.py net_bit_stretch): node c0's probability of a 1 is the bytes' probability mass in its
 * upper half over its whole subtree, rounded to 12 bits. Returns the sentinels' probabilities too.
 */
export function netNodes(logits: ArrayLike<number>, offset: number, nodes: Int16Array, tree: Float64Array): { sentinel: number; p: Float64Array } {
  let m = -Infinity;
  for (let s = 0; s < VOCAB_SIZE; s++) if (logits[offset + s] > m) m = logits[offset + s];
  let z = 0;
  for (let s = 0; s < VOCAB_SIZE; s++) z += Math.exp(logits[offset + s] - m);
  for (let b = 0; b < 256; b++) tree[256 + b] = Math.exp(logits[offset + b] - m) / z;
  for (let k = 255; k >= 1; k--) tree[k] = tree[2 * k] + tree[2 * k + 1];
  for (let k = 1; k < 256; k++) {
    const s = tree[k];
    const p = s > 0 ? tree[2 * k + 1] / s : 0.5;
    const q = Math.min(4095, Math.max(1, Math.floor(p * 4096 + 0.5)));
    nodes[k] = STRETCH[q];
  }
  const sent = new Float64Array(VOCAB_SIZE - 256);
  let sum = 0;
  for (let s = 256; s < VOCAB_SIZE; s++) {
    sent[s - 256] = Math.exp(logits[offset + s] - m) / z;
    sum += sent[s - 256];
  }
  return { sentinel: sum, p: sent };
}

/**
 * Scores a stream symbol by symbol under the CM layer (predict, then learn): the engine's
 * scoring path and the parity test's. step(i, logits row) returns the bits of stream[i];
 * skip(i) learns stream[i] without scoring it (context before the scored range).
 */
export class CmScorer {
  readonly state: CmState;
  readonly ctx: CmContext;
  private readonly nodes = new Int16Array(256);
  private readonly tree = new Float64Array(512);
  private readonly path = new Int16Array(8);
  readonly probs = new Int32Array(8);

  constructor(private readonly stream: ArrayLike<number>, block: CmBlock,
    private readonly m0: (i: number) => MatchIn, private readonly m1: (i: number) => MatchIn,
    private readonly eomLambda: (i: number) => number = () => 0, disable: readonly string[] = []) {
    this.state = new CmState(stream.length, block, disable);
    this.ctx = new CmContext(stream);
    this.withoutNetwork = disable.includes('network');
  }

  /** Ablation 'network': the CM alone (sentinels then cost nothing: compare bytes only). */
  private readonly withoutNetwork: boolean;

  skip(i: number): void {
    const s = this.stream[i];
    if (s < 256) this.state.codeByte(this.ctx, s, this.m0(i), this.m1(i));
    this.ctx.push(s);
  }

  /** Bits of stream[i] given the network's logits row (undefined: the CM alone, sentinels free). */
  step(i: number, logits?: ArrayLike<number>, offset = 0): number {
    if (this.withoutNetwork) logits = undefined;
    const s = this.stream[i];
    let bits = 0;
    const lam = this.eomLambda(i);
    let net: { sentinel: number; p: Float64Array } | undefined;
    if (logits) net = netNodes(logits, offset, this.nodes, this.tree);
    if (s >= 256) {
      if (net && i > 0) {
        const pe = net.p[s - 256];
        bits = -Math.log2(s === EOM ? lam + (1 - lam) * pe : (1 - lam) * pe);
      }
      this.probs.fill(0);
    } else {
      if (net) for (let j = 0; j < 8; j++) this.path[j] = this.nodes[(s + 256) >> (8 - j)];
      bits = this.state.codeByte(this.ctx, s, this.m0(i), this.m1(i), net ? this.path : undefined, this.probs);
      if (net) bits -= Math.log2(Math.max(1e-300, (1 - lam) * (1 - net.sentinel)));
    }
    this.ctx.push(s);
    return bits;
  }
}

/** Whether a and b hold the same symbols in [0, n). */
function samePrefix(a: ArrayLike<number>, b: ArrayLike<number>, n: number): boolean {
  if (a.length < n || b.length < n) return false;
  if (a === b) return true;
  if (a instanceof Uint16Array && b instanceof Uint16Array) {
    return Buffer.from(a.buffer, a.byteOffset, 2 * n).equals(Buffer.from(b.buffer, b.byteOffset, 2 * n));
  }
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A document's CM state for generation. Positions [0, shared) of its stream (BOS far: what every
 * request at this place shares) are learned for good; a request's tail [shared, n) (SUF suffix
 * PRE near) is learned with a journal, kept while the next request's stream extends this one
 * (typing at the cursor), and undone when it does not, so the shared state never holds a tail.
 * Candidates read the state at the stream's end and never write it.
 */
export class DocumentCm {
  readonly state: CmState;
  private readonly ctx: CmContext;
  private readonly m4: MatchTrack;
  private readonly m12: MatchTrack;
  shared = 0;
  learned = 0;
  private tail?: CmContext;
  private stream: ArrayLike<number> = [];
  private readonly mi0: MatchIn = { symbol: -1, len: 0, anchored: false };
  private readonly mi1: MatchIn = { symbol: -1, len: 0, anchored: false };

  constructor(readonly block: CmBlock, n: number, match: MatchModel, long: MatchModel) {
    this.state = new CmState(n, block);
    this.ctx = new CmContext([]);
    this.m4 = new MatchTrack(match);
    this.m12 = new MatchTrack(long);
  }

  bytes(): number {
    return this.state.bytes() + this.m4.table.byteLength + this.m12.table.byteLength;
  }

  /** The workspace index both match models also copy from (MatchTrack.setExternal). */
  setExternal(ext: External | undefined): void {
    this.m4.setExternal(ext);
    this.m12.setExternal(ext);
  }

  /** Whether `stream`'s first `sharedEnd` symbols can extend this state (else: a new one). */
  fits(stream: ArrayLike<number>, sharedEnd: number): boolean {
    return sharedEnd >= this.shared && samePrefix(this.stream, stream, this.shared);
  }

  /** Symbols still to learn for good before `sharedEnd` (the cost of extend). */
  behind(sharedEnd: number): number {
    return Math.max(0, sharedEnd - this.shared);
  }

  private learn(stream: ArrayLike<number>, from: number, to: number, reader: CmContext): void {
    const m4 = this.m4;
    const m12 = this.m12;
    const a = this.mi0;
    const b = this.mi1;
    for (let i = from; i < to; i++) {
      if (m4.done === i) m4.step(stream, i);
      if (m12.done === i) m12.step(stream, i);
      const s = stream[i];
      if (s < 256) {
        a.symbol = m4.symbol(stream);
        a.len = a.symbol < 0 ? 0 : m4.len;
        b.symbol = m12.symbol(stream);
        b.len = b.symbol < 0 ? 0 : m12.len;
        this.state.codeByte(reader, s, a, b);
      }
      reader.push(s);
    }
  }

  /**
   * Learns `stream` up to `sharedEnd` for good, at most `limit` symbols (the rest on a later call:
   * preEncode's chunks). Returns whether the shared part is complete. Undoes a tail that the
   * stream does not extend.
   */
  extend(stream: ArrayLike<number>, sharedEnd: number, limit = Infinity): boolean {
    if (!this.fits(stream, sharedEnd)) throw new Error('DocumentCm.extend: the stream does not extend the state');
    const keepTail = this.tail && sharedEnd === this.shared && samePrefix(this.stream, stream, this.learned);
    if (!keepTail) this.dropTail();
    if (this.shared < sharedEnd) {
      this.ctx.rebase(stream);
      const to = Math.min(sharedEnd, this.shared + limit);
      this.learn(stream, this.shared, to, this.ctx);
      this.shared = this.learned = to;
    }
    this.stream = stream;
    return this.shared === sharedEnd;
  }

  private dropTail(): void {
    if (!this.tail) return;
    this.state.undo();
    this.m4.undo();
    this.m12.undo();
    this.tail = undefined;
    this.learned = this.shared;
  }

  /**
   * Learns the rest of `stream` (the request's tail, journaled) after extend() completed its
   * shared part, and returns the readers at its end: the CM context and both match runs.
   */
  at(stream: ArrayLike<number>): { ctx: CmContext; match: MatchRun; long: MatchRun } {
    this.learnTail(stream);
    return { ctx: this.tail!.clone(stream), match: this.m4.run(stream), long: this.m12.run(stream) };
  }

  /** at() without the readers: the encode ahead learns a request's tail before the request. */
  learnTail(stream: ArrayLike<number>): void {
    if (!this.tail) {
      this.state.begin();
      this.m4.begin();
      this.m12.begin();
      this.tail = this.ctx.clone(stream);
    } else this.tail.rebase(stream);
    this.learn(stream, this.learned, stream.length, this.tail);
    this.learned = stream.length;
    this.stream = stream;
    const n = stream.length;
    if (this.m4.done === n) this.m4.step(stream, n);
    if (this.m12.done === n) this.m12.step(stream, n);
  }
}

/**
 * One candidate's view of the mixed model during generation: its CM reader and match runs over
 * the document's state (read-only), giving the mixed distribution over the 260 symbols.
 */
export class CandidateCm {
  private readonly nodes = new Int16Array(256);
  private readonly tree = new Float64Array(512);
  private readonly dist = new Float64Array(256);
  private readonly mi0: MatchIn = { symbol: -1, len: 0, anchored: false };
  private readonly mi1: MatchIn = { symbol: -1, len: 0, anchored: false };

  constructor(private readonly state: CmState, readonly ctx: CmContext, readonly match: MatchRun, readonly long: MatchRun,
    private readonly lambda: (len: number, anchored: boolean) => number) {}

  /**
   * Both match runs' predictions into the CM's match inputs (mi0, mi1); returns the weight of the
   * anchor's EOM (a suffix anchor that reached the copied middle's end), 0 otherwise.
   */
  private readMatches(): number {
    const a = this.mi0;
    a.symbol = this.match.prediction.symbol;
    a.len = a.symbol < 0 ? 0 : this.match.length;
    a.anchored = this.match.isAnchored;
    const b = this.mi1;
    b.symbol = this.long.prediction.symbol;
    b.len = b.symbol < 0 ? 0 : this.long.length;
    return a.anchored && a.symbol === EOM ? this.lambda(a.len, true) : 0;
  }

  /** Log-probabilities of the 260 symbols under the mixed model, from the network's logits row. */
  row(logits: ArrayLike<number>, offset: number, out: Float32Array): Float32Array {
    const net = netNodes(logits, offset, this.nodes, this.tree);
    const lam = this.readMatches();
    this.state.byteDistribution(this.ctx, this.mi0, this.mi1, this.nodes, this.dist);
    const bytes = (1 - lam) * (1 - net.sentinel);
    for (let x = 0; x < 256; x++) out[x] = Math.log(Math.max(1e-300, bytes * this.dist[x]));
    for (let s = 256; s < VOCAB_SIZE; s++) out[s] = Math.log(Math.max(1e-300, (1 - lam) * net.p[s - 256] + (s === EOM ? lam : 0)));
    return out;
  }

  /**
   * Greedy decoding's pick (temperature 0) and its bits under the mixed distribution (row()).
   * Not row()'s argmax: where the match model's linear rule (generation without the layer,
   * match.ts mixRow) would end the middle or follow its copy, the candidate does that; every other
   * byte is the mixed distribution's most likely allowed one (bestByte: a best-first walk of the
   * bit tree instead of all 255 nodes). The mixed distribution codes held-out middles in far fewer
   * bits, but its argmax alone makes poor middles: the context models' bytes are sharper than the
   * network's, so EOM (the network's, never the context models') seldom beats the top byte, and a
   * greedy walk splices contexts where a copy should run on (see EngineCore.generationMixing).
   */
  greedy(logits: ArrayLike<number>, offset: number, allowed: (sym: number) => boolean): { symbol: number; bits: number } {
    const net = netNodes(logits, offset, this.nodes, this.tree);
    const lam = this.readMatches();
    // the linear rule's greedy pick: P(s) = (1 - L) P_net(s) + L [s = the copy's symbol]; a byte wins ties
    const copy = this.match.prediction;
    const L = copy.symbol >= 0 && copy.lambda > 0 ? copy.lambda : 0;
    const linear = (s: number, pNet: number) => (1 - L) * pNet + (s === copy.symbol ? L : 0);
    let lin = -1;
    let linP = -1;
    for (let x = 0; x < VOCAB_SIZE; x++) {
      if (!allowed(x)) continue;
      const p = linear(x, x < 256 ? this.tree[256 + x] : net.p[x - 256]);
      if (p > linP) {
        lin = x;
        linP = p;
      }
    }
    const sentinelP = (s: number) => (1 - lam) * net.p[s - 256] + (s === EOM ? lam : 0);
    const bytes = (1 - lam) * (1 - net.sentinel);
    if (lin >= 256) return { symbol: lin, bits: -Math.log2(sentinelP(lin)) };
    if (lin === copy.symbol && L > 0) return { symbol: lin, bits: -Math.log2(bytes * this.state.byteP(this.ctx, this.mi0, this.mi1, this.nodes, lin)) };
    const r = this.state.bestByte(this.ctx, this.mi0, this.mi1, this.nodes, bytes, allowed, 0);
    if (r.byte < 0) return { symbol: lin, bits: -Math.log2(bytes * this.state.byteP(this.ctx, this.mi0, this.mi1, this.nodes, lin)) };
    return { symbol: r.byte, bits: -Math.log2(r.p) };
  }

  push(sym: number): void {
    this.ctx.push(sym);
    this.match.push(sym);
    this.long.push(sym);
  }
}
