// Bad input loses nothing: damaged models, strange documents, hostile requests, no network.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CompleteRequest } from '../../src/engine/api';
import { EngineCore } from '../../src/engine/engine';
import { ModelRuntime } from '../../src/engine/runtime';
import { longText, MODEL_DIR } from './helpers';

function damagedCopy(kind: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mb-bad-'));
  cpSync(MODEL_DIR, dir, { recursive: true });
  const f = path.join(dir, 'level1.onnx');
  const mf = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(mf, 'utf8'));
  if (kind === 'truncated') truncateSync(f, 4096);
  if (kind === 'corrupt') {
    const b = readFileSync(f);
    b.fill(0x41, 100, 5000);
    writeFileSync(f, b);
  }
  if (kind === 'missing') unlinkSync(f);
  if (kind === 'sha') m.files[1].sha256 = 'f'.repeat(64);
  if (kind === 'names') m.onnx_names.input_units = 'input_ids';
  if (kind === 'not-json') writeFileSync(mf, '{ nope');
  if (kind === 'sha' || kind === 'names') writeFileSync(mf, JSON.stringify(m));
  return dir;
}

for (const [kind, message] of [
  ['truncated', /level1\.onnx: size 4096 bytes/],
  ['corrupt', /level1\.onnx: sha256 .* does not match/],
  ['missing', /level1\.onnx: missing/],
  ['sha', /level1\.onnx: sha256 .* does not match/],
  ['names', /manifest\.json: onnx_names\.input_units/],
  ['not-json', /manifest\.json: cannot read the manifest/],
] as const) {
  test(`a model with a ${kind} file is refused with a message naming the file, and nothing is deleted`, async () => {
    const dir = damagedCopy(kind);
    const before = readFileSync(path.join(dir, 'manifest.json'));
    await assert.rejects(ModelRuntime.load(dir, { executionProviders: ['cpu'], threads: 1 }), message);
    assert.deepEqual(readFileSync(path.join(dir, 'manifest.json')), before);
    rmSync(dir, { recursive: true });
  });
}

test('a graph with the wrong input names is refused, naming the graph and the missing inputs', async () => {
  const dir = damagedCopy('none');
  // Swap two levels' graphs (and their manifest entries, so the hashes still match): level 0's
  // graph has no `context` input, which level 1 needs.
  const mf = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(mf, 'utf8'));
  [m.files[0], m.files[1]] = [m.files[1], m.files[0]];
  writeFileSync(mf, JSON.stringify(m));
  await assert.rejects(ModelRuntime.load(dir, { executionProviders: ['cpu'], threads: 1 }), /does not match the engine's contract: missing inputs/);
  rmSync(dir, { recursive: true });
});

const req = (uri: string, offset: number, extra: Partial<CompleteRequest> = {}): CompleteRequest => ({
  uri, version: 1, offset, candidates: 2, maxBytes: 32, temperature: 0.8, topP: 0.95, seed: 3, stop: 'line', timeBudgetMs: 30000, ...extra,
});

test('strange documents get bounded work and completions that are always valid UTF-8', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], maxContextBytes: 200_000 });
  const big = longText(260_000);
  const docs: Record<string, string> = {
    empty: '',
    binary: 'ELF\u0000\u0001\u0002\u0000\u0000' + '\u0000'.repeat(500) + 'text after NULs',
    invalidUtf8: Buffer.from([0x66, 0x6f, 0xff, 0xfe, 0xc3, 0x28, 0x0a, 0x61]).toString('utf8'),
    crlf: 'line one\r\nline two\r\n\r\n    indented\r\n',
    longLine: 'x = [' + '1, '.repeat(35_000) + '2]\n',
    multibyte: 'const π = "héllo wörld 日本語 🎉";\nconst e = ',
    overContext: big,
  };
  for (const [name, text] of Object.entries(docs)) {
    e.sync(name, 1, text);
    for (const offset of [0, text.length, Math.floor(text.length / 2)]) {
      // never a cursor inside a surrogate pair
      const o = offset > 0 && offset < text.length && /[\uDC00-\uDFFF]/.test(text[offset]) ? offset - 1 : offset;
      const r = await e.complete(req(name, o));
      for (const c of r.candidates) {
        assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(c.text, 'utf8')), `${name}@${o}`);
        assert.ok(!c.text.includes('\uFFFD'), `${name}@${o}: no replacement characters from the model`);
        assert.ok(Buffer.byteLength(c.text) <= 32);
      }
      assert.ok(r.contextBytes <= 200_000, `${name}: context ${r.contextBytes} over the limit`);
    }
  }
  // Longer than the context limit: the window holds the last 200,000 bytes (64 KB-aligned start).
  const r = await e.complete(req('overContext', big.length));
  assert.ok(r.contextBytes <= 200_000 && r.contextBytes > 200_000 - 65_536, `context ${r.contextBytes}`);
  await e.dispose();
});

test('hostile requests are validation errors, and the engine keeps serving', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  e.sync('d', 1, 'hello');
  for (const bad of [{ offset: -1 }, { offset: 1e12 }, { offset: 1.5 }, { candidates: 0 }, { candidates: 1e9 }, { maxBytes: -5 },
    { maxBytes: Number.NaN }, { temperature: -1 }, { topP: 0 }, { stop: 'never' as never }, { timeBudgetMs: 0 }]) {
    await assert.rejects(e.complete(req('d', 5, bad)), (err: Error & { code?: string }) => err.code === 'invalid', JSON.stringify(bad));
  }
  await assert.rejects(e.complete(req('missing', 0)), /unknown document/);
  const ok = await e.complete(req('d', 5));
  assert.equal(ok.candidates.length, 2);
  await e.dispose();
});

test('the engine opens no network connection', async () => {
  // Every way out of the process is trapped before the engine loads a model and completes.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const net = require('node:net');
  const dns = require('node:dns');
  const http = require('node:http');
  const https = require('node:https');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const calls: string[] = [];
  const trap = (obj: Record<string, unknown>, name: string) => {
    const orig = obj[name] as (...a: unknown[]) => unknown;
    obj[name] = (...a: unknown[]) => {
      calls.push(name);
      return orig.apply(obj, a);
    };
  };
  for (const n of ['connect', 'createConnection']) trap(net, n);
  trap(net.Socket.prototype, 'connect');
  for (const n of ['lookup', 'resolve']) trap(dns, n);
  for (const n of ['request', 'get']) {
    trap(http, n);
    trap(https, n);
  }
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['webgpu', 'cpu'] });
  e.sync('d', 1, 'import os\nprint(');
  await e.complete(req('d', 16));
  await e.score({ uri: 'd', version: 1 });
  await e.dispose();
  assert.deepEqual(calls, []);
});
