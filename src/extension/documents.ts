// Keeps the engine's copy of each document current. The worker diffs the full text against what
// it holds and rewinds its cache to the first changed byte, so sending the whole text at each
// version is both simple and cheap for the engine.

import * as vscode from 'vscode';
import type { Engine } from '../engine/api';

/** Past this many UTF-16 units, copying the text to the worker on every keystroke would slow typing. */
export const MAX_SYNC_CHARS = 8 * 1024 * 1024;

/** Output channels are text documents too; they are never completed, scored or continued. */
export function canSync(doc: vscode.TextDocument): boolean {
  // The end offset is the length in UTF-16 units, without copying the text out.
  return doc.uri.scheme !== 'output' && doc.offsetAt(doc.lineAt(doc.lineCount - 1).range.end) <= MAX_SYNC_CHARS;
}

export class DocumentSync implements vscode.Disposable {
  /** uri → the version the engine holds. */
  private readonly versions = new Map<string, number>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly engine: Pick<Engine, 'sync' | 'close'>,
    /** Whether to sync a document as soon as it opens (completions may come); others sync on first use. */
    private readonly syncEagerly: (doc: vscode.TextDocument) => boolean,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidOpenTextDocument((doc) => this.update(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => this.update(e.document)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.close(doc)),
    ];
    for (const doc of vscode.workspace.textDocuments) this.update(doc);
  }

  /** Makes sure the engine holds `doc` at its current version; false when it can't be synced. */
  ensure(doc: vscode.TextDocument): boolean {
    const uri = doc.uri.toString();
    if (this.versions.get(uri) === doc.version) return true;
    if (!canSync(doc)) return false;
    try {
      // The cursor tells the worker what to encode ahead of the next request: the prefix up to
      // it (and the text after it), not the whole file.
      const editor = vscode.window.activeTextEditor;
      const cursor = editor && editor.document === doc ? doc.offsetAt(editor.selection.active) : undefined;
      this.engine.sync(uri, doc.version, doc.getText(), cursor);
      this.versions.set(uri, doc.version);
      return true;
    } catch (err) {
      this.log.error(`sync ${uri} v${doc.version} failed: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  private update(doc: vscode.TextDocument): void {
    // A document the engine already holds stays current even if it is not eligible any more,
    // e.g. one used for a continuation in an excluded language.
    if (this.versions.has(doc.uri.toString()) || this.syncEagerly(doc)) this.ensure(doc);
  }

  private close(doc: vscode.TextDocument): void {
    const uri = doc.uri.toString();
    if (!this.versions.delete(uri)) return;
    try {
      this.engine.close(uri);
    } catch (err) {
      this.log.error(`close ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.versions.clear();
  }
}
