// ONNX Runtime sessions for one model: one session per level, execution-provider choice with
// fallback (at creation and at run time), and a typed `runLevel` over the graph contract.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
  /**
   * For tests: skip the check for GPU hardware (`softwareOnlyReason`), so that on a machine whose
   * only WebGPU adapter is a software one the load probe is what decides.
   */
  assumeGpuHardware?: boolean;
}

/** One load probe of a GPU provider against the CPU provider (`ModelRuntime.probes`). */
export interface ProbeResult {
  ep: ExecutionProvider;
  /** The provider's first run (shader compilation, uploads): not compared. */
  firstMs: number;
  /** Best of the timed runs on the provider and on the CPU provider. */
  ms: number;
  cpuMs: number;
  /** Whether the provider serves (faster than the CPU provider). */
  won: boolean;
}

/** How a user serves on a provider the engine would not choose (the reasons say it). */
const ON_PURPOSE = 'to use it anyway, list the providers without "cpu" (megabyte.performance.executionProviders)';
/** Timed runs of the probe per provider (after one untimed first run); a GPU provider that beats the CPU's best stops early. */
const PROBE_RUNS = 3;
/** The probe's global positions: an encode chunk of this many, then one step against them (the split branch). */
const PROBE_GLOBAL_STEPS = 16;

/**
 * Why a GPU provider cannot be a hardware one on this machine, or undefined when it may be (or
 * this cannot be told). Linux only: with no display controller on the PCI bus, no DRM render
 * node and no WSL GPU (/dev/dxg), every WebGPU adapter Dawn finds is a CPU implementation (Mesa's
 * lavapipe/llvmpipe, SwiftShader). onnxruntime-node does not report which adapter its WebGPU
 * provider picked, so elsewhere the load probe decides.
 */
