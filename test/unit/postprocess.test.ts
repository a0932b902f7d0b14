// Post-processing filters, each on its own, then the chain. Golden cases mark the cursor with █:
// `line` is the cursor's line up to the cursor, `suffix` what follows it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  cutIncompleteUtf8,
  cutRepeatedLines,
  cutRepeatedPhrase,
  cutSuffixOverlap,
  cutTrailingSpaceRun,
  dedupe,
  dropBlank,
  postprocess,
  trimTrailingWhitespaceLines,
  type PostprocessContext,
} from '../../src/engine/postprocess';

/** `before█after`: the cursor's line before █ is the prefix line, everything after █ the suffix. */
function at(around: string): PostprocessContext {
  const i = around.indexOf('█');
  assert.ok(i >= 0, 'the golden case marks the cursor');
  const before = around.slice(0, i);
  return { prefixLine: before.slice(before.lastIndexOf('\n') + 1), suffix: around.slice(i + 1) };
}

const nowhere = at('█');

test('cutIncompleteUtf8 drops replacement characters left by a cut inside a multi-byte character', () => {
  assert.equal(cutIncompleteUtf8('caf\uFFFD', nowhere), 'caf');
  assert.equal(cutIncompleteUtf8('x\uFFFD\uFFFD', nowhere), 'x');
  assert.equal(cutIncompleteUtf8('caf\u00e9', nowhere), 'caf\u00e9');
  assert.equal(cutIncompleteUtf8('a\uFFFDb', nowhere), 'a\uFFFDb'); // only a trailing one is an artefact of the cut
});

test('cutRepeatedPhrase keeps a phrase looped inside a line once, and leaves rulers and real repeats alone', () => {
  assert.equal(cutRepeatedPhrase('"""A class the set the set the set the set the s', nowhere), '"""A class the set');
  assert.equal(cutRepeatedPhrase('x = f(a) + f(a) + f(a) + f(a)', nowhere), 'x = f(a) +');
  assert.equal(cutRepeatedPhrase('# ==========', nowhere), '# ==========');
  assert.equal(cutRepeatedPhrase('    return 1', nowhere), '    return 1');
  assert.equal(cutRepeatedPhrase('f(a, b) + f(a, b)', nowhere), 'f(a, b) + f(a, b)', 'twice is real code');
  assert.equal(cutRepeatedPhrase('--- --- ---', nowhere), '--- --- ---', 'no letter or digit: a ruler');
  assert.equal(cutRepeatedPhrase('# ============ the set the set the set', nowhere), '# ============ the set', 'a ruler before the loop does not hide it');
});

test('cutRepeatedLines cuts a line seen three times in a row before its second occurrence', () => {
  assert.equal(cutRepeatedLines('foo();\nfoo();\nfoo();\nfoo();', nowhere), 'foo();');
  assert.equal(cutRepeatedLines('a = 1\nlog(x)\nlog(x)\nlog(x)\nb = 2', nowhere), 'a = 1\nlog(x)');
});

test('cutRepeatedLines leaves a line repeated twice alone', () => {
  const text = 'x += 1;\nx += 1;\ny = 2;';
  assert.equal(cutRepeatedLines(text, nowhere), text);
});

test('cutRepeatedLines counts across blank lines and compares lines without their indentation', () => {
  // The cut falls before the line break that precedes the second copy; the chain trims the blank line left.
  assert.equal(cutRepeatedLines('  step()\n\n    step()\n\nstep()\n', nowhere), '  step()\n');
  assert.deepEqual(postprocess(['  step()\n\n    step()\n\nstep()\n'], nowhere), ['  step()']);
});

test('cutRepeatedLines never counts lines without letters or digits, such as closing brackets', () => {
  const text = '  }\n}\n}\n}';
  assert.equal(cutRepeatedLines(text, nowhere), text);
});

test('cutRepeatedLines counts the cursor line (prefix plus the first line of the candidate)', () => {
  //     print("hi")█      the model goes on with two more copies of the line
  const ctx = at('    print("hi")█\n');
  assert.equal(cutRepeatedLines('\nprint("hi")\nprint("hi")\nnext()', ctx), '');
  // the prefix completed by the first line
  assert.equal(cutRepeatedLines('hi")\nprint("hi")\nprint("hi")', at('print("█')), 'hi")');
});

test('cutRepeatedLines leaves no carriage return behind when it cuts CRLF text', () => {
  assert.equal(cutRepeatedLines('a\r\nfoo\r\nfoo\r\nfoo\r\n', nowhere), 'a\r\nfoo');
  assert.deepEqual(postprocess(['a\r\nfoo\r\nfoo\r\nfoo\r\n'], nowhere), ['a\r\nfoo']);
});

