// The multiscale MEGABYTE decoder: the global model once per top patch, each inner level once per
// unit, the local model once per symbol, every level keeping a KV cache (the Python model's
// `Megabyte.forward`, run incrementally).
//
// A stream of symbols of length L is "primed" when every level has run exactly the positions
// whose inputs are complete units before L:
//   level 0 (global): positions 0..floor(L/U0)            (position k reads top patch k-1)
//   level l > 0:      positions 0..floor((L-base_l)/U_l)  within the level-(l-1) unit holding L
// and the last level's last output is the distribution of symbol L. Appending one symbol moves
// L to L+1: the highest level whose unit boundary L+1 is runs one more position on the unit just
// completed, and every level below it restarts its sequence (position 0 reads the PAD unit).
import { PAD, VOCAB_SIZE } from './contract';
import { KVCache, ModelRuntime, prevUnits } from './runtime';

/** Cancellation checked between model runs (a SharedArrayBuffer flag set by the client). */
export interface CancelToken {
  readonly cancelled: boolean;
}
export const NEVER_CANCELLED: CancelToken = { cancelled: false };

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** The global level's cache for one document stream: KV over `pos` positions, and the output of position pos-1. */
export class GlobalCache {
  stream: Uint16Array = new Uint16Array(0);
  /** Keys and values of positions [0, pos) (kv.length === pos), in buffers with room to grow. */
  kv: KVCache | undefined;
  /** child_context of position pos-1: (p0, D1), or logits (V) for a one-level (plain) model. */
  out: Float32Array | undefined;
  /** Global positions run so far (a work counter: tests and benchmarks read it). */
  positionsRun = 0;

  get pos(): number {
    return this.kv?.length ?? 0;
  }

  bytes(): number {
    return (this.kv?.bytes() ?? 0) + this.stream.byteLength;
  }

  reset(): void {
    this.stream = new Uint16Array(0);
    this.kv = undefined;
    this.out = undefined;
  }
}

export interface EncodeProgress {
  (done: number, total: number): void;
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Symbols of `stream` that `cache` does not hold yet (what encodeGlobal would run, in symbols). */
export function missingSymbols(rt: ModelRuntime, cache: GlobalCache, stream: Uint16Array): number {
  const U0 = rt.unit(0);
  const d = firstDifference(cache.stream, stream);
  const valid = Math.min(cache.pos, Math.floor(d / U0) + 1);
  return Math.max(0, stream.length - Math.max(0, valid - 1) * U0);
}

/**
 * Brings `cache` to the global positions needed for a stream of length `length` (a prefix of
 * `stream`): rewinds to the first patch that changed, then encodes the rest in chunks of
 * `chunkPatches` positions, checking `cancel` between chunks. A cancelled encode keeps the
 * positions it finished, so the next call resumes there.
 */
export async function encodeGlobal(rt: ModelRuntime, cache: GlobalCache, stream: Uint16Array, length: number,
  opts: { chunkPatches: number; cancel: CancelToken; progress?: EncodeProgress; pause?: () => Promise<void> }): Promise<void> {
  const U0 = rt.unit(0);
  const target = Math.floor(length / U0) + 1; // positions 0..floor(L/U0)
  const d = firstDifference(cache.stream, stream.subarray(0, length));
  // Position k reads symbols [(k-1)U0, kU0): valid while kU0 <= d.
  const valid = Math.min(cache.pos, Math.floor(d / U0) + 1);
  if (valid >= target && cache.pos === target && cache.out) {
    cache.stream = stream.slice(0, Math.max(d, Math.min(length, cache.stream.length)));
    return;
  }
  const keep = Math.min(valid, target - 1);
  if (keep < cache.pos) {
    cache.kv!.truncate(keep); // a rewind copies nothing: later positions are overwritten as they are re-run
    cache.out = undefined;
  }
  cache.stream = stream.slice(0, length);
  const outSize = rt.levels.length > 1 ? rt.patchSizes[0] * rt.levels[1].dim : VOCAB_SIZE;
  const kv = (cache.kv ??= KVCache.forLevel(rt.levels[0]));
  // Room for the whole target (and a few top patches of typing) at once, not chunk by chunk.
  kv.reserve(target - kv.length + 16);
  const start = cache.pos;
  while (cache.pos < target) {
    if (opts.cancel.cancelled) throw new CancelledError();
    const steps = Math.min(opts.chunkPatches, target - cache.pos);
    const units = prevUnits(stream, cache.pos, steps, U0);
    const res = await rt.runLevel(0, units, 1, steps, null, kv);
    kv.append(res.news);
    cache.positionsRun += steps;
    cache.out = res.out.slice((steps - 1) * outSize, steps * outSize);
    opts.progress?.(cache.pos - start, target - start);
    if (opts.pause) await opts.pause();
  }
}

interface LevelState {
  kv: KVCache;
  /** Positions run in the current sequence of this level. */
  pos: number;
  /** Context from the parent for this level's current sequence: (rows, p, D); unused at level 0. */
  ctx: Float32Array;
  /** Output of the last position run: (rows, p_child, D_child) or logits (rows, V). */
  out: Float32Array;
}

/**
 * Decoding state for `rows` candidates that share a primed prefix and advance in lockstep (one
 * symbol each per step), so every inner level runs as one batch of `rows` (patch-parallel
 * candidates).
 *
 * The global level is different: its past is the document's cache (16,384 positions for 1 MB),
 * which the candidates share. Tiling it into `rows` copies cost ~117 ms per global step at 1 MB
 * (measured 2026-11-29). Instead each candidate keeps only its own few generated global positions
 * (`tails`), and a candidate's global step writes its tail into the shared buffer just past the
 * prefix and runs batch 1 over prefix + tail: a run per candidate, but no copy of the prefix.
 * The positions past the prefix are scratch space; the cache's own length never moves.
 */
export class Decoder {
  private states: LevelState[] = [];
  rows = 1;
  length: number;
  private generated: number[][] = [[]];
  /** Per row, per generated global position: its keys and values, per layer (kvHeads, 1, headDim). */
  private tails: Float32Array[][][] = [[]];
  /** The global cache's length when primed: the shared prefix. */
  private base = 0;

