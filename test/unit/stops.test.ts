// Stop rules and the UTF-8 cut. The golden cases write the cursor's line with █ at the cursor,
// feed the model's bytes one at a time as the engine does, and show what the candidate keeps.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { StopRule } from '../../src/engine/api';
import { checkStop, utf8Complete, type StopContext } from '../../src/engine/stops';

const bytesOf = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const fatal = new TextDecoder('utf-8', { fatal: true });

interface Golden {
  /** The cursor's line up to the cursor, ending in █. */
  line: string;
  /** What the model generates after the cursor. */
  model: string;
  rule: StopRule;
  /** First non-blank line after the cursor. */
  suffixLine?: string;
  maxBytes?: number;
}

/** Feeds `model` byte by byte into checkStop; returns the kept text, or undefined if it never stopped. */
function generate(g: Golden): string | undefined {
  assert.ok(g.line.endsWith('█'), 'the cursor marker ends the line');
  const ctx: StopContext = {
    rule: g.rule,
    maxBytes: g.maxBytes ?? 4096,
    linePrefix: bytesOf(g.line.slice(0, -1)),
    suffixLine: g.suffixLine === undefined ? undefined : bytesOf(g.suffixLine),
  };
  const out: number[] = [];
  for (const b of bytesOf(g.model)) {
    out.push(b);
    const keep = checkStop(out, ctx);
    if (keep >= 0) return Buffer.from(utf8Complete(out.slice(0, keep))).toString('utf8');
  }
  return undefined;
}

test('line: stops at the end of the cursor line, dropping the newline', () => {
  assert.equal(generate({ line: 'const total = █', model: 'a + b;\nconsole.log(total);\n', rule: 'line' }), 'a + b;');
});

test('line: a completion that opens with a line break goes on to the first line with content', () => {
  assert.equal(generate({ line: 'function f() {█', model: '\n  return 1;\n}\n', rule: 'line' }), '\n  return 1;');
  assert.equal(generate({ line: 'x = [█', model: '\n\n   \n  1,\n  2,\n', rule: 'line' }), '\n\n   \n  1,');
});

test('block: a blank line ends the block', () => {
  const g: Golden = { line: 'def area(r):█', model: '\n    pi = 3.14\n    return pi * r * r\n\ndef other():\n', rule: 'block' };
  assert.equal(generate(g), '\n    pi = 3.14\n    return pi * r * r\n');
});

test('block: a line indented less than where the completion began ends the block', () => {
  const g: Golden = { line: '    █', model: 'x = 1\n    y = 2\nz = 3\n', rule: 'block' };
  assert.equal(generate(g), 'x = 1\n    y = 2\n');
});

test('block: the base indent is the cursor line\'s, so lines at that indent continue and a dedent past it stops', () => {
  const g: Golden = { line: '    if (ok) {█', model: '\n      run();\n    }\n    done();\n  }\n', rule: 'block' };
  assert.equal(generate(g), '\n      run();\n    }\n    done();\n');
});

test('block: a completion that starts on the cursor line takes its base indent from that line', () => {
  assert.equal(generate({ line: '        return █', model: 'a +\n          b\n    c()\n', rule: 'block' }), 'a +\n          b\n');
});

test('block: leading blank lines do not end the block before it has content', () => {
  assert.equal(generate({ line: '█', model: '\n\nfoo()\nbar()\n\n', rule: 'block' }), '\n\nfoo()\nbar()\n');
});

test('block: a line with only a carriage return counts as blank (CRLF files)', () => {
  assert.equal(generate({ line: '█', model: 'a = 1\r\nb = 2\r\n\r\nc = 3\r\n', rule: 'block' }), 'a = 1\r\nb = 2\r\n');
});

test('block: stops after 16 lines at most', () => {
  const model = Array.from({ length: 20 }, (_, i) => `line${i}\n`).join('');
  const kept = generate({ line: '█', model, rule: 'block' });
  assert.equal(kept, Array.from({ length: 16 }, (_, i) => `line${i}`).join('\n'));
});

test('budget: ignores line ends and blank lines until the byte budget', () => {
  const g: Golden = { line: 'x = █', model: '1\n\ny = 2\nz = 3\n', rule: 'budget', maxBytes: 10 };
  assert.equal(generate(g), '1\n\ny = 2\nz');
  assert.equal(generate({ ...g, maxBytes: 1000 }), undefined);
});

test('budget: a budget that ends inside a character keeps only whole characters', () => {
  // "é" is C3 A9: a budget of 2 bytes stops after "a" and C3; the cut drops the lone lead byte.
  assert.equal(generate({ line: '█', model: 'aé', rule: 'budget', maxBytes: 2 }), 'a');
  assert.equal(generate({ line: '█', model: 'a😀b', rule: 'budget', maxBytes: 4 }), 'a');
  assert.equal(generate({ line: '█', model: 'a😀b', rule: 'budget', maxBytes: 5 }), 'a😀');
});

