// The inference worker: owns the ONNX sessions and every document cache. onnxruntime-node's
// run() blocks the thread it is called on, so none of this may run on the extension host's
// thread. Requests run one at a time; between them the worker encodes documents ahead of the
// next keystroke, and any arriving request pre-empts that background work within one chunk.
import { parentPort } from 'node:worker_threads';
import { DEFAULT_OPTIONS, EngineError } from './api';
import type { EngineState } from './api';
import { CancelledError } from './decoder';
import { EngineCore } from './engine';
import { ModelRuntime } from './runtime';
import { cancelFlag, epochMs, FromWorker, ToWorker, WorkerTiming } from './protocol';
import { WorkspaceContext } from './context';

const port = parentPort!;
let core: EngineCore | undefined;
const queue: ToWorker[] = [];
let busy = false;
/** Documents to encode in the background: uri -> cursor (UTF-16). */
const toEncode = new Map<string, number>();
const background = { cancelled: false };
/**
 * Set by the client's 'shutdown' (WorkerEngine.dispose): the running request or background encode
 * is cancelled at its next check, nothing else starts, and once the pump is idle the sessions are
 * released and the client told 'stopped'. Terminating the worker while onnxruntime-node is inside
 * a session's run() aborts the whole process (the binding's error on the way back into a
 * terminating thread cannot be thrown: std::terminate, SIGABRT), so the client waits for this.
 */
let stopping = false;
/** Resolvers waiting for the pump to stop (shutdown). */
let pumpStopped: (() => void)[] = [];
/** What the worker is doing, for the timing of a request that arrives meanwhile. */
let doing: WorkerTiming['behind'] = 'idle';
/** Completion requests received and not yet started: id -> when and behind what they arrived. */
const arrivals = new Map<number, { at: number; sentAt?: number; behind: WorkerTiming['behind'] }>();

/** Resolvers of background work (workspace discovery) waiting for the worker to have no request. */
let idleWaiters: (() => void)[] = [];
const requestWaiting = () => doing === 'request' || queue.some((m) => m.type === 'complete' || m.type === 'score' || m.type === 'load');

/** Resolves once no request is queued or running: background work never delays one. */
function whenIdle(): Promise<void> {
  return new Promise((resolve) => {
    if (!requestWaiting()) setImmediate(resolve);
    else idleWaiters.push(resolve);
  });
}

function wakeIdle(): void {
  if (requestWaiting() || !idleWaiters.length) return;
  const w = idleWaiters;
  idleWaiters = [];
  for (const r of w) setImmediate(r);
}

/** The document last encoded ahead (the one being edited): a switch to another gives that one its context again. */
let active: string | undefined;
/** The document the background is encoding now, if any. */
let encoding: string | undefined;

const workspace = new WorkspaceContext(whenIdle, (level, message) => post({ type: 'log', level, message }), () => {
  // a better context for the document being edited, now that every file is listed
  if (active && core?.documents().includes(active) && !toEncode.has(active)) toEncode.set(active, cursors.get(active) ?? 0);
  void pump();
});
/** The last cursor the extension sent per document. */
const cursors = new Map<string, number>();

function encodeAhead(uri: string, cursor: number): void {
  if (uri !== active) {
    active = uri;
    workspace.stale(uri);
  }
  cursors.set(uri, cursor);
  toEncode.set(uri, cursor);
}

/** The document's workspace context, chosen again when it is stale; a failure leaves the document without it, never unencoded. */
async function giveContext(c: EngineCore, uri: string): Promise<void> {
  try {
    if (workspace.needs(uri)) await workspace.assemble(c, uri);
    else if (!workspace.enabled) c.setContext(uri, []);
  } catch (e) {
    post({ type: 'log', level: 'warn', message: `workspace context for ${uri} failed: ${(e as Error).message}` });
    if (core?.documents().includes(uri)) c.setContext(uri, []);
  }
}

function post(m: FromWorker): void {
  port.postMessage(m);
}

function state(s: EngineState): void {
  post({ type: 'state', state: s });
}

