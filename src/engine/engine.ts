// The engine core, run inside the inference worker (worker.ts) or directly by the CLIs: open
// documents with their global KV caches, completion (fill-in-the-middle or left to right) and
// scoring. It never imports `vscode`.
//
// Why this shape (measured on 2 CPU cores, see test/bench): a 1 MB file is 16,384 global
// positions at 64 bytes per top patch, so the global model runs once per 64 bytes and its KV
// cache for 1 MB is 32 MB; the inner levels only ever see one top patch (64 symbols). A
// keystroke costs the local level one step, a global step every 64 bytes, never a re-run of
// the file. The fill-in-the-middle stream puts the far prefix first (plain text, its end
// aligned to a top patch, reused across cursor moves), then SUF suffix PRE, then the near
// prefix, so typing at the cursor only appends to the stream.
import type { CompleteRequest, CompleteResult, ContextInfo, ContextPart, EngineOptions, ModelInfo, ScoreRequest, ScoreResult, Candidate, StopReason, TextEdit } from './api';
import { EngineError, DEFAULT_OPTIONS } from './api';
import { BOS, EOM, PRE, SUF, VOCAB_SIZE } from './contract';
import { CancelToken, Decoder, GlobalCache, encodeGlobal, missingSymbols, NEVER_CANCELLED, CancelledError } from './decoder';
import { KVCache, ModelRuntime, RuntimeOptions, prevUnits } from './runtime';
import { allowed, bitsOf, nextByteRange, rng, sample } from './sampling';
import { checkStop, utf8Complete, type StopContext } from './stops';
import { MatchModel, MatchRun, mixRow, mixedBits } from './match';
import { CandidateCm, CmBlock, CmScorer, DocumentCm, longMatchModel, MatchIn } from './cm';
import { pathOf } from './workspace';
import type { CrossFile, CrossIndex, External } from './crossindex';
import { Calibration, confidenceBlocks, confidenceSkew, modelDigest, present, type GenerationMixing } from './confidence';

export const MAX_CONTEXT_BYTES = 1_000_000;
/** The window's start moves in steps of this many bytes, so a cursor that moves a little keeps the cache. */
const WINDOW_STEP = 65536;
/** Near prefix (between SUF..PRE and the cursor) kept between these sizes; the far part is cached. */
const NEAR_MIN = 512;
const NEAR_MAX = 1536;
/** Global patches per background encode call (32, same run as CM_CHUNK: 8-35 % more total time at 1 MB for p99 chunks of 93-114 ms instead of 137-141). */
const ENCODE_CHUNK_PATCHES = 64;
/** A request learns at most this many symbols of a document's CM state itself; preEncode does the rest in chunks. */
const CM_SYNC_LIMIT = 65536;
/**
 * The background CM pass yields to a waiting request every this many symbols (65,536 held one
 * 8.9 s in the worker queue on a 1 MB file). 2026-12-08, 1 MB, two training runs beside it: 4,096
 * made CM chunks of 67 ms (p50) for a 34 s encode; 1,024 made them ~20 ms for the same total.
 */
const CM_CHUNK = 1024;
/** Text after the cursor that the post-processing looks at (the suffix's overlap needs a line or two). */
const SUFFIX_CHARS = 1024;
/**
 * A request that asks for it (CompleteRequest.nearFirst) is served from a window of this many
 * bytes before the cursor while more than NEAR_FIRST_MISSING symbols of its full stream are still
 * to encode: a file just opened, or a new workspace context (the background encodes the rest).
 */
export const NEAR_WINDOW_BYTES = 4096;
export const NEAR_FIRST_MISSING = 32768;

interface Doc {
  /** Its file on disk (file: URIs and absolute paths), which the workspace index leaves out for it. */
  path?: string;
  version: number;
  text: string;
  bytes: Buffer;
  cache: GlobalCache;
  /** Window start and far-prefix length of the last FIM stream, reused while still valid. */
  windowStart: number;
  far?: number;
  /** 1 + the context's length when `far` was chosen. */
  head?: number;
  lastUsed: number;
  /** The context-mixing layer's state over the shared part of the last stream (cm.ts DocumentCm). */
  cm?: DocumentCm;
  /** Other files' text placed before the document in its stream (setContext), and what they are. */
  context?: { symbols: Uint16Array; parts: ContextInfo['parts'] };
  /** The near window's cache (a request served before the full stream is encoded: nearStream). */
  near?: GlobalCache;
}

export type Progress = (done: number, total: number) => void;

const now = () => performance.now();
/** The version of a document whose text the engine no longer trusts (an edit that did not apply). */
const UNKNOWN_VERSION = -1;

export class EngineCore {
  private docs = new Map<string, Doc>();
  private cross?: CrossIndex;
  private clock = 0;
  private matchModel?: MatchModel;
  private matchFor?: object;
  private longMatch?: MatchModel;
  private longFor?: object;
  private cal?: Calibration;
  private calFor?: object;
  private readonly digests = new Map<GenerationMixing, string>();
  private digestsFor?: object;
  options: EngineOptions;
  /** Whether the manifest's context-mixing layer is used (false: the match model alone, for comparisons). */
  contextMixing = true;
  /**
   * Whether generation uses the context-mixing layer too (scoring always does; false: the match
   * model alone; from EngineOptions.generationMixing, megabyte.performance.generationMixing). With
   * CandidateCm.greedy's rule (the match model's linear rule decides where a middle ends and where
   * a copy runs on) infilling is as good as with the match model alone (npm run infill -- --spans
   * 200: exact with the suffix 9 % of one-line and 5 % of 2-4-line middles, ended by the model 21 %
   * and 28 %, both ways), and what the editor shows is better: held-out positions, each rule with
   * its own calibration (npm run precision -- --positions 1200 --seed 12 [--generation match]):
   * more coverage and characters kept at about the same precision (the README's table of
   * npm run precision has the figures). It costs a background pass of about 8-10 s per MB of document
   * (until it has caught up a request uses the match model alone, and its calibration) and ~220 MB
   * of tables at 1 MB, and generation about a quarter slower. Reads and writes the option (the
   * worker's configure() changes it).
   */
  get generationMixing(): boolean {
    return this.options.generationMixing;
  }

