// npm run soak -- [--keystrokes N] [--seed S] [--doc-bytes B] [--verify-every K] [--model DIR] [--threads T] [--worker FILE]
//
// Long sessions (issue 7): the real worker engine on a ~200 KB document made of the repository's
// own sources, and a simulated user typing N keystrokes into it: mostly characters at the cursor
// (with backspaces and the odd non-ASCII character), inserts, deletes and replacements elsewhere
// (10 % of keystrokes: a third of them anywhere in the file, the rest within 4 KB of the cursor),
// cursor jumps (2 %). Every edit bumps the document version and reaches the engine as that edit
// with the cursor, as src/extension/documents.ts sends it; a completion is asked for after a debounce, and the next
// keystroke cancels it as VS Code cancels its token, so most requests die young.
//
// Checked for every result that would be shown (it came back and its request was not cancelled):
// its version is the document's version at that moment, its context is the cursor's byte offset
// in that version's text, its candidates are whole UTF-8. Every `verifyEvery` keystrokes the
// engine's copy of the document is checked against the harness's: a greedy completion in the
// live document (cache built up by thousands of edits) must match one from a fresh document
// holding the harness's text. Unhandled rejections are counted; resident memory
// (process.memoryUsage().rss, which includes the worker thread) is sampled after warm-up (the
// first 10 % of the keystrokes), at the end, and every 25 keystrokes for the maximum and for
// windowed medians (see rssWindowGrowthPct).
//
// Progress goes to stderr; the last stdout line is one JSON object. Exit code 1 if any check
// failed or resident memory grew by 5 % or more after warm-up (medians of the windows).
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Candidate, CompleteRequest, CompleteResult, ExecutionProvider, StopRule } from '../engine/api';
import { EngineError } from '../engine/api';
import { startEngine, WorkerEngine } from '../engine/client';
import { rng } from '../engine/sampling';
import { COMMON_FLAGS, UsageError, defaultModelDir, fail, intFlag, noPositional, parseArgs, repoRoot, stringFlag, type FlagTable } from '../cli/args';
import { percentile, round } from './stats';

export interface SoakOptions {
  keystrokes: number;
  seed: number;
  modelDir: string;
  /** Size of the document at the start (UTF-8 bytes); edits keep it within about ±5 %. */
  docBytes: number;
  /** A content check every this many keystrokes (0: none). */
  verifyEvery: number;
  /** RSS is taken as "warm" after this fraction of the keystrokes. */
  warmupFraction: number;
  executionProviders: ExecutionProvider[];
  threads: number;
  workerPath?: string;
  /**
   * Faults that make the harness behave like a buggy extension, so the tests can show that the
   * checks catch them: 'noCancel' never cancels a request when the document changes (results
   * for old versions get shown); 'lagSync' sends each version's number with the previous
   * version's text (the engine's copy of the document is one edit behind).
   */
  fault?: 'noCancel' | 'lagSync';
  progress?: (line: string) => void;
}

export const DEFAULT_SOAK: Omit<SoakOptions, 'modelDir'> = {
  keystrokes: 10_000,
  seed: 1,
  docBytes: 200 * 1024,
  verifyEvery: 500,
  warmupFraction: 0.1,
  executionProviders: ['cpu'],
  // One thread for the global model: on 2 shared cores (a training job beside it) onnxruntime's
  // spinning intra-op pool costs more than it gains. --threads 0 is the extension's default.
  threads: 1,
};

