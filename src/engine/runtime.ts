// ONNX Runtime sessions for one model: one session per level, execution-provider choice with
// fallback (at creation and at run time), and a typed `runLevel` over the graph contract.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from './api';
import { ONNX, PAD } from './contract';
import { Manifest, ModelError, readManifest, LevelManifest } from './manifest';

/**
 * Keys and values of one level for `rows` rows, per layer [k0, v0, k1, v1, ...], each in a buffer
 * (rows, kvHeads, capacity, headDim) whose positions [0, length) are valid. The graphs take the
 * buffer with `past_length` and return only the new positions' keys and values (see
 * models/training/export.py), so appending S positions copies S positions, and rewinding is
 * free: onnxruntime-node copies every graph output into a fresh JS buffer, and a whole-cache
 * `present` output cost a copy of the cache per call (31 MB per global step at 1 MB of context).
 */
export class KVCache {
  private data: Float32Array[];
  private views: ort.Tensor[] | undefined;
  capacity: number;
  /** Valid positions: only append, truncate and withTail move it. */
  private len = 0;

  constructor(readonly layers: number, readonly heads: number, readonly headDim: number, public rows = 1, capacity = 1) {
    this.capacity = Math.max(1, capacity); // the graphs take buffers of at least one position (export.py)
    this.data = Array.from({ length: 2 * layers }, () => new Float32Array(rows * heads * this.capacity * headDim));
  }

  static forLevel(lv: LevelManifest, rows = 1, capacity = 1): KVCache {
    return new KVCache(lv.layers, lv.kv_heads, lv.head_dim, rows, capacity);
  }

  /** Positions [0, length) hold keys and values (what the graphs read as their past). */
  get length(): number {
    return this.len;
  }

  /**
   * The buffers as the graph's past inputs: (rows, kvHeads, capacity, headDim), or, where one row
   * of one head makes the valid positions contiguous, views of just those (the global level's
   * split attention then scores no unused capacity).
   */
  tensors(): ort.Tensor[] {
    if (this.rows * this.heads === 1) {
      const n = Math.max(1, this.length);
      return this.data.map((d) => new ort.Tensor('float32', d.subarray(0, n * this.headDim), [1, 1, n, this.headDim]));
    }
    this.views ??= this.data.map((d) => new ort.Tensor('float32', d, [this.rows, this.heads, this.capacity, this.headDim]));
    return this.views;
  }

  /** Makes room for `extra` more positions (growing by half again at least, so appends copy rarely). */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.capacity) return;
    this.resize(Math.max(need, Math.ceil(this.capacity * 1.5)));
  }

  private resize(capacity: number): void {
    const { rows, heads, headDim: d } = this;
    const old = this.data;
    const oldCap = this.capacity;
    this.data = old.map((src) => {
      const dst = new Float32Array(rows * heads * capacity * d);
      for (let r = 0; r < rows * heads; r++) dst.set(src.subarray(r * oldCap * d, (r * oldCap + this.length) * d), r * capacity * d);
      return dst;
    });
    this.capacity = capacity;
    this.views = undefined;
  }

  /** Writes new keys/values (rows, kvHeads, S, headDim) at `length` (reserving room) and advances it. */
  append(news: ort.Tensor[]): void {
    const S = (news[0].dims as number[])[2];
    this.write(news.map((t) => t.data as Float32Array), S, this.len);
    this.len += S;
  }

  /**
   * Runs `fn` with `tail` (per position, per layer tensor: one row's (kvHeads, 1, headDim)) written
   * just past the valid positions and counted in `length`, as if appended; afterwards (also when
   * `fn` throws) `length` is what it was and the tail's slots are scratch again. A candidate's
   * global step runs this way over the document's shared cache without copying it.
   */
  async withTail<T>(tail: readonly (readonly Float32Array[])[], fn: () => Promise<T>): Promise<T> {
    const base = this.len;
    // Room for the tail and the position the run adds, before the writes (growing copies only [0, length)).
    this.reserve(tail.length + 1);
    tail.forEach((pos, j) => this.write(pos as Float32Array[], 1, base + j));
    this.len = base + tail.length;
    try {
      return await fn();
    } finally {
      this.len = base;
    }
  }

  /**
   * Writes S positions per row and head from `src` (per layer, (rows, kvHeads, S, headDim)) at
   * position `at`, growing the buffers if needed; `length` is left as it is.
   */
  write(src: Float32Array[], S: number, at: number): void {
    if (at + S > this.capacity) {
      const keep = this.len;
      this.len = Math.min(keep, at);
      this.resize(Math.max(at + S, Math.ceil(this.capacity * 1.5)));
      this.len = keep;
    }
    const { rows, heads, headDim: d, capacity } = this;
    for (let t = 0; t < src.length; t++) {
      const a = src[t];
      const dst = this.data[t];
      if (rows * heads === 1) dst.set(a.subarray(0, S * d), at * d);
      else for (let r = 0; r < rows * heads; r++) dst.set(a.subarray(r * S * d, (r + 1) * S * d), (r * capacity + at) * d);
    }
  }

  /** Keeps the first `length` positions (free: the buffers stay). */
  truncate(length: number): void {
    this.len = Math.min(this.len, Math.max(0, length));
  }

  /** A cache of `rows` rows, each a copy of row 0. */
  tile(rows: number): KVCache {
    return this.pick(new Array<number>(rows).fill(0));
  }

  /** A cache of the given rows only (candidates that are still generating). */
  pick(keep: number[]): KVCache {
    const { heads, headDim: d, capacity } = this;
    const t = new KVCache(this.layers, heads, d, keep.length, capacity);
    const per = heads * capacity * d;
    t.data.forEach((dst, i) => keep.forEach((r, j) => dst.set(this.data[i].subarray(r * per, (r + 1) * per), j * per)));
    t.len = this.len;
    return t;
  }

  bytes(): number {
    return this.data.reduce((a, d) => a + d.byteLength, 0);
  }
}

