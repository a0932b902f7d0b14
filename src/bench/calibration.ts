// The confidence calibration's data and figures, shared by calibrate.ts (fit on the training
// split, write manifest.json `confidence`) and precision.ts (the held-out evaluation): positions
// run through the engine as the editor asks (its default settings, everything shown), each
// candidate's cut points labelled right or wrong, a logistic regression over confidence.ts's
// features, and the curve of coverage, precision and characters kept vs shown wrong by threshold.
import { createWriteStream, readFileSync } from 'node:fs';
import { DEFAULT_OPTIONS, type Candidate, type CompleteRequest } from '../engine/api';
import { EngineCore } from '../engine/engine';
import { NEVER_CANCELLED } from '../engine/decoder';
import {
  CONFIDENCE_FEATURES, Calibration, MIN_VISIBLE, confidenceBlocks, cutPoints, featuresAt, modelDigest, present, visible,
  type ConfidenceBlock, type ConfidenceContext, type GenerationMixing, type Scored,
} from '../engine/confidence';
import type { Manifest } from '../engine/manifest';
import { fail, stringFlag } from '../cli/args';
import { SETTINGS } from '../extension/contributes';
import { isRight, keptAndWrong, type Position, type PositionKind } from './positions';

/** One position's outcome: what the engine generated there (raw candidates with their bits). */
export interface Row {
  file: string;
  kind: PositionKind;
  lang: string;
  middle: string;
  ctx: ConfidenceContext;
  candidates: Scored[];
}

/** How generation mixes the network: each has its own calibration (manifest.json confidence holds one block per rule). */
export const GENERATIONS: readonly GenerationMixing[] = ['network', 'match', 'context-mixing'];

/** --generation's value (undefined: not given). */
export function generationFlag(p: Parameters<typeof stringFlag>[0]): GenerationMixing | undefined {
  const g = stringFlag(p, 'generation');
  if (g === undefined) return undefined;
  if (!(GENERATIONS as readonly string[]).includes(g)) fail(`--generation must be one of ${GENERATIONS.join(', ')}, got ${g}`);
  return g as GenerationMixing;
}

/**
 * The engine on the CPU, generating by `generation` (default: as the editor does, with the
 * settings' defaults): 'network' turns the match model off (megabyte.performance.matchModel),
 * 'match' the context-mixing layer in generation (megabyte.performance.generationMixing).
 */
export async function engineFor(modelDir: string, generation: GenerationMixing | undefined): Promise<EngineCore> {
  const engine = await EngineCore.load(modelDir, {
    executionProviders: ['cpu'], matchModel: generation !== 'network',
    generationMixing: generation === undefined ? DEFAULT_OPTIONS.generationMixing : generation === 'context-mixing',
  });
  if (generation && engine.generationMode() !== generation) {
    await engine.dispose();
    throw new Error(`${modelDir} cannot generate by '${generation}' (it generates by '${engine.generationMode()}': no match_model or context_mixing block?)`);
  }
  return engine;
}

/**
 * The manifest's `confidence` with `block` in: it replaces a block fitted on the same digest;
 * blocks fitted on another network (no generation rule of this one has their digest) are dropped.
 */
export function withBlock(m: Manifest, block: ConfidenceBlock): ConfidenceBlock | ConfidenceBlock[] {
  const mine = new Set(GENERATIONS.map((g) => modelDigest(m, g)));
  const old = confidenceBlocks(m.confidence);
  const kept = old.filter((b) => b.fitted_on !== block.fitted_on && mine.has(b.fitted_on));
  return kept.length ? [block, ...kept] : block;
}

/** The editor's default request (the settings' defaults, contributes.ts), everything shown. */
export function editorRequest(uri: string, offset: number, timeBudgetMs: number): CompleteRequest {
  return {
    uri, version: 1, offset,
    candidates: SETTINGS['megabyte.completion.candidates'].default,
    maxBytes: SETTINGS['megabyte.completion.maxBytes'].default,
    stop: SETTINGS['megabyte.completion.stopRule'].default,
    temperature: SETTINGS['megabyte.completion.temperature'].default,
    topP: 0.95, timeBudgetMs, minConfidence: 0,
  };
}

