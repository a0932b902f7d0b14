// The training curve (npm run curve) from the bundled manifest: cumulative steps, bytes and hours
// per segment, and a held-out figure of the network alone for every segment since corpus v2's
// split exists (ship.sh records it), so the curve a reviewer reads has no silent gap.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { curvePoints } from '../../src/bench/curve';
import { repoRoot } from '../../src/cli/args';

test('curvePoints accumulates steps and hours; bytes seen are already cumulative', () => {
  const pts = curvePoints([
    { steps: 10, seconds: 3600, bytes: 100, heldout_network_bpb: { a: 3 } },
    { steps: 5, seconds: 1800, bytes: 160 },
  ]);
  assert.deepEqual(pts.map((q) => [q.segment, q.steps, q.bytes, q.hours]), [[1, 10, 100, 1], [2, 15, 160, 1.5]]);
  assert.deepEqual(pts.map((q) => q.bpb), [{ a: 3 }, {}]);
});

test('the bundled manifest has the held-out figure of every segment since segment 5, falling', () => {
  const m = JSON.parse(readFileSync(path.join(repoRoot(), 'models', 'mb-small', 'manifest.json'), 'utf8'));
  const pts = curvePoints(m.training.segments);
  const v2 = pts.filter((q) => q.segment >= 5).map((q) => q.bpb['v2 1.29 MB']);
  assert.ok(v2.every((v) => typeof v === 'number' && v > 0.5 && v < 8), JSON.stringify(v2));
  for (let i = 1; i < v2.length; i++) assert.ok(v2[i] < v2[i - 1], `segment ${i + 5} shipped without beating the one before: ${JSON.stringify(v2)}`);
  assert.equal(pts[pts.length - 1].bytes, m.training.bytes);
});
