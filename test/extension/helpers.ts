// Shared helpers for the extension-host tests (they run inside a real VS Code).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'megabyte-local.megabyte-complete';

export const COMMANDS = [
  'megabyte.summarizeContinuation',
  'megabyte.selectModel',
  'megabyte.toggleSurprisal',
  'megabyte.togglePause',
] as const;

/** The object `activate()` returns for tests (subject to change with src/extension). */
export interface MegabyteApi {
  engine: unknown;
  lastCompletion(): { uri: string; version: number; texts: string[] } | undefined;
  statusText(): string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function getExtension(): vscode.Extension<MegabyteApi> {
  const ext = vscode.extensions.getExtension<MegabyteApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

export async function activate(): Promise<MegabyteApi> {
  return getExtension().activate();
}

/** Polls until fn returns a truthy value; fails with `what` after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Opens an untitled document with `content` and puts the cursor at its end. */
export async function openDoc(content: string, language = 'python'): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ content, language });
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  const end = doc.positionAt(doc.getText().length);
  editor.selection = new vscode.Selection(end, end);
  return editor;
}

/** Closes every editor without save prompts (reverts untitled/dirty ones first). */
export async function closeAllEditors(): Promise<void> {
  for (let i = 0; i < 50 && vscode.window.activeTextEditor; i++) {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/**
 * What a user does to get and accept ghost text: ask for an inline suggestion
 * (as typing does) and press Tab (editor.action.inlineSuggest.commit). Repeats
 * until the document changes, because the model may need a while to answer.
 * Returns the inserted text.
 */
export async function triggerAndAccept(editor: vscode.TextEditor, timeoutMs = 60_000): Promise<string> {
  const doc = editor.document;
  const before = doc.getText();
  await waitFor('an inline suggestion to be accepted', async () => {
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await sleep(300);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    return doc.getText() !== before;
  }, timeoutMs, 200);
  const after = doc.getText();
  assert.ok(after.startsWith(before), 'accepting ghost text at the end of the document only appends');
  return after.slice(before.length);
}
