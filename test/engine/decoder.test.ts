// Candidates decoded together share the document's global cache (each keeps only its own
// generated global positions): what each one sees must be exactly what it would see decoded alone.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BOS } from '../../src/engine/contract';
import { Decoder, GlobalCache, encodeGlobal, NEVER_CANCELLED } from '../../src/engine/decoder';
import { ModelRuntime } from '../../src/engine/runtime';
import { MODEL_DIR, longText } from './helpers';

function argmaxRows(logits: Float32Array, rows: number): number[] {
  const V = logits.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let v = 1; v < 256; v++) if (logits[r * V + v] > logits[r * V + best]) best = v;
    return best;
  });
}

async function primed(rt: ModelRuntime, prefix: Uint16Array, cache = new GlobalCache()): Promise<Decoder> {
  await encodeGlobal(rt, cache, prefix, prefix.length, { chunkPatches: 64, cancel: NEVER_CANCELLED });
  const dec = new Decoder(rt, prefix, cache);
  await dec.prime();
  return dec;
}

test('three candidates decoded as one batch across three top patches equal each decoded alone, and leave the cache as it was', async () => {
  const rt = await ModelRuntime.load(MODEL_DIR, { executionProviders: ['cpu'], threads: 1 });
  const text = Buffer.from(longText(5000).slice(0, 4000) + '\nexport function ');
  const prefix = new Uint16Array(text.length + 1);
  prefix[0] = BOS;
  prefix.set(text, 1);
  const cache = new GlobalCache();
  const batch = await primed(rt, prefix, cache);
  const cachedBefore = cache.pos;
  batch.fork(3);
  // Each row its own first byte, then greedy; row 1 stops at step 100 (keepRows), so the others
  // go on with their tails picked.
  const starts = [0x61, 0x62, 0x20];
  const steps = 200; // > 3 top patches of 64 bytes
  const symbols: number[][] = [[], [], []];
  const logits: Float32Array[][] = [[], [], []];
  let live = [0, 1, 2];
  for (let k = 0; k < steps; k++) {
    const next = k === 0 ? starts : argmaxRows(batch.logits, live.length);
    if (k === 100) {
      batch.keepRows([0, 2]);
      next.splice(1, 1);
      live = [0, 2];
    }
    live.forEach((c, row) => symbols[c].push(next[row]));
    await batch.step(next, NEVER_CANCELLED);
    const V = batch.logits.length / live.length;
    live.forEach((c, row) => logits[c].push(batch.logits.slice(row * V, (row + 1) * V)));
  }
  assert.equal(cache.pos, cachedBefore, 'decoding leaves the shared cache at the prefix');
  for (const c of [0, 1, 2]) {
    const alone = await primed(rt, prefix);
    for (let k = 0; k < symbols[c].length; k++) {
      await alone.step([symbols[c][k]], NEVER_CANCELLED);
      let worst = 0;
      for (let v = 0; v < 256; v++) worst = Math.max(worst, Math.abs(alone.logits[v] - logits[c][k][v]));
      assert.ok(worst < 1e-3, `candidate ${c}, step ${k}: max |batch - alone| = ${worst}`);
    }
  }
  // The cache still serves: a new decoder on it predicts what a fresh one does.
  const again = await primed(rt, prefix, cache);
  const fresh = await primed(rt, prefix);
  assert.deepEqual(argmaxRows(again.logits, 1), argmaxRows(fresh.logits, 1));
  await rt.release();
});
