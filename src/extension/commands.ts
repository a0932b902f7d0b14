// Every command in one table, all registered at activation. Their ids and titles are
// contributes.ts's COMMAND_TITLES (package.json contributes the same, held together by
// test/unit/contributes.test.ts, and hides some by context keys such as megabyte.modelReady).

import * as vscode from 'vscode';
import * as path from 'node:path';
import type { CompleteResult, ContextInfo, ModelInfo, ScoreResult } from '../engine/api';
import type { CompletionProvider } from './completionProvider';
import type { ContinuationPanel } from './continuationPanel';
import type { Ctx } from './ctx';
import type { DocumentSync } from './documents';
import { pickModel } from './modelPicker';
import { resolveModel, sameDir } from './models';
import type { SurprisalView } from './surprisal';
import { COMMAND_TITLES, type CommandId } from './contributes';

export interface Features {
  ctx: Ctx;
  completions: CompletionProvider;
  surprisal: SurprisalView;
  continuation: ContinuationPanel;
  documents: Pick<DocumentSync, 'ensure'>;
}

interface Command {
  run(features: Features, ...args: unknown[]): unknown;
}

/** What each command does; exactly the ids of COMMAND_TITLES (a missing or extra one is a type error). */
export const COMMANDS = {
  'megabyte.summarizeContinuation': {
    run: (f): Promise<CompleteResult | undefined> => f.continuation.run(),
  },
  'megabyte.selectModel': {
    // A directory argument loads it without the picker (keybindings, tests).
    run: (f, dir): Promise<ModelInfo | undefined> => (typeof dir === 'string' ? f.ctx.loadModel(dir) : selectModel(f)),
  },
  'megabyte.toggleSurprisal': {
    run: (f): Promise<ScoreResult | undefined> => f.surprisal.toggle(),
  },
  'megabyte.togglePause': {
    run: (f): boolean => {
      f.ctx.setPaused(!f.ctx.paused);
      return f.ctx.paused;
    },
  },
  'megabyte.showLog': {
    run: (f): void => f.ctx.log.show(),
  },
  'megabyte.showContext': {
    // The picker lists what the current file gets; `false` as argument returns it without the picker (tests).
    run: (f, pick): Promise<ContextInfo | undefined> => showContext(f, pick !== false),
  },
} satisfies { [K in CommandId]: Command };

export type { CommandId };

/** Registers every command of COMMAND_TITLES with its run function. */
export function registerCommands(features: Features): vscode.Disposable[] {
  return (Object.keys(COMMAND_TITLES) as CommandId[]).map((id) => {
    const command: Command = COMMANDS[id];
    return vscode.commands.registerCommand(id, (...args: unknown[]) => command.run(features, ...args));
  });
}

async function selectModel(f: Features): Promise<ModelInfo | undefined> {
  const { ctx } = f;
  const choice = await pickModel({
    listModels: () => ctx.listModels(),
    current: () => ctx.engine.model,
    executionProviders: () => ctx.config.engineOptions().executionProviders,
    isPaused: () => ctx.paused,
  });
  switch (choice?.kind) {
    case undefined:
      return undefined;
    case 'pause':
    case 'resume':
      ctx.setPaused(choice.kind === 'pause');
      return ctx.engine.model;
    case 'log':
      ctx.log.show();
      return ctx.engine.model;
    case 'model': {
      const info = await ctx.loadModel(choice.entry.dir);
      // Remember the choice for the next window, when the name leads back to this very directory
      // (the config listener then finds this model already serving and does nothing).
      if (info && sameDir(resolveModel(await ctx.listModels(), choice.entry.name)?.dir, choice.entry.dir)) {
        await vscode.workspace.getConfiguration('megabyte.models').update('default', choice.entry.name, vscode.ConfigurationTarget.Global);
      }
      return info;
    }
  }
}

/** The workspace context of the active editor's document, most relevant first, with why each file was chosen. */
async function showContext(f: Features, pick: boolean): Promise<ContextInfo | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('MEGABYTE: open a file to see its context.');
    return undefined;
  }
  const doc = editor.document;
  f.documents.ensure(doc);
  const info = await f.ctx.engine.context(doc.uri.toString());
  if (!pick) return info;
  const kb = (n: number) => `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  const name = path.basename(doc.uri.path);
  const items: (vscode.QuickPickItem & { file?: string })[] = [...info.parts].reverse().map((p) => ({
    label: vscode.workspace.asRelativePath(p.path),
    description: p.why ?? p.reason,
    detail: kb(p.bytes),
    file: p.path,
  }));
  const indexed = info.indexed;
  if (!items.length) {
    const why = indexed?.files
      ? 'The network reads the file alone (megabyte.context.workspaceBytes); the match models copy from the files below.'
      : !info.index
      ? 'Workspace context is off (megabyte.context.workspace, an untrusted workspace, or no local folder open): the file is read alone.'
      : !info.index.done ? `Listing the workspace's files (${info.index.files} so far)…` : 'Nothing chosen yet: the file gets its context the next time it is encoded (move the cursor or type).';
    items.push({ label: why });
  }
  // the files the match models copy from besides (megabyte.context.indexBytes), after the stream's
  if (indexed?.files) {
    const inStream = new Set(info.parts.map((p) => p.path));
    items.push({ label: `The match models also index ${indexed.files} files, ${kb(indexed.bytes)}`, kind: vscode.QuickPickItemKind.Separator });
    for (const p of indexed.paths) items.push({ label: vscode.workspace.asRelativePath(p), description: inStream.has(p) ? 'indexed (also in the stream)' : 'indexed for the match models', file: p });
  }
  const index = info.index ? ` · ${info.index.files} files listed${info.index.done ? '' : ' so far'}` : '';
  const indexedTitle = indexed?.files ? ` · match models index ${indexed.files} files, ${kb(indexed.bytes)}` : '';
  const choice = await vscode.window.showQuickPick(items, {
    title: `Context of ${name}: ${info.files} files, ${kb(info.bytes)}${index}${indexedTitle}`,
    placeHolder: 'Files the model reads before this one, most relevant first; pick one to open it',
  });
  if (choice?.file) await vscode.window.showTextDocument(vscode.Uri.file(choice.file));
  return info;
}
