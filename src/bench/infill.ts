// npm run infill -- [--model DIR] [--corpus .cache/corpus] [--spans N] [--seed S] [--candidates K] [--network-only] [--verbose]
// Fill-in-the-middle on held-out files, through the engine exactly as the editor uses it: a span
// (one line, or two to four lines) is removed from a real file, the cursor is put where it was,
// and greedy decoding must give it back. Each span is tried with the text after the cursor
// (the default) and without it (--no-suffix), so the figures show what the suffix is worth.
// Exact match of the first candidate is the headline (the editor shows it; it asks for 3,
// --candidates, and `any_candidate` says how often one of them is exact); for a model that rarely gets a span exactly right, the mean
// similarity (1 - edit distance / the longer length) and the share of middles the model ended
// itself (EOM, or reaching the text after the cursor) show whether the suffix helps at all.
// Each configuration runs in the same run as the editor uses the model (the network with the
// context-mixing layer, manifest context_mixing), with the mixing before it (network + match model
// only: match_only) and the network alone (--network-only: only that).
// With --workspace [--workspace-bytes B] [--index-bytes N]: cross-file infilling. Each span's package (its other
// files, written under a temporary folder) is the workspace, and each span is filled twice with
// the editor's settings (the layer, the suffix): alone, and with the workspace context the editor
// would give it (src/engine/context.ts folderContext), and the match models' index of the package
// the worker would build for it (folderCrossIndex, --index-bytes; 0: none). Spans are counted on their own too when
// their answer holds a name that the rest of the file does not and another file of the package
// does (`cross_file`). Last line: {"spans":n,"alone":{...},"workspace":{...},"cross_file":{"n":k,"alone":{...},"workspace":{...}},"ratio":{...}}
// Last line: {"spans":n,"mixed":{"line":{"n":k,"with_suffix":x,"without_suffix":y,"similarity":{...},...},"lines":{...}},"network_only":{...}}
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DEFAULT_INDEX_BYTES, DEFAULT_WORKSPACE_BYTES, type ContextPart } from '../engine/api';
import { folderContext, folderCrossIndex } from '../engine/context';
import type { CrossIndex } from '../engine/crossindex';
import { EngineCore } from '../engine/engine';
import { NEVER_CANCELLED } from '../engine/decoder';
import { rng } from '../engine/sampling';
import { similarity } from './stats';
import { defaultModelDir, fail, intFlag, noPositional, parseArgs, repoRoot, stringFlag, type FlagTable } from '../cli/args';

export const INFILL_FLAGS = {
  model: { value: 'DIR', help: 'model directory (default models/mb-small)' },
  corpus: { value: 'DIR', help: 'corpus with the held-out split (default .cache/corpus)' },
  spans: { value: 'N', help: 'held-out spans, half single lines, half 2-4 lines (default 60)' },
  seed: { value: 'S', help: 'which spans (default 7)' },
  candidates: { value: 'K', help: 'candidates per span (default 3)' },
  'network-only': { help: 'only the network, without the match model' },
  workspace: { help: 'cross-file: each span alone and with its package as the workspace (the editor\'s context assembly)' },
  'workspace-bytes': { value: 'B', help: `with --workspace: bytes of workspace context (default ${DEFAULT_WORKSPACE_BYTES})` },
  'index-bytes': { value: 'N', help: `with --workspace: bytes of the package the match models index and copy from (default ${DEFAULT_INDEX_BYTES}; 0: none)` },
  threads: { value: 'N', help: 'CPU threads, 0: onnxruntime decides (default 0)' },
  verbose: { help: 'each span and its candidates, on stderr' },
} as const satisfies FlagTable;

interface Span { file: string; pkg: string; path: string; text: string; start: number; end: number; kind: 'line' | 'lines' }

interface HeldoutFile { package: string; path: string; offset: number; length: number }

/** The files of the held-out split, as corpus.py wrote them (heldout.idx, heldout.bin). */
function heldoutFiles(corpus: string): { idx: HeldoutFile[]; raw: Buffer } {
  return { idx: JSON.parse(readFileSync(path.join(corpus, 'heldout.idx'), 'utf8')), raw: readFileSync(path.join(corpus, 'heldout.bin')) };
}

