// "Summarize continuation": a long generation from the cursor, shown in a webview with per-byte
// confidence shading and the run's figures, each candidate insertable at the original cursor.

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CompleteResult, Engine } from '../engine/api';
import { EngineError } from '../engine/api';
import type { Config } from './config';
import { buildContinuationHtml, continuationView } from './continuationHtml';
import type { DocumentSync } from './documents';
import { cutIncompleteUtf8 } from '../engine/postprocess';

/** A continuation is asked for explicitly and can be cancelled, so it gets a generous wall-clock budget. */
const CONTINUATION_TIME_BUDGET_MS = 120_000;

export interface ContinuationDeps {
  engine: Pick<Engine, 'complete' | 'model'>;
  config: Pick<Config, 'completion' | 'continuation'>;
  documents: Pick<DocumentSync, 'ensure'>;
  log: vscode.LogOutputChannel;
  extensionUri: vscode.Uri;
  onSettled(): void;
}

/** Where the shown candidates go when the user presses Insert. */
interface Target {
  uri: vscode.Uri;
  version: number;
  position: vscode.Position;
  viewColumn: vscode.ViewColumn | undefined;
  texts: string[];
}

export class ContinuationPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private target: Target | undefined;

  constructor(private readonly deps: ContinuationDeps) {}

  /** Generates from the active editor's cursor and shows the result; returns it (for tests). */
  async run(): Promise<CompleteResult | undefined> {
    const { engine, config, log } = this.deps;
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('MEGABYTE: open a file and place the cursor where the continuation should start.');
      return undefined;
    }
    const model = engine.model;
    if (!model) {
      const choice = await vscode.window.showWarningMessage('MEGABYTE: no model is loaded.', 'Select model');
      if (choice) await vscode.commands.executeCommand('megabyte.selectModel');
      return undefined;
    }
    const document = editor.document;
    if (!this.deps.documents.ensure(document)) {
      void vscode.window.showWarningMessage('MEGABYTE: this document is too large to continue.');
      return undefined;
    }
    const position = editor.selection.active;
    const version = document.version;
    const { maxBytes } = config.continuation();
    const completion = config.completion(document);
    const file = path.basename(document.uri.path) || document.uri.toString();

    const started = performance.now();
    const abort = new AbortController();
    let result: CompleteResult;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `MEGABYTE: continuing ${file}`, cancellable: true },
        async (progress, token) => {
          progress.report({ message: `${completion.candidates} × ${maxBytes} bytes on ${model.name}…` });
          const onCancel = token.onCancellationRequested(() => abort.abort());
          try {
            return await engine.complete(
              {
                uri: document.uri.toString(),
                version,
                offset: document.offsetAt(position),
                candidates: completion.candidates,
                maxBytes,
                temperature: completion.temperature,
                topP: 0.95,
                stop: 'budget',
                timeBudgetMs: CONTINUATION_TIME_BUDGET_MS,
                // A continuation runs on from the cursor; it is not a fill-in of the gap before the suffix.
                useSuffix: false,
              },
              abort.signal,
            );
          } finally {
            onCancel.dispose();
          }
        },
      );
    } catch (err) {
      if (abort.signal.aborted || (err instanceof EngineError && err.code === 'cancelled')) return undefined;
      const message = err instanceof Error ? err.message : String(err);
      log.error(`continuation of ${document.uri.toString()} failed: ${message}`);
      void vscode.window.showErrorMessage(`MEGABYTE: continuation failed: ${message}`, 'Show log').then((a) => a && log.show());
      return undefined;
    } finally {
      this.deps.onSettled();
    }
    if (abort.signal.aborted) return undefined;
    const seconds = (performance.now() - started) / 1000;
    log.info(`continuation of ${document.uri.toString()}: ${result.candidates.length} candidates in ${seconds.toFixed(1)} s on ${result.ep}`);

    this.target = {
      uri: document.uri,
      version,
      position,
      viewColumn: editor.viewColumn,
      texts: result.candidates.map((c) => cutIncompleteUtf8(c.text, { prefixLine: '', suffix: '' }) ?? ''),
    };
    this.show(continuationView(file, model.name, result, seconds));
    return result;
  }

  private show(view: ReturnType<typeof continuationView>): void {
    const media = vscode.Uri.joinPath(this.deps.extensionUri, 'media');
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(
        'megabyte.continuation',
        'MEGABYTE continuation',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        // Scripts for the DOM building only; nothing but media/ can be loaded.
        { enableScripts: true, localResourceRoots: [media] },
      );
      this.panel.onDidDispose(() => {
        this.panel = undefined;
        this.target = undefined;
      });
      this.panel.webview.onDidReceiveMessage((msg: unknown) => this.onMessage(msg));
    } else {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    const webview = this.panel.webview;
    this.panel.title = `MEGABYTE: ${view.file}`;
    webview.html = buildContinuationHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(16).toString('base64'),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'continuation.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'continuation.css')).toString(),
      view,
    });
  }

  private onMessage(msg: unknown): void {
    // The webview is a page of its own: check what it sends like any outside input.
    if (typeof msg !== 'object' || msg === null) return;
    const { type, index } = msg as { type?: unknown; index?: unknown };
    if (type === 'insert' && typeof index === 'number' && Number.isInteger(index)) void this.insert(index);
  }

  private async insert(index: number): Promise<void> {
    const target = this.target;
    const text = target?.texts[index];
    if (!target || text === undefined) return;
    const document = await vscode.workspace.openTextDocument(target.uri);
    if (document.version !== target.version) {
      const line = target.position.line + 1;
      const choice = await vscode.window.showWarningMessage(
        `MEGABYTE: ${path.basename(target.uri.path)} changed since this continuation was generated. Insert at line ${line} anyway?`,
        { modal: true },
        'Insert',
      );
      if (choice !== 'Insert') return;
    }
    const at = document.validatePosition(target.position);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(target.uri, at, text);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage('MEGABYTE: could not insert the continuation.');
      return;
    }
    const end = document.positionAt(document.offsetAt(at) + text.length);
    await vscode.window.showTextDocument(document, { viewColumn: target.viewColumn, selection: new vscode.Range(end, end) });
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
