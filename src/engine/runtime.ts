// ONNX Runtime sessions for one model: one session per level, execution-provider choice with
// fallback (at creation and at run time), and a typed `runLevel` over the graph contract.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from './api';
import { ONNX, PAD } from './contract';
import { Manifest, ModelError, readManifest, LevelManifest } from './manifest';

/** Keys and values of one level, per layer: [k0, v0, k1, v1, ...], each (N, kvHeads, P, headDim). */
export type KV = ort.Tensor[];

export interface LevelOutput {
  /** child_context (N, S, p, Dchild) or logits (N, S, V), row-major. */
  out: Float32Array;
  present: KV;
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
    const want: string[] = [ONNX.inputUnits, ...(level > 0 ? [ONNX.inputContext] : [])];
    const wantOut: string[] = [last ? ONNX.outputLogits : ONNX.outputContext];
    for (let i = 0; i < lv.layers; i++) {
      want.push(ONNX.pastKey(i), ONNX.pastValue(i));
      wantOut.push(ONNX.presentKey(i), ONNX.presentValue(i));
    }
    const file = path.join(this.dir, this.manifest.files[level].path);
    const missing = want.filter((n) => !s.inputNames.includes(n));
    const missingOut = wantOut.filter((n) => !s.outputNames.includes(n));
    if (missing.length || missingOut.length) {
      throw new ModelError(`graph does not match the engine's contract: missing inputs [${missing.join(', ')}], outputs [${missingOut.join(', ')}]; has inputs [${s.inputNames.join(', ')}]`, file);
    }
  }

  emptyPast(level: number, rows: number): KV {
    const lv = this.levels[level];
    const kv: KV = [];
    for (let i = 0; i < 2 * lv.layers; i++) kv.push(new ort.Tensor('float32', new Float32Array(0), [rows, lv.kv_heads, 0, lv.head_dim]));
    return kv;
  }

  /**
   * Runs level `level` on S positions of N rows. `units` holds, for each position, the symbols
   * of the unit before it (PAD for none): (N, S, unit). `context` (N, S, D) for levels > 0.
   */
  async runLevel(level: number, units: BigInt64Array, rows: number, steps: number,
    context: Float32Array | null, past: KV): Promise<LevelOutput> {
    const lv = this.levels[level];
    const feeds: Record<string, ort.Tensor> = {
      [ONNX.inputUnits]: new ort.Tensor('int64', units, [rows, steps, lv.unit]),
    };
    if (level > 0) feeds[ONNX.inputContext] = new ort.Tensor('float32', context!, [rows, steps, lv.dim]);
    for (let i = 0; i < lv.layers; i++) {
      feeds[ONNX.pastKey(i)] = past[2 * i];
      feeds[ONNX.pastValue(i)] = past[2 * i + 1];
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
    const present: KV = [];
    for (let i = 0; i < lv.layers; i++) present.push(res[ONNX.presentKey(i)] as ort.Tensor, res[ONNX.presentValue(i)] as ort.Tensor);
    const out = res[last ? ONNX.outputLogits : ONNX.outputContext] as ort.Tensor;
    return { out: out.data as Float32Array, present };
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

/** Keeps the first `length` positions of a KV cache (axis 2). */
export function sliceKV(kv: KV, length: number): KV {
  return kv.map((t) => {
    const [n, h, p, d] = t.dims as number[];
    if (length >= p) return t;
    const src = t.data as Float32Array;
    const dst = new Float32Array(n * h * length * d);
    for (let r = 0; r < n * h; r++) dst.set(src.subarray(r * p * d, r * p * d + length * d), r * length * d);
    return new ort.Tensor('float32', dst, [n, h, length, d]);
  });
}

/** Repeats row 0 of a KV cache `rows` times (a shared prefix forked into N candidates). */
export function tileKV(kv: KV, rows: number): KV {
  return kv.map((t) => {
    const [, h, p, d] = t.dims as number[];
    const src = (t.data as Float32Array).subarray(0, h * p * d);
    const dst = new Float32Array(rows * src.length);
    for (let r = 0; r < rows; r++) dst.set(src, r * src.length);
    return new ort.Tensor('float32', dst, [rows, h, p, d]);
  });
}

export function kvBytes(kv: KV | undefined): number {
  return kv ? kv.reduce((a, t) => a + (t.data as Float32Array).byteLength, 0) : 0;
}
