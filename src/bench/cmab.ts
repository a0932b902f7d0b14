// The context-mixing layer's online part alone (no network: p_cm), for quick A/B of its models
// (models/training/README.md, the context-mixing A/B table): bits per byte of fixed held-out
// samples under src/engine/cm.ts, and the seconds its pass takes.
//
//   node scripts/build.mjs && node dist/bench/cmab.js [--corpus .cache/corpus-v2] [--model models/mb-small]
//       [--no-priors] [--p:NAME=VALUE ...] [--speed FILE]
//
// Samples (each from the held-out split): "code (a)": 22 source files of 3-40 KB, two per package
// (.py .js .ts .go .java .c .h .rs ...), each its own document; "code (b)": three packages' source
// files (zod, tmux, attrs) concatenated, ~100 KB each; "eval sample (a)": eval.py --max-bytes
// 300000's files (heldout_files), each its own document. --no-priors: every document starts from
// the neutral tables instead of the manifest's priors (to compare layers whose tables differ
// before cm_fit.py has run). --speed FILE: only that file, timed.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { longMatchModel, type CmBlock } from '../engine/cm';
import { cmScorer, type Mixing } from '../engine/engine';
import { MatchModel, type MatchParams } from '../engine/match';
import { heldoutSample, readIdx, type IdxRecord } from './sample';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const corpus = opt('--corpus', '.cache/corpus-v2');
const model = opt('--model', 'models/mb-small');
const speed = opt('--speed', '');
const man = JSON.parse(readFileSync(path.join(model, 'manifest.json'), 'utf8'));
const block: CmBlock = { ...man.context_mixing, params: { ...man.context_mixing.params } };
if (args.includes('--no-priors')) delete block.priors;
for (const a of args) {
  if (!a.startsWith('--p:')) continue;
  const [k, v] = a.slice(4).split('=');
  (block.params as unknown as Record<string, number>)[k] = Number(v);
}
const match = new MatchModel(man.match_model as MatchParams);
const mixing: Mixing = { block, match, long: longMatchModel(match, block) };

function cmAlone(docs: Buffer[]): { documents: number; bytes: number; bpb: number; seconds: number } {
  let bits = 0;
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (const d of docs) {
    const stream = new Uint16Array(d.length + 1);
    stream[0] = 256; // BOS
    stream.set(d, 1);
    const view = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
    match.release(match.scan(stream, view));
    const sc = cmScorer(stream, mixing, view);
    for (let i = 0; i < stream.length; i++) bits += sc.step(i);
    bytes += d.length;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { documents: docs.length, bytes, bpb: +(bits / bytes).toFixed(4), seconds: +seconds.toFixed(2) };
}

if (speed) {
  const r = cmAlone([readFileSync(speed)]);
  console.log(JSON.stringify({ file: speed, ...r, seconds_per_MB: +(r.seconds / r.bytes * 1e6).toFixed(2) }));
  process.exit(0);
}
const h = readIdx(corpus);
if (!h) throw new Error(`${corpus}: no heldout.idx/heldout.bin`);
const data = (r: IdxRecord) => h.raw.subarray(r.offset, r.offset + r.length);
const CODE = ['.ts', '.js', '.py', '.go', '.c', '.h', '.rs', '.java', '.cpp', '.sh', '.rb', '.mjs'];
const byPkg = new Map<string, IdxRecord[]>();
for (const r of h.idx) {
  if (!CODE.some((e) => r.path.endsWith(e)) || r.length < 3000 || r.length > 40000) continue;
  if (!byPkg.has(r.package)) byPkg.set(r.package, []);
  byPkg.get(r.package)!.push(r);
}
const codeA: IdxRecord[] = [];
for (const p of [...byPkg.keys()].sort()) {
  const rs = byPkg.get(p)!;
  for (let j = 0; j < 2; j++) {
    const r = rs[(j * 7919 + 3) % rs.length];
    if (!codeA.includes(r)) codeA.push(r);
  }
}
const codeB = ['zod', 'tmux', 'attrs'].filter((p) => byPkg.has(p)).map((p) => {
  const parts: Buffer[] = [];
  let n = 0;
  for (const r of byPkg.get(p)!) {
    if (n > 100000) break;
    parts.push(data(r));
    n += r.length;
  }
  return Buffer.concat(parts);
});
// eval.py heldout_files(corpus, 300000): the same files (none of them is dropped as not UTF-8)
const evalA = heldoutSample(corpus, 300000)!.files.map((f) => f.bytes);
console.log(JSON.stringify({
  'code (a)': cmAlone(codeA.map(data)), 'code (b)': cmAlone(codeB), 'eval sample (a)': cmAlone(evalA),
  priors: !!block.priors, params: block.params,
}));
