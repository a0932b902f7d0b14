// Every command in one table, all registered at activation. Their ids and titles are
// contributes.ts's COMMAND_TITLES (package.json contributes the same, held together by
// test/unit/contributes.test.ts, and hides some by context keys such as megabyte.modelReady).

import * as vscode from 'vscode';
import type { CompleteResult, ModelInfo, ScoreResult } from '../engine/api';
import type { CompletionProvider } from './completionProvider';
import type { ContinuationPanel } from './continuationPanel';
import type { Ctx } from './ctx';
import { pickModel } from './modelPicker';
import { resolveModel, sameDir } from './models';
import type { SurprisalView } from './surprisal';
import { COMMAND_TITLES, type CommandId } from './contributes';

export interface Features {
  ctx: Ctx;
  completions: CompletionProvider;
  surprisal: SurprisalView;
  continuation: ContinuationPanel;
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
