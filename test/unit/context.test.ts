// The stream order of workspace context and the worker's bookkeeping (src/engine/context.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { contextParts, indexCap, rulesOf, WorkspaceContext } from '../../src/engine/context';
import { pathOf } from '../../src/engine/workspace';
import { INDEX_MEMORY_PER_BYTE } from '../../src/engine/crossindex';
import { DEFAULT_INDEX_BYTES } from '../../src/engine/api';
import { DEFAULT_RULES, type ContextEntry } from '../../src/engine/workspace';

const entry = (p: string, reason: ContextEntry['reason']): { entry: ContextEntry; text: string } => ({
  entry: { path: p, rel: p.slice(1), bytes: 1, reason, why: reason }, text: p,
});

test('the most relevant files sit right before the document; within a reason, path order, so a switch between open files reorders nothing', () => {
  const ranked = [entry('/b/imp.ts', 'import'), entry('/z/open2.ts', 'open'), entry('/a/open1.ts', 'open'), entry('/f/near.ts', 'folder'), entry('/l/far.ts', 'language')];
  const order = contextParts(ranked).map((p) => p.path);
  assert.deepEqual(order, ['/l/far.ts', '/f/near.ts', '/a/open1.ts', '/z/open2.ts', '/b/imp.ts']);
  // the open files' recency swapped: the same stream
  const swapped = [ranked[0], ranked[2], ranked[1], ranked[3], ranked[4]];
  assert.deepEqual(contextParts(swapped).map((p) => p.path), order);
});

test('a document path comes from a file: URI or an absolute path; other schemes have none', () => {
  const p = path.join(tmpdir(), 'x y.ts');
  assert.equal(pathOf(pathToFileURL(p).href), p);
  assert.equal(pathOf(p), p);
  assert.equal(pathOf('untitled:Untitled-1'), undefined);
  assert.equal(pathOf('vscode-remote://ssh/x.ts'), undefined);
  assert.equal(pathOf('relative/x.ts'), undefined);
});

test('the index may list more files with a larger memory budget, never fewer than the default', () => {
  const cfg = { roots: ['/w'], exclude: [], gitignore: true };
  assert.equal(rulesOf(cfg).maxFiles, DEFAULT_RULES.maxFiles);
  assert.equal(rulesOf(cfg, 512 * 2 ** 20).maxFiles, 262_144);
  assert.equal(rulesOf(cfg, 16 * 2 ** 20).maxFiles, DEFAULT_RULES.maxFiles);
});

test('off, or a document without a path, gets no context; a configuration is listed in the background and reported done', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'megabyte-wsctx-'));
  try {
    writeFileSync(path.join(dir, 'a.ts'), 'export const a = 1;\n');
    let indexed = 0;
    const ws = new WorkspaceContext(async () => undefined, () => undefined, () => indexed++);
    assert.equal(ws.enabled, false);
    assert.equal(ws.info(), undefined);
    ws.configure({ enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 0, indexBytes: 0 }, 0);
    assert.equal(ws.enabled, false, 'both budgets 0 is off');
    ws.configure({ enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 0, indexBytes: 4096 }, 0);
    assert.equal(ws.enabled, true, 'the index alone is on');
    assert.equal(ws.indexBytes, 4096);
    ws.configure({ enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 0, indexBytes: 32_000_000 }, 16 * 2 ** 20);
    assert.equal(ws.indexBytes, indexCap(16 * 2 ** 20), 'the index takes at most a quarter of the memory budget');
    assert.ok(indexCap(16 * 2 ** 20) * INDEX_MEMORY_PER_BYTE <= 4 * 2 ** 20);
    assert.ok(indexCap(512 * 2 ** 20) >= DEFAULT_INDEX_BYTES, 'the default fits the default budget');
    ws.configure({ enabled: true, roots: [dir], exclude: [], gitignore: true, budgetBytes: 4096, indexBytes: 0 }, 0);
    assert.equal(ws.needs('untitled:Untitled-1'), false);
    const file = pathToFileURL(path.join(dir, 'b.ts')).href;
    assert.equal(ws.needs(file), true);
    for (let i = 0; i < 100 && !ws.info()?.done; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(ws.info(), { files: 1, done: true, reason: undefined });
    assert.equal(indexed, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
