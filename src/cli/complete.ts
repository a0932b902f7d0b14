// npm run complete -- [--model DIR] --file F [--offset N] [--candidates K] [--max-bytes M]
//                     [--no-suffix] [--temperature T] [--seed S] [--stop line|block|budget]
//                     [--min-confidence X] [--workspace DIR [--workspace-bytes B] [--index-bytes N]] [--verbose]
// npm run complete -- [--model DIR] --jobs FILE.jsonl [the same flags, as every job's defaults]
// N is a byte offset. Last line: {"candidates":["..."],"ms":{"encode":e,"first":f,"total":t},"ep":"cpu",
//   "confidence":{"calibrated":c,"threshold":x,"reason"?:r},
//   "results":[{"text","offered","confidence","shown","shown_confidence","would_show","stopped_by"}]}
// results are the candidates in the engine's order (the most confident first when calibrated):
// `offered` the text as the editor offers it (post-processed), `shown` its part the editor shows
// while typing at the threshold (the model's default unless --min-confidence), `would_show`
// whether that is anything (Alt+\ shows every offered text whatever its confidence).
// With --workspace: the other files of DIR that the editor would give the model before the
// document (src/engine/context.ts, the same ranking), and "context":{"files","bytes","parts"};
// beside them, more of DIR's files (--index-bytes, the editor's megabyte.context.indexBytes) for
// the match models to copy from (folderCrossIndex, as the worker builds it), "indexed":{"files","bytes"}.
// With --jobs: one such line per job, in the file's order, each with "line", "file" and "offset"
// first; a job that fails prints {"line": n, "error": "..."} and the others go on (src/cli/jobs.ts).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_INDEX_BYTES, DEFAULT_WORKSPACE_BYTES, STOP_RULES, isStopRule, type CompleteResult } from '../engine/api';
import { folderContext, folderCrossIndex } from '../engine/context';
import { EngineCore } from '../engine/engine';
import { COMMON_FLAGS, defaultModelDir, fail, flagHelp, intFlag, numberFlag, parseArgs, stringFlag, UsageError, type FlagTable, type Parsed } from './args';
import { checkOffset, JOB_KEYS, OPTION_BOUNDS, parseJobLine, type CompleteOptions } from './jobs';

const COMPLETE_FLAGS = {
  ...COMMON_FLAGS,
  file: { value: 'F', help: 'the document' },
  offset: { value: 'N', help: 'the cursor, a byte offset (default: the end of the file)' },
  jobs: { value: 'FILE.jsonl', help: `many requests, one JSON object a line (keys: ${Object.keys(JOB_KEYS).join(', ')}); one model load, one result a line` },
  candidates: { value: 'K', help: 'candidates decoded together (default 1)' },
  'max-bytes': { value: 'M', help: 'most bytes per candidate (default 128)' },
  temperature: { value: 'T', help: '0 is greedy (default 0)' },
  'top-p': { value: 'P', help: 'nucleus sampling (default 0.95)' },
  seed: { value: 'S', help: 'sampling seed (default 1)' },
  stop: { value: 'line|block|budget', help: 'where a candidate stops (default block)' },
  'time-ms': { value: 'MS', help: 'wall-clock budget (default 60000)' },
  'no-suffix': { help: 'ignore the text after the cursor' },
  'min-confidence': { value: 'X', help: 'show (cut to) what reaches this calibrated confidence, 0..1 (default: the model\'s threshold; 0: everything)' },
  workspace: { value: 'DIR', help: 'give the model the files of DIR that the editor would (imports, same folder and language), before the document' },
  'workspace-bytes': { value: 'B', help: `bytes of those files at most (default ${DEFAULT_WORKSPACE_BYTES})` },
  'index-bytes': { value: 'N', help: `with --workspace: bytes of DIR's files the match models index and copy from (default ${DEFAULT_INDEX_BYTES}; 0: none)` },
  verbose: { help: 'each candidate, its confidence, what the editor would show and why it stopped, on stderr' },
} as const satisfies FlagTable;

