// `npm run complete -- --jobs FILE.jsonl` (the real CLI on the bundled model): one model load for
// many requests gives, line for line, what a run of its own gives for each request, and a bad
// line is an error for that line while the others still run.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_DIR, ROOT } from './helpers';

const CLI = path.join(ROOT, 'dist', 'cli', 'complete.js');

function run(args: string[]): Record<string, unknown>[] {
  const r = spawnSync(process.execPath, [CLI, '--model', MODEL_DIR, '--threads', '1', ...args], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
  assert.equal(r.status, 0, `complete ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** What does not depend on timing. */
function answer(o: Record<string, unknown>): unknown {
  return { candidates: o.candidates, confidence: o.confidence, results: o.results, ep: o.ep };
}

test('--jobs with 3 lines prints 3 results equal to 3 single runs, in order', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'megabyte-jobs-'));
  try {
    const a = path.join(dir, 'a.py');
    const b = path.join(dir, 'b.py');
    const aText = 'DEFAULTS = {\n    "host": "localhost",\n    "port": 8080,\n}\n\nOVERRIDES = {\n    "host": "localhost",\n    "port": ';
    writeFileSync(a, aText);
    const bText = 'def greet(name):\n    message = "Hello, " + name + "!"\n    return message\n\n\ndef greet_loud(name):\n    ';
    writeFileSync(b, bText);
    const mid = Buffer.byteLength(aText.slice(0, aText.indexOf('"host"', 20)));
    // the same file twice (the second at another offset: the engine's cache for it is reused), another file between
    const offsets = [Buffer.byteLength(aText), Buffer.byteLength(bText), mid];
    const jobs: [Record<string, unknown>, string[]][] = [
      [{ file: a, candidates: 2 }, ['--file', a, '--candidates', '2']],
      [{ file: b, stop: 'line', max_bytes: 40 }, ['--file', b, '--stop', 'line', '--max-bytes', '40']],
      [{ file: a, offset: mid, no_suffix: true, min_confidence: 0 }, ['--file', a, '--offset', String(mid), '--no-suffix', '--min-confidence', '0']],
    ];
    const jobsFile = path.join(dir, 'jobs.jsonl');
    writeFileSync(jobsFile, jobs.map(([j]) => JSON.stringify(j)).join('\n') + '\n');
    const batch = run(['--jobs', jobsFile]);
    assert.equal(batch.length, 3, `one result a line: ${JSON.stringify(batch)}`);
    jobs.forEach(([job, flags], i) => {
      const single = run(flags);
      assert.equal(single.length, 1);
      const got = batch[i];
      assert.equal(got.line, i + 1);
      assert.equal(got.file, job.file);
      assert.equal(got.offset, offsets[i], `line ${i + 1}: the offset it ran at (the end of the file unless given)`);
      assert.deepEqual(answer(got), answer(single[0]), `line ${i + 1} of the jobs equals its single run`);
      const results = got.results as { text: string; offered: string; shown: string; would_show: boolean }[];
      assert.ok(results.length >= 1 && results.every((r) => r.text.startsWith(r.offered) && r.offered.startsWith(r.shown) && r.would_show === (r.shown !== '')),
        `each result's offered text is a prefix of its text, shown of offered, would_show says whether shown is anything: ${JSON.stringify(results)}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--jobs: a bad line prints an error naming it, and the lines after it still run', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'megabyte-jobs-'));
  try {
    const a = path.join(dir, 'a.py');
    writeFileSync(a, 'import math\n\n\ndef area(r):\n    return ');
    const jobsFile = path.join(dir, 'jobs.jsonl');
    writeFileSync(jobsFile, [
      JSON.stringify({ file: a, max_bytes: 8 }),
      JSON.stringify({ file: path.join(dir, 'missing.py') }),
      '{"file": ',
      JSON.stringify({ file: a, offset: 10_000 }),
      '',
      JSON.stringify({ file: a, max_bytes: 8, stop: 'line' }),
    ].join('\n'));
    const out = run(['--jobs', jobsFile]);
    assert.deepEqual(out.map((o) => o.line), [1, 2, 3, 4, 6], 'one line out per job line (the blank one skipped), in order');
    assert.ok(Array.isArray(out[0].results) && Array.isArray(out[4].results), 'the good lines have results');
    assert.match(String(out[1].error), /^line 2: cannot read .*missing\.py/);
    assert.match(String(out[2].error), /^line 3: not JSON/);
    assert.match(String(out[3].error), /^line 4: offset 10000 is past the end/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
