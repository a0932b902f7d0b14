// The engine's stop reasons and error codes are closed unions: a misspelt reason or code is a
// type error (the @ts-expect-error lines fail `npm run typecheck` if the unions widen to string),
// and the runtime lists the same values the types are made of.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  ERROR_CODES, EngineError, STOP_REASONS, STOP_RULES, isStopRule, isSuperseded,
  type Candidate, type ErrorCode, type StopReason, type StopRule,
} from '../../src/engine/api';

test('stop reasons and error codes are unions, not strings', () => {
  // @ts-expect-error not a stop reason
  const badReason: StopReason = 'eof';
  // @ts-expect-error not an error code
  const badCode: ErrorCode = 'canceled';
  // @ts-expect-error a candidate's reason is a StopReason
  const badCandidate: Candidate = { text: '', bits: [], stoppedBy: 'done' };
  // @ts-expect-error EngineError takes an ErrorCode
  const badError = new EngineError('x', 'timeout');
  assert.ok(badReason && badCode && badCandidate && badError);
});

test('every stop rule is a stop reason; the lists hold no duplicates', () => {
  const reasons: readonly string[] = STOP_REASONS;
  for (const r of STOP_RULES) assert.ok(reasons.includes(r), r);
  assert.deepEqual([...STOP_REASONS].sort(), ['block', 'budget', 'eom', 'line', 'suffix', 'time']);
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  const rule: StopRule = 'block';
  const reason: StopReason = rule; // a rule is a reason
  assert.equal(reason, 'block');
});

test('isStopRule accepts exactly the rules', () => {
  for (const r of STOP_RULES) assert.ok(isStopRule(r));
  for (const r of ['eom', 'time', 'Block', '', undefined, 3]) assert.equal(isStopRule(r), false, String(r));
});

test('isSuperseded: cancelled and stale only', () => {
  assert.ok(isSuperseded(new EngineError('c', 'cancelled')));
  assert.ok(isSuperseded(new EngineError('s', 'stale')));
  for (const code of ERROR_CODES.filter((c) => c !== 'cancelled' && c !== 'stale')) assert.equal(isSuperseded(new EngineError(code, code)), false, code);
  assert.equal(isSuperseded(Object.assign(new Error('cancelled'), { code: 'cancelled' })), false);
});