test('line and block at the byte budget keep whole lines when there is at least one line break', () => {
  assert.equal(generate({ line: '█', model: 'abc\ndefgh', rule: 'block', maxBytes: 7 }), 'abc');
  assert.equal(generate({ line: '█', model: 'abcdefgh', rule: 'block', maxBytes: 5 }), 'abcde');
  assert.equal(generate({ line: '█', model: 'abcdefgh', rule: 'line', maxBytes: 5 }), 'abcde');
});

test('suffix line: generating the line that already follows the cursor ends the middle before it', () => {
  // if (x) {█
  // }          <- suffix line
  const g: Golden = { line: 'if (x) {█', model: '\n  y();\n}\n\nmore();\n', rule: 'budget', suffixLine: '}' };
  assert.equal(generate(g), '\n  y();\n');
  assert.equal(generate({ ...g, rule: 'block' }), '\n  y();\n');
});

test('suffix line: matched with surrounding whitespace and CR trimmed', () => {
  const g: Golden = { line: 'return [█', model: '\r\n    1,\r\n  ];\r\n', rule: 'budget', suffixLine: '\t];\r' };
  assert.equal(generate(g), '\r\n    1,\r\n');
});

test('suffix line: the first line of the completion never matches (it completes the cursor line)', () => {
  const g: Golden = { line: '█', model: '}\nfoo\n', rule: 'line', suffixLine: '}' };
  assert.equal(generate(g), '}');
});

test('suffix line: a blank or missing suffix line stops nothing', () => {
  assert.equal(generate({ line: '█', model: 'a\n\nb\n', rule: 'budget', suffixLine: '' }), undefined);
  assert.equal(generate({ line: '█', model: 'a\n   \nb\n', rule: 'budget', suffixLine: '   ' }), undefined);
});

test('checkStop goes on (-1) while the newest byte is not a line break and the budget is not reached', () => {
  const ctx: StopContext = { rule: 'line', maxBytes: 100, linePrefix: [] };
  assert.equal(checkStop(bytesOf('abc'), ctx), -1);
  assert.equal(checkStop(bytesOf('abc\n'), ctx), 3);
});

test('utf8Complete keeps complete text as it is and drops a trailing partial character', () => {
  assert.deepEqual(utf8Complete([]), []);
  assert.deepEqual(utf8Complete(bytesOf('abc')), bytesOf('abc'));
  assert.deepEqual(utf8Complete(bytesOf('aé€😀')), bytesOf('aé€😀'));
  assert.deepEqual(utf8Complete([0x61, 0xc3]), [0x61]);
  assert.deepEqual(utf8Complete([0x61, 0xe2, 0x82]), [0x61]);
  assert.deepEqual(utf8Complete([0x61, 0xf0, 0x9f, 0x98]), [0x61]);
  assert.deepEqual(utf8Complete([0xf0]), []);
  assert.deepEqual(utf8Complete([0x9f, 0x98, 0x80]), []); // only continuation bytes: the start was cut off
});

test('utf8Complete never leaves half a character: every cut of valid text decodes to its longest whole prefix', () => {
  const text = 'a\u00e9\u20ac\ud83d\ude00\u0800\uffff\u{10ffff}z \u00ff\ud7ff\ue000\u07ff\u{10000}';
  const bytes = bytesOf(text);
  // Byte offsets where a character starts (and the end).
  const bounds = new Set<number>([bytes.length]);
  let at = 0;
  for (const ch of text) {
    bounds.add(at);
    at += Buffer.byteLength(ch);
  }
  for (let cut = 0; cut <= bytes.length; cut++) {
    const whole = utf8Complete(bytes.slice(0, cut));
    const expected = Math.max(...[...bounds].filter((b) => b <= cut));
    assert.equal(whole.length, expected, `cut at ${cut}`);
    assert.doesNotThrow(() => fatal.decode(Uint8Array.from(whole)));
  }
});

test('line cuts in CRLF text keep no dangling carriage return', () => {
  assert.equal(generate({ line: 'x = █', model: '1;\r\ny = 2;\r\n', rule: 'line' }), '1;');
  assert.equal(generate({ line: '█', model: 'abc\r\ndefgh', rule: 'block', maxBytes: 8 }), 'abc');
  const model = Array.from({ length: 20 }, (_, i) => `l${i}\r\n`).join('');
  assert.equal(generate({ line: '█', model, rule: 'block' }), Array.from({ length: 16 }, (_, i) => `l${i}`).join('\r\n'));
});

test('checkStop says when it stopped because the candidate reached the text after the cursor', () => {
  const ctx: StopContext = { rule: 'budget', maxBytes: 100, linePrefix: [], suffixLine: bytesOf('}') };
  const why: { suffix?: boolean } = {};
  assert.equal(checkStop(bytesOf('\n  y();\n'), ctx, why), -1);
  assert.equal(why.suffix, undefined);
  assert.equal(checkStop(bytesOf('\n  y();\n}\n'), ctx, why), 8);
  assert.equal(why.suffix, true);
  const line: { suffix?: boolean } = {};
  assert.equal(checkStop(bytesOf('abc\n'), { ...ctx, rule: 'line' }, line), 3);
  assert.equal(line.suffix, undefined);
});