/** Where --workspace reads from (undefined: the document alone). */
interface Workspace { root: string; budgetBytes: number; indexBytes: number }

/** Gives the document (synced as its path) its workspace context; what it got, for the result's JSON. */
async function withWorkspace(engine: EngineCore, file: string, text: string, ws: Workspace | undefined): Promise<Record<string, unknown>> {
  if (!ws) return {};
  engine.setContext(file, await folderContext(file, text, ws.root, ws.budgetBytes));
  // the match models' index, ranked for this document as the worker ranks it (its own file left out)
  engine.setCrossIndex(await folderCrossIndex(file, text, ws.root, ws.indexBytes));
  const c = engine.contextOf(file);
  return {
    context: { files: c.files, bytes: c.bytes, parts: [...c.parts].reverse().map((x) => ({ path: path.relative(ws.root, x.path), why: x.why, bytes: x.bytes })) },
    indexed: { files: c.indexed?.files ?? 0, bytes: c.indexed?.bytes ?? 0 },
  };
}

/** The flags as every request's options (a jobs line overrides them). */
function optionsOf(p: Parsed): CompleteOptions {
  const stop = stringFlag(p, 'stop') ?? 'block';
  if (!isStopRule(stop)) throw new UsageError(`--stop must be one of ${STOP_RULES.join(', ')}, got ${stop}`);
  return {
    candidates: intFlag(p, 'candidates', 1, ...OPTION_BOUNDS.candidates),
    maxBytes: intFlag(p, 'max-bytes', 128, ...OPTION_BOUNDS.maxBytes),
    temperature: numberFlag(p, 'temperature', 0, ...OPTION_BOUNDS.temperature),
    topP: numberFlag(p, 'top-p', 0.95, 0, 1),
    seed: intFlag(p, 'seed', 1),
    stop,
    timeMs: intFlag(p, 'time-ms', 60000, 1),
    useSuffix: !p.flags.has('no-suffix'),
    minConfidence: p.flags.has('min-confidence') ? numberFlag(p, 'min-confidence', 0, ...OPTION_BOUNDS.minConfidence) : undefined,
  };
}

/** The JSON of one request's answer (see the header). */
function resultJson(res: CompleteResult): Record<string, unknown> {
  return {
    candidates: res.candidates.map((c) => c.text),
    ms: res.ms,
    ep: res.ep,
    confidence: res.confidence,
    results: res.candidates.map((c) => ({
      text: c.text,
      offered: c.offered,
      confidence: c.confidence ?? null,
      shown: c.shown,
      shown_confidence: c.shownConfidence ?? null,
      would_show: c.shown !== '',
      stopped_by: c.stoppedBy,
    })),
  };
}

function printVerbose(res: CompleteResult, label = ''): void {
  const conf = res.confidence;
  console.error(`=== ${label}${conf.calibrated ? `calibrated, threshold ${conf.threshold}` : `uncalibrated: ${conf.reason ?? ''}`}`);
  const pct = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));
  res.candidates.forEach((c, i) => {
    const what = c.shown === '' ? (c.offered === '' ? 'nothing to offer' : 'held back') : c.shown === c.offered ? 'shown whole' : `shown cut to ${c.shown.length} of ${c.offered.length} characters (confidence ${pct(c.shownConfidence)})`;
    console.error(`--- candidate ${i + 1}: confidence ${pct(c.confidence)}, ${what}, stopped by ${c.stoppedBy}`);
    console.error(c.text);
    if (c.offered !== c.text) console.error(`--- offered (post-processed):\n${c.offered}`);
    if (c.shown !== '' && c.shown !== c.offered) console.error(`--- shown while typing:\n${c.shown}`);
  });
}

/** One request against `bytes` (already synced as `uri` at `version`). */
async function completeAt(engine: EngineCore, uri: string, version: number, bytes: Buffer, offset: number, o: CompleteOptions): Promise<CompleteResult> {
  return engine.complete({
    uri, version, offset: bytes.subarray(0, offset).toString('utf8').length,
    candidates: o.candidates, maxBytes: o.maxBytes, temperature: o.temperature, topP: o.topP, seed: o.seed,
    stop: o.stop, timeBudgetMs: o.timeMs, useSuffix: o.useSuffix, minConfidence: o.minConfidence,
  });
}

