// UTF-8 bytes (the engine's unit) against UTF-16 code units (VS Code's): lengths, confidence
// runs and per-line surprisal, with surrogate pairs, lone surrogates and CRLF.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lineSurprisal, runsByLevel, utf8ByteLength, utf8Length } from '../../src/extension/bytes';
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

test('lineSurprisal averages each line over its own bytes, CRLF counting as one break of two bytes', () => {
  // line 0: "ab" bytes 0-1, CRLF bytes 2-3; line 1: "é" bytes 4-5, LF byte 6; line 2: "c" byte 7
  const bits = [1, 3, 100, 100, 2, 4, 100, 8];
  assert.deepEqual(lineSurprisal('ab\r\né\nc', bits), [
    { line: 0, bytes: 2, bitsPerByte: 2 },
    { line: 1, bytes: 2, bitsPerByte: 3 },
    { line: 2, bytes: 1, bitsPerByte: 8 },
  ]);
});

test('lineSurprisal counts lines as VS Code does: a lone CR ends a line, and empty lines are skipped but counted', () => {
  const bits = [1, 0, 0, 0, 0, 2, 0, 3]; // a CR LF LF CR b CR c
  assert.deepEqual(lineSurprisal('a\r\n\n\rb\rc', bits).map((l) => [l.line, l.bitsPerByte]), [[0, 1], [3, 2], [4, 3]]);
});

test('lineSurprisal stops at the last byte that has bits', () => {
  // "😀" needs bytes 2-5 but only 4 bits exist: line 1 is left out, not averaged over missing bits.
  assert.deepEqual(lineSurprisal('a\n😀', [1, 0, 5, 5]), [{ line: 0, bytes: 1, bitsPerByte: 1 }]);
  assert.deepEqual(lineSurprisal('ab', [2]), [{ line: 0, bytes: 1, bitsPerByte: 2 }]);
});

test('lineSurprisal of a surrogate pair averages over its four bytes', () => {
  assert.deepEqual(lineSurprisal('😀', [1, 2, 3, 6]), [{ line: 0, bytes: 4, bitsPerByte: 3 }]);
});