  constructor(private readonly rt: ModelRuntime, private readonly prefix: Uint16Array, private readonly global: GlobalCache) {
    this.length = prefix.length;
  }

  private outSize(level: number): number {
    const rt = this.rt;
    return level === rt.levels.length - 1 ? VOCAB_SIZE : rt.patchSizes[level] * rt.levels[level + 1].dim;
  }

  private symbolAt(row: number, i: number): number {
    return i < this.prefix.length ? this.prefix[i] : this.generated[row][i - this.prefix.length];
  }

  /** Runs levels 1.. on the partial top patch at the end of the prefix (batch 1). The global cache must be encoded to prefix.length. */
  async prime(): Promise<void> {
    const rt = this.rt;
    const L = this.prefix.length;
    const g = this.global;
    if (!g.out || !g.kv) throw new Error('global cache not encoded');
    this.base = g.pos;
    this.tails = [[]];
    this.states = [{ kv: g.kv, pos: g.pos, ctx: new Float32Array(0), out: g.out }];
    for (let l = 1; l < rt.levels.length; l++) {
      const parentUnit = rt.unit(l - 1);
      const unit = rt.unit(l);
      const base = Math.floor(L / parentUnit) * parentUnit;
      const steps = Math.floor((L - base) / unit) + 1;
      const D = rt.levels[l].dim;
      const ctx = this.states[l - 1].out; // (1, p, D)
      const kv = KVCache.forLevel(rt.levels[l], 1, rt.patchSizes[l - 1]);
      const units = prevUnits(this.prefix.subarray(base), 0, steps, unit);
      const res = await rt.runLevel(l, units, 1, steps, ctx.subarray(0, steps * D), kv);
      kv.append(res.news);
      const os = this.outSize(l);
      this.states.push({ kv, pos: steps, ctx, out: res.out.slice((steps - 1) * os, steps * os) });
    }
  }

  /** Logits (rows, V) for the next symbol of each row. */
  get logits(): Float32Array {
    return this.states[this.states.length - 1].out;
  }

