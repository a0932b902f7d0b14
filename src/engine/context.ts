// The worker's side of workspace context: one index of the workspace's files (discovered in the
// background, paused whenever a request waits), and for each document the engine encodes, the
// files workspace.ts ranks most relevant, read and put before the document in its stream
// (EngineCore.setContext). The CLI and the cross-file benchmark use the same ranking, reading and
// order (contextParts), so what they measure is what the editor does.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { ContextInfo, ContextPart, WorkspaceConfig } from './api';
import type { EngineCore } from './engine';
import { CrossIndex, INDEX_MEMORY_PER_BYTE } from './crossindex';
import { DEFAULT_RULES, WorkspaceIndex, languageOf, pathOf, rankContext, readContext, type ContextEntry, type ContextOptions, type OpenDoc, type WorkspaceRules } from './workspace';

/** Each other file gives the model at most its first this many bytes. */
export const PER_FILE_BYTES = 32768;

/**
 * Reasons in stream order, least relevant first: the files a document imports sit right before
 * it, where the model attends most and copies from most easily. Inside a reason, files are in
 * path order, so switching between two open files does not reorder the other files' text (that
 * would re-encode everything after the first change).
 */
const STREAM_ORDER = ['language', 'folder', 'recent', 'open', 'import'];

/** The chosen files (most relevant first, as rankContext gives them) in the order of the stream. */
export function contextParts(chosen: readonly { entry: ContextEntry; text: string }[]): ContextPart[] {
  const rank = (r: string) => STREAM_ORDER.indexOf(r);
  return [...chosen]
    .sort((a, b) => rank(a.entry.reason) - rank(b.entry.reason) || (a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0))
    .map(({ entry, text }) => ({ path: entry.path, text, reason: entry.reason, why: entry.why }));
}


export function contextOptions(budgetBytes: number): ContextOptions {
  return { budgetBytes, perFileBytes: Math.min(PER_FILE_BYTES, budgetBytes) };
}

/** Each other file gives the match models' index (crossindex.ts) at most this many bytes. */
export const INDEX_PER_FILE_BYTES = 262144;

export function indexOptions(indexBytes: number): ContextOptions {
  return { budgetBytes: indexBytes, perFileBytes: Math.min(INDEX_PER_FILE_BYTES, indexBytes) };
}

/**
 * The files of the match models' index for a document: the same ranking as its stream context
 * (rankContext) with the index's larger budget, so the stream's files come first and the rest of
 * the folder, then the language, follow.
 */
async function indexParts(current: { path: string; text: string; lang: string | undefined }, index: WorkspaceIndex,
  open: readonly OpenDoc[], indexBytes: number, now?: number): Promise<{ path: string; text: string }[]> {
  if (indexBytes <= 0) return [];
  const opts = { ...indexOptions(indexBytes), now };
  const chosen = await readContext(rankContext(current, index, open, opts), open, opts, index);
  return chosen.map((c) => ({ path: path.resolve(c.entry.path), text: c.text }));
}

/**
 * The most bytes of text the match models' index may hold within a memory budget: a quarter of
 * it (the KV caches share the rest), at INDEX_MEMORY_PER_BYTE bytes per byte of text (0: no budget).
 */
export function indexCap(memoryBudgetBytes: number): number {
  return memoryBudgetBytes > 0 ? Math.floor(memoryBudgetBytes / 4 / INDEX_MEMORY_PER_BYTE) : Infinity;
}

/** Index memory per file listed (workspace.ts estimates about 230 bytes). */
const INDEX_BYTES_PER_FILE = 256;

/**
 * The rules of workspace.ts for a configuration from the extension. The index shares the memory
 * budget with the KV caches (megabyte.performance.memoryBudgetMB): it may take an eighth of it
 * (512 MB: 262,144 files), at least DEFAULT_RULES.maxFiles' 50,000.
 */
export function rulesOf(cfg: Pick<WorkspaceConfig, 'roots' | 'exclude' | 'gitignore'>, memoryBudgetBytes = 0): WorkspaceRules {
  const maxFiles = Math.max(DEFAULT_RULES.maxFiles, Math.floor(memoryBudgetBytes / 8 / INDEX_BYTES_PER_FILE));
  return { ...DEFAULT_RULES, roots: cfg.roots, exclude: cfg.exclude, gitignore: cfg.gitignore, maxFiles };
}

const folderIndexes = new Map<string, WorkspaceIndex>();

