// Keeps the engine's copy of each document current. A document goes to the worker whole once;
// after that each change event sends only its edits (VS Code's contentChanges), so a keystroke in
// a 1 MB file costs this thread the keystroke, not a 1 MB getText() and a 1 MB message. The
// worker rewinds its cache to the first changed byte either way. If the worker cannot apply an
// edit (it holds another version, or it restarted) it asks for the full text again.

import * as vscode from 'vscode';
import type { Engine } from '../engine/api';

/** Past this many UTF-16 units, copying the text to the worker on every keystroke would slow typing. */
export const MAX_SYNC_CHARS = 8 * 1024 * 1024;

/** Length in UTF-16 units, without copying the text out. */
function docLength(doc: vscode.TextDocument): number {
  return doc.offsetAt(doc.lineAt(doc.lineCount - 1).range.end);
}

/** The cursor tells the worker what to encode ahead of the next request: the prefix up to it (and the text after it), not the whole file. */
function cursorIn(doc: vscode.TextDocument): number | undefined {
  const editor = vscode.window.activeTextEditor;
  return editor && editor.document === doc ? doc.offsetAt(editor.selection.active) : undefined;
}

/** How long the cursor rests on a new line before the engine encodes ahead there. */
const MOVE_REST_MS = 120;

/** Output channels are text documents too; they are never completed, scored or continued. */
export function canSync(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme !== 'output' && docLength(doc) <= MAX_SYNC_CHARS;
}

export interface SyncStats {
  /** Whole texts sent (document opened, or the engine asked again). */
  full: number;
  /** UTF-16 units those whole texts carried. */
  fullChars: number;
  /** Change events sent as edits. */
  edits: number;
}

