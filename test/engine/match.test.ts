// What the match model changes for a user: a completion can repeat what the file already says.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EngineCore } from '../../src/engine/engine';
import { MODEL_DIR } from './helpers';

const DOC = `const config = {
  apiKey: "f3a9c1e07b5d42e8",
  region: "eu-west-3",
};

function connect() {
  return open({
    apiKey: "█
  });
}
`;

async function completeAt(matchModel: boolean): Promise<{ text: string; info: boolean }> {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'], matchModel });
  const text = DOC.replace('█', '');
  e.sync('c', 1, text);
  const r = await e.complete({ uri: 'c', version: 1, offset: DOC.indexOf('█'), candidates: 1, maxBytes: 64, temperature: 0, topP: 1, stop: 'line', timeBudgetMs: 60000 });
  const info = e.info().matchModel;
  await e.dispose();
  return { text: r.candidates[0].text, info };
}

test('with the match model, a completion repeats a value the file already holds; the network alone cannot', async () => {
  const mixed = await completeAt(true);
  assert.equal(mixed.info, true);
  assert.equal(mixed.text, 'f3a9c1e07b5d42e8",');
  const alone = await completeAt(false);
  assert.equal(alone.info, false);
  assert.ok(!alone.text.includes('f3a9c1e0'), `the network alone wrote ${JSON.stringify(alone.text)}`);
});

const TABLE = `function a() {
  log("start");
  step("alpha-7f3e");
  log("done");
}

function c() {
  log("start");
  retry("beta-91c2");
  fail();
}

function b() {
  log("start");
  █
  log("done");
}
`;

test('the text after the cursor chooses which of two similar places the completion copies', async () => {
  const e = await EngineCore.load(MODEL_DIR, { executionProviders: ['cpu'] });
  const text = TABLE.replace('█', '');
  e.sync('t', 1, text);
  const ask = async (useSuffix: boolean) => (await e.complete({
    uri: 't', version: 1, offset: TABLE.indexOf('█'), candidates: 1, maxBytes: 64, temperature: 0, topP: 1, stop: 'line', timeBudgetMs: 60000, useSuffix,
  })).candidates[0].text;
  assert.equal(await ask(true), 'step("alpha-7f3e");', 'with the suffix: the block that goes on with log("done")');
  assert.equal(await ask(false), 'retry("beta-91c2");', 'without it: the most recent block with the same start');
  // with no stop rule but the model's own: the copied middle ends with EOM where the suffix begins
  const r = await e.complete({ uri: 't', version: 1, offset: TABLE.indexOf('█'), candidates: 1, maxBytes: 64, temperature: 0, topP: 1, stop: 'budget', timeBudgetMs: 60000 });
  assert.equal(r.candidates[0].text, 'step("alpha-7f3e");');
  assert.equal(r.candidates[0].stoppedBy, 'eom');
  // the editor's further candidates copy the other places, not the first one's second-likeliest
  // byte (in either order: a calibrated model lists them most confident first)
  const two = await e.complete({ uri: 't', version: 1, offset: TABLE.indexOf('█'), candidates: 2, maxBytes: 64, temperature: 0, topP: 1, stop: 'line', timeBudgetMs: 60000, useSuffix: false });
  assert.deepEqual(two.candidates.map((c) => c.text).sort(), ['retry("beta-91c2");', 'step("alpha-7f3e");']);
  await e.dispose();
});