/**
 * The CLIs' and benchmarks' workspace context: the files of `root` (listed once per root and
 * kept), ranked for `file` (whose current text is `text`) and read as the worker does; the parts
 * in stream order, for EngineCore.setContext.
 */
export async function folderContext(file: string, text: string, root: string, budgetBytes: number): Promise<ContextPart[]> {
  const index = await folderListing(root);
  const opts = contextOptions(budgetBytes);
  const current = { path: path.resolve(file), text, lang: languageOf(file) };
  return contextParts(await readContext(rankContext(current, index, [], opts), [], opts, index));
}

/** The CLIs' and benchmarks' match-model index for `file` (as the worker builds it; undefined: none). */
export async function folderCrossIndex(file: string, text: string, root: string, indexBytes: number): Promise<CrossIndex | undefined> {
  const parts = await indexParts({ path: path.resolve(file), text, lang: languageOf(file) }, await folderListing(root), [], indexBytes);
  return parts.length ? CrossIndex.build(parts) : undefined;
}

async function folderListing(root: string): Promise<WorkspaceIndex> {
  const abs = path.resolve(root);
  let index = folderIndexes.get(abs);
  if (!index) {
    index = new WorkspaceIndex(rulesOf({ roots: [abs], exclude: [], gitignore: true }));
    await index.discover({ cancelled: false });
    folderIndexes.set(abs, index);
  }
  return index;
}

export class WorkspaceContext {
  private cfg?: WorkspaceConfig;
  private index?: WorkspaceIndex;
  private done = false;
  private cancel = { cancelled: false };
  /** Bumped when the configuration changes or discovery finishes: every document is assembled again. */
  private generation = 0;
  private readonly assembled = new Map<string, number>();
  /** path -> when it was last edited (ms), kept after its document closes. */
  private readonly edited = new Map<string, number>();
  private failure?: string;
  /** The latest index rebuild (rebuildCross): an older one that finishes late is dropped. */
  private crossSeq = 0;
  private crossBuild: Promise<void> = Promise.resolve();
  private memoryBudgetBytes = 0;

  constructor(
    /** Resolves when no request is waiting or running (discovery never delays one). */
    private readonly idle: () => Promise<void>,
    private readonly log: (level: 'info' | 'warn', message: string) => void,
    /** Called when discovery finishes: documents may get a better context now. */
    private readonly onIndexed: () => void,
  ) {}

  /** On when there are folders and either budget (the stream's, the index's) is above 0. */
  get enabled(): boolean {
    return this.cfg?.enabled === true && this.cfg.roots.length > 0 && (this.cfg.budgetBytes > 0 || this.indexBytes > 0);
  }

  /** The index's budget: the setting, within a quarter of the memory budget (crossindex.ts INDEX_MEMORY_PER_BYTE). */
  get indexBytes(): number {
    return Math.min(this.cfg?.indexBytes ?? 0, indexCap(this.memoryBudgetBytes));
  }

  configure(cfg: WorkspaceConfig, memoryBudgetBytes: number): void {
    this.cancel.cancelled = true;
    this.cfg = cfg;
    this.memoryBudgetBytes = memoryBudgetBytes;
    this.index = undefined;
    this.done = false;
    this.failure = undefined;
    this.generation++;
    if (!this.enabled) return;
    const cancel = (this.cancel = { cancelled: false });
    const index = (this.index = new WorkspaceIndex(rulesOf(cfg, memoryBudgetBytes)));
    const t0 = performance.now();
    index.discover(cancel, this.idle).then((complete) => {
      if (cancel.cancelled || this.index !== index) return;
      this.done = true;
      this.generation++;
      this.log('info', `workspace: ${index.files().length} files listed in ${((performance.now() - t0) / 1000).toFixed(1)} s${complete ? '' : ' (stopped at the file limit)'}`);
      this.onIndexed();
    }, (e: Error) => {
      if (this.index !== index) return;
      this.failure = e.message;
      this.log('warn', `workspace discovery failed: ${e.message}`);
    });
  }

  /** Files created, changed or deleted on disk: the index follows, and documents are given their context again. */
  async filesChanged(changed: readonly string[], deleted: readonly string[]): Promise<void> {
    const index = this.index;
    if (!this.enabled || !index) return;
    for (const p of deleted) index.remove(index.listedPath(p));
    for (const reported of changed) {
      const p = index.listedPath(reported);
      if (!index.allowed(p)) continue;
      try {
        const st = await stat(p);
        if (st.isFile()) index.upsert(p, st.size, st.mtimeMs);
      } catch {
        index.remove(p); // gone again
      }
    }
    if (this.index !== index) return;
    this.generation++;
    this.onIndexed();
  }

