// The match model: the part of the model that copies from the rest of the file, mixed with the
// network's distribution by a weight per match length (manifest.json `match_model`, fitted on the
// training split by models/training/match_fit.py). The TypeScript twin of
// models/training/megabyte/match.py, whose docstring gives the rule and the reasons; the parity
// test (test/engine/parity.test.ts, against fixture.py's output) checks both predict the same
// symbol and length at every position, and find the same anchor at the cursor.
//
// It runs over the same symbol stream as the network, so in the fill-in-the-middle layout it copies
// from the suffix as well as from the prefix. Scanning a 1 MB stream takes ~15 ms; a request whose
// stream extends the last one's resumes that scan, and each candidate extends its own copy of the state.
import { BOS, EOM, PRE, SUF, VOCAB_SIZE } from './contract';

/** Symbols from BOS up are sentinels, not bytes. */
const SENTINEL = BOS;

export interface MatchParams {
  min_len: number;
  table_bits: number;
  verify: number;
  bounds: number[];
  lambda: number[];
  /** The suffix anchor (match.py's docstring): its weights per evidence length, and its limits. */
  anchor_bounds?: number[];
  anchor_lambda?: number[];
  anchor?: { ctx: number; head: number; reach: number; candidates: number };
}

const MAX_LEN = 65535;

/** Where a match starts at the cursor (MatchModel.anchor). */
export interface Anchor {
  source: number;
  evidence: number;
  /** A suffix anchor: its weights are anchor_lambda, and it predicts EOM at `end`. */
  twoSided: boolean;
  end: number;
}

/** Checks a manifest's match_model block; returns why it is unusable, or undefined. */
export function matchParamsError(p: unknown): string | undefined {
  const m = p as Partial<MatchParams>;
  if (!m || typeof m !== 'object') return 'match_model must be an object';
  if (!Number.isInteger(m.min_len) || m.min_len! < 1 || m.min_len! > 32) return 'match_model.min_len must be an integer in 1..32';
  if (!Number.isInteger(m.table_bits) || m.table_bits! < 8 || m.table_bits! > 24) return 'match_model.table_bits must be an integer in 8..24';
  if (!Number.isInteger(m.verify) || m.verify! < m.min_len!) return 'match_model.verify must be an integer >= min_len';
  if (!Array.isArray(m.bounds) || !Array.isArray(m.lambda) || m.bounds.length !== m.lambda.length || !m.bounds.length) return 'match_model.bounds and lambda must be arrays of one length';
  if (m.bounds.some((b, i) => !Number.isInteger(b) || (i > 0 && b <= m.bounds![i - 1]))) return 'match_model.bounds must be increasing integers';
  if (m.lambda.some((l) => typeof l !== 'number' || !(l >= 0 && l < 1))) return 'match_model.lambda must be weights in [0, 1)';
  if (m.anchor !== undefined || m.anchor_lambda !== undefined || m.anchor_bounds !== undefined) {
    const a = m.anchor;
    if (!a || ![a.ctx, a.head, a.reach, a.candidates].every((x) => Number.isInteger(x) && x >= 1)) return 'match_model.anchor must give ctx, head, reach and candidates as positive integers';
    const b = m.anchor_bounds;
    const l = m.anchor_lambda;
    if (!Array.isArray(b) || !Array.isArray(l) || b.length !== l.length || !b.length) return 'match_model.anchor_bounds and anchor_lambda must be arrays of one length';
    if (b.some((x, i) => !Number.isInteger(x) || (i > 0 && x <= b[i - 1]))) return 'match_model.anchor_bounds must be increasing integers';
    if (l.some((x) => typeof x !== 'number' || !(x >= 0 && x < 1))) return 'match_model.anchor_lambda must be weights in [0, 1)';
  }
  return undefined;
}