/** Runs every position through the engine (pre-encoded first, as the editor does between keystrokes); rows appended to `out` as JSON lines. */
export async function collect(engine: EngineCore, positions: Position[], out: string, timeBudgetMs: number, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  const w = createWriteStream(out);
  const t0 = performance.now();
  for (const [i, p] of positions.entries()) {
    const uri = `pos${i}`;
    engine.sync(uri, 1, p.doc);
    await engine.preEncode(uri, p.offset, NEVER_CANCELLED);
    const r = await engine.complete(editorRequest(uri, p.offset, timeBudgetMs));
    engine.close(uri);
    const lineStart = p.doc.lastIndexOf('\n', p.offset - 1) + 1;
    const row: Row = {
      file: p.file, kind: p.kind, lang: p.lang, middle: p.middle,
      ctx: { linePrefix: p.doc.slice(lineStart, p.offset), suffix: p.doc.slice(p.offset, p.offset + 1024), candidates: r.candidates.length },
      candidates: r.candidates.map((c: Candidate) => ({ text: c.text, bits: c.bits.map((b) => +b.toFixed(4)), stoppedBy: c.stoppedBy, copyLen: c.copyLen })),
    };
    rows.push(row);
    w.write(JSON.stringify(row) + '\n');
    if ((i + 1) % 25 === 0) log(`${i + 1}/${positions.length} positions, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  await new Promise<void>((resolve) => w.end(resolve));
  return rows;
}

export function readRows(file: string): Row[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Row);
}

/** The training examples of a row: every candidate at every cut point (and the first candidate alone, as the one-candidate early request sees it). */
export function examples(row: Row): { x: number[]; y: number }[] {
  const offered = present(row.candidates, row.ctx, undefined, 0).map((p) => p.offered);
  const out: { x: number[]; y: number }[] = [];
  const add = (c: Scored, text: string, others: string[], ctx: ConfidenceContext, firstLineOnly: boolean) => {
    for (const k of cutPoints(text)) {
      if (firstLineOnly && text.slice(0, k).includes('\n')) break;
      if (visible(text.slice(0, k)) < MIN_VISIBLE) continue;
      out.push({ x: featuresAt(c, text, k, others, ctx), y: isRight(text.slice(0, k), row.middle) ? 1 : 0 });
    }
  };
  row.candidates.forEach((c, i) => { if (offered[i]) add(c, offered[i], offered.filter((_, j) => j !== i), row.ctx, false); });
  if (row.candidates.length > 1 && offered[0]) add(row.candidates[0], offered[0], [], { ...row.ctx, candidates: 1 }, true);
  return out;
}

/** L2-regularised logistic regression by Newton's method (the bias, weight 0, is not penalised). */
export function fitLogistic(data: { x: number[]; y: number }[], ridge = 1, iterations = 25): number[] {
  const d = CONFIDENCE_FEATURES.length;
  const w = new Array<number>(d).fill(0);
  for (let it = 0; it < iterations; it++) {
    const g = new Array<number>(d).fill(0);
    const H = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (const { x, y } of data) {
      let z = 0;
      for (let i = 0; i < d; i++) z += w[i] * x[i];
      const p = 1 / (1 + Math.exp(-z));
      const r = p * (1 - p);
      for (let i = 0; i < d; i++) {
        g[i] += (p - y) * x[i];
        for (let j = 0; j <= i; j++) H[i][j] += r * x[i] * x[j];
      }
    }
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < i; j++) H[j][i] = H[i][j];
      if (i > 0) {
        g[i] += ridge * w[i];
        H[i][i] += ridge;
      }
      H[i][i] += 1e-9;
    }
    const step = solve(H, g);
    let moved = 0;
    for (let i = 0; i < d; i++) {
      w[i] -= step[i];
      moved = Math.max(moved, Math.abs(step[i]));
    }
    if (moved < 1e-7) break;
  }
  return w;
}

/** Solves A x = b (Gaussian elimination with partial pivoting; A is small and positive definite). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** What the editor shows at one threshold, over all rows (the first candidate, most confident first, that has a shown part). */
export interface CurvePoint {
  threshold: number;
  positions: number;
  /** Share of positions where a suggestion (>= MIN_VISIBLE visible characters) is shown. */
  coverage: number;
  /** Share of shown suggestions that are right (what follows starts with them). */
  precision: number;
  /** Share of shown suggestions equal to the whole middle. */
  exact: number;
  kept: number;
  wrong: number;
  /** Characters kept per character shown wrong. */
  ratio: number;
  meanShown: number;
}

export function curvePoint(rows: Row[], cal: Calibration | undefined, threshold: number, filter: (r: Row) => boolean = () => true): CurvePoint {
  let n = 0;
  let shown = 0;
  let right = 0;
  let exact = 0;
  let kept = 0;
  let wrong = 0;
  let chars = 0;
  for (const row of rows) {
    if (!filter(row)) continue;
    n++;
    const ps = present(row.candidates, row.ctx, cal, threshold);
    // the engine sorts by confidence when calibrated; the first is what ghost text shows
    const order = ps.map((p, i) => i);
    if (cal) order.sort((a, b) => (ps[b].confidence ?? 0) - (ps[a].confidence ?? 0));
    // ghost text shows the first candidate with something shown (as the extension offers them)
    const text = order.map((i) => ps[i].shown).find((t) => visible(t) >= MIN_VISIBLE) ?? '';
    if (visible(text) < MIN_VISIBLE) continue;
    shown++;
    chars += text.length;
    if (isRight(text, row.middle)) right++;
    if (text.trimEnd() === row.middle.trimEnd()) exact++;
    const kw = keptAndWrong(text, row.middle, cutPoints);
    kept += kw.kept;
    wrong += kw.wrong;
  }
  const r4 = (x: number) => +x.toFixed(4);
  return {
    threshold, positions: n, coverage: r4(shown / Math.max(1, n)), precision: r4(right / Math.max(1, shown)), exact: r4(exact / Math.max(1, shown)),
    kept, wrong, ratio: r4(kept / Math.max(1, wrong)), meanShown: +(chars / Math.max(1, shown)).toFixed(1),
  };
}

export const THRESHOLDS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/** Predicted vs observed over the examples, in ten bins of the prediction. */
export function reliability(data: { x: number[]; y: number }[], cal: Calibration): { bin: string; n: number; predicted: number; observed: number }[] {
  const bins = Array.from({ length: 10 }, () => ({ n: 0, p: 0, y: 0 }));
  for (const { x, y } of data) {
    const p = cal.probability(x);
    const b = bins[Math.min(9, Math.floor(p * 10))];
    b.n++;
    b.p += p;
    b.y += y;
  }
  return bins.map((b, i) => ({ bin: `${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)}`, n: b.n, predicted: +(b.p / Math.max(1, b.n)).toFixed(3), observed: +(b.y / Math.max(1, b.n)).toFixed(3) }));
}

export function blockOf(weights: number[], fittedOn: string, threshold: number, fit: Record<string, unknown>, kind: string): ConfidenceBlock {
  return { kind, fitted_on: fittedOn, features: [...CONFIDENCE_FEATURES], weights: weights.map((w) => +w.toFixed(5)), threshold, fit };
}
