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
import type { External } from './crossindex';

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
  private readonly at = (j: number): number => (j < 0 ? this.ext!.index.at(j) : j < this.base.length ? this.base[j] : this.gen[j - this.base.length]);

  constructor(private readonly model: MatchModel, private readonly base: ArrayLike<number>, readonly table: Int32Array,
    private ptr: number, private len: number, readonly ext?: External) {}

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
    if (symbol < 0) return { symbol: -1, lambda: 0 }; // an index match at its file's end
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
    const r = this.model.advance(this.at, i, this.ptr, this.len, (h) => this.table[h], this.base.length, this.ext);
    this.ptr = r.ptr;
    this.len = r.len;
    if (r.broke) this.anchored = false;
  }

  clone(): MatchRun {
    const c = new MatchRun(this.model, this.base, this.table, this.ptr, this.len, this.ext);
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
  private last?: { stream: Uint16Array; table: Int32Array; ptr: number; len: number; busy: boolean; ext?: External };

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
   * one's second-likeliest byte. With `ext`, places in the workspace index (crossindex.ts) are
   * candidates too, after the stream's own (the same rules; their sources are negative).
   */
  anchors(s: ArrayLike<number>, n: number, sufStart: number, sufLen: number, k: number, ext?: External): Anchor[] {
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
    const xat = ext?.index.at;
    const get = (j: number): number => (j < 0 ? xat!(j) : s[j]);
    const isByte = (x: number) => x >= 0 && x < SENTINEL;
    /** A source j whose a.ctx symbols before it are those before n: its left match and suffix anchor. */
    const consider = (j: number, g: (j: number) => number, floor: number) => {
      let left = 0;
      while (left < this.params.verify && j - 1 - left >= floor && g(j - 1 - left) === s[n - 1 - left]) left++;
      if (isByte(g(j))) leftOnly.push({ source: j, evidence: left, twoSided: false, end: -1, left });
      if (!twoSided) return;
      const last = j < 0 ? j + a.reach : Math.min(j + a.reach, n - headLen);
      for (let t = j + 1; t <= last; t++) {
        if (!isByte(g(t - 1))) break; // the copied middle may not cross a sentinel (or a file's end)
        let q = 0;
        while (q < headLen && g(t + q) === s[sufStart + q]) q++;
        if (q === headLen) {
          both.push({ source: j, evidence: left + headLen, twoSided: true, end: t, left });
          break;
        }
      }
    };
    let seen = 0;
    for (let j = n - 1; j >= a.ctx; j--) {
      if (s[j - 1] !== s[n - 1]) continue;
      let same = true;
      for (let q = 2; q <= a.ctx && same; q++) same = s[j - q] === s[n - q];
      if (!same || (indentOnly && (s[j] === 32 || s[j] === 9))) continue;
      if (++seen > a.candidates) break;
      consider(j, (x) => s[x], 0);
    }
    if (ext && seen < a.candidates) {
      const floor = -ext.index.size;
      for (const j of ext.index.candidates(get, n, ext, a.candidates - seen)) {
        let same = true;
        for (let q = 1; q <= a.ctx && same; q++) same = j - q >= floor && get(j - q) === s[n - q];
        if (!same || (indentOnly && (get(j) === 32 || get(j) === 9))) continue;
        consider(j, get, floor);
      }
    }
    // stable sorts: among equal left matches the most recent stays first, as in match.py
    const ranked = [...both.sort((x, y) => y.left - x.left), ...leftOnly.sort((x, y) => y.left - x.left)];
    const out: Anchor[] = [];
    const lines = new Set<string>();
    for (const r of ranked) {
      if (out.length >= k) break;
      const copied: number[] = [];
      for (let e = r.source; (e < 0 || e < n) && e - r.source < 80; e++) {
        const x = get(e);
        if (x === 10 || !isByte(x)) break;
        copied.push(x);
      }
      const key = copied.join(',');
      if (lines.has(key)) continue;
      lines.add(key);
      out.push({ source: r.source, evidence: r.evidence, twoSided: r.twoSided, end: r.end });
    }
    return out;
  }

  /**
   * One step of the rule (match.py's docstring) at position i; `lookup` gives table[slot]. The
   * match copies only from positions below `limit` (scan: i, anything before; MatchRun: its base).
   */
  advance(at: (j: number) => number, i: number, ptr: number, len: number, lookup: (slot: number) => number,
    limit = i, ext?: External): { ptr: number; len: number; slot: number; broke: boolean } {
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
      if (len === 0 && ext) {
        const x = ext.index.find(at, i, ext, verify, minLen);
        if (x) ({ ptr, len } = x);
      }
    }
    return { ptr, len, slot: h, broke };
  }

  /**
   * Runs the match over `stream`; with `out`, fills pred[i] (-1: none) and len[i] for every
   * position. Returns the run positioned after the stream, for generation; release() it after.
   */
  scan(stream: ArrayLike<number>, out?: { pred: Int32Array; len: Int32Array }, ext?: External): MatchRun {
    const table = this.free.pop() ?? new Int32Array(1 << this.params.table_bits);
    table.fill(-1);
    const r = this.scanFrom(stream, table, 0, 0, 0, out, ext);
    return new MatchRun(this, stream, table, r.ptr, r.len, ext);
  }

  /**
   * scan() for generation: resumes from the last stream when `stream` extends it (typing at the
   * cursor), else scans anew. The stream must not change while the run is in use.
   */
  scanForGeneration(stream: Uint16Array, ext?: External): MatchRun {
    const c = this.last;
    if (c && !c.busy && sameExternal(c.ext, ext) && c.stream.length <= stream.length && sameStart(c.stream, stream)) {
      const r = this.scanFrom(stream, c.table, c.stream.length + 1, c.ptr, c.len, undefined, ext);
      this.last = { stream, table: c.table, ...r, busy: true, ext };
      return new MatchRun(this, stream, c.table, r.ptr, r.len, ext);
    }
    const run = this.scan(stream, undefined, ext);
    if (c && !c.busy) this.free.push(c.table);
    if (!c || !c.busy) this.last = { stream, table: run.table, ptr: run.state.ptr, len: run.state.len, busy: true, ext };
    return run;
  }

  /** The rule from position `from` (state ptr/len at from - 1) to the stream's end, inclusive. */
  private scanFrom(stream: ArrayLike<number>, table: Int32Array, from: number, ptr: number, len: number,
    out?: { pred: Int32Array; len: Int32Array }, ext?: External): { ptr: number; len: number } {
    // advance() inlined over a plain array: a 1 MB stream is 1M steps.
    const { min_len: minLen, verify } = this.params;
    const mask = this.mask;
    const n = stream.length;
    const xat = ext?.index.at;
    const get = (j: number) => (j < 0 ? xat!(j) : stream[j]);
    for (let i = from; i <= n; i++) {
      if (len > 0) {
        if ((ptr < 0 ? xat!(ptr) : stream[ptr]) === stream[i - 1]) {
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
          if (len === 0 && ext) {
            const x = ext.index.find(get, i, ext, verify, minLen);
            if (x) ({ ptr, len } = x);
          }
        }
        table[h] = i;
      }
      if (out && i < n) {
        const p = len > 0 ? (ptr < 0 ? xat!(ptr) : stream[ptr]) : -1;
        out.pred[i] = p < 0 ? -1 : p;
        out.len[i] = p < 0 ? 0 : len;
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
  private ext?: External;

  constructor(readonly model: MatchModel) {
    this.table = new Int32Array(1 << model.params.table_bits).fill(-1);
  }

  /**
   * The workspace index it also copies from (undefined: none). A new index ends a match running
   * in the old one; the table (the stream's own positions) stays.
   */
  setExternal(ext: External | undefined): void {
    if (sameExternal(ext, this.ext)) return;
    if (this.ptr < 0) this.len = 0;
    this.ext = ext;
    this.at = this.stream ? this.reader(this.stream) : () => -1;
  }

  private reader(stream: ArrayLike<number>): (j: number) => number {
    const x = this.ext?.index.at;
    return x ? (j) => (j < 0 ? x(j) : stream[j]) : (j) => stream[j];
  }

  /** Processes position i (must be `done`); afterwards symbol/length predict stream[i]. */
  step(stream: ArrayLike<number>, i: number): void {
    if (stream !== this.stream) {
      this.stream = stream;
      this.at = this.reader(stream);
    }
    const r = this.model.advance(this.at, i, this.ptr, this.len, this.lookup, i, this.ext);
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
    if (this.len === 0) return -1;
    const s = this.ptr < 0 ? this.ext!.index.at(this.ptr) : stream[this.ptr];
    return s < 0 ? -1 : s;
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
    return new MatchRun(this.model, stream, this.table, this.ptr, this.len, this.ext);
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

function sameExternal(a: External | undefined, b: External | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.index === b.index && a.lo === b.lo && a.hi === b.hi);
}

function sameStart(a: Uint16Array, b: Uint16Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, a.byteLength));
}
