// npm run complete -- [--model DIR] --file F --offset N [--candidates K] [--max-bytes M]
//                     [--no-suffix] [--temperature T] [--seed S] [--stop line|block|budget]
// N is a byte offset. Last line: {"candidates":["..."],"ms":{"encode":e,"first":f,"total":t},"ep":"cpu"}
import { readFileSync } from 'node:fs';
import { STOP_RULES, isStopRule, type StopRule } from '../engine/api';
import { EngineCore } from '../engine/engine';
import { defaultModelDir, fail, intFlag, parseArgs } from './args';

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), ['no-suffix', 'verbose']);
  const file = p.flags.get('file');
  if (typeof file !== 'string') fail('usage: npm run complete -- [--model DIR] --file F --offset N [--candidates K] [--max-bytes M] [--no-suffix]');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  const offset = intFlag(p, 'offset', bytes.length, 0, bytes.length);
  if (offset < bytes.length && (bytes[offset] & 0xc0) === 0x80) fail(`--offset ${offset} is inside a UTF-8 character`);
  const text = bytes.toString('utf8');
  const stopFlag = String(p.flags.get('stop') ?? 'block');
  if (!isStopRule(stopFlag)) fail(`--stop must be one of ${STOP_RULES.join(', ')}, got ${stopFlag}`);
  const stop: StopRule = stopFlag;
  const engine = await EngineCore.load(String(p.flags.get('model') ?? defaultModelDir()), {
    threads: intFlag(p, 'threads', 0, 0, 256), executionProviders: ['cpu'],
  });
  engine.sync(file, 1, text);
  const res = await engine.complete({
    uri: file, version: 1, offset: bytes.subarray(0, offset).toString('utf8').length,
    candidates: intFlag(p, 'candidates', 1, 1, 16), maxBytes: intFlag(p, 'max-bytes', 128, 1, 65536),
    temperature: Number(p.flags.get('temperature') ?? 0), topP: Number(p.flags.get('top-p') ?? 0.95),
    seed: intFlag(p, 'seed', 1), stop, timeBudgetMs: intFlag(p, 'time-ms', 60000, 1), useSuffix: !p.flags.has('no-suffix'),
  });
  if (p.flags.has('verbose')) for (const c of res.candidates) console.error(`--- (${c.stoppedBy})\n${c.text}`);
  console.log(JSON.stringify({ candidates: res.candidates.map((c) => c.text), ms: res.ms, ep: res.ep }));
  await engine.dispose();
}

main().catch((e) => fail((e as Error).message));
