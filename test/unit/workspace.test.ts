// Workspace context on small real folders: what is listed, what each language's imports find,
// the ranking, and what reading drops. Each test builds its own temporary workspace.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_RULES,
  WorkspaceIndex,
  assembleContext,
  importsOf,
  languageOf,
  rankContext,
  readContext,
  type ContextOptions,
  type WorkspaceRules,
} from '../../src/engine/workspace';

/** A temporary folder with `files` (path -> text) written into it. */
function workspace(files: Record<string, string | Buffer>): string {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'mb-ws-')));
  const made = new Set<string>();
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (!made.has(path.dirname(p))) mkdirSync(path.dirname(p), { recursive: true });
    made.add(path.dirname(p));
    writeFileSync(p, text);
  }
  return root;
}

function rules(root: string, more: Partial<WorkspaceRules> = {}): WorkspaceRules {
  return { ...DEFAULT_RULES, roots: [root], ...more };
}

async function indexOf(root: string, more: Partial<WorkspaceRules> = {}): Promise<WorkspaceIndex> {
  const index = new WorkspaceIndex(rules(root, more));
  assert.equal(await index.discover({ cancelled: false }), true);
  return index;
}

const wide: ContextOptions = { budgetBytes: 100_000, perFileBytes: 10_000 };

function rels(index: WorkspaceIndex): string[] {
  return index.files().map((f) => f.rel).sort();
}

function current(root: string, rel: string, text: string) {
  return { path: path.join(root, rel), text, lang: languageOf(rel) };
}

test('languageOf gives VS Code language ids', () => {
  assert.equal(languageOf('a/b.ts'), 'typescript');
  assert.equal(languageOf('a/b.tsx'), 'typescriptreact');
  assert.equal(languageOf('x.py'), 'python');
  assert.equal(languageOf('x.rs'), 'rust');
  assert.equal(languageOf('inc/x.hpp'), 'cpp');
  assert.equal(languageOf('run.sh'), 'shellscript');
  assert.equal(languageOf('Makefile'), 'makefile');
  assert.equal(languageOf('LICENSE'), undefined);
});

