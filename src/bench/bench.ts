// npm run bench [-- --quick] [--model DIR] [--baseline DIR] [--ep cpu,...] [--threads N]
//
// MEGABYTE against a plain byte-level transformer of about the same size, each measurement side
// by side with its baseline in the same run: encode time vs length, keystroke latency,
// generation speed, peak memory, event-loop stalls of the extension host's thread, and quality
// (bits per byte against xz/zstd/zpaq, long-context gain, next-line exact match).
// stdout: one JSON object per measurement, the summary object last. Progress goes to stderr.
// Writes test/bench/results-<date>[-quick].md and .json, and the plots next to them.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DEFAULT_INDEX_BYTES, EXECUTION_PROVIDERS, type CompleteRequest, type ExecutionProvider } from '../engine/api';
import { startEngine } from '../engine/client';
import { BOS } from '../engine/contract';
import { encodeGlobal, GlobalCache, NEVER_CANCELLED } from '../engine/decoder';
import { EngineCore } from '../engine/engine';
import { compressorBpb, heldoutSample, HeldoutFile, loadSource, longHeldout, prefixText, Source, TYPESCRIPT_JS } from './sample';
import { fitTrend, median, percentile, round } from './stats';
import type { Line, ModelRef } from './lines';
import { writeReport } from './report';
import { intFlag, noPositional, parseArgs, stringFlag, UsageError, type FlagTable } from '../cli/args';

const KB = 1024;
/** Keystrokes the baseline types even past its time cap (percentiles of fewer mean nothing). */
const MIN_KEYSTROKES = 3;
const MB = 1024 * 1024;

export interface Config {
  quick: boolean;
  /** The GPU profile: the timings on the given provider, then PyTorch running the same model there (the ceiling); no quality. */
  gpu: boolean;
  /** Bits per byte, long-context gain and next-line match (they do not depend on the provider). */
  quality: boolean;
  encodeLengths: number[];
  /** Baseline encode lengths whose predicted time exceeds this are extrapolated, not run. */
  baselineEncodeBudgetS: number;
  keystrokeDocs: number[];
  keystrokes: number;
  /** The document the plain baseline types into (and generates in), MEGABYTE alongside. */
  baselineDoc: number;
  /** Wall-clock cap on the baseline's keystrokes after its warm-up (at least MIN_KEYSTROKES run). */
  baselineKeystrokeBudgetS: number;
  /** timeBudgetMs of the baseline's generation requests (bytes/s stays a valid rate when cut). */
  baselineGenBudgetMs: number;
  memoryBytes: number;
  responsivenessBytes: number;
  heldoutBytes: number;
  /** Largest file the held-out sample takes (eval.py heldout_files' max_file). */
  heldoutMaxFile: number;
  nextLines: number;
  longContext: boolean;
  /** Files of the synthetic workspace the worker lists (measureWorkspace). */
  workspaceFiles: number;
}

const FULL: Config = {
  quick: false,
  gpu: false,
  quality: true,
  encodeLengths: [1 * KB, 8 * KB, 64 * KB, 256 * KB, 1 * MB],
  baselineEncodeBudgetS: 120,
  keystrokeDocs: [10 * KB, 1 * MB],
  keystrokes: 40,
  baselineDoc: 10 * KB,
  baselineKeystrokeBudgetS: 240,
  baselineGenBudgetMs: 60_000,
  memoryBytes: 1 * MB,
  responsivenessBytes: 1 * MB,
  heldoutBytes: 200 * KB,
  heldoutMaxFile: 1 * MB,
  nextLines: 30,
  longContext: true,
  workspaceFiles: 50_000,
};

// --quick keeps to about a minute on 2 cores: the plain model is too slow for 10 KB documents
// there (about 30 s to encode one), so its side-by-side document is 2 KB.
const QUICK: Config = {
  quick: true,
  gpu: false,
  quality: true,
  encodeLengths: [1 * KB, 8 * KB, 64 * KB],
  baselineEncodeBudgetS: 3,
  keystrokeDocs: [10 * KB, 64 * KB],
  keystrokes: 12,
  baselineDoc: 2 * KB,
  baselineKeystrokeBudgetS: 8,
  baselineGenBudgetMs: 2500,
  memoryBytes: 64 * KB,
  responsivenessBytes: 256 * KB,
  heldoutBytes: 30 * KB,
  heldoutMaxFile: 16 * KB,
  nextLines: 10,
  longContext: false,
  workspaceFiles: 5_000,
};

// --gpu: one prepared command on a lent GPU machine, well inside its 10-minute limit (the baseline
// budgets are cut; quality is the same on every provider and is left to the CPU runs).
const GPU: Config = {
  ...FULL,
  gpu: true,
  quality: false,
  encodeLengths: [8 * KB, 64 * KB, 256 * KB, 1 * MB],
  baselineEncodeBudgetS: 30,
  baselineKeystrokeBudgetS: 30,
  baselineGenBudgetMs: 10_000,
};


const ROOT = repoRoot();
const T0 = performance.now();
const now = () => performance.now();
const lines: Line[] = [];

function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(path.join(d, 'package.json')) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

