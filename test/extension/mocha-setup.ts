// Creates the Mocha instance and installs its BDD globals (describe, it, ...)
// before any *.test.ts module is evaluated. index.ts imports this module first;
// ES module evaluation order (kept by esbuild's bundle) guarantees that.
import Mocha from 'mocha';

const timeout = Number(process.env.MEGABYTE_TEST_TIMEOUT_MS) || 60_000;

export const mocha = new Mocha({
  ui: 'bdd',
  color: false,
  timeout,
  slow: 5_000,
  grep: process.env.MEGABYTE_TEST_GREP || undefined,
  reporter: 'spec',
});

mocha.suite.emit('pre-require', globalThis, 'megabyte-extension-tests', mocha);
