// Confidence of ghost text: the probability that what the editor shows is what the user wants
// (exactly what follows, or right up to where it is cut). A logistic regression over signals of
// the candidate (its bytes' bits under the mixed model, where it stopped, whether the other
// candidates agree) and of the place (start of a line, after an opening bracket, inside a word),
// fitted on the training split by src/bench/calibrate.ts and stored in manifest.json `confidence`
// with the digest of the model it was fitted on: a calibration fitted on another network, other
// mixing or another generation rule is not used (the engine says why and shows everything).
//
// A candidate is cut where its confidence falls: at a token boundary on its first line, at a line
// end after it (a multi-line suggestion shows only whole lines), the longest prefix whose
// probability reaches the threshold and that has at least MIN_VISIBLE visible characters.
import { createHash } from 'node:crypto';
import type { StopReason } from './api';
import { postprocess, type PostprocessContext } from './postprocess';

/** The features, in the order of `weights` (one fact: calibrate.ts fits them, the engine reads them). */
export const CONFIDENCE_FEATURES = [
  'bias',
  'bits', // the shown prefix's bits (sum over its bytes) / 8
  'sqrt_bits', // sqrt of that: the first bits cost the most
  'max_bits', // the largest bits of one byte / 8
  'first_bits', // the first token's bits / 8
  'log_bytes', // log2(1 + bytes shown)
  'lines', // line breaks shown
  'whole', // the whole candidate is shown (not cut)
  'ended', // ... and the model ended it (EOM, or it reached the text after the cursor)
  'agree', // share of the other candidates that start with the same text (0 with one candidate)
  'single', // only one candidate was asked for (nothing to agree with)
  'line_start', // the cursor's line holds only indentation before it
  'after_open', // right after ( [ { or ,
  'after_op', // right after . = : or an operator
  'in_word', // right after a letter, digit or _ (inside or at the end of an identifier)
  'suffix_on_line', // text follows the cursor on its line
  'mean_bits', // the shown prefix's bits per byte
  'last_bits', // the bits of its last token / 8 (from the cut point before)
  'in_suffix', // the shown text (4+ visible characters) occurs in the text after the cursor: a copy from below
  'copied', // share of the shown bytes that were the match model's prediction (a copy from the document)
  'copy_start', // log2(1 + the match's length at the first shown byte) / 8: how much context the copy starts from
] as const;
export type ConfidenceFeature = (typeof CONFIDENCE_FEATURES)[number];

/** Fewer visible (non-blank) characters than this save the user nothing: never shown when a threshold applies. */
export const MIN_VISIBLE = 3;

export const CONFIDENCE_KIND = 'confidence: logistic regression of "the shown text is right" (src/engine/confidence.ts)';

/** manifest.json `confidence`. */
export interface ConfidenceBlock {
  kind: string;
  /** modelDigest() of the model (network, match model, mixing) and generation rule it was fitted on. */
  fitted_on: string;
  features: string[];
  weights: number[];
  /** The default of megabyte.completion.minConfidence, chosen from the fitted curve. */
  threshold: number;
  /** What it was fitted on and how it did (informative). */
  fit?: Record<string, unknown>;
}

/** Why a manifest's confidence block is unusable (undefined: it is fine). */
export function confidenceBlockError(b: unknown): string | undefined {
  const o = b as Partial<ConfidenceBlock>;
  if (typeof o !== 'object' || o === null) return 'confidence must be an object';
  if (typeof o.fitted_on !== 'string' || !o.fitted_on) return 'confidence.fitted_on must be the digest of the model it was fitted on';
  if (!Array.isArray(o.features) || !o.features.every((f) => typeof f === 'string')) return 'confidence.features must be a list of feature names';
  if (!Array.isArray(o.weights) || o.weights.length !== o.features.length || !o.weights.every(Number.isFinite)) {
    return `confidence.weights must be ${o.features.length} finite numbers, one per feature`;
  }
  if (typeof o.threshold !== 'number' || !(o.threshold >= 0 && o.threshold <= 1)) return 'confidence.threshold must be a number in 0..1';
  return undefined;
}

/** manifest.json `confidence` as a list: one block, a list of them (one per generation rule), or none. */
export function confidenceBlocks(c: ConfidenceBlock | ConfidenceBlock[] | undefined): ConfidenceBlock[] {
  return c === undefined ? [] : Array.isArray(c) ? c : [c];
}