function emit(line: Line): Line {
  lines.push(line);
  console.log(JSON.stringify(line));
  return line;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${((now() - T0) / 1000).toFixed(1)} s] ${msg}\n`);
}

interface Flags {
  quick: boolean;
  gpu: boolean;
  /** Python for the ceiling and the baseline's export (a GPU machine brings its own PyTorch); default: the project's .venv. */
  python?: string;
  torchDevice: string;
  /** A JSON line of models/training/ceiling.py measured apart, instead of running it here. */
  ceiling?: string;
  model: string;
  baseline?: string;
  ep: ExecutionProvider[];
  threads: number;
  /** Run one part alone (see ONLY_PARTS). */
  only?: OnlyPart;
  child?: string;
  bytes: number;
}

/** The parts --only can run alone. */
const ONLY_PARTS = ['memory', 'workspace'] as const;
type OnlyPart = (typeof ONLY_PARTS)[number];

/** The bench's flags; `--child` and `--bytes` are how it runs its own memory child processes. */
export const BENCH_FLAGS = {
  quick: { help: 'about a minute: shorter documents, fewer keystrokes, a smaller held-out sample' },
  gpu: { help: 'the GPU profile: timings on --ep, then PyTorch on the same model (the ceiling); no quality' },
  python: { value: 'EXE', help: "Python for the ceiling and the baseline's export (default: the project's .venv)" },
  'torch-device': { value: 'DEV', help: 'PyTorch device of the ceiling (default cuda)' },
  ceiling: { value: 'FILE', help: 'a JSON line of models/training/ceiling.py measured apart' },
  model: { value: 'DIR', help: 'the MEGABYTE model (default models/mb-small)' },
  baseline: { value: 'DIR', help: 'the plain baseline (default: exported from the recipe checkpoint)' },
  ep: { value: 'cpu,...', help: 'execution providers, in order (default cpu)' },
  threads: { value: 'N', help: 'CPU threads, 0: onnxruntime decides' },
  only: { value: ONLY_PARTS.join('|'), help: 'run one part alone and print its lines (no report is written)' },
  child: { value: 'memory', help: '(internal) one memory measurement in this process' },
  bytes: { value: 'N', help: '(internal) document bytes of a memory child, 0: none' },
} as const satisfies FlagTable;

function parseFlags(argv: string[]): Flags {
  const p = parseArgs(argv, BENCH_FLAGS);
  noPositional(p, BENCH_FLAGS);
  const dir = (name: string) => (stringFlag(p, name) !== undefined ? path.resolve(stringFlag(p, name) as string) : undefined);
  const ep = (stringFlag(p, 'ep') ?? 'cpu').split(',');
  const bad = ep.find((e) => !(EXECUTION_PROVIDERS as readonly string[]).includes(e));
  if (bad !== undefined) throw new UsageError(`--ep: unknown execution provider ${bad} (known: ${EXECUTION_PROVIDERS.join(', ')})`);
  const only = stringFlag(p, 'only');
  if (only !== undefined && !(ONLY_PARTS as readonly string[]).includes(only)) throw new UsageError(`--only must be one of ${ONLY_PARTS.join(', ')}, got ${only}`);
  const child = stringFlag(p, 'child');
  if (child !== undefined && child !== 'memory') throw new UsageError(`--child must be memory, got ${child}`);
  if (p.flags.has('quick') && p.flags.has('gpu')) throw new UsageError('--quick and --gpu are two profiles: give one');
  return {
    quick: p.flags.has('quick'), gpu: p.flags.has('gpu'), python: stringFlag(p, 'python'), torchDevice: stringFlag(p, 'torch-device') ?? 'cuda',
    ceiling: dir('ceiling'), model: dir('model') ?? path.join(ROOT, 'models', 'mb-small'), baseline: dir('baseline'),
    ep: ep as ExecutionProvider[], threads: intFlag(p, 'threads', 0, 0, 256), only: only as OnlyPart | undefined, child,
    bytes: intFlag(p, 'bytes', 0, 0, 1_000_000_000),
  };
}

// ---- models -------------------------------------------------------------------------------

function modelRef(dir: string): ModelRef {
  const raw = readFileSync(path.join(dir, 'manifest.json'));
  const m = JSON.parse(raw.toString('utf8'));
  return {
    name: m.name, dir: path.relative(ROOT, dir) || dir, architecture: m.architecture, parameters: m.parameters?.total,
    manifest_sha256: createHash('sha256').update(raw).digest('hex'),
    weights: m.weights === 'random' || !m.training ? 'random' : 'trained',
    training_steps: typeof m.training?.steps === 'number' ? m.training.steps : null,
  };
}

/**
 * The plain baseline: the trained checkpoint models/training/checkpoints/plain-small.pt (the
 * equal-compute run, see models/training/README.md) exported into .cache/bench, else a
 * random-initialised export (timing only: its bits per byte mean nothing).
 */
function baselineDir(flag?: string, pythonExe?: string): string {
  if (flag) return flag;
  const python = (args: string[], what: string) => {
    const [cmd, all] = pythonExe ? [pythonExe, args] : [process.execPath, ['scripts/python.mjs', ...args]];
    const r = spawnSync(cmd, all, { cwd: ROOT, stdio: ['ignore', 2, 2] }); // stdout stays JSON lines
    if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status})`);
  };
  const ckpt = path.join(ROOT, 'models', 'training', 'checkpoints', 'plain-small.pt');
  if (existsSync(ckpt)) {
    const dir = path.join(ROOT, '.cache', 'bench', 'plain-small-trained');
    const sha = createHash('sha256').update(readFileSync(ckpt)).digest('hex');
    const stamp = path.join(dir, 'checkpoint.sha256');
    if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== sha) {
      log('exporting the trained plain-small baseline into .cache/bench/plain-small-trained');
      python(['models/training/export.py', '--checkpoint', ckpt, '--out', dir, '--name', 'plain-small',
        '--description', 'plain byte-level transformer, trained by the recipe (equal-compute baseline)'], 'export.py');
      writeFileSync(stamp, sha);
    }
    return dir;
  }
  const dir = path.join(ROOT, '.cache', 'bench', 'plain-small');
  if (!existsSync(path.join(dir, 'manifest.json'))) {
    log('exporting a random-initialised plain-small baseline into .cache/bench/plain-small');
    python(['models/training/export_random.py', '--preset', 'plain-small', '--out', dir], 'export_random.py');
  }
  return dir;
}

// ---- 7. the GPU ceiling ---------------------------------------------------------------------

/**
 * PyTorch (bf16 autocast) running one exact forward pass of the same model over the same bytes
 * as the engine's largest encode, on `--torch-device` (models/training/ceiling.py). The engine
 * issue's GPU target: the engine's encode within 3x of it.
 */
function measureCeiling(cfg: Config, f: Flags, src: Source): void {
  const n = cfg.encodeLengths[cfg.encodeLengths.length - 1];
  let last: string | undefined;
  if (f.ceiling) {
    last = readFileSync(f.ceiling, 'utf8').trim().split('\n').pop(); // measured apart (scripts/gpu-bench.sh says why)
  } else {
    const ckpt = path.join(ROOT, 'models', 'training', 'checkpoints', `${path.basename(f.model)}.pt`);
    if (!existsSync(ckpt)) {
      emit({ measure: 'ceiling', skipped: `no checkpoint ${path.relative(ROOT, ckpt)} for ${path.relative(ROOT, f.model)}` });
      return;
    }
    const file = path.join(ROOT, '.cache', 'bench', `ceiling-${n}.bin`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(prefixText(src.bytes, n), 'utf8'));
    log(`ceiling: PyTorch bf16 on ${f.torchDevice}, ${n} bytes`);
    const script = ['models/training/ceiling.py', '--checkpoint', ckpt, '--file', file, '--device', f.torchDevice, '--dtype', 'bf16'];
    const [cmd, args] = f.python ? [f.python, script] : [process.execPath, ['scripts/python.mjs', ...script]];
    const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
    if (r.status === 0) last = r.stdout?.trim().split('\n').pop();
    else {
      emit({ measure: 'ceiling', skipped: `ceiling.py failed (exit ${r.status})` });
      return;
    }
  }
  if (!last) {
    emit({ measure: 'ceiling', skipped: 'no figure from ceiling.py' });
    return;
  }
  const ceiling = JSON.parse(last) as Line & { ms: number; bytes: number };
  if (ceiling.bytes !== Buffer.byteLength(prefixText(src.bytes, n))) log(`ceiling: measured over ${ceiling.bytes} bytes, the engine encoded ${n}`);
  const enc = lines.find((l) => l.measure === 'encode' && l.bytes === n) as (Line & { megabyte_ms: number }) | undefined;
  emit({
    ...ceiling, engine_ep: f.ep[0], engine_encode_ms: enc?.megabyte_ms ?? null,
    ratio: enc ? round(enc.megabyte_ms / ceiling.ms, 2) : null, target_ratio: 3, met: enc ? enc.megabyte_ms <= 3 * ceiling.ms : null,
  });
}