  set generationMixing(on: boolean) {
    this.options = { ...this.options, generationMixing: on };
  }
  /** Inputs of the context-mixing layer left out when scoring (cm.ts CM_INPUTS names; 'network': the CM alone): ablations. */
  cmWithout: readonly string[] = [];

  constructor(public rt: ModelRuntime, options: Partial<EngineOptions> = {}) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
  }

  static async load(dir: string, options: Partial<EngineOptions> = {}, faults: Pick<RuntimeOptions, 'simulateEp' | 'failNextRunOn'> = {}): Promise<EngineCore> {
    const o = { ...DEFAULT_OPTIONS, ...options };
    const rt = await ModelRuntime.load(dir, { executionProviders: o.executionProviders, threads: o.threads, ...faults });
    return new EngineCore(rt, o);
  }

  info(): ModelInfo {
    const m = this.rt.manifest;
    return {
      name: m.name,
      dir: this.rt.dir,
      ep: this.rt.ep,
      fallbacks: [...this.rt.fallbacks],
      parameters: m.parameters.total,
      patchSizes: m.patch_sizes,
      heldoutBpb: typeof m.evaluation?.heldout_bpb === 'number' ? m.evaluation.heldout_bpb : undefined,
      matchModel: this.matcher() !== undefined,
      sizeBytes: m.files.reduce((a, f) => a + f.bytes, 0),
      uncalibrated: this.calibration().reason,
    };
  }

  /** How generation mixes the network now (what a calibration must have been fitted on). */
  generationMode(): GenerationMixing {
    return this.generationMixing && this.mixing() ? 'context-mixing' : this.matcher() ? 'match' : 'network';
  }

  /** The manifest's calibration fitted on this model generating by `mode` (default: as it generates now); else why there is none. */
  calibration(mode: GenerationMixing = this.generationMode()): { cal?: Calibration; reason?: string } {
    const blocks = confidenceBlocks(this.rt.manifest.confidence);
    if (!blocks.length) return { reason: 'the model has no confidence calibration (manifest.json confidence): every candidate is shown' };
    const usable = blocks.filter((b) => !confidenceSkew(b));
    if (!usable.length) return { reason: `${confidenceSkew(blocks[0])}: not used, every candidate is shown; re-fit it with npm run calibrate` };
    const digest = this.digest(mode);
    const b = usable.find((x) => x.fitted_on === digest);
    if (!b) {
      return { reason: `no confidence calibration was fitted on this model as it generates now (${mode}, digest ${digest}; the manifest's: ${usable.map((x) => x.fitted_on).join(', ')}): every candidate is shown; re-fit with npm run calibrate` };
    }
    if (this.calFor !== b) {
      this.cal = new Calibration(b);
      this.calFor = b;
    }
    return { cal: this.cal };
  }

  /** modelDigest of the loaded manifest, once per manifest and mode (a sha256 over its JSON: ~1 ms, every request asked for it). */
  private digest(mode: GenerationMixing): string {
    const m = this.rt.manifest;
    if (this.digestsFor !== m) {
      this.digests.clear();
      this.digestsFor = m;
    }
    let d = this.digests.get(mode);
    if (d === undefined) this.digests.set(mode, (d = modelDigest(m, mode)));
    return d;
  }

  /** The match model to mix in: the manifest's, unless the option turns it off. */
  matcher(): MatchModel | undefined {
    const p = this.rt.manifest.match_model;
    if (!p || !this.options.matchModel) return undefined;
    if (this.matchFor !== p) {
      this.matchModel = new MatchModel(p);
      this.matchFor = p;
    }
    return this.matchModel;
  }

  /**
   * The context-mixing layer (manifest `context_mixing`, src/engine/cm.ts) with its long match
   * model, when the manifest has one and mixing is on; it needs the match model (its first input).
   */
  mixing(): Mixing | undefined {
    const b = this.rt.manifest.context_mixing;
    const match = this.matcher();
    if (!b || !match || !this.contextMixing) return undefined;
    if (this.longFor !== b) {
      this.longMatch = longMatchModel(match, b);
      this.longFor = b;
    }
    return { block: b, match, long: this.longMatch! };
  }

  /** Swaps in another model; every document cache is dropped (they belong to the old model). */
  async replaceRuntime(rt: ModelRuntime): Promise<void> {
    const old = this.rt;
    this.rt = rt;
    for (const d of this.docs.values()) {
      d.cache.reset();
      d.cm = undefined;
    }
    await old.release();
  }

  sync(uri: string, version: number, text: string): void {
    const d = this.docs.get(uri);
    if (d && d.version === version && d.text === text) return;
    const bytes = Buffer.from(text, 'utf8');
    if (d) {
      d.version = version;
      d.text = text;
      d.bytes = bytes;
      // The cache keeps its stream; the next encode rewinds to the first symbol that differs.
    } else {
      this.docs.set(uri, { path: pathOf(uri), version, text, bytes, cache: new GlobalCache(), windowStart: 0, lastUsed: ++this.clock });
    }
  }

  /**
   * Applies `edits` to the text held at `baseVersion`. False when the engine holds another version
   * or the edits do not fit (out of range, or a result that is not `length` long): the caller must
   * sync the full text. Meanwhile the document answers no request (its version is unknown), but
   * its cache stays, so that full sync re-encodes only from the first byte that differs.
   */
  edit(uri: string, baseVersion: number, version: number, edits: TextEdit[], length: number): boolean {
    const d = this.docs.get(uri);
    if (!d) return false;
    const invalid = () => {
      d.version = UNKNOWN_VERSION;
      return false;
    };
    if (d.version !== baseVersion) return invalid();
    let text = d.text;
    for (const e of edits) {
      if (!(Number.isInteger(e.offset) && Number.isInteger(e.length) && e.offset >= 0 && e.length >= 0 && e.offset + e.length <= text.length)) return invalid();
      text = text.slice(0, e.offset) + e.text + text.slice(e.offset + e.length);
    }
    if (text.length !== length) return invalid();
    d.version = version;
    if (text !== d.text) {
      d.text = text;
      d.bytes = Buffer.from(text, 'utf8');
    }
    return true;
  }

  close(uri: string): void {
    this.docs.delete(uri);
  }

  /**
   * Puts other files' text (workspace context, most relevant last) before the document in its
   * stream: `BOS part1 BOS part2 ... BOS document`, the layout of training windows, which run on
   * across the files of one package with BOS between them. Returns whether the stream changed
   * (its cache then re-encodes from the first changed symbol, in the background). [] removes it.
   */
  setContext(uri: string, parts: readonly ContextPart[]): boolean {
    const d = this.doc(uri);
    const bytes = parts.map((p) => Buffer.from(p.text, 'utf8'));
    const n = bytes.reduce((a, b) => a + b.length + 1, 0);
    const symbols = new Uint16Array(n);
    let i = 0;
    for (const b of bytes) {
      symbols.set(b, i);
      i += b.length;
      symbols[i++] = BOS;
    }
    const info = parts.map((p, k) => ({ path: p.path, bytes: bytes[k].length, reason: p.reason, why: p.why }));
    const old = d.context?.symbols ?? new Uint16Array(0);
    const same = old.length === symbols.length && old.every((x, k) => x === symbols[k]);
    d.context = n ? { symbols, parts: info } : undefined;
    return !same;
  }

  /**
   * The workspace index the match models also copy from (crossindex.ts; undefined: none), shared
   * by every document; each leaves its own file out. The network's stream does not change.
   */
  setCrossIndex(index: CrossIndex | undefined): void {
    this.cross = index;
  }

  get crossIndex(): CrossIndex | undefined {
    return this.cross;
  }

  /** A document's view of the workspace index (its own file left out). */
  private external(d: Doc): External | undefined {
    return this.cross?.view(d.path);
  }

  private contextSize(d: Doc): { files: number; bytes: number } {
    const c = d.context;
    return { files: c?.parts.length ?? 0, bytes: c ? c.symbols.length - c.parts.length : 0 };
  }

  /**
   * The files of the workspace index a document's match models copy from (its own file left out),
   * and their bytes (and paths, for Show context); undefined when there is no index or no match
   * model to read it.
   */
  private indexed(d: Doc, withPaths = false): { files: number; bytes: number; paths?: string[] } | undefined {
    if (!this.cross || !this.matcher()) return undefined;
    const files: CrossFile[] = this.cross.files.filter((f) => f.path !== d.path);
    const size = { files: files.length, bytes: files.reduce((a, f) => a + f.end - f.start, 0) };
    return withPaths ? { ...size, paths: files.map((f) => f.path) } : size;
  }

  /** What is in a document's stream besides itself, and what its match models index (the extension's "Show context"). */
  contextOf(uri: string): ContextInfo {
    const d = this.docs.get(uri);
    const info: ContextInfo = { parts: d?.context?.parts ?? [], ...(d ? this.contextSize(d) : { files: 0, bytes: 0 }) };
    const indexed = d && this.indexed(d, true);
    if (indexed) info.indexed = { ...indexed, paths: indexed.paths ?? [] };
    return info;
  }

  documents(): string[] {
    return [...this.docs.keys()];
  }

  /** Every document held, with its text and when it was last used (a counter: higher is later). */
  openDocuments(): { uri: string; text: string; lastUsed: number }[] {
    return [...this.docs].map(([uri, d]) => ({ uri, text: d.text, lastUsed: d.lastUsed }));
  }

  /** Global positions run for a document so far, and how many its cache holds. */
  work(uri: string): { positionsRun: number; cached: number } {
    const c = this.doc(uri).cache;
    return { positionsRun: c.positionsRun, cached: c.pos };
  }

  cacheBytes(): number {
    let n = 0;
    for (const d of this.docs.values()) n += d.cache.bytes() + (d.cm?.bytes() ?? 0) + (d.near?.bytes() ?? 0) + (d.context?.symbols.byteLength ?? 0);
    return n;
  }

  private doc(uri: string, version?: number): Doc {
    const d = this.docs.get(uri);
    if (!d) throw new EngineError(`unknown document ${uri}: sync it first`, 'invalid');
    if (version !== undefined && d.version !== version) throw new EngineError(`stale request: document ${uri} is at version ${d.version}, request was for ${version}`, 'stale');
    d.lastUsed = ++this.clock;
    return d;
  }

  /** Memory held beside the caches that shares their budget (the worker's workspace index). */
  externalBytes: () => number = () => 0;

  /** Drops the caches of least recently used documents until the budget holds (never `keep`'s). */
  private enforceBudget(keep: Doc): void {
    let total = this.cacheBytes() + this.externalBytes() + (this.cross?.bytes() ?? 0);
    if (total <= this.options.memoryBudgetBytes) return;
    const lru = [...this.docs.values()].filter((d) => d !== keep).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const d of lru) {
      if (total <= this.options.memoryBudgetBytes) break;
      total -= d.cache.bytes() + (d.cm?.bytes() ?? 0) + (d.near?.bytes() ?? 0);
      d.cache.reset();
      d.cm = undefined;
      d.near = undefined;
    }
  }

  /** UTF-16 offset -> byte offset in the document's UTF-8. */
  static byteOffset(text: string, offset: number): number {
    return Buffer.byteLength(text.slice(0, offset), 'utf8');
  }

  private windowStart(d: Doc, cursor: number): number {
    // the workspace context takes its share of the context, at most half of it
    const all = Math.min(this.options.maxContextBytes, MAX_CONTEXT_BYTES);
    const max = Math.max(Math.ceil(all / 2), all - (d.context?.symbols.length ?? 0));
    if (cursor <= max) return 0;
    let s = Math.ceil((cursor - max) / WINDOW_STEP) * WINDOW_STEP;
    while (s < cursor && (d.bytes[s] & 0xc0) === 0x80) s++; // never start inside a character
    return s;
  }

  /**
   * The symbol stream for a cursor at byte `cursor`: `BOS context prefix` (left to right), or
   * `BOS context far SUF suffix PRE near` when the text after the cursor is used (context: the
   * workspace's other files, setContext, each followed by BOS; usually nothing).
   */
  buildStream(d: Doc, cursor: number, useSuffix: boolean): { stream: Uint16Array; fim: boolean; suffix: Buffer } {
    const start = this.windowStart(d, cursor);
    const prefix = d.bytes.subarray(start, cursor);
    const context = d.context?.symbols ?? new Uint16Array(0);
    const suffix = this.suffixAt(d, cursor);
    const fim = useSuffix && this.options.suffixBytes > 0 && /\S/.test(suffix.toString('utf8'));
    const head = 1 + context.length; // BOS and the context
    if (!fim) {
      const stream = new Uint16Array(head + prefix.length);
      stream[0] = BOS;
      stream.set(context, 1);
      stream.set(prefix, head);
      return { stream, fim, suffix };
    }
    const U0 = this.rt.unit(0);
    let far = d.far;
    const near = prefix.length;
    if (far === undefined || d.windowStart !== start || d.head !== head || far > near || near - far > NEAR_MAX) {
      // head + far is a multiple of U0: SUF opens a top patch, so the far part is whole patches.
      far = Math.max(0, Math.floor((head + near - NEAR_MIN) / U0) * U0 - head);
      d.far = far;
      d.head = head;
      d.windowStart = start;
    }
    return { stream: fimStream(context, prefix, far, suffix), fim, suffix };
  }

  /** The text after a byte offset that the model is given (whole UTF-8 characters). */
  private suffixAt(d: Doc, cursor: number): Buffer {
    const suffix = d.bytes.subarray(cursor, Math.min(d.bytes.length, cursor + this.options.suffixBytes));
    return cursor + suffix.length < d.bytes.length ? Buffer.from(utf8Complete([...suffix])) : suffix;
  }

  /**
   * The near window's stream: `BOS SUF suffix PRE near` with the last NEAR_WINDOW_BYTES before
   * the cursor (from a line start), or `BOS near`: what serves a request while the full stream
   * still encodes in the background.
   */
  private nearStream(d: Doc, cursor: number, fim: boolean, suffix: Buffer): { stream: Uint16Array; start: number } {
    let start = Math.max(0, cursor - NEAR_WINDOW_BYTES);
    if (start > 0) {
      const nl = d.bytes.indexOf(10, start);
      start = nl >= 0 && nl < cursor ? nl + 1 : start;
      while (start < cursor && (d.bytes[start] & 0xc0) === 0x80) start++;
    }
    const prefix = d.bytes.subarray(start, cursor);
    if (!fim) {
      const stream = new Uint16Array(1 + prefix.length);
      stream[0] = BOS;
      stream.set(prefix, 1);
      return { stream, start };
    }
    return { stream: fimStream(new Uint16Array(0), prefix, 0, suffix), start };
  }

  /** Encodes a document's prefix ahead of a request (background work between keystrokes). */
  async preEncode(uri: string, cursorUtf16: number | undefined, cancel: CancelToken, progress?: Progress, pause?: () => Promise<void>): Promise<void> {
    const d = this.doc(uri);
    const cursor = cursorUtf16 === undefined ? d.bytes.length : EngineCore.byteOffset(d.text, cursorUtf16);
    const { stream, fim } = this.buildStream(d, cursor, true);
    await encodeGlobal(this.rt, d.cache, stream, stream.length, { chunkPatches: ENCODE_CHUNK_PATCHES, cancel, progress, pause });
    // the CM state's shared part too, in chunks a request pre-empts
    const mix = this.generationMixing ? this.mixing() : undefined;
    const shared = sharedEnd(stream, fim);
    if (mix) {
      if (!d.cm || d.cm.block !== mix.block || !d.cm.fits(stream, shared)) d.cm = new DocumentCm(mix.block, d.bytes.length + 1 + (d.context?.symbols.length ?? 0), mix.match, mix.long);
      d.cm.setExternal(this.external(d));
      while (!d.cm.extend(stream, shared, CM_CHUNK)) {
        if (cancel.cancelled) throw new CancelledError();
        if (pause) await pause();
      }
      // and the stream's tail (the text after the cursor and the near prefix: 2-3 K symbols,
      // journaled), which a request at this cursor, or typed on from it, then keeps: it learns only
      // what is new instead of the whole tail (~40 ms of each request after a move, 2026-12-08)
      if (!cancel.cancelled) d.cm.learnTail(stream);
    }
    this.enforceBudget(d);
  }

  validate(req: CompleteRequest, d: Doc): void {
    const bad = (m: string) => new EngineError(m, 'invalid');
    if (!Number.isInteger(req.offset) || req.offset < 0 || req.offset > d.text.length) throw bad(`offset ${req.offset} is outside the document (0..${d.text.length})`);
    if (!Number.isInteger(req.candidates) || req.candidates < 1 || req.candidates > 16) throw bad(`candidates must be an integer in 1..16, got ${req.candidates}`);
    if (!Number.isInteger(req.maxBytes) || req.maxBytes < 1 || req.maxBytes > 65536) throw bad(`maxBytes must be an integer in 1..65536, got ${req.maxBytes}`);
    if (!(req.temperature >= 0 && req.temperature <= 5)) throw bad(`temperature must be in 0..5, got ${req.temperature}`);
    if (!(req.topP > 0 && req.topP <= 1)) throw bad(`topP must be in (0, 1], got ${req.topP}`);
    if (!['line', 'block', 'budget'].includes(req.stop)) throw bad(`unknown stop rule ${req.stop}`);
    if (!(req.timeBudgetMs > 0)) throw bad(`timeBudgetMs must be positive, got ${req.timeBudgetMs}`);
  }

  async complete(req: CompleteRequest, cancel: CancelToken = NEVER_CANCELLED, progress?: Progress): Promise<CompleteResult> {
    const t0 = now();
    const d = this.doc(req.uri, req.version);
    this.validate(req, d);
    const prep = await this.prepareStream(d, req, cancel, progress);
    const tEncode = now();
    const mixers = this.startMixers(d, prep, req.candidates);
    const g: Generation = {
      outs: Array.from({ length: req.candidates }, () => []),
      bits: Array.from({ length: req.candidates }, () => []),
      copyLen: Array.from({ length: req.candidates }, () => []),
      reason: new Array<StopReason>(req.candidates).fill('budget'),
      random: rng(req.seed ?? 0x5eed),
      row: new Float32Array(VOCAB_SIZE),
    };
    let active = Array.from({ length: req.candidates }, (_, i) => i);
    let tFirst = 0;
    let steps = 0;
    try {
      while (active.length) {
        const overTime = now() - t0 > req.timeBudgetMs;
        const next: number[] = [];
        const survivors: number[] = [];
        active.forEach((c, row) => {
          if (overTime) {
            g.reason[c] = 'time';
            return;
          }
          const symbol = this.sampleStep(g, req, mixers, prep.dec.logits, row, c, steps);
          if (symbol < 0 || this.stopped(g, req, prep, c)) return;
          survivors.push(row);
          next.push(symbol);
        });
        if (!tFirst && survivors.length < active.length) tFirst = now();
        active = survivors.map((row) => active[row]);
        steps++;
        if (!active.length) break;
        prep.dec.keepRows(survivors);
        await prep.dec.step(next, cancel);
      }
    } finally {
      mixers.release();
    }
    const tEnd = now();
    const mixing = mixers.cm ? 'context-mixing' : mixers.runs ? 'match' : 'network';
    const { candidates, confidence } = this.presentCandidates(d, req, assembleCandidates(g), mixing);
    const indexed = this.indexed(d);
    return {
      candidates,
      confidence,
      ms: { encode: round(tEncode - t0), first: round((tFirst || tEnd) - t0), total: round(tEnd - t0) },
      ep: this.rt.ep,
      contextBytes: prep.contextBytes,
      mixing,
      window: prep.near ? 'near' : 'full',
      context: prep.near ? { files: 0, bytes: 0 } : this.contextSize(d),
      ...(indexed ? { indexed } : {}),
    };
  }

  /**
   * Generation step 5: the candidates as the editor offers them (post-processed), with their
   * calibrated confidence and cut to their confident part at the request's threshold; the most
   * confident first.
   */
  private presentCandidates(d: Doc, req: CompleteRequest, raw: RawCandidate[], mixing: GenerationMixing): { candidates: Candidate[]; confidence: CompleteResult['confidence'] } {
    // the calibration of how this request was generated (the layer's state may not be ready yet: the match model alone then)
    const { cal, reason } = this.calibration(mixing);
    const threshold = !cal ? 0 : req.minConfidence ?? cal.block.threshold;
    const lineStart = d.text.lastIndexOf('\n', req.offset - 1) + 1;
    const ctx = { linePrefix: d.text.slice(lineStart, req.offset), suffix: d.text.slice(req.offset, req.offset + SUFFIX_CHARS), candidates: req.candidates };
    const shown = present(raw, ctx, cal, threshold);
    const candidates: Candidate[] = raw.map((c, i) => ({ ...c, ...shown[i] }));
    // a stable sort (equal keys keep generation's order): at threshold 0 by the whole text's
    // confidence; above it, what is shown by its confidence, then the held back by that of their
    // first piece (what a user asking for it sees first: a long copy is not ranked below babble
    // for being long)
    const key = (c: Candidate) => (threshold <= 0 ? c.confidence ?? 0 : c.shown ? 1 + (c.shownConfidence ?? 0) : c.leadConfidence ?? 0);
    if (cal) candidates.sort((a, b) => key(b) - key(a));
    return { candidates, confidence: { calibrated: cal !== undefined, threshold, reason } };
  }

  /**
   * Generation step 1: the stream at the cursor, encoded, the decoder primed and forked per
   * candidate. With req.nearFirst, while the full stream has more than NEAR_FIRST_MISSING symbols
   * left to encode, the near window's stream instead (`near`: the background encodes the rest).
   */
  private async prepareStream(d: Doc, req: CompleteRequest, cancel: CancelToken, progress?: Progress): Promise<Prepared> {
    const cursor = EngineCore.byteOffset(d.text, req.offset);
    const full = this.buildStream(d, cursor, req.useSuffix !== false);
    const { suffix, fim } = full;
    let { stream } = full;
    let cache = d.cache;
    let start = this.windowStart(d, cursor);
    const near = req.nearFirst === true && missingSymbols(this.rt, d.cache, stream) > NEAR_FIRST_MISSING;
    if (near) {
      ({ stream, start } = this.nearStream(d, cursor, fim, suffix));
      cache = d.near ??= new GlobalCache();
    } else d.near = undefined;
    await encodeGlobal(this.rt, cache, stream, stream.length, { chunkPatches: ENCODE_CHUNK_PATCHES, cancel, progress: near ? undefined : progress });
    const dec = new Decoder(this.rt, stream, cache);
    await dec.prime();
    this.enforceBudget(d);
    dec.fork(req.candidates);
    const lineStart = d.bytes.lastIndexOf(10, cursor - 1) + 1;
    const suffixLine = suffix.toString('utf8').split('\n').find((l, i) => i > 0 && l.trim().length > 0);
    const stop: StopContext = {
      rule: req.stop,
      maxBytes: req.maxBytes,
      linePrefix: [...d.bytes.subarray(lineStart, cursor)],
      suffixLine: suffixLine ? [...Buffer.from(suffixLine, 'utf8')] : undefined,
    };
    return { cursor, stream, fim, dec, stop, near, contextBytes: cursor - start };
  }

  /**
   * Generation step 2: each candidate's mixer. With the context-mixing layer: the document's CM
   * state extended to the stream's end (its tail journaled), each candidate a reader of it; else
   * the match model alone (linear mixing); else none (the network alone). Candidate c's match
   * starts from the c-th anchor at the cursor.
   */
  private startMixers(d: Doc, prep: Prepared, n: number): Mixers {
    const matcher = this.matcher();
    if (!matcher) return { own: [], release: () => undefined };
    const { stream, fim } = prep;
    // the near window never touches the document's CM state (it belongs to the full stream)
    const cm = this.generationMixing && !prep.near ? this.documentCm(d, stream, sharedEnd(stream, fim), CM_SYNC_LIMIT) : undefined;
    const ext = this.external(d);
    if (cm) {
      const at = cm.at(stream);
      const { runs, own } = anchoredRuns(matcher, at.match, stream, fim, n, ext);
      const cands = runs.map((r) => new CandidateCm(cm.state, at.ctx.clone(), r, at.long.clone(), (len, a) => matcher.lambda(len, a)));
      return { cm: cands, own, release: () => undefined };
    }
    const scan = matcher.scanForGeneration(stream, ext);
    const { runs, own } = anchoredRuns(matcher, scan, stream, fim, n, ext);
    return { runs, own, release: () => matcher.release(scan) };
  }

  /**
   * The document's CM state extended over `stream`'s shared part; undefined without the layer,
   * or when more than `limit` symbols are missing (a new document, the cursor moved up: the
   * request mixes the match model alone meanwhile, and preEncode catches up in chunks).
   */
  private documentCm(d: Doc, stream: Uint16Array, shared: number, limit: number): DocumentCm | undefined {
    const mix = this.mixing();
    if (!mix) {
      d.cm = undefined;
      return undefined;
    }
    if (!d.cm || d.cm.block !== mix.block || !d.cm.fits(stream, shared)) {
      if (shared > limit) {
        d.cm = undefined;
        return undefined;
      }
      d.cm = new DocumentCm(mix.block, d.bytes.length + 1 + (d.context?.symbols.length ?? 0), mix.match, mix.long);
    }
    if (d.cm.behind(shared) > limit) return undefined;
    d.cm.setExternal(this.external(d));
    d.cm.extend(stream, shared);
    return d.cm;
  }

  /** Generation step 3: candidate c's next symbol from the row's mixed distribution; -1: it ended (EOM). */
  private sampleStep(g: Generation, req: CompleteRequest, mixers: Mixers, logits: Float32Array, row: number, c: number, steps: number): number {
    const opts = {
      temperature: req.temperature, topP: req.topP, next: nextByteRange(g.outs[c]),
      // greedy candidates after the first differ by their anchor, else by their first byte
      allowEnd: true, random: g.random, rank: steps === 0 && req.temperature <= 0 && !mixers.own[c] ? c : 0,
    };
    let s;
    const cm = mixers.cm?.[c];
    const copy = mixers.runs?.[c].prediction;
    // the match run this candidate follows (the layer's first match input, or the match model's)
    const run = cm ? cm.match : mixers.runs?.[c];
    const predicted = run?.prediction.symbol ?? -1;
    const runLength = run?.length ?? 0;
    if (cm && opts.temperature <= 0 && !opts.rank) s = cm.greedy(logits, row * VOCAB_SIZE, (x) => allowed(x, opts.next, opts.allowEnd));
    else if (cm) s = sample(cm.row(logits, row * VOCAB_SIZE, g.row), 0, opts);
    else if (copy && copy.symbol >= 0 && copy.lambda > 0) {
      mixRow(logits, row * VOCAB_SIZE, copy.symbol, copy.lambda, g.row);
      s = sample(g.row, 0, opts);
    } else s = sample(logits, row * VOCAB_SIZE, opts);
    if (s.symbol === EOM || s.symbol === BOS) {
      g.reason[c] = 'eom';
      return -1;
    }
    g.outs[c].push(s.symbol);
    g.bits[c].push(s.bits);
    g.copyLen[c].push(predicted === s.symbol ? runLength : 0);
    cm?.push(s.symbol);
    mixers.runs?.[c].push(s.symbol);
    return s.symbol;
  }

  /** Generation step 4: whether candidate c stops here (a stop rule, the suffix, the byte budget); trims it. */
  private stopped(g: Generation, req: CompleteRequest, prep: Prepared, c: number): boolean {
    const why: { suffix?: boolean } = {};
    const keep = checkStop(g.outs[c], prep.stop, why);
    if (keep < 0) return false;
    g.outs[c].length = keep;
    g.bits[c].length = keep;
    g.copyLen[c].length = keep;
    g.reason[c] = why.suffix ? 'suffix' : g.outs[c].length >= req.maxBytes ? 'budget' : req.stop;
    return true;
  }

  /**
   * Bits of every byte of the document under the model, left to right from BOS. With
   * `contextBytes` = W, the file is cut into blocks of W/2 bytes and each block is scored after
   * the W/2 bytes before it, so every byte sees between W/2 and W bytes of context (the same
   * rule as models/training/eval.py).
   */
  async score(req: ScoreRequest, cancel: CancelToken = NEVER_CANCELLED, progress?: Progress): Promise<ScoreResult> {
    const t0 = now();
    const d = this.doc(req.uri, req.version);
    const bytes = d.bytes;
    const n = bytes.length;
    const W = req.contextBytes && req.contextBytes > 0 ? Math.max(2, Math.min(req.contextBytes, MAX_CONTEXT_BYTES)) : Math.min(this.options.maxContextBytes, MAX_CONTEXT_BYTES);
    const half = Math.max(1, Math.floor(W / 2));
    const segments: { ctxStart: number; start: number; end: number }[] = [];
    if (n <= W) segments.push({ ctxStart: 0, start: 0, end: n });
    else for (let s = 0; s < n; s += half) segments.push({ ctxStart: Math.max(0, s - half), start: s, end: Math.min(n, s + half) });
    const out = new Float32Array(n);
    let done = 0;
    for (const seg of segments) {
      const len = 1 + seg.end - seg.ctxStart;
      const stream = new Uint16Array(len);
      stream[0] = BOS;
      stream.set(bytes.subarray(seg.ctxStart, seg.end), 1);
      const from = 1 + seg.start - seg.ctxStart;
      const mix = this.mixing();
      let match: { pred: Int32Array; len: Int32Array } | undefined;
      if (mix && this.cmWithout.length) {
        match = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
        mix.match.release(mix.match.scan(stream, match));
      }
      const cm = mix && match ? cmScorer(stream, mix, match, this.cmWithout) : mix;
      await scoreStream(this.rt, stream, from, (pos, b) => { out[seg.ctxStart + pos - 1] = b; }, cancel, (k) => progress?.(done + k, n), this.matcher(), cm);
      done += seg.end - seg.start;
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += out[i];
    return { bits: out, bytes: n, totalBits: total, bitsPerByte: n ? total / n : 0, seconds: (now() - t0) / 1000, ep: this.rt.ep };
  }

  async dispose(): Promise<void> {
    this.docs.clear();
    await this.rt.release();
  }
}

