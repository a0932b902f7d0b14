// Mocha suite entry for VS Code's `extensionTestsPath` convention: the extension
// host loads this bundle (dist/test/extension/index.js) and awaits run().
//
// Results are reported three ways:
//  - the returned promise (VS Code reports the outcome through the workbench);
//  - spec-reporter lines on the console (forwarded to the workbench console);
//  - JSON lines appended to $MEGABYTE_TEST_RESULT when set (test/e2e/run.mjs sets
//    it): one {title, state, durationMs, error?} per test as it finishes, then a
//    final {done: true, passed, failed, pending, durationMs}. Figures a test reports
//    (helpers.report) travel as {note} lines in between.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeDocs, setReportSink } from './helpers';
import { mocha } from './mocha-setup';

// Test modules: imported after mocha-setup so describe/it exist. Add new files here.
import './smoke.test';
import './inline.test';
import './ui.test';
import './performance.test';
import './webgpu.test';
import './context.test';

interface TestRecord {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

function append(file: string | undefined, record: unknown): void {
  if (!file) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, JSON.stringify(record) + '\n');
  } catch (err) {
    console.error(`[megabyte-tests] could not write ${file}: ${String(err)}`);
  }
}

export function run(): Promise<void> {
  const resultFile = process.env.MEGABYTE_TEST_RESULT;
  const counts = { passed: 0, failed: 0, pending: 0 };
  const report = (r: TestRecord) => { counts[r.state]++; append(resultFile, r); };
  const started = Date.now();
  setReportSink((note) => append(resultFile, { note }));
  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        removeDocs();
        append(resultFile, { done: true, ...counts, durationMs: Date.now() - started });
        if (failures > 0) reject(new Error(`${failures} extension test(s) failed`));
        else resolve();
      });
      runner.on('pass', (t) => report({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
      runner.on('pending', (t) => report({ title: t.fullTitle(), state: 'pending' }));
      runner.on('fail', (t, err: Error) => report({
        title: t.fullTitle(), state: 'failed', durationMs: t.duration, error: err?.stack ?? String(err),
      }));
    } catch (err) {
      report({ title: 'load the mocha suite', state: 'failed', error: (err as Error)?.stack ?? String(err) });
      append(resultFile, { done: true, ...counts, durationMs: Date.now() - started });
      reject(err);
    }
  });
}
