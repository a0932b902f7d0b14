// The status bar item: which model serves, on which device, and what the engine is doing.
// Rendered from three inputs (engine state, the model serving, paused) so no transition can
// leave it showing something stale.

import * as vscode from 'vscode';
import type { Engine, EngineState, ModelInfo } from '../engine/api';
import { epLabel } from './continuationHtml';
import { formatBytes } from './models';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private state: EngineState = { kind: 'idle' };
  private paused = false;
  /** The workspace context of the last answer: which file, how many other files and bytes, and what the match models index. */
  private context: { name: string; files: number; bytes: number; near: boolean; indexed?: { files: number; bytes: number } } | undefined;

  constructor(private readonly engine: () => Pick<Engine, 'model'> | undefined) {
    this.item = vscode.window.createStatusBarItem('megabyte.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'MEGABYTE';
    this.item.command = 'megabyte.selectModel';
    this.render();
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  /** The hover text, as Markdown source. */
  get tooltipText(): string {
    const t = this.item.tooltip;
    return t === undefined ? '' : typeof t === 'string' ? t : t.value;
  }

  setState(state: EngineState): void {
    this.state = state;
    this.render();
  }

  /** After an answer: how much of the workspace it drew on (the hover says it). */
  setContext(uri: string, files: number, bytes: number, near: boolean, indexed?: { files: number; bytes: number }): void {
    const c = this.context;
    const name = lastSegment(uri);
    if (c && c.name === name && c.files === files && c.bytes === bytes && c.near === near && c.indexed?.files === indexed?.files && c.indexed?.bytes === indexed?.bytes) return;
    this.context = { name, files, bytes, near, indexed: indexed && { files: indexed.files, bytes: indexed.bytes } };
    this.render();
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.render();
  }

  /** After a request finished: an 'encoding' the engine did not close with a later state is over. */
  settle(): void {
    const model = this.engine()?.model;
    if (this.state.kind === 'encoding' && model) this.setState({ kind: 'ready', model });
  }

  private render(): void {
    const s = this.state;
    const serving = s.kind === 'ready' ? s.model : this.engine()?.model;
    const name = serving ? `${serving.name} · ${epLabel(serving.ep)}` : undefined;
    const item = this.item;
    item.backgroundColor = undefined;
    switch (s.kind) {
      case 'loading':
        item.text = `$(loading~spin) MEGABYTE ${s.model}`;
        item.tooltip = tooltip(`Loading **${md(s.model)}**…`, serving, serving ? 'The current model serves until the new one is ready.' : undefined);
        break;
      case 'encoding':
        item.text = `$(loading~spin) MEGABYTE${name ? ` ${name}` : ''} · encoding ${Math.round(s.percent)}%`;
        item.tooltip = tooltip(`Encoding the context of ${lastSegment(s.uri)}: ${Math.round(s.percent)}%${this.contextLine()}`, serving);
        break;
      case 'error':
        item.text = `$(error) MEGABYTE${name ? ` ${name}` : ''}`;
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        item.tooltip = tooltip(`**Error:** ${md(s.message)}`, serving, 'Click to select a model; see **MEGABYTE: Show log** for details.');
        break;
      case 'ready':
      case 'idle':
        if (!serving) {
          item.text = '$(sparkle) MEGABYTE · no model';
          item.tooltip = tooltip('No model loaded.', undefined, 'Click to select a model.');
        } else if (this.paused) {
          item.text = `$(debug-pause) MEGABYTE ${name} · paused`;
          item.tooltip = tooltip('Completions are **paused**.', serving, 'Click to select a model or resume.');
        } else {
          item.text = `$(sparkle) MEGABYTE ${name}`;
          item.tooltip = tooltip(`Ready.${this.contextLine()}`, serving, 'Click to select a model or pause completions.');
        }
        break;
    }
  }

  private contextLine(): string {
    const c = this.context;
    if (!c) return '';
    if (c.near) return `\n\nThe last suggestion in ${c.name} came from the text near the cursor; its full context is still encoding.`;
    const kb = (c.bytes / 1024).toFixed(c.bytes < 10240 ? 1 : 0);
    const stream = c.files ? `\n\nContext of ${c.name}: **${c.files} other ${c.files === 1 ? 'file' : 'files'}** of the workspace, ${kb} KB (**MEGABYTE: Show context** lists them).` : `\n\nContext of ${c.name}: the file alone.`;
    return stream + indexLine(c.indexed);
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** The match models' workspace index, as the hover says it (nothing when there is none). */
export function indexLine(indexed: { files: number; bytes: number } | undefined): string {
  if (!indexed?.files) return '';
  const size = indexed.bytes < 1024 * 1024 ? `${(indexed.bytes / 1024).toFixed(indexed.bytes < 10240 ? 1 : 0)} KB` : `${(indexed.bytes / 1024 / 1024).toFixed(1)} MB`;
  return `\n\nThe match models also copy from **${indexed.files} ${indexed.files === 1 ? 'file' : 'files'}**, ${size}, indexed (\`megabyte.context.indexBytes\`).`;
}

function tooltip(headline: string, model: ModelInfo | undefined, footer?: string): vscode.MarkdownString {
  const lines = [headline, ''];
  if (model) {
    lines.push(
      `| | |`,
      `|---|---|`,
      `| Model | ${md(model.name)} |`,
      `| Device | ${epLabel(model.ep)} |`,
      `| Parameters | ${(model.parameters / 1e6).toFixed(1)}M |`,
      `| Patch sizes | ${model.patchSizes.join(' × ')} |`,
      `| Size | ${formatBytes(model.sizeBytes)} |`,
    );
    if (model.heldoutBpb !== undefined) lines.push(`| Held-out | ${model.heldoutBpb.toFixed(3)} bits/byte |`);
    lines.push(`| Confidence | ${model.uncalibrated === undefined ? 'calibrated: unsure suggestions are cut or held back' : 'not calibrated: every suggestion is shown'} |`);
    lines.push('');
    if (model.uncalibrated !== undefined) lines.push(md(model.uncalibrated), '');
    // A fallback is why a user with a GPU sees "CPU": say which provider failed and why.
    for (const f of model.fallbacks) lines.push(`${epLabel(f.ep)} unavailable: ${md(f.error)}`, '');
  }
  if (footer) lines.push(footer);
  const tip = new vscode.MarkdownString(lines.join('\n'));
  tip.isTrusted = false;
  tip.supportThemeIcons = true;
  return tip;
}

/** Model names and engine errors are not Markdown: escape what would format or link. */
function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&').replace(/\n/g, ' ');
}

function lastSegment(uri: string): string {
  const segment = uri.slice(uri.lastIndexOf('/') + 1);
  try {
    return md(decodeURIComponent(segment));
  } catch {
    return md(segment); // not valid percent-encoding: show it as it is
  }
}
