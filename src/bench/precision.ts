// npm run precision -- [--model DIR] [--corpus .cache/corpus-v2] [--positions N] [--seed S]
//                      [--rows FILE] [--time-ms MS] [--out PREFIX] [--generation network|match|context-mixing]
// What the user sees, on the held-out split: realistic cursor positions (positions.ts: start of a
// line after its indentation, two to four lines from there, mid-line after a word, after ( . = : {)
// run with the editor's default request; for the model's calibration (manifest `confidence`) at
// a sweep of thresholds and at its default: coverage (positions where a suggestion of at least
// 3 visible characters is shown), precision (shown suggestions that are right: what follows starts
// with them), exact (equal to the whole middle), characters kept (Tab, or accept-word up to where
// it goes wrong) against characters shown wrong, the mean length shown; per kind and language at
// the default; the reliability diagram (predicted vs observed). Writes PREFIX.json, PREFIX.md and
// the plots PREFIX-curve / PREFIX-reliability (png, or svg without Chromium).
// Last line: the JSON summary.
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { defaultModelDir, fail, intFlag, noPositional, parseArgs, repoRoot, stringFlag, type FlagTable } from '../cli/args';
import { samplePositions } from './positions';
import { THRESHOLDS, collect, curvePoint, engineFor, examples, generationFlag, readRows, reliability, type CurvePoint, type Row } from './calibration';
import { lineChart, writeCharts } from './plot';

const FLAGS = {
  model: { value: 'DIR', help: 'model directory (default models/mb-small)' },
  corpus: { value: 'DIR', help: 'corpus with the held-out split (default .cache/corpus-v2)' },
  positions: { value: 'N', help: 'positions (default 400)' },
  seed: { value: 'S', help: 'which positions (default 11)' },
  rows: { value: 'FILE', help: 'reuse the rows of an earlier run (JSON lines) instead of generating' },
  'time-ms': { value: 'MS', help: "each request's time budget (default 10000)" },
  out: { value: 'PREFIX', help: 'where the results go (default test/bench/confidence-<date>, -<generation> unless match)' },
  generation: { value: 'network|match|context-mixing', help: "how generation mixes the network (default: as the editor does, 'match')" },
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), FLAGS);
  noPositional(p, FLAGS);
  const root = repoRoot();
  const corpus = stringFlag(p, 'corpus') ?? path.join(root, '.cache', 'corpus-v2');
  const seed = intFlag(p, 'seed', 11);
  const engine = await engineFor(stringFlag(p, 'model') ?? defaultModelDir(), generationFlag(p));
  const log = (s: string) => console.error(`[precision] ${s}`);
  const t0 = performance.now();
  const rowsFile = stringFlag(p, 'rows');
  let rows: Row[];
  if (rowsFile && existsSync(rowsFile)) rows = readRows(rowsFile);
  else {
    if (!existsSync(path.join(corpus, 'heldout.idx'))) fail(`no held-out split at ${corpus}: run models/training/corpus.py first`);
    const positions = samplePositions(corpus, 'heldout', intFlag(p, 'positions', 400, 1, 100_000), seed);
    log(`${positions.length} held-out positions from ${corpus}`);
    rows = await collect(engine, positions, rowsFile ?? path.join(root, '.cache', `precision-rows-${seed}${engine.generationMode() === 'match' ? '' : `-${engine.generationMode()}`}.jsonl`), intFlag(p, 'time-ms', 10000, 1), log);
  }
  const { cal, reason } = engine.calibration();
  if (!cal) log(`no usable calibration: ${reason}`);
  const threshold = cal?.block.threshold ?? 0;
  const curve = cal ? THRESHOLDS.map((t) => curvePoint(rows, cal, t)) : [curvePoint(rows, undefined, 0)];
  const atDefault = curvePoint(rows, cal, threshold);
  const by = <K extends string>(key: (r: Row) => K) => {
    const keys = [...new Set(rows.map(key))].sort();
    return Object.fromEntries(keys.map((k) => [k, { default: curvePoint(rows, cal, threshold, (r) => key(r) === k), everything: curvePoint(rows, undefined, 0, (r) => key(r) === k) }]));
  };
  const summary = {
    model: engine.info().name, generation: engine.generationMode(), calibrated: cal !== undefined, reason,
    corpus: path.relative(root, corpus) || corpus, positions: rows.length, seed, threshold,
    everything_shown: curvePoint(rows, undefined, 0), at_default: atDefault, curve,
    by_kind: by((r) => r.kind), by_language: by((r) => r.lang),
    reliability: cal ? reliability(rows.flatMap(examples), cal) : [],
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
  };
  const mode = engine.generationMode();
  const out = stringFlag(p, 'out') ?? path.join(root, 'test', 'bench', `confidence-${new Date().toISOString().slice(0, 10)}${mode === 'match' ? '' : `-${mode}`}`);
  writeFileSync(`${out}.json`, JSON.stringify(summary, null, 1) + '\n');
  writeFileSync(`${out}.md`, markdown(summary, curve));
  if (cal) {
    await writeCharts([
      lineChart(`${out}-curve`, 'Precision against coverage (held-out positions)', 'coverage (share of positions shown a suggestion)', 'precision (shown and right)',
        [{ name: 'thresholds 0 … 0.95', points: curve.map((c) => ({ x: c.coverage, y: c.precision })) }]),
      lineChart(`${out}-reliability`, 'Reliability: predicted vs observed (held-out cut points)', 'predicted probability right', 'observed share right',
        [{ name: 'observed', points: summary.reliability.filter((b) => b.n > 0).map((b) => ({ x: b.predicted, y: b.observed })) }, { name: 'ideal', points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }]),
    ]);
  }
  console.log(JSON.stringify({ ...summary, curve: undefined, by_language: undefined, reliability: undefined }));
  await engine.dispose();
}

