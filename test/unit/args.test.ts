// The command-line tools read their flags from a table: an unknown flag, a switch given a value or
// a flag missing its value is an error that lists the known flags, never a value swallowed or a
// default silently used. The last tests run the built CLIs (they fail before any model loads).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { intFlag, noPositional, numberFlag, parseArgs, repoRoot, UsageError, type FlagTable } from '../../src/cli/args';

const TABLE = {
  model: { value: 'DIR', help: 'model' },
  context: { value: 'BYTES', help: 'context' },
  'per-file': { help: 'switch' },
} as const satisfies FlagTable;

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test('parses values, inline values, switches and positionals', () => {
  const p = parseArgs(['--model', 'm', 'a.txt', '--context=512', '--per-file', 'b.txt', '--', '--not-a-flag'], TABLE);
  assert.deepEqual([...p.flags], [['model', 'm'], ['context', '512'], ['per-file', true]]);
  assert.deepEqual(p.positional, ['a.txt', 'b.txt', '--not-a-flag']);
  assert.equal(intFlag(p, 'context', 0), 512);
});

test('an unknown flag is an error listing the known ones, and takes no value', () => {
  assert.throws(() => parseArgs(['--bogus', 'a.txt', 'b.txt'], TABLE), usage(/unknown flag --bogus; known flags: --model DIR, --context BYTES, --per-file$/));
  assert.throws(() => parseArgs(['--modle', 'dir', 'a.txt'], TABLE), usage(/unknown flag --modle/));
  assert.throws(() => parseArgs(['--bogus=1'], TABLE), usage(/unknown flag --bogus/));
  // Not a prototype property either.
  assert.throws(() => parseArgs(['--constructor', 'x'], TABLE), usage(/unknown flag --constructor/));
});

test('a value flag needs a value that is not the next flag; a switch takes none; no flag twice', () => {
  assert.throws(() => parseArgs(['a.txt', '--model'], TABLE), usage(/--model needs a value \(DIR\)/));
  assert.throws(() => parseArgs(['--model', '--per-file', 'a.txt'], TABLE), usage(/--model needs a value/));
  assert.throws(() => parseArgs(['--per-file=yes'], TABLE), usage(/--per-file is a switch/));
  assert.throws(() => parseArgs(['--model', 'a', '--model', 'b'], TABLE), usage(/--model given twice/));
});

test('numbers are checked', () => {
  const p = parseArgs(['--context', '12x', '--model', ''], TABLE);
  assert.throws(() => intFlag(p, 'context', 0), usage(/--context must be an integer/));
  assert.throws(() => intFlag(parseArgs(['--context', '-1'], TABLE), 'context', 0, 0, 10), usage(/0\.\.10, got -1/));
  assert.throws(() => numberFlag(parseArgs(['--context', ''], TABLE), 'context', 0), usage(/must be a number/));
  assert.equal(numberFlag(parseArgs(['--context', '0.5'], TABLE), 'context', 0, 0, 1), 0.5);
  assert.throws(() => noPositional(parseArgs(['stray'], TABLE), TABLE), usage(/unexpected argument stray; known flags/));
});

function cli(script: string, args: string[]): { status: number | null; stderr: string; last: unknown } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'dist', script), ...args], { encoding: 'utf8', timeout: 60_000 });
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, stderr: r.stderr, last: JSON.parse(lines[lines.length - 1] || 'null') };
}

test('the built CLIs refuse an unknown flag before loading a model', () => {
  const cases: [string, string[], RegExp][] = [
    ['cli/score.js', ['--bogus', 'a.txt', 'b.txt'], /unknown flag --bogus; known flags: --model DIR/],
    ['cli/score.js', ['--modle', 'models/mb-small', 'README.md'], /unknown flag --modle/],
    ['cli/complete.js', ['--file', 'README.md', '--max-byte', '3'], /unknown flag --max-byte; known flags: .*--max-bytes M/],
    ['cli/complete.js', ['--file', 'README.md', '--stop', 'para'], /--stop must be one of line, block, budget/],
    ['bench/infill.js', ['--span', '3'], /unknown flag --span; known flags: .*--spans N/],
    ['bench/soak.js', ['--keystroke', '3'], /unknown flag --keystroke; known flags: .*--keystrokes N/],
    ['bench/bench.js', ['--quik'], /unknown flag --quik; known flags: --quick/],
    ['bench/bench.js', ['--only', 'memry'], /--only must be one of memory/],
    ['bench/bench.js', ['--ep', 'cpu,tpu'], /unknown execution provider tpu/],
  ];
  for (const [script, args, re] of cases) {
    const r = cli(script, args);
    assert.notEqual(r.status, 0, `${script} ${args.join(' ')} exited 0`);
    assert.match(r.stderr, re, `${script} ${args.join(' ')}: ${r.stderr}`);
  }
  const score = cli('cli/score.js', ['--bogus', 'a.txt', 'b.txt']);
  assert.equal(score.status, 2);
  assert.match((score.last as { error: string }).error, /unknown flag --bogus/);
});

test('every flag a tool reads is in its table (else parseArgs would refuse it and the flag would be dead)', () => {
  const tools: [string, string][] = [
    ['src/cli/score.ts', 'SCORE_FLAGS'], ['src/cli/complete.ts', 'COMPLETE_FLAGS'], ['src/bench/infill.ts', 'INFILL_FLAGS'],
    ['src/bench/soak.ts', 'SOAK_FLAGS'], ['src/bench/bench.ts', 'BENCH_FLAGS'],
  ];
  const common = ['model', 'threads'];
  for (const [file, table] of tools) {
    const src = readFileSync(path.join(repoRoot(), file), 'utf8');
    const start = src.indexOf(`const ${table} = {`);
    assert.ok(start >= 0, `${file} defines ${table}`);
    const body = src.slice(start, src.indexOf('} as const satisfies FlagTable', start));
    const declared = new Set([...body.matchAll(/^\s+'?([a-z][a-z-]*)'?: \{ (?:value|help)/gm)].map((m) => m[1]));
    if (body.includes('...COMMON_FLAGS')) common.forEach((c) => declared.add(c));
    const read = [...src.matchAll(/(?:flags\.(?:get|has)\(|(?:intFlag|stringFlag|numberFlag)\(p, |\bdir\()'([a-z][a-z-]*)'/g)].map((m) => m[1]);
    assert.ok(read.length > 0, `${file}: no flag reads found`);
    for (const name of read) assert.ok(declared.has(name), `${file} reads --${name}, which ${table} does not list`);
  }
});
