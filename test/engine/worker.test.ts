// The inference worker as the extension host uses it: cancellation, crashes.
// (onnxruntime-node aborts if a process loads it in a worker that ends and then in the main
// thread, so tests that run the engine on the main thread live in other files: node --test
// gives each file its own process. The extension host only ever loads it in workers.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { SHUTDOWN_GRACE_MS, startEngine } from '../../src/engine/client';
import { longText, MODEL_DIR, ROOT } from './helpers';

const workerPath = path.join(ROOT, 'dist', 'worker.js');

test('cancelling a score stops the worker within one chunk, and the next request is served', async () => {
  const engine = startEngine({ workerPath, executionProviders: ['cpu'] });
  await engine.load(MODEL_DIR);
  const text = longText(200_000);
  engine.sync('big', 1, text);
  const ac = new AbortController();
  let progressed = 0;
  const p = engine.score({ uri: 'big', version: 1 }, ac.signal, (f) => {
    progressed = f;
    if (f > 0) ac.abort();
  });
  await assert.rejects(p, (e: Error & { code?: string }) => e.code === 'cancelled');
  assert.ok(progressed < 0.2, `work went on after the abort: ${progressed}`);
  engine.sync('small', 1, 'def f(x):\n    return ');
  const r = await engine.complete({ uri: 'small', version: 1, offset: 21, candidates: 2, maxBytes: 8, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 10000 });
  assert.equal(r.candidates.length, 2);
  await engine.dispose();
});

test('a killed worker is restarted within 2 s and the next completion works', async () => {
  const engine = startEngine({ workerPath, executionProviders: ['cpu'] });
  await engine.load(MODEL_DIR);
  engine.sync('d', 1, 'import os\n\ndef main():\n    ');
  const req = { uri: 'd', version: 1, offset: 27, candidates: 1, maxBytes: 8, temperature: 0, topP: 1, stop: 'budget' as const, timeBudgetMs: 10000 };
  const before = await engine.complete(req);
  const t0 = Date.now();
  const ready = new Promise<void>((resolve) => {
    const sub = engine.onState((s) => {
      if (s.kind === 'ready') {
        sub.dispose();
        resolve();
      }
    });
  });
  engine.crashWorkerForTest();
  await ready;
  const restartMs = Date.now() - t0;
  assert.ok(restartMs < 2000, `restart took ${restartMs} ms`);
  assert.equal(engine.restarts, 1);
  const after = await engine.complete(req);
  assert.deepEqual(after.candidates.map((c) => c.text), before.candidates.map((c) => c.text));
  await engine.dispose();
});

