// The dated results table (Markdown) and its plots, from the measurement lines of one run.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Line, ModelRef } from './lines';
import { barChart, Chart, logLogChart, writeCharts } from './plot';

interface Meta {
  date: string;
  command: string;
  quick: boolean;
  seconds: number;
  machine: { cpu: string; cores: number; memory_gb: number; node: string; platform: string; loadavg_at_start: number[]; ep: string };
  model: ModelRef;
  baseline: ModelRef;
  source: string;
  config: { gpu: boolean };
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const kb = (n: number) => (n >= 1 << 20 ? `${n / (1 << 20)} MB` : n >= 1024 ? `${n / 1024} KB` : `${n} B`);
const num = (v: unknown, unit = '') => (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '—' : `${typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 4 }) : String(v)}${unit}`);
const row = (cells: unknown[]) => `| ${cells.map((c) => String(c)).join(' | ')} |`;
const table = (head: string[], rows: unknown[][]) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

export async function writeReport(dir: string, stamp: string, meta: Meta, lines: Line[], summary: Line): Promise<string[]> {
  const L = (m: string) => lines.filter((l) => l.measure === m) as Any[];
  const base = `${meta.baseline.name} (${meta.baseline.weights} weights)`;
  const charts: Chart[] = [];
  const md: string[] = [];
  md.push(`# Benchmark ${meta.date}${meta.quick ? ' (--quick)' : ''}${meta.config.gpu ? ` (--gpu, ${meta.machine.ep})` : ''}: ${meta.model.name} vs ${meta.baseline.name}`, '');
  md.push(`\`${meta.command}\` — ${meta.seconds} s in all.`, '');
  md.push(table(['', ''], [
    ['machine', `${meta.machine.cpu}, ${meta.machine.cores} cores, ${meta.machine.memory_gb} GB, ${meta.machine.platform}`],
    ['node', meta.machine.node],
    ['execution provider', meta.machine.ep],
    ['load average at start', meta.machine.loadavg_at_start.join(', ')],
    ['model', `${meta.model.name} (${meta.model.architecture}, ${num(meta.model.parameters)} parameters), \`${meta.model.dir}\`, manifest sha256 \`${meta.model.manifest_sha256.slice(0, 16)}…\``],
    ['baseline', `${meta.baseline.name} (${meta.baseline.architecture}, ${num(meta.baseline.parameters)} parameters, **${meta.baseline.weights} weights**), \`${meta.baseline.dir}\`, manifest sha256 \`${meta.baseline.manifest_sha256.slice(0, 16)}…\``],
    ['text for timings', `\`${meta.source}\``],
  ]), '');
  if (meta.baseline.weights === 'random') {
    md.push('The baseline has random weights: its timings are valid (a forward pass costs the same whatever the weights), its bits per byte are not.', '');
  }

  // 1. encode
  const enc = L('encode');
  const trend = L('encode_trend')[0];
  md.push('## 1. Encode time vs length', '');
  md.push(`MEGABYTE: \`EngineCore.preEncode\` (global level only, one position per 64 bytes). Baseline: the same \`encodeGlobal\` over every byte, 512 positions per run. Lengths whose predicted baseline time exceeds ${trend?.budget_s} s are extrapolated from t = a·n + b·n² fitted to the measured ones (*italic*).`, '');
  md.push(table(['bytes', 'MEGABYTE ms', 'global positions', 'baseline ms', 'baseline / MEGABYTE'], enc.map((l) => [
    kb(l.bytes) + (l.fit_point ? ' (fit point)' : ''), num(l.megabyte_ms), num(l.megabyte_global_positions),
    l.extrapolated ? `*${num(l.baseline_ms)}*` : num(l.baseline_ms), l.extrapolated ? `*${num(l.ratio)}×*` : `${num(l.ratio)}×`,
  ])), '');
  if (enc.length) {
    charts.push(logLogChart(path.join(dir, `${stamp}-encode`), 'Encode time vs document length', 'document length', 'milliseconds (log)', [
      { name: meta.model.name, points: enc.map((l) => ({ x: l.bytes, y: l.megabyte_ms })) },
      { name: `${meta.baseline.name} (${meta.baseline.weights})`, points: enc.map((l) => ({ x: l.bytes, y: l.baseline_ms, hollow: l.extrapolated })), dashHollow: true },
    ]));
    md.push(`![encode time](${stamp}-encode.png)`, '');
  }

  // 2. keystrokes
  const ks = L('keystroke');
  md.push('## 2. Keystroke latency', '');
  md.push('A real line typed one character at a time at the cursor (the line removed from the document first); per keystroke `sync` + `complete` (3 candidates, 48 bytes, stop at the line end). `first`: engine time to the first finished candidate; `wall`: sync + complete as the caller sees it.', '');
  md.push(table(['document', 'model', 'keystrokes', 'first p50 / p95 ms', 'wall p50 / p95 ms', 'global positions per keystroke', 'warm-up ms'], ks.map((l) => [
    kb(l.doc_bytes), (l.model === 'baseline' ? base : meta.model.name) + (l.settings ? `, ${l.settings}` : ''), num(l.keystrokes) + (l.cut_by_budget ? ' (time cap)' : ''),
    `${num(l.first_p50_ms)} / ${num(l.first_p95_ms)}`, `${num(l.wall_p50_ms)} / ${num(l.wall_p95_ms)}`, num(l.global_positions_per_keystroke), num(l.warm_ms),
  ])), '');
  if (ks.length) {
    const docs = [...new Set(ks.map((l) => l.doc_bytes as number))].sort((a, b) => a - b);
    const val = (model: string, key: string) => docs.map((d) => ks.find((l) => l.model === model && l.doc_bytes === d && !l.settings)?.[key] ?? null);
    charts.push(barChart(path.join(dir, `${stamp}-keystroke`), 'Keystroke latency (time to first candidate)', 'milliseconds', docs.map(kb), [
      { name: `${meta.model.name} p50`, values: val('megabyte', 'first_p50_ms') },
      { name: `${meta.model.name} p95`, values: val('megabyte', 'first_p95_ms') },
      { name: `${meta.baseline.name} p50`, values: val('baseline', 'first_p50_ms') },
      { name: `${meta.baseline.name} p95`, values: val('baseline', 'first_p95_ms') },
    ]));
    md.push(`![keystroke latency](${stamp}-keystroke.png)`, '');
  }

  // 3. generation
  const gen = L('generation');
  md.push('## 3. Generation speed', '');
  md.push(`Greedy, stop 'budget', 256 bytes per candidate, in the warm ${kb(gen[0]?.doc_bytes ?? 0)} document; seconds exclude encoding. MEGABYTE's figure is the median of ${gen[0]?.megabyte.runs ?? 1} requests after a first one (its rate in the last column); the baseline's one request is capped at ${num(gen[0]?.baseline_time_budget_ms)} ms (a rate stays a rate).`, '');
  md.push(table(['candidates', 'model', 'bytes', 'seconds', 'bytes/s (all candidates)', 'bytes/s per candidate', 'stopped by', 'first request, bytes/s'], gen.flatMap((l) => [
    [l.candidates, meta.model.name, l.megabyte.bytes, l.megabyte.seconds, num(l.megabyte.bytes_per_s), num(l.megabyte.per_candidate_bytes_per_s), l.megabyte.stopped_by, num(l.megabyte.first_call_bytes_per_s)],
    [l.candidates, base, l.baseline.bytes, l.baseline.seconds, num(l.baseline.bytes_per_s), num(l.baseline.per_candidate_bytes_per_s), l.baseline.stopped_by, ''],
  ])), '');
  md.push(gen.map((l) => `${l.candidates} candidate(s): MEGABYTE / baseline = ${num(l.ratio)}×.`).join(' '), '');
  if (gen.length) {
    charts.push(barChart(path.join(dir, `${stamp}-generation`), 'Generation speed', 'bytes per second (all candidates)', gen.map((l) => `${l.candidates} candidate${l.candidates > 1 ? 's' : ''}`), [
      { name: meta.model.name, values: gen.map((l) => l.megabyte.bytes_per_s) },
      { name: `${meta.baseline.name} (${meta.baseline.weights})`, values: gen.map((l) => l.baseline.bytes_per_s) },
    ]));
    md.push(`![generation speed](${stamp}-generation.png)`, '');
  }

  // 4. memory
  const mem = L('memory')[0];
  md.push('## 4. Memory', '');
  if (mem) {
    md.push(`One child process, measured after a full GC (\`--expose-gc\`) at each step: bare Node; ${meta.model.name} loaded and warmed up (a ${kb(mem.warmup_bytes)} document completed and closed); then a ${kb(mem.doc_bytes)} document synced, encoded and completed once; then that document closed. The model's cost is the second minus the first, the document's the third minus the second: the same process with and without it.`, '');
    md.push(table(['', 'RSS MB', 'JS ArrayBuffers MB', 'JS heap MB'], [
      [`the model (loaded, warmed up)`, num(mem.model_rss_mb), num((mem.model as Line)?.array_buffers_mb), num((mem.model as Line)?.heap_mb)],
      [`a ${kb(mem.doc_bytes)} document (its KV cache: ${num(mem.cache_mb)} MB)`, num(mem.document_rss_mb), num((mem.document as Line)?.array_buffers_mb), num(mem.document_heap_mb)],
    ]), '');
    md.push(`RSS: bare Node ${num(mem.bare_rss_mb)} MB, with the model ${num(mem.warm_rss_mb)} MB, with the document ${num(mem.with_document_rss_mb)} MB; peak (the child's own, \`VmHWM\`) ${num(mem.peak_warm_rss_mb)} MB before the document, ${num(mem.peak_rss_mb)} MB after. Closing the document gives back ${num(mem.released_on_close_external_mb)} MB of JS buffers and ${num(mem.released_on_close_rss_mb)} MB of RSS.`, '');
  }

  // 5. responsiveness
  const resp = L('responsiveness')[0];
  md.push('## 5. Responsiveness of the extension host\'s thread', '');
  if (resp) {
    const ip = resp.baseline_in_process;
    md.push('Longest stall of the main thread: `monitorEventLoopDelay` (1 ms resolution) maximum, and the largest gap between ticks of a 1 ms `setInterval`.', '');
    const cells = (x: Any) => [num(x.max_delay_ms), num(x.p99_delay_ms), num(x.max_interval_gap_ms), num(x.gaps_over_50ms)];
    md.push(table(['engine', 'phase', 'document', 'ms', 'max event-loop delay ms', 'p99 delay ms', 'max 1 ms interval gap ms', 'gaps > 50 ms'], [
      ['WorkerEngine (worker_thread)', 'sync + background encode', kb(resp.doc_bytes), num(resp.encode.ms), ...cells(resp.encode)],
      ['WorkerEngine (worker_thread)', 'complete', kb(resp.doc_bytes), num(resp.complete.ms), ...cells(resp.complete)],
      ...(ip ? [['EngineCore on the main thread (baseline)', 'encode', kb(ip.bytes), num(ip.ms), ...cells(ip)]] : []),
    ]), '');
    md.push('On a machine with more runnable threads than cores, the main thread also waits for a core: a stall with the worker is the scheduler\'s, not the engine\'s (compare the p99 and the count of long gaps).', '');
  }

  // 6. quality
  const q = L('quality')[0];
  md.push('## 6. Quality', '');
  if (q?.skipped) md.push(`Skipped: ${q.skipped}.`, '');
  else if (q) {
    md.push(`Bits per byte on a deterministic sample of whole held-out files (${q.files} files, ${num(q.bytes)} bytes; the selection of \`models/training/eval.py\` \`heldout_files\` with max_file ${kb(q.max_file_bytes)}${q.skipped_not_utf8 ? `, ${q.skipped_not_utf8} non-UTF-8 files dropped` : ''}); compressors run on each file on its own.`, '');
    const comp = q.compressors_bpb as Record<string, number | null>;
    md.push(table(['model or compressor', 'bits per byte'], [
      [`${meta.model.name} (engine score, full context)`, num(q.megabyte_bpb)],
      ...(q.megabyte_bpb_baseline_context !== null && q.megabyte_bpb_baseline_context !== undefined
        ? [[`${meta.model.name}, contextBytes ${q.baseline_context_bytes} (the baseline's window)`, num(q.megabyte_bpb_baseline_context)]] : []),
      [base, q.baseline_bpb === null ? `— (${q.baseline_note})` : `${num(q.baseline_bpb)} (${q.baseline_note})`],
      ...Object.entries(comp).map(([k, v]) => [k, v === null ? '— (not installed)' : num(v)]),
    ]), '');
    const tr = q.training as { megabyte: Any; baseline: Any } | undefined;
    const cost = (t: Any) => (t ? `${num(t.steps)} steps, ${num(t.bytes / 1e6)} MB seen, ${num(t.seconds / 60)} min, ${num(t.seq_len)}-byte windows` : 'no training recorded');
    if (tr) md.push(`Training behind these figures (manifests): ${meta.model.name} ${cost(tr.megabyte)}; ${meta.baseline.name} ${cost(tr.baseline)}.`, '');
    const names = [meta.model.name, `${meta.baseline.name}`, ...Object.keys(comp)];
    charts.push(barChart(path.join(dir, `${stamp}-quality`), 'Bits per byte on held-out files (lower is better)', 'bits per byte', names, [
      { name: 'bpb', values: [q.megabyte_bpb, q.baseline_bpb, ...Object.values(comp)] },
    ], 'n/a: not run or not installed'));
    md.push(`![bits per byte](${stamp}-quality.png)`, '');
  }
  const lc = L('long_context');
  if (lc.length) {
    md.push('Long-context gain: the same bytes scored with the whole file before them vs 4–8 KB (`contextBytes: 8192`).', '');
    md.push(lc[0].skipped ? `Skipped: ${lc[0].skipped}.` : table(['file', 'bytes', 'bpb full context', 'bpb 8 KB context', 'gain'], lc.map((l) => [
      l.file, num(l.bytes), num(l.bpb_full_context), num(l.bpb_context_8192), `${num(l.gain_bits_per_byte)} (${num(l.gain_percent)}%)`,
    ])), '');
  } else if (meta.quick) md.push('Long-context gain: not run in --quick.', '');
  const nl = L('next_line')[0];
  if (nl) {
    md.push(`Next-line exact match: ${nl.exact} of ${nl.positions} (${num(nl.exact_rate * 100)}%) held-out lines reproduced exactly by a greedy completion at the line start (the line removed from the file, stop at the line end); mean matched prefix ${num(nl.mean_prefix_match * 100)}% of the line; p50 ${num(nl.completion_p50_ms)} ms per completion.`, '');
    const show = (t: string) => '`' + t.replace(/[`|]/g, ' ').replace(/\r?\n/g, '⏎') + '`';
    if (nl.examples?.length) md.push(table(['file', 'real line', 'completion (⏎: newline)'], nl.examples.map((e: Any) => [e.file, show(e.want), show(e.got)])), '');
  }

  const ce = L('ceiling')[0];
  if (ce) {
    md.push('## 7. The ceiling: PyTorch on the same device', '');
    md.push(ce.skipped ? `Skipped: ${ce.skipped}.` : `One exact forward pass of the same checkpoint over the same ${num(ce.bytes)} bytes in PyTorch (${ce.framework}, ${ce.dtype}, ${ce.device_name}): ${num(ce.ms)} ms. The engine encoded them in ${num(ce.engine_encode_ms)} ms on ${ce.engine_ep}: ${num(ce.ratio)}x the ceiling (target: within ${ce.target_ratio}x, ${ce.met ? 'met' : 'not met'}).`, '');
  }

  md.push('## Caveats', '');
  const caveats = [
    meta.model.training_steps !== null ? `${meta.model.name} was trained for ${num(meta.model.training_steps)} steps (its manifest): its bits per byte and completions say how far training got, not what the architecture can do.` : '',
    meta.baseline.weights === 'random' ? `The baseline \`${meta.baseline.name}\` has random weights (no trained checkpoint \`models/training/checkpoints/plain-small.pt\`): timings only.` : '',
    `The load average at the start was ${meta.machine.loadavg_at_start.join(', ')} on ${meta.machine.cores} cores: timings on a busy machine are slower and noisier.`,
    meta.quick ? 'A --quick run: shorter documents, fewer keystrokes, the baseline on a 2 KB document with time caps, no long-context test. Numbers are for checking the benchmark, not for quoting.' : '',
    'The baseline\'s keystroke and generation runs go through the same engine (EngineCore), with its KV cache reused the same way; its encode runs 512 positions per call.',
  ].filter(Boolean);
  md.push(...caveats.map((c) => `- ${c}`), '');
  md.push('Summary line:', '', '```json', JSON.stringify(summary), '```', '');

  const plots = await writeCharts(charts);
  // Plots that fell back to SVG: point the Markdown at them.
  let text = md.join('\n');
  for (const p of plots) if (p.endsWith('.svg')) text = text.replace(path.basename(p).replace(/\.svg$/, '.png'), path.basename(p));
  const mdFile = path.join(dir, `${stamp}.md`);
  writeFileSync(mdFile, text);
  return [mdFile, ...plots];
}
