// Messages between the extension host (client.ts) and the inference worker (worker.ts).
import type { CompleteRequest, EngineOptions, ErrorCode, EngineState, ScoreRequest, TextEdit, WorkspaceConfig } from './api';

export type ToWorker =
  | { type: 'load'; id: number; dir: string; options: EngineOptions }
  | { type: 'configure'; options: Partial<EngineOptions> }
  | { type: 'sync'; uri: string; version: number; text: string; cursor?: number }
  | { type: 'edit'; uri: string; baseVersion: number; version: number; edits: TextEdit[]; length: number; cursor?: number }
  | { type: 'close'; uri: string }
  | { type: 'focus'; uri: string; cursor: number }
  | { type: 'complete'; id: number; req: CompleteRequest; cancel: SharedArrayBuffer; sentAt?: number }
  | { type: 'score'; id: number; req: ScoreRequest; cancel: SharedArrayBuffer }
  | { type: 'stats'; id: number }
  | { type: 'workspace'; config: WorkspaceConfig }
  | { type: 'files'; changed: string[]; deleted: string[] }
  | { type: 'context'; id: number; uri: string }
  | { type: 'crash' }
  /** The client disposes the engine: stop between two model runs, release the sessions, answer 'stopped'. */
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'result'; id: number; ok: true; value: unknown; timing?: WorkerTiming }
  | { type: 'result'; id: number; ok: false; error: { message: string; code: ErrorCode } }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'state'; state: EngineState }
  | { type: 'resync'; uri: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  /** After 'shutdown': no model run is in flight or will start; the worker may be terminated. */
  | { type: 'stopped' };

/** A cancellation flag the client flips and the worker reads between model runs (no message round trip needed). */
export function cancelFlag(buf: SharedArrayBuffer): { readonly cancelled: boolean } {
  const a = new Int32Array(buf);
  return { get cancelled() { return Atomics.load(a, 0) === 1; } };
}

/** Epoch milliseconds, sub-millisecond: the same clock on both sides of the worker boundary. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Where a request's time went before the engine ran it: `blockedMs` from the client's send to
 * the worker's event loop seeing it (a model run of background work not yet pre-empted),
 * `queuedMs` from there to its start (the rest of a background chunk, or requests ahead of it),
 * `behind` what the worker was doing when it arrived, `runMs` the engine call itself.
 */
export interface WorkerTiming {
  blockedMs: number;
  queuedMs: number;
  runMs: number;
  behind: 'idle' | 'encode' | 'request';
}
