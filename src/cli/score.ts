// npm run score -- [--model DIR] [--context BYTES] [--network-only | --match-only] FILE...
// Bits per byte of each file (each scored as its own document, from its first byte), summed:
// under the model as the editor uses it (the network with the context-mixing layer, or with the
// match model where the manifest has no context_mixing), or the network alone (--network-only),
// or the network mixed with the match model only (--match-only: the mixing before the CM layer).
// Last line: {"files":n,"bytes":N,"bits":B,"bpb":x,"seconds":s,"ep":"cpu"}
import { readFileSync } from 'node:fs';
import { EngineCore } from '../engine/engine';
import { CM_INPUTS } from '../engine/cm';
import { COMMON_FLAGS, defaultModelDir, fail, flagHelp, intFlag, parseArgs, stringFlag, type FlagTable } from './args';

const SCORE_FLAGS = {
  ...COMMON_FLAGS,
  context: { value: 'BYTES', help: 'context before each byte, 0: the whole file (at most 1,000,000)' },
  'per-file': { help: 'a JSON line per file before the total' },
  'network-only': { help: 'the network alone, without any mixing' },
  'match-only': { help: 'the network mixed with the match model only (no context-mixing layer)' },
  without: { value: 'INPUTS', help: `context-mixing inputs to leave out, comma-separated (ablation): ${[...CM_INPUTS, 'network'].join(', ')}` },
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), SCORE_FLAGS);
  if (!p.positional.length) fail(`usage: npm run score -- [flags] FILE...\n${flagHelp(SCORE_FLAGS)}`);
  const context = intFlag(p, 'context', 0, 0, 1_000_000);
  const threads = intFlag(p, 'threads', 0, 0, 256);
  const networkOnly = p.flags.has('network-only');
  if (networkOnly && p.flags.has('match-only')) fail('--network-only and --match-only exclude each other');
  const engine = await EngineCore.load(stringFlag(p, 'model') ?? defaultModelDir(), { threads, executionProviders: ['cpu'], matchModel: !networkOnly });
  if (p.flags.has('match-only')) engine.contextMixing = false;
  const without = (stringFlag(p, 'without') ?? '').split(',').filter(Boolean);
  for (const w of without) if (![...CM_INPUTS, 'network'].includes(w)) fail(`--without: unknown input ${w} (known: ${[...CM_INPUTS, 'network'].join(', ')})`);
  engine.cmWithout = without;
  const mixing = networkOnly ? 'network' : engine.mixing() ? 'context-mixing' : engine.matcher() ? 'match' : 'network';
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
  console.log(JSON.stringify({ files: p.positional.length, bytes, bits: round(bits), bpb: round(bytes ? bits / bytes : 0), mixing, seconds: round(seconds), ep: engine.rt.ep }));
  await engine.dispose();
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

main().catch((e) => fail((e as Error).message));
