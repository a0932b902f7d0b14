// npm run complete -- [--model DIR] --file F --offset N [--candidates K] [--max-bytes M]
//                     [--no-suffix] [--temperature T] [--seed S] [--stop line|block|budget]
// N is a byte offset. Last line: {"candidates":["..."],"ms":{"encode":e,"first":f,"total":t},"ep":"cpu"}
import { readFileSync } from 'node:fs';
import { STOP_RULES, isStopRule, type StopRule } from '../engine/api';
import { EngineCore } from '../engine/engine';
import { COMMON_FLAGS, defaultModelDir, fail, flagHelp, intFlag, numberFlag, parseArgs, stringFlag, type FlagTable } from './args';

const COMPLETE_FLAGS = {
  ...COMMON_FLAGS,
  file: { value: 'F', help: 'the document' },
  offset: { value: 'N', help: 'the cursor, a byte offset (default: the end of the file)' },
  candidates: { value: 'K', help: 'candidates decoded together (default 1)' },
  'max-bytes': { value: 'M', help: 'most bytes per candidate (default 128)' },
  temperature: { value: 'T', help: '0 is greedy (default 0)' },
  'top-p': { value: 'P', help: 'nucleus sampling (default 0.95)' },
  seed: { value: 'S', help: 'sampling seed (default 1)' },
  stop: { value: 'line|block|budget', help: 'where a candidate stops (default block)' },
  'time-ms': { value: 'MS', help: 'wall-clock budget (default 60000)' },
  'no-suffix': { help: 'ignore the text after the cursor' },
  verbose: { help: 'each candidate and why it stopped, on stderr' },
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), COMPLETE_FLAGS);
  const file = stringFlag(p, 'file');
  if (file === undefined || p.positional.length) fail(`usage: npm run complete -- --file F [flags]\n${flagHelp(COMPLETE_FLAGS)}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  const offset = intFlag(p, 'offset', bytes.length, 0, bytes.length);
  if (offset < bytes.length && (bytes[offset] & 0xc0) === 0x80) fail(`--offset ${offset} is inside a UTF-8 character`);
  const text = bytes.toString('utf8');
  const stopFlag = stringFlag(p, 'stop') ?? 'block';
  if (!isStopRule(stopFlag)) fail(`--stop must be one of ${STOP_RULES.join(', ')}, got ${stopFlag}`);
  const stop: StopRule = stopFlag;
  const engine = await EngineCore.load(stringFlag(p, 'model') ?? defaultModelDir(), {
    threads: intFlag(p, 'threads', 0, 0, 256), executionProviders: ['cpu'],
  });
  engine.sync(file, 1, text);
  const res = await engine.complete({
    uri: file, version: 1, offset: bytes.subarray(0, offset).toString('utf8').length,
    candidates: intFlag(p, 'candidates', 1, 1, 16), maxBytes: intFlag(p, 'max-bytes', 128, 1, 65536),
    temperature: numberFlag(p, 'temperature', 0, 0, 10), topP: numberFlag(p, 'top-p', 0.95, 0, 1),
    seed: intFlag(p, 'seed', 1), stop, timeBudgetMs: intFlag(p, 'time-ms', 60000, 1), useSuffix: !p.flags.has('no-suffix'),
  });
  if (p.flags.has('verbose')) for (const c of res.candidates) console.error(`--- (${c.stoppedBy})\n${c.text}`);
  console.log(JSON.stringify({ candidates: res.candidates.map((c) => c.text), ms: res.ms, ep: res.ep }));
  await engine.dispose();
}

main().catch((e) => fail((e as Error).message));