// ---- helpers --------------------------------------------------------------------------------

function request(uri: string, version: number, offset: number, extra: Partial<CompleteRequest> = {}): CompleteRequest {
  return { uri, version, offset, candidates: 3, maxBytes: 48, temperature: 0, topP: 1, stop: 'line', timeBudgetMs: 60_000, ...extra };
}

/** The longest event-loop stall of this thread while it runs: histogram (1 ms resolution) and a 1 ms interval's largest gap. */
function stallMonitor(): { stop(): { max_delay_ms: number; p99_delay_ms: number; max_interval_gap_ms: number; gaps_over_50ms: number } } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let last = now();
  let maxGap = 0;
  let over50 = 0;
  const timer = setInterval(() => {
    const t = now();
    maxGap = Math.max(maxGap, t - last);
    if (t - last > 50) over50++;
    last = t;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      maxGap = Math.max(maxGap, now() - last);
      h.disable();
      return { max_delay_ms: round(h.max / 1e6), p99_delay_ms: round(h.percentile(99) / 1e6), max_interval_gap_ms: round(maxGap), gaps_over_50ms: over50 };
    },
  };
}

function runStatsDelta(core: EngineCore, before: { calls: number; ms: number }[]): { calls: number; ms: number }[] {
  return core.rt.runStats.map((s, i) => ({ calls: s.calls - before[i].calls, ms: round(s.ms - before[i].ms) }));
}

const snapshot = (core: EngineCore) => core.rt.runStats.map((s) => ({ ...s }));

// ---- 1. encode time vs length ---------------------------------------------------------------

async function measureEncode(cfg: Config, mb: EngineCore, plain: EngineCore, src: Source, baselineWeights: string): Promise<void> {
  const encodeMb = async (n: number) => {
    const text = prefixText(src.bytes, n);
    const reps = n <= 8 * KB ? 3 : 1;
    const times: number[] = [];
    let positions = 0;
    let ort = 0;
    for (let r = 0; r < reps; r++) {
      const uri = `encode-${n}-${r}`;
      mb.sync(uri, 1, text);
      const before = snapshot(mb);
      const t0 = now();
      await mb.preEncode(uri, undefined, NEVER_CANCELLED);
      times.push(now() - t0);
      positions = mb.work(uri).positionsRun;
      ort = runStatsDelta(mb, before)[0].ms;
      mb.close(uri);
    }
    return { ms: median(times), positions, ort };
  };
  // The baseline: the same encodeGlobal over BOS + bytes, in chunks of 512 positions (measured
  // fastest for the plain model here; the engine's preEncode would use 64).
  const encodePlain = async (n: number) => {
    const bytes = Buffer.from(prefixText(src.bytes, n), 'utf8');
    const stream = new Uint16Array(bytes.length + 1);
    stream[0] = BOS;
    stream.set(bytes, 1);
    const cache = new GlobalCache();
    const t0 = now();
    await encodeGlobal(plain.rt, cache, stream, stream.length, { chunkPatches: 512, cancel: NEVER_CANCELLED });
    return { ms: now() - t0, positions: cache.positionsRun };
  };
  await encodeMb(256); // first runs allocate: keep them out of the table
  await encodePlain(256);

  const measured: { n: number; t: number; positions: number }[] = [];
  const skipped: number[] = [];
  const budget = cfg.baselineEncodeBudgetS * 1000;
  for (const n of cfg.encodeLengths) {
    if (skipped.length || (measured.length && fitTrend(measured).predict(n) > budget)) {
      skipped.push(n);
      continue;
    }
    log(`encode: baseline ${n} bytes`);
    const r = await encodePlain(n);
    measured.push({ n, t: r.ms, positions: r.positions });
  }
  // Fit points: double the longest measured length while its prediction stays within the budget.
  const fitPoints: number[] = [];
  for (;;) {
    const last = measured[measured.length - 1].n * 2;
    if (last >= cfg.encodeLengths[cfg.encodeLengths.length - 1] || cfg.encodeLengths.includes(last)) break;
    if (fitTrend(measured).predict(last) > budget) break;
    log(`encode: baseline ${last} bytes (fit point)`);
    const r = await encodePlain(last);
    measured.push({ n: last, t: r.ms, positions: r.positions });
    fitPoints.push(last);
  }
  const trend = fitTrend(measured);
  const all = [...cfg.encodeLengths, ...fitPoints].sort((a, b) => a - b);
  for (const n of all) {
    log(`encode: MEGABYTE ${n} bytes`);
    const m = await encodeMb(n);
    const b = measured.find((p) => p.n === n);
    const baselineMs = b ? b.t : trend.predict(n);
    emit({
      measure: 'encode', bytes: n, megabyte_ms: round(m.ms), megabyte_ort_ms: round(m.ort), megabyte_global_positions: m.positions,
      baseline_ms: round(baselineMs), baseline_positions: b ? b.positions : n + 1, extrapolated: !b,
      ratio: round(baselineMs / m.ms, 2), fit_point: fitPoints.includes(n) || undefined,
      baseline_weights: baselineWeights, source: src.name,
    });
  }
  emit({
    measure: 'encode_trend', model: 'baseline', formula: 't_ms = a*n + b*n^2', a: trend.a, b: trend.b,
    from_lengths: measured.map((p) => p.n), budget_s: cfg.baselineEncodeBudgetS,
  });
}

// ---- 2. keystroke latency -------------------------------------------------------------------

interface Typed {
  uri: string;
  version: number;
  offset: number;
}

/** A real line at or after 80% of the text: the first with at least `want` characters after its indent, else the longest. */
function pickLine(text: string, want: number): { start: number; end: number; indent: string; content: string } {
  let start = text.indexOf('\n', Math.floor(text.length * 0.8)) + 1;
  let best: { start: number; end: number; indent: string; content: string } | undefined;
  while (start > 0 && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    const indent = /^[ \t]*/.exec(line)![0];
    const content = line.slice(indent.length).replace(/\s+$/, '');
    if (!best || content.length > best.content.length) best = { start, end, indent, content };
    if (content.length >= want) break;
    start = end + 1;
  }
  if (!best) return { start: text.length, end: text.length, indent: '', content: 'x'.repeat(want) };
  return best;
}