/** Why a well-formed block cannot be used by this engine (other features than CONFIDENCE_FEATURES: fitted by another version), or undefined. */
export function confidenceSkew(b: ConfidenceBlock): string | undefined {
  if (b.features.join() === CONFIDENCE_FEATURES.join()) return undefined;
  return `the confidence calibration has features ${JSON.stringify(b.features)}, this engine computes ${JSON.stringify(CONFIDENCE_FEATURES)}`;
}

/** How generation mixes the network (engine.ts): part of what a calibration is fitted on. */
export type GenerationMixing = 'context-mixing' | 'match' | 'network';

/**
 * The digest of what a candidate's bits depend on: the network's files, the match model's and the
 * mixing layer's parameters, and how generation mixes them.
 */
export function modelDigest(m: { files: readonly { sha256: string }[]; match_model?: unknown; context_mixing?: object }, generation: GenerationMixing): string {
  const h = createHash('sha256');
  for (const f of m.files) h.update(`${f.sha256}\n`);
  h.update(JSON.stringify(m.match_model ?? null));
  h.update(JSON.stringify(m.context_mixing ? { ...m.context_mixing, evaluation: undefined } : null));
  h.update(generation);
  return h.digest('hex').slice(0, 16);
}

const isWord = (ch: string) => /[\p{L}\p{N}_$]/u.test(ch);

/** Prefix lengths (UTF-16) where a candidate may be cut: token boundaries on its first line, line ends after it, and its end. */
export function cutPoints(text: string): number[] {
  const out: number[] = [];
  const firstNl = text.indexOf('\n');
  const firstEnd = firstNl < 0 ? text.length : firstNl;
  for (let k = 1; k < firstEnd; k++) {
    const a = text[k - 1];
    const b = text[k];
    // not inside a word, not between a high and a low surrogate, not inside a run of blanks
    if (isWord(a) && isWord(b)) continue;
    if (a >= '\uD800' && a <= '\uDBFF') continue;
    if (/\s/.test(a) && /\s/.test(b)) continue;
    out.push(k);
  }
  for (let k = firstEnd; k >= 0 && k < text.length; k = text.indexOf('\n', k + 1)) {
    const end = k > 0 && text[k - 1] === '\r' ? k - 1 : k;
    if (end > 0 && (out.length === 0 || out[out.length - 1] < end)) out.push(end);
    if (text.indexOf('\n', k + 1) < 0) break;
  }
  if (text.length > 0 && out[out.length - 1] !== text.length) out.push(text.length);
  return out;
}

/** Visible (non-blank) characters. */
export function visible(text: string): number {
  return text.replace(/\s+/g, '').length;
}

/** What the features need to know besides the candidate. */
export interface ConfidenceContext {
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text after the cursor (the post-processing needs a line or two of it). */
  suffix: string;
  /** How many candidates were asked for. */
  candidates: number;
}

export interface Scored {
  /** The candidate's raw text (what generation gave) and the bits of its bytes. */
  text: string;
  bits: readonly number[];
  stoppedBy: StopReason;
  /** Per byte, the match run's length where the byte was a copy, else 0 (Candidate.copyLen; absent: no copies). */
  copyLen?: readonly number[];
}