/** The hash-table slot of the min_len symbols before position i (FNV-1a, folded; as match.py). */
function slot(at: (j: number) => number, i: number, minLen: number, mask: number): number {
  let h = 0x811c9dc5;
  for (let j = i - minLen; j < i; j++) h = Math.imul(h ^ at(j), 0x01000193) >>> 0;
  return (h ^ (h >>> 12)) & mask;
}

/**
 * A candidate's match during generation: its context is `base` (the stream every candidate
 * shares, indexed in `table`) plus the symbols it generated, but it copies only from `base`.
 * Copying from its own text would feed the model's output back as evidence: a run of spaces
 * or a repeated line would confirm itself at a weight rising with its length (seen: ghost text
 * of 100 spaces). Scoring has no such loop (every symbol is the document's), so scan() lets a
 * match run anywhere before the position, as match.py does.
 */
export class MatchRun {
  private gen: number[] = [];
  /** The match runs from the suffix anchor (its weights are anchor_lambda)... */
  private anchored = false;
  /** ... and predicts EOM when it reaches this source position (the copied middle is complete). */
  private end = -1;
  private readonly at = (j: number): number => (j < this.base.length ? this.base[j] : this.gen[j - this.base.length]);

  constructor(private readonly model: MatchModel, private readonly base: ArrayLike<number>, readonly table: Int32Array,
    private ptr: number, private len: number) {}

  /** Where the match stands (for the scan cache). */
  get state(): { ptr: number; len: number } {
    return { ptr: this.ptr, len: this.len };
  }

  /** The running match's length (0: none) and whether it runs from the suffix anchor. */
  get length(): number {
    return this.len;
  }

  get isAnchored(): boolean {
    return this.anchored;
  }

  /** The symbol the match predicts next (-1: none) and the weight it gets. */
  get prediction(): { symbol: number; lambda: number } {
    if (this.len === 0) return { symbol: -1, lambda: 0 };
    const symbol = this.anchored && this.ptr === this.end ? EOM : this.at(this.ptr);
    return { symbol, lambda: this.model.lambda(this.len, this.anchored) };
  }

  /** Starts the match at an anchor (before any symbol is pushed); two-sided: the suffix anchor. */
  anchorAt(a: Anchor): void {
    this.ptr = a.source;
    this.len = Math.min(a.evidence, MAX_LEN);
    this.anchored = a.twoSided;
    this.end = a.end;
  }

  /** Appends a symbol and moves the match on to predict the one after it. */
  push(sym: number): void {
    this.gen.push(sym);
    const i = this.base.length + this.gen.length;
    if (this.len > 0 && this.anchored && this.ptr === this.end) { // it predicted EOM: the copy is over either way
      this.len = 0;
      this.anchored = false;
    }
    const r = this.model.advance(this.at, i, this.ptr, this.len, (h) => this.table[h], this.base.length);
    this.ptr = r.ptr;
    this.len = r.len;
    if (r.broke) this.anchored = false;
  }

  clone(): MatchRun {
    const c = new MatchRun(this.model, this.base, this.table, this.ptr, this.len);
    c.gen = [...this.gen];
    c.anchored = this.anchored;
    c.end = this.end;
    return c;
  }
}

export class MatchModel {
  private readonly free: Int32Array[] = [];
  private readonly mask: number;
  /**
   * The last stream scanned for generation, its table and final state: typing at the cursor
   * only appends to the stream, so the next request resumes the scan where this one ended (the
   * rule is causal, so resuming gives exactly what a fresh scan would). One slot: the document
   * being edited; `busy` while a request's runs still read its table.
   */
  private last?: { stream: Uint16Array; table: Int32Array; ptr: number; len: number; busy: boolean };

  constructor(readonly params: MatchParams) {
    const err = matchParamsError(params);
    if (err) throw new Error(err);
    this.mask = (1 << params.table_bits) - 1;
  }

