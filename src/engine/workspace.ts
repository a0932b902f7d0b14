// Workspace context: which other files of the workspace the model reads before the current file,
// in what order, within a byte budget, and their texts. Three steps, each usable on its own:
//   discovery (WorkspaceIndex.discover): list the files that may ever be read;
//   ranking   (rankContext): pick and order candidates for one current file, synchronously;
//   reading   (readContext): read them, dropping any that turn out binary or generated.
// No `vscode` import: the worker, the CLI and the cross-file benchmark all use it, and the
// owner tells the index about open documents and file changes.
//
// Safety line: nothing outside the roots is read, and nothing the user excluded (files.exclude,
// search.exclude, .gitignore) is read. Every read goes through `allowed()` and, for disk reads, a
// realpath check, so a symlink or a '../' import cannot lead out of the workspace.
import { promises as fsp, openSync, readSync, closeSync, fstatSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';
import ignore, { type Ignore } from 'ignore';

export interface WorkspaceRules {
  /** Absolute paths of the workspace folders; nothing outside them is ever read. */
  roots: string[];
  /**
   * Glob patterns relative to a root in VS Code's glob syntax (files.exclude and search.exclude keys
   * whose value is true), e.g. '**\/node_modules', '**\/*.{png,jpg}'. A pattern that matches a folder
   * excludes everything below it, as in VS Code.
   */
  exclude: string[];
  /** Respect .gitignore files (root and nested, plus the root's .git/info/exclude). */
  gitignore: boolean;
  /** Files larger than this are skipped. */
  maxFileBytes: number;
  /** Discovery stops after this many files are listed (breadth first, so the shallow ones). */
  maxFiles: number;
}

/**
 * 50,000 files listed cost about 12 MB of index (see `bytes()`); a workspace with more is listed
 * breadth first up to there (`truncated()` says so), which keeps the folders near the roots.
 */
export const DEFAULT_RULES: Omit<WorkspaceRules, 'roots'> = {
  exclude: [],
  gitignore: true,
  maxFileBytes: 1_000_000,
  maxFiles: 50_000,
};

export interface WorkspaceFile {
  /** Absolute path. */
  path: string;
  /** Relative to its root, '/' separators. */
  rel: string;
  root: string;
  size: number;
  mtimeMs: number;
  lang: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Languages

const LANG_BY_EXT: Record<string, string> = {
  ts: 'typescript', mts: 'typescript', cts: 'typescript', tsx: 'typescriptreact',
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascriptreact',
  py: 'python', pyi: 'python', pyw: 'python', go: 'go', rs: 'rust',
  c: 'c', i: 'c', h: 'c', cpp: 'cpp', cc: 'cpp', cxx: 'cpp', 'c++': 'cpp', hpp: 'cpp', hh: 'cpp', hxx: 'cpp',
  'h++': 'cpp', ipp: 'cpp', inl: 'cpp', tpp: 'cpp', ino: 'cpp', cu: 'cuda-cpp', cuh: 'cuda-cpp',
  java: 'java', kt: 'kotlin', kts: 'kotlin', scala: 'scala', groovy: 'groovy', gradle: 'groovy',
  cs: 'csharp', fs: 'fsharp', vb: 'vb', swift: 'swift', m: 'objective-c', mm: 'objective-cpp',
  rb: 'ruby', php: 'php', pl: 'perl', pm: 'perl', lua: 'lua', r: 'r', jl: 'julia', dart: 'dart',
  ex: 'elixir', exs: 'elixir', erl: 'erlang', hs: 'haskell', clj: 'clojure', ml: 'ocaml', zig: 'zig',
  sh: 'shellscript', bash: 'shellscript', zsh: 'shellscript', ps1: 'powershell', bat: 'bat', cmd: 'bat',
  md: 'markdown', markdown: 'markdown', rst: 'restructuredtext', tex: 'latex', txt: 'plaintext',
  json: 'json', jsonc: 'jsonc', json5: 'json5', yaml: 'yaml', yml: 'yaml', toml: 'toml', ini: 'ini',
  xml: 'xml', html: 'html', htm: 'html', css: 'css', scss: 'scss', sass: 'sass', less: 'less',
  vue: 'vue', svelte: 'svelte', sql: 'sql', graphql: 'graphql', proto: 'proto3', tf: 'terraform',
  cmake: 'cmake', mk: 'makefile', dockerfile: 'dockerfile',
};

const LANG_BY_NAME: Record<string, string> = {
  'Dockerfile': 'dockerfile', 'Makefile': 'makefile', 'GNUmakefile': 'makefile', 'makefile': 'makefile',
  'CMakeLists.txt': 'cmake', 'go.mod': 'go.mod', 'Cargo.toml': 'toml', 'Gemfile': 'ruby', 'Rakefile': 'ruby',
  '.bashrc': 'shellscript', '.zshrc': 'shellscript', 'tsconfig.json': 'jsonc', 'jsconfig.json': 'jsonc',
};

/** languageOf('a/b.ts') === 'typescript': VS Code's language ids for the common extensions and names. */
export function languageOf(p: string): string | undefined {
  const base = p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
  if (LANG_BY_NAME[base]) return LANG_BY_NAME[base];
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return LANG_BY_EXT[base.slice(dot + 1).toLowerCase()];
}

/**
 * Languages that read each other's files: a .tsx component imports .ts helpers and .js, a .cpp
 * file includes .h headers. Everything else is its own family.
 */
export function familyOf(lang: string | undefined): string | undefined {
  switch (lang) {
    case 'typescript': case 'typescriptreact': case 'javascript': case 'javascriptreact': return 'js';
    case 'c': case 'cpp': case 'cuda-cpp': case 'objective-c': case 'objective-cpp': return 'c';
    default: return lang;
  }
}

// ---------------------------------------------------------------------------------------------
// What is skipped, by name (cheap, before any stat or read)

/**
 * Folders never walked whatever the rules say. VCS metadata is not the user's text. node_modules
 * is always skipped: it dwarfs the user's code (often 100,000+ files), it is not what they write,
 * and the code imports it by bare specifiers, which importsOf does not follow anyway. __pycache__
 * holds only bytecode. Build outputs (dist/, build/, out/, target/) are NOT skipped by name: some
 * projects keep sources in a folder called build/, and real outputs are normally gitignored;
 * folders that mark themselves as caches or environments are caught by their markers instead
 * (see MARKERS).
 */
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', '.jj', 'node_modules', '__pycache__', '.pytest_cache', '.mypy_cache', '.ruff_cache', '.tox']);

/**
 * A folder holding one of these is an environment or a cache, whatever its name: pyvenv.cfg makes
 * a Python virtualenv (site-packages: thousands of files not the user's), CACHEDIR.TAG is the
 * standard cache marker (Cargo's target/ has one, so do many tools' caches).
 */
const MARKERS = ['pyvenv.cfg', 'CACHEDIR.TAG'];

/** Lockfiles: long, machine-written, and nothing a completion should copy from. */
const LOCKFILES = new Set([
  'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock',
  'Cargo.lock', 'poetry.lock', 'Pipfile.lock', 'uv.lock', 'pdm.lock', 'go.sum', 'go.work.sum',
  'composer.lock', 'Gemfile.lock', 'flake.lock', 'packages.lock.json', 'mix.lock', 'pubspec.lock', 'Podfile.lock',
]);

/** Extensions of files that are not text (or not text anyone writes): never listed. */
const BINARY_EXT = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'bmp', 'ico', 'icns', 'webp', 'tif', 'tiff', 'psd', 'heic', 'avif', 'svgz',
  'pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt',
  'zip', 'gz', 'tgz', 'bz2', 'xz', 'zst', '7z', 'rar', 'tar', 'jar', 'war', 'ear', 'whl', 'egg', 'vsix', 'nupkg', 'deb', 'rpm', 'dmg', 'iso',
  'exe', 'dll', 'so', 'dylib', 'a', 'lib', 'o', 'obj', 'ko', 'class', 'pyc', 'pyo', 'pyd', 'node', 'wasm', 'elf', 'out',
  'bin', 'dat', 'db', 'sqlite', 'sqlite3', 'mdb', 'pack', 'idx',
  'mp3', 'mp4', 'm4a', 'wav', 'ogg', 'flac', 'aac', 'avi', 'mov', 'mkv', 'webm', 'wmv',
  'ttf', 'otf', 'woff', 'woff2', 'eot',
  'onnx', 'pt', 'pth', 'ckpt', 'safetensors', 'npy', 'npz', 'h5', 'hdf5', 'pkl', 'pickle', 'parquet', 'arrow', 'feather', 'tflite', 'pb', 'gguf',
  'lockb',
]);