/** Files spans are drawn from: prose and the languages of the first evaluation (the default), or every language the workspace context resolves imports for. */
const SPAN_FILES = /\.(py|ts|js|mjs|md|rst)$/;
const CROSS_FILE_SPAN_FILES = /\.(py|ts|tsx|js|mjs|go|rs|java|c|h|cc|cpp|hpp|md)$/;

/** Deterministic spans from whole held-out files (corpus.py's heldout.bin/idx). */
export function heldoutSpans(corpus: string, count: number, seed: number, pattern: RegExp = SPAN_FILES): Span[] {
  const { idx, raw } = heldoutFiles(corpus);
  const random = rng(seed);
  const files = idx.filter((r) => r.length > 2000 && r.length < 200_000 && pattern.test(r.path));
  const spans: Span[] = [];
  for (let tries = 0; spans.length < count && tries < count * 50; tries++) {
    const rec = files[Math.floor(random() * files.length)];
    const text = raw.subarray(rec.offset, rec.offset + rec.length).toString('utf8');
    const lines = text.split('\n');
    const kind = spans.length % 2 === 0 ? 'line' : 'lines';
    const n = kind === 'line' ? 1 : 2 + Math.floor(random() * 3);
    const first = 5 + Math.floor(random() * Math.max(1, lines.length - n - 10));
    const body = lines.slice(first, first + n);
    if (body.join('').trim().length < 8 || body.some((l) => l.length > 200)) continue;
    // The cursor sits after the line's indentation (where a user starts typing).
    const indent = /^[ \t]*/.exec(body[0])![0].length;
    const start = lines.slice(0, first).join('\n').length + 1 + indent;
    const end = start + body.join('\n').length - indent;
    spans.push({ file: `${rec.package}/${rec.path}`, pkg: rec.package, path: rec.path, text, start, end, kind });
  }
  return spans;
}

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), INFILL_FLAGS);
  noPositional(p, INFILL_FLAGS);
  const corpus = stringFlag(p, 'corpus') ?? path.join(repoRoot(), '.cache', 'corpus');
  if (!existsSync(path.join(corpus, 'heldout.idx'))) fail(`no held-out split at ${corpus}: run models/training/corpus.py first`);
  const workspace = p.flags.has('workspace');
  const spans = heldoutSpans(corpus, intFlag(p, 'spans', 60, 1, 10000), intFlag(p, 'seed', 7), workspace ? CROSS_FILE_SPAN_FILES : SPAN_FILES);
  const engine = await EngineCore.load(stringFlag(p, 'model') ?? defaultModelDir(), { executionProviders: ['cpu'], threads: intFlag(p, 'threads', 0, 0, 256) });
  const t0 = performance.now();
  if (workspace) {
    const budgets = { stream: intFlag(p, 'workspace-bytes', DEFAULT_WORKSPACE_BYTES, 0, 1_000_000), index: intFlag(p, 'index-bytes', DEFAULT_INDEX_BYTES, 0, 32_000_000) };
    const result = await crossFile(engine, corpus, spans, intFlag(p, 'candidates', 3, 1, 16), budgets, p.flags.has('verbose'));
    console.log(JSON.stringify({ model: engine.info().name, ...result, seconds: +((performance.now() - t0) / 1000).toFixed(1) }));
    await engine.dispose();
    return;
  }
  engine.options.matchModel = true;
  const hasMatch = engine.matcher() !== undefined;
  const result: Record<string, unknown> = { model: engine.info().name, spans: spans.length, candidates: intFlag(p, 'candidates', 3, 1, 16) };
  // mixed: the context-mixing layer in generation too (engine.generationMixing, the editor's default;
  // see EngineCore.generationMixing for why);
  // match_only: the network mixed with the match model alone (the mixing before that layer)
  const modes = !hasMatch || p.flags.has('network-only') ? ['network_only'] : engine.mixing() ? ['mixed', 'match_only', 'network_only'] : ['mixed', 'network_only'];
  for (const mode of modes) {
    engine.options.matchModel = mode !== 'network_only';
    engine.contextMixing = mode === 'mixed';
    engine.generationMixing = mode === 'mixed';
    result[mode] = await run(engine, spans, intFlag(p, 'candidates', 3, 1, 16), p.flags.has('verbose'));
  }
  result.seconds = +((performance.now() - t0) / 1000).toFixed(1);
  console.log(JSON.stringify(result));
  await engine.dispose();
}

/**
 * One span filled at its cursor, with and without the text after it (`context`: the workspace's
 * parts first; `cross`: the match models' index of the workspace, none without it).
 */
