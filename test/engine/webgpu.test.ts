// The WebGPU provider on whatever adapter this machine has. In CI that is Mesa's lavapipe, a
// software Vulkan device (.ci/run installs it): slow, so every input here is short. Where no
// adapter exists the tests that need one are skipped with the reason; with
// MEGABYTE_REQUIRE_WEBGPU=1 (what .ci/run sets once it installed the device) they fail instead.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { DEFAULT_OPTIONS, type ExecutionProvider } from '../../src/engine/api';
import { EngineCore } from '../../src/engine/engine';
import { KVCache, ModelRuntime, prevUnits, softwareOnlyReason } from '../../src/engine/runtime';
import { BOS, VOCAB_SIZE } from '../../src/engine/contract';
import { bitsOf } from '../../src/engine/sampling';
import { fixture, longText, MODEL_DIR } from './helpers';

/**
 * WebGPU against the CPU provider, measured on lavapipe (Mesa 25.0.7 from bookworm-backports,
 * onnxruntime-node 1.30.0): on the 1,023-byte file the largest per-byte difference is 1.5e-5
 * bits and bits per byte agree to 6 decimals (on 1,536 bytes: 1.6e-5); per level, on the same
 * inputs, the largest output difference is 1.2e-6 (global, the one-position step against a
 * cache), 8.9e-7 (middle) and 1.0e-5 (local logits; 1.6e-5 bits). The bounds leave room for
 * another adapter's rounding and stay far below what a wrong kernel gives (bits off by whole bits).
 */
const TOL = { bitsPerByte: 1e-3, bitsOfAByte: 1e-2, output: 1e-3 };
/**
 * 1,023 bytes: with BOS, 16 global positions, the load probe's chunk (runtime.ts
 * PROBE_GLOBAL_STEPS), so a software adapter compiles that level's shaders once for both.
 */
const TEXT_BYTES = 1023;
/** Every new past length compiles new shaders on a software adapter: decoding is the slow part. */
const GREEDY_BYTES = 32;

const load = (eps: ExecutionProvider[], extra: object = {}) => ModelRuntime.load(MODEL_DIR, { executionProviders: eps, threads: 0, ...extra });

/** The runtime on WebGPU chosen on purpose (no "cpu" in the list), or why there is none here. */
const gpu: Promise<ModelRuntime | string> = (async () => {
  const rt = await load(['webgpu']);
  if (rt.ep === 'webgpu') return rt;
  await rt.release();
  const why = `no WebGPU adapter on this machine (on Debian bookworm: mesa-vulkan-drivers from bookworm-backports and libvulkan1, README "Tests"); onnxruntime: ${rt.fallbacks.map((f) => f.error).join('; ')}`;
  if (process.env.MEGABYTE_REQUIRE_WEBGPU === '1') throw new Error(`MEGABYTE_REQUIRE_WEBGPU=1 but ${why}`);
  return why;
})();
const cpu = load(['cpu']);

after(async () => {
  const g = await gpu.catch(() => undefined);
  if (g instanceof ModelRuntime) await g.release();
  await (await cpu).release();
});