  /** Copies the batch-1 state into `rows` candidates. The global past stays shared (see the class doc). */
  fork(rows: number): void {
    if (rows === this.rows) return;
    this.rows = rows;
    this.generated = Array.from({ length: rows }, () => []);
    this.tails = Array.from({ length: rows }, () => this.tails[0]);
    for (let l = 0; l < this.states.length; l++) {
      const s = this.states[l];
      const tile = (a: Float32Array) => {
        const t = new Float32Array(a.length * rows);
        for (let r = 0; r < rows; r++) t.set(a, r * a.length);
        return t;
      };
      if (l > 0) {
        s.kv = s.kv.tile(rows);
        s.ctx = tile(s.ctx);
      }
      s.out = tile(s.out);
    }
  }

  /** One global position for each row: its tail written after the shared prefix, then a batch-1 run. */
  private async stepGlobal(units: BigInt64Array): Promise<Float32Array> {
    const kv = this.global.kv!;
    if (kv.length !== this.base) throw new Error('the global cache changed under a decoder');
    const U0 = this.rt.unit(0);
    const outs: Float32Array[] = [];
    for (let r = 0; r < this.rows; r++) {
      // Rows advance in lockstep: every tail is as long. The cache's own length stays the prefix's.
      const res = await kv.withTail(this.tails[r], () => this.rt.runLevel(0, units.subarray(r * U0, (r + 1) * U0), 1, 1, null, kv));
      outs.push(res.out);
      this.tails[r] = [...this.tails[r], res.news.map((n) => n.data as Float32Array)];
    }
    const per = outs[0].length;
    const all = new Float32Array(per * this.rows);
    outs.forEach((o, r) => all.set(o, r * per));
    return all;
  }

  /** Appends one symbol to each row and runs the levels that this completes. */
  async step(symbols: number[], cancel: CancelToken): Promise<void> {
    const rt = this.rt;
    const rows = this.rows;
    for (let r = 0; r < rows; r++) this.generated[r].push(symbols[r]);
    const Lp = ++this.length;
    let top = rt.levels.length - 1;
    for (let l = 0; l < rt.levels.length; l++) if (Lp % rt.unit(l) === 0) { top = l; break; }
    for (let l = top; l < rt.levels.length; l++) {
      if (cancel.cancelled) throw new CancelledError();
      const s = this.states[l];
      const unit = rt.unit(l);
      const D = rt.levels[l].dim;
      const restart = l > top;
      const units = new BigInt64Array(rows * unit);
      if (!restart) {
        for (let r = 0; r < rows; r++) for (let u = 0; u < unit; u++) units[r * unit + u] = BigInt(this.symbolAt(r, Lp - unit + u));
      } else {
        units.fill(BigInt(PAD));
      }
      if (l === 0) {
        s.out = await this.stepGlobal(units); // the global cache and the tails hold level 0's state
        continue;
      }
      if (restart) {
        s.ctx = this.states[l - 1].out; // (rows, p, D)
        s.pos = 0;
        s.kv.truncate(0);
      }
      const p = rt.patchSizes[l - 1];
      const ctx = new Float32Array(rows * D);
      for (let r = 0; r < rows; r++) ctx.set(s.ctx.subarray((r * p + s.pos) * D, (r * p + s.pos + 1) * D), r * D);
      const res = await rt.runLevel(l, units, rows, 1, ctx, s.kv);
      s.kv.append(res.news);
      s.pos += 1;
      s.out = res.out;
    }
  }

  /** Keeps only the given rows (candidates that are still generating). */
  keepRows(keep: number[]): void {
    if (keep.length === this.rows) return;
    const pick = (a: Float32Array) => {
      const per = a.length / this.rows;
      const t = new Float32Array(per * keep.length);
      keep.forEach((r, i) => t.set(a.subarray(r * per, (r + 1) * per), i * per));
      return t;
    };
    for (let l = 0; l < this.states.length; l++) {
      const s = this.states[l];
      if (l > 0) {
        s.kv = s.kv.pick(keep);
        s.ctx = pick(s.ctx);
      }
      s.out = pick(s.out);
    }
    this.tails = keep.map((r) => this.tails[r]);
    this.generated = keep.map((r) => this.generated[r]);
    this.rows = keep.length;
  }
}