function fail(id: number, e: unknown): void {
  const code = e instanceof CancelledError ? 'cancelled' : e instanceof EngineError ? e.code : (e as Error)?.name === 'ModelError' ? 'model' : 'runtime';
  post({ type: 'result', id, ok: false, error: { message: (e as Error)?.message ?? String(e), code } });
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'load': {
      state({ kind: 'loading', model: m.dir });
      try {
        const rt = await ModelRuntime.load(m.dir, { executionProviders: m.options.executionProviders, threads: m.options.threads });
        if (core) await core.replaceRuntime(rt);
        else {
          core = new EngineCore(rt, m.options);
          core.externalBytes = () => workspace.bytes();
        }
        core.options = { ...m.options };
        const info = core.info();
        post({ type: 'result', id: m.id, ok: true, value: info });
        for (const f of info.fallbacks) post({ type: 'log', level: 'warn', message: `execution provider ${f.ep} unavailable: ${f.error}` });
        state({ kind: 'ready', model: info });
      } catch (e) {
        fail(m.id, e);
        // The previous model, if any, keeps serving.
        state(core ? { kind: 'ready', model: core.info() } : { kind: 'error', message: (e as Error).message });
      }
      return;
    }
    case 'configure':
      if (core) core.options = { ...core.options, ...m.options };
      return;
    case 'sync':
      core?.sync(m.uri, m.version, m.text);
      // Only documents with a cursor (the one being edited) are encoded ahead; others wait for a request.
      if (core && m.cursor !== undefined) encodeAhead(m.uri, m.cursor);
      return;
    case 'edit':
      if (!core) return;
      if (core.edit(m.uri, m.baseVersion, m.version, m.edits, m.length)) {
        workspace.noteEdit(m.uri);
        if (m.cursor !== undefined) encodeAhead(m.uri, m.cursor);
      } else {
        toEncode.delete(m.uri);
        post({ type: 'log', level: 'warn', message: `edit of ${m.uri} v${m.baseVersion}→v${m.version} did not apply; asking for the full text` });
        post({ type: 'resync', uri: m.uri });
      }
      return;
    case 'focus':
      if (core?.documents().includes(m.uri)) encodeAhead(m.uri, m.cursor);
      return;
    case 'close':
      core?.close(m.uri);
      toEncode.delete(m.uri);
      cursors.delete(m.uri);
      workspace.stale(m.uri);
      return;
    case 'stats':
      post({ type: 'result', id: m.id, ok: true, value: { cacheBytes: core?.cacheBytes() ?? 0, indexBytes: workspace.bytes(), crossIndexBytes: core?.crossIndex?.bytes() ?? 0, documents: core?.documents() ?? [], rss: process.memoryUsage().rss } });
      return;
    case 'workspace':
      workspace.configure(m.config, (core?.options ?? DEFAULT_OPTIONS).memoryBudgetBytes);
      // the match models' index belongs to the old configuration; the next assembly builds it again
      core?.setCrossIndex(undefined);
      // the document being edited gets (or loses) its context now; the others when they are next
      // edited or asked for (re-encoding every file ever edited would keep the cores busy for long)
      if (active && core?.documents().includes(active)) toEncode.set(active, cursors.get(active) ?? 0);
      return;
    case 'files':
      void workspace.filesChanged(m.changed, m.deleted);
      return;
    case 'context': {
      const known = core?.documents().includes(m.uri);
      // asked before the document was encoded ahead (opened without a cursor): choose its context now, in the background
      if (known && workspace.needs(m.uri) && !toEncode.has(m.uri)) toEncode.set(m.uri, cursors.get(m.uri) ?? core!.openDocuments().find((d) => d.uri === m.uri)!.text.length);
      post({ type: 'result', id: m.id, ok: true, value: { ...(core && known ? core.contextOf(m.uri) : { parts: [], files: 0, bytes: 0 }), index: workspace.info() } });
      return;
    }
    case 'crash':
      process.exit(70); // test hook: the client must restart the worker
    case 'complete':
    case 'score': {
      if (!core) return fail(m.id, new EngineError('no model loaded', 'model'));
      const flag = cancelFlag(m.cancel);
      const cancel = { get cancelled() { return stopping || flag.cancelled; } };
      const fallbacksBefore = core.rt.fallbacks.length;
      const progress = (done: number, total: number) => post({ type: 'progress', id: m.id, done, total });
      const arrival = m.type === 'complete' ? arrivals.get(m.id) : undefined;
      arrivals.delete(m.id);
      const startedAt = epochMs();
      doing = 'request';
      try {
        const value = m.type === 'complete' ? await core.complete(m.req, cancel, progress) : await core.score(m.req, cancel, progress);
        // served from the near window: the full stream goes on encoding in the background
        // (or its workspace context is stale): the background does that after the answer
        if (m.type === 'complete' && ((value as { window?: string }).window === 'near' || workspace.needs(m.req.uri)) && !toEncode.has(m.req.uri)) toEncode.set(m.req.uri, m.req.offset);
        const timing: WorkerTiming | undefined = arrival && {
          blockedMs: arrival.sentAt === undefined ? 0 : Math.max(0, arrival.at - arrival.sentAt),
          queuedMs: startedAt - arrival.at,
          runMs: epochMs() - startedAt,
          behind: arrival.behind,
        };
        post({ type: 'result', id: m.id, ok: true, value, timing });
      } catch (e) {
        fail(m.id, e);
      } finally {
        doing = 'idle';
        wakeIdle();
      }
      if (core.rt.fallbacks.length > fallbacksBefore) {
        for (const f of core.rt.fallbacks.slice(fallbacksBefore)) post({ type: 'log', level: 'warn', message: `execution provider ${f.ep} failed: ${f.error}` });
        state({ kind: 'ready', model: core.info() });
      }
      return;
    }
  }
}

