// npm run score -- [--model DIR] [--context BYTES] FILE...
// Bits per byte of each file (each scored as its own document, from its first byte), summed.
// Last line: {"files":n,"bytes":N,"bits":B,"bpb":x,"seconds":s,"ep":"cpu"}
import { readFileSync } from 'node:fs';
import { EngineCore } from '../engine/engine';
import { COMMON_FLAGS, defaultModelDir, fail, flagHelp, intFlag, parseArgs, stringFlag, type FlagTable } from './args';

const SCORE_FLAGS = {
  ...COMMON_FLAGS,
  context: { value: 'BYTES', help: 'context before each byte, 0: the whole file (at most 1,000,000)' },
  'per-file': { help: 'a JSON line per file before the total' },
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), SCORE_FLAGS);
  if (!p.positional.length) fail(`usage: npm run score -- [flags] FILE...\n${flagHelp(SCORE_FLAGS)}`);
  const context = intFlag(p, 'context', 0, 0, 1_000_000);
  const threads = intFlag(p, 'threads', 0, 0, 256);
  const engine = await EngineCore.load(stringFlag(p, 'model') ?? defaultModelDir(), { threads, executionProviders: ['cpu'] });
  const t0 = performance.now();
  let bytes = 0;
  let bits = 0;
  for (const file of p.positional) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      fail(`cannot read ${file}: ${(e as Error).message}`);
    }
    if (Buffer.byteLength(text) !== readFileSync(file).length) fail(`${file} is not valid UTF-8`);
    engine.sync(file, 1, text);
    const r = await engine.score({ uri: file, version: 1, contextBytes: context });
    engine.close(file);
    bytes += r.bytes;
    bits += r.totalBits;
    if (p.flags.has('per-file')) console.log(JSON.stringify({ file, bytes: r.bytes, bpb: round(r.bitsPerByte) }));
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ files: p.positional.length, bytes, bits: round(bits), bpb: round(bytes ? bits / bytes : 0), seconds: round(seconds), ep: engine.rt.ep }));
  await engine.dispose();
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

main().catch((e) => fail((e as Error).message));
