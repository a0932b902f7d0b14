// Execution-provider fallback, at session creation and while running.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EngineCore } from '../../src/engine/engine';
import { MODEL_DIR } from './helpers';

test('a provider that fails at creation, or while running, falls back to the CPU and says so', async () => {
  // webgpu has no adapter on this machine, or only a software one (then it is not even tried, see webgpu.test.ts).
  const a = await EngineCore.load(MODEL_DIR, { executionProviders: ['webgpu', 'cpu'] });
  const info = a.info();
  if (info.ep === 'webgpu') {
    assert.ok(true, 'a WebGPU adapter exists here; the creation fallback is not exercised');
  } else {
    assert.equal(info.ep, 'cpu');
    assert.ok(info.fallbacks.some((f) => f.ep === 'webgpu'), 'the failed provider is reported');
  }
  a.sync('d', 1, 'hello world');
  const ref = await a.score({ uri: 'd', version: 1 });
  // A provider that throws during run() (simulated GPU fault): the same request completes on CPU.
  const b = await EngineCore.load(MODEL_DIR, { executionProviders: ['cuda', 'cpu'] }, { simulateEp: 'cuda', failNextRunOn: 'cuda' });
  assert.equal(b.info().ep, 'cuda');
  b.sync('d', 1, 'hello world');
  const got = await b.score({ uri: 'd', version: 1 });
  assert.equal(b.info().ep, 'cpu');
  assert.ok(b.info().fallbacks.some((f) => f.ep === 'cuda' && /run failed/.test(f.error)));
  assert.ok(Math.abs(got.bitsPerByte - ref.bitsPerByte) < 1e-5);
  await a.dispose();
  await b.dispose();
});