export interface SoakResult {
  keystrokes: number;
  /** Results that would be shown: they came back and their request had not been cancelled. */
  completions: number;
  /** Requests cancelled by a later keystroke (rejected as cancelled, or came back after the cancel and dropped). */
  cancelled: number;
  /** Requests the engine rejected because the document had moved on. */
  stale: number;
  shownWrongVersion: number;
  /** Shown results whose context length is not the cursor's byte offset in the current text. */
  shownWrongContext: number;
  /** Candidates that are not whole, well-formed UTF-8 (or whose bits do not match their bytes). */
  invalidCandidates: number;
  unhandledRejections: number;
  /** Requests that failed for another reason than cancelled or stale. */
  errors: number;
  errorMessages: string[];
  /** Content checks run, and those where the live document's completion differed from a fresh one. */
  verified: number;
  contentMismatch: number;
  workerRestarts: number;
  /** Edits the worker could not apply, so the whole text was sent again (expected: 0). */
  resyncs: number;
  workerErrorLogs: number;
  /** Completion requests sent to the engine, and debounce timers cleared before they fired. */
  requests: number;
  debounced: number;
  /** Shown results with every candidate empty (the time budget went to encoding). */
  emptyResults: number;
  typed: number;
  backspaces: number;
  edits: number;
  jumps: number;
  finalVersion: number;
  docBytesStart: number;
  docBytesEnd: number;
  latencyMsP50: number;
  latencyMsP95: number;
  rssStartMB: number;
  rssWarmMB: number;
  rssEndMB: number;
  rssMaxMB: number;
  rssGrowthPct: number;
  /**
   * The same growth from medians of the samples taken every 25 keystrokes over the tenth of the
   * session after warm-up and over its last tenth: less at the mercy of when each thread's
   * garbage collector last ran than two single samples.
   */
  rssWarmWindowMB: number;
  rssEndWindowMB: number;
  rssWindowGrowthPct: number;
  seconds: number;
  ep: string;
  model: string;
  seed: number;
  fault?: string;
  /**
   * Every check passed and RSS grew less than 5 % after warm-up, judged on the windowed medians:
   * two single samples swing by ±10–25 MB with each thread's garbage collection and onnxruntime's
   * arena growth (measured: 232 MB at keystroke 1,000 against a 274 MB median over 1,000–2,000).
   */
  ok: boolean;
}

// The simulated user. Probabilities per keystroke; gaps in milliseconds.
const P_EDIT = 0.10; // insert/delete/replace at a random place elsewhere
/** Of those, the share anywhere in the file; the rest within a few KB of the cursor (the function above, the line below). */
const P_EDIT_ANYWHERE = 0.3;
const NEARBY_CHARS = 4096;
const P_JUMP = 0.02; // move the cursor somewhere else (no edit, no new version)
const P_BACKSPACE = 0.06;
const P_NON_ASCII = 0.01;
const P_REQUEST = 0.75; // the provider asks after the debounce (VS Code does not ask on every change)
const DEBOUNCE_MS: [number, number] = [0, 8];
/** After a keystroke: type on at once (cancels what is pending), after a short gap, or pause until the suggestion shows. */
const GAPS = { fast: 0.5, medium: 0.35 }; // the rest pause
const FAST_MS: [number, number] = [0, 3];
const MEDIUM_MS: [number, number] = [5, 30];
const PAUSE_EXTRA_MS: [number, number] = [0, 10];
const NON_ASCII = ['é', 'ü', 'ß', 'π', '→', '—', '日', '本', '€', '🎉', '𝔘'];
const MAX_BYTES = 16;
const TIME_BUDGET_MS = 1000;
const RSS_EVERY = 25;
const MB = 1024 * 1024;
const DOC = 'file:///soak/document.ts';
const VERIFY = 'file:///soak/verify.ts';

/** The repository's own sources (src/, models/training/*.py), in a fixed order. */
export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(path.join(root, dir)).sort()) {
      const rel = path.join(dir, f);
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else if (f.endsWith('.ts')) files.push(rel);
    }
  };
  walk('src');
  const training = path.join(root, 'models', 'training');
  if (existsSync(training)) for (const f of readdirSync(training).sort()) if (f.endsWith('.py')) files.push(path.join('models', 'training', f));
  return files;
}