/** What the extension asks for with its default settings (src/extension/config.ts): 3 candidates, up to 256 bytes, to the end of the block. */
const EXTENSION_DEFAULTS: Partial<CompleteRequest> = { candidates: 3, maxBytes: 256, stop: 'block', timeBudgetMs: 2000 };

async function replayTyping(core: EngineCore, label: string, text: string, keystrokes: number, budgetMs: number, onWarm?: () => void, settings: Partial<CompleteRequest> = {}) {
  const uri = `typing-${label}-${Buffer.byteLength(text)}`;
  const line = pickLine(text, keystrokes);
  const before = text.slice(0, line.start) + line.indent;
  const after = text.slice(line.end);
  let version = 1;
  const t0 = now();
  core.sync(uri, version, before + after);
  await core.preEncode(uri, before.length, NEVER_CANCELLED); // what the worker does between keystrokes
  const warmMs = now() - t0;
  onWarm?.();
  const t1 = now();
  const chars = Array.from(line.content).slice(0, keystrokes);
  const first: number[] = [];
  const wall: number[] = [];
  const encode: number[] = [];
  const positions: number[] = [];
  const stats0 = snapshot(core);
  let typed = '';
  for (const ch of chars) {
    if (first.length >= MIN_KEYSTROKES && now() - t1 > budgetMs) break;
    typed += ch;
    version++;
    const doc = before + typed + after;
    const k0 = now();
    core.sync(uri, version, doc);
    const p0 = core.work(uri).positionsRun;
    const r = await core.complete(request(uri, version, before.length + typed.length, settings));
    wall.push(now() - k0);
    first.push(r.ms.first);
    encode.push(r.ms.encode);
    positions.push(core.work(uri).positionsRun - p0);
  }
  const n = wall.length;
  const perLevel = runStatsDelta(core, stats0).map((s) => ({ calls_per_keystroke: round(s.calls / Math.max(1, n)), ms_per_keystroke: round(s.ms / Math.max(1, n)) }));
  const typedState: Typed = { uri, version, offset: before.length + typed.length };
  return {
    result: {
      keystrokes: n, line: line.indent + line.content.slice(0, 80), warm_ms: round(warmMs),
      first_p50_ms: round(percentile(first, 50)), first_p95_ms: round(percentile(first, 95)),
      wall_p50_ms: round(percentile(wall, 50)), wall_p95_ms: round(percentile(wall, 95)),
      encode_p50_ms: round(percentile(encode, 50)),
      global_positions_per_keystroke: round(positions.reduce((a, b) => a + b, 0) / Math.max(1, n), 2),
      ort_per_level: perLevel, cut_by_budget: n < chars.length || undefined,
    },
    typed: typedState,
  };
}

async function measureKeystrokes(cfg: Config, mb: EngineCore, plain: EngineCore, src: Source, baselineWeights: string): Promise<{ mbTyped: Typed; plainTyped: Typed; inProcessStall: Line }> {
  const docs = [...new Set([cfg.baselineDoc, ...cfg.keystrokeDocs])].sort((a, b) => a - b);
  const largest = docs[docs.length - 1];
  let mbTyped: Typed | undefined;
  let inProcessStall: Line | undefined;
  for (const n of docs) {
    const text = prefixText(src.bytes, n);
    log(`keystrokes: MEGABYTE, ${n} byte document`);
    // The in-process baseline of measurement 5: the engine on this thread while it encodes.
    const mon = n === largest ? stallMonitor() : undefined;
    let stall: ReturnType<ReturnType<typeof stallMonitor>['stop']> | undefined;
    const r = await replayTyping(mb, 'mb', text, cfg.keystrokes, Infinity, () => { stall = mon?.stop(); });
    if (stall) inProcessStall = { measure: 'stall_in_process', bytes: n, phase: 'encode, EngineCore on the main thread', ...stall, ms: r.result.warm_ms };
    if (n === cfg.baselineDoc) mbTyped = r.typed;
    emit({ measure: 'keystroke', model: 'megabyte', doc_bytes: n, ...r.result, baseline_side_by_side: n === cfg.baselineDoc });
  }
  // The figures above ask for 48 bytes to the end of the line; the editor by default asks for up to
  // 256 bytes to the end of the block, so a candidate may cross several top patches: measure that too.
  log(`keystrokes: MEGABYTE, ${largest} byte document, the extension's default request`);
  const d = await replayTyping(mb, 'mb-defaults', prefixText(src.bytes, largest), cfg.keystrokes, Infinity, undefined, EXTENSION_DEFAULTS);
  emit({ measure: 'keystroke', model: 'megabyte', doc_bytes: largest, settings: 'extension defaults (3 candidates, 256 bytes, block)', ...d.result });
  mb.close(d.typed.uri);
  log(`keystrokes: baseline, ${cfg.baselineDoc} byte document (budget ${cfg.baselineKeystrokeBudgetS} s)`);
  const b = await replayTyping(plain, 'plain', prefixText(src.bytes, cfg.baselineDoc), cfg.keystrokes, cfg.baselineKeystrokeBudgetS * 1000);
  emit({ measure: 'keystroke', model: 'baseline', doc_bytes: cfg.baselineDoc, ...b.result, baseline_weights: baselineWeights });
  return { mbTyped: mbTyped!, plainTyped: b.typed, inProcessStall: inProcessStall! };
}

// ---- 3. generation speed --------------------------------------------------------------------

async function generate(core: EngineCore, t: Typed, candidates: number, budgetMs: number) {
  const r = await core.complete(request(t.uri, t.version, t.offset, { candidates, maxBytes: 256, stop: 'budget', timeBudgetMs: budgetMs }));
  const bytes = r.candidates.reduce((a, c) => a + Buffer.byteLength(c.text, 'utf8'), 0);
  const seconds = Math.max(1e-6, (r.ms.total - r.ms.encode) / 1000);
  return {
    candidates, bytes, seconds: round(seconds, 3), bytes_per_s: round(bytes / seconds), per_candidate_bytes_per_s: round(bytes / candidates / seconds),
    stopped_by: [...new Set(r.candidates.map((c) => c.stoppedBy))].join(','),
  };
}

/** Measured generation requests per candidate count, after one unmeasured first call. */
const GENERATION_RUNS = 3;

/**
 * The steady rate a user gets once a document has served a request: the median of
 * GENERATION_RUNS requests after a first one, which is reported on its own (first_call: the
 * first 256-byte request after short ones also pays V8's compilation of the paths it is the first
 * to take). The baseline, whose one request runs for its whole time budget, is measured once.
 */
async function generateSteady(core: EngineCore, t: Typed, candidates: number) {
  const first = await generate(core, t, candidates, 60_000);
  const runs = [];
  for (let i = 0; i < GENERATION_RUNS; i++) runs.push(await generate(core, t, candidates, 60_000));
  runs.sort((a, b) => a.bytes_per_s - b.bytes_per_s);
  return { ...runs[runs.length >> 1], runs: GENERATION_RUNS, range_bytes_per_s: [runs[0].bytes_per_s, runs[runs.length - 1].bytes_per_s], first_call_bytes_per_s: first.bytes_per_s };
}