test('trimTrailingWhitespaceLines drops trailing line breaks and whitespace-only lines, keeping spaces on the last line', () => {
  assert.equal(trimTrailingWhitespaceLines('return x;\n\n   \n\t', nowhere), 'return x;');
  assert.equal(trimTrailingWhitespaceLines('a\r\n  \r\n', nowhere), 'a');
  assert.equal(trimTrailingWhitespaceLines('return ', nowhere), 'return ');
  assert.equal(trimTrailingWhitespaceLines('\n  indented', nowhere), '\n  indented');
});

test('cutSuffixOverlap drops a candidate that only repeats the start of the text after the cursor', () => {
  //   foo(█);
  assert.equal(cutSuffixOverlap(')', at('foo(█);')), undefined);
  assert.equal(cutSuffixOverlap(');\n', at('foo(█);\nbar();')), undefined);
});

test('cutSuffixOverlap cuts a closing bracket that is already there after the cursor', () => {
  //   foo(█)
  assert.equal(cutSuffixOverlap('a, b)', at('foo(█)')), 'a, b');
  assert.equal(cutSuffixOverlap('a, b);', at('foo(█);\nnext();')), 'a, b');
  assert.equal(cutSuffixOverlap('a, b)', at('foo(█)  \r\nnext();')), 'a, b');
});

test('cutSuffixOverlap keeps a short overlap that ends in the middle of the suffix line (likely coincidence)', () => {
  //   x = █b + c;      the candidate "a + b" shares only "b" with what follows
  assert.equal(cutSuffixOverlap('a + b', at('x = █b + c;')), 'a + b');
});

test('cutSuffixOverlap cuts a long overlap even in the middle of the suffix line', () => {
  assert.equal(cutSuffixOverlap('first(), computeTotal(items', at('call(█computeTotal(items), more)')), 'first(), ');
});

test('cutSuffixOverlap leaves candidates alone when nothing follows the cursor', () => {
  assert.equal(cutSuffixOverlap('anything)', nowhere), 'anything)');
});

test('cutTrailingSpaceRun cuts padding the budget cut off at the end, keeps one or two trailing spaces', () => {
  const ctx = { prefixLine: '', suffix: '' };
  assert.equal(cutTrailingSpaceRun('#' + ' '.repeat(250), ctx), '#');
  assert.equal(cutTrailingSpaceRun('x = 1\t\t\t', ctx), 'x = 1');
  assert.equal(cutTrailingSpaceRun('return ', ctx), 'return ');
  assert.equal(cutTrailingSpaceRun('a  ', ctx), 'a  ');
  assert.deepEqual(postprocess(['    ' + ' '.repeat(40)], ctx), [], 'whitespace only: dropped');
});

test('dropBlank drops empty and whitespace-only candidates', () => {
  assert.equal(dropBlank('', nowhere), undefined);
  assert.equal(dropBlank(' \n\t\r\n', nowhere), undefined);
  assert.equal(dropBlank(' x', nowhere), ' x');
});

test('dedupe keeps the first of equal candidates, in their order', () => {
  assert.deepEqual(dedupe(['b', 'a', 'b', 'c', 'a']), ['b', 'a', 'c']);
});

test('postprocess chains the filters: the cuts first, then the blank check, then dedupe', () => {
  //   if (ready) {█
  //   }
  const ctx = at('if (ready) {█\n}');
  const out = postprocess(
    [
      '\n  go();\n}', // closes the block that is already closed: the "}" goes, the newline before it too
      '\n  go();\n\n  \n', // trailing blank lines trimmed: the same text as the first, deduplicated
      '\n}', // only the closing bracket: nothing left after the overlap cut
      '\n  go\uFFFD', // cut inside a character
      '\n  x++;\n  x++;\n  x++;', // a loop
    ],
    ctx,
  );
  assert.deepEqual(out, ['\n  go();', '\n  go', '\n  x++;']);
});

test('postprocess runs custom filters in the given order and stops at the first that drops', () => {
  const seen: string[] = [];
  const out = postprocess(
    ['keep', 'drop'],
    nowhere,
    [
      (t) => {
        seen.push(`a:${t}`);
        return t === 'drop' ? undefined : t.toUpperCase();
      },
      (t) => {
        seen.push(`b:${t}`);
        return t;
      },
    ],
  );
  assert.deepEqual(out, ['KEEP']);
  assert.deepEqual(seen, ['a:keep', 'b:KEEP', 'a:drop']);
});

test('trimTrailingWhitespaceLines drops a carriage return left by a cut inside a CRLF line break', () => {
  assert.equal(trimTrailingWhitespaceLines('x = 1;\r', nowhere), 'x = 1;');
  assert.equal(trimTrailingWhitespaceLines('x = 1;\r\n  \r', nowhere), 'x = 1;');
  assert.equal(trimTrailingWhitespaceLines('return \r', nowhere), 'return ');
});
