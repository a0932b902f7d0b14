// The worker's side of workspace context: one index of the workspace's files (discovered in the
// background, paused whenever a request waits), and for each document the engine encodes, the
// files workspace.ts ranks most relevant, read and put before the document in its stream
// (EngineCore.setContext). The CLI and the cross-file benchmark use the same ranking, reading and
// order (contextParts), so what they measure is what the editor does.
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import type { ContextInfo, ContextPart, WorkspaceConfig } from './api';
import type { EngineCore } from './engine';
import { DEFAULT_RULES, WorkspaceIndex, languageOf, rankContext, readContext, type ContextEntry, type ContextOptions, type OpenDoc, type WorkspaceRules } from './workspace';

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

/** A document's path on disk, from its URI (file: only; the CLIs use plain absolute paths). */
export function pathOf(uri: string): string | undefined {
  if (uri.startsWith('file:')) {
    try {
      return fileURLToPath(uri);
    } catch {
      return undefined;
    }
  }
  return path.isAbsolute(uri) ? uri : undefined;
}

export function contextOptions(budgetBytes: number): ContextOptions {
  return { budgetBytes, perFileBytes: Math.min(PER_FILE_BYTES, budgetBytes) };
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
  const abs = path.resolve(root);
  let index = folderIndexes.get(abs);
  if (!index) {
    index = new WorkspaceIndex(rulesOf({ roots: [abs], exclude: [], gitignore: true }));
    await index.discover({ cancelled: false });
    folderIndexes.set(abs, index);
  }
  const opts = contextOptions(budgetBytes);
  const current = { path: path.resolve(file), text, lang: languageOf(file) };
  return contextParts(await readContext(rankContext(current, index, [], opts), [], opts, index));
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

  constructor(
    /** Resolves when no request is waiting or running (discovery never delays one). */
    private readonly idle: () => Promise<void>,
    private readonly log: (level: 'info' | 'warn', message: string) => void,
    /** Called when discovery finishes: documents may get a better context now. */
    private readonly onIndexed: () => void,
  ) {}

  get enabled(): boolean {
    return this.cfg?.enabled === true && this.cfg.roots.length > 0 && this.cfg.budgetBytes > 0;
  }

  configure(cfg: WorkspaceConfig, memoryBudgetBytes: number): void {
    this.cancel.cancelled = true;
    this.cfg = cfg;
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
    return core.setContext(uri, contextParts(chosen));
  }

  info(): ContextInfo['index'] {
    if (!this.enabled || !this.index) return undefined;
    return { files: this.index.files().length, done: this.done, reason: this.failure };
  }

  bytes(): number {
    return this.index?.bytes() ?? 0;
  }
}