function readDocument(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
}

async function runJobs(engine: EngineCore, jobsFile: string, defaults: CompleteOptions, verbose: boolean, ws?: Workspace): Promise<void> {
  const lines = readDocument(jobsFile).toString('utf8').split(/\r?\n/);
  let version = 0;
  let open: { file: string; text: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    try {
      const job = parseJobLine(lines[i], line, defaults);
      if (!job) continue;
      const bytes = readDocument(job.file);
      const offset = checkOffset(bytes, job.offset, job.file);
      const text = bytes.toString('utf8');
      // One document at a time: the next file's is synced in its place (the engine keeps its cache
      // while the same file is asked again, at another offset or after it changed).
      if (open && open.file !== path.resolve(job.file)) engine.close(open.file);
      const uri = path.resolve(job.file);
      if (!open || open.file !== uri || open.text !== text) engine.sync(uri, ++version, text);
      const context = await withWorkspace(engine, uri, text, ws);
      open = { file: uri, text };
      const res = await completeAt(engine, uri, version, bytes, offset, job.options);
      if (verbose) printVerbose(res, `line ${line}: ${job.file} @${offset}, `);
      process.stdout.write(JSON.stringify({ line, file: job.file, offset, ...resultJson(res), ...context }) + '\n');
    } catch (e) {
      const message = (e as Error).message;
      const error = message.startsWith(`line ${line}:`) ? message : `line ${line}: ${message}`;
      process.stderr.write(`error: ${error}\n`);
      process.stdout.write(JSON.stringify({ line, error }) + '\n');
    }
  }
}

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), COMPLETE_FLAGS);
  const file = stringFlag(p, 'file');
  const jobs = stringFlag(p, 'jobs');
  const usage = `usage: npm run complete -- --file F [flags]  or  --jobs FILE.jsonl [flags]\n${flagHelp(COMPLETE_FLAGS)}`;
  if ((file === undefined) === (jobs === undefined) || p.positional.length) fail(file !== undefined ? `--file and --jobs do not go together\n${usage}` : usage);
  if (jobs !== undefined && p.flags.has('offset')) fail('--offset is per job with --jobs (its "offset" key)');
  const options = optionsOf(p);
  const verbose = p.flags.has('verbose');
  let bytes: Buffer | undefined;
  let offset = 0;
  if (file !== undefined) {
    bytes = readDocument(file);
    offset = intFlag(p, 'offset', bytes.length, 0, bytes.length);
    if (offset < bytes.length && (bytes[offset] & 0xc0) === 0x80) fail(`--offset ${offset} is inside a UTF-8 character`);
  }
  const engine = await EngineCore.load(stringFlag(p, 'model') ?? defaultModelDir(), {
    threads: intFlag(p, 'threads', 0, 0, 256), executionProviders: ['cpu'],
  });
  const root = stringFlag(p, 'workspace');
  const ws = root === undefined ? undefined : {
    root: path.resolve(root),
    budgetBytes: intFlag(p, 'workspace-bytes', DEFAULT_WORKSPACE_BYTES, 0, 1_000_000),
    indexBytes: intFlag(p, 'index-bytes', DEFAULT_INDEX_BYTES, 0, 32_000_000),
  };
  if (jobs !== undefined) {
    await runJobs(engine, jobs, options, verbose, ws);
  } else if (file !== undefined && bytes) {
    const uri = path.resolve(file);
    const text = bytes.toString('utf8');
    engine.sync(uri, 1, text);
    const context = await withWorkspace(engine, uri, text, ws);
    const res = await completeAt(engine, uri, 1, bytes, offset, options);
    if (verbose) printVerbose(res);
    console.log(JSON.stringify({ ...resultJson(res), ...context }));
  }
  await engine.dispose();
}

main().catch((e) => fail((e as Error).message));
