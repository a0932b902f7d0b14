// The sampler: the UTF-8 mask, greedy and ranked picks, temperature with top-p, the seeded PRNG.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BOS, EOM, PRE, SUF, VOCAB_SIZE } from '../../src/engine/contract';
import { allowed, bitsOf, nextByteRange, rng, sample, type SampleOptions } from '../../src/engine/sampling';
import { utf8Complete } from '../../src/engine/stops';

const fatal = new TextDecoder('utf-8', { fatal: true });
const bytesOf = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/** Logits where only `favoured` (symbol → logit) stand out; everything else sits far below. */
function logitsWith(favoured: Record<number, number>, floor = -1e4): Float32Array {
  const row = new Float32Array(VOCAB_SIZE).fill(floor);
  for (const [s, l] of Object.entries(favoured)) row[Number(s)] = l;
  return row;
}

function opts(extra: Partial<SampleOptions> = {}): SampleOptions {
  return { temperature: 0, topP: 1, next: nextByteRange([]), allowEnd: true, random: rng(1), ...extra };
}

test('nextByteRange leaves any byte open after a complete character and owes continuations after a lead byte', () => {
  assert.deepEqual(nextByteRange([]), { lo: 0, hi: 0xff, pending: 0 });
  assert.deepEqual(nextByteRange(bytesOf('a')), { lo: 0, hi: 0xff, pending: 0 });
  assert.deepEqual(nextByteRange(bytesOf('é')), { lo: 0, hi: 0xff, pending: 0 });
  assert.deepEqual(nextByteRange(bytesOf('😀')), { lo: 0, hi: 0xff, pending: 0 });
  assert.deepEqual(nextByteRange([0xc3]), { lo: 0x80, hi: 0xbf, pending: 1 });
  assert.deepEqual(nextByteRange([0x61, 0xe2]), { lo: 0x80, hi: 0xbf, pending: 2 });
  assert.deepEqual(nextByteRange([0xe2, 0x82]), { lo: 0x80, hi: 0xbf, pending: 1 });
  // U+FFFD (EF BF BD) and the noncharacters U+FFFE/U+FFFF are never generated; U+FFFC still is
  assert.deepEqual(nextByteRange([0xef, 0xbf]), { lo: 0x80, hi: 0xbc, pending: 1 });
  assert.deepEqual(nextByteRange([0xef, 0xbe]), { lo: 0x80, hi: 0xbf, pending: 1 });
  assert.deepEqual(nextByteRange([0xf0, 0x9f, 0x98]), { lo: 0x80, hi: 0xbf, pending: 1 });
});

test('nextByteRange forbids overlongs, surrogates and code points past U+10FFFF on the first continuation byte', () => {
  assert.deepEqual(nextByteRange([0xe0]), { lo: 0xa0, hi: 0xbf, pending: 2 }); // E0 80..9F would be overlong
  assert.deepEqual(nextByteRange([0xed]), { lo: 0x80, hi: 0x9f, pending: 2 }); // ED A0..BF are surrogates
  assert.deepEqual(nextByteRange([0xf0]), { lo: 0x90, hi: 0xbf, pending: 3 }); // F0 80..8F would be overlong
  assert.deepEqual(nextByteRange([0xf4]), { lo: 0x80, hi: 0x8f, pending: 3 }); // F4 90.. is past U+10FFFF
  // The restriction is for the first continuation only.
  assert.deepEqual(nextByteRange([0xe0, 0xa0]), { lo: 0x80, hi: 0xbf, pending: 1 });
  assert.deepEqual(nextByteRange([0xf4, 0x8f]), { lo: 0x80, hi: 0xbf, pending: 2 });
});

test('the mask accepts exactly the UTF-8 encodings of every Unicode scalar value but U+FFFD-U+FFFF, in code point order', () => {
  // Walk every byte path the mask allows, from an empty output, until the character is complete.
  const chunks: number[] = [];
  let count = 0;
  const walk = (prefix: number[]) => {
    const next = nextByteRange(prefix);
    if (prefix.length > 0 && next.pending === 0) {
      chunks.push(...prefix);
      count++;
      return;
    }
    for (let b = 0; b < 256; b++) if (allowed(b, next, false)) walk([...prefix, b]);
  };
  walk([]);
  assert.equal(count, 0x110000 - 0x800 - 3); // every code point but the 2048 surrogates and U+FFFD-U+FFFF
  const text = fatal.decode(Uint8Array.from(chunks));
  let expected = 0;
  for (const ch of text) {
    if (expected === 0xd800) expected = 0xe000;
    if (expected === 0xfffd) expected = 0x10000;
    assert.equal(ch.codePointAt(0), expected);
    expected++;
  }
  assert.equal(expected, 0x110000);
});