test('loading a damaged model fails with a message naming the file and the previous model keeps serving', async () => {
  const { cpSync, mkdtempSync, truncateSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const bad = mkdtempSync(path.join(os.tmpdir(), 'mb-bad-'));
  cpSync(MODEL_DIR, bad, { recursive: true });
  truncateSync(path.join(bad, 'level0.onnx'), 1000);
  const engine = startEngine({ workerPath, executionProviders: ['cpu'] });
  await engine.load(MODEL_DIR);
  await assert.rejects(engine.load(bad), /level0\.onnx: size 1000 bytes/);
  assert.equal(engine.model?.dir, MODEL_DIR);
  engine.sync('d', 1, 'def f():\n    return ');
  const r = await engine.complete({ uri: 'd', version: 1, offset: 20, candidates: 1, maxBytes: 8, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 10000 });
  assert.equal(r.candidates.length, 1);
  await engine.dispose();
  rmSync(bad, { recursive: true });
});

test('edits travel as edits; one that cannot apply, or a restart, asks the owner for the full text', async () => {
  const engine = startEngine({ workerPath, executionProviders: ['cpu'] });
  await engine.load(MODEL_DIR);
  const asked: string[] = [];
  engine.onResync((uri) => asked.push(uri));
  let text = 'import os\n\ndef main():\n    ';
  engine.sync('d', 1, text);
  text += 'return os.';
  engine.edit('d', 1, 2, [{ offset: 27, length: 0, text: 'return os.' }], text.length, text.length);
  const req = { uri: 'd', version: 2, offset: text.length, candidates: 1, maxBytes: 8, temperature: 0, topP: 1, stop: 'budget' as const, timeBudgetMs: 10000 };
  const r = await engine.complete(req);
  assert.equal(r.candidates.length, 1);
  assert.deepEqual(asked, []);

  // The owner thinks the worker holds v5: the edit is refused and the owner asked for the text.
  const resynced = new Promise<string>((resolve) => { const s = engine.onResync((u) => { s.dispose(); resolve(u); }); });
  engine.edit('d', 5, 6, [{ offset: 0, length: 0, text: '#' }], text.length + 1);
  assert.equal(await resynced, 'd');
  await assert.rejects(engine.complete({ ...req, version: 6 }), (e: Error & { code?: string }) => e.code === 'stale');
  engine.sync('d', 6, '#' + text);
  assert.equal((await engine.complete({ ...req, version: 6, offset: text.length + 1 })).candidates.length, 1);

  // After a crash the worker has only what this side could re-send: a document last changed by
  // an edit is asked for again.
  engine.edit('d', 6, 7, [{ offset: 0, length: 1, text: '' }], text.length);
  const again = new Promise<string>((resolve) => { const s = engine.onResync((u) => { s.dispose(); resolve(u); }); });
  engine.crashWorkerForTest();
  assert.equal(await again, 'd');
  await engine.dispose();
});

test('while a large document encodes in the background, questions are answered at once, and a document the user moves to is encoded first', async () => {
  const engine = startEngine({ workerPath, executionProviders: ['cpu'] });
  await engine.load(MODEL_DIR);
  const events: string[] = [];
  const sub = engine.onState((s) => {
    if (s.kind === 'encoding') events.push(`encoding ${s.uri} ${s.percent}`);
    else if (s.kind === 'ready') events.push('ready');
  });
  const firstEncoding = new Promise<void>((resolve) => {
    const w = engine.onState((s) => {
      if (s.kind === 'encoding' && s.uri === 'big') {
        w.dispose();
        resolve();
      }
    });
  });
  const big = longText(400_000);
  engine.sync('big', 1, big, big.length);
  await firstEncoding;
  // Show context and the memory figures do not wait for the encode to end
  const info = await engine.context('big');
  events.push('context answered');
  await engine.stats();
  events.push('stats answered');
  assert.deepEqual(info.parts, []);
  const small = longText(40_000);
  // a file opened (synced before its editor is active, so without a cursor), then its editor
  // became the active one: it is encoded before the rest of 'big', which resumes after
  engine.sync('small', 1, small);
  engine.focus('small', small.length);
  await new Promise<void>((resolve) => {
    const w = engine.onState((s) => {
      if (s.kind === 'ready' && events.some((e) => e.startsWith('encoding small'))) {
        w.dispose();
        resolve();
      }
    });
  });
  const r = await engine.complete({ uri: 'small', version: 1, offset: small.length, candidates: 1, maxBytes: 4, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 10000 });
  assert.equal(r.window, 'full');
  sub.dispose();
  await engine.dispose();
  const at = (pred: (e: string) => boolean) => events.findIndex(pred);
  // (the load's own 'ready' may come first)
  const firstReady = events.findIndex((e, i) => e === 'ready' && i > at((f) => f.startsWith('encoding big')));
  assert.ok(at((e) => e === 'context answered') < firstReady && at((e) => e === 'stats answered') < firstReady, `answered before the encode ended: ${events.join(', ')}`);
  const smallAt = at((e) => e.startsWith('encoding small'));
  const bigPercents = events.slice(0, smallAt).filter((e) => e.startsWith('encoding big')).map((e) => Number(e.split(' ')[2]));
  assert.ok(smallAt > 0 && Math.max(...bigPercents) < 100, `small encoded before big was done: ${events.join(', ')}`);
});

test('in the worker, megabyte.context.indexBytes gives the match models a file beyond the stream\'s budget: the answer copies from it and says so', async () => {
  const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const os = await import('node:os');
  const { pathToFileURL } = await import('node:url');
  const { MAIN, MAIN_CURSOR, UTIL } = await import('../fixtures/crossfile');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-xidx-'));
  const engine = startEngine({ workerPath, executionProviders: ['cpu'] });
  try {
    mkdirSync(path.join(dir, 'src'));
    let util = '// Helpers of the upload pipeline.\n';
    for (let i = 0; util.length < 2048; i++) util += `export function part${i}Size(n: number): number {\n  return n * ${i + 3} + ${i};\n}\n\n`;
    util += UTIL;
    writeFileSync(path.join(dir, 'src', 'util.ts'), util);
    writeFileSync(path.join(dir, 'src', 'main.ts'), MAIN);
    await engine.load(MODEL_DIR);
    engine.configureWorkspace({ enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 1024, indexBytes: 1_000_000 });
    const uri = pathToFileURL(path.join(dir, 'src', 'main.ts')).href;
    engine.sync(uri, 1, MAIN, MAIN_CURSOR); // the active editor: assembled and indexed in the background
    let info = await engine.context(uri);
    for (let i = 0; i < 300 && !info.indexed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      info = await engine.context(uri);
    }
    assert.deepEqual(info.indexed, { files: 1, bytes: Buffer.byteLength(util), paths: [path.join(dir, 'src', 'util.ts')] });
    assert.ok(info.bytes <= 1024, `the stream holds ${info.bytes} bytes of util.ts`);
    const r = await engine.complete({ uri, version: 1, offset: MAIN_CURSOR, candidates: 1, maxBytes: 24, temperature: 0, topP: 1, stop: 'line', timeBudgetMs: 60_000 });
    assert.deepEqual(r.indexed, { files: 1, bytes: Buffer.byteLength(util) });
    assert.match(r.candidates[0].text, /^ChunkedUpload/, JSON.stringify(r.candidates[0].text));
    // the setting at 0: no index (the worker drops it when configured)
    engine.configureWorkspace({ enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 1024, indexBytes: 0 });
    assert.equal((await engine.context(uri)).indexed, undefined);
  } finally {
    await engine.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disposing the engine while a document encodes in the background stops the worker between two model runs, without aborting the process', async () => {
  // worker.terminate() while onnxruntime-node is inside a session's run() makes the binding's
  // error on the way back to JavaScript unthrowable: std::terminate, SIGABRT of the whole process
  // (the extension host, when the window closes during an encode). Each round disposes at
  // another moment of an encode; without the worker's graceful stop about one in three aborts.
  const big = longText(200_000);
  for (let round = 0; round < 6; round++) {
    const logged: string[] = [];
    const engine = startEngine({ workerPath, executionProviders: ['cpu'], log: (level, message) => logged.push(`${level}: ${message}`) });
    await engine.load(MODEL_DIR);
    const encoding = new Promise<void>((resolve) => {
      const w = engine.onState((s) => {
        if (s.kind === 'encoding' && s.uri === 'big' && s.percent >= 1) {
          w.dispose();
          resolve();
        }
      });
    });
    engine.sync('big', 1, big, big.length);
    await encoding;
    await new Promise((r) => setTimeout(r, round * 9));
    const t0 = Date.now();
    await engine.dispose();
    // the worker answered 'stopped' (no run in flight) before it was terminated
    assert.ok(Date.now() - t0 < SHUTDOWN_GRACE_MS, `dispose took ${Date.now() - t0} ms`);
    assert.deepEqual(logged.filter((l) => /did not stop/.test(l)), []);
  }
});
