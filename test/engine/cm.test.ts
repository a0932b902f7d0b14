// The context-mixing layer in the engine (src/engine/cm.ts with the bundled model): no peeking in
// scoring with the fill-in-the-middle layout, generation that reads the document's state without
// polluting it, typing that extends the state exactly, the setting that turns it off, bad input.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EngineCore, cmScorer, scoreStream } from '../../src/engine/engine';
import { BOS, PRE, SUF } from '../../src/engine/contract';
import { NEVER_CANCELLED } from '../../src/engine/decoder';
import { readManifest } from '../../src/engine/manifest';
import { MODEL_DIR, longText } from './helpers';

async function load(matchModel = true): Promise<EngineCore> {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], matchModel });
  e.generationMixing = true; // the layer in generation too (off by default in the editor)
  return e;
}

/** Per position of a stream: the mixed model's bits and its 8 bit probabilities (scoring). */
async function scoreAll(e: EngineCore, stream: Uint16Array): Promise<{ bits: number[]; probs: number[][] }> {
  const mix = e.mixing()!;
  const match = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
  mix.match.release(mix.match.scan(stream, match));
  const sc = cmScorer(stream, mix, match);
  const bits: number[] = new Array(stream.length).fill(0);
  const probs: number[][] = Array.from({ length: stream.length }, () => []);
  await scoreStream(e.rt, stream, 1, (pos, b) => {
    bits[pos] = b;
    probs[pos] = [...sc.probs];
  }, NEVER_CANCELLED, undefined, mix.match, sc);
  return { bits, probs };
}

test('the bundled model mixes with the context-mixing layer; matchModel off turns the whole layer off', async () => {
  const e = await load();
  assert.ok(e.mixing(), 'the bundled manifest has context_mixing');
  const off = await load(false);
  assert.equal(off.mixing(), undefined);
  const text = longText(6000);
  for (const x of [e, off]) x.sync('d', 1, text);
  const mixed = await e.score({ uri: 'd', version: 1 });
  const alone = await off.score({ uri: 'd', version: 1 });
  e.contextMixing = false;
  const matchOnly = await e.score({ uri: 'd', version: 1 });
  assert.ok(mixed.bitsPerByte < matchOnly.bitsPerByte && matchOnly.bitsPerByte < alone.bitsPerByte,
    `mixed ${mixed.bitsPerByte}, network+match ${matchOnly.bitsPerByte}, network ${alone.bitsPerByte}`);
  await e.dispose();
  await off.dispose();
});

test('no peeking (scoring, FIM layout): changing symbol i changes no prediction before it, nor byte i\'s bits before the first that differs', async () => {
  const e = await load();
  const doc = Buffer.from(longText(2600));
  const c = 1800;
  const stream = Uint16Array.from([BOS, ...doc.subarray(0, 1279), SUF, ...doc.subarray(c + 40, c + 600), PRE, ...doc.subarray(1279, c + 40)]);
  const ref = await scoreAll(e, stream);
  for (const i of [5, 1279 + 100, stream.length - 30, stream.length - 1]) { // the far part, the suffix, the middle
    const s = Uint16Array.from(stream);
    s[i] = s[i] ^ 0x05;
    const got = await scoreAll(e, s);
    for (let k = 1; k < i; k++) {
      assert.equal(got.bits[k], ref.bits[k], `change at ${i} moved the bits of ${k}`);
      assert.deepEqual(got.probs[k], ref.probs[k], `change at ${i} moved position ${k}`);
    }
    const first = Math.clz32(stream[i] ^ s[i]) - 24;
    assert.deepEqual(got.probs[i].slice(0, first + 1), ref.probs[i].slice(0, first + 1), `change at ${i}: its own first bits`);
  }
  await e.dispose();
});

test('generation: candidates never learn, a request leaves the shared state as it was, and typing at the cursor gives what a fresh engine gives', async () => {
  const text = longText(9000);
  const cursor = 7000;
  const req = (version: number, offset: number) => ({ uri: 'g', version, offset, candidates: 3, maxBytes: 48, temperature: 0, topP: 1, stop: 'budget' as const, timeBudgetMs: 60000 });
  const e = await load();
  e.sync('g', 1, text);
  const first = await e.complete(req(1, cursor));
  // the same request again (the tail kept, nothing learned from the candidates): the same answer
  const again = await e.complete(req(1, cursor));
  assert.deepEqual(again.candidates, first.candidates);
  // typing at the cursor: the stream extends, the state extends
  const typed = text.slice(0, cursor) + 'x' + text.slice(cursor);
  assert.ok(e.edit('g', 1, 2, [{ offset: cursor, length: 0, text: 'x' }], typed.length));
  const extended = await e.complete(req(2, cursor + 1));
  const fresh = await load();
  fresh.sync('g', 2, typed);
  const direct = await fresh.complete(req(2, cursor + 1));
  assert.deepEqual(extended.candidates, direct.candidates);
  // a cursor elsewhere (the tail undone) and back: the first answer again
  await e.complete(req(2, 3000));
  e.sync('g', 3, text);
  const back = await e.complete(req(3, cursor));
  assert.deepEqual(back.candidates, first.candidates);
  await e.dispose();
  await fresh.dispose();
});

test('a malformed context_mixing block is refused naming the field, and needs a match_model', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cm-'));
  try {
    for (const f of readdirSync(MODEL_DIR)) if (f.endsWith('.onnx')) symlinkSync(path.join(MODEL_DIR, f), path.join(dir, f));
    const m = JSON.parse(readFileSync(path.join(MODEL_DIR, 'manifest.json'), 'utf8'));
    const write = (x: unknown) => writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(x));
    write({ ...m, context_mixing: { ...m.context_mixing, params: { ...m.context_mixing.params, apm_rate: 'fast' } } });
    await assert.rejects(readManifest(dir, false), /manifest\.json: context_mixing\.params\.apm_rate must be an integer/);
    write({ ...m, context_mixing: { ...m.context_mixing, final: [[1, 2, 3]] } });
    await assert.rejects(readManifest(dir, false), /context_mixing\.final must be \d+ rows/);
    write({ ...m, context_mixing: { ...m.context_mixing, priors: { ...m.context_mixing.priors, w2: 'AAAA' } } });
    await assert.rejects(readManifest(dir, false), /context_mixing\.priors\.w2 must be base64/);
    const { match_model: _m, ...noMatch } = m;
    write(noMatch);
    await assert.rejects(readManifest(dir, false), /context_mixing needs a match_model/);
    await assert.rejects(EngineCore.load(dir, { executionProviders: ['cpu'] }), /context_mixing needs a match_model/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('binary input: 200 KB of random bytes (as Latin-1 text, so 300 KB of UTF-8) score in bounded time and memory', async () => {
  const e = await load();
  let x = 7;
  const bytes = Buffer.alloc(200_000);
  for (let i = 0; i < bytes.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  const text = bytes.toString('latin1');
  e.sync('b', 1, text);
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = await e.score({ uri: 'b', version: 1 });
  const s = (performance.now() - t0) / 1000;
  // half the bytes become two-byte sequences whose first byte is C2 or C3: about 6.7 bits a byte is the entropy
  assert.ok(r.bitsPerByte > 6 && r.bitsPerByte < 9.5, `${r.bitsPerByte} bpb`);
  assert.ok(s < 120, `${s} s`);
  assert.ok(process.memoryUsage().rss - rss < 1.5e9, 'memory');
  await e.dispose();
});