async function fillSpan(engine: EngineCore, s: Span, uri: string, candidates: number, context?: ContextPart[], cross?: CrossIndex): Promise<{ want: string; got: Record<string, string>; any: Record<string, boolean>; ended: boolean; indexed?: { files: number; bytes: number } }> {
  const want = s.text.slice(s.start, s.end);
  const doc = s.text.slice(0, s.start) + s.text.slice(s.end);
  engine.sync(uri, 1, doc);
  if (context) engine.setContext(uri, context);
  engine.setCrossIndex(cross);
  // what the editor does in the background before the first request: encode, build the CM state
  await engine.preEncode(uri, s.start, NEVER_CANCELLED);
  const got: Record<string, string> = {};
  const any: Record<string, boolean> = {};
  let ended = false;
  let indexed: { files: number; bytes: number } | undefined;
  for (const useSuffix of [true, false]) {
    const r = await engine.complete({
      uri, version: 1, offset: s.start, candidates, maxBytes: Buffer.byteLength(want) + 64, temperature: 0, topP: 1,
      stop: s.kind === 'line' ? 'line' : 'budget', timeBudgetMs: 60_000, useSuffix,
    });
    if (useSuffix) {
      ended = r.candidates[0].stoppedBy === 'eom' || r.candidates[0].stoppedBy === 'suffix';
      indexed = r.indexed; // the index's files this document's match models read (its own file left out)
    }
    // Without the suffix nothing says where the middle ends: compare the same number of lines.
    // With it, the model must end the middle itself (EOM): compared whole.
    const texts = r.candidates.map((c) => (s.kind === 'lines' && !useSuffix ? c.text.split('\n').slice(0, want.split('\n').length).join('\n') : c.text));
    got[String(useSuffix)] = texts[0];
    any[String(useSuffix)] = texts.some((x) => x.trimEnd() === want.trimEnd());
  }
  engine.close(uri);
  return { want, got, any, ended, indexed };
}

/** Exact match, similarity and ends per span kind, as the last line reports them. */
class Tally {
  private readonly t = { line: Tally.zero(), lines: Tally.zero() };
  private static zero() {
    return { n: 0, with: 0, without: 0, simWith: 0, simWithout: 0, ended: 0, anyWith: 0, anyWithout: 0 };
  }

  add(kind: Span['kind'], r: Awaited<ReturnType<typeof fillSpan>>): void {
    const t = this.t[kind];
    const want = r.want.trimEnd();
    t.n++;
    if (r.got.true.trimEnd() === want) t.with++;
    if (r.got.false.trimEnd() === want) t.without++;
    t.simWith += similarity(r.got.true.trimEnd(), want);
    t.simWithout += similarity(r.got.false.trimEnd(), want);
    if (r.ended) t.ended++;
    if (r.any.true) t.anyWith++;
    if (r.any.false) t.anyWithout++;
  }

  /** Exact matches with the suffix over both kinds (the headline of the cross-file comparison). */
  exact(): number {
    return this.t.line.with + this.t.lines.with;
  }

  figures(): object {
    const rate = (k: Span['kind'], w: keyof ReturnType<typeof Tally.zero>) => +(this.t[k][w] / Math.max(1, this.t[k].n)).toFixed(4);
    const of = (k: Span['kind']) => ({
      n: this.t[k].n, with_suffix: rate(k, 'with'), without_suffix: rate(k, 'without'),
      similarity: { with_suffix: rate(k, 'simWith'), without_suffix: rate(k, 'simWithout') },
      ended_by_model_with_suffix: rate(k, 'ended'),
      any_candidate: { with_suffix: rate(k, 'anyWith'), without_suffix: rate(k, 'anyWithout') },
    });
    return { line: of('line'), lines: of('lines'), exact_with_suffix: this.exact() };
  }
}

async function run(engine: EngineCore, spans: Span[], candidates: number, verbose: boolean): Promise<object> {
  const tally = new Tally();
  for (const [i, s] of spans.entries()) {
    const r = await fillSpan(engine, s, `span${i}`, candidates);
    tally.add(s.kind, r);
    if (verbose) console.error(JSON.stringify({ mixed: engine.options.matchModel, file: s.file, want: r.want, with: r.got.true, without: r.got.false }));
  }
  return tally.figures();
}

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]{2,}/g;