async function measureGeneration(cfg: Config, mb: EngineCore, plain: EngineCore, mbTyped: Typed, plainTyped: Typed, baselineWeights: string): Promise<void> {
  for (const k of [1, 4]) {
    log(`generation: ${k} candidate(s)`);
    const m = await generateSteady(mb, mbTyped, k);
    const b = await generate(plain, plainTyped, k, cfg.baselineGenBudgetMs);
    emit({
      measure: 'generation', candidates: k, doc_bytes: cfg.baselineDoc, megabyte: m, baseline: b,
      ratio: round(m.bytes_per_s / Math.max(1e-9, b.bytes_per_s), 2), baseline_time_budget_ms: cfg.baselineGenBudgetMs, baseline_weights: baselineWeights,
    });
  }
}

// ---- 4. memory (child process) --------------------------------------------------------------

/** The first n bytes of the source, read without loading the rest (the child's RSS is the measurement). */
function sourcePrefix(n: number): string {
  const file = path.join(ROOT, TYPESCRIPT_JS);
  if (!existsSync(file)) return prefixText(loadSource(ROOT, n).bytes, n);
  const buf = Buffer.alloc(n + 4);
  const fd = openSync(file, 'r');
  try {
    const got = readSync(fd, buf, 0, n + 4, 0);
    return prefixText(buf.subarray(0, got), n);
  } finally {
    closeSync(fd);
  }
}

/** Warm-up document of the memory child: two 64-patch encode chunks, so the sessions have run every shape a 1 MB encode uses. */
const MEMORY_WARMUP_BYTES = 8 * KB;

interface MemorySample { rss: number; heapUsed: number; external: number; arrayBuffers: number; maxRss: number }

/**
 * This process's peak RSS in bytes. On Linux from /proc/self/status VmHWM: getrusage's maxRSS
 * carries over exec the RSS of the process that forked it, so a child spawned by a bench that holds
 * two models and 1 MB documents reported that bench's RSS as its own peak (360 MB with or without
 * a document: "the document adds 0 MB").
 */
function peakRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: getrusage's figure
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Memory after a full collection (the child runs with --expose-gc), in bytes; maxRss is the peak so far. */
function memorySample(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the memory child needs --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, maxRss: peakRss() };
}

const mbOf = (bytes: number) => round(bytes / MB, 1);
const deltaMb = (a: MemorySample, b: MemorySample) => ({
  rss_mb: mbOf(b.rss - a.rss), heap_mb: mbOf(b.heapUsed - a.heapUsed), external_mb: mbOf(b.external - a.external), array_buffers_mb: mbOf(b.arrayBuffers - a.arrayBuffers),
});

/**
 * One process, measured after a full collection at each step: bare Node; the model loaded and
 * warmed up (a small document completed and closed); then the document synced, encoded and
 * completed once; then closed again. The model's cost is warm minus bare, the document's is
 * after it minus warm: the same process with and without it.
 */
async function childMemory(f: Flags): Promise<void> {
  const t0 = now();
  const bare = memorySample();
  const core = await EngineCore.load(f.model, { executionProviders: f.ep, threads: f.threads });
  const warmText = sourcePrefix(MEMORY_WARMUP_BYTES);
  core.sync('warmup', 1, warmText);
  await core.complete(request('warmup', 1, warmText.length));
  core.close('warmup');
  const warm = memorySample();
  let contextBytes = 0;
  let cache = 0;
  let withDoc = warm;
  let closed = warm;
  let encodeMs = 0;
  if (f.bytes > 0) {
    const text = sourcePrefix(f.bytes);
    const tDoc = now();
    core.sync('memory', 1, text);
    const r = await core.complete(request('memory', 1, text.length));
    encodeMs = r.ms.encode;
    contextBytes = r.contextBytes;
    cache = core.cacheBytes();
    withDoc = memorySample();
    log(`memory child: ${f.bytes} byte document encoded and completed in ${round(now() - tDoc)} ms`);
    core.close('memory');
    closed = memorySample();
  }
  console.log(JSON.stringify({
    bare_rss_mb: mbOf(bare.rss), warm_rss_mb: mbOf(warm.rss), with_document_rss_mb: mbOf(withDoc.rss), closed_rss_mb: mbOf(closed.rss),
    model: deltaMb(bare, warm), document: deltaMb(warm, withDoc), released_on_close: deltaMb(closed, withDoc),
    peak_warm_rss_mb: mbOf(warm.maxRss), peak_rss_mb: mbOf(withDoc.maxRss), document_peak_increase_mb: mbOf(withDoc.maxRss - warm.maxRss),
    cache_mb: round(cache / MB, 2), context_bytes: contextBytes, encode_ms: encodeMs, ms: round(now() - t0),
  }));
  await core.dispose();
}

type MemoryDelta = ReturnType<typeof deltaMb>;

export interface MemoryChildResult {
  bare_rss_mb: number; warm_rss_mb: number; with_document_rss_mb: number; closed_rss_mb: number;
  model: MemoryDelta; document: MemoryDelta; released_on_close: MemoryDelta;
  peak_warm_rss_mb: number; peak_rss_mb: number; document_peak_increase_mb: number; cache_mb: number; context_bytes: number; encode_ms: number; ms: number;
}

