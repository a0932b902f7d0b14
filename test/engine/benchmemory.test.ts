// The bench's memory child measures, in one process after a full GC each, what the warmed-up
// model costs and what a document adds. (Its old figure compared two processes' peaks, which
// loading the model set in both: "the document adds 0 MB".) The document's KV cache lives in
// JS ArrayBuffers, so what it adds there is at least the cache. Its peak is its own, not that of
// the bench that spawned it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MODEL_DIR, ROOT } from './helpers';

test('memory child: the model and a 64 KB document each cost something, the cache included; the peak is its own', () => {
  // The parent holds 512 MB: a child's getrusage maxRSS inherits that through fork + exec, and the
  // old figure reported it as the child's peak.
  const ballast = Buffer.alloc(512 * 1024 * 1024, 1);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(ROOT, 'dist', 'bench', 'bench.js'), '--child', 'memory', '--model', MODEL_DIR, '--bytes', String(64 * 1024), '--threads', '1'], {
    encoding: 'utf8', cwd: ROOT, timeout: 300_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(m.context_bytes, 64 * 1024);
  assert.ok(m.cache_mb > 1, `cache ${m.cache_mb} MB`);
  assert.ok(m.model.rss_mb > 10, `model ${m.model.rss_mb} MB`);
  assert.ok(m.document.array_buffers_mb >= m.cache_mb - 0.1, `document's ArrayBuffers ${m.document.array_buffers_mb} MB < cache ${m.cache_mb} MB`);
  assert.ok(m.document.rss_mb > 0, `document ${m.document.rss_mb} MB`);
  assert.ok(m.released_on_close.array_buffers_mb >= m.cache_mb - 0.1, `closing released ${m.released_on_close.array_buffers_mb} MB of buffers`);
  assert.ok(m.peak_rss_mb >= m.with_document_rss_mb - 0.1);
  assert.ok(m.peak_rss_mb < 400, `peak ${m.peak_rss_mb} MB: the parent's ${ballast.length >> 20} MB counted as the child's`);
  assert.ok(m.with_document_rss_mb > m.warm_rss_mb && m.warm_rss_mb > m.bare_rss_mb);
});

test('memory child refuses to run without --expose-gc', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'bench', 'bench.js'), '--child', 'memory', '--model', MODEL_DIR, '--bytes', '0'], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /needs --expose-gc/);
});