/** The place features (from the cursor's line), computed once per request. */
function placeFeatures(ctx: ConfidenceContext): Record<'line_start' | 'after_open' | 'after_op' | 'in_word' | 'suffix_on_line', number> {
  const before = ctx.linePrefix.replace(/[ \t]+$/, '');
  const last = before.slice(-1);
  const suffixLine = ctx.suffix.split('\n', 1)[0] ?? '';
  return {
    line_start: before === '' ? 1 : 0,
    after_open: /[([{,]/.test(last) ? 1 : 0,
    after_op: /[.=:+\-*/<>!&|?]/.test(last) ? 1 : 0,
    in_word: ctx.linePrefix.length > 0 && isWord(ctx.linePrefix.slice(-1)) ? 1 : 0,
    suffix_on_line: suffixLine.trim() !== '' ? 1 : 0,
  };
}

/**
 * The feature vector of showing `offered.slice(0, k)` of candidate `c` (offered: its post-processed
 * text, a prefix of c.text), given the other candidates' offered texts.
 */
export function featuresAt(c: Scored, offered: string, k: number, others: readonly string[], ctx: ConfidenceContext): number[] {
  const shown = offered.slice(0, k);
  const nBytes = Math.min(c.bits.length, Buffer.byteLength(shown, 'utf8'));
  let sum = 0;
  let max = 0;
  for (let i = 0; i < nBytes; i++) {
    sum += c.bits[i];
    if (c.bits[i] > max) max = c.bits[i];
  }
  const firstCut = cutPoints(offered)[0] ?? offered.length;
  const firstBytes = Math.min(nBytes, Buffer.byteLength(offered.slice(0, Math.min(k, firstCut)), 'utf8'));
  let first = 0;
  for (let i = 0; i < firstBytes; i++) first += c.bits[i];
  const points = cutPoints(offered);
  const prevCut = points.filter((q) => q < k).pop() ?? 0;
  const prevBytes = Math.min(nBytes, Buffer.byteLength(offered.slice(0, prevCut), 'utf8'));
  let last = 0;
  for (let i = prevBytes; i < nBytes; i++) last += c.bits[i];
  const trimmed = shown.trim();
  let copies = 0;
  for (let i = 0; i < nBytes; i++) if ((c.copyLen?.[i] ?? 0) > 0) copies++;
  const whole = k >= offered.length && offered.length > 0 ? 1 : 0;
  const ended = whole && offered === c.text && (c.stoppedBy === 'eom' || c.stoppedBy === 'suffix') ? 1 : 0;
  const place = placeFeatures(ctx);
  const f: Record<ConfidenceFeature, number> = {
    bias: 1,
    bits: sum / 8,
    sqrt_bits: Math.sqrt(sum),
    max_bits: max / 8,
    first_bits: first / 8,
    log_bytes: Math.log2(1 + nBytes),
    lines: (shown.match(/\n/g) ?? []).length,
    whole,
    ended,
    agree: others.length ? others.filter((o) => o.startsWith(shown)).length / others.length : 0,
    single: ctx.candidates <= 1 ? 1 : 0,
    ...place,
    mean_bits: nBytes ? sum / nBytes : 0,
    last_bits: last / 8,
    in_suffix: visible(trimmed) >= 4 && ctx.suffix.includes(trimmed) ? 1 : 0,
    copied: nBytes ? copies / nBytes : 0,
    copy_start: Math.log2(1 + (c.copyLen?.[0] ?? 0)) / 8,
  };
  return CONFIDENCE_FEATURES.map((n) => f[n]);
}

export class Calibration {
  constructor(readonly block: ConfidenceBlock) {}

  probability(x: readonly number[]): number {
    let z = 0;
    for (let i = 0; i < x.length; i++) z += this.block.weights[i] * x[i];
    return 1 / (1 + Math.exp(-z));
  }
}

/** One candidate as the editor would offer it. */
export interface Presented {
  /** Post-processed text ('' when nothing is left). */
  offered: string;
  /** Probability that `offered` is right; undefined without a calibration. */
  confidence?: number;
  /** `offered` cut to its confident part ('' : held back). */
  shown: string;
  shownConfidence?: number;
  /** Probability that the first piece of `offered` (its first cut point with MIN_VISIBLE visible characters) is right; with a threshold above 0. */
  leadConfidence?: number;
}

/**
 * The editor's view of a request's candidates: each post-processed, its confidence, and cut to the
 * longest prefix (at a cut point, with at least MIN_VISIBLE visible characters) whose probability
 * reaches `threshold`. Without a calibration, or with threshold 0, everything offered is shown.
 */
export function present(cands: readonly Scored[], ctx: ConfidenceContext, cal: Calibration | undefined, threshold: number): Presented[] {
  const pp: PostprocessContext = { prefixLine: ctx.linePrefix, suffix: ctx.suffix };
  const offered = cands.map((c) => {
    const t = postprocess([c.text], pp)[0] ?? '';
    // every filter cuts a tail, so the offered text is a prefix of the raw one (its bits line up)
    return c.text.startsWith(t) ? t : '';
  });
  return cands.map((c, i) => {
    const text = offered[i];
    if (!cal) return { offered: text, shown: text };
    const others = offered.filter((_, j) => j !== i);
    const p = (k: number) => cal.probability(featuresAt(c, text, k, others, ctx));
    const confidence = text ? p(text.length) : 0;
    if (threshold <= 0) return { offered: text, confidence, shown: text, shownConfidence: confidence };
    const points = (text ? cutPoints(text) : []).filter((k) => visible(text.slice(0, k)) >= MIN_VISIBLE);
    const at = (k: number) => (k === text.length ? confidence : p(k));
    const leadConfidence = points.length ? at(points[0]) : 0;
    for (let j = points.length - 1; j >= 0; j--) {
      const q = at(points[j]);
      if (q >= threshold) return { offered: text, confidence, shown: text.slice(0, points[j]), shownConfidence: q, leadConfidence };
    }
    return { offered: text, confidence, shown: '', leadConfidence };
  });
}