/** Whether the answer holds a name the rest of its file does not and another file of its package does. */
function crossFileName(want: string, doc: string, others: readonly string[]): string | undefined {
  const known = new Set(doc.match(IDENTIFIER) ?? []);
  for (const name of new Set(want.match(IDENTIFIER) ?? [])) {
    if (known.has(name)) continue;
    const re = new RegExp(`\\b${name}\\b`);
    if (others.some((t) => re.test(t))) return name;
  }
  return undefined;
}

/** --workspace: every span alone and with its package as the workspace (the editor's settings otherwise). */
async function crossFile(engine: EngineCore, corpus: string, spans: Span[], candidates: number, budget: { stream: number; index: number }, verbose: boolean): Promise<object> {
  const { idx, raw } = heldoutFiles(corpus);
  const root = mkdtempSync(path.join(tmpdir(), 'megabyte-infill-ws-'));
  const packages = new Set(spans.map((s) => s.pkg));
  const texts = new Map<string, string>(); // package/path -> the file's text (for cross_file)
  for (const rec of idx) {
    if (!packages.has(rec.package)) continue;
    const file = path.join(root, rec.package, rec.path);
    mkdirSync(path.dirname(file), { recursive: true });
    const bytes = raw.subarray(rec.offset, rec.offset + rec.length);
    writeFileSync(file, bytes);
    texts.set(`${rec.package}/${rec.path}`, bytes.toString('utf8'));
  }
  const tallies = { alone: new Tally(), workspace: new Tally(), crossAlone: new Tally(), crossWorkspace: new Tally() };
  let crossN = 0;
  let contextFiles = 0;
  let contextBytes = 0;
  let indexFiles = 0;
  let indexBytes = 0;
  try {
    for (const [i, s] of spans.entries()) {
      const file = path.join(root, s.pkg, s.path);
      const want = s.text.slice(s.start, s.end);
      const doc = s.text.slice(0, s.start) + s.text.slice(s.end);
      const others = [...texts].filter(([k]) => k.startsWith(`${s.pkg}/`) && k !== s.file).map(([, t]) => t);
      const crossName = crossFileName(want, doc, others);
      const context = await folderContext(file, doc, path.join(root, s.pkg), budget.stream);
      // the file's own copy on disk (with the span) is in the package: the index's view leaves it out
      const cross = await folderCrossIndex(file, doc, path.join(root, s.pkg), budget.index);
      contextFiles += context.length;
      contextBytes += context.reduce((a, c) => a + Buffer.byteLength(c.text), 0);
      const alone = await fillSpan(engine, s, file, candidates);
      const withWs = await fillSpan(engine, s, file, candidates, context, cross);
      indexFiles += withWs.indexed?.files ?? 0;
      indexBytes += withWs.indexed?.bytes ?? 0;
      tallies.alone.add(s.kind, alone);
      tallies.workspace.add(s.kind, withWs);
      if (crossName) {
        crossN++;
        tallies.crossAlone.add(s.kind, alone);
        tallies.crossWorkspace.add(s.kind, withWs);
      }
      if (verbose) console.error(JSON.stringify({ i, file: s.file, cross: crossName, indexed: withWs.indexed?.files ?? 0, context: context.map((c) => path.relative(root, c.path)), want, alone: alone.got.true, workspace: withWs.got.true }));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const ratio = (a: Tally, b: Tally) => (a.exact() ? +(b.exact() / a.exact()).toFixed(2) : null);
  return {
    spans: spans.length, candidates, workspace_bytes: budget.stream, index_bytes: budget.index,
    mean_context: { files: +(contextFiles / Math.max(1, spans.length)).toFixed(1), bytes: Math.round(contextBytes / Math.max(1, spans.length)) },
    mean_indexed: { files: +(indexFiles / Math.max(1, spans.length)).toFixed(1), bytes: Math.round(indexBytes / Math.max(1, spans.length)) },
    alone: tallies.alone.figures(), workspace: tallies.workspace.figures(),
    cross_file: { n: crossN, alone: tallies.crossAlone.figures(), workspace: tallies.crossWorkspace.figures() },
    ratio: { all: ratio(tallies.alone, tallies.workspace), cross_file: ratio(tallies.crossAlone, tallies.crossWorkspace) },
  };
}

if (require.main === module) main().catch((e) => fail((e as Error).message));