function spawnMemoryChild(f: Flags, bytes: number): MemoryChildResult {
  const args = ['--expose-gc', __filename, '--child', 'memory', '--model', f.model, '--bytes', String(bytes), '--ep', f.ep.join(','), '--threads', String(f.threads)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`memory child failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function measureMemory(cfg: Config, f: Flags): void {
  log(`memory: child process, model warmed up, then a ${cfg.memoryBytes} byte document`);
  const m = spawnMemoryChild(f, cfg.memoryBytes);
  emit({
    measure: 'memory', doc_bytes: cfg.memoryBytes, warmup_bytes: MEMORY_WARMUP_BYTES,
    // What the loaded, warmed-up model costs the process, and what the document adds to it (after a full GC each).
    model_rss_mb: m.model.rss_mb, document_rss_mb: m.document.rss_mb, document_external_mb: m.document.external_mb, document_heap_mb: m.document.heap_mb,
    cache_mb: m.cache_mb, released_on_close_rss_mb: m.released_on_close.rss_mb, released_on_close_external_mb: m.released_on_close.external_mb,
    bare_rss_mb: m.bare_rss_mb, warm_rss_mb: m.warm_rss_mb, with_document_rss_mb: m.with_document_rss_mb,
    peak_rss_mb: m.peak_rss_mb, peak_warm_rss_mb: m.peak_warm_rss_mb, document_peak_increase_mb: m.document_peak_increase_mb,
    model: m.model, document: m.document, encode_ms: m.encode_ms, ms: m.ms,
  });
}

// ---- 5. responsiveness ----------------------------------------------------------------------

async function measureResponsiveness(cfg: Config, f: Flags, src: Source, inProcess: Line): Promise<void> {
  const n = cfg.responsivenessBytes;
  log(`responsiveness: worker engine, ${n} byte document`);
  const engine = startEngine({ workerPath: path.join(ROOT, 'dist', 'worker.js'), executionProviders: f.ep, threads: f.threads });
  try {
    await engine.load(f.model);
    const text = prefixText(src.bytes, n);
    const uri = 'responsiveness';
    let sawEncoding = false;
    const encoded = new Promise<void>((resolve) => {
      const sub = engine.onState((s) => {
        if (s.kind === 'encoding' && s.uri === uri) sawEncoding = true;
        if (s.kind === 'ready' && sawEncoding) {
          sub.dispose();
          resolve();
        }
      });
    });
    const monEncode = stallMonitor();
    const t0 = now();
    engine.sync(uri, 1, text, text.length); // a cursor: the worker encodes the edited document ahead
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([encoded, new Promise<void>((r) => { timer = setTimeout(() => { timedOut = true; r(); }, cfg.quick ? 60_000 : 600_000); })]);
    clearTimeout(timer);
    const encodeMs = now() - t0;
    const encodeStall = monEncode.stop();
    const monComplete = stallMonitor();
    const t1 = now();
    const r = await engine.complete(request(uri, 1, text.length));
    const completeMs = now() - t1;
    const completeStall = monComplete.stop();
    emit({
      measure: 'responsiveness', doc_bytes: n, worker: true,
      encode: { ms: round(encodeMs), ...encodeStall, no_ready_event: timedOut || undefined }, complete: { ms: round(completeMs), engine_ms: r.ms, ...completeStall },
      max_stall_ms: Math.max(encodeStall.max_delay_ms, encodeStall.max_interval_gap_ms, completeStall.max_delay_ms, completeStall.max_interval_gap_ms),
      baseline_in_process: inProcess,
    });
  } finally {
    await engine.dispose();
  }
}

// ---- 5b. a large workspace ----------------------------------------------------------------

/** A synthetic project of `n` small TypeScript files in folders of 100, each importing its neighbours, plus what must be skipped. */
function writeWorkspace(root: string, n: number): string {
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, '.gitignore'), 'generated/\n');
  for (const skipped of ['node_modules/dep', 'generated']) {
    mkdirSync(path.join(root, skipped), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(path.join(root, skipped, `x${i}.ts`), `export const x${i} = ${i};\n`);
  }
  for (let i = 0; i < n; i++) {
    const dir = path.join(root, 'src', `m${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(dir, { recursive: true });
    const j = i % 100;
    writeFileSync(path.join(dir, `f${j}.ts`),
      `import { value${(j + 1) % 100} } from './f${(j + 1) % 100}';\n\n` +
      `/** Part ${i} of the synthetic project. */\nexport function value${j}(x: number): number {\n  return value${(j + 1) % 100}(x) + ${i};\n}\n`);
  }
  return path.join(root, 'src', 'm0', 'f0.ts');
}

/**
 * Workspace context on a large project, through the worker as the extension uses it: the
 * extension host's longest stall while the worker lists `n` files, and completions asked during
 * the listing against the same completions before it (side by side, same document).
 */
async function measureWorkspace(cfg: Config, f: Flags): Promise<void> {
  const n = cfg.workspaceFiles;
  const root = path.join(os.tmpdir(), `megabyte-bench-ws-${process.pid}`);
  log(`workspace: ${n} files`);
  const file = writeWorkspace(root, n);
  const engine = startEngine({ workerPath: path.join(ROOT, 'dist', 'worker.js'), executionProviders: f.ep, threads: f.threads });
  try {
    await engine.load(f.model);
    const text = readFileSync(file, 'utf8');
    const uri = pathToFileURL(file).href;
    const offset = text.indexOf('return ') + 'return '.length;
    engine.sync(uri, 1, text, offset);
    const ask = async () => {
      const t = now();
      await engine.complete({ ...request(uri, 1, offset), nearFirst: true });
      return now() - t;
    };
    for (let i = 0; i < 3; i++) await ask(); // warm
    const before: number[] = [];
    for (let i = 0; i < 10; i++) before.push(await ask());
    const mon = stallMonitor();
    const t0 = now();
    engine.configureWorkspace({ enabled: true, roots: [root], exclude: ['**/*.snap'], gitignore: true, budgetBytes: 65536, indexBytes: DEFAULT_INDEX_BYTES });
    const during: number[] = [];
    let info = await engine.context(uri);
    while (!info.index?.done && now() - t0 < 600_000) {
      during.push(await ask());
      info = await engine.context(uri);
    }
    const discoveryMs = now() - t0;
    const stall = mon.stop();
    // the document's context, once the worker has assembled it with the whole index
    const tCtx = now();
    while (info.parts.length === 0 && now() - tCtx < 30_000) {
      await ask();
      info = await engine.context(uri);
    }
    const stats = await engine.stats() as { cacheBytes: number; indexBytes?: number; rss: number };
    emit({
      measure: 'workspace', files_written: n, files_listed: info.index?.files ?? 0, discovery_ms: round(discoveryMs),
      extension_host: stall, max_stall_ms: Math.max(stall.max_delay_ms, stall.max_interval_gap_ms),
      complete_ms_before: { p50: round(median(before)), max: round(Math.max(...before)), n: before.length },
      complete_ms_during_discovery: during.length ? { p50: round(median(during)), max: round(Math.max(...during)), n: during.length } : null,
      context: { files: info.files, bytes: info.bytes, first: info.parts.at(-1) && { file: path.relative(root, info.parts.at(-1)!.path), why: info.parts.at(-1)!.why } },
      index_mb: round((stats.indexBytes ?? 0) / 2 ** 20), worker_rss_mb: round(stats.rss / 2 ** 20),
      // what else ran: a stall on a machine with more runnable threads than cores is the scheduler's
      loadavg: os.loadavg().map((x) => round(x, 2)), cores: os.cpus().length,
    });
  } finally {
    await engine.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---- 6. quality -----------------------------------------------------------------------------

/** What a model's manifest says its training cost: the compute behind a quality figure. */
function trainingOf(core: EngineCore): Record<string, unknown> | null {
  const t = core.rt.manifest.training;
  return t ? { steps: t.steps, bytes: t.bytes, seconds: t.seconds, seq_len: t.seq_len } : null;
}

async function bitsOf(core: EngineCore, files: HeldoutFile[], contextBytes = 0): Promise<{ bits: number; bytes: number; seconds: number }> {
  let bits = 0;
  let bytes = 0;
  const t0 = now();
  for (const [i, fl] of files.entries()) {
    const uri = `score-${i}`;
    core.sync(uri, 1, fl.text);
    const r = await core.score({ uri, version: 1, contextBytes });
    core.close(uri);
    bits += r.totalBits;
    bytes += r.bytes;
  }
  return { bits, bytes, seconds: (now() - t0) / 1000 };
}

/** Deterministic cursor positions at line starts: real lines (8..120 characters) in the first 16 KB of each file, spread evenly. */
function nextLinePositions(files: HeldoutFile[], count: number): { file: number; start: number; end: number; line: string }[] {
  const cands: { file: number; start: number; end: number; line: string }[] = [];
  files.forEach((fl, fi) => {
    let start = 0;
    while (start < fl.text.length && start < 16 * KB) {
      let end = fl.text.indexOf('\n', start);
      if (end < 0) end = fl.text.length;
      const line = fl.text.slice(start, end).replace(/\s+$/, '');
      if (start >= 64 && line.trim().length >= 8 && line.length <= 120) cands.push({ file: fi, start, end, line });
      start = end + 1;
    }
  });
  if (!cands.length) return [];
  const step = cands.length / Math.min(count, cands.length);
  return Array.from({ length: Math.min(count, cands.length) }, (_, k) => cands[Math.floor(k * step + step / 2)]);
}

async function measureQuality(cfg: Config, mb: EngineCore, plain: EngineCore, baselineWeights: string): Promise<void> {
  const corpus = path.join(ROOT, '.cache', 'corpus');
  const sample = heldoutSample(corpus, cfg.heldoutBytes, cfg.heldoutMaxFile);
  if (!sample || !sample.files.length) {
    emit({ measure: 'quality', skipped: 'no held-out corpus (.cache/corpus/heldout.idx/.bin)' });
    return;
  }
  const files = sample.files;
  log(`quality: bits per byte over ${files.length} held-out files`);
  const m = await bitsOf(mb, files);
  // the same files under the mixing before the context-mixing layer (network + match model) and the network alone
  const layers: Record<string, number> = { mixed: round(m.bits / m.bytes, 4) };
  if (mb.mixing()) {
    mb.contextMixing = false;
    const x = await bitsOf(mb, files);
    layers.network_match = round(x.bits / x.bytes, 4);
    mb.contextMixing = true;
  }
  const matchOn = mb.options.matchModel;
  mb.options.matchModel = false;
  const net = await bitsOf(mb, files);
  mb.options.matchModel = matchOn;
  layers.network = round(net.bits / net.bytes, 4);
  let baselineBpb: number | null = null;
  let baselineNote: string;
  // The baseline is scored with the window it was trained on (full context is quadratic for it),
  // and MEGABYTE with that window too, so the pair compares the models, not their contexts.
  const trainedWindow = plain.rt.manifest.training?.seq_len;
  const baselineContext = typeof trainedWindow === 'number' && trainedWindow > 0 ? trainedWindow : 8192;
  let sameContextBpb: number | null = null;
  if (baselineWeights !== 'trained') baselineNote = 'not run: random weights (about log2(260) = 8 bits per byte by construction)';
  else if (cfg.quick) baselineNote = 'not run in --quick';
  else {
    const b = await bitsOf(plain, files, baselineContext);
    baselineBpb = round(b.bits / b.bytes, 4);
    const same = await bitsOf(mb, files, baselineContext);
    sameContextBpb = round(same.bits / same.bytes, 4);
    baselineNote = `contextBytes ${baselineContext} (its training window; full context is quadratic for the plain model)`;
  }
  log('quality: compressors');
  const comp = compressorBpb(files.map((fl) => fl.bytes));
  emit({
    measure: 'quality', files: files.length, bytes: m.bytes, max_file_bytes: cfg.heldoutMaxFile, skipped_not_utf8: sample.skippedNotUtf8,
    megabyte_bpb: round(m.bits / m.bytes, 4), megabyte_seconds: round(m.seconds, 2), manifest_heldout_bpb: mb.info().heldoutBpb ?? null,
    megabyte_mixing_bpb: layers,
    baseline_bpb: baselineBpb, baseline_weights: baselineWeights, baseline_note: baselineNote,
    baseline_context_bytes: baselineWeights === 'trained' ? baselineContext : null, megabyte_bpb_baseline_context: sameContextBpb,
    training: { megabyte: trainingOf(mb), baseline: trainingOf(plain) }, compressors_bpb: comp,
  });

  if (cfg.longContext) {
    const long = longHeldout(corpus, 256 * KB, 512 * KB, 2);
    if (!long.length) emit({ measure: 'long_context', skipped: 'no held-out file over 256 KB' });
    for (const fl of long) {
      log(`quality: long-context gain on ${fl.name} (first ${fl.bytes.length} bytes)`);
      const full = await bitsOf(mb, [fl]);
      const short = await bitsOf(mb, [fl], 8192);
      const fullBpb = full.bits / full.bytes;
      const shortBpb = short.bits / short.bytes;
      emit({
        measure: 'long_context', file: fl.name, bytes: fl.bytes.length, bpb_full_context: round(fullBpb, 4), bpb_context_8192: round(shortBpb, 4),
        gain_bits_per_byte: round(shortBpb - fullBpb, 4), gain_percent: round((100 * (shortBpb - fullBpb)) / shortBpb, 2),
      });
    }
  }

  log(`quality: next-line exact match at ${cfg.nextLines} positions`);
  const pos = nextLinePositions(files, cfg.nextLines);
  let exact = 0;
  let prefixSum = 0;
  const firstMs: number[] = [];
  const examples: { file: string; want: string; got: string }[] = [];
  for (const [k, p] of pos.entries()) {
    const fl = files[p.file];
    const doc = fl.text.slice(0, p.start) + fl.text.slice(p.end); // the line removed, the cursor on its (now empty) line
    const uri = `nextline-${k}`;
    mb.sync(uri, 1, doc);
    const r = await mb.complete(request(uri, 1, p.start, { candidates: 1, maxBytes: 128, timeBudgetMs: 20_000 }));
    mb.close(uri);
    const raw = r.candidates[0].text;
    const got = raw.replace(/\s+$/, '');
    if (got === p.line) exact++;
    let c = 0;
    while (c < got.length && c < p.line.length && got[c] === p.line[c]) c++;
    prefixSum += c / p.line.length;
    firstMs.push(r.ms.total);
    if (examples.length < 3) examples.push({ file: fl.name, want: p.line.slice(0, 80), got: raw.slice(0, 80) });
  }
  emit({
    measure: 'next_line', positions: pos.length, exact, exact_rate: round(exact / Math.max(1, pos.length), 3),
    mean_prefix_match: round(prefixSum / Math.max(1, pos.length), 3), completion_p50_ms: round(median(firstMs)), examples,
  });
}

// ---- main -----------------------------------------------------------------------------------

function dateStamp(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args ? ` -- ${args}` : ''}` : `node ${path.relative(ROOT, process.argv[1])} ${args}`.trim();
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  if (f.child === 'memory') return childMemory(f);
  const cfg = f.gpu ? GPU : f.quick ? QUICK : FULL;
  if (f.only === 'memory') return measureMemory(cfg, f);
  if (f.only === 'workspace') return measureWorkspace(cfg, f);
  const loadStart = os.loadavg();
  const model = modelRef(f.model);
  const baseline = modelRef(baselineDir(f.baseline, f.python));
  const src = loadSource(ROOT, Math.max(...cfg.encodeLengths, ...cfg.keystrokeDocs, cfg.responsivenessBytes));
  log(`${cfg.quick ? 'quick' : 'full'} run: ${model.name} vs ${baseline.name} (${baseline.weights} weights), text: ${src.name}`);
  const opts = { executionProviders: f.ep, threads: f.threads };
  const mb = await EngineCore.load(f.model, opts);
  const plain = await EngineCore.load(path.resolve(ROOT, baseline.dir), opts);

  await measureEncode(cfg, mb, plain, src, baseline.weights);
  const { mbTyped, plainTyped, inProcessStall } = await measureKeystrokes(cfg, mb, plain, src, baseline.weights);
  await measureGeneration(cfg, mb, plain, mbTyped, plainTyped, baseline.weights);
  await mb.dispose();
  await plain.dispose();
  measureMemory(cfg, f);
  await measureResponsiveness(cfg, f, src, inProcessStall);
  await measureWorkspace(cfg, f);
  if (cfg.quality) {
    const qmb = await EngineCore.load(f.model, opts);
    const qplain = await EngineCore.load(path.resolve(ROOT, baseline.dir), opts);
    await measureQuality(cfg, qmb, qplain, baseline.weights);
    await qmb.dispose();
    await qplain.dispose();
  }
  if (cfg.gpu) measureCeiling(cfg, f, src);

  const seconds = round((now() - T0) / 1000);
  const stamp = `results-${dateStamp()}${cfg.quick ? '-quick' : cfg.gpu ? `-gpu-${mb.rt.ep}` : ''}`;
  const dir = path.join(ROOT, 'test', 'bench');
  mkdirSync(dir, { recursive: true });
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_gb: round(os.totalmem() / 1024 ** 3), node: process.version,
    platform: `${os.platform()} ${os.release()}`, loadavg_at_start: loadStart.map((x) => round(x, 2)), ep: mb.rt.ep,
  };
  const meta = { date: dateStamp(), command: commandLine(), quick: cfg.quick, seconds, machine, model, baseline, source: src.name, config: cfg };
  const summary = summarize(lines, seconds, cfg);
  log('writing the report and plots');
  const written = await writeReport(dir, stamp, meta, lines, summary);
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify({ ...meta, measurements: lines, summary, files: written.map((w) => path.relative(ROOT, w)) }, null, 1) + '\n');
  console.log(JSON.stringify({ ...summary, results: path.relative(ROOT, path.join(dir, `${stamp}.md`)) }));
}

function summarize(all: Line[], seconds: number, cfg: Config): Line {
  const get = (m: string, pred: (l: Line) => boolean = () => true) => all.find((l) => l.measure === m && pred(l));
  const enc = all.filter((l) => l.measure === 'encode' && !l.fit_point);
  const lastEnc = enc[enc.length - 1];
  const kb = get('keystroke', (l) => l.model === 'baseline');
  const km = get('keystroke', (l) => l.model === 'megabyte' && l.doc_bytes === cfg.baselineDoc);
  const kLarge = get('keystroke', (l) => l.model === 'megabyte' && l.doc_bytes === cfg.keystrokeDocs[cfg.keystrokeDocs.length - 1] && !l.settings);
  const kDefaults = get('keystroke', (l) => l.model === 'megabyte' && !!l.settings);
  const ceiling = get('ceiling');
  const g1 = get('generation', (l) => l.candidates === 1) as { megabyte: { bytes_per_s: number }; baseline: { bytes_per_s: number }; ratio: number } & Line | undefined;
  const g4 = get('generation', (l) => l.candidates === 4) as { megabyte: { bytes_per_s: number } } & Line | undefined;
  const mem = get('memory');
  const resp = get('responsiveness');
  const q = get('quality');
  const nl = get('next_line');
  return {
    measure: 'summary', quick: cfg.quick, seconds,
    encode: lastEnc && { bytes: lastEnc.bytes, megabyte_ms: lastEnc.megabyte_ms, baseline_ms: lastEnc.baseline_ms, extrapolated: lastEnc.extrapolated, ratio: lastEnc.ratio },
    keystroke: {
      doc_bytes: cfg.baselineDoc, megabyte_first_p50_ms: km?.first_p50_ms, megabyte_first_p95_ms: km?.first_p95_ms,
      baseline_first_p50_ms: kb?.first_p50_ms, baseline_first_p95_ms: kb?.first_p95_ms, baseline_keystrokes: kb?.keystrokes,
      large_doc_bytes: kLarge?.doc_bytes, large_first_p50_ms: kLarge?.first_p50_ms, large_first_p95_ms: kLarge?.first_p95_ms,
      large_extension_defaults_first_p50_ms: kDefaults?.first_p50_ms, large_extension_defaults_first_p95_ms: kDefaults?.first_p95_ms,
    },
    generation: { megabyte_bytes_per_s_1: g1?.megabyte.bytes_per_s, megabyte_bytes_per_s_4: g4?.megabyte.bytes_per_s, baseline_bytes_per_s_1: g1?.baseline.bytes_per_s, ratio_1: g1?.ratio },
    memory: mem && { doc_bytes: mem.doc_bytes, model_rss_mb: mem.model_rss_mb, document_rss_mb: mem.document_rss_mb, cache_mb: mem.cache_mb, peak_rss_mb: mem.peak_rss_mb },
    responsiveness: resp && { doc_bytes: resp.doc_bytes, worker_max_stall_ms: resp.max_stall_ms, in_process_max_stall_ms: (resp.baseline_in_process as Line)?.max_delay_ms, in_process_bytes: (resp.baseline_in_process as Line)?.bytes },
    ceiling: ceiling && { ms: ceiling.ms, engine_encode_ms: ceiling.engine_encode_ms, ratio: ceiling.ratio, met: ceiling.met },
    quality: q && { megabyte_bpb: q.megabyte_bpb, baseline_bpb: q.baseline_bpb, baseline_weights: q.baseline_weights, compressors_bpb: q.compressors_bpb, next_line_exact: nl && `${nl.exact}/${nl.positions}` },
  };
}

main().catch((e) => {
  console.error(e instanceof UsageError ? `error: ${e.message}` : e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
