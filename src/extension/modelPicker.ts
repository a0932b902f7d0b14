// The model QuickPick: bundled models and the user's folder, each with its size, the device it
// runs (or would try) on and its held-out bits per byte, plus pause/resume. It only picks; the
// caller loads (so a failed load keeps the previous model serving, see Ctx.loadModel).

import * as vscode from 'vscode';
import type { ExecutionProvider, ModelInfo } from '../engine/api';
import { epLabel } from './continuationHtml';
import { formatBytes, sameDir, type ModelEntry } from './models';

export type PickerChoice = { kind: 'model'; entry: ModelEntry } | { kind: 'pause' } | { kind: 'resume' } | { kind: 'log' };

export interface PickerDeps {
  listModels(): Promise<ModelEntry[]>;
  current(): ModelInfo | undefined;
  executionProviders(): readonly ExecutionProvider[];
  isPaused(): boolean;
}

type Item = vscode.QuickPickItem & { choice?: PickerChoice };

export async function pickModel(deps: PickerDeps): Promise<PickerChoice | undefined> {
  const picked = await vscode.window.showQuickPick(items(deps), {
    title: 'MEGABYTE: select model',
    placeHolder: 'Model for completions (the current one keeps serving until the new one is loaded)',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return picked?.choice;
}

async function items(deps: PickerDeps): Promise<Item[]> {
  const models = await deps.listModels();
  const current = deps.current();
  const wouldTry = deps.executionProviders().map(epLabel).join(' → ');
  const out: Item[] = [];
  for (const source of ['bundled', 'user'] as const) {
    const group = models.filter((m) => m.source === source);
    if (group.length === 0) continue;
    out.push({ label: source === 'bundled' ? 'Bundled' : 'Models folder', kind: vscode.QuickPickItemKind.Separator });
    for (const entry of group) {
      const serving = current !== undefined && sameDir(current.dir, entry.dir);
      const figures = [
        formatBytes(entry.sizeBytes),
        serving ? `on ${epLabel(current.ep)}` : wouldTry,
        entry.heldoutBpb !== undefined ? `${entry.heldoutBpb.toFixed(3)} bits/byte held-out` : undefined,
      ];
      out.push({
        label: `${serving ? '$(check)' : '$(circle-large-outline)'} ${entry.name}`,
        description: figures.filter((f) => f !== undefined).join(' · '),
        detail: [entry.description, entry.dir].filter((d) => d).join(' — '),
        choice: { kind: 'model', entry },
      });
    }
  }
  if (models.length === 0) {
    out.push({ label: '$(info) No models found', description: 'set megabyte.models.folder to a folder of model directories', alwaysShow: true });
  }
  out.push({ label: 'Completions', kind: vscode.QuickPickItemKind.Separator });
  out.push(
    deps.isPaused()
      ? { label: '$(play) Resume completions', choice: { kind: 'resume' } }
      : { label: '$(debug-pause) Pause completions', choice: { kind: 'pause' } },
  );
  out.push({ label: '$(output) Show log', choice: { kind: 'log' } });
  return out;
}