test('allowed never offers a stray continuation byte, C0, C1 or F5..FF as the start of a character', () => {
  const free = nextByteRange(bytesOf('x'));
  const starts = Array.from({ length: 256 }, (_, b) => b).filter((b) => allowed(b, free, false));
  assert.deepEqual(starts, [...Array.from({ length: 0x80 }, (_, b) => b), ...Array.from({ length: 0xf4 - 0xc2 + 1 }, (_, i) => 0xc2 + i)]);
});

test('EOM and BOS are allowed only with allowEnd and no continuation pending; SUF and PRE never', () => {
  const free = nextByteRange(bytesOf('ok'));
  const mid = nextByteRange([0xe2, 0x82]);
  assert.equal(allowed(EOM, free, true), true);
  assert.equal(allowed(BOS, free, true), true);
  assert.equal(allowed(EOM, free, false), false);
  assert.equal(allowed(BOS, free, false), false);
  assert.equal(allowed(EOM, mid, true), false);
  assert.equal(allowed(BOS, mid, true), false);
  for (const next of [free, mid]) {
    assert.equal(allowed(SUF, next, true), false);
    assert.equal(allowed(PRE, next, true), false);
  }
});

test('the sampler does not end the middle inside a character even when EOM is by far the likeliest symbol', () => {
  const row = logitsWith({ [EOM]: 50, [BOS]: 40, 0xac: 0 });
  const mid = nextByteRange([0xe2, 0x82]);
  assert.equal(sample(row, 0, opts({ next: mid })).symbol, 0xac);
  assert.equal(sample(row, 0, opts({ next: mid, temperature: 1, random: rng(3) })).symbol, 0xac);
  assert.equal(sample(row, 0, opts({ next: nextByteRange(bytesOf('€')) })).symbol, EOM);
});

test('greedy picks the argmax among allowed symbols, skipping a likelier byte the mask forbids', () => {
  // After E0 only A0..BF may follow: 0x85 (the unmasked argmax) would be an overlong encoding.
  const row = logitsWith({ 0x85: 9, 0x41: 8, 0xa7: 3, 0xb0: 2 });
  assert.equal(sample(row, 0, opts({ next: nextByteRange([0xe0]) })).symbol, 0xa7);
  // Between characters 0x85 (a continuation byte) can't start one: the next best, 'A', wins.
  assert.equal(sample(row, 0, opts()).symbol, 0x41);
});

test('greedy rank k takes the k-th most likely allowed symbol, and the least likely when k runs past the end', () => {
  const row = logitsWith({ 0x61: 5, 0x62: 4, 0x63: 3, [EOM]: 2 });
  assert.deepEqual([0, 1, 2, 3].map((rank) => sample(row, 0, opts({ rank })).symbol), [0x61, 0x62, 0x63, EOM]);
  const mid = nextByteRange([0xc3]); // only 80..BF: 64 symbols
  const picked = sample(logitsWith({ 0xa9: 1 }), 0, opts({ next: mid, rank: 1000 })).symbol;
  assert.ok(picked >= 0x80 && picked <= 0xbf);
});

test('sample reads the row at its offset in a batch of logits', () => {
  const batch = new Float32Array(2 * VOCAB_SIZE).fill(-1e4);
  batch[0x61] = 5;
  batch[VOCAB_SIZE + 0x7a] = 5;
  assert.equal(sample(batch, 0, opts()).symbol, 0x61);
  assert.equal(sample(batch, VOCAB_SIZE, opts()).symbol, 0x7a);
});

