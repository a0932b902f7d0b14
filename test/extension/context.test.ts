// Workspace context in a real VS Code: a file that imports another gets it as context (the
// engine lists the workspace in its worker, follows files created on disk, and reads only inside
// the workspace folder), the ghost text uses a name defined only in the other file, "Show
// context" says why each file was chosen, and the setting off reads each file alone.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ContextInfo } from '../../src/engine/api';
import { suggest, useReadyExtension, waitFor, withSetting, type MegabyteApi } from './helpers';
import { MAIN, MAIN_CURSOR, UTIL } from '../fixtures/crossfile';

describe('Workspace context', () => {
  let api: MegabyteApi;
  useReadyExtension((a) => (api = a));

  /** A fresh folder inside the workspace with util.ts and main.ts; main.ts open, the cursor after `crc32Of`. */
  async function project(more: Record<string, string> = {}): Promise<{ dir: string; editor: vscode.TextEditor }> {
    const root = vscode.workspace.workspaceFolders?.[0];
    assert.ok(root, 'the test window has a workspace folder');
    const dir = path.join(root.uri.fsPath, `ctx-${Date.now()}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'util.ts'), UTIL);
    fs.writeFileSync(path.join(dir, 'main.ts'), MAIN);
    for (const [name, text] of Object.entries(more)) fs.writeFileSync(path.join(dir, name), text);
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(dir, 'main.ts')));
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    const at = doc.positionAt(MAIN_CURSOR);
    editor.selection = new vscode.Selection(at, at);
    return { dir, editor };
  }

  const contextNow = () => vscode.commands.executeCommand<ContextInfo>('megabyte.showContext', false);

  it('a file gets the file it imports as context, the ghost text uses a name defined only there, Show context says why', async function () {
    this.timeout(180_000);
    const { dir, editor } = await project();
    try {
      // the files were created after the workspace was listed: the engine learns of them from the
      // file watcher, or from its own look at the folder of the file it completes
      const info = await waitFor('main.ts to get util.ts as context', async () => {
        const c = await contextNow();
        return c?.parts.some((p) => path.basename(p.path) === 'util.ts') ? c : undefined;
      }, 60_000, 250);
      const util = info.parts.find((p) => path.basename(p.path) === 'util.ts')!;
      assert.equal(util.reason, 'import');
      assert.match(util.why ?? '', /util/);
      assert.ok(info.index && info.index.files > 0, 'the index lists the workspace');
      assert.ok(info.parts.every((p) => p.path.startsWith(vscode.workspace.workspaceFolders![0].uri.fsPath)), 'nothing outside the workspace folder');
      const texts = await suggest(api, editor, 120_000);
      // Every candidate is held back here (a copied name's calibrated confidence is near 0), so the
      // explicit ask offers them by their first piece's confidence, and with segment 10 a wrong
      // "fset = crc32OfChunkedUpload(...)" may come first: the name must be offered (Alt+] reaches it)
      // and the first candidate must use it (alone, the engine test checks, the first one does not).
      assert.ok(texts.some((t) => /^ChunkedUpload/.test(t)), `a candidate completes the name from util.ts: ${JSON.stringify(texts)}`);
      assert.match(texts[0], /ChunkedUpload/, `the first candidate uses the name: ${JSON.stringify(texts)}`);
      assert.match(api.statusTooltip(), /Context of main\\.ts: \*\*1 other file\*\* of the workspace/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file excluded by files.exclude, or open but outside the workspace, never enters the context', async function () {
    this.timeout(180_000);
    const restore = await withSetting('files', 'exclude', { '**/secret-*.ts': true });
    // open beside main.ts (open editors rank high) but outside every workspace folder
    const outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-outside-'));
    const outside = path.join(outsideDir, 'outside.ts');
    fs.writeFileSync(outside, `import { TABLE } from './util';\nexport const OUTSIDE_TOKEN = TABLE.length;\n`);
    const { dir, editor } = await project({ 'secret-keys.ts': `import { TABLE } from './util';\nexport const SECRET_TOKEN = TABLE[0];\n` });
    try {
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(vscode.Uri.file(outside)), { preview: false, preserveFocus: true, viewColumn: vscode.ViewColumn.Beside });
      await vscode.window.showTextDocument(editor.document, { preview: false, viewColumn: editor.viewColumn });
      const info = await waitFor('main.ts to get util.ts as context', async () => {
        const c = await contextNow();
        return c?.parts.some((p) => path.basename(p.path) === 'util.ts') ? c : undefined;
      }, 60_000, 250);
      const names = info.parts.map((p) => path.basename(p.path));
      assert.ok(!names.includes('secret-keys.ts'), `files.exclude keeps secret-keys.ts out (same folder, same language): ${JSON.stringify(names)}`);
      assert.ok(!names.includes('outside.ts'), `an open file outside the workspace stays out: ${JSON.stringify(names)}`);
      assert.ok(info.parts.every((p) => p.path.startsWith(vscode.workspace.workspaceFolders![0].uri.fsPath)), 'nothing outside the workspace folder');
    } finally {
      await restore();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(outsideDir, { recursive: true, force: true });
    }
  });

  it('with megabyte.context.workspace off, the file is read alone', async function () {
    this.timeout(120_000);
    const restore = await withSetting('megabyte.context', 'workspace', false);
    const { dir } = await project();
    try {
      const info = await waitFor('the engine to drop the workspace', async () => {
        const c = await contextNow();
        return c && c.index === undefined && c.parts.length === 0 ? c : undefined;
      }, 30_000, 250);
      assert.equal(info.files, 0);
    } finally {
      await restore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
