// The extension host's side of the engine: a worker_thread that owns onnxruntime, spoken to by
// messages. Nothing here blocks: every call is a message, cancellation is a shared flag the
// worker reads between model runs, and a worker that dies is restarted (the model reloaded,
// the documents re-sent) while pending requests fail with a 'worker' error.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompleteRequest, CompleteResult, ContextInfo, Engine, EngineOptions, EngineState, ModelInfo, ScoreRequest, ScoreResult, TextEdit, WorkspaceConfig } from './api';
import { DEFAULT_OPTIONS, EngineError, WORKSPACE_OFF } from './api';
import { epochMs, type FromWorker, type ToWorker, type WorkerTiming } from './protocol';

/** A completion as the worker engine returns it: with the worker's timing of the request. */
export type TimedResult = CompleteResult & { worker?: WorkerTiming };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number, total: number) => void;
}

/**
 * How long dispose() waits for the worker to stop between two model runs (its 'stopped') before
 * terminating it anyway: the running request or encode is cancelled at its next check, within one
 * chunk of model runs (well under a second; a few on a loaded machine), or a model load ends.
 */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface StartOptions extends Partial<EngineOptions> {
  /** Path of the bundled worker (dist/worker.js); found next to this bundle by default. */
  workerPath?: string;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

function defaultWorkerPath(): string {
  for (const p of [path.join(__dirname, 'worker.js'), path.join(__dirname, '..', 'worker.js'), path.join(__dirname, '..', '..', 'worker.js')]) {
    if (existsSync(p)) return p;
  }
  throw new Error(`worker.js not found near ${__dirname}`);
}

export class WorkerEngine implements Engine {
  private worker!: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<(s: EngineState) => void>();
  /** What a restarted worker needs again: the full text where this side has it (sync), else nothing (edit: the owner re-sends it). */
  private docs = new Map<string, { version: number; text?: string; cursor?: number }>();
  private resyncListeners = new Set<(uri: string) => void>();
  private options: EngineOptions;
  private modelDir: string | undefined;
  private workspace: WorkspaceConfig = WORKSPACE_OFF;
  private disposed = false;
  private disposing?: Promise<void>;
  /** Resolves the wait for the worker's 'stopped' (dispose). */
  private onStopped?: () => void;
  model: ModelInfo | undefined;
  /** Times the worker was restarted after dying. */
  restarts = 0;

  constructor(private readonly start: StartOptions = {}) {
    // Only the engine options travel to the worker (a logger function cannot be cloned).
    const { workerPath: _w, log: _l, ...engineOptions } = start;
    this.options = { ...DEFAULT_OPTIONS, ...engineOptions };
    this.spawn();
  }

  private spawn(): void {
    const w = new Worker(this.start.workerPath ?? defaultWorkerPath());
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e) => this.start.log?.('error', `engine worker error: ${e.message}`));
    w.on('exit', (code) => {
      if (this.worker !== w || this.disposed) return;
      this.start.log?.('error', `engine worker exited (code ${code}); restarting`);
      const err = new EngineError(`the engine worker stopped (exit code ${code}); it is being restarted`, 'worker');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.restarts++;
      this.spawn();
      if (this.workspace.enabled) this.post({ type: 'workspace', config: this.workspace });
      if (this.modelDir) {
        this.load(this.modelDir).catch((e) => this.start.log?.('error', `reload after restart failed: ${e.message}`));
      }
      for (const [uri, d] of [...this.docs]) {
        if (d.text !== undefined) this.post({ type: 'sync', uri, version: d.version, text: d.text, cursor: d.cursor });
        else this.resync(uri);
      }
    });
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'result': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        // The worker's timing of a completion travels on its result (see TimedResult).
        if (m.ok) p.resolve(m.timing && typeof m.value === 'object' && m.value !== null ? { ...m.value, worker: m.timing } : m.value);
        else p.reject(new EngineError(m.error.message, m.error.code as EngineError['code']));
        return;
      }
      case 'progress':
        this.pending.get(m.id)?.onProgress?.(m.done, m.total);
        return;
      case 'state':
        if (m.state.kind === 'ready') this.model = m.state.model;
        for (const l of this.listeners) l(m.state);
        return;
      case 'log':
        this.start.log?.(m.level, m.message);
        return;
      case 'resync':
        this.resync(m.uri);
        return;
      case 'stopped':
        this.onStopped?.();
        return;
    }
  }

  private request<T>(make: (id: number) => ToWorker, signal?: AbortSignal, onProgress?: Pending['onProgress'], cancel?: SharedArrayBuffer): Promise<T> {
    if (this.disposed) return Promise.reject(new EngineError('engine disposed', 'worker'));
    if (signal?.aborted) return Promise.reject(new EngineError('cancelled', 'cancelled'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (cancel) Atomics.store(new Int32Array(cancel), 0, 1);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v as T); },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e); },
        onProgress,
      });
      this.post(make(id));
    });
  }

  async load(modelDir: string): Promise<ModelInfo> {
    const info = await this.request<ModelInfo>((id) => ({ type: 'load', id, dir: modelDir, options: this.options }));
    this.modelDir = modelDir;
    this.model = info;
    return info;
  }

  sync(uri: string, version: number, text: string, cursor?: number): void {
    this.docs.set(uri, { version, text, cursor });
    this.post({ type: 'sync', uri, version, text, cursor });
  }

  edit(uri: string, baseVersion: number, version: number, edits: TextEdit[], length: number, cursor?: number): void {
    // Keeping a copy here would cost this thread what edits save; a restart asks the owner instead.
    this.docs.set(uri, { version, cursor });
    this.post({ type: 'edit', uri, baseVersion, version, edits, length, cursor });
  }

  focus(uri: string, cursor: number): void {
    const d = this.docs.get(uri);
    if (d) d.cursor = cursor;
    this.post({ type: 'focus', uri, cursor });
  }

  onResync(listener: (uri: string) => void): { dispose(): void } {
    this.resyncListeners.add(listener);
    return { dispose: () => this.resyncListeners.delete(listener) };
  }

  private resync(uri: string): void {
    this.docs.delete(uri);
    for (const l of this.resyncListeners) l(uri);
  }

  close(uri: string): void {
    this.docs.delete(uri);
    this.post({ type: 'close', uri });
  }

  complete(req: CompleteRequest, signal?: AbortSignal): Promise<TimedResult> {
    const cancel = new SharedArrayBuffer(4);
    return this.request<TimedResult>((id) => ({ type: 'complete', id, req, cancel, sentAt: epochMs() }), signal, undefined, cancel);
  }

  score(req: ScoreRequest, signal?: AbortSignal, onProgress?: (fraction: number) => void): Promise<ScoreResult> {
    const cancel = new SharedArrayBuffer(4);
    return this.request<ScoreResult>((id) => ({ type: 'score', id, req, cancel }), signal,
      onProgress && ((done, total) => onProgress(total ? done / total : 1)), cancel);
  }

  stats(): Promise<{ cacheBytes: number; documents: string[]; rss: number }> {
    return this.request((id) => ({ type: 'stats', id }));
  }

  /** Test hook: kills the worker as a crash would. */
  crashWorkerForTest(): void {
    this.post({ type: 'crash' });
  }

  onState(listener: (s: EngineState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  configure(opts: Partial<EngineOptions>): void {
    this.options = { ...this.options, ...opts };
    this.post({ type: 'configure', options: opts });
  }

  configureWorkspace(cfg: WorkspaceConfig): void {
    this.workspace = cfg;
    this.post({ type: 'workspace', config: cfg });
  }

  workspaceFiles(changed: string[], deleted: string[]): void {
    this.post({ type: 'files', changed, deleted });
  }

  context(uri: string): Promise<ContextInfo> {
    return this.request<ContextInfo>((id) => ({ type: 'context', id, uri }));
  }

  /**
   * Stops the worker: first asks it to stop between two model runs ('shutdown', answered by
   * 'stopped' once no run is in flight and its sessions are released), then terminates it.
   * worker.terminate() alone, while onnxruntime-node is inside a session's run() (a background
   * encode, a completion), aborts the whole process (SIGABRT from the binding: the error it meets
   * on the way back into the terminating thread cannot be thrown). After SHUTDOWN_GRACE_MS
   * without an answer (a worker stuck in a run) it is terminated anyway. Idempotent.
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.disposed = true;
      for (const p of this.pending.values()) p.reject(new EngineError('engine disposed', 'worker'));
      this.pending.clear();
      const w = this.worker;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          w.off('exit', done);
          this.onStopped = undefined;
          resolve();
        };
        const timer = setTimeout(() => {
          this.start.log?.('warn', `the engine worker did not stop within ${SHUTDOWN_GRACE_MS} ms; terminating it`);
          done();
        }, SHUTDOWN_GRACE_MS);
        this.onStopped = done;
        w.on('exit', done);
        w.postMessage({ type: 'shutdown' } satisfies ToWorker);
      });
      await w.terminate();
    })();
    return this.disposing;
  }
}

export function startEngine(options: StartOptions = {}): WorkerEngine {
  return new WorkerEngine(options);
}