/** Real source text repeated to `bytes` UTF-8 bytes (cut back to a whole character). */
export function documentText(root: string, bytes: number): { text: string; lines: string[] } {
  const one = sourceFiles(root).map((f) => readFileSync(path.join(root, f), 'utf8')).join('\n');
  let s = '';
  while (Buffer.byteLength(s) < bytes) s += one;
  const b = Buffer.from(s);
  let end = Math.min(bytes, b.length);
  while (end > 0 && end < b.length && (b[end] & 0xc0) === 0x80) end--;
  const lines = one.split('\n').filter((l) => l.trim().length > 0 && l.length < 160);
  return { text: b.subarray(0, end).toString('utf8'), lines };
}

/** Never an offset between the two halves of a surrogate pair. */
function snap(text: string, offset: number): number {
  offset = Math.max(0, Math.min(text.length, offset));
  if (offset > 0 && offset < text.length) {
    const lo = text.charCodeAt(offset);
    const hi = text.charCodeAt(offset - 1);
    if (lo >= 0xdc00 && lo <= 0xdfff && hi >= 0xd800 && hi <= 0xdbff) offset--;
  }
  return offset;
}

/** A candidate is whole UTF-8: no lone surrogate, no replacement character, one bit count per byte, within the budget. */
export function validCandidate(c: Pick<Candidate, 'text' | 'bits'>, maxBytes: number): boolean {
  if (typeof c.text !== 'string') return false;
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(c.text)) return false;
  if (c.text.includes('\uFFFD')) return false;
  const n = Buffer.byteLength(c.text, 'utf8');
  return Buffer.from(c.text, 'utf8').toString('utf8') === c.text && c.bits.length === n && n <= maxBytes && c.bits.every((b) => Number.isFinite(b) && b >= 0);
}

/**
 * Two greedy results for the same prefix agree: the same texts with the same bits, except that
 * a candidate may part ways at a near-tie (both bytes almost equally likely), where floating
 * point differences between an incrementally built cache and a fresh one may pick either.
 */