test('top-p restricts sampling to the smallest set of likeliest symbols whose mass reaches p', () => {
  // Probabilities 0.5, 0.3, 0.2 (plus ~0 for the rest): p = 0.7 keeps the first two.
  const row = logitsWith({ 0x61: Math.log(0.5), 0x62: Math.log(0.3), 0x63: Math.log(0.2) }, -1e4);
  const random = rng(42);
  const seen = new Map<number, number>();
  for (let i = 0; i < 2000; i++) {
    const s = sample(row, 0, opts({ temperature: 1, topP: 0.7, random })).symbol;
    seen.set(s, (seen.get(s) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), [0x61, 0x62]);
  // Within the nucleus the odds stay 5:3 (0.625 of draws for 'a'), within sampling noise.
  const share = seen.get(0x61)! / 2000;
  assert.ok(Math.abs(share - 0.625) < 0.05, `share of 'a' ${share}`);
  // p = 1 reaches the third symbol too.
  const all = new Set(Array.from({ length: 2000 }, () => sample(row, 0, opts({ temperature: 1, topP: 1, random })).symbol));
  assert.deepEqual([...all].sort(), [0x61, 0x62, 0x63]);
});

test('a tiny top-p always takes the single likeliest symbol', () => {
  const row = logitsWith({ 0x61: 1, 0x62: 0.9, 0x63: 0.8 });
  const random = rng(7);
  for (let i = 0; i < 200; i++) assert.equal(sample(row, 0, opts({ temperature: 1.5, topP: 1e-6, random })).symbol, 0x61);
});

test('the same seed reproduces the same sequence of samples; another seed gives another', () => {
  const row = new Float32Array(VOCAB_SIZE).map((_, i) => Math.sin(i)); // a spread-out distribution
  const run = (seed: number) => {
    const random = rng(seed);
    return Array.from({ length: 64 }, () => sample(row, 0, opts({ temperature: 1, topP: 0.95, random })).symbol);
  };
  assert.deepEqual(run(1234), run(1234));
  assert.notDeepEqual(run(1234), run(1235));
  const a = rng(99);
  const b = rng(99);
  for (let i = 0; i < 100; i++) assert.equal(a(), b());
});

test('rng yields numbers in [0, 1)', () => {
  const random = rng(0);
  for (let i = 0; i < 10_000; i++) {
    const x = random();
    assert.ok(x >= 0 && x < 1, String(x));
  }
});

test('bits are the surprisal under the model at temperature 1, whatever temperature picked the symbol', () => {
  // Two equally likely symbols and the rest at ~0: each has 1 bit.
  const row = logitsWith({ 0x61: 0, 0x62: 0 }, -1e4);
  assert.ok(Math.abs(bitsOf(row, 0, 0x61) - 1) < 1e-6);
  const s = sample(row, 0, opts({ temperature: 0.1, random: rng(5) }));
  assert.ok(Math.abs(s.bits - 1) < 1e-6);
  // Uniform logits: log2(260) bits for every symbol.
  const flat = new Float32Array(VOCAB_SIZE);
  assert.ok(Math.abs(bitsOf(flat, 0, 0x20) - Math.log2(VOCAB_SIZE)) < 1e-6);
});

/** Random logits that favour invalid choices: continuation bytes, F5..FF, C0/C1 and the end symbols. */
function hostileLogits(random: () => number): Float32Array {
  const row = new Float32Array(VOCAB_SIZE);
  for (let s = 0; s < VOCAB_SIZE; s++) {
    const bad = (s >= 0x80 && s <= 0xc1) || s >= 0xf5;
    row[s] = (random() - 0.5) * 20 + (bad ? 6 : 0);
  }
  return row;
}

for (const mode of ['temperature', 'greedy rank'] as const) {
  test(`2,000 steps of ${mode} sampling over random logits always decode as valid UTF-8`, () => {
    const random = rng(mode === 'temperature' ? 2024 : 4202);
    const out: number[] = [];
    let ends = 0;
    for (let step = 0; step < 2000; step++) {
      const next = nextByteRange(out);
      const { symbol } = sample(hostileLogits(random), 0, {
        temperature: mode === 'temperature' ? 0.3 + random() * 2 : 0,
        topP: mode === 'temperature' ? 0.5 + random() * 0.5 : 1,
        next,
        allowEnd: random() < 0.5,
        random,
        rank: mode === 'greedy rank' ? Math.floor(random() * 6) : undefined,
      });
      if (symbol >= 256) {
        assert.equal(next.pending, 0, `end symbol ${symbol} sampled inside a character at step ${step}`);
        ends++;
        continue;
      }
      out.push(symbol);
      // Cut at the last complete character: what the engine hands back if it stops here.
      const whole = utf8Complete(out);
      assert.doesNotThrow(() => fatal.decode(Uint8Array.from(whole)), `invalid UTF-8 after step ${step}`);
      assert.ok(out.length - whole.length <= 3);
    }
    assert.ok(out.length > 1000, `only ${out.length} bytes`);
    assert.ok(ends > 0, 'the end symbols were never sampled: the test does not exercise them');
    // The logits favour multi-byte starts, so the run exercises 2-, 3- and 4-byte characters.
    const text = fatal.decode(Uint8Array.from(utf8Complete(out)));
    const widths = new Set([...text].map((ch) => Buffer.byteLength(ch)));
    assert.deepEqual([...widths].sort(), [1, 2, 3, 4]);
  });
}
