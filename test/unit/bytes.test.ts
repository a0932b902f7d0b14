// UTF-8 bytes (the engine's unit) against UTF-16 code units (VS Code's): lengths, confidence
// runs and per-line surprisal, with surrogate pairs, lone surrogates and CRLF; and the surprisal
// view's line arithmetic: level runs, the ruler's cap, the painted window around the visible lines.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  levelRuns, lineCount, lineScores, lineScoresInSlices, mostSurprising, paintWindows, runsByLevel, utf8ByteLength, utf8Length, windowsCover,
} from '../../src/extension/bytes';
import { rng } from '../../src/engine/sampling';

test('utf8Length gives 1 to 4 bytes at the code point boundaries', () => {
  const cases: [number, number][] = [
    [0, 1], [0x7f, 1], [0x80, 2], [0x7ff, 2], [0x800, 3], [0xffff, 3], [0x10000, 4], [0x10ffff, 4],
    [0xd800, 3], [0xdfff, 3], // a lone surrogate is written as U+FFFD: 3 bytes
  ];
  for (const [cp, n] of cases) assert.equal(utf8Length(cp), n, `U+${cp.toString(16)}`);
});

test('utf8ByteLength agrees with TextEncoder, surrogate pairs and lone surrogates included', () => {
  const samples = ['', 'abc', 'é', '€', '😀', 'a😀b', '\r\n', '\ud800', 'x\udc00y', '\ud83d', '😀\ud83d', '\u{10ffff}', '日本語'];
  const enc = new TextEncoder();
  for (const s of samples) assert.equal(utf8ByteLength(s), enc.encode(s).length, JSON.stringify(s));
});

test('utf8ByteLength agrees with TextEncoder on random strings of random code units', () => {
  const random = rng(11);
  const enc = new TextEncoder();
  const pool = [0x41, 0x0a, 0x0d, 0xe9, 0x20ac, 0xd83d, 0xde00, 0xdbff, 0xdfff, 0xfffd, 0x7ff, 0x800];
  for (let i = 0; i < 500; i++) {
    const units = Array.from({ length: Math.floor(random() * 12) }, () => pool[Math.floor(random() * pool.length)]);
    const s = String.fromCharCode(...units);
    assert.equal(utf8ByteLength(s), enc.encode(s).length, JSON.stringify(s));
  }
});

const wholeBits = (bpb: number) => Math.floor(bpb);

test('runsByLevel groups code points by level, summing the bits of every byte of a character', () => {
  // "a" 1 byte, "é" 2 bytes, "😀" 4 bytes, "b" 1 byte
  const bits = [0.5, 3, 3, 1, 1, 1, 1, 0.2];
  const runs = runsByLevel('aé😀b', bits, wholeBits);
  assert.deepEqual(runs, [
    { text: 'a', bytes: 1, bitsPerByte: 0.5, level: 0 },
    { text: 'é', bytes: 2, bitsPerByte: 3, level: 3 },
    { text: '😀', bytes: 4, bitsPerByte: 1, level: 1 },
    { text: 'b', bytes: 1, bitsPerByte: 0.2, level: 0 },
  ]);
});

test('runsByLevel merges neighbours of the same level and never splits a surrogate pair', () => {
  const runs = runsByLevel('😀😀x', [1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5, 1.9], wholeBits);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].text, '😀😀x');
  assert.equal(runs[0].bytes, 9);
  assert.ok(Math.abs(runs[0].bitsPerByte - (4 + 6 + 1.9) / 9) < 1e-12);
  for (const r of runsByLevel('a😀b', [0, 5, 5, 5, 5, 0], wholeBits)) assert.doesNotThrow(() => encodeURIComponent(r.text));
});

test('runsByLevel gives level -1 and NaN bits where bits run out or are not finite', () => {
  const runs = runsByLevel('ab€c', [0.1, 0.1, 2, 2], wholeBits); // "€" needs 3 bits but only 2 are left
  assert.deepEqual(runs.map((r) => [r.text, r.level, r.bytes]), [['ab', 0, 2], ['€c', -1, 4]]);
  assert.ok(Number.isNaN(runs[1].bitsPerByte));
  const inf = runsByLevel('xy', [Infinity, 0.1], wholeBits);
  assert.deepEqual(inf.map((r) => [r.text, r.level]), [['x', -1], ['y', 0]]);
});