/**
 * Each candidate's match at the cursor (the stream's end), cloned from `scan`: candidate c starts
 * from the c-th anchor (`own[c]`), or from the first when there are fewer.
 */
function anchoredRuns(matcher: MatchModel, scan: MatchRun, stream: Uint16Array, fim: boolean, n: number, ext?: External): { runs: MatchRun[]; own: boolean[] } {
  // The suffix, if any, lies between SUF and PRE.
  const suf = fim ? stream.indexOf(SUF) : -1;
  const anchors = matcher.anchors(stream, stream.length, suf + 1, fim ? stream.indexOf(PRE, suf) - suf - 1 : 0, n, ext);
  const runs = Array.from({ length: n }, (_, c) => {
    const r = scan.clone();
    const a = anchors[c] ?? anchors[0];
    if (a) r.anchorAt(a);
    return r;
  });
  return { runs, own: runs.map((_, c) => c > 0 && c < anchors.length) };
}

/**
 * Where a stream's shared part ends: the part every request at this place has in common, which
 * the document's CM state learns for good. FIM: `BOS far` (SUF opens the request's tail); left to
 * right: all but the last 2-6 KB, in 4 KB steps, so typing extends it rarely.
 */
export function sharedEnd(stream: Uint16Array, fim: boolean): number {
  if (fim) return stream.indexOf(SUF);
  return Math.max(0, Math.floor((stream.length - 2048) / 4096) * 4096);
}