export function softwareOnlyReason(ep: ExecutionProvider): string | undefined {
  if (ep !== 'webgpu' || process.platform !== 'linux') return undefined;
  try {
    if (existsSync('/dev/dxg')) return undefined;
    if (existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return undefined;
    const pci = '/sys/bus/pci/devices';
    // Class 0x03xxxx: display controllers (VGA, 3D, other), including virtual GPUs.
    if (readdirSync(pci).some((d) => readFileSync(path.join(pci, d, 'class'), 'utf8').startsWith('0x03'))) return undefined;
  } catch {
    return undefined; // sysfs unreadable (a sandbox): cannot tell, the probe decides
  }
  return `a software adapter only: this machine has no GPU (no display controller on PCI, no /dev/dri render node), so WebGPU could only run on the CPU (llvmpipe/lavapipe), slower than the CPU provider; ${ON_PURPOSE}`;
}

export class ModelRuntime {
  private sessions: ort.InferenceSession[] = [];
  ep: ExecutionProvider = 'cpu';
  readonly fallbacks: { ep: ExecutionProvider; error: string }[] = [];
  /** The load probes run (a GPU provider with "cpu" in the list is compared with it before serving). */
  readonly probes: ProbeResult[] = [];
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

  /**
   * Serves on the first provider of `order` that can be created (CPU last in any case). When the
   * setting lists "cpu", a GPU provider must also earn its place: not a software adapter
   * (`softwareOnlyReason`) and faster than the CPU provider on a short probe at load. Without
   * "cpu" in the list the first provider that loads serves, whatever it is (a choice on purpose).
   */
  private async createSessions(order: ExecutionProvider[]): Promise<void> {
    const candidates = order.includes('cpu') ? order : [...order, 'cpu' as const];
    const judge = this.opts.executionProviders.includes('cpu');
    let cpu: { sessions: ort.InferenceSession[]; ms: number } | undefined;
    let lastError: unknown;
    try {
      for (const ep of candidates) {
        if (ep !== 'cpu' && judge && !this.opts.assumeGpuHardware) {
          const why = softwareOnlyReason(ep);
          if (why) {
            this.fallbacks.push({ ep, error: why });
            continue;
          }
        }
        let sessions: ort.InferenceSession[];
        try {
          sessions = ep === 'cpu' && cpu ? cpu.sessions : await this.open(ep);
        } catch (e) {
          lastError = e;
          if (e instanceof ModelError && ep === 'cpu') throw e;
          this.fallbacks.push({ ep, error: (e as Error).message });
          continue;
        }
        // A simulated provider runs the CPU's kernels: a probe would compare the CPU with itself.
        if (ep !== 'cpu' && judge && ep !== this.opts.simulateEp) {
          let lost: string | undefined;
          try {
            if (!cpu) {
              const s = await this.open('cpu');
              cpu = { sessions: s, ms: (await this.probe(s, Infinity)).best };
            }
            const p = await this.probe(sessions, cpu.ms);
            const won = p.best < cpu.ms;
            this.probes.push({ ep, firstMs: round(p.first), ms: round(p.best), cpuMs: round(cpu.ms), won });
            if (!won) lost = `slower than the CPU provider on the load probe (${round(p.best)} ms against ${round(cpu.ms)} ms; first run ${round(p.first)} ms): a software adapter or a slow GPU; ${ON_PURPOSE}`;
          } catch (e) {
            lost = `the load probe failed: ${(e as Error).message}`;
          }
          if (lost) {
            await Promise.all(sessions.map((s) => s.release()));
            this.fallbacks.push({ ep, error: lost });
            continue;
          }
        }
        await Promise.all(this.sessions.map((s) => s.release()));
        this.sessions = sessions;
        this.ep = ep;
        return;
      }
    } finally {
      if (cpu && this.sessions !== cpu.sessions) await Promise.all(cpu.sessions.map((s) => s.release()));
    }
    throw lastError instanceof Error ? lastError : new ModelError(String(lastError));
  }

  /** One session per level on `ep`, their names checked against the contract. */
  private async open(ep: ExecutionProvider): Promise<ort.InferenceSession[]> {
    const sessions: ort.InferenceSession[] = [];
    try {
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
      return sessions;
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw e;
    }
  }

  /**
   * The load probe: what one byte of generation and a short encode ask of each level (a global
   * chunk of PROBE_GLOBAL_STEPS positions, one global step against it, a middle and a local
   * patch), on made-up symbols. One untimed first run, then up to PROBE_RUNS timed ones; the
   * best counts. Stops early once a run beats `beat`.
   */
  private async probe(sessions: ort.InferenceSession[], beat: number): Promise<{ first: number; best: number }> {
    const once = async () => {
      const t0 = performance.now();
      const lv0 = this.levels[0];
      const kv = KVCache.forLevel(lv0, 1, PROBE_GLOBAL_STEPS + 1);
      const units = (steps: number, unit: number, rows = 1) => BigInt64Array.from({ length: rows * steps * unit }, (_, i) => BigInt((i * 37) % 256));
      const r0 = await sessions[0].run(this.feeds(0, units(PROBE_GLOBAL_STEPS, lv0.unit), 1, PROBE_GLOBAL_STEPS, null, kv));
      kv.append(this.newsOf(0, r0));
      const r1 = await sessions[0].run(this.feeds(0, units(1, lv0.unit), 1, 1, null, kv));
      let ctx = this.outOf(0, r1);
      for (let l = 1; l < this.levels.length; l++) {
        const lv = this.levels[l];
        const p = this.patchSizes[l - 1];
        const r = await sessions[l].run(this.feeds(l, units(p, lv.unit), 1, p, ctx, KVCache.forLevel(lv)));
        // The next level's context: the first position's children (1, p_l, D_{l+1}).
        if (l + 1 < this.levels.length) ctx = this.outOf(l, r).subarray(0, this.patchSizes[l] * this.levels[l + 1].dim);
      }
      return performance.now() - t0;
    };
    const first = await once();
    let best = Infinity;
    for (let i = 0; i < PROBE_RUNS && best >= beat; i++) best = Math.min(best, await once());
    return { first, best };
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
    const feeds = this.feeds(level, units, rows, steps, context, past);
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
    return { out: this.outOf(level, res), news: this.newsOf(level, res) };
  }

  private feeds(level: number, units: BigInt64Array, rows: number, steps: number, context: Float32Array | null, past: KVCache): Record<string, ort.Tensor> {
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
    return feeds;
  }

  private newsOf(level: number, res: ort.InferenceSession.OnnxValueMapType): ort.Tensor[] {
    const news: ort.Tensor[] = [];
    for (let i = 0; i < this.levels[level].layers; i++) news.push(res[ONNX.newKey(i)] as ort.Tensor, res[ONNX.newValue(i)] as ort.Tensor);
    return news;
  }

  private outOf(level: number, res: ort.InferenceSession.OnnxValueMapType): Float32Array {
    const last = level === this.levels.length - 1;
    return (res[last ? ONNX.outputLogits : ONNX.outputContext] as ort.Tensor).data as Float32Array;
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

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