  lambda(len: number, anchored = false): number {
    const anchor = anchored && this.params.anchor_lambda !== undefined;
    const b = anchor ? this.params.anchor_bounds! : this.params.bounds;
    let k = -1;
    while (k + 1 < b.length && b[k + 1] <= len) k++;
    return k < 0 ? 0 : (anchor ? this.params.anchor_lambda! : this.params.lambda)[k];
  }

  /**
   * The anchor for a middle that starts at position n of `s`, whose suffix is
   * s[sufStart, sufStart + sufLen) (sufLen 0: none): match.py's `anchor`, symbol for symbol.
   * Undefined when the model has no anchor parameters or the left context occurs nowhere else.
   * At a line holding only its indentation, a source whose indentation goes on does not count.
   */
  anchor(s: ArrayLike<number>, n: number, sufStart: number, sufLen: number): Anchor | undefined {
    return this.anchors(s, n, sufStart, sufLen, 1)[0];
  }

  /**
   * Up to `k` anchors, best first (the first is `anchor`'s): suffix anchors by left match, then
   * left-only ones, each copying a different line than those before it. The editor's candidates
   * after the first copy these, so they offer other places of the file instead of the first
   * one's second-likeliest byte.
   */
  anchors(s: ArrayLike<number>, n: number, sufStart: number, sufLen: number, k: number): Anchor[] {
    const a = this.params.anchor;
    if (!a || !this.params.anchor_lambda || n < a.ctx) return [];
    const headLen = Math.min(sufLen, a.head);
    let twoSided = false;
    if (headLen >= a.ctx) for (let q = 0; q < headLen; q++) if (![9, 10, 13, 32].includes(s[sufStart + q])) twoSided = true;
    let line = n;
    while (line > 0 && ![10, BOS, SUF, PRE].includes(s[line - 1])) line--;
    let indentOnly = line < n;
    for (let q = line; q < n && indentOnly; q++) indentOnly = s[q] === 32 || s[q] === 9;
    const both: (Anchor & { left: number })[] = [];
    const leftOnly: (Anchor & { left: number })[] = [];
    let seen = 0;
    for (let j = n - 1; j >= a.ctx; j--) {
      if (s[j - 1] !== s[n - 1]) continue;
      let same = true;
      for (let q = 2; q <= a.ctx && same; q++) same = s[j - q] === s[n - q];
      if (!same || (indentOnly && (s[j] === 32 || s[j] === 9))) continue;
      if (++seen > a.candidates) break;
      let left = 0;
      while (left < this.params.verify && j - 1 - left >= 0 && s[j - 1 - left] === s[n - 1 - left]) left++;
      if (s[j] < SENTINEL) leftOnly.push({ source: j, evidence: left, twoSided: false, end: -1, left });
      if (!twoSided) continue;
      let end = -1;
      for (let t = j + 1; t <= Math.min(j + a.reach, n - headLen); t++) {
        if (s[t - 1] >= SENTINEL) break; // the copied middle may not cross a sentinel
        let q = 0;
        while (q < headLen && s[t + q] === s[sufStart + q]) q++;
        if (q === headLen) {
          end = t;
          break;
        }
      }
      if (end >= 0) both.push({ source: j, evidence: left + headLen, twoSided: true, end, left });
    }
    // stable sorts: among equal left matches the most recent stays first, as in match.py
    const ranked = [...both.sort((x, y) => y.left - x.left), ...leftOnly.sort((x, y) => y.left - x.left)];
    const out: Anchor[] = [];
    const lines = new Set<string>();
    for (const r of ranked) {
      if (out.length >= k) break;
      let e = r.source;
      while (e < n && e - r.source < 80 && s[e] !== 10 && s[e] < SENTINEL) e++;
      const copied = Array.prototype.slice.call(s, r.source, e).join(',');
      if (lines.has(copied)) continue;
      lines.add(copied);
      out.push({ source: r.source, evidence: r.evidence, twoSided: r.twoSided, end: r.end });
    }
    return out;
  }

