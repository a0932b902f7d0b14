// The KV cache buffer: positions appended per row and head land where the graphs read them
// ((rows, heads, capacity, headDim), valid up to `length`), through growth, rewinds and row picks.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { KVCache } from '../../src/engine/runtime';

const D = 4;
/** What a graph returns for S new positions: value = 1000*row + 100*head + 10*position + layer-tensor index. */
function news(rows: number, heads: number, from: number, S: number, tensors = 2): ort.Tensor[] {
  return Array.from({ length: tensors }, (_, t) => {
    const a = new Float32Array(rows * heads * S * D);
    for (let r = 0; r < rows; r++) for (let h = 0; h < heads; h++) for (let s = 0; s < S; s++) for (let d = 0; d < D; d++)
      a[((r * heads + h) * S + s) * D + d] = 1000 * r + 100 * h + 10 * (from + s) + t + d / 10;
    return new ort.Tensor('float32', a, [rows, heads, S, D]);
  });
}

/** Position p of (row, head) in tensor t, as the graph would read it. */
function at(kv: KVCache, t: number, row: number, head: number, p: number): number {
  const x = kv.tensors()[t];
  const [, H, C] = x.dims as number[];
  return (x.data as Float32Array)[((row * H + head) * C + p) * D];
}

test('appends land per row and head, survive growth, and rewinds keep what came before', () => {
  const kv = new KVCache(1, 2, D, 2, 2);
  kv.append(news(2, 2, 0, 3)); // past its capacity: grows
  assert.equal(kv.length, 3);
  assert.ok(kv.capacity >= 3);
  kv.append(news(2, 2, 3, 2));
  for (let r = 0; r < 2; r++) for (let h = 0; h < 2; h++) for (let p = 0; p < 5; p++) {
    assert.equal(at(kv, 0, r, h, p), 1000 * r + 100 * h + 10 * p);
    assert.equal(at(kv, 1, r, h, p), 1000 * r + 100 * h + 10 * p + 1);
  }
  kv.truncate(2);
  kv.append(news(2, 2, 7, 1)); // a rewind then a different third position
  assert.equal(kv.length, 3);
  assert.equal(at(kv, 0, 1, 1, 1), 1110);
  assert.equal(at(kv, 0, 1, 1, 2), 1170);
});

test('picking and tiling rows copies whole rows; one row of one head is passed as a view of its valid positions', () => {
  const kv = new KVCache(1, 2, D, 2, 4);
  kv.append(news(2, 2, 0, 3));
  const one = kv.pick([1]);
  assert.equal(one.rows, 1);
  assert.equal(one.length, 3);
  assert.equal(at(one, 0, 0, 1, 2), 1120);
  const three = kv.tile(3);
  for (let r = 0; r < 3; r++) assert.equal(at(three, 0, r, 1, 2), 120);
  const single = new KVCache(2, 1, D, 1, 16);
  assert.deepEqual(single.tensors()[0].dims, [1, 1, 1, D], 'an empty cache is one (ignored) position');
  single.append(news(1, 1, 0, 5, 4));
  assert.deepEqual(single.tensors()[3].dims, [1, 1, 5, D]);
  assert.equal(at(single, 3, 0, 0, 4), 43);
});

test('the cache owns its length: only append, truncate and withTail move it', () => {
  const kv = new KVCache(1, 1, D, 1, 4);
  kv.append(news(1, 1, 0, 2));
  // @ts-expect-error length is read-only outside the class
  assert.throws(() => { kv.length = 7; }, TypeError);
  assert.equal(kv.length, 2);
  kv.truncate(5); // never grows
  assert.equal(kv.length, 2);
  kv.truncate(-1);
  assert.equal(kv.length, 0);
});

test('withTail shows the tail after the valid positions for one run, then the length is back (also on a throw)', async () => {
  for (const heads of [1, 2]) {
    const kv = new KVCache(1, heads, D, 1, 3);
    kv.append(news(1, heads, 0, 3)); // full: the tail needs growth, which must keep [0, 3)
    const tail = [5, 6].map((p) => news(1, heads, p, 1).map((t) => t.data as Float32Array));
    const seen = await kv.withTail(tail, async () => {
      assert.equal(kv.length, 5);
      return Array.from({ length: 5 }, (_, p) => at(kv, 1, 0, heads - 1, p));
    });
    const h = 100 * (heads - 1);
    assert.deepEqual(seen, [h + 1, h + 11, h + 21, h + 51, h + 61]);
    assert.equal(kv.length, 3);
    assert.ok(kv.capacity >= 6, 'room for the tail and the position the run adds');
    await assert.rejects(kv.withTail(tail, async () => { throw new Error('run failed'); }), /run failed/);
    assert.equal(kv.length, 3);
    kv.append(news(1, heads, 9, 1)); // the tail's slot is scratch: an append overwrites it
    assert.equal(at(kv, 0, 0, heads - 1, 3), h + 90);
  }
});
