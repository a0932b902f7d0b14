// Activation: builds the Ctx, wires the features to it, and starts loading the configured model
// without holding up the editor. Everything that needs `vscode` lives in src/extension; the
// engine (src/engine) runs in a worker thread and never sees the editor.

import * as vscode from 'vscode';
import type { Engine } from '../engine/api';
import { registerCommands } from './commands';
import { CompletionProvider, type LastCompletion } from './completionProvider';
import { needsModelReload } from './config';
import { ContinuationPanel } from './continuationPanel';
import { Ctx } from './ctx';
import { DocumentSync, type SyncStats } from './documents';
import { SurprisalView, type SurprisalPaint } from './surprisal';
import { epochMs, trace } from './trace';

/** What activate() returns: for the extension tests, not a stable public API. */
export interface MegabyteApi {
  engine: Engine;
  lastCompletion(): LastCompletion | undefined;
  /** The last offers, oldest first (an early first line and the full candidates are two). */
  recentCompletions(): LastCompletion[];
  statusText(): string;
  statusTooltip(): string;
  /** How documents reached the engine: whole texts (and their UTF-16 units) and edit events. */
  syncStats(): SyncStats;
  /** The surprisal view's last paint of `editor` (decorations cannot be read back through the API). */
  surprisalPaint(editor: vscode.TextEditor): SurprisalPaint | undefined;
}

let ctx: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): MegabyteApi {
  trace({ kind: 'activate', t: epochMs() });
  const c = new Ctx(context);
  ctx = c;
  context.subscriptions.push({ dispose: () => void c.dispose() });
  const { engine, config, log } = c;
  const settle = () => c.status.settle();

  // Documents whose language is excluded sync only when a command needs them.
  const documents = new DocumentSync(engine, (doc) => !config.completion(doc).excludeLanguages.includes(doc.languageId), log, () => config.encodeAhead());
  const completions = new CompletionProvider({
    engine, config, documents, log, isPaused: () => c.paused, onSettled: settle,
    onResult: (uri, r) => c.status.setContext(uri, r.context.files, r.context.bytes, r.window === 'near', r.indexed),
  });
  const surprisal = new SurprisalView({ engine, documents, log, pushModelCleanup: (d) => c.pushModelCleanup(d), onSettled: settle });
  const continuation = new ContinuationPanel({ engine, config, documents, log, extensionUri: context.extensionUri, onSettled: settle });

  c.pushExtensionCleanup(
    documents,
    surprisal,
    continuation,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, completions),
    ...registerCommands({ ctx: c, completions, surprisal, continuation, documents }),
    c.onDidChangeModel(() => completions.reset()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('megabyte')) return;
      // Context size, suffix and memory budget apply live; providers and threads on reload.
      if (e.affectsConfiguration('megabyte.performance')) engine.configure(config.engineOptions());
      if (needsModelReload(e)) {
        const newSession = e.affectsConfiguration('megabyte.performance.executionProviders') || e.affectsConfiguration('megabyte.performance.threads');
        void c.loadConfiguredModel(newSession);
      }
    }),
  );

  // Workspace context: which folders the engine may read, again whenever they, the settings or the trust change.
  const sendWorkspace = () => engine.configureWorkspace(config.workspaceContext());
  c.pushExtensionCleanup(
    vscode.workspace.onDidChangeWorkspaceFolders(sendWorkspace),
    vscode.workspace.onDidGrantWorkspaceTrust(sendWorkspace),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('megabyte.context') || e.affectsConfiguration('files.exclude') || e.affectsConfiguration('search.exclude')) sendWorkspace();
    }),
  );
  sendWorkspace();
  c.pushExtensionCleanup(watchWorkspaceFiles(engine));

  void c.loadConfiguredModel();

  return {
    engine,
    lastCompletion: () => completions.lastCompletion(),
    recentCompletions: () => completions.recentCompletions(),
    statusText: () => c.status.text,
    statusTooltip: () => c.status.tooltipText,
    syncStats: () => ({ ...documents.stats }),
    surprisalPaint: (editor) => surprisal.painted(editor),
  };
}

/** Forwards files created, changed and deleted in the workspace to the engine's index, in batches. */
function watchWorkspaceFiles(engine: Engine): vscode.Disposable {
  const watcher = vscode.workspace.createFileSystemWatcher('**/*');
  const changed = new Set<string>();
  const deleted = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    engine.workspaceFiles([...changed], [...deleted]);
    changed.clear();
    deleted.clear();
  };
  const note = (uri: vscode.Uri, gone: boolean) => {
    if (uri.scheme !== 'file') return;
    (gone ? deleted : changed).add(uri.fsPath);
    (gone ? changed : deleted).delete(uri.fsPath);
    timer ??= setTimeout(flush, 300);
  };
  return vscode.Disposable.from(
    watcher,
    watcher.onDidCreate((u) => note(u, false)),
    watcher.onDidChange((u) => note(u, false)),
    watcher.onDidDelete((u) => note(u, true)),
    { dispose: () => clearTimeout(timer) },
  );
}

export async function deactivate(): Promise<void> {
  // Returning the promise lets VS Code wait for the worker to shut down.
  await ctx?.dispose();
  ctx = undefined;
}