export class DocumentSync implements vscode.Disposable {
  /** uri → the version the engine holds. */
  private readonly versions = new Map<string, number>();
  /** The line of the cursor the engine was last told of, per document. */
  private readonly cursorLine = new Map<string, number>();
  private moveTimer: NodeJS.Timeout | undefined;
  /** uri → when its text last changed (Date.now()): the key a completion request follows. */
  private readonly changes = new Map<string, number>();
  readonly stats: SyncStats = { full: 0, fullChars: 0, edits: 0 };
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly engine: Pick<Engine, 'sync' | 'edit' | 'focus' | 'close' | 'onResync'>,
    /** Whether to sync a document as soon as it opens (completions may come); others sync on first use. */
    private readonly syncEagerly: (doc: vscode.TextDocument) => boolean,
    private readonly log: vscode.LogOutputChannel,
    /** Whether to encode ahead on focus and after a cursor move (megabyte.performance.encodeAhead). */
    private readonly encodeAhead: () => boolean = () => true,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidOpenTextDocument((doc) => this.update(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => this.changed(e)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.close(doc)),
      this.engine.onResync((uri) => this.resync(uri)),
      vscode.window.onDidChangeActiveTextEditor((editor) => this.focused(editor)),
      vscode.window.onDidChangeTextEditorSelection((e) => this.moved(e.textEditor)),
      { dispose: () => clearTimeout(this.moveTimer) },
    ];
    for (const doc of vscode.workspace.textDocuments) this.update(doc);
    this.focused(vscode.window.activeTextEditor);
  }

  /**
   * The cursor moved (a click, arrow keys, a jump to a definition): once it rests for MOVE_REST_MS
   * on another line than the engine was last told, the engine encodes the text at the new place
   * ahead of the first keystroke there. (Typing moves it too; edits carry the cursor themselves.)
   */
  private moved(editor: vscode.TextEditor): void {
    if (editor !== vscode.window.activeTextEditor || !this.encodeAhead()) return;
    clearTimeout(this.moveTimer);
    this.moveTimer = setTimeout(() => {
      if (editor !== vscode.window.activeTextEditor || editor.document.isClosed) return;
      const uri = editor.document.uri.toString();
      const line = editor.selection.active.line;
      if (this.versions.get(uri) === editor.document.version && this.cursorLine.get(uri) !== line) this.focused(editor);
    }, MOVE_REST_MS);
  }

  /**
   * The user moved to this editor (a file just opened, or a switch of tabs): the engine encodes
   * its document and workspace context ahead of the first request, before other background work.
   */
  private focused(editor: vscode.TextEditor | undefined): void {
    if (!editor || !this.encodeAhead()) return;
    const doc = editor.document;
    const uri = doc.uri.toString();
    if (!this.versions.has(uri) && !this.syncEagerly(doc)) return;
    // not held at this version: the full text goes, with the cursor (the editor is active now)
    if (this.versions.get(uri) !== doc.version) {
      this.ensure(doc);
      return;
    }
    try {
      this.engine.focus(uri, doc.offsetAt(editor.selection.active));
      this.cursorLine.set(uri, editor.selection.active.line);
    } catch (err) {
      this.log.error(`focus ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** When the document's text last changed in this session (Date.now()), if it did. */
  changedAt(uri: string): number | undefined {
    return this.changes.get(uri);
  }

  /** Makes sure the engine holds `doc` at its current version; false when it can't be synced. */
  ensure(doc: vscode.TextDocument): boolean {
    const uri = doc.uri.toString();
    if (this.versions.get(uri) === doc.version) return true;
    if (!canSync(doc)) return false;
    try {
      const text = doc.getText();
      this.engine.sync(uri, doc.version, text, this.noteCursor(doc));
      this.versions.set(uri, doc.version);
      this.stats.full++;
      this.stats.fullChars += text.length;
      return true;
    } catch (err) {
      this.log.error(`sync ${uri} v${doc.version} failed: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Sends a change event's edits when the engine holds the version just before it; else the whole text. */
  private changed(e: vscode.TextDocumentChangeEvent): void {
    const doc = e.document;
    const uri = doc.uri.toString();
    if (e.contentChanges.length) this.changes.set(uri, Date.now());
    const held = this.versions.get(uri);
    // Only single-change events travel as edits: the order of several (multi-cursor) is not
    // guaranteed (contentChanges is one array shared by every extension's listener, and some
    // reorder it in place), and a misordered pair can give text of the right length but wrong.
    if (held === undefined || held !== doc.version - 1 || e.contentChanges.length !== 1) {
      this.update(doc);
      return;
    }
    const length = docLength(doc);
    if (length > MAX_SYNC_CHARS) {
      this.close(doc); // grown past what is synced at all
      return;
    }
    try {
      const edits = e.contentChanges.map((c) => ({ offset: c.rangeOffset, length: c.rangeLength, text: c.text }));
      this.engine.edit(uri, held, doc.version, edits, length, this.noteCursor(doc));
      this.versions.set(uri, doc.version);
      this.stats.edits++;
    } catch (err) {
      this.log.error(`edit ${uri} v${doc.version} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.versions.delete(uri);
    }
  }

  /** The cursor to send with the document's text (active editor only), noting its line. */
  private noteCursor(doc: vscode.TextDocument): number | undefined {
    const cursor = cursorIn(doc);
    if (cursor !== undefined) this.cursorLine.set(doc.uri.toString(), vscode.window.activeTextEditor!.selection.active.line);
    return cursor;
  }

  /** The engine lost this document's text: send it whole (now if it is open, else at its next use). */
  private resync(uri: string): void {
    this.versions.delete(uri);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
    if (doc && !doc.isClosed) this.ensure(doc);
  }

  private update(doc: vscode.TextDocument): void {
    // A document the engine already holds stays current even if it is not eligible any more,
    // e.g. one used for a continuation in an excluded language.
    if (this.versions.has(doc.uri.toString()) || this.syncEagerly(doc)) this.ensure(doc);
  }

  private close(doc: vscode.TextDocument): void {
    const uri = doc.uri.toString();
    this.cursorLine.delete(uri);
    this.changes.delete(uri);
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