/** `BOS context prefix[0, far) SUF suffix PRE prefix[far..)`: the fill-in-the-middle stream. */
function fimStream(context: Uint16Array, prefix: Uint8Array, far: number, suffix: Uint8Array): Uint16Array {
  const stream = new Uint16Array(1 + context.length + far + 1 + suffix.length + 1 + (prefix.length - far));
  let i = 0;
  stream[i++] = BOS;
  stream.set(context, i);
  i += context.length;
  stream.set(prefix.subarray(0, far), i);
  i += far;
  stream[i++] = SUF;
  stream.set(suffix, i);
  i += suffix.length;
  stream[i++] = PRE;
  stream.set(prefix.subarray(far), i);
  return stream;
}

/** Step 5: the candidates, cut to whole UTF-8 characters. */
type RawCandidate = Pick<Candidate, 'text' | 'bits' | 'stoppedBy' | 'copyLen'>;

function assembleCandidates(g: Generation): RawCandidate[] {
  return g.outs.map((o, i) => {
    const whole = utf8Complete(o);
    return { text: Buffer.from(whole).toString('utf8'), bits: g.bits[i].slice(0, whole.length), stoppedBy: g.reason[i], copyLen: g.copyLen[i].slice(0, whole.length) };
  });
}

/** What prepareStream gives the generation loop. */
interface Prepared {
  cursor: number;
  stream: Uint16Array;
  fim: boolean;
  dec: Decoder;
  stop: StopContext;
  /** Served from the near window (the full stream is still encoding). */
  near: boolean;
  /** Bytes of the document before the cursor in the stream. */
  contextBytes: number;
}

