// npm run curve -- [--model DIR] [--out PREFIX]
// The training curve of a bundled network: for every training segment in its manifest
// (training.segments: steps, seconds, bytes seen, and heldout_network_bpb, the network alone on
// the held-out samples measured when that segment shipped), bits per byte against the bytes seen
// and against the CPU hours spent, one series per held-out sample. The samples:
//   "v1 404 KB"   corpus v1's held-out split, 16 files (the manifest's evaluation for segments 1-5)
//   "v2 1.29 MB"  corpus v2's held-out split, 51 files (eval.py --max-bytes 1000000; ship.sh's gate)
//   "v2 370 KB"   corpus v2's held-out split, 11 files (eval.py --max-bytes 300000; the manifest's
//                 evaluation since segment 6)
// Writes PREFIX.md, PREFIX.json and the plots PREFIX-bytes / PREFIX-hours (png, or svg without
// Chromium). Last line: the JSON summary.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { defaultModelDir, noPositional, parseArgs, repoRoot, stringFlag, type FlagTable } from '../cli/args';
import { lineChart, writeCharts, type Series } from './plot';

const FLAGS = {
  model: { value: 'DIR', help: 'model directory (default models/mb-small)' },
  out: { value: 'PREFIX', help: 'where the results go (default test/bench/training-curve)' },
} as const satisfies FlagTable;

interface Segment {
  steps: number;
  seconds: number;
  bytes: number;
  heldout_network_bpb?: Record<string, number>;
}

export interface CurvePoint {
  segment: number;
  steps: number;
  /** Bytes seen by the end of the segment (cumulative). */
  bytes: number;
  /** Training hours by the end of the segment (cumulative). */
  hours: number;
  bpb: Record<string, number>;
}

/** Cumulative steps, bytes and hours at the end of each segment, with its held-out figures. */
export function curvePoints(segments: readonly Segment[]): CurvePoint[] {
  let steps = 0;
  let seconds = 0;
  return segments.map((s, i) => {
    steps += s.steps;
    seconds += s.seconds;
    // `bytes` is cumulative in the records (seen bytes carry over from segment to segment)
    return { segment: i + 1, steps, bytes: s.bytes, hours: seconds / 3600, bpb: { ...(s.heldout_network_bpb ?? {}) } };
  });
}

function niceMax(v: number, step: number): number {
  return Math.ceil(v / step) * step;
}

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), FLAGS);
  noPositional(p, FLAGS);
  const dir = stringFlag(p, 'model') ?? defaultModelDir();
  const out = stringFlag(p, 'out') ?? path.join(repoRoot(), 'test', 'bench', 'training-curve');
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { name: string; training?: { segments?: Segment[] } };
  const points = curvePoints(manifest.training?.segments ?? []);
  if (!points.length) throw new Error(`${dir}/manifest.json has no training segments`);
  const samples = [...new Set(points.flatMap((q) => Object.keys(q.bpb)))];
  const series = (x: (q: CurvePoint) => number): Series[] => samples.map((name) => ({
    name: `held-out ${name}`,
    points: points.filter((q) => q.bpb[name] !== undefined).map((q) => ({ x: x(q), y: q.bpb[name] })),
  }));
  const ys = points.flatMap((q) => Object.values(q.bpb));
  const y: [number, number] = [Math.floor(Math.min(...ys) * 5) / 5 - 0.2, Math.ceil(Math.max(...ys) * 5) / 5];
  const mb = (q: CurvePoint) => q.bytes / 1e6;
  const last = points[points.length - 1];
  const charts = await writeCharts([
    lineChart(`${out}-bytes`, `${manifest.name}: the network alone on held-out code, by bytes seen`, 'bytes seen in training (MB)', 'bits per byte',
      series(mb), { x: [0, niceMax(mb(last), 200)], y }),
    lineChart(`${out}-hours`, `${manifest.name}: the network alone on held-out code, by training time`, 'training time (hours on 2 CPU cores)', 'bits per byte',
      series((q) => q.hours), { x: [0, niceMax(last.hours, 2)], y }),
  ]);
  const rows = points.map((q) => `| ${q.segment} | ${q.steps.toLocaleString('en-US')} | ${(q.bytes / 1e6).toFixed(0)} | ${q.hours.toFixed(2)} | ${samples.map((s) => q.bpb[s]?.toFixed(4) ?? '').join(' | ')} |`);
  const md = [
    `# Training curve of ${manifest.name}`,
    '',
    '`npm run curve` (src/bench/curve.ts): each training segment of the manifest, cumulative; bits per byte of the network alone (no match model, no mixing) on held-out samples, measured when the segment shipped.',
    '',
    `| segment | steps | MB seen | hours | ${samples.join(' | ')} |`,
    `|---|---|---|---|${samples.map(() => '---').join('|')}|`,
    ...rows,
    '',
    ...charts.map((c) => `![](${path.basename(c)})`),
    '',
  ].join('\n');
  writeFileSync(`${out}.md`, md);
  writeFileSync(`${out}.json`, JSON.stringify({ model: manifest.name, points }, null, 1) + '\n');
  console.log(JSON.stringify({ model: manifest.name, segments: points.length, last, files: [`${out}.md`, `${out}.json`, ...charts] }));
}

if (process.argv[1] && path.basename(process.argv[1]) === 'curve.js') {
  main().catch((e) => {
    console.error(`curve: ${(e as Error).message}`);
    process.exit(1);
  });
}