test('runsByLevel texts join back to the input and their bytes add up to its UTF-8 length', () => {
  const text = 'let s = "héllo 😀";\r\n\tconst x = \ud800;';
  const n = utf8ByteLength(text);
  const random = rng(3);
  const bits = Array.from({ length: n - 2 }, () => random() * 6);
  const runs = runsByLevel(text, bits, wholeBits);
  assert.equal(runs.map((r) => r.text).join(''), text);
  assert.equal(runs.reduce((a, r) => a + r.bytes, 0), n);
});

/** lineScores as a list of the non-empty lines, to compare against literals. */
function scoredLines(text: string, bits: ArrayLike<number>): { line: number; bytes: number; bitsPerByte: number }[] {
  const { bitsPerByte, bytes } = lineScores(text, bits);
  assert.equal(bitsPerByte.length, bytes.length);
  const out = [];
  for (let line = 0; line < bitsPerByte.length; line++) {
    if (Number.isNaN(bitsPerByte[line])) assert.equal(bytes[line], 0, `line ${line} has no score but ${bytes[line]} bytes`);
    else out.push({ line, bytes: bytes[line], bitsPerByte: bitsPerByte[line] });
  }
  return out;
}

test('lineCount counts lines as VS Code does: \r\n, \n and a lone \r each end one', () => {
  const cases: [string, number][] = [['', 1], ['a', 1], ['a\n', 2], ['a\r\nb', 2], ['a\r\rb', 3], ['\n\r\n\r', 4], ['a\r\n\n\rb\rc', 5]];
  for (const [text, n] of cases) assert.equal(lineCount(text), n, JSON.stringify(text));
});

test('lineScores averages each line over its own bytes, CRLF counting as one break of two bytes', () => {
  // line 0: "ab" bytes 0-1, CRLF bytes 2-3; line 1: "é" bytes 4-5, LF byte 6; line 2: "c" byte 7
  const bits = [1, 3, 100, 100, 2, 4, 100, 8];
  assert.deepEqual(scoredLines('ab\r\né\nc', bits), [
    { line: 0, bytes: 2, bitsPerByte: 2 },
    { line: 1, bytes: 2, bitsPerByte: 3 },
    { line: 2, bytes: 1, bitsPerByte: 8 },
  ]);
});

