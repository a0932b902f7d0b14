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
// Last line: {"spans":n,"mixed":{"line":{"n":k,"with_suffix":x,"without_suffix":y,"similarity":{...},...},"lines":{...}},"network_only":{...}}
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
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
  verbose: { help: 'each span and its candidates, on stderr' },
} as const satisfies FlagTable;

interface Span { file: string; text: string; start: number; end: number; kind: 'line' | 'lines' }

/** Deterministic spans from whole held-out files (corpus.py's heldout.bin/idx). */
export function heldoutSpans(corpus: string, count: number, seed: number): Span[] {
  const idx: { package: string; path: string; offset: number; length: number }[] = JSON.parse(readFileSync(path.join(corpus, 'heldout.idx'), 'utf8'));
  const raw = readFileSync(path.join(corpus, 'heldout.bin'));
  const random = rng(seed);
  const files = idx.filter((r) => r.length > 2000 && r.length < 200_000 && /\.(py|ts|js|mjs|md|rst)$/.test(r.path));
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
    spans.push({ file: `${rec.package}/${rec.path}`, text, start, end, kind });
  }
  return spans;
}

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), INFILL_FLAGS);
  noPositional(p, INFILL_FLAGS);
  const corpus = stringFlag(p, 'corpus') ?? path.join(repoRoot(), '.cache', 'corpus');
  if (!existsSync(path.join(corpus, 'heldout.idx'))) fail(`no held-out split at ${corpus}: run models/training/corpus.py first`);
  const spans = heldoutSpans(corpus, intFlag(p, 'spans', 60, 1, 10000), intFlag(p, 'seed', 7));
  const engine = await EngineCore.load(stringFlag(p, 'model') ?? defaultModelDir(), { executionProviders: ['cpu'] });
  const t0 = performance.now();
  engine.options.matchModel = true;
  const hasMatch = engine.matcher() !== undefined;
  const result: Record<string, unknown> = { model: engine.info().name, spans: spans.length, candidates: intFlag(p, 'candidates', 3, 1, 16) };
  // mixed: the context-mixing layer in generation too (engine.generationMixing; the editor's default
  // is off, i.e. match_only: with CandidateCm.greedy's rule the layer is as good as the match model
  // alone here, not better, and slower: see EngineCore.generationMixing);
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

async function run(engine: EngineCore, spans: Span[], candidates: number, verbose: boolean): Promise<object> {
  const zero = () => ({ n: 0, with: 0, without: 0, simWith: 0, simWithout: 0, ended: 0, anyWith: 0, anyWithout: 0 });
  const tally = { line: zero(), lines: zero() };
  for (const [i, s] of spans.entries()) {
    const want = s.text.slice(s.start, s.end);
    const doc = s.text.slice(0, s.start) + s.text.slice(s.end);
    const uri = `span${i}`;
    engine.sync(uri, 1, doc);
    // what the editor does in the background before the first request: encode, build the CM state
    await engine.preEncode(uri, s.start, NEVER_CANCELLED);
    const got: Record<string, string> = {};
    const any: Record<string, boolean> = {};
    let ended = false;
    for (const useSuffix of [true, false]) {
      const r = await engine.complete({
        uri, version: 1, offset: s.start, candidates, maxBytes: Buffer.byteLength(want) + 64, temperature: 0, topP: 1,
        stop: s.kind === 'line' ? 'line' : 'budget', timeBudgetMs: 60_000, useSuffix,
      });
      if (useSuffix) ended = r.candidates[0].stoppedBy === 'eom' || r.candidates[0].stoppedBy === 'suffix';
      // Without the suffix nothing says where the middle ends: compare the same number of lines.
      // With it, the model must end the middle itself (EOM): compared whole.
      const texts = r.candidates.map((c) => (s.kind === 'lines' && !useSuffix ? c.text.split('\n').slice(0, want.split('\n').length).join('\n') : c.text));
      got[String(useSuffix)] = texts[0];
      any[String(useSuffix)] = texts.some((x) => x.trimEnd() === want.trimEnd());
    }
    engine.close(uri);
    const t = tally[s.kind];
    t.n++;
    if (got.true.trimEnd() === want.trimEnd()) t.with++;
    if (got.false.trimEnd() === want.trimEnd()) t.without++;
    t.simWith += similarity(got.true.trimEnd(), want.trimEnd());
    t.simWithout += similarity(got.false.trimEnd(), want.trimEnd());
    if (ended) t.ended++;
    if (any.true) t.anyWith++;
    if (any.false) t.anyWithout++;
    if (verbose) console.error(JSON.stringify({ mixed: engine.options.matchModel, file: s.file, want, with: got.true, without: got.false }));
  }
  const rate = (k: keyof typeof tally, w: keyof ReturnType<typeof zero>) => +(tally[k][w] / Math.max(1, tally[k].n)).toFixed(4);
  const figures = (k: keyof typeof tally) => ({
    n: tally[k].n, with_suffix: rate(k, 'with'), without_suffix: rate(k, 'without'),
    similarity: { with_suffix: rate(k, 'simWith'), without_suffix: rate(k, 'simWithout') },
    ended_by_model_with_suffix: rate(k, 'ended'),
    any_candidate: { with_suffix: rate(k, 'anyWith'), without_suffix: rate(k, 'anyWithout') },
  });
  return { line: figures('line'), lines: figures('lines') };
}

if (require.main === module) main().catch((e) => fail((e as Error).message));