/** Each candidate's mixer: the CM layer's readers, or the match model's runs, or neither. */
interface Mixers {
  cm?: CandidateCm[];
  runs?: MatchRun[];
  /** Whether candidate c has an anchor of its own (greedy diversity then comes from it). */
  own: boolean[];
  release: () => void;
}

/** The candidates' state in the generation loop. */
interface Generation {
  outs: number[][];
  bits: number[][];
  /** Per byte, the match run's length where the byte was its prediction (Candidate.copyLen). */
  copyLen: number[][];
  reason: StopReason[];
  random: () => number;
  /** Scratch: one mixed row of log-probabilities. */
  row: Float32Array;
}

/** The context-mixing layer's parts (EngineCore.mixing). */
export interface Mixing {
  block: CmBlock;
  /** The match model (the CM's first match input, with its suffix anchor). */
  match: MatchModel;
  /** The longer match model (min_len from the block). */
  long: MatchModel;
}

/** A CmScorer over a stream (scoring: no anchor), with both match models' predictions. */
export function cmScorer(stream: ArrayLike<number>, mixing: Mixing, match: { pred: Int32Array; len: Int32Array }, disable: readonly string[] = []): CmScorer {
  const long = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
  mixing.long.release(mixing.long.scan(stream, long));
  const m0: MatchIn = { symbol: -1, len: 0, anchored: false };
  const m1: MatchIn = { symbol: -1, len: 0, anchored: false };
  return new CmScorer(stream, mixing.block,
    (i) => { m0.symbol = match.pred[i]; m0.len = match.len[i]; return m0; },
    (i) => { m1.symbol = long.pred[i]; m1.len = long.len[i]; return m1; }, () => 0, disable);
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Scores symbols [from, stream.length) of a stream, all levels patch-parallel: the global level
 * in chunks of top patches, then for each chunk every inner level over all its units at once.
 * With `matcher`, the bits are those of the network mixed with the match model.
 */
export async function scoreStream(rt: ModelRuntime, stream: Uint16Array, from: number,
  emit: (pos: number, bits: number) => void, cancel: CancelToken, progress?: (done: number) => void,
  matcher?: MatchModel, mixing?: Mixing | CmScorer): Promise<void> {
  let match: { pred: Int32Array; len: Int32Array } | undefined;
  if (matcher) {
    match = { pred: new Int32Array(stream.length), len: new Int32Array(stream.length) };
    matcher.release(matcher.scan(stream, match));
  }
  // the CM layer: built here over the stream, or given (the parity test's, with an anchor)
  const cm = mixing instanceof CmScorer ? mixing : mixing && match ? cmScorer(stream, mixing, match) : undefined;
  const U0 = rt.unit(0);
  const K = Math.ceil(stream.length / U0);
  const padded = new Uint16Array(K * U0); // padding after the end cannot change earlier predictions (causal)
  padded.set(stream);
  const levels = rt.levels.length;
  const past = KVCache.forLevel(rt.levels[0], 1, K);
  const chunk = levels > 1 ? 64 : 512;
  for (let k0 = 0; k0 < K; k0 += chunk) {
    if (cancel.cancelled) throw new CancelledError();
    const steps = Math.min(chunk, K - k0);
    const res = await rt.runLevel(0, prevUnits(padded, k0, steps, U0), 1, steps, null, past);
    past.append(res.news);
    // Walk down the levels: rows of level l are the units of level l-1 in this chunk.
    let out = res.out;
    let rows = steps;
    for (let l = 1; l < levels; l++) {
      const p = rt.patchSizes[l - 1];
      const unit = rt.unit(l);
      const parentUnit = rt.unit(l - 1);
      const units = new BigInt64Array(rows * p * unit);
      const base = k0 * U0;
      for (let r = 0; r < rows; r++) prevUnits(padded.subarray(base + r * parentUnit, base + (r + 1) * parentUnit), 0, p, unit, units, r * p * unit);
      const lr = await rt.runLevel(l, units, rows, p, out, KVCache.forLevel(rt.levels[l], rows));
      out = lr.out;
      rows *= p;
    }
    // out: logits (steps * U0, V) for symbols k0*U0 ..
    for (let i = 0; i < steps * U0; i++) {
      const pos = k0 * U0 + i;
      if (pos >= stream.length) continue;
      if (cm) { // every position, in order: the online models learn the context before `from` too
        if (pos < from) cm.skip(pos);
        else emit(pos, cm.step(pos, out, i * VOCAB_SIZE));
        continue;
      }
      if (pos < from) continue;
      const b = bitsOf(out, i * VOCAB_SIZE, stream[pos]);
      emit(pos, match ? mixedBits(b, match.pred[pos] === stream[pos], matcher!.lambda(match.len[pos])) : b);
    }
    progress?.(Math.max(0, Math.min(stream.length, (k0 + steps) * U0) - from));
  }
}