function markdown(s: { model: string; generation: string; positions: number; threshold: number; everything_shown: CurvePoint; at_default: CurvePoint; by_kind: Record<string, { default: CurvePoint; everything: CurvePoint }>; by_language: Record<string, { default: CurvePoint; everything: CurvePoint }>; reliability: { bin: string; n: number; predicted: number; observed: number }[] }, curve: CurvePoint[]): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const line = (name: string, c: CurvePoint) => `| ${name} | ${c.positions} | ${pct(c.coverage)} | ${pct(c.precision)} | ${pct(c.exact)} | ${c.kept} | ${c.wrong} | ${c.ratio} | ${c.meanShown} |`;
  const head = '| | positions | coverage | precision | exact | chars kept | chars wrong | kept/wrong | mean shown |\n|---|---|---|---|---|---|---|---|---|';
  return [
    `# Confidence on held-out positions (${s.model}, generation: ${s.generation})`, '',
    '`npm run precision` (src/bench/precision.ts); positions: src/bench/positions.ts; a suggestion under 3 visible characters counts as not shown.', '',
    head, line('everything shown', s.everything_shown), line(`default threshold ${s.threshold}`, s.at_default), '',
    '## Sweep', '', head, ...curve.map((c) => line(`threshold ${c.threshold}`, c)), '',
    '## By kind (default threshold; everything shown)', '', head,
    ...Object.entries(s.by_kind).flatMap(([k, v]) => [line(k, v.default), line(`${k} (all)`, v.everything)]), '',
    '## By language (default threshold)', '', head, ...Object.entries(s.by_language).map(([k, v]) => line(k, v.default)), '',
    '## Reliability (all cut points of all candidates)', '', '| predicted | n | mean predicted | observed |', '|---|---|---|---|',
    ...s.reliability.map((b) => `| ${b.bin} | ${b.n} | ${b.predicted} | ${b.observed} |`), '',
  ].join('\n');
}

if (require.main === module) main().catch((e) => fail((e as Error).message));
