// What the editor offers of an engine answer (pure: no `vscode` import, unit-tested). The engine
// post-processes and calibrates each candidate (src/engine/confidence.ts): `offered` is its
// post-processed text, `shown` the part confident enough to show while typing ('' : held back).
import type { CompleteResult } from '../engine/api';
import { dedupe } from '../engine/postprocess';

/** Non-empty texts, the first of equal ones kept (the engine's order: the most confident first). */
function nonEmpty(texts: readonly string[]): string[] {
  return dedupe(texts.filter((t) => t !== ''));
}

/** What the editor offers of a result: the confident parts while typing, every candidate on an explicit ask. */
export function textsOf(result: Pick<CompleteResult, 'candidates'>, explicit: boolean): { texts: string[]; offered: string[] } {
  const offered = nonEmpty(result.candidates.map((c) => c.offered));
  return { texts: explicit ? offered : nonEmpty(result.candidates.map((c) => c.shown)), offered };
}

/** `2 shown (1 cut), 1 held back at confidence 0.6`: what typing would see of a result. */
export function describeShown(result: Pick<CompleteResult, 'candidates' | 'confidence'>): string {
  const c = result.candidates;
  const shown = c.filter((x) => x.shown !== '').length;
  const cut = c.filter((x) => x.shown !== '' && x.shown !== x.offered).length;
  const held = c.filter((x) => x.shown === '' && x.offered !== '').length;
  const conf = result.confidence;
  const at = conf.calibrated ? `at confidence ${conf.threshold}` : 'uncalibrated';
  return `${shown} shown${cut ? ` (${cut} cut)` : ''}, ${held} held back ${at}`;
}