export function sameCompletion(a: Pick<Candidate, 'text' | 'bits'>[], b: Pick<Candidate, 'text' | 'bits'>[]): boolean {
  if (a.length !== b.length) return false;
  const BITS = 0.02;
  const TIE = 0.1;
  for (let i = 0; i < a.length; i++) {
    const x = Buffer.from(a[i].text);
    const y = Buffer.from(b[i].text);
    const n = Math.min(x.length, y.length);
    let j = 0;
    while (j < n && x[j] === y[j]) {
      if (Math.abs(a[i].bits[j] - b[i].bits[j]) > BITS) return false;
      j++;
    }
    if (j === x.length && j === y.length) continue;
    // Parted at byte j (or one ended early): only a near-tie there is allowed.
    if (j >= n || Math.abs(a[i].bits[j] - b[i].bits[j]) > TIE) return false;
  }
  return true;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function soak(options: Partial<SoakOptions> & { modelDir?: string } = {}): Promise<SoakResult> {
  const o: SoakOptions = { ...DEFAULT_SOAK, modelDir: defaultModelDir(), ...options };
  const say = o.progress ?? (() => undefined);
  const t0 = performance.now();
  const random = rng(o.seed);
  const between = ([lo, hi]: [number, number]) => lo + random() * (hi - lo);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];

  let unhandledRejections = 0;
  const onUnhandled = (reason: unknown) => {
    unhandledRejections++;
    say(`unhandled rejection: ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}`);
  };
  process.on('unhandledRejection', onUnhandled);

  let workerErrorLogs = 0;
  const engine: WorkerEngine = startEngine({
    workerPath: o.workerPath,
    executionProviders: o.executionProviders,
    threads: o.threads,
    log: (level, message) => {
      if (level === 'error') {
        workerErrorLogs++;
        say(`worker error: ${message}`);
      }
    },
  });

  const r: SoakResult = {
    keystrokes: 0, completions: 0, cancelled: 0, stale: 0, shownWrongVersion: 0, shownWrongContext: 0, invalidCandidates: 0,
    unhandledRejections: 0, errors: 0, errorMessages: [], verified: 0, contentMismatch: 0, workerRestarts: 0, resyncs: 0, workerErrorLogs: 0,
    requests: 0, debounced: 0, emptyResults: 0, typed: 0, backspaces: 0, edits: 0, jumps: 0, finalVersion: 0,
    docBytesStart: 0, docBytesEnd: 0, latencyMsP50: 0, latencyMsP95: 0,
    rssStartMB: 0, rssWarmMB: 0, rssEndMB: 0, rssMaxMB: 0, rssGrowthPct: 0, rssWarmWindowMB: 0, rssEndWindowMB: 0, rssWindowGrowthPct: 0, seconds: 0, ep: '', model: '', seed: o.seed, fault: o.fault, ok: false,
  };
  const latencies: number[] = [];
  const outstanding = new Set<Promise<void>>();
  let rssMax = 0;
  const rss = () => {
    const v = process.memoryUsage().rss;
    rssMax = Math.max(rssMax, v);
    return v;
  };

  try {
    const info = await engine.load(o.modelDir);
    r.ep = info.ep;
    r.model = info.name;
    const { text: initial, lines } = documentText(repoRoot(), o.docBytes);
    const doc = { text: initial, version: 1, cursor: 0 };
    const target = initial.length;
    r.docBytesStart = Buffer.byteLength(initial);
    // The cursor starts at a line start in the middle of the document.
    doc.cursor = snap(doc.text, doc.text.indexOf('\n', Math.floor(doc.text.length / 2)) + 1);
    let syncedText = doc.text; // what the engine was last sent (differs from doc.text only under 'lagSync')
    /** Sends the new version as the extension does: the edit alone (or, under 'lagSync', a stale whole text). */
    const sync = (edit?: { offset: number; length: number; text: string }) => {
      if (edit && o.fault !== 'lagSync') engine.edit(DOC, doc.version - 1, doc.version, [edit], doc.text.length, doc.cursor);
      else engine.sync(DOC, doc.version, o.fault === 'lagSync' ? syncedText : doc.text, doc.cursor);
      syncedText = doc.text;
    };
    // An edit the worker could not apply: it asks for the whole text (counted: it should not happen).
    engine.onResync((uri) => {
      if (uri !== DOC) return;
      r.resyncs++;
      engine.sync(DOC, doc.version, doc.text, doc.cursor);
    });
    sync();

    const baseRequest = (): CompleteRequest => ({
      uri: DOC, version: doc.version, offset: doc.cursor, candidates: 1 + Math.floor(random() * 3), maxBytes: MAX_BYTES,
      temperature: 0, topP: 0.95, stop: (random() < 0.5 ? 'line' : 'block') as StopRule, timeBudgetMs: TIME_BUDGET_MS,
    });

    // Warm-up: the first request encodes the whole document (as opening a file does).
    const first = await engine.complete({ ...baseRequest(), timeBudgetMs: 120_000 });
    say(`document ${r.docBytesStart} bytes encoded, first completion ${first.ms.total.toFixed(0)} ms (encode ${first.ms.encode.toFixed(0)} ms) on ${first.ep}`);
    r.rssStartMB = rss() / MB;

    // The pending suggestion: a debounce timer, then a request the next keystroke cancels.
    let current: { cancel(): void; settled: Promise<void> } | undefined;

    const onResult = (req: CompleteRequest, res: CompleteResult, ac: AbortController, t: number) => {
      if (ac.signal.aborted) {
        r.cancelled++; // came back after the cancel: the provider drops it
        return;
      }
      // Shown now: it must belong to the document as it is at this moment.
      r.completions++;
      latencies.push(performance.now() - t);
      if (req.version !== doc.version) r.shownWrongVersion++;
      else if (res.contextBytes !== Buffer.byteLength(doc.text.slice(0, req.offset), 'utf8')) r.shownWrongContext++;
      if (res.candidates.length !== req.candidates) r.invalidCandidates++;
      for (const c of res.candidates) if (!validCandidate(c, req.maxBytes)) r.invalidCandidates++;
      if (res.candidates.every((c) => c.text === '')) r.emptyResults++;
    };
    const onError = (err: unknown) => {
      const code = err instanceof EngineError ? err.code : undefined;
      if (code === 'cancelled') r.cancelled++;
      else if (code === 'stale') r.stale++;
      else {
        r.errors++;
        if (r.errorMessages.length < 5) r.errorMessages.push(err instanceof Error ? err.message : String(err));
      }
    };

    const schedule = () => {
      const ac = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let fired = false;
      let finish!: () => void;
      const settled = new Promise<void>((res) => { finish = res; });
      outstanding.add(settled);
      void settled.then(() => outstanding.delete(settled));
      // Drawn now, so the keystroke sequence does not depend on timing (the seed replays it).
      const req = baseRequest();
      timer = setTimeout(() => {
        fired = true;
        timer = undefined;
        const t = performance.now();
        r.requests++;
        engine.complete(req, ac.signal).then((res) => onResult(req, res, ac, t), onError).finally(finish);
      }, between(DEBOUNCE_MS));
      current = {
        cancel: () => {
          if (!fired && timer) {
            clearTimeout(timer);
            r.debounced++;
            finish();
          }
          ac.abort();
        },
        settled,
      };
    };
    // A change of the document or of the cursor cancels the pending suggestion (VS Code cancels its token).
    const cancelPending = () => {
      if (o.fault !== 'noCancel') current?.cancel();
      current = undefined;
    };
    const settle = async () => {
      await current?.settled;
    };

    /** The engine's copy of the document against the harness's: live document vs a fresh one, greedy, no suffix. */
    const verify = async () => {
      await settle();
      const req: CompleteRequest = {
        uri: DOC, version: doc.version, offset: doc.cursor, candidates: 2, maxBytes: MAX_BYTES, temperature: 0, topP: 1,
        stop: 'budget', timeBudgetMs: 600_000, useSuffix: false,
      };
      try {
        let live = await engine.complete(req);
        // The fresh copy is encoded ahead like the live one (a cursor), and the two are compared
        // only once both are served the same way: a document whose context-mixing state is still
        // being built in the background is served by the match model alone meanwhile (r.mixing).
        engine.sync(VERIFY, 1, doc.text, doc.cursor);
        let fresh = await engine.complete({ ...req, uri: VERIFY, version: 1 });
        for (let tries = 0; live.mixing !== fresh.mixing && tries < 120; tries++) {
          await sleep(250);
          if (fresh.mixing !== 'context-mixing') fresh = await engine.complete({ ...req, uri: VERIFY, version: 1 });
          if (live.mixing !== 'context-mixing') live = await engine.complete(req);
        }
        engine.close(VERIFY);
        r.verified++;
        const want = Buffer.byteLength(doc.text.slice(0, doc.cursor), 'utf8');
        if (!sameCompletion(live.candidates, fresh.candidates) || live.contextBytes !== want) {
          r.contentMismatch++;
          say(`content check failed at version ${doc.version}: live ${JSON.stringify(live.candidates.map((c) => c.text))} (context ${live.contextBytes}, ${live.mixing}) vs fresh ${JSON.stringify(fresh.candidates.map((c) => c.text))} (context ${want}, ${fresh.mixing})`);
        }
      } catch (err) {
        engine.close(VERIFY);
        onError(err);
      }
    };

    const applyEdit = (at: number, remove: number, insert: string) => {
      doc.text = doc.text.slice(0, at) + insert + doc.text.slice(at + remove);
      if (doc.cursor >= at + remove) doc.cursor += insert.length - remove;
      else if (doc.cursor > at) doc.cursor = at;
      doc.cursor = snap(doc.text, doc.cursor);
      doc.version++;
      sync({ offset: at, length: remove, text: insert });
    };

    let typing: string[] = [];
    const warmAt = Math.max(1, Math.floor(o.keystrokes * o.warmupFraction));
    const verifyOffset = Math.floor(o.verifyEvery / 2);
    const quiesce = async () => {
      await settle();
      await engine.stats(); // a round trip through the worker's queue
      (globalThis as { gc?: () => void }).gc?.();
      await sleep(50);
    };
    let rssWarm = 0;
    const samples: { k: number; rss: number }[] = [];

    for (let k = 0; k < o.keystrokes; k++) {
      const u = random();
      if (u < P_JUMP) {
        // A click elsewhere: no new version, the pending suggestion is cancelled, a new one asked for there.
        cancelPending();
        doc.cursor = snap(doc.text, random() < 0.5 ? doc.text.indexOf('\n', Math.floor(random() * doc.text.length)) + 1 : Math.floor(random() * doc.text.length));
        r.jumps++;
        typing = [];
      } else if (u < P_JUMP + P_EDIT) {
        // Somewhere else in the file: delete a range, paste a line, or replace a range; the size stays near the start.
        cancelPending();
        const grow = doc.text.length < target * 0.97 ? 0.8 : doc.text.length > target * 1.03 ? 0.2 : 0.5;
        const at = snap(doc.text, random() < P_EDIT_ANYWHERE
          ? Math.floor(random() * doc.text.length)
          : doc.cursor + Math.floor((2 * random() - 1) * NEARBY_CHARS));
        const v = random();
        if (v < grow * 0.7) applyEdit(at, 0, pick(lines) + '\n');
        else if (v < grow) applyEdit(at, snap(doc.text, at + 1 + Math.floor(random() * 40)) - at, pick(lines));
        else applyEdit(at, snap(doc.text, at + 1 + Math.floor(random() * 300)) - at, '');
        r.edits++;
      } else if (u < P_JUMP + P_EDIT + P_BACKSPACE && doc.cursor > 0) {
        cancelPending();
        const from = snap(doc.text, doc.cursor - 1); // a whole surrogate pair goes at once
        applyEdit(from, doc.cursor - from, '');
        r.backspaces++;
      } else {
        cancelPending();
        if (!typing.length) typing = [...(pick(lines).trimStart() + '\n')];
        const ch = random() < P_NON_ASCII ? pick(NON_ASCII) : typing.shift()!;
        applyEdit(doc.cursor, 0, ch);
        r.typed++;
      }
      r.keystrokes++;
      if (random() < P_REQUEST) schedule();

      if (k === warmAt - 1) {
        await quiesce();
        rssWarm = rss();
        say(`warm after ${k + 1} keystrokes: rss ${(rssWarm / MB).toFixed(1)} MB`);
      } else if (o.verifyEvery > 0 && k % o.verifyEvery === verifyOffset) {
        await verify();
      }
      if (k % RSS_EVERY === 0) samples.push({ k, rss: rss() });
      if ((k + 1) % Math.max(1, Math.floor(o.keystrokes / 20)) === 0) {
        const cacheMB = (await engine.stats()).cacheBytes / MB;
        say(`${k + 1}/${o.keystrokes} keystrokes, v${doc.version}, ${Buffer.byteLength(doc.text)} bytes, shown ${r.completions}, cancelled ${r.cancelled}, stale ${r.stale}, ` +
          `wrong ${r.shownWrongVersion}/${r.shownWrongContext}, errors ${r.errors}, verified ${r.verified} (mismatch ${r.contentMismatch}), rss ${(process.memoryUsage().rss / MB).toFixed(1)} MB (KV caches ${cacheMB.toFixed(1)} MB), ` +
          `${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }

      const g = random();
      if (g < GAPS.fast) await sleep(between(FAST_MS));
      else if (g < GAPS.fast + GAPS.medium) await sleep(between(MEDIUM_MS));
      else {
        await settle();
        await sleep(between(PAUSE_EXTRA_MS));
      }
    }
    await Promise.all([...outstanding]);
    await quiesce();
    const rssEnd = rss();
    if (!rssWarm) rssWarm = rssEnd;

    r.finalVersion = doc.version;
    r.docBytesEnd = Buffer.byteLength(doc.text);
    r.latencyMsP50 = latencies.length ? round(percentile(latencies, 50)) : 0;
    r.latencyMsP95 = latencies.length ? round(percentile(latencies, 95)) : 0;
    r.rssWarmMB = round(rssWarm / MB);
    r.rssEndMB = round(rssEnd / MB);
    r.rssMaxMB = round(rssMax / MB);
    r.rssStartMB = round(r.rssStartMB);
    r.rssGrowthPct = Math.round((10000 * (rssEnd - rssWarm)) / rssWarm) / 100;
    const tenth = o.keystrokes / 10;
    const windowMedian = (from: number, to: number) => percentile(samples.filter((x) => x.k >= from && x.k < to).map((x) => x.rss), 50) || rssEnd;
    const warmWindow = windowMedian(warmAt, warmAt + tenth);
    const endWindow = windowMedian(o.keystrokes - tenth, o.keystrokes);
    r.rssWarmWindowMB = round(warmWindow / MB);
    r.rssEndWindowMB = round(endWindow / MB);
    r.rssWindowGrowthPct = Math.round((10000 * (endWindow - warmWindow)) / warmWindow) / 100;
  } finally {
    r.workerRestarts = engine.restarts;
    await engine.dispose();
    // Rejections raised while the engine shuts down still count.
    await sleep(20);
    process.off('unhandledRejection', onUnhandled);
    r.unhandledRejections = unhandledRejections;
    r.workerErrorLogs = workerErrorLogs;
    r.seconds = round((performance.now() - t0) / 1000);
  }
  r.ok = r.shownWrongVersion === 0 && r.shownWrongContext === 0 && r.invalidCandidates === 0 && r.unhandledRejections === 0 &&
    r.errors === 0 && r.contentMismatch === 0 && r.workerRestarts === 0 && r.resyncs === 0 && r.workerErrorLogs === 0 && r.rssWindowGrowthPct < 5;
  return r;
}

export const SOAK_FLAGS = {
  ...COMMON_FLAGS,
  keystrokes: { value: 'N', help: `simulated keystrokes (default ${DEFAULT_SOAK.keystrokes})` },
  seed: { value: 'S', help: 'edit and request sequence' },
  'doc-bytes': { value: 'BYTES', help: `document size (default ${DEFAULT_SOAK.docBytes})` },
  'verify-every': { value: 'N', help: 'check the worker holds the right text every N keystrokes, 0: never' },
  worker: { value: 'FILE', help: 'another build of the worker, for comparisons' },
} as const satisfies FlagTable;

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), SOAK_FLAGS);
  noPositional(p, SOAK_FLAGS);
  const opts: Partial<SoakOptions> = {
    keystrokes: intFlag(p, 'keystrokes', DEFAULT_SOAK.keystrokes, 1),
    seed: intFlag(p, 'seed', DEFAULT_SOAK.seed),
    docBytes: intFlag(p, 'doc-bytes', DEFAULT_SOAK.docBytes, 1024, 1_000_000),
    verifyEvery: intFlag(p, 'verify-every', DEFAULT_SOAK.verifyEvery, 0),
    threads: intFlag(p, 'threads', DEFAULT_SOAK.threads, 0, 256),
    modelDir: path.resolve(stringFlag(p, 'model') ?? defaultModelDir()),
    // Another build of the worker (e.g. one with different session options), for comparisons.
    workerPath: stringFlag(p, 'worker') !== undefined ? path.resolve(stringFlag(p, 'worker') as string) : undefined,
    progress: (line) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  };
  process.stderr.write(`[soak] ${opts.keystrokes} keystrokes, seed ${opts.seed}, ${os.cpus().length} CPUs\n`);
  const result = await soak(opts);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = result.ok ? 0 : 1;
}

// Only as its own program (the tests import soak() into their bundle, where require.main is the test).
if (require.main === module && path.basename(process.argv[1] ?? '') === 'soak.js') main().catch((e) => fail(e instanceof UsageError ? e.message : (e as Error).stack ?? (e as Error).message));
