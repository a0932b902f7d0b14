// The bundled model's confidence calibration in the engine: used when it was fitted on the model
// as it generates now, the candidates most confident first and cut to their confident part; a
// block fitted on another network (or another generation rule) is not used, the engine says why
// and shows every candidate whole, as with minConfidence 0.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EngineCore } from '../../src/engine/engine';
import type { CompleteRequest } from '../../src/engine/api';
import { confidenceBlocks, type ConfidenceBlock } from '../../src/engine/confidence';
import { MODEL_DIR } from './helpers';

// greet_loud repeats greet's body: the rest of `return mess` is `age` (the real-editor test's case)
const DOC = 'def greet(name):\n    message = "Hello, " + name + "!"\n    print(message)\n    return message\n\n\n'
  + 'def greet_loud(name):\n    message = "Hello, " + name + "!"\n    print(message)\n    return mess';
// under circle_area the model copies its body into fibonacci: wrong
const WRONG = 'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n\n\ndef fibonacci(n):\n    ';

const request = (offset: number, minConfidence?: number): CompleteRequest => ({
  uri: 'doc', version: 1, offset, candidates: 3, maxBytes: 256, temperature: 0, topP: 0.95, stop: 'block', timeBudgetMs: 20_000, minConfidence,
});

async function answer(e: EngineCore, text: string, minConfidence?: number) {
  e.sync('doc', 1, text);
  const r = await e.complete(request(text.length, minConfidence));
  e.close('doc');
  return r;
}

const blocks = (m: { confidence?: ConfidenceBlock | ConfidenceBlock[] }): ConfidenceBlock[] => confidenceBlocks(m.confidence);

test('the bundled model is calibrated as the editor generates: sure and right text shown, a wrong copy held back, minConfidence 0 shows all', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], threads: 1 });
  try {
    assert.equal(e.info().uncalibrated, undefined, 'the bundled manifest has a calibration for the default generation rule');
    const right = await answer(e, DOC);
    assert.equal(right.confidence.calibrated, true);
    // what cycling offers: the shown ones first, most confident first; then the held-back ones,
    // surest of their first piece first (how likely the start of it is right)
    const shown = right.candidates.filter((c) => c.shown);
    const held = right.candidates.filter((c) => !c.shown);
    assert.deepEqual(right.candidates, [...shown, ...held], 'shown before held back');
    const byShown = shown.map((c) => c.shownConfidence ?? -1);
    assert.deepEqual(byShown, [...byShown].sort((a, b) => b - a), 'shown: most confident first');
    const byLead = held.map((c) => c.leadConfidence ?? -1);
    assert.deepEqual(byLead, [...byLead].sort((a, b) => b - a), 'held back: surest first piece first');
    assert.equal(right.candidates[0].shown, 'age', JSON.stringify(right.candidates.map((c) => [c.offered, c.confidence])));
    assert.ok(right.candidates[0].shownConfidence! >= right.confidence.threshold);

    const wrong = await answer(e, WRONG);
    for (const c of wrong.candidates) assert.ok(!/radius|math\.pi/.test(c.shown), `shown: ${JSON.stringify(c.shown)} (offered ${JSON.stringify(c.offered)})`);
    const all = await answer(e, WRONG, 0);
    assert.equal(all.confidence.threshold, 0);
    for (const c of all.candidates) assert.equal(c.shown, c.offered);
    assert.ok(all.candidates.some((c) => /radius/.test(c.shown)), 'at 0 the wrong copy is shown');
  } finally {
    await e.dispose();
  }
});

test('a calibration fitted on another network is not used: the engine says why and shows everything', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'megabyte-conf-'));
  try {
    for (const f of readdirSync(MODEL_DIR)) if (f.endsWith('.onnx')) copyFileSync(path.join(MODEL_DIR, f), path.join(dir, f));
    const m = JSON.parse(readFileSync(path.join(MODEL_DIR, 'manifest.json'), 'utf8'));
    const other = blocks(m).map((b) => ({ ...b, fitted_on: '0123456789abcdef' }));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, confidence: other }));
    const e = await EngineCore.load(dir, { executionProviders: ['cpu'], threads: 1 });
    try {
      assert.match(e.info().uncalibrated ?? '', /no confidence calibration was fitted on this model as it generates now \(context-mixing, digest [0-9a-f]{16}; the manifest's: 0123456789abcdef/);
      const r = await answer(e, WRONG);
      assert.equal(r.confidence.calibrated, false);
      assert.equal(r.confidence.threshold, 0);
      for (const c of r.candidates) {
        assert.equal(c.shown, c.offered);
        assert.equal(c.confidence, undefined);
      }
    } finally {
      await e.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with the match model off, the engine takes the block fitted on the network alone, or none', async () => {
  const m = JSON.parse(readFileSync(path.join(MODEL_DIR, 'manifest.json'), 'utf8'));
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], threads: 1, matchModel: false });
  try {
    assert.equal(e.generationMode(), 'network');
    const network = blocks(m).find((b) => b.fit?.generation === 'network');
    const { cal, reason } = e.calibration();
    if (network) assert.equal(cal?.block.fitted_on, network.fitted_on);
    else assert.match(reason ?? '', /\(network, digest/);
    const match = blocks(m).find((b) => b.fit?.generation === 'match');
    assert.ok(match && cal?.block !== match, 'the match model\'s block is never used for the network alone');
  } finally {
    await e.dispose();
  }
});
