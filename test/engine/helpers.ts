// Shared by the engine tests: the bundled model and its parity fixture.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const MODEL_DIR = path.join(ROOT, 'models', 'mb-small');

export interface Fixture {
  text: Buffer;
  bits: number[];
  bpb: number;
  context: number;
  bpbContext: number;
  prompt: Buffer;
  greedy: Buffer;
  /** The match model on the text's stream (BOS + text): prediction (-1: none) and length per position, and the mixture's bits. */
  match: { pred: number[]; len: number[]; bits: number[]; bpb: number; anchors: AnchorCase[] };
}

/** match.py's anchor at a cursor c (the line's rest up to e removed) of TEXT + TEXT: [source, evidence, two-sided, end]. */
export interface AnchorCase { c: number; e: number; fim: [number, number, boolean, number] | null; l2r: [number, number, boolean, number] | null }

export function fixture(): Fixture {
  const f = JSON.parse(readFileSync(path.join(MODEL_DIR, 'fixture.json'), 'utf8'));
  return {
    text: Buffer.from(f.text_b64, 'base64'), bits: f.bits, bpb: f.bpb, context: f.context, bpbContext: f.bpb_context,
    prompt: Buffer.from(f.prompt_b64, 'base64'), greedy: Buffer.from(f.greedy_b64, 'base64'), match: f.match,
  };
}

/** A long, realistic source text: the TypeScript engine's own sources, repeated to size. */
export function longText(bytes: number): string {
  const src = ['engine.ts', 'decoder.ts', 'runtime.ts', 'sampling.ts'].map((f) => readFileSync(path.join(ROOT, 'src', 'engine', f), 'utf8')).join('\n');
  let s = '';
  while (Buffer.byteLength(s) < bytes) s += src;
  return Buffer.from(s).subarray(0, bytes).toString('utf8').replace(/\uFFFD$/, '');
}
