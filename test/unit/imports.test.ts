// No import cycles among the sources: each module's relative imports (type-only ones too: a type
// circle is still two modules that cannot be read apart) form a graph without a circle.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/cli/args';

const SRC = path.join(repoRoot(), 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative modules a file imports or re-exports, resolved to .ts files. */
export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'/gms)) {
    const spec = m[1] ?? m[2];
    for (const cand of [`${spec}.ts`, path.join(spec, 'index.ts')]) {
      const p = path.resolve(path.dirname(file), cand);
      if (existsSync(p)) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

/** One cycle per strongly connected tangle found by depth-first search (empty: none). */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

test('the cycle finder finds a circle and passes a tree', () => {
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), [['a', 'b', 'c', 'a']]);
  assert.deepEqual(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), []);
});

test('no import cycles under src/', () => {
  const files = sources(SRC);
  assert.ok(files.length > 20, `only ${files.length} sources found under ${SRC}`);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  assert.ok([...graph.values()].some((deps) => deps.length > 0), 'no imports parsed');
  const found = cycles(graph).map((c) => c.map((f) => path.relative(SRC, f)).join(' -> '));
  assert.deepEqual(found, []);
});