async function pump(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    for (;;) {
      if (stopping) break;
      const m = queue.shift();
      if (m) {
        await handle(m);
        continue;
      }
      // Idle: encode one document ahead of the next request, the one being edited first.
      if (!toEncode.size || !core) break;
      const uri = active !== undefined && toEncode.has(active) ? active : toEncode.keys().next().value!;
      const cursor = toEncode.get(uri)!;
      toEncode.delete(uri);
      background.cancelled = false;
      encoding = uri;
      let lastPercent = -1;
      doing = 'encode';
      try {
        // the workspace context comes first in the stream, so it is chosen before the encode
        await giveContext(core, uri);
        await core.preEncode(uri, cursor, background, (done, total) => {
          const percent = Math.floor((100 * done) / Math.max(1, total));
          if (total > 256 && percent !== lastPercent) {
            lastPercent = percent;
            state({ kind: 'encoding', uri, percent });
          }
        }, () => new Promise((r) => setImmediate(r)));
        if (lastPercent >= 0) state({ kind: 'ready', model: core.info() });
      } catch (e) {
        if (e instanceof CancelledError) {
          if (!toEncode.has(uri)) toEncode.set(uri, cursor); // resume later
        } else {
          post({ type: 'log', level: 'error', message: `encoding ${uri} failed: ${(e as Error).message}` });
        }
      } finally {
        doing = 'idle';
        encoding = undefined;
      }
    }
  } finally {
    busy = false;
    const w = pumpStopped;
    pumpStopped = [];
    for (const r of w) r();
    wakeIdle();
  }
}

/** The client's 'shutdown': no model run is in flight or will start once this posts 'stopped'. */
async function shutdown(): Promise<void> {
  stopping = true;
  background.cancelled = true;
  queue.length = 0;
  if (busy) await new Promise<void>((resolve) => pumpStopped.push(resolve));
  try {
    await core?.rt.release();
  } catch (e) {
    post({ type: 'log', level: 'warn', message: `releasing the model at shutdown failed: ${(e as Error).message}` });
  }
  core = undefined;
  post({ type: 'stopped' });
}

/**
 * Questions about the engine's state are answered at once, even while a document encodes in the
 * background (MEGABYTE: Show context would otherwise wait for a whole 1 MB encode); a question
 * about a document whose text is still queued waits for it, and pre-empts the encode instead.
 */
function answerNow(m: ToWorker): boolean {
  if (m.type === 'stats') return true;
  if (m.type !== 'context') return false;
  return !queue.some((q) => (q.type === 'sync' || q.type === 'edit' || q.type === 'close') && q.uri === m.uri);
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'shutdown') {
    if (!stopping) void shutdown();
    return;
  }
  if (stopping) return;
  if (answerNow(m)) {
    void handle(m).then(pump);
    return;
  }
  // the user moved to another document: its text and context come before the rest of this encode
  const switched = (m.type === 'sync' || m.type === 'edit' || m.type === 'focus') && m.cursor !== undefined && encoding !== undefined && m.uri !== encoding;
  if (m.type === 'context' || switched) background.cancelled = true;
  if (m.type === 'complete') arrivals.set(m.id, { at: epochMs(), sentAt: m.sentAt, behind: doing });
  if (m.type === 'complete' || m.type === 'score' || m.type === 'load') background.cancelled = true;
  // A newer full sync of a document replaces an older sync (or edits) of it still queued.
  if (m.type === 'sync') {
    for (let i = queue.length - 1; i >= 0; i--) {
      const q = queue[i];
      if ((q.type === 'sync' || q.type === 'edit') && q.uri === m.uri) queue.splice(i, 1);
    }
  }
  queue.push(m);
  void pump();
});
