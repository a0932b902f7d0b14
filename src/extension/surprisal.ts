// The surprisal view: the model scores every byte of the document and each line is shaded by its
// mean bits per byte, so the lines the model found unusual (typos, odd code, secrets) stand out.
// Scores belong to one version of one document under one model: an edit or a model switch clears them.

import * as vscode from 'vscode';
import type { Engine, ScoreResult } from '../engine/api';
import { EngineError } from '../engine/api';
import { lineSurprisal } from './bytes';
import { epLabel } from './continuationHtml';
import type { DocumentSync } from './documents';

/** Lower bounds (bits per byte) of the shaded levels; lines below the first are left plain. */
export const SURPRISAL_LEVELS = [1.5, 3, 4.5, 6] as const;

export function surprisalLevel(bitsPerByte: number): number {
  let level = -1;
  for (let i = 0; i < SURPRISAL_LEVELS.length; i++) if (bitsPerByte >= SURPRISAL_LEVELS[i]) level = i;
  return level;
}

interface Scored {
  version: number;
  /** Decorations per level, in SURPRISAL_LEVELS order. */
  levels: vscode.DecorationOptions[][];
}

export interface SurprisalDeps {
  engine: Pick<Engine, 'score'>;
  documents: Pick<DocumentSync, 'ensure'>;
  log: vscode.LogOutputChannel;
  /** Registers cleanup for the current model session: a model switch makes the scores stale. */
  pushModelCleanup(d: vscode.Disposable): void;
  onSettled(): void;
}

export class SurprisalView implements vscode.Disposable {
  private readonly types: vscode.TextEditorDecorationType[];
  private readonly scored = new Map<string, Scored>();
  /** In-flight scoring per document; toggling again cancels it. */
  private readonly running = new Map<string, AbortController>();
  private readonly subscriptions: vscode.Disposable[];
  private hooked = false;

  constructor(private readonly deps: SurprisalDeps) {
    // Colors are contributed in package.json (megabyte.surprisal1..4) so themes can restyle them.
    this.types = SURPRISAL_LEVELS.map((_, i) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        backgroundColor: new vscode.ThemeColor(`megabyte.surprisal${i + 1}`),
        overviewRulerColor: i >= 2 ? new vscode.ThemeColor(`megabyte.surprisal${i + 1}`) : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right,
      }),
    );
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.clear(e.document.uri.toString());
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => this.clear(doc.uri.toString())),
      // Decorations live on editors, not documents: paint editors that come into view.
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.paint(e))),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateContext()),
    ];
  }

  /** Scores the active document, or clears (or cancels) its view if it has one. */
  async toggle(): Promise<ScoreResult | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return undefined;
    const uri = editor.document.uri.toString();
    if (this.scored.has(uri) || this.running.has(uri)) {
      this.clear(uri);
      return undefined;
    }
    return this.score(editor.document);
  }

  private async score(document: vscode.TextDocument): Promise<ScoreResult | undefined> {
    const { engine, log } = this.deps;
    const uri = document.uri.toString();
    const version = document.version;
    if (!this.deps.documents.ensure(document)) {
      void vscode.window.showWarningMessage('MEGABYTE: this document is too large to score.');
      return undefined;
    }
    const abort = new AbortController();
    this.running.set(uri, abort);
    this.hookModelSession();
    this.updateContext();
    try {
      // A window progress has no cancel button: running the toggle again cancels (see toggle()).
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'MEGABYTE scoring' },
        (progress) => engine.score({ uri, version }, abort.signal, (f) => progress.report({ message: `${Math.round(f * 100)}%` })),
      );
      if (abort.signal.aborted || document.version !== version) return undefined;
      this.show(document, version, result);
      log.info(
        `score ${uri} v${version}: ${result.bytes} bytes, ${result.bitsPerByte.toFixed(3)} bits/byte ` +
          `in ${result.seconds.toFixed(2)} s on ${result.ep}`,
      );
      vscode.window.setStatusBarMessage(
        `MEGABYTE: ${result.bitsPerByte.toFixed(2)} bits/byte over ${result.bytes} bytes (${epLabel(result.ep)}, ${result.seconds.toFixed(1)} s)`,
        8000,
      );
      return result;
    } catch (err) {
      if (abort.signal.aborted || (err instanceof EngineError && (err.code === 'cancelled' || err.code === 'stale'))) return undefined;
      const message = err instanceof Error ? err.message : String(err);
      log.error(`score ${uri} v${version} failed: ${message}`);
      void vscode.window.showErrorMessage(`MEGABYTE: scoring failed: ${message}`, 'Show log').then((a) => a && log.show());
      return undefined;
    } finally {
      if (this.running.get(uri) === abort) this.running.delete(uri);
      this.updateContext();
      this.deps.onSettled();
    }
  }

  private show(document: vscode.TextDocument, version: number, result: ScoreResult): void {
    const levels: vscode.DecorationOptions[][] = SURPRISAL_LEVELS.map(() => []);
    // The engine's bits are per UTF-8 byte; lineSurprisal walks the text to map them to lines.
    for (const line of lineSurprisal(document.getText(), result.bits)) {
      const level = surprisalLevel(line.bitsPerByte);
      if (level < 0) continue;
      levels[level].push({
        range: document.lineAt(line.line).range,
        hoverMessage: new vscode.MarkdownString(`MEGABYTE: **${line.bitsPerByte.toFixed(2)}** bits/byte over ${line.bytes} bytes`),
      });
    }
    const uri = document.uri.toString();
    this.scored.set(uri, { version, levels });
    for (const editor of vscode.window.visibleTextEditors) this.paint(editor);
    this.updateContext();
  }

  private paint(editor: vscode.TextEditor): void {
    const scored = this.scored.get(editor.document.uri.toString());
    if (!scored || scored.version !== editor.document.version) return;
    this.types.forEach((type, i) => editor.setDecorations(type, scored.levels[i]));
  }

  /**
   * Scores belong to the model that computed them: the model session's cleanup clears them all and
   * cancels scoring in flight (its result would be labelled with the wrong model). Hooked once per session.
   */
  private hookModelSession(): void {
    if (this.hooked) return;
    this.hooked = true;
    this.deps.pushModelCleanup({
      dispose: () => {
        this.hooked = false;
        for (const uri of [...this.running.keys(), ...this.scored.keys()]) this.clear(uri);
      },
    });
  }

  /** Clears the view of one document and cancels its scoring. */
  clear(uri: string): void {
    this.running.get(uri)?.abort();
    this.running.delete(uri);
    if (!this.scored.delete(uri)) return;
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === uri) for (const type of this.types) editor.setDecorations(type, []);
    }
    this.updateContext();
  }

  private updateContext(): void {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const on = uri !== undefined && (this.scored.has(uri) || this.running.has(uri));
    void vscode.commands.executeCommand('setContext', 'megabyte.surprisalOn', on);
  }

  dispose(): void {
    for (const abort of this.running.values()) abort.abort();
    this.running.clear();
    this.scored.clear();
    for (const s of this.subscriptions) s.dispose();
    for (const type of this.types) type.dispose(); // disposing a type removes its decorations
  }
}