test('lineScores has one entry per line: a lone CR ends a line, and empty lines are NaN', () => {
  const bits = [1, 0, 0, 0, 0, 2, 0, 3]; // a CR LF LF CR b CR c
  const { bitsPerByte, bytes } = lineScores('a\r\n\n\rb\rc', bits);
  assert.deepEqual(Array.from(bitsPerByte), [1, NaN, NaN, 2, 3]);
  assert.deepEqual(Array.from(bytes), [1, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(lineScores('a\n', [1, 0]).bitsPerByte), [1, NaN], 'a final line break starts an empty last line');
});

test('lineScores stops at the last byte that has bits', () => {
  // "😀" needs bytes 2-5 but only 4 bits exist: line 1 is left out, not averaged over missing bits.
  assert.deepEqual(scoredLines('a\n😀', [1, 0, 5, 5]), [{ line: 0, bytes: 1, bitsPerByte: 1 }]);
  assert.deepEqual(scoredLines('ab', [2]), [{ line: 0, bytes: 1, bitsPerByte: 2 }]);
  assert.deepEqual(Array.from(lineScores('a\nb\nc', [1, 0]).bitsPerByte), [1, NaN, NaN], 'lines after the scored bytes are NaN');
});

test('lineScores of a surrogate pair averages over its four bytes; a lone surrogate counts three', () => {
  assert.deepEqual(scoredLines('😀', [1, 2, 3, 6]), [{ line: 0, bytes: 4, bitsPerByte: 3 }]);
  assert.deepEqual(scoredLines('\ud800x', [3, 3, 3, 7]), [{ line: 0, bytes: 4, bitsPerByte: 4 }]);
  assert.deepEqual(scoredLines('x\udc00', [1, 5, 5, 5]), [{ line: 0, bytes: 4, bitsPerByte: 4 }]);
});

test('lineScores agrees with a plain reference (split the lines, encode each) on random texts', () => {
  const random = rng(5);
  const enc = new TextEncoder();
  const pool = ['a', ' ', '\n', '\r', '\r\n', 'é', '€', '😀', '\ud83d', '\ude00', '日'];
  for (let t = 0; t < 300; t++) {
    const text = Array.from({ length: Math.floor(random() * 30) }, () => pool[Math.floor(random() * pool.length)]).join('');
    const total = enc.encode(text).length;
    const bits = Array.from({ length: total }, () => Math.round(random() * 16) / 2); // halves: sums are exact
    const { bitsPerByte, bytes } = lineScores(text, bits);
    const lines = text.split(/\r\n|\r|\n/);
    assert.equal(bitsPerByte.length, lines.length, JSON.stringify(text));
    // Each line's bytes start where the previous line and its break end.
    const breaks = text.match(/\r\n|\r|\n/g) ?? [];
    let at = 0;
    lines.forEach((line, k) => {
      const n = enc.encode(line).length;
      const sum = bits.slice(at, at + n).reduce((a, b) => a + b, 0);
      assert.equal(bytes[k], n, `${JSON.stringify(text)} line ${k} bytes`);
      if (n === 0) assert.ok(Number.isNaN(bitsPerByte[k]));
      else assert.equal(bitsPerByte[k], Math.fround(sum / n), `${JSON.stringify(text)} line ${k}`);
      at += n + (breaks[k]?.length ?? 0);
    });
  }
});

test('lineScoresInSlices gives the same scores in any slice size, yielding once per slice', () => {
  const random = rng(9);
  const text = Array.from({ length: 400 }, (_, i) => (i % 7 === 0 ? '\r\n' : i % 11 === 0 ? '\n\n' : i % 5 === 0 ? 'é😀' : 'abc ')).join('');
  const n = utf8ByteLength(text);
  for (const bits of [Array.from({ length: n }, () => random() * 8), Array.from({ length: n - 5 }, () => random() * 8)]) {
    const whole = lineScores(text, bits);
    for (const slice of [1, 2, 3, 7, 64, 1000, n, n + 1]) {
      const steps = lineScoresInSlices(text, bits, slice);
      let yields = 0;
      let step = steps.next();
      for (; !step.done; step = steps.next()) yields++;
      assert.deepEqual(step.value, whole, `slices of ${slice} bytes`);
      // A slice can end early by one byte (\r\n read as one), so at least this many yields and at most one per slice.
      assert.ok(yields <= Math.ceil(bits.length / slice) - 1 && yields >= Math.ceil(bits.length / (slice + 1)) - 1, `${yields} yields for slices of ${slice}`);
    }
  }
});

const quarter = (bpb: number) => (bpb >= 1 ? Math.min(3, Math.floor(bpb)) : -1);

test('levelRuns merges consecutive lines of one level, and an empty line or another level ends a run', () => {
  const bpb = [0.5, 1.2, 1.8, NaN, 1.1, 2.5, 2.2, 3.9, 0, 1];
  assert.deepEqual(levelRuns(bpb, quarter), [
    { start: 1, end: 2, level: 1, peak: 1.8 },
    { start: 4, end: 4, level: 1, peak: 1.1 },
    { start: 5, end: 6, level: 2, peak: 2.5 },
    { start: 7, end: 7, level: 3, peak: 3.9 },
    { start: 9, end: 9, level: 1, peak: 1 },
  ]);
  assert.deepEqual(levelRuns(bpb, quarter, 0, bpb.length - 1, 2).map((r) => [r.start, r.end, r.level]), [[5, 6, 2], [7, 7, 3]], 'only levels >= minLevel');
  assert.deepEqual(levelRuns(bpb, quarter, 2, 5).map((r) => [r.start, r.end]), [[2, 2], [4, 4], [5, 5]], 'only lines from..to, runs cut at the edges');
  assert.deepEqual(levelRuns(bpb, quarter, -10, 100).length, 5, 'from and to are clamped to the lines');
});

test('mostSurprising keeps the highest levels and peaks, in line order, and at most cap runs', () => {
  const runs = [
    { start: 0, end: 0, level: 2, peak: 5 },
    { start: 2, end: 3, level: 3, peak: 6.1 },
    { start: 5, end: 5, level: 2, peak: 5.9 },
    { start: 7, end: 9, level: 3, peak: 7 },
    { start: 11, end: 11, level: 2, peak: 4.6 },
  ];
  assert.deepEqual(mostSurprising(runs, 3).map((r) => r.start), [2, 5, 7]);
  assert.deepEqual(mostSurprising(runs, 1).map((r) => r.start), [7]);
  assert.deepEqual(mostSurprising(runs, 10), runs);
  assert.deepEqual(mostSurprising(runs, 0), []);
  const many = Array.from({ length: 10_000 }, (_, i) => ({ start: i * 2, end: i * 2, level: 2 + (i % 2), peak: 4.5 + (i % 7) }));
  const kept = mostSurprising(many, 2_000);
  assert.equal(kept.length, 2_000);
  assert.ok(kept.every((r, i) => i === 0 || kept[i - 1].start < r.start), 'in line order');
  assert.ok(kept.every((r) => r.level === 3), 'the 5,000 runs of level 3 come before any of level 2');
  assert.ok(Math.min(...kept.map((r) => r.peak)) >= Math.max(...many.filter((r) => r.level === 3 && !kept.includes(r)).map((r) => r.peak)));
});

test('paintWindows widens each visible span by the margin, clamps to the document and merges overlaps', () => {
  assert.deepEqual(paintWindows([{ start: 500, end: 540 }], 10_000, 200), [{ start: 300, end: 740 }]);
  assert.deepEqual(paintWindows([{ start: 10, end: 40 }], 100, 200), [{ start: 0, end: 99 }]);
  assert.deepEqual(paintWindows([{ start: 9_990, end: 9_999 }], 10_000, 200), [{ start: 9_790, end: 9_999 }]);
  // Two spans (folded lines between them): far apart they stay two windows, close they merge.
  assert.deepEqual(paintWindows([{ start: 5_000, end: 5_020 }, { start: 100, end: 120 }], 10_000, 50), [
    { start: 50, end: 170 },
    { start: 4_950, end: 5_070 },
  ]);
  assert.deepEqual(paintWindows([{ start: 100, end: 120 }, { start: 200, end: 220 }], 10_000, 50), [{ start: 50, end: 270 }]);
  assert.deepEqual(paintWindows([{ start: 100, end: 120 }, { start: 221, end: 240 }], 10_000, 50), [{ start: 50, end: 290 }], 'touching windows merge');
  assert.equal(paintWindows([{ start: 100, end: 120 }, { start: 222, end: 240 }], 10_000, 50).length, 2, 'a line between them: two windows');
  assert.deepEqual(paintWindows([], 10_000, 50), []);
  assert.deepEqual(paintWindows([{ start: 0, end: 0 }], 1, 50), [{ start: 0, end: 0 }]);
});

test('windowsCover asks for a repaint before the visible lines come within slack of the painted edge', () => {
  const painted = paintWindows([{ start: 1_000, end: 1_050 }], 10_000, 200); // 800..1250
  assert.ok(windowsCover(painted, [{ start: 1_000, end: 1_050 }], 10_000, 100));
  assert.ok(windowsCover(painted, [{ start: 900, end: 950 }], 10_000, 100), 'scrolled 100 lines up: still covered');
  assert.ok(!windowsCover(painted, [{ start: 899, end: 949 }], 10_000, 100), 'one more line up: repaint');
  assert.ok(windowsCover(painted, [{ start: 1_100, end: 1_150 }], 10_000, 100));
  assert.ok(!windowsCover(painted, [{ start: 1_101, end: 1_151 }], 10_000, 100), 'one line further down: repaint');
  assert.ok(!windowsCover(painted, [{ start: 5_000, end: 5_050 }], 10_000, 100), 'jumped elsewhere');
  assert.ok(!windowsCover([], [{ start: 0, end: 10 }], 10_000, 100), 'nothing painted yet');
  // At the ends of the document the slack is what is left.
  const top = paintWindows([{ start: 0, end: 50 }], 10_000, 200);
  assert.ok(windowsCover(top, [{ start: 0, end: 50 }], 10_000, 100));
  const bottom = paintWindows([{ start: 9_950, end: 9_999 }], 10_000, 200);
  assert.ok(windowsCover(bottom, [{ start: 9_950, end: 9_999 }], 10_000, 100));
  // Every visible span must be covered.
  const two = paintWindows([{ start: 100, end: 120 }, { start: 5_000, end: 5_020 }], 10_000, 200);
  assert.ok(windowsCover(two, [{ start: 100, end: 120 }, { start: 5_000, end: 5_020 }], 10_000, 100));
  assert.ok(!windowsCover(two, [{ start: 100, end: 120 }, { start: 7_000, end: 7_020 }], 10_000, 100));
});