/** The WebGPU runtime, or undefined after marking the test skipped with the reason. */
async function needGpu(t: { skip(message: string): void }): Promise<ModelRuntime | undefined> {
  const g = await gpu;
  if (typeof g === 'string') {
    t.skip(g);
    return undefined;
  }
  return g;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

test('chosen on purpose (the list without "cpu"), the model loads on WebGPU and the engine reports it serving', async (t) => {
  const g = await needGpu(t);
  if (!g) return;
  const e = new EngineCore(g, { executionProviders: ['webgpu'] });
  assert.equal(e.info().ep, 'webgpu');
  assert.deepEqual(e.info().fallbacks, []);
  assert.deepEqual(g.probes, [], 'no probe when the list has no "cpu": the choice is the user\'s');
});

test(`bits of a ${TEXT_BYTES}-byte file on WebGPU equal the CPU provider's within ${TOL.bitsOfAByte} per byte`, async (t) => {
  const g = await needGpu(t);
  if (!g) return;
  const text = longText(TEXT_BYTES);
  const score = async (rt: ModelRuntime) => {
    const e = new EngineCore(rt, { executionProviders: [rt.ep], matchModel: false });
    e.sync('f', 1, text);
    const r = await e.score({ uri: 'f', version: 1 });
    assert.equal(r.ep, rt.ep);
    return r;
  };
  const [a, b] = [await score(await cpu), await score(g)];
  assert.equal(a.bytes, b.bytes);
  const worst = maxDiff(a.bits, b.bits);
  t.diagnostic(`bits per byte: cpu ${a.bitsPerByte.toFixed(6)}, webgpu ${b.bitsPerByte.toFixed(6)}; largest per-byte difference ${worst.toExponential(2)} bits; webgpu ${b.seconds.toFixed(2)} s, cpu ${a.seconds.toFixed(2)} s`);
  assert.ok(worst < TOL.bitsOfAByte, `largest per-byte difference ${worst} bits`);
  assert.ok(Math.abs(a.bitsPerByte - b.bitsPerByte) < TOL.bitsPerByte, `bits per byte ${b.bitsPerByte} vs ${a.bitsPerByte}`);
});

test(`greedy decoding on WebGPU gives the CPU provider's (and PyTorch's) first ${GREEDY_BYTES} bytes`, async (t) => {
  const g = await needGpu(t);
  if (!g) return;
  const fx = fixture();
  const prompt = fx.prompt.toString('utf8');
  const greedy = async (rt: ModelRuntime) => {
    const e = new EngineCore(rt, { executionProviders: [rt.ep], matchModel: false });
    e.sync('p', 1, prompt);
    const r = await e.complete({ uri: 'p', version: 1, offset: prompt.length, candidates: 1, maxBytes: GREEDY_BYTES, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 600_000, useSuffix: false });
    assert.equal(r.ep, rt.ep);
    return Buffer.from(r.candidates[0].text);
  };
  const onGpu = await greedy(g);
  assert.equal(onGpu.length, GREEDY_BYTES);
  assert.deepEqual(onGpu, await greedy(await cpu));
  assert.deepEqual(onGpu, fx.greedy.subarray(0, GREEDY_BYTES), 'greedy is causal: the first bytes of PyTorch\'s 64');
});

test('each level, and one global step against a cache (the split-attention branch), equal the CPU provider\'s', async (t) => {
  const g = await needGpu(t);
  if (!g) return;
  const c = await cpu;
  const stream = [BOS, ...Buffer.from(longText(TEXT_BYTES))];
  const U0 = c.unit(0);
  const K = Math.floor(stream.length / U0); // global positions run as one chunk, then one more
  const diffs: Record<string, number> = {};
  // The same cache for both providers: the CPU's keys and values of the first K positions.
  const cache = KVCache.forLevel(c.levels[0], 1, K + 1);
  cache.append((await c.runLevel(0, prevUnits(stream, 0, K, U0), 1, K, null, cache)).news);
  const step = prevUnits(stream, K, 1, U0);
  const [a, b] = [await c.runLevel(0, step, 1, 1, null, cache), await g.runLevel(0, step, 1, 1, null, cache)];
  assert.equal(cache.length, K, 'the step reads the cache and leaves it as it was');
  diffs.global = Math.max(maxDiff(a.out, b.out), ...a.news.map((n, i) => maxDiff(n.data as Float32Array, b.news[i].data as Float32Array)));
  // Inner levels over the patch that step predicts, from the same (CPU) context.
  let ctx = a.out;
  const base = K * U0 - U0;
  for (let l = 1; l < c.levels.length; l++) {
    const p = c.patchSizes[l - 1];
    const parent = c.unit(l - 1);
    const units = prevUnits(stream.slice(base, base + parent), 0, p, c.unit(l));
    const inputs = [units, 1, p, ctx.subarray(0, p * c.levels[l].dim)] as const;
    const [x, y] = [await c.runLevel(l, ...inputs, KVCache.forLevel(c.levels[l])), await g.runLevel(l, ...inputs, KVCache.forLevel(g.levels[l]))];
    diffs[l === c.levels.length - 1 ? 'local logits' : `level ${l}`] = maxDiff(x.out, y.out);
    if (l === c.levels.length - 1) {
      let worst = 0;
      for (let i = 0; i < p; i++) worst = Math.max(worst, Math.abs(bitsOf(x.out, i * VOCAB_SIZE, stream[base + i]) - bitsOf(y.out, i * VOCAB_SIZE, stream[base + i])));
      diffs['local bits'] = worst;
    }
    ctx = x.out;
  }
  t.diagnostic(`largest |webgpu - cpu| per level: ${JSON.stringify(diffs)}`);
  for (const [k, d] of Object.entries(diffs)) assert.ok(d < (k === 'local bits' ? TOL.bitsOfAByte : TOL.output), `${k}: ${d}`);
});

test('a WebGPU fault while running falls back to the CPU, says so, and the request completes', async (t) => {
  if (!(await needGpu(t))) return;
  const rt = await load(['webgpu'], { failNextRunOn: 'webgpu' });
  assert.equal(rt.ep, 'webgpu');
  const e = new EngineCore(rt, { executionProviders: ['webgpu'] });
  const text = fixture().text.toString('utf8');
  e.sync('d', 1, text);
  const got = await e.score({ uri: 'd', version: 1 });
  assert.equal(e.info().ep, 'cpu');
  assert.ok(e.info().fallbacks.some((f) => f.ep === 'webgpu' && /run failed: simulated webgpu failure/.test(f.error)), JSON.stringify(e.info().fallbacks));
  const ref = new EngineCore(await cpu);
  ref.sync('d', 1, text);
  assert.ok(Math.abs(got.bitsPerByte - (await ref.score({ uri: 'd', version: 1 })).bitsPerByte) < 1e-5);
  await rt.release();
});

test('by default (the list with "cpu") a software adapter never serves: the engine serves on the CPU and says why', async () => {
  // Runs everywhere: with a hardware adapter, WebGPU may serve, but only after beating the CPU on the probe.
  const rt = await load([...DEFAULT_OPTIONS.executionProviders]);
  const why = rt.fallbacks.find((f) => f.ep === 'webgpu');
  if (rt.ep !== 'cpu') {
    assert.ok(rt.probes.some((p) => p.ep === rt.ep && p.won && p.ms < p.cpuMs), `${rt.ep} serves only after beating the CPU: ${JSON.stringify(rt.probes)}`);
  } else {
    assert.ok(why, 'the reason WebGPU does not serve is reported');
    if (softwareOnlyReason('webgpu')) assert.match(why.error, /software adapter only: this machine has no GPU/, 'no GPU hardware: WebGPU is not even tried');
  }
  await rt.release();
});

test('the load probe: where it cannot tell from the hardware, a WebGPU slower than the CPU does not serve', async (t) => {
  if (!(await needGpu(t))) return;
  // assumeGpuHardware: as on a machine with a GPU that has no Vulkan driver (Dawn then finds lavapipe only).
  const t0 = performance.now();
  const rt = await load(['webgpu', 'cpu'], { assumeGpuHardware: true });
  const ms = performance.now() - t0;
  const [p] = rt.probes;
  assert.ok(p && p.ep === 'webgpu', 'WebGPU was probed');
  t.diagnostic(`load with the probe ${ms.toFixed(0)} ms: ${JSON.stringify(p)}`);
  assert.equal(rt.ep, p.won ? 'webgpu' : 'cpu');
  if (!p.won) assert.ok(rt.fallbacks.some((f) => f.ep === 'webgpu' && /slower than the CPU provider on the load probe/.test(f.error)), JSON.stringify(rt.fallbacks));
  await rt.release();
});
