// The one owner of the extension's lifetime (after rust-analyzer's ctx.ts): the engine, the log,
// the status bar, and two disposal lists. The extension list lives until deactivation; the model
// list lives for one model session and is disposed when another model takes over, so switching
// models needs no window reload.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Engine, EngineState, ModelInfo } from '../engine/api';
import { startEngine, type StartOptions } from '../engine/client';
import { Config } from './config';
import { epLabel } from './continuationHtml';
import { listModels, resolveModel, sameDir, type ModelEntry, type ModelRoot } from './models';
import { StatusBar } from './statusBar';
import { epochMs, trace } from './trace';

export class Ctx implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly config: Config;
  readonly status: StatusBar;
  readonly engine: Engine;

  private readonly extensionDisposables: vscode.Disposable[] = [];
  private modelDisposables: vscode.Disposable[] = [];
  private readonly modelChanged = new vscode.EventEmitter<ModelInfo>();
  /** Fires when a newly loaded model starts serving. */
  readonly onDidChangeModel = this.modelChanged.event;

  private _paused = false;
  private disposing: Promise<void> | undefined;

  constructor(
    readonly extension: Pick<vscode.ExtensionContext, 'extensionPath' | 'extensionUri'>,
    start: (options: StartOptions) => Engine = startEngine,
  ) {
    this.log = vscode.window.createOutputChannel('MEGABYTE', { log: true });
    this.config = new Config();
    try {
      // The worker's own messages (restarts, crashes) go to the same log as ours.
      this.engine = start({ ...this.config.engineOptions(), log: (level, message) => this.log[level](message) });
    } catch (err) {
      // Without a worker nothing works; say why before activation fails.
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`Could not start the engine: ${message}`);
      this.showError(`could not start the engine: ${message}`);
      throw err;
    }
    this.status = new StatusBar(() => this.engine);
    this.pushExtensionCleanup(
      this.modelChanged,
      this.engine.onState((s) => this.onEngineState(s)),
    );
    void setContext('megabyte.paused', false);
    void setContext('megabyte.modelReady', false);
  }

  get paused(): boolean {
    return this._paused;
  }

  setPaused(paused: boolean): void {
    this._paused = paused;
    this.status.setPaused(paused);
    void setContext('megabyte.paused', paused);
    this.log.info(paused ? 'Completions paused' : 'Completions resumed');
  }

  pushExtensionCleanup(...disposables: vscode.Disposable[]): void {
    this.extensionDisposables.push(...disposables);
  }

  /** Cleanup for what belongs to the model now serving (its scores, its work in flight). */
  pushModelCleanup(...disposables: vscode.Disposable[]): void {
    this.modelDisposables.push(...disposables);
  }

  /** Bundled models (models/*, but not models/training) and the user's models folder. */
  async listModels(): Promise<ModelEntry[]> {
    const roots: ModelRoot[] = [{ dir: path.join(this.extension.extensionPath, 'models'), source: 'bundled', skip: ['training'] }];
    const folder = this.config.models().folder;
    if (folder) roots.push({ dir: folder, source: 'user' });
    return listModels(roots);
  }

  /**
   * Loads a model directory. The engine keeps the previous model serving until the new one is
   * ready; on failure it goes on serving and the user gets an error with a "Show log" action.
   */
  async loadModel(dir: string): Promise<ModelInfo | undefined> {
    this.log.info(`Loading model ${dir}`);
    const t0 = epochMs();
    try {
      const info = await this.engine.load(dir);
      trace({ kind: 'model', tLoad: t0, tReady: epochMs(), name: info.name, ep: info.ep });
      this.log.info(
        `Model ${info.name} serving on ${epLabel(info.ep)}: ${(info.parameters / 1e6).toFixed(1)}M parameters, ` +
          `patch sizes ${info.patchSizes.join('×')}` +
          (info.heldoutBpb !== undefined ? `, held-out ${info.heldoutBpb.toFixed(3)} bits/byte` : ''),
      );
      for (const f of info.fallbacks) this.log.warn(`${epLabel(f.ep)} unavailable, fell back: ${f.error}`);
      // Once per load, not per request (the status bar's hover says it too).
      if (info.uncalibrated) this.log.info(`Model ${info.name}: ${info.uncalibrated}`);
      this.startModelSession(info);
      return info;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`Could not load model ${dir}: ${message}`);
      const serving = this.engine.model;
      // The engine may have reported the failure as its state; the previous model still serves.
      this.status.setState(serving ? { kind: 'ready', model: serving } : { kind: 'error', message });
      this.showError(`could not load the model in ${dir}: ${message}${serving ? ` (${serving.name} keeps serving)` : ''}`);
      return undefined;
    }
  }

  /**
   * Loads the model the settings name, if it is not the one serving (or always, with `force`:
   * execution providers and threads take effect only in a new session).
   */
  async loadConfiguredModel(force = false): Promise<ModelInfo | undefined> {
    const wanted = this.config.models().default;
    const entry = resolveModel(await this.listModels(), wanted);
    if (!entry) {
      if (wanted !== '') this.showError(`no model named "${wanted}" in the bundled models or in megabyte.models.folder.`, 'warning');
      else this.log.warn('No model found: bundled models are missing and megabyte.models.folder is not set');
      // Settings for a new session still apply to the model serving.
      return force && this.engine.model ? this.loadModel(this.engine.model.dir) : undefined;
    }
    if (!force && sameDir(this.engine.model?.dir, entry.dir)) return this.engine.model;
    return this.loadModel(entry.dir);
  }

  showError(message: string, severity: 'error' | 'warning' = 'error'): void {
    const text = `MEGABYTE: ${message}`;
    const shown = severity === 'error' ? vscode.window.showErrorMessage(text, 'Show log') : vscode.window.showWarningMessage(text, 'Show log');
    void shown.then((choice) => {
      if (choice) this.log.show();
    });
  }

  private startModelSession(info: ModelInfo): void {
    disposeAll(this.modelDisposables);
    this.modelDisposables = [];
    void setContext('megabyte.modelReady', true);
    this.modelChanged.fire(info);
  }

  private onEngineState(s: EngineState): void {
    this.status.setState(s);
    switch (s.kind) {
      case 'encoding':
        this.log.trace(`encoding ${s.uri}: ${s.percent.toFixed(0)}%`);
        break;
      case 'error':
        this.log.error(`engine: ${s.message}`);
        break;
      case 'loading':
        this.log.debug(`engine: loading ${s.model}`);
        break;
      default:
        this.log.debug(`engine: ${s.kind}`);
    }
    void setContext('megabyte.modelReady', this.engine.model !== undefined);
  }

  /** Idempotent; resolves when the engine's worker has shut down. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      disposeAll(this.modelDisposables);
      disposeAll(this.extensionDisposables);
      try {
        await this.engine.dispose();
      } catch (err) {
        this.log.error(`engine shutdown: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.status.dispose();
      this.log.dispose();
    })();
    return this.disposing;
  }
}

/** Last in, first out: later registrations may depend on earlier ones. Throws nothing. */
function disposeAll(disposables: vscode.Disposable[]): void {
  while (disposables.length > 0) {
    try {
      disposables.pop()!.dispose();
    } catch {
      // One failing cleanup must not keep the others from running.
    }
  }
}

function setContext(key: string, value: unknown): Thenable<unknown> {
  return vscode.commands.executeCommand('setContext', key, value);
}
