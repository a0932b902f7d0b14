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
import * as ort from 'onnxruntime-node';
import { KV, ModelRuntime, prevUnits, sliceKV, tileKV, kvBytes } from './runtime';

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
  past: KV | undefined;
  pos = 0;
  /** child_context of position pos-1: (p0, D1), or logits (V) for a one-level (plain) model. */
  out: Float32Array | undefined;
  /** Global positions run so far (a work counter: tests and benchmarks read it). */
  positionsRun = 0;

  bytes(): number {
    return kvBytes(this.past) + this.stream.byteLength;
  }

  reset(): void {
    this.stream = new Uint16Array(0);
    this.past = undefined;
    this.pos = 0;
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
    cache.past = keep > 0 && cache.past ? sliceKV(cache.past, keep) : undefined;
    cache.pos = keep;
    cache.out = undefined;
  }
  cache.stream = stream.slice(0, length);
  const outSize = rt.levels.length > 1 ? rt.patchSizes[0] * rt.levels[1].dim : 260;
  const start = cache.pos;
  while (cache.pos < target) {
    if (opts.cancel.cancelled) throw new CancelledError();
    const steps = Math.min(opts.chunkPatches, target - cache.pos);
    const units = prevUnits(stream, cache.pos, steps, U0);
    const res = await rt.runLevel(0, units, 1, steps, null, cache.past ?? rt.emptyPast(0, 1));
    cache.past = res.present;
    cache.pos += steps;
    cache.positionsRun += steps;
    cache.out = res.out.slice((steps - 1) * outSize, steps * outSize);
    opts.progress?.(cache.pos - start, target - start);
    if (opts.pause) await opts.pause();
  }
}

interface LevelState {
  past: KV;
  /** Positions run in the current sequence of this level. */
  pos: number;
  /** Context from the parent for this level's current sequence: (rows, p, D); unused at level 0. */
  ctx: Float32Array;
  /** Output of the last position run: (rows, p_child, D_child) or logits (rows, V). */
  out: Float32Array;
}

/**
 * Decoding state for `rows` candidates that share a primed prefix and advance in lockstep (one
 * symbol each per step), so every level runs as one batch of `rows` (patch-parallel candidates).
 */
export class Decoder {
  private states: LevelState[] = [];
  rows = 1;
  length: number;
  private generated: number[][] = [[]];
  private globalForked = false;

  constructor(private readonly rt: ModelRuntime, private readonly prefix: Uint16Array, private readonly global: GlobalCache) {
    this.length = prefix.length;
  }

  private outSize(level: number): number {
    const rt = this.rt;
    return level === rt.levels.length - 1 ? 260 : rt.patchSizes[level] * rt.levels[level + 1].dim;
  }

  private symbolAt(row: number, i: number): number {
    return i < this.prefix.length ? this.prefix[i] : this.generated[row][i - this.prefix.length];
  }

  /** Runs levels 1.. on the partial top patch at the end of the prefix (batch 1). The global cache must be encoded to prefix.length. */
  async prime(): Promise<void> {
    const rt = this.rt;
    const L = this.prefix.length;
    const g = this.global;
    if (!g.out || !g.past) throw new Error('global cache not encoded');
    this.states = [{ past: g.past, pos: g.pos, ctx: new Float32Array(0), out: g.out }];
    for (let l = 1; l < rt.levels.length; l++) {
      const parentUnit = rt.unit(l - 1);
      const unit = rt.unit(l);
      const base = Math.floor(L / parentUnit) * parentUnit;
      const steps = Math.floor((L - base) / unit) + 1;
      const D = rt.levels[l].dim;
      const ctx = this.states[l - 1].out; // (1, p, D)
      const units = prevUnits(this.prefix.subarray(base), 0, steps, unit);
      const res = await rt.runLevel(l, units, 1, steps, ctx.subarray(0, steps * D), rt.emptyPast(l, 1));
      const os = this.outSize(l);
      this.states.push({ past: res.present, pos: steps, ctx, out: res.out.slice((steps - 1) * os, steps * os) });
    }
  }

  /** Logits (rows, V) for the next symbol of each row. */
  get logits(): Float32Array {
    return this.states[this.states.length - 1].out;
  }

  /** Copies the batch-1 state into `rows` candidates. The global level stays shared until a candidate crosses a top patch. */
  fork(rows: number): void {
    if (rows === this.rows) return;
    this.rows = rows;
    this.generated = Array.from({ length: rows }, () => []);
    for (let l = 0; l < this.states.length; l++) {
      const s = this.states[l];
      const tile = (a: Float32Array) => {
        const t = new Float32Array(a.length * rows);
        for (let r = 0; r < rows; r++) t.set(a, r * a.length);
        return t;
      };
      if (l > 0) {
        s.past = tileKV(s.past, rows);
        s.ctx = tile(s.ctx);
      }
      s.out = tile(s.out);
    }
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
        units.fill(BigInt(260)); // PAD
      }
      let ctx: Float32Array | null = null;
      if (l > 0) {
        if (restart) {
          s.ctx = this.states[l - 1].out; // (rows, p, D)
          s.pos = 0;
          s.past = rt.emptyPast(l, rows);
        }
        const p = rt.patchSizes[l - 1];
        ctx = new Float32Array(rows * D);
        for (let r = 0; r < rows; r++) ctx.set(s.ctx.subarray((r * p + s.pos) * D, (r * p + s.pos + 1) * D), r * D);
      } else if (!this.globalForked && rows > 1) {
        s.past = tileKV(s.past, rows);
        this.globalForked = true;
      }
      const res = await rt.runLevel(l, units, rows, 1, ctx, s.past);
      s.past = res.present;
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
      if (l > 0 || this.globalForked || keep.length === 0) {
        s.past = s.past.map((t) => {
          const [, h, p, d] = t.dims as number[];
          return new ort.Tensor('float32', pick(t.data as Float32Array), [keep.length, h, p, d]);
        });
      }
      if (l > 0) s.ctx = pick(s.ctx);
      s.out = pick(s.out);
    }
    this.generated = keep.map((r) => this.generated[r]);
    this.rows = keep.length;
  }
}