export interface LevelOutput {
  /** child_context (N, S, p, Dchild) or logits (N, S, V), row-major. */
  out: Float32Array;
  /** Keys and values of the S new positions, per layer: (N, kvHeads, S, headDim). */
  news: ort.Tensor[];
}

export interface RuntimeOptions {
  executionProviders: ExecutionProvider[];
  threads: number;
  /**
   * Fault injection for tests (no GPU here): `simulateEp` serves that provider with CPU kernels
   * under its name, and `failNextRunOn` makes the next run on that provider throw, as a GPU
   * that fails mid-run would. The fallback under test is the real one.
   */
  simulateEp?: ExecutionProvider;
  failNextRunOn?: ExecutionProvider;
}

export class ModelRuntime {
  private sessions: ort.InferenceSession[] = [];
  ep: ExecutionProvider = 'cpu';
  readonly fallbacks: { ep: ExecutionProvider; error: string }[] = [];
  private failNextRunOn?: ExecutionProvider;
  /** Calls and milliseconds spent in run() per level (benchmarks read it). */
  readonly runStats: { calls: number; ms: number }[];

  private constructor(readonly dir: string, readonly manifest: Manifest, private readonly opts: RuntimeOptions) {
    this.failNextRunOn = opts.failNextRunOn;
    this.runStats = manifest.levels.map(() => ({ calls: 0, ms: 0 }));
  }

  get levels(): LevelManifest[] {
    return this.manifest.levels;
  }

  get patchSizes(): number[] {
    return this.manifest.patch_sizes;
  }

  unit(level: number): number {
    return this.manifest.levels[level].unit;
  }

  static async load(dir: string, opts: RuntimeOptions): Promise<ModelRuntime> {
    const manifest = await readManifest(dir);
    const rt = new ModelRuntime(dir, manifest, opts);
    await rt.createSessions(opts.executionProviders);
    return rt;
  }

  private async createSessions(order: ExecutionProvider[]): Promise<void> {
    const candidates = order.includes('cpu') ? order : [...order, 'cpu' as const];
    let lastError: unknown;
    for (const ep of candidates) {
      try {
        const sessions: ort.InferenceSession[] = [];
        for (const f of this.manifest.files) {
          const file = path.join(this.dir, f.path);
          try {
            // enableMemPattern off: the memory pattern is planned per input shape, and ours change
            // with every request (candidates, positions, past length), so with it on the worker's
            // resident memory kept growing over a long session (npm run soak: +14.8 % after warm-up).
            const so: ort.InferenceSession.SessionOptions = {
              executionProviders: [ep === this.opts.simulateEp ? 'cpu' : ep], graphOptimizationLevel: 'all', interOpNumThreads: 1, enableMemPattern: false,
              // Subnormal floats (weights or activations near zero) are many times slower on x86:
              // flushed to zero, the previous bundled weights encoded 256 KB in 370 ms instead of 1,581.
              extra: { session: { set_denormal_as_zero: '1' } },
            };
            // Inner levels run a few positions per call: one thread beats a pool's sync overhead.
            if (f !== this.manifest.files[0]) so.intraOpNumThreads = 1;
            else if (this.opts.threads > 0) so.intraOpNumThreads = this.opts.threads;
            sessions.push(await ort.InferenceSession.create(file, so));
          } catch (e) {
            throw new ModelError(`onnxruntime cannot load it on ${ep}: ${(e as Error).message}`, file);
          }
        }
        sessions.forEach((s, i) => this.checkNames(s, i));
        await Promise.all(this.sessions.map((s) => s.release()));
        this.sessions = sessions;
        this.ep = ep;
        return;
      } catch (e) {
        lastError = e;
        if (e instanceof ModelError && ep === 'cpu') throw e;
        this.fallbacks.push({ ep, error: (e as Error).message });
      }
    }
    throw lastError instanceof Error ? lastError : new ModelError(String(lastError));
  }

