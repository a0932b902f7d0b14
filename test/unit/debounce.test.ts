// The adaptive debounce (src/extension/debounce.ts): at once after a pause, half the burst's
// typical gap between keys within one, never more than the setting nor less than MIN_BURST_MS.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AdaptiveDebounce, MIN_BURST_MS, PAUSE_MS } from '../../src/extension/debounce';

test('the first call and a call after a pause ask at once', () => {
  const d = new AdaptiveDebounce();
  assert.equal(d.next(1000, 150), 0);
  assert.equal(d.next(1000 + PAUSE_MS, 150), 0, 'a gap of PAUSE_MS ends the burst');
  assert.equal(d.next(1000 + PAUSE_MS + 100, 150), 50, 'the next key is in a new burst');
});

test('in a burst: half the median of the last gaps, clamped to [MIN_BURST_MS, setting]', () => {
  const d = new AdaptiveDebounce();
  let t = 0;
  d.next(t, 150);
  assert.equal(d.next((t += 100), 150), 50);
  assert.equal(d.next((t += 120), 150), 60, 'gaps [100, 120]: the upper median');
  assert.equal(d.next((t += 110), 150), 55, 'gaps [100, 110, 120]');
  assert.equal(d.next((t += 20), 150), 55, 'one fast key does not move the median far');
  const fast = new AdaptiveDebounce();
  fast.next(0, 150);
  assert.equal(fast.next(10, 150), MIN_BURST_MS, 'never below MIN_BURST_MS');
  const slow = new AdaptiveDebounce();
  slow.next(0, 40);
  assert.equal(slow.next(350, 40), 40, 'never above the setting');
  const zero = new AdaptiveDebounce();
  zero.next(0, 0);
  assert.equal(zero.next(100, 0), 0, 'a setting of 0 never waits');
});

test('a setting above half the pause stretches the pause to twice the setting', () => {
  const d = new AdaptiveDebounce();
  d.next(0, 500);
  assert.equal(d.next(900, 500), 450, 'a 900 ms gap is a burst when the setting is 500 ms');
  assert.equal(d.next(1900, 500), 0, 'a 1000 ms gap is a pause');
});

test('the wait counts from the key: VS Code\'s own delay before the call is part of it', () => {
  const d = new AdaptiveDebounce();
  d.next(80, 150, 0);
  assert.equal(d.next(200, 150, 120), 0, 'gap 120 -> wait 60, and 80 ms have passed since the key');
  assert.equal(d.next(250, 150, 240), 50, 'gaps [120, 120]: 60 - 10 ms since the key');
  assert.equal(d.next(260, 150, 240), 40, 'a second call for the same key: the gap is not counted again');
  assert.equal(d.next(900, 150, 240), 0, 'a call long after the key (the cursor moved) waits for nothing');
  assert.equal(d.next(1400, 150, 1300), 0, 'a key after a pause still asks at once');
});
