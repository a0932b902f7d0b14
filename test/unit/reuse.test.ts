// Typing along a shown suggestion serves the rest of the candidates from memory.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { continueAlong, type CursorNow, type ShownSuggestion } from '../../src/extension/reuse';

//   const total = █            shown at offset 100 (UTF-16), version 7
const shown: ShownSuggestion = {
  uri: 'file:///a.ts',
  version: 7,
  offset: 100,
  linePrefix: 'const total = ',
  texts: ['items.length;', 'items.reduce(add, 0);', 'count;'],
};

/** The cursor after typing `typed` right after the anchor (each keystroke bumps the version). */
function typing(typed: string, extra: Partial<CursorNow> = {}): CursorNow {
  return { uri: shown.uri, version: shown.version + typed.length, offset: shown.offset + typed.length, anchorLinePrefix: shown.linePrefix, typed, ...extra };
}

test('typing a prefix of candidates serves the rest of those that agree, in their original order', () => {
  assert.deepEqual(continueAlong(shown, typing('items.')), ['length;', 'reduce(add, 0);']);
  assert.deepEqual(continueAlong(shown, typing('items.r')), ['educe(add, 0);']);
});

test('with nothing typed and the document unchanged, every candidate is served again', () => {
  assert.deepEqual(continueAlong(shown, typing('', { version: shown.version })), shown.texts);
});

test('with nothing typed but a new document version (an edit elsewhere), the engine is asked again', () => {
  assert.equal(continueAlong(shown, typing('', { version: shown.version + 1 })), undefined);
});

test('typing that no candidate agrees with asks the engine', () => {
  assert.equal(continueAlong(shown, typing('x')), undefined);
});

test('typing a whole candidate leaves nothing of it to serve', () => {
  assert.equal(continueAlong(shown, typing('count;')), undefined);
  assert.equal(continueAlong(shown, typing('items.length;')), undefined);
});

test('nothing shown, another document, or the cursor before the anchor asks the engine', () => {
  assert.equal(continueAlong(undefined, typing('i')), undefined);
  assert.equal(continueAlong(shown, typing('i', { uri: 'file:///b.ts' })), undefined);
  assert.equal(continueAlong(shown, typing('', { offset: shown.offset - 1, version: shown.version })), undefined);
});

test('an edit before the anchor on its line asks the engine', () => {
  assert.equal(continueAlong(shown, typing('items.', { anchorLinePrefix: 'let total = ' })), undefined);
});

test('typed text that does not span anchor to cursor (the cursor jumped) asks the engine', () => {
  assert.equal(continueAlong(shown, typing('items.', { offset: shown.offset + 9 })), undefined);
});

test('offsets count UTF-16 code units: typing an emoji moves the cursor by two', () => {
  const emoji: ShownSuggestion = { ...shown, texts: ['😀 done', '😀😀'] };
  assert.deepEqual(continueAlong(emoji, typing('😀')), [' done', '😀']);
  assert.equal(typing('😀').offset, shown.offset + 2);
});