  /**
   * One step of the rule (match.py's docstring) at position i; `lookup` gives table[slot]. The
   * match copies only from positions below `limit` (scan: i, anything before; MatchRun: its base).
   */
  advance(at: (j: number) => number, i: number, ptr: number, len: number, lookup: (slot: number) => number,
    limit = i): { ptr: number; len: number; slot: number; broke: boolean } {
    const { min_len: minLen, verify } = this.params;
    let broke = false;
    if (len > 0) {
      if (at(ptr) === at(i - 1) && ptr + 1 < limit) {
        ptr++;
        len = Math.min(len + 1, MAX_LEN);
      } else {
        len = 0;
        broke = true;
      }
    }
    if (i < minLen) return { ptr, len, slot: -1, broke };
    const h = slot(at, i, minLen, this.mask);
    if (len === 0) {
      const cand = lookup(h);
      if (cand >= 0 && cand < Math.min(i, limit)) {
        let k = 0;
        while (k < verify && cand - 1 - k >= 0 && at(cand - 1 - k) === at(i - 1 - k)) k++;
        if (k >= minLen) {
          ptr = cand;
          len = k;
        }
      }
    }
    return { ptr, len, slot: h, broke };
  }

  /**
   * Runs the match over `stream`; with `out`, fills pred[i] (-1: none) and len[i] for every
   * position. Returns the run positioned after the stream, for generation; release() it after.
   */
  scan(stream: ArrayLike<number>, out?: { pred: Int32Array; len: Int32Array }): MatchRun {
    const table = this.free.pop() ?? new Int32Array(1 << this.params.table_bits);
    table.fill(-1);
    const r = this.scanFrom(stream, table, 0, 0, 0, out);
    return new MatchRun(this, stream, table, r.ptr, r.len);
  }

  /**
   * scan() for generation: resumes from the last stream when `stream` extends it (typing at the
   * cursor), else scans anew. The stream must not change while the run is in use.
   */
  scanForGeneration(stream: Uint16Array): MatchRun {
    const c = this.last;
    if (c && !c.busy && c.stream.length <= stream.length && sameStart(c.stream, stream)) {
      const r = this.scanFrom(stream, c.table, c.stream.length + 1, c.ptr, c.len);
      this.last = { stream, table: c.table, ...r, busy: true };
      return new MatchRun(this, stream, c.table, r.ptr, r.len);
    }
    const run = this.scan(stream);
    if (c && !c.busy) this.free.push(c.table);
    if (!c || !c.busy) this.last = { stream, table: run.table, ptr: run.state.ptr, len: run.state.len, busy: true };
    return run;
  }

  /** The rule from position `from` (state ptr/len at from - 1) to the stream's end, inclusive. */
  private scanFrom(stream: ArrayLike<number>, table: Int32Array, from: number, ptr: number, len: number,
    out?: { pred: Int32Array; len: Int32Array }): { ptr: number; len: number } {
    // advance() inlined over a plain array: a 1 MB stream is 1M steps.
    const { min_len: minLen, verify } = this.params;
    const mask = this.mask;
    const n = stream.length;
    for (let i = from; i <= n; i++) {
      if (len > 0) {
        if (stream[ptr] === stream[i - 1]) {
          ptr++;
          if (len < MAX_LEN) len++;
        } else len = 0;
      }
      if (i >= minLen) {
        let h = 0x811c9dc5;
        for (let j = i - minLen; j < i; j++) h = Math.imul(h ^ stream[j], 0x01000193) >>> 0;
        h = (h ^ (h >>> 12)) & mask;
        if (len === 0) {
          const cand = table[h];
          if (cand >= 0) {
            let k = 0;
            while (k < verify && cand - 1 - k >= 0 && stream[cand - 1 - k] === stream[i - 1 - k]) k++;
            if (k >= minLen) {
              ptr = cand;
              len = k;
            }
          }
        }
        table[h] = i;
      }
      if (out && i < n) {
        out.pred[i] = len > 0 ? stream[ptr] : -1;
        out.len[i] = len;
      }
    }
    return { ptr, len };
  }

