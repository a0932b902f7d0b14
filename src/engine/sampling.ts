// Sampling over the 260-way symbol distribution: greedy, temperature and top-p with a seed, and a
// UTF-8 mask so that every candidate is valid UTF-8 by construction.
import { BOS, EOM, VOCAB_SIZE } from './contract';

/** mulberry32: a small seeded PRNG, so a seed reproduces a completion. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The byte range allowed next so that the bytes stay valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF, no U+FFFD-U+FFFF), given the bytes so far. [lo, hi] inclusive; `pending` is
 * the number of continuation bytes still owed (0: a new character may start).
 */
export function nextByteRange(bytes: ArrayLike<number>): { lo: number; hi: number; pending: number } {
  let i = bytes.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && (bytes[i] & 0xc0) === 0x80) {
    i--;
    back++;
  }
  const free = { lo: 0, hi: 0xff, pending: 0 };
  if (i < 0) return free;
  const b = bytes[i];
  const need = b >= 0xf0 && b <= 0xf4 ? 3 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xc2 && b <= 0xdf ? 1 : 0;
  const pending = need - back;
  if (need === 0 || pending <= 0) return free;
  if (back === 0) { // the first continuation byte carries the range restrictions
    if (b === 0xe0) return { lo: 0xa0, hi: 0xbf, pending };
    if (b === 0xed) return { lo: 0x80, hi: 0x9f, pending };
    if (b === 0xf0) return { lo: 0x90, hi: 0xbf, pending };
    if (b === 0xf4) return { lo: 0x80, hi: 0x8f, pending };
  }
  // Never U+FFFD (the replacement character: a copy of a decoding error, never text a user
  // types), nor the noncharacters U+FFFE and U+FFFF: after EF BF the last byte stops at BC.
  if (back === 1 && b === 0xef && bytes[i + 1] === 0xbf) return { lo: 0x80, hi: 0xbc, pending };
  return { lo: 0x80, hi: 0xbf, pending };
}

/** Which symbols may come next: a byte that keeps the text valid UTF-8, or the end of the middle. */
export function allowed(sym: number, next: { lo: number; hi: number; pending: number }, allowEnd: boolean): boolean {
  if (sym >= 256) return allowEnd && next.pending === 0 && (sym === EOM || sym === BOS);
  if (next.pending > 0) return sym >= next.lo && sym <= next.hi;
  return sym < 0x80 || (sym >= 0xc2 && sym <= 0xf4);
}

export interface SampleOptions {
  temperature: number;
  topP: number;
  next: { lo: number; hi: number; pending: number };
  allowEnd: boolean;
  random: () => number;
  /** Greedy with a twist: take the rank-th most likely symbol (diverse greedy candidates). */
  rank?: number;
}

/** Picks a symbol from one row of logits; returns it with its bits under the model (temperature 1). */
export function sample(logits: Float32Array, offset: number, o: SampleOptions): { symbol: number; bits: number } {
  const V = VOCAB_SIZE;
  let symbol: number;
  if (o.temperature <= 0 && !o.rank) {
    // Plain greedy (every step after a candidate's first): one pass, no sort.
    symbol = -1;
    for (let s = 0; s < V; s++) if (allowed(s, o.next, o.allowEnd) && (symbol < 0 || logits[offset + s] > logits[offset + symbol])) symbol = s;
  } else if (o.temperature <= 0) {
    const order: number[] = [];
    for (let s = 0; s < V; s++) if (allowed(s, o.next, o.allowEnd)) order.push(s);
    order.sort((a, b) => logits[offset + b] - logits[offset + a]);
    symbol = order[Math.min(o.rank ?? 0, order.length - 1)];
  } else {
    let max = -Infinity;
    for (let s = 0; s < V; s++) if (allowed(s, o.next, o.allowEnd)) max = Math.max(max, logits[offset + s]);
    const probs: [number, number][] = [];
    let sum = 0;
    for (let s = 0; s < V; s++) {
      if (!allowed(s, o.next, o.allowEnd)) continue;
      const p = Math.exp((logits[offset + s] - max) / o.temperature);
      probs.push([s, p]);
      sum += p;
    }
    probs.sort((a, b) => b[1] - a[1]);
    let cut = 0;
    let acc = 0;
    const top = Math.min(1, Math.max(0, o.topP || 1));
    while (cut < probs.length) {
      acc += probs[cut][1] / sum;
      cut++;
      if (acc >= top) break;
    }
    let r = o.random() * acc * sum;
    symbol = probs[cut - 1][0];
    for (let i = 0; i < cut; i++) {
      r -= probs[i][1];
      if (r <= 0) {
        symbol = probs[i][0];
        break;
      }
    }
  }
  // bits under the model itself (temperature 1), for the confidence figures
  return { symbol, bits: bitsOf(logits, offset, symbol) };
}

/** Log2-probability bits of `target` under one row of logits. */
export function bitsOf(logits: Float32Array, offset: number, target: number): number {
  let m = -Infinity;
  for (let s = 0; s < VOCAB_SIZE; s++) m = Math.max(m, logits[offset + s]);
  let z = 0;
  for (let s = 0; s < VOCAB_SIZE; s++) z += Math.exp(logits[offset + s] - m);
  return (Math.log(z) - (logits[offset + target] - m)) / Math.LN2;
}