test('a TypeScript file importing ./util gets util.ts first, with reason import', async () => {
  const root = workspace({
    'src/main.ts': "import { helper } from './util';\nimport type { T } from './types/index';\nexport const x = helper();\n",
    'src/util.ts': "import { deep } from './deep';\nexport function helper() { return deep(); }\n",
    'src/deep.ts': 'export const deep = () => 1;\n',
    'src/types/index.ts': 'export type T = number;\n',
    'src/other.ts': 'export const other = 2;\n',
    'src/readme.md': '# not the same language\n',
  });
  try {
    const index = await indexOf(root);
    const cur = current(root, 'src/main.ts', "import { helper } from './util';\nimport type { T } from './types';\n");
    const ranked = rankContext(cur, index, [], wide);
    assert.equal(ranked[0].rel, 'src/util.ts');
    assert.equal(ranked[0].reason, 'import');
    assert.equal(ranked[0].why, "imported as './util'");
    assert.equal(ranked[1].rel, 'src/types/index.ts', '/index.ts resolves');
    assert.ok(!ranked.some((e) => e.path === cur.path), 'never the current file');
    // deep.ts is in the same folder (step 4) before the second level would take it.
    const deep = ranked.find((e) => e.rel === 'src/deep.ts')!;
    assert.equal(deep.reason, 'folder');
    assert.ok(!ranked.some((e) => e.rel === 'src/readme.md'), 'another language is not folder context');
    const read = await readContext(ranked, [], wide, index);
    assert.equal(read[0].text, "import { deep } from './deep';\nexport function helper() { return deep(); }\n");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the second level of imports follows when budget remains, and .js specifiers find .ts files', async () => {
  const root = workspace({
    'app/main.ts': '',
    'lib/a.ts': "export * from './b.js';\n",
    'lib/b.ts': 'export const b = 1;\n',
  });
  try {
    const index = await indexOf(root);
    const ranked = rankContext(current(root, 'app/main.ts', "import { b } from '../lib/a.js';\n"), index, [], wide);
    assert.deepEqual(ranked.slice(0, 2).map((e) => [e.rel, e.reason, e.why]), [
      ['lib/a.ts', 'import', "imported as '../lib/a.js'"],
      ['lib/b.ts', 'import', "imported by a.ts as './b.js'"],
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Python: from .models import User and import pkg.sub', async () => {
  const root = workspace({
    'app/__init__.py': '',
    'app/models.py': 'class User: ...\n',
    'app/views.py': '',
    'pkg/__init__.py': '',
    'pkg/sub.py': 'X = 1\n',
    'pkg/helpers/__init__.py': 'def h(): ...\n',
  });
  try {
    const index = await indexOf(root);
    const text = 'import os\nfrom .models import User\nimport pkg.sub as s\nfrom pkg.helpers import h\n';
    const file = { path: path.join(root, 'app/views.py'), lang: 'python' };
    assert.deepEqual(importsOf(text, file, index).map((i) => [path.relative(root, i.path), i.spec]), [
      ['app/models.py', '.models'],
      ['pkg/sub.py', 'pkg.sub'],
      ['pkg/helpers/__init__.py', 'pkg.helpers'],
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Go: an import of a package of the module (go.mod) brings its non-test files', async () => {
  const root = workspace({
    'go.mod': 'module example.com/shop\n\ngo 1.22\n',
    'cmd/server/main.go': '',
    'internal/cart/cart.go': 'package cart\n',
    'internal/cart/total.go': 'package cart\n',
    'internal/cart/cart_test.go': 'package cart\n',
  });
  try {
    const index = await indexOf(root);
    const text = 'package main\n\nimport (\n\t"fmt"\n\tc "example.com/shop/internal/cart"\n)\n';
    const got = importsOf(text, { path: path.join(root, 'cmd/server/main.go'), lang: 'go' }, index);
    assert.deepEqual(got.map((i) => [path.relative(root, i.path), i.spec]), [
      ['internal/cart/cart.go', 'example.com/shop/internal/cart'],
      ['internal/cart/total.go', 'example.com/shop/internal/cart'],
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Rust: mod parser; and use crate::lexer::Token', async () => {
  const root = workspace({
    'Cargo.toml': '[package]\nname = "calc"\n',
    'src/main.rs': '',
    'src/parser.rs': 'use super::lexer::Token;\n',
    'src/lexer.rs': 'pub struct Token;\n',
    'src/eval/mod.rs': '',
    'src/eval/ops.rs': '',
  });
  try {
    const index = await indexOf(root);
    const text = 'mod parser;\nmod eval;\nuse crate::lexer::Token;\n';
    const got = importsOf(text, { path: path.join(root, 'src/main.rs'), lang: 'rust' }, index);
    assert.deepEqual(got.map((i) => [path.relative(root, i.path), i.spec]), [
      ['src/parser.rs', 'mod parser'],
      ['src/eval/mod.rs', 'mod eval'],
      ['src/lexer.rs', 'crate::lexer::Token'],
    ]);
    const fromParser = importsOf('use super::lexer::Token;\n', { path: path.join(root, 'src/parser.rs'), lang: 'rust' }, index);
    assert.deepEqual(fromParser.map((i) => path.relative(root, i.path)), ['src/lexer.rs']);
    const fromEval = importsOf('mod ops;\nuse super::parser;\n', { path: path.join(root, 'src/eval/mod.rs'), lang: 'rust' }, index);
    assert.deepEqual(fromEval.map((i) => path.relative(root, i.path)), ['src/eval/ops.rs', 'src/parser.rs']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('C: #include "x.h" next to the file, then include/', async () => {
  const root = workspace({
    'src/main.c': '',
    'src/local.h': 'int local(void);\n',
    'include/lib/api.h': 'int api(void);\n',
  });
  try {
    const index = await indexOf(root);
    const text = '#include <stdio.h>\n#include "local.h"\n#include "lib/api.h"\n';
    const got = importsOf(text, { path: path.join(root, 'src/main.c'), lang: 'c' }, index);
    assert.deepEqual(got.map((i) => [path.relative(root, i.path), i.spec]), [['src/local.h', 'local.h'], ['include/lib/api.h', 'lib/api.h']]);
    const ranked = rankContext(current(root, 'src/main.c', text), index, [], wide);
    assert.deepEqual(ranked.map((e) => e.why), ['included as "local.h"', 'included as "lib/api.h"']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('gitignored and files.exclude-d files are never listed, ranked or read', async () => {
  const root = workspace({
    '.gitignore': 'secret.ts\n/gen/\n',
    '.git/info/exclude': 'local.ts\n',
    'src/.gitignore': '*.tmp.ts\n!keep.tmp.ts\n',
    'src/main.ts': '',
    'src/secret.ts': 'export const key = 1;\n',
    'src/local.ts': '',
    'src/x.tmp.ts': '',
    'src/keep.tmp.ts': 'export const keep = 1;\n',
    'src/assets/big.ts': '',
    'gen/out.ts': '',
    'src/ok.ts': 'export const ok = 1;\n',
  });
  try {
    const index = await indexOf(root, { exclude: ['**/assets', '**/*.{png,jpg}'] });
    assert.deepEqual(rels(index), ['.gitignore', 'src/.gitignore', 'src/keep.tmp.ts', 'src/main.ts', 'src/ok.ts']);
    for (const rel of ['src/secret.ts', 'src/local.ts', 'src/x.tmp.ts', 'src/assets/big.ts', 'gen/out.ts', '.git/info/exclude']) {
      assert.equal(index.allowed(path.join(root, rel)), false, rel);
    }
    // Imported or open, an ignored file is still not ranked nor read.
    const cur = current(root, 'src/main.ts', "import './secret';\nimport './assets/big';\n");
    const open = [{ path: path.join(root, 'src/secret.ts'), text: 'unsaved secret', lastUsed: 1 }];
    const ranked = rankContext(cur, index, open, wide);
    assert.deepEqual(ranked.map((e) => e.rel).sort(), ['src/keep.tmp.ts', 'src/ok.ts']);
    const forced = [{ path: path.join(root, 'src/secret.ts'), rel: 'src/secret.ts', bytes: 20, reason: 'import' as const, why: '' }];
    assert.deepEqual(await readContext(forced, open, wide, index), []);
    // Without gitignore, the same file is listed.
    const all = await indexOf(root, { gitignore: false });
    assert.ok(rels(all).includes('src/secret.ts'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('nothing outside the roots is read: ../ imports and symlinks out', async () => {
  const outside = workspace({ 'x.ts': 'export const outside = 1;\n', 'y.ts': 'export const y = 1;\n' });
  const root = workspace({ 'main.ts': '', 'inner.ts': 'export const inner = 1;\n' });
  try {
    symlinkSync(path.join(outside, 'y.ts'), path.join(root, 'link.ts'));
    symlinkSync(path.join(root, 'inner.ts'), path.join(root, 'alias.ts'));
    symlinkSync(outside, path.join(root, 'linkdir'));
    const index = await indexOf(root);
    assert.deepEqual(rels(index), ['alias.ts', 'inner.ts', 'main.ts'], 'a link inside the root is kept, links out and linked folders are not');
    const rel = path.relative(root, path.join(outside, 'x.ts'));
    const cur = current(root, 'main.ts', `import { outside } from '${rel.replace(/\\/g, '/')}';\nimport './link';\nimport './linkdir/x';\n`);
    const ranked = rankContext(cur, index, [], wide);
    assert.ok(ranked.every((e) => e.path.startsWith(root + path.sep)));
    assert.equal(index.allowed(path.join(outside, 'x.ts')), false);
    // Even an entry forced through readContext for a link that leaves the root is not read.
    const forced = [{ path: path.join(root, 'link.ts'), rel: 'link.ts', bytes: 20, reason: 'import' as const, why: '' }];
    assert.deepEqual(await readContext(forced, [], wide, index), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('binary, minified, generated, lockfiles, node_modules and huge files are skipped', async () => {
  const root = workspace({
    'src/main.js': '',
    'src/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]),
    'src/blob.js': Buffer.concat([Buffer.from('var a = 1;\n'), Buffer.from([0, 1, 2, 3]), Buffer.from('\n')]),
    'src/lib.min.js': 'var a=1;',
    'src/bundle.js': `${'x=1;'.repeat(2000)}\n`,
    'src/api.js': '// @generated by the protocol compiler\nexport const api = 1;\n',
    'src/types.pb.go': 'package x\n',
    'src/huge.js': `${'// line\n'.repeat(200_000)}`,
    'src/fine.js': 'export const fine = 1;\n',
    'package-lock.json': '{}\n',
    'yarn.lock': '\n',
    'go.sum': '\n',
    'node_modules/dep/index.js': 'module.exports = 1;\n',
    'venv/pyvenv.cfg': 'home = /usr\n',
    'venv/lib/site.py': '',
    'target/CACHEDIR.TAG': 'Signature: 8a477f597d28d172789f06886806bc55\n',
    'target/debug/build.rs': '',
  });
  try {
    const index = await indexOf(root);
    assert.deepEqual(rels(index), ['src/api.js', 'src/blob.js', 'src/bundle.js', 'src/fine.js', 'src/main.js']);
    assert.equal(index.allowed(path.join(root, 'venv/lib/site.py')), false);
    assert.equal(index.allowed(path.join(root, 'node_modules/dep/index.js')), false);
    const cur = current(root, 'src/main.js', '');
    const read = await readContext(rankContext(cur, index, [], wide), [], wide, index);
    assert.deepEqual(read.map((r) => r.entry.rel), ['src/fine.js'], 'NUL, one huge line and @generated are dropped on reading');
    // A file that grew past maxFileBytes after discovery is not read.
    const small = await indexOf(root, { maxFileBytes: 100 });
    const ranked = rankContext(cur, small, [], wide);
    assert.ok(ranked.some((e) => e.rel === 'src/fine.js'));
    writeFileSync(path.join(root, 'src/fine.js'), 'export const fine = 1;\n'.repeat(10));
    assert.deepEqual(await readContext(ranked, [], wide, small), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the budget is respected, files are cut at line ends, the current file is never included', async () => {
  const line = (i: number) => `export const value${String(i).padStart(3, '0')} = ${i};\n`; // 27 bytes
  const body = Array.from({ length: 100 }, (_, i) => line(i)).join('');
  const root = workspace({ 'a.ts': body, 'b.ts': body, 'c.ts': body, 'd.ts': body, 'main.ts': body });
  try {
    const index = await indexOf(root);
    const opts: ContextOptions = { budgetBytes: 1500, perFileBytes: 1000 };
    const cur = current(root, 'main.ts', body);
    const ranked = rankContext(cur, index, [], opts);
    assert.ok(ranked.reduce((n, e) => n + e.bytes, 0) <= 1500);
    assert.ok(!ranked.some((e) => e.rel === 'main.ts'));
    const read = await readContext(ranked, [], opts, index);
    const total = read.reduce((n, r) => n + Buffer.byteLength(r.text), 0);
    assert.ok(total <= 1500 && total > 1000, `total ${total}`);
    for (const r of read) {
      assert.ok(r.text.endsWith('\n'), 'cut at a line end');
      assert.ok(Buffer.byteLength(r.text) <= 1000);
      assert.equal(r.entry.bytes, Buffer.byteLength(r.text));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('open documents rank after imports, most recently used first, with their unsaved text', async () => {
  const root = workspace({
    'main.ts': '',
    'dep.ts': 'on disk\n',
    'x/old.ts': 'old on disk\n',
    'x/new.ts': 'new on disk\n',
    'x/other.ts': 'export const other = 1;\n',
  });
  try {
    const index = await indexOf(root);
    const now = Date.now();
    const open = [
      { path: path.join(root, 'x/old.ts'), text: 'old unsaved\n', lastUsed: 1 },
      { path: path.join(root, 'x/new.ts'), text: 'new unsaved\n', lastUsed: 2, lastEdited: now - 120_000 },
      { path: path.join(root, 'dep.ts'), text: 'dep unsaved\n', lastUsed: 3 },
      { path: path.join(root, 'main.ts'), text: 'itself', lastUsed: 4 },
    ];
    const opts = { ...wide, now };
    const ranked = rankContext(current(root, 'main.ts', "import './dep';\n"), index, open, opts);
    assert.deepEqual(ranked.map((e) => [e.rel, e.reason, e.why]), [
      ['dep.ts', 'import', "imported as './dep'"],
      ['x/new.ts', 'open', 'open in an editor, edited 2 min ago'],
      ['x/old.ts', 'open', 'open in an editor'],
      ['x/other.ts', 'language', 'same language, x'],
    ]);
    const read = await readContext(ranked, open, opts, index);
    assert.deepEqual(read.slice(0, 3).map((r) => r.text), ['dep unsaved\n', 'new unsaved\n', 'old unsaved\n']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('files changed after discovery rank as recent; the clone that made the folder does not', async () => {
  const root = workspace({ 'a/main.py': '', 'b/old.py': 'old = 1\n', 'b/changed.py': '', 'c/notes.txt': '' });
  try {
    const index = await indexOf(root);
    const p = path.join(root, 'b/changed.py');
    writeFileSync(p, 'changed = True\n');
    const later = Date.now() + 1000;
    utimesSync(p, later / 1000, later / 1000);
    const st = statSync(p);
    index.upsert(p, st.size, st.mtimeMs);
    const ranked = rankContext(current(root, 'a/main.py', ''), index, [], { ...wide, now: later + 3 * 60_000 });
    assert.deepEqual(ranked[0], { path: p, rel: 'b/changed.py', bytes: 15, reason: 'recent', why: 'edited 3 min ago' });
    assert.deepEqual(ranked.slice(1).map((e) => [e.rel, e.reason]), [['b/old.py', 'language']]);
    index.remove(path.join(root, 'b'));
    assert.equal(index.get(p), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('assembleContext discovers, ranks and reads in one call', async () => {
  const root = workspace({ 'pkg/main.py': 'from .util import f\n', 'pkg/util.py': 'def f(): return 1\n', 'pkg/__init__.py': '' });
  try {
    const got = await assembleContext({ path: path.join(root, 'pkg/main.py'), text: 'from .util import f\n' }, rules(root), wide);
    // Empty files (pkg/__init__.py) contribute nothing and are left out.
    assert.deepEqual(got.map((g) => [g.entry.rel, g.entry.reason, g.text]), [['pkg/util.py', 'import', 'def f(): return 1\n']]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('discovery of a 5,000-file tree completes, pauses, and stops when cancelled', async () => {
  const files: Record<string, string> = {};
  for (let d = 0; d < 50; d++) for (let f = 0; f < 100; f++) files[`d${d}/f${f}.ts`] = '';
  const root = workspace(files);
  try {
    let pauses = 0;
    const index = new WorkspaceIndex(rules(root));
    const t0 = Date.now();
    assert.equal(await index.discover({ cancelled: false }, async () => { pauses++; }), true);
    assert.equal(index.files().length, 5000);
    assert.ok(pauses >= 5000 / 64 - 1, `paused ${pauses} times`);
    assert.ok(Date.now() - t0 < 4000);
    assert.ok(index.bytes() > 5000 * 100 && index.bytes() < 5000 * 1000);

    // Cancelled at the third pause: false, and the previous listing stays whole.
    const cancel = { cancelled: false };
    let n = 0;
    assert.equal(await index.discover(cancel, async () => { if (++n === 3) cancel.cancelled = true; }), false);
    assert.equal(n, 3);
    assert.equal(index.files().length, 5000);

    const fresh = new WorkspaceIndex(rules(root));
    assert.equal(await fresh.discover({ cancelled: true }), false);
    assert.equal(fresh.files().length, 0);

    const capped = new WorkspaceIndex(rules(root, { maxFiles: 1000 }));
    assert.equal(await capped.discover({ cancelled: false }), true);
    assert.equal(capped.files().length, 1000);
    assert.equal(capped.truncated(), true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('refreshFolder: files created or deleted beside the current file after discovery are listed without a watcher event, by the same rules', async () => {
  const root = workspace({ '.gitignore': 'ignored.ts\n', 'src/main.ts': "import { f } from './util';\n", 'src/old.ts': 'export const old = 1;\n' });
  try {
    const index = await indexOf(root, { exclude: ['**/secret-*.ts'] });
    writeFileSync(path.join(root, 'src/util.ts'), 'export function f() {}\n');
    writeFileSync(path.join(root, 'src/secret-keys.ts'), 'export const k = 1;\n');
    writeFileSync(path.join(root, 'src/ignored.ts'), 'export const i = 1;\n');
    rmSync(path.join(root, 'src/old.ts'));
    const cur = current(root, 'src/main.ts', "import { f } from './util';\n");
    assert.deepEqual(importsOf(cur.text, cur, index), [], 'not listed yet');
    assert.equal(await index.refreshFolder(path.join(root, 'src')), true);
    assert.deepEqual(rels(index), ['.gitignore', 'src/main.ts', 'src/util.ts'], 'created: listed; excluded, ignored: not; deleted: gone');
    assert.deepEqual(importsOf(cur.text, cur, index).map((r) => path.relative(root, r.path)), [path.join('src', 'util.ts')]);
    assert.equal(await index.refreshFolder(path.join(root, 'src')), false, 'nothing changed since');
    assert.equal(await index.refreshFolder(os.tmpdir()), false, 'a folder outside the roots is never listed');
    assert.ok(!rels(index).some((r) => r.startsWith('..')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('listedPath maps a watcher path under the real path of a symlinked root onto the root as listed', async () => {
  const real = workspace({ 'a.ts': 'export const a = 1;\n' });
  const linkParent = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'mb-ws-link-')));
  const linked = path.join(linkParent, 'root');
  try {
    symlinkSync(real, linked);
    const index = await indexOf(linked);
    assert.deepEqual(rels(index), ['a.ts']);
    assert.equal(index.listedPath(path.join(real, 'b.ts')), path.join(linked, 'b.ts'));
    assert.equal(index.listedPath(path.join(linked, 'b.ts')), path.join(linked, 'b.ts'));
    assert.equal(index.listedPath('/elsewhere/c.ts'), '/elsewhere/c.ts');
  } finally {
    rmSync(linkParent, { recursive: true, force: true });
    rmSync(real, { recursive: true, force: true });
  }
});
