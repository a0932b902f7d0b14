// Mocha suite entry for VS Code's `extensionTestsPath` convention: the extension
// host loads this bundle (dist/test/extension/index.js) and awaits run().
//
// Results are reported three ways:
//  - the returned promise (VS Code exits the extension host with 0 / 1, which the
//    browser workbench reports through window.codeAutomationExit);
//  - spec-reporter lines on the console (forwarded to the workbench console);
//  - a JSON file at $MEGABYTE_TEST_RESULT when set (test/e2e/run.mjs sets it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mocha } from './mocha-setup';

// Test modules: imported after mocha-setup so describe/it exist. Add new files here.
import './smoke.test';
import './inline.test';
import './ui.test';
import './performance.test';

interface TestRecord {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

function writeResult(file: string | undefined, result: unknown): void {
  if (!file) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // write + rename so a poller never reads a half-written file
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(result, null, 2));
    fs.renameSync(`${file}.tmp`, file);
  } catch (err) {
    console.error(`[megabyte-tests] could not write ${file}: ${String(err)}`);
  }
}

export function run(): Promise<void> {
  const resultFile = process.env.MEGABYTE_TEST_RESULT;
  const tests: TestRecord[] = [];
  const started = Date.now();
  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const summary = {
          passed: tests.filter((t) => t.state === 'passed').length,
          failed: tests.filter((t) => t.state === 'failed').length,
          pending: tests.filter((t) => t.state === 'pending').length,
          durationMs: Date.now() - started,
          tests,
        };
        writeResult(resultFile, summary);
        if (failures > 0) reject(new Error(`${failures} extension test(s) failed`));
        else resolve();
      });
      runner.on('pass', (t) => tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
      runner.on('pending', (t) => tests.push({ title: t.fullTitle(), state: 'pending' }));
      runner.on('fail', (t, err: Error) => tests.push({
        title: t.fullTitle(), state: 'failed', durationMs: t.duration, error: err?.stack ?? String(err),
      }));
    } catch (err) {
      writeResult(resultFile, { passed: 0, failed: 1, pending: 0, tests: [{ title: 'mocha', state: 'failed', error: String(err) }] });
      reject(err);
    }
  });
}