  /** Gives a scan's table back for the next request (once per scan; its runs and clones share it). */
  release(run: MatchRun): void {
    if (this.last?.table === run.table) this.last.busy = false;
    else if (!this.free.includes(run.table)) this.free.push(run.table);
  }
}

/**
 * The match rule over a stream one position at a time, for the context-mixing layer's per-document
 * state (src/engine/cm.ts): step(stream, i) processes position i (== done) exactly as scan() does,
 * and predicts stream[i]. Between begin() and undo() its table writes are logged, so a request's
 * tail (SUF suffix PRE near) can be read and then taken back; run() hands generation the state.
 */
export class MatchTrack {
  readonly table: Int32Array;
  ptr = 0;
  len = 0;
  /** The next position to process. */
  done = 0;
  private log?: number[];
  private saved?: { ptr: number; len: number; done: number };
  private stream?: ArrayLike<number>;
  private at: (j: number) => number = () => -1;
  private readonly lookup = (h: number) => this.table[h];

  constructor(readonly model: MatchModel) {
    this.table = new Int32Array(1 << model.params.table_bits).fill(-1);
  }

  /** Processes position i (must be `done`); afterwards symbol/length predict stream[i]. */
  step(stream: ArrayLike<number>, i: number): void {
    if (stream !== this.stream) {
      this.stream = stream;
      this.at = (j) => stream[j];
    }
    const r = this.model.advance(this.at, i, this.ptr, this.len, this.lookup);
    if (r.slot >= 0) {
      if (this.log) this.log.push(r.slot, this.table[r.slot]);
      this.table[r.slot] = i;
    }
    this.ptr = r.ptr;
    this.len = r.len;
    this.done = i + 1;
  }

  /** The symbol predicted at the last processed position (-1: none). */
  symbol(stream: ArrayLike<number>): number {
    return this.len > 0 ? stream[this.ptr] : -1;
  }

  begin(): void {
    this.log = [];
    this.saved = { ptr: this.ptr, len: this.len, done: this.done };
  }

  undo(): void {
    if (!this.log || !this.saved) return;
    for (let k = this.log.length - 2; k >= 0; k -= 2) this.table[this.log[k]] = this.log[k + 1];
    ({ ptr: this.ptr, len: this.len, done: this.done } = this.saved);
    this.log = this.saved = undefined;
  }

  /** A run for generation over `stream`, whose positions up to its end were processed. */
  run(stream: ArrayLike<number>): MatchRun {
    return new MatchRun(this.model, stream, this.table, this.ptr, this.len);
  }
}

/**
 * Rewrites one row of logits (V symbols at `offset`) into the log-probabilities of the mixture
 * (1 - lambda) * softmax(row) + lambda * [symbol], so sampling and bits see the mixed model.
 */
export function mixRow(logits: Float32Array, offset: number, symbol: number, lambda: number, out: Float32Array): void {
  let m = -Infinity;
  for (let s = 0; s < VOCAB_SIZE; s++) m = Math.max(m, logits[offset + s]);
  let z = 0;
  for (let s = 0; s < VOCAB_SIZE; s++) z += Math.exp(logits[offset + s] - m);
  for (let s = 0; s < VOCAB_SIZE; s++) {
    const p = (1 - lambda) * Math.exp(logits[offset + s] - m) / z + (s === symbol ? lambda : 0);
    out[s] = Math.log(p);
  }
}

/** Bits of a symbol under the mixture, from its bits under the network. */
export function mixedBits(netBits: number, hit: boolean, lambda: number): number {
  return -Math.log2((1 - lambda) * Math.pow(2, -netBits) + (hit ? lambda : 0));
}

function sameStart(a: Uint16Array, b: Uint16Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, a.byteLength));
}
