// npm run calibrate -- [--model DIR] [--corpus .cache/corpus-v2] [--positions N] [--seed S]
//                      [--exclude-trained-on DIR] [--rows FILE[,FILE]] [--time-ms MS] [--dry-run]
//                      [--generation network|match|context-mixing]
// Fits the confidence calibration (src/engine/confidence.ts) on the training split: realistic
// cursor positions (positions.ts) run through the engine with the editor's default request, each
// candidate's cut points labelled right or wrong, a logistic regression (calibration.ts); the
// default threshold is the lowest whose curve on these positions reaches precision >= 65 % with
// >= 3 characters kept per character shown wrong (issue 18's targets, 60 % and 3x, with a margin
// on precision). Writes manifest.json `confidence` with the digest of the model as it generates
// now (--generation: the network alone, the match model, the context-mixing layer; one block per
// rule, blocks fitted on another network dropped). Packages of
// --exclude-trained-on's training split (default .cache/corpus, what the bundled network trained
// on) are left out, so the fit sees code the network never saw, as the user's code is.
// Last line: the block written (JSON).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONFIDENCE_KIND, Calibration, modelDigest } from '../engine/confidence';
import { defaultModelDir, fail, intFlag, noPositional, parseArgs, repoRoot, stringFlag, type FlagTable } from '../cli/args';
import { packageName, samplePositions } from './positions';
import {
  THRESHOLDS, blockOf, collect, curvePoint, engineFor, examples, fitLogistic, generationFlag, readRows, reliability, withBlock, type Row,
} from './calibration';

const FLAGS = {
  model: { value: 'DIR', help: 'model directory (default models/mb-small)' },
  corpus: { value: 'DIR', help: 'corpus whose training split the positions come from (default .cache/corpus-v2)' },
  positions: { value: 'N', help: 'positions (default 400)' },
  seed: { value: 'S', help: 'which positions (default 1)' },
  'exclude-trained-on': { value: 'DIR', help: "leave out this corpus's training packages (default .cache/corpus when present; '' none)" },
  rows: { value: 'FILE[,FILE]', help: 'reuse the rows of earlier runs (JSON lines) instead of generating; one missing file: generate into it' },
  'time-ms': { value: 'MS', help: "each request's time budget (default 10000: the figures are about quality, not this machine's speed)" },
  'dry-run': { help: 'fit and print, do not write the manifest' },
  generation: { value: 'network|match|context-mixing', help: "how generation mixes the network (default: as the editor does, 'match'); each rule has its own block in the manifest" },
} as const satisfies FlagTable;

// The default threshold: the lowest (most coverage) whose fit-set precision and kept/wrong ratio
// reach these (issue 18's targets are precision >= 60 % and a ratio >= 3 on held-out code; the
// precision goal keeps a margin over 60 %).
export const PRECISION_GOAL = 0.65;
export const RATIO_GOAL = 3;

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), FLAGS);
  noPositional(p, FLAGS);
  const root = repoRoot();
  const modelDir = stringFlag(p, 'model') ?? defaultModelDir();
  const corpus = stringFlag(p, 'corpus') ?? path.join(root, '.cache', 'corpus-v2');
  const count = intFlag(p, 'positions', 400, 1, 100_000);
  const seed = intFlag(p, 'seed', 1);
  const engine = await engineFor(modelDir, generationFlag(p));
  const t0 = performance.now();
  let rows: Row[];
  const rowsFile = stringFlag(p, 'rows');
  const log = (s: string) => console.error(`[calibrate] ${s}`);
  if (rowsFile && rowsFile.split(',').every((f) => existsSync(f))) rows = rowsFile.split(',').flatMap(readRows);
  else {
    const excl = stringFlag(p, 'exclude-trained-on') ?? (existsSync(path.join(root, '.cache', 'corpus', 'train.idx')) ? path.join(root, '.cache', 'corpus') : '');
    const exclude = new Set<string>(excl ? (JSON.parse(readFileSync(path.join(excl, 'train.idx'), 'utf8')) as { package: string }[]).map((r) => packageName(r.package)) : []);
    if (!existsSync(path.join(corpus, 'train.idx'))) fail(`no training split at ${corpus}: run models/training/corpus.py first`);
    const positions = samplePositions(corpus, 'train', count, seed, exclude);
    log(`${positions.length} positions from ${corpus} (train, ${exclude.size} packages left out), generating as the editor asks`);
    rows = await collect(engine, positions, rowsFile ?? path.join(root, '.cache', `calibrate-rows-${seed}${engine.generationMode() === 'match' ? '' : `-${engine.generationMode()}`}.jsonl`), intFlag(p, 'time-ms', 10000, 1), log);
  }
  const data = rows.flatMap(examples);
  const weights = fitLogistic(data);
  const digest = modelDigest(engine.rt.manifest, engine.generationMode());
  const probe = new Calibration(blockOf(weights, digest, 0, {}, CONFIDENCE_KIND));
  const curve = THRESHOLDS.map((t) => curvePoint(rows, probe, t));
  const pick = curve.find((c) => c.threshold > 0 && c.precision >= PRECISION_GOAL && c.ratio >= RATIO_GOAL) ?? curve[curve.length - 1];
  const fit = {
    corpus: path.relative(root, corpus) || corpus, split: 'train', positions: rows.length, examples: data.length, seed,
    generation: engine.generationMode(), date: new Date().toISOString().slice(0, 10),
    at_threshold: pick, everything_shown: curve[0], reliability: reliability(data, probe),
  };
  const block = blockOf(weights, digest, pick.threshold, fit, CONFIDENCE_KIND);
  log(`fitted in ${((performance.now() - t0) / 1000).toFixed(0)} s; curve on the fit positions:`);
  for (const c of curve) log(JSON.stringify(c));
  if (!p.flags.has('dry-run')) {
    const file = path.join(modelDir, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    m.confidence = withBlock(m, block);
    writeFileSync(file, JSON.stringify(m, null, 1) + '\n');
    log(`wrote ${file} confidence (threshold ${pick.threshold})`);
  }
  console.log(JSON.stringify(block));
  await engine.dispose();
}

if (require.main === module) main().catch((e) => fail((e as Error).message));