  private checkNames(s: ort.InferenceSession, level: number): void {
    const lv = this.levels[level];
    const last = level === this.levels.length - 1;
    const want: string[] = [ONNX.inputUnits, ONNX.pastLength, ...(level > 0 ? [ONNX.inputContext] : [])];
    const wantOut: string[] = [last ? ONNX.outputLogits : ONNX.outputContext];
    for (let i = 0; i < lv.layers; i++) {
      want.push(ONNX.pastKey(i), ONNX.pastValue(i));
      wantOut.push(ONNX.newKey(i), ONNX.newValue(i));
    }
    const file = path.join(this.dir, this.manifest.files[level].path);
    const missing = want.filter((n) => !s.inputNames.includes(n));
    const missingOut = wantOut.filter((n) => !s.outputNames.includes(n));
    if (missing.length || missingOut.length) {
      throw new ModelError(`graph does not match the engine's contract: missing inputs [${missing.join(', ')}], outputs [${missingOut.join(', ')}]; has inputs [${s.inputNames.join(', ')}] (a graph from an older recipe: export it again with models/training/export.py)`, file);
    }
  }

  /**
   * Runs level `level` on S positions of N rows. `units` holds, for each position, the symbols
   * of the unit before it (PAD for none): (N, S, unit). `context` (N, S, D) for levels > 0.
   */
  async runLevel(level: number, units: BigInt64Array, rows: number, steps: number,
    context: Float32Array | null, past: KVCache): Promise<LevelOutput> {
    const lv = this.levels[level];
    const feeds: Record<string, ort.Tensor> = {
      [ONNX.inputUnits]: new ort.Tensor('int64', units, [rows, steps, lv.unit]),
      [ONNX.pastLength]: new ort.Tensor('int64', BigInt64Array.of(BigInt(past.length)), [1]),
    };
    if (level > 0) feeds[ONNX.inputContext] = new ort.Tensor('float32', context!, [rows, steps, lv.dim]);
    const kv = past.tensors();
    for (let i = 0; i < lv.layers; i++) {
      feeds[ONNX.pastKey(i)] = kv[2 * i];
      feeds[ONNX.pastValue(i)] = kv[2 * i + 1];
    }
    const last = level === this.levels.length - 1;
    let res: ort.InferenceSession.OnnxValueMapType;
    try {
      if (this.failNextRunOn && this.failNextRunOn === this.ep) {
        this.failNextRunOn = undefined;
        throw new Error(`simulated ${this.ep} failure`);
      }
      const t0 = performance.now();
      res = await this.sessions[level].run(feeds);
      this.runStats[level].calls++;
      this.runStats[level].ms += performance.now() - t0;
    } catch (e) {
      if (this.ep === 'cpu') throw e;
      // A GPU provider failed while running: fall back to the next one and run again.
      this.fallbacks.push({ ep: this.ep, error: `run failed: ${(e as Error).message}` });
      const order = this.opts.executionProviders;
      await this.createSessions(order.slice(order.indexOf(this.ep) + 1));
      return this.runLevel(level, units, rows, steps, context, past);
    }
    const news: ort.Tensor[] = [];
    for (let i = 0; i < lv.layers; i++) news.push(res[ONNX.newKey(i)] as ort.Tensor, res[ONNX.newValue(i)] as ort.Tensor);
    const out = res[last ? ONNX.outputLogits : ONNX.outputContext] as ort.Tensor;
    return { out: out.data as Float32Array, news };
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
    this.sessions = [];
  }
}

/** (N, S, unit) previous-unit symbols for S consecutive positions of one row, starting at
 * position `first` of a level whose units hold `unit` symbols of `seq` (PAD before the start). */
export function prevUnits(seq: ArrayLike<number>, first: number, steps: number, unit: number, out?: BigInt64Array, offset = 0): BigInt64Array {
  const a = out ?? new BigInt64Array(steps * unit);
  for (let s = 0; s < steps; s++) {
    const base = (first + s - 1) * unit;
    for (let u = 0; u < unit; u++) {
      const i = base + u;
      a[offset + s * unit + u] = BigInt(i >= 0 && i < seq.length ? seq[i] : PAD);
    }
  }
  return a;
}