/** Binary files known by their whole name (OS litter). */
const BINARY_NAMES = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini']);

/**
 * Generated or minified by name: *.min.js / *.min.css (one huge line), source maps, protobuf and
 * gRPC stubs, and the *.generated.* convention. Their content is machine output; copying from it
 * teaches the model nothing about the user's code. Content-based checks (a "@generated" marker,
 * one huge line) catch the rest when reading.
 */
const GENERATED_NAME = /(?:\.min\.(?:js|mjs|cjs|css)|\.map|\.pb\.go|\.pb\.(?:h|cc)|_pb2(?:_grpc)?\.pyi?|\.generated\.[^/]*|\.g\.dart|\.designer\.cs)$/i;

/** Why a file is skipped by its name alone, or undefined if it is not. */
export function skippedName(name: string): 'lockfile' | 'binary' | 'generated' | undefined {
  if (LOCKFILES.has(name)) return 'lockfile';
  if (BINARY_NAMES.has(name)) return 'binary';
  const dot = name.lastIndexOf('.');
  if (dot > 0 && BINARY_EXT.has(name.slice(dot + 1).toLowerCase())) return 'binary';
  if (GENERATED_NAME.test(name)) return 'generated';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The index

interface Tables {
  byPath: Map<string, WorkspaceFile>;
  /** Absolute folder -> its listed files by base name: folder and sibling lookups without a scan. */
  byDir: Map<string, Map<string, WorkspaceFile>>;
  /** Folder (root-relative, '' for the root, keyed per root) -> its .gitignore rules. */
  gitignores: Map<string, Ignore>;
  /** Absolute folders skipped because of a marker (MARKERS): allowed() cannot tell them by name. */
  markerDirs: Set<string>;
  /** Bytes of .gitignore text held (for bytes()). */
  ignoreBytes: number;
  truncated: boolean;
}

function emptyTables(): Tables {
  return { byPath: new Map(), byDir: new Map(), gitignores: new Map(), markerDirs: new Set(), ignoreBytes: 0, truncated: false };
}

/** Paths inside `dir` start with `dir + sep`; the root itself counts as inside. */
function inside(dir: string, p: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

function toPosix(rel: string): string {
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/** Entries between two awaits of `pause()` during discovery (and the stat batch size). */
const PAUSE_EVERY = 64;
/** refreshFolder() lists again folders of at most this many entries. */
const REFRESH_MAX = 2048;

/**
 * The files of the workspace that may be read, with the rules that decide it.
 *
 * discover() is restartable, not resumable: each call walks the roots anew into fresh tables and
 * swaps them in only when the walk completes, so a cancelled or superseded walk leaves the previous
 * listing whole (a half-built index would rank by accident). upsert()/remove() made while a walk
 * runs are replayed onto its result. Rules of .gitignore files are read during discovery; a
 * changed .gitignore marks the index stale() and the owner runs discover() again.
 */
export class WorkspaceIndex {
  readonly rules: WorkspaceRules;
  private readonly roots: string[];
  private readonly excludeMatch: (rel: string) => boolean;
  private t: Tables = emptyTables();
  private list: WorkspaceFile[] | undefined;
  private generation = 0;
  private journal: (() => void)[] | undefined;
  private isStale = false;
  private realRoots: string[] | undefined;
  /** Heads of files read synchronously for ranking (second-level imports, go.mod), by path. */
  private heads = new Map<string, { mtimeMs: number; size: number; max: number; text: string }>();
  /** When the first completed discovery started: changes after it are the user's (see rankContext). */
  private since: number | undefined;

  constructor(rules: WorkspaceRules) {
    this.rules = rules;
    // The longest root first, so a folder nested in another belongs to the inner one.
    this.roots = [...new Set(rules.roots.map((r) => path.resolve(r)))].sort((a, b) => b.length - a.length);
    const patterns = rules.exclude.filter((g) => {
      try {
        picomatch.makeRe(g);
        return true;
      } catch {
        return false; // a malformed user pattern excludes nothing rather than breaking discovery
      }
    });
    // dot: VS Code globs match dotfiles ('**/.git' is one of its defaults).
    const m = patterns.length ? picomatch(patterns, { dot: true, windows: false }) : undefined;
    this.excludeMatch = m ? (rel) => m(rel) : () => false;
  }

  /** The root `p` lies in (the innermost), or undefined. */
  rootOf(p: string): string | undefined {
    const abs = path.resolve(p);
    return this.roots.find((r) => inside(r, abs));
  }

  /** True once a discovery stopped at maxFiles. */
  truncated(): boolean {
    return this.t.truncated;
  }

  /**
   * When the first completed discovery started (undefined before): files changed on disk after it
   * were changed while the workspace was open, so by the user (or their tools), not by the clone
   * or copy that created the folder.
   */
  openedAt(): number | undefined {
    return this.since;
  }

  /** True when a .gitignore changed since the last discovery: run discover() again. */
  stale(): boolean {
    return this.isStale;
  }

  /**
   * Walks the roots breadth first with async fs, awaiting `pause()` every 64 directory entries so
   * a completion request can run in between. Returns false, keeping the previous listing, when
   * `cancel.cancelled` turns true or a newer discover() started; true when the walk completed
   * (possibly truncated at maxFiles).
   */
  async discover(cancel: { readonly cancelled: boolean }, pause?: () => Promise<void>): Promise<boolean> {
    const gen = ++this.generation;
    const started = Date.now();
    const journal: (() => void)[] = [];
    this.journal = journal;
    try {
      const t = emptyTables();
      const stopped = () => cancel.cancelled || gen !== this.generation;
      let sincePause = 0;
      const tick = async (n: number) => {
        sincePause += n;
        if (sincePause >= PAUSE_EVERY) {
          sincePause %= PAUSE_EVERY;
          if (pause) await pause();
        }
      };
      const realRoots = await Promise.all(this.roots.map((r) => fsp.realpath(r).catch(() => r)));
      this.realRoots = realRoots;
      let count = 0;
      walk: for (const root of [...this.roots].reverse()) {
        const queue: string[] = [root];
        for (let qi = 0; qi < queue.length; qi++) {
          if (stopped()) return false;
          const dir = queue[qi];
          let entries;
          try {
            entries = await fsp.readdir(dir, { withFileTypes: true });
          } catch {
            continue; // unreadable folder: skip it, as the editor's search does
          }
          entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          const relDir = toPosix(path.relative(root, dir));
          if (dir !== root && entries.some((e) => MARKERS.includes(e.name))) {
            t.markerDirs.add(dir);
            continue;
          }
          if (this.rules.gitignore) await this.loadIgnores(t, root, dir, relDir, entries.some((e) => e.name === '.gitignore'));
          const files: { abs: string; rel: string; link: boolean }[] = [];
          for (const e of entries) {
            const abs = path.join(dir, e.name);
            const rel = relDir ? `${relDir}/${e.name}` : e.name;
            if (e.isDirectory()) {
              // A nested root is walked as itself.
              if (this.roots.includes(abs) && abs !== root) continue;
              if (this.skipDir(t, root, e.name, rel)) continue;
              queue.push(abs);
            } else if (e.isFile() || e.isSymbolicLink()) {
              if (this.skipFile(t, root, e.name, rel)) continue;
              files.push({ abs, rel, link: e.isSymbolicLink() });
            }
          }
          // Stat in batches: parallel enough to be quick, small enough to pause between.
          for (let i = 0; i < files.length; i += PAUSE_EVERY) {
            if (stopped()) return false;
            const batch = files.slice(i, i + PAUSE_EVERY);
            const stats = await Promise.all(batch.map((f) => this.statListed(f.abs, f.link, realRoots)));
            for (let j = 0; j < batch.length; j++) {
              const st = stats[j];
              if (!st || st.size > this.rules.maxFileBytes) continue;
              if (count >= this.rules.maxFiles) {
                t.truncated = true;
                break walk;
              }
              addFile(t, { path: batch[j].abs, rel: batch[j].rel, root, size: st.size, mtimeMs: st.mtimeMs, lang: languageOf(batch[j].abs) });
              count++;
            }
            await tick(batch.length);
          }
          await tick(entries.length - files.length);
        }
      }
      if (stopped()) return false;
      this.t = t;
      // +1: Date.now() is whole milliseconds, mtimes are not; a file written in the same millisecond
      // before the walk must not count as changed after it.
      this.since ??= started + 1;
      this.list = undefined;
      this.isStale = false;
      this.heads.clear();
      this.journal = undefined;
      for (const replay of journal) replay();
      return true;
    } finally {
      // A cancelled or superseded walk stops collecting changes to replay.
      if (this.journal === journal) this.journal = undefined;
    }
  }

  /** Size and mtime of a listed file; a symlink only if it resolves to a file inside a root. */
  private async statListed(abs: string, link: boolean, realRoots: string[]): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      if (link) {
        // Symlinked files are listed when their target stays inside a root; symlinked folders are
        // never followed (cycles, and the same files listed twice).
        const real = await fsp.realpath(abs);
        if (!realRoots.some((r) => inside(r, real)) && !this.roots.some((r) => inside(r, real))) return undefined;
      }
      const st = await fsp.stat(abs);
      return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  private async loadIgnores(t: Tables, root: string, dir: string, relDir: string, hasGitignore: boolean): Promise<void> {
    const texts: string[] = [];
    if (hasGitignore) texts.push(await fsp.readFile(path.join(dir, '.gitignore'), 'utf8').catch(() => ''));
    if (dir === root) texts.push(await fsp.readFile(path.join(root, '.git', 'info', 'exclude'), 'utf8').catch(() => ''));
    const text = texts.join('\n');
    if (!text.trim()) return;
    t.gitignores.set(`${root}\0${relDir}`, ignore().add(text));
    t.ignoreBytes += text.length * 2;
  }

  /** Gitignored by the rules of `rel`'s ancestors, deepest last (git: the deepest file wins). */
  private gitignored(t: Tables, root: string, rel: string, isDir: boolean): boolean {
    if (!this.rules.gitignore || t.gitignores.size === 0) return false;
    const parts = rel.split('/');
    let ignored = false;
    for (let i = 0; i < parts.length; i++) {
      const ig = t.gitignores.get(`${root}\0${parts.slice(0, i).join('/')}`);
      if (!ig) continue;
      const sub = parts.slice(i).join('/') + (isDir ? '/' : '');
      const r = ig.test(sub);
      if (r.ignored) ignored = true;
      else if (r.unignored) ignored = false;
    }
    return ignored;
  }

  private skipDir(t: Tables, root: string, name: string, rel: string): boolean {
    return SKIP_DIRS.has(name) || this.excludeMatch(rel) || this.gitignored(t, root, rel, true);
  }

  private skipFile(t: Tables, root: string, name: string, rel: string): boolean {
    return skippedName(name) !== undefined || this.excludeMatch(rel) || this.gitignored(t, root, rel, false);
  }

  files(): readonly WorkspaceFile[] {
    this.list ??= [...this.t.byPath.values()];
    return this.list;
  }

  get(p: string): WorkspaceFile | undefined {
    return this.t.byPath.get(path.resolve(p));
  }

  /** Listed files of one folder (absolute), by base name. */
  filesIn(dir: string): ReadonlyMap<string, WorkspaceFile> {
    return this.t.byDir.get(path.resolve(dir)) ?? new Map();
  }

  /** Absolute folders holding listed files. */
  dirs(): IterableIterator<string> {
    return this.t.byDir.keys();
  }

  /**
   * Inside one of the roots and not excluded or ignored, by the same rules as discovery, checked
   * on every folder on the way: the only files ever read. Lexical: readContext also checks the
   * real path of what it reads from disk.
   */
  allowed(p: string): boolean {
    const abs = path.resolve(p);
    const root = this.rootOf(abs);
    if (!root || abs === root) return false;
    const rel = toPosix(path.relative(root, abs));
    const parts = rel.split('/');
    if (parts.some((s) => s === '..' || s === '')) return false;
    return this.foldersAllowed(root, parts, parts.length - 1) && !this.skipFile(this.t, root, parts[parts.length - 1], rel);
  }

  /** The first `n` folders of `parts` (relative to `root`) are ones discovery walks: not skipped, excluded, ignored or a marker folder. */
  private foldersAllowed(root: string, parts: readonly string[], n: number): boolean {
    for (let i = 1; i <= n; i++) {
      if (this.skipDir(this.t, root, parts[i - 1], parts.slice(0, i).join('/'))) return false;
      if (this.t.markerDirs.has(path.join(root, ...parts.slice(0, i)))) return false;
    }
    return true;
  }

  /** Rough memory held by the index, bytes: strings at 2 bytes a character plus object overhead. */
  bytes(): number {
    let n = this.t.ignoreBytes;
    for (const f of this.t.byPath.values()) n += 2 * (f.path.length + f.rel.length) + 160;
    for (const h of this.heads.values()) n += 2 * h.text.length + 64;
    return n + 100 * this.t.byDir.size;
  }

  /**
   * The index's own path for a path the editor reported: a file watcher may give the real path of
   * a file under a symlinked root (/tmp -> /private/tmp); it maps back onto the root as listed.
   */
  listedPath(p: string): string {
    const abs = path.resolve(p);
    if (this.rootOf(abs)) return abs;
    const reals = this.reals();
    const i = reals.findIndex((r) => inside(r, abs));
    return i >= 0 ? path.join(this.roots[i], path.relative(reals[i], abs)) : abs;
  }

  /**
   * Lists one folder again from disk (the folder of the file being completed): files created or
   * deleted there reach the index even where the editor's file watcher is late, over its limits
   * or off (files.watcherExclude, inotify limits). Whether the listing changed. Folders with more
   * than REFRESH_MAX entries are left to the watcher.
   */
  async refreshFolder(dir: string): Promise<boolean> {
    const abs = path.resolve(dir);
    const root = this.rootOf(abs);
    if (!root) return false;
    const parts = abs === root ? [] : toPosix(path.relative(root, abs)).split('/');
    if (!this.foldersAllowed(root, parts, parts.length)) return false;
    let entries;
    try {
      entries = await fsp.readdir(abs, { withFileTypes: true });
    } catch {
      return false;
    }
    if (entries.length > REFRESH_MAX) return false;
    if (abs !== root && entries.some((e) => MARKERS.includes(e.name))) return false;
    const realRoots = this.reals();
    const files = entries.filter((e) => (e.isFile() || e.isSymbolicLink()) && this.allowed(path.join(abs, e.name)));
    // stat in parallel, as discovery does (this runs before the document's encode)
    const stats = await Promise.all(files.map((e) => this.statListed(path.join(abs, e.name), e.isSymbolicLink(), realRoots)));
    const before = this.filesIn(abs);
    const present = new Set(files.map((e) => e.name));
    let changed = false;
    for (let i = 0; i < files.length; i++) {
      const p = path.join(abs, files[i].name);
      const st = stats[i];
      const old = before.get(files[i].name);
      if (!st) {
        if (old) {
          this.remove(p);
          changed = true;
        }
        continue;
      }
      if (old && old.size === st.size && old.mtimeMs === st.mtimeMs) continue;
      this.upsert(p, st.size, st.mtimeMs);
      changed = true;
    }
    for (const name of [...before.keys()]) {
      if (present.has(name)) continue;
      this.remove(path.join(abs, name));
      changed = true;
    }
    return changed;
  }

  /** The owner learnt that a file was created or changed. Files not allowed or too big are dropped. */
  upsert(p: string, size: number, mtimeMs: number): void {
    const abs = path.resolve(p);
    this.journal?.push(() => this.upsert(abs, size, mtimeMs));
    if (path.basename(abs) === '.gitignore' || abs.endsWith(`${path.sep}.git${path.sep}info${path.sep}exclude`)) this.isStale = true;
    const root = this.rootOf(abs);
    if (!root || !this.allowed(abs) || size > this.rules.maxFileBytes) {
      this.remove(abs);
      return;
    }
    const old = this.t.byPath.get(abs);
    if (old) {
      old.size = size;
      old.mtimeMs = mtimeMs;
      return;
    }
    addFile(this.t, { path: abs, rel: toPosix(path.relative(root, abs)), root, size, mtimeMs, lang: languageOf(abs) });
    this.list = undefined;
  }

  /** The owner learnt that a file (or a folder: everything below it goes) was deleted. */
  remove(p: string): void {
    const abs = path.resolve(p);
    this.journal?.push(() => this.remove(abs));
    const drop = (f: WorkspaceFile) => {
      this.t.byPath.delete(f.path);
      const d = this.t.byDir.get(path.dirname(f.path));
      d?.delete(path.basename(f.path));
      if (d && d.size === 0) this.t.byDir.delete(path.dirname(f.path));
      this.heads.delete(f.path);
      this.list = undefined;
    };
    const f = this.t.byPath.get(abs);
    if (f) return drop(f);
    // A folder: drop the files of every listed folder under it.
    for (const dir of [...this.t.byDir.keys()]) if (inside(abs, dir)) for (const g of [...this.t.byDir.get(dir)!.values()]) drop(g);
  }

  /**
   * The first `max` bytes of a listed file, read synchronously and cached by mtime: ranking is
   * synchronous and needs the imports of imported files and go.mod module lines. Only listed files
   * whose real path stays in a root. Internal to this module.
   */
  headSync(p: string, max: number): string | undefined {
    const f = this.get(p);
    if (!f) return undefined;
    const cached = this.heads.get(f.path);
    if (cached && cached.mtimeMs === f.mtimeMs && cached.size === f.size && cached.max >= Math.min(max, f.size)) return cached.text;
    try {
      const real = realpathSync(f.path);
      if (!this.insideRealRoots(real)) return undefined;
      const fd = openSync(f.path, 'r');
      try {
        if (fstatSync(fd).size > this.rules.maxFileBytes) return undefined;
        const buf = Buffer.alloc(Math.min(max, f.size));
        const n = readSync(fd, buf, 0, buf.length, 0);
        const text = buf.subarray(0, n).toString('utf8');
        if (this.heads.size >= 256) this.heads.delete(this.heads.keys().next().value!);
        this.heads.set(f.path, { mtimeMs: f.mtimeMs, size: f.size, max: buf.length, text });
        return text;
      } finally {
        closeSync(fd);
      }
    } catch {
      return undefined;
    }
  }

  /** Whether a real (symlink-free) path lies in a root; the roots' own real paths count. */
  insideRealRoots(real: string): boolean {
    return this.reals().some((r) => inside(r, real)) || this.roots.some((r) => inside(r, real));
  }

  /** The roots' real paths, in the order of `roots` (discovery resolves them; else here, once). */
  private reals(): string[] {
    this.realRoots ??= this.roots.map((r) => {
      try {
        return realpathSync(r);
      } catch {
        return r;
      }
    });
    return this.realRoots;
  }
}

function addFile(t: Tables, f: WorkspaceFile): void {
  t.byPath.set(f.path, f);
  const dir = path.dirname(f.path);
  let d = t.byDir.get(dir);
  if (!d) t.byDir.set(dir, (d = new Map()));
  d.set(path.basename(f.path), f);
}

// ---------------------------------------------------------------------------------------------
// Imports

export interface ImportRef {
  path: string;
  /** The specifier as written: './util', '.models', 'example.com/m/pkg', 'crate::lexer::Token', 'x.h'. */
  spec: string;
}

const TS_EXTS = ['.ts', '.tsx', '.d.ts', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs'];

/**
 * Paths of listed workspace files the text imports or includes, in the order they appear, each
 * once. Regex-based (no parser): a commented-out import counts, which costs a few bytes of
 * context at worst. Only files the index lists are returned, so nothing outside the roots.
 */
export function importsOf(text: string, file: { path: string; lang: string | undefined }, index: WorkspaceIndex): ImportRef[] {
  const lang = file.lang ?? languageOf(file.path);
  const abs = path.resolve(file.path);
  const out: ImportRef[] = [];
  const seen = new Set<string>([abs]);
  const add = (p: string | undefined, spec: string) => {
    if (p && !seen.has(p) && index.allowed(p)) {
      seen.add(p);
      out.push({ path: p, spec });
    }
  };
  switch (familyOf(lang)) {
    case 'js': jsImports(text, abs, index, add); break;
    case 'python': pyImports(text, abs, index, add); break;
    case 'go': goImports(text, abs, index, add); break;
    case 'rust': rustImports(text, abs, index, add); break;
    case 'c': cIncludes(text, abs, index, add); break;
  }
  return out;
}

type Add = (p: string | undefined, spec: string) => void;

function listed(index: WorkspaceIndex, p: string): string | undefined {
  return index.get(p)?.path;
}

/**
 * Relative specifiers only: bare ones ('react', '@scope/x') are packages in node_modules, and
 * tsconfig `paths` aliases are not read. './x.js' also finds x.ts (TypeScript's ESM convention).
 */
function jsImports(text: string, file: string, index: WorkspaceIndex, add: Add): void {
  const re = /(?<![\w$.])(?:from|import|require)\s*\(?\s*(['"`])(\.{1,2}\/[^'"`\n]*|\.{1,2})\1/g;
  for (const m of text.matchAll(re)) {
    const spec = m[2];
    const base = path.resolve(path.dirname(file), spec);
    const cands = [base, ...TS_EXTS.map((e) => base + e), ...TS_EXTS.map((e) => path.join(base, 'index' + e))];
    const js = /\.(m|c)?jsx?$/.exec(base);
    if (js) {
      const stem = base.slice(0, -js[0].length);
      cands.splice(1, 0, ...(js[1] ? [`${stem}.${js[1]}ts`] : [`${stem}.ts`, `${stem}.tsx`, `${stem}.d.ts`]));
    }
    add(cands.map((c) => listed(index, c)).find((p) => p), spec);
  }
}

/** a/b -> a/b.py or a/b/__init__.py under `base`; `names` are tried as submodules of a package first. */
function pyModule(index: WorkspaceIndex, base: string, parts: string[], names: string[]): string[] {
  const dir = path.join(base, ...parts);
  const mod = parts.length ? listed(index, dir + '.py') ?? listed(index, dir + '.pyi') : undefined;
  if (mod) return [mod];
  // `from pkg import sub` names a submodule when pkg/sub.py exists, else something of pkg/__init__.py.
  const subs = names.flatMap((n) => listed(index, path.join(dir, n + '.py')) ?? listed(index, path.join(dir, n, '__init__.py')) ?? []);
  if (subs.length) return subs;
  const init = listed(index, path.join(dir, '__init__.py'));
  return init ? [init] : [];
}

/**
 * `from .a import b` relative to the file's package; `import a.b` and `from a.b import c` searched
 * in the file's folder, then each parent up to the root, then root/src (the src layout). The
 * nearest hit wins, like a script run from its own folder.
 */
function pyImports(text: string, file: string, index: WorkspaceIndex, add: Add): void {
  const root = index.rootOf(file);
  if (!root) return;
  const dir = path.dirname(file);
  const names = (s: string) => s.replace(/[()\\]/g, ' ').split(',').map((x) => x.trim().split(/\s+/)[0]).filter((x) => /^\w+$/.test(x));
  const absolute = (mod: string, imported: string[], spec: string) => {
    const parts = mod.split('.');
    const bases: string[] = [];
    for (let d = dir; inside(root, d); d = path.dirname(d)) {
      bases.push(d);
      if (d === root) break;
    }
    bases.push(path.join(root, 'src'));
    for (const b of bases) {
      const hits = pyModule(index, b, parts, imported);
      if (hits.length) {
        for (const h of hits) add(h, spec);
        return;
      }
    }
  };
  const re = /^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)|import[ \t]+([^\n#;]+))/gm;
  for (const m of text.matchAll(re)) {
    if (m[4] !== undefined) {
      for (const part of m[4].split(',')) {
        const mod = part.trim().split(/\s+/)[0];
        if (/^\w+(\.\w+)*$/.test(mod)) absolute(mod, [], mod);
      }
      continue;
    }
    const dots = m[1];
    const mod = m[2];
    const imported = names(m[3]);
    if (dots) {
      let base = dir;
      for (let i = 1; i < dots.length; i++) base = path.dirname(base);
      for (const h of pyModule(index, base, mod ? mod.split('.') : [], imported)) add(h, dots + mod);
    } else if (mod) {
      absolute(mod, imported, mod);
    }
  }
}

/**
 * Go imports name packages: the module path from the nearest go.mod (walking up from the file)
 * maps an import path to a folder, and every non-test .go file of it is imported. Other go.mod
 * files of the workspace (multi-module repositories) are tried after the file's own.
 */
function goImports(text: string, file: string, index: WorkspaceIndex, add: Add): void {
  const specs: string[] = [];
  for (const m of text.matchAll(/^[ \t]*import[ \t]*(?:\(([^)]*)\)|(?:[\w.]+[ \t]+)?"([^"\n]+)")/gm)) {
    if (m[2]) specs.push(m[2]);
    else for (const l of m[1].matchAll(/^[ \t]*(?:[\w.]+[ \t]+)?"([^"\n]+)"/gm)) specs.push(l[1]);
  }
  if (!specs.length) return;
  const root = index.rootOf(file);
  if (!root) return;
  const mods: { dir: string; module: string }[] = [];
  for (let d = path.dirname(file); inside(root, d); d = path.dirname(d)) {
    const m = goModule(index, path.join(d, 'go.mod'));
    if (m) {
      mods.push({ dir: d, module: m });
      break;
    }
    if (d === root) break;
  }
  let others: { dir: string; module: string }[] | undefined;
  for (const spec of specs) {
    const resolve = (mod: { dir: string; module: string }) => {
      if (spec !== mod.module && !spec.startsWith(mod.module + '/')) return false;
      const pkg = path.join(mod.dir, ...spec.slice(mod.module.length).split('/').filter(Boolean));
      const files = [...index.filesIn(pkg).values()].filter((f) => f.path.endsWith('.go') && !f.path.endsWith('_test.go'));
      files.sort((a, b) => (a.path < b.path ? -1 : 1));
      for (const f of files) add(f.path, spec);
      return files.length > 0;
    };
    if (mods.some(resolve)) continue;
    // Other modules of the workspace, for paths that can be one (a dot in the first element:
    // "fmt" and "net/http" are the standard library, never a workspace folder).
    if (!spec.split('/')[0].includes('.')) continue;
    others ??= index.files().filter((f) => path.basename(f.path) === 'go.mod').slice(0, 64)
      .flatMap((f) => {
        const m = goModule(index, f.path);
        return m ? [{ dir: path.dirname(f.path), module: m }] : [];
      })
      .sort((a, b) => b.module.length - a.module.length);
    others.some(resolve);
  }
}

function goModule(index: WorkspaceIndex, goMod: string): string | undefined {
  const text = index.headSync(goMod, 4096);
  return text ? /^\s*module\s+"?([^\s"]+)"?/m.exec(text)?.[1] : undefined;
}

/**
 * Rust: `mod x;` is x.rs or x/mod.rs in the folder of the module's children (the file's folder
 * for mod.rs/lib.rs/main.rs, else the folder named after the file). `use crate::a::b` starts at
 * the crate's src/ (the nearest Cargo.toml's folder), `self::`/`super::` at the module's
 * children folder and its parent; the deepest file that exists wins (b may be an item of a.rs).
 */
function rustImports(text: string, file: string, index: WorkspaceIndex, add: Add): void {
  const root = index.rootOf(file);
  if (!root) return;
  const base = path.basename(file);
  const children = ['mod.rs', 'lib.rs', 'main.rs'].includes(base) ? path.dirname(file) : path.join(path.dirname(file), base.replace(/\.rs$/, ''));
  const modFile = (dir: string, name: string) => listed(index, path.join(dir, name + '.rs')) ?? listed(index, path.join(dir, name, 'mod.rs'));
  let crateSrc: string | undefined | null = null;
  const crate = () => {
    if (crateSrc !== null) return crateSrc;
    crateSrc = undefined;
    for (let d = path.dirname(file); inside(root, d); d = path.dirname(d)) {
      if (index.filesIn(d).has('Cargo.toml')) {
        crateSrc = path.join(d, 'src');
        break;
      }
      if (d === root) break;
    }
    // Without a Cargo.toml in the listing, a file under a src/ folder is taken to be in the crate.
    if (!crateSrc) {
      const i = file.lastIndexOf(`${path.sep}src${path.sep}`);
      if (i >= 0) crateSrc = file.slice(0, i + 4);
    }
    return crateSrc;
  };
  const resolve = (start: string, segs: string[], spec: string) => {
    for (let n = segs.length; n >= 1; n--) {
      const hit = modFile(path.join(start, ...segs.slice(0, n - 1)), segs[n - 1]);
      if (hit) return add(hit, spec);
    }
  };
  const re = /^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?(?:mod[ \t]+(\w+)[ \t]*;|use[ \t]+((?:crate|self|super)(?:::\w+)*)(?:::\{([^}]*)\})?)/gm;
  for (const m of text.matchAll(re)) {
    if (m[1]) {
      add(modFile(children, m[1]), `mod ${m[1]}`);
      continue;
    }
    const segs = m[2].split('::');
    let start: string | undefined;
    let i = 0;
    if (segs[0] === 'crate') {
      start = crate();
      i = 1;
    } else {
      start = children;
      if (segs[0] === 'self') i = 1;
      while (segs[i] === 'super') {
        start = path.dirname(start);
        i++;
      }
    }
    if (!start) continue;
    const rest = segs.slice(i);
    const groups = m[3] ? m[3].split(',').map((g) => g.trim().split('::').filter((s) => /^\w+$/.test(s))).filter((g) => g.length && g[0] !== 'self') : [];
    if (groups.length) for (const g of groups) resolve(start, [...rest, ...g], `${m[2]}::${g.join('::')}`);
    else if (rest.length) resolve(start, rest, m[2]);
  }
}

/**
 * #include "x.h": relative to the file, then root/include, then the root. #include <x.h> only in
 * root/include (a library's own public headers, e.g. <fmt/core.h>): elsewhere it is a system header.
 */
function cIncludes(text: string, file: string, index: WorkspaceIndex, add: Add): void {
  const root = index.rootOf(file);
  if (!root) return;
  for (const m of text.matchAll(/^[ \t]*#[ \t]*include[ \t]*(?:"([^"\n]+)"|<([^>\n]+)>)/gm)) {
    const spec = m[1] ?? m[2];
    const dirs = m[1] ? [path.dirname(file), path.join(root, 'include'), root] : [path.join(root, 'include')];
    const hit = dirs.map((d) => path.resolve(d, spec)).find((p) => listed(index, p));
    add(hit, spec);
  }
}

// ---------------------------------------------------------------------------------------------
// Ranking

export type ContextReason = 'import' | 'open' | 'recent' | 'folder' | 'language';

export interface ContextEntry {
  path: string;
  rel: string;
  /** Bytes this entry is expected to contribute (its head, at most perFileBytes). */
  bytes: number;
  reason: ContextReason;
  /** Human words: "imported as './util'", "open in an editor", "edited 2 min ago", "same folder, same language". */
  why: string;
}

export interface OpenDoc {
  path: string;
  text: string;
  lastUsed: number;
  lastEdited?: number;
}

export interface ContextOptions {
  budgetBytes: number;
  /** Each file contributes at most this (its head). */
  perFileBytes: number;
  now?: number;
}

/** Files on disk changed within this long count as recently edited. */
const RECENT_MS = 30 * 60_000;
/** Recently edited files taken, at most: a checkout or a formatter run touches hundreds at once. */
const RECENT_MAX = 10;
/** Folder hops (up or down) searched for same-language files. */
const MAX_DISTANCE = 4;
/** Imported files whose own imports are followed (the second level), at most. */
const SECOND_LEVEL_FILES = 16;
/** An entry cut to fit the remaining budget must keep at least this much (or the whole file). */
const MIN_ENTRY_BYTES = 256;

/**
 * The ranked selection for the current file, most relevant first, within budget. The rule:
 *   1. files the current file imports, in the order the imports appear ('import');
 *   2. other open documents, most recently used first ('open');
 *   3. files changed on disk within 30 minutes and after the index's first discovery started (so
 *      not by the clone or copy that made the folder: a one-shot index has none), most recent
 *      first, at most 10 ('recent');
 *   4. same folder, same language family (ts/tsx/js/jsx one, c/cpp/h one), the name sharing the
 *      longest prefix with the current file's first, then the smaller ('folder');
 *   then, only if budget remains, the files the step-1 files import (one more level, 'import');
 *   5. the same family in nearby folders (parent, siblings, children, up to 4 hops) by path
 *      distance, then as in 4 ('language').
 * A file that qualifies under several reasons appears once, under the first. Never the current
 * file, never a file `index.allowed` refuses. Each entry counts min(size, perFileBytes) bytes;
 * the last one that fits is shortened to the budget left if at least 256 bytes are left.
 */
export function rankContext(
  current: { path: string; text: string; lang: string | undefined },
  index: WorkspaceIndex,
  open: readonly OpenDoc[],
  opts: ContextOptions,
): ContextEntry[] {
  const now = opts.now ?? Date.now();
  const self = path.resolve(current.path);
  const lang = current.lang ?? languageOf(self);
  const family = familyOf(lang);
  const openBy = new Map(open.map((d) => [path.resolve(d.path), d]));
  const out: ContextEntry[] = [];
  const taken = new Set<string>([self]);
  let left = opts.budgetBytes;
  const sizeOf = (p: string) => {
    const d = openBy.get(p);
    return d ? Buffer.byteLength(d.text, 'utf8') : index.get(p)?.size ?? 0;
  };
  /** Adds an entry if it is new, allowed and fits; false once the budget is spent. */
  const push = (p: string, reason: ContextReason, why: string): boolean => {
    if (left < Math.min(MIN_ENTRY_BYTES, opts.perFileBytes)) return false;
    if (taken.has(p) || !index.allowed(p)) return true;
    const whole = sizeOf(p);
    // Empty files say nothing; an open document past maxFileBytes is skipped like a file on disk.
    if (whole === 0 || whole > index.rules.maxFileBytes) return true;
    const size = Math.min(whole, opts.perFileBytes);
    if (size > left && left < MIN_ENTRY_BYTES) return true;
    const bytes = Math.min(size, left);
    taken.add(p);
    const root = index.rootOf(p)!;
    out.push({ path: p, rel: toPosix(path.relative(root, p)), bytes, reason, why });
    left -= bytes;
    return true;
  };
  const importWhy = (spec: string, by?: string) => {
    const as = family === 'c' ? `included as "${spec}"` : `imported as '${spec}'`;
    return by ? as.replace(' as ', ` by ${by} as `) : as;
  };

  // 1. Direct imports.
  const direct = importsOf(current.text, { path: self, lang }, index);
  for (const imp of direct) if (!push(imp.path, 'import', importWhy(imp.spec))) return out;

  // 2. Open documents.
  const others = open.filter((d) => path.resolve(d.path) !== self).sort((a, b) => b.lastUsed - a.lastUsed);
  for (const d of others) {
    const edited = d.lastEdited !== undefined && now - d.lastEdited <= RECENT_MS ? `, edited ${ago(now - d.lastEdited)}` : '';
    if (!push(path.resolve(d.path), 'open', `open in an editor${edited}`)) return out;
  }

  // 3. Recently changed on disk.
  const since = Math.max(index.openedAt() ?? Infinity, now - RECENT_MS);
  const recent = index.files().filter((f) => f.lang && f.mtimeMs >= since && !taken.has(f.path)).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const f of recent.slice(0, RECENT_MAX)) {
    if (!push(f.path, 'recent', `edited ${ago(now - f.mtimeMs)}`)) return out;
  }

  // 4. Same folder, same family.
  const stem = path.basename(self).replace(/\..*$/, '');
  const byName = (a: WorkspaceFile, b: WorkspaceFile) =>
    commonPrefix(path.basename(b.path), stem) - commonPrefix(path.basename(a.path), stem) || a.size - b.size || (a.path < b.path ? -1 : 1);
  const sameFamily = (f: WorkspaceFile) => family !== undefined && familyOf(f.lang) === family;
  if (family) {
    const here = [...index.filesIn(path.dirname(self)).values()].filter(sameFamily).sort(byName);
    for (const f of here) if (!push(f.path, 'folder', 'same folder, same language')) return out;
  }

  // Second level: what the imported files import, with their text from the editor or the disk head.
  for (const imp of direct.slice(0, SECOND_LEVEL_FILES)) {
    const d = openBy.get(imp.path);
    const text = d ? d.text : index.headSync(imp.path, opts.perFileBytes);
    if (text === undefined) continue;
    const f = index.get(imp.path);
    const by = path.basename(imp.path);
    for (const sub of importsOf(text, { path: imp.path, lang: f?.lang ?? languageOf(imp.path) }, index)) {
      if (!push(sub.path, 'import', importWhy(sub.spec, by))) return out;
    }
  }

  // 5. Same family in nearby folders, by path distance.
  if (family) {
    const here = path.dirname(self);
    const near: { dir: string; dist: number }[] = [];
    for (const dir of index.dirs()) {
      if (dir === here) continue;
      const dist = hops(here, dir);
      if (dist <= MAX_DISTANCE) near.push({ dir, dist });
    }
    near.sort((a, b) => a.dist - b.dist || (a.dir < b.dir ? -1 : 1));
    for (const { dir, dist } of near) {
      const files = [...index.filesIn(dir).values()].filter(sameFamily).sort(byName);
      const where = toPosix(path.relative(here, dir)) || '.';
      for (const f of files) if (!push(f.path, 'language', `same language, ${dist === 1 && where === '..' ? 'parent folder' : where}`)) return out;
    }
  }
  return out;
}

function ago(ms: number): string {
  const min = Math.floor(ms / 60_000);
  return min < 1 ? 'just now' : `${min} min ago`;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Folder hops between two absolute folders: up to their common ancestor, then down. */
function hops(a: string, b: string): number {
  const rel = path.relative(a, b);
  if (!rel) return 0;
  return rel.split(path.sep).length;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Why a text is not used as context, or undefined if it is fine. */
export function unusableText(text: string): 'nul' | 'binary' | 'generated' | 'minified' | undefined {
  // NUL separates files in the model's stream; a text holding one would forge a boundary.
  if (text.includes('\u0000')) return 'nul';
  const bad = (text.match(/\uFFFD/g) ?? []).length;
  if (bad >= 4 && bad > text.length / 100) return 'binary';
  if (/@generated|DO NOT EDIT/.test(text.slice(0, 1024))) return 'generated';
  let long = 0;
  for (const line of text.split('\n')) if (line.length > 1000) long += line.length;
  if (long > text.length / 2) return 'minified';
  return undefined;
}

/** The first `max` UTF-8 bytes of a text, cut back to the end of a line (or of a character). */
export function headBytes(text: string, max: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return text;
  let end = buf.lastIndexOf(10, max - 1);
  if (end >= 0) return buf.subarray(0, end + 1).toString('utf8');
  end = max;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

/**
 * Reads the chosen files: open documents from `open` (their unsaved text, never the disk), others
 * from disk, their head only. Skips any not allowed or whose real path leaves the roots, any that
 * turn out binary (NUL in the first 8 KB, or heavy invalid UTF-8), generated or minified, or that
 * grew past maxFileBytes. Each is cut to perFileBytes and to the budget left, at a line boundary.
 * Returns the entries used (bytes set to what they contribute) with their texts, in the same
 * order, totalling at most budgetBytes UTF-8 bytes.
 */
export async function readContext(
  entries: readonly ContextEntry[],
  open: readonly OpenDoc[],
  opts: ContextOptions,
  index: WorkspaceIndex,
): Promise<{ entry: ContextEntry; text: string }[]> {
  const openBy = new Map(open.map((d) => [path.resolve(d.path), d]));
  // Read in parallel (the entries already fit the budget), then take them in order.
  const texts = await Promise.all(entries.map(async (e) => {
    const p = path.resolve(e.path);
    if (!index.allowed(p)) return undefined;
    const d = openBy.get(p);
    if (d && Buffer.byteLength(d.text, 'utf8') > index.rules.maxFileBytes) return undefined;
    const text = d ? d.text : await readHead(p, opts.perFileBytes, index);
    return text === undefined || unusableText(text) ? undefined : text;
  }));
  const out: { entry: ContextEntry; text: string }[] = [];
  let left = opts.budgetBytes;
  for (let i = 0; i < entries.length && left > 0; i++) {
    const full = texts[i];
    if (full === undefined) continue;
    const text = headBytes(full, Math.min(opts.perFileBytes, left));
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes === 0) continue;
    out.push({ entry: { ...entries[i], bytes }, text });
    left -= bytes;
  }
  return out;
}

/** The head of a file on disk: enough for perFileBytes and the binary sniff. */
async function readHead(p: string, perFileBytes: number, index: WorkspaceIndex): Promise<string | undefined> {
  try {
    const real = await fsp.realpath(p);
    if (!index.insideRealRoots(real)) return undefined;
    const fh = await fsp.open(real, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > index.rules.maxFileBytes) return undefined;
      const want = Math.min(st.size, Math.max(perFileBytes + 4, 8192));
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      const head = buf.subarray(0, bytesRead);
      if (head.subarray(0, 8192).includes(0)) return undefined;
      return head.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Discovery, ranking and reading in one call for a folder (the CLI's --workspace DIR and the
 * cross-file benchmark). One-shot: the index is built and dropped.
 */
export async function assembleContext(
  current: { path: string; text: string },
  rules: WorkspaceRules,
  opts: ContextOptions,
  open: readonly OpenDoc[] = [],
): Promise<{ entry: ContextEntry; text: string }[]> {
  const index = new WorkspaceIndex(rules);
  await index.discover({ cancelled: false });
  const entries = rankContext({ ...current, lang: languageOf(current.path) }, index, open, opts);
  return readContext(entries, open, opts, index);
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