  noteEdit(uri: string): void {
    const p = pathOf(uri);
    if (p) this.edited.set(p, Date.now());
  }

  /** The document should be given its context again (it became the active one: other files may have changed). */
  stale(uri: string): void {
    this.assembled.delete(uri);
  }

  needs(uri: string): boolean {
    return this.enabled && this.assembled.get(uri) !== this.generation && pathOf(uri) !== undefined;
  }

  /**
   * Ranks, reads and sets the document's context (EngineCore.setContext); whether its stream
   * changed. Off, or a document without a path: no context.
   */
  async assemble(core: EngineCore, uri: string): Promise<boolean> {
    const generation = this.generation;
    const file = pathOf(uri);
    const index = this.index;
    if (!this.enabled || !file || !index || !this.cfg) return core.setContext(uri, []);
    if (!core.openDocuments().some((d) => d.uri === uri)) return false;
    // its own folder from disk: a file created beside it counts even if no watcher event came
    await index.refreshFolder(path.dirname(file));
    if (this.index !== index) return false; // reconfigured meanwhile
    const docs = core.openDocuments();
    const current = docs.find((d) => d.uri === uri);
    if (!current) return false;
    const open: OpenDoc[] = [];
    for (const d of docs) {
      const p = d.uri === uri ? undefined : pathOf(d.uri);
      if (p && index.allowed(p)) open.push({ path: p, text: d.text, lastUsed: d.lastUsed, lastEdited: this.edited.get(p) });
    }
    const opts = contextOptions(this.cfg.budgetBytes);
    const ranked = rankContext({ path: file, text: current.text, lang: languageOf(file) }, index, open, { ...opts, now: Date.now() });
    const chosen = await readContext(ranked, open, opts, index);
    if (!core.openDocuments().some((d) => d.uri === uri)) return false; // closed meanwhile
    this.assembled.set(uri, generation);
    const changed = core.setContext(uri, contextParts(chosen));
    this.crossBuild = this.rebuildCross(core, { path: file, text: current.text, lang: languageOf(file) }, index, open);
    return changed;
  }

  /** Resolves when the match models' index of the latest assembly is built (or kept, or given up). */
  crossIndexed(): Promise<void> {
    return this.crossBuild;
  }

  /**
   * The match models' index (crossindex.ts) for the document just assembled, in the background:
   * rebuilt only when its files or their text changed, hashed in chunks a request pre-empts, and
   * shared by every document (each leaves its own file out). Failures keep the old index.
   */
  private async rebuildCross(core: EngineCore, current: { path: string; text: string; lang: string | undefined }, index: WorkspaceIndex, open: readonly OpenDoc[]): Promise<void> {
    const bytes = this.indexBytes;
    const seq = ++this.crossSeq;
    try {
      const parts = bytes > 0 ? await indexParts(current, index, open, bytes, Date.now()) : [];
      if (seq !== this.crossSeq || this.index !== index) return;
      const old = core.crossIndex;
      if (old && sameParts(old, parts)) return;
      if (!parts.length) return core.setCrossIndex(undefined);
      const t0 = performance.now();
      const built = await CrossIndex.build(parts, this.idle);
      if (seq !== this.crossSeq || this.index !== index) return;
      core.setCrossIndex(built);
      this.log('info', `workspace: the match models index ${built.files.length} files, ${(built.size / 1e6).toFixed(2)} MB, for ${path.basename(current.path)} (${Math.round(performance.now() - t0)} ms)`);
    } catch (e) {
      this.log('warn', `workspace index for the match models failed: ${(e as Error).message}`);
    }
  }

  info(): ContextInfo['index'] {
    if (!this.enabled || !this.index) return undefined;
    return { files: this.index.files().length, done: this.done, reason: this.failure };
  }

  bytes(): number {
    return this.index?.bytes() ?? 0;
  }
}

/** Whether the index holds exactly these files with this text (no rebuild needed). */
function sameParts(x: CrossIndex, parts: readonly { path: string; text: string }[]): boolean {
  if (x.files.length !== parts.length) return false;
  return parts.every((p, k) => {
    const f = x.files[k];
    if (f.path !== p.path) return false;
    const b = Buffer.from(p.text, 'utf8');
    return b.length === f.end - f.start && Buffer.from(x.text.buffer, x.text.byteOffset + f.start, b.length).equals(b);
  });
}
