// The benchmark's texts: a long real source file for timing, the held-out sample for quality
// (the same files models/training/eval.py `heldout_files` picks), and the general-purpose
// compressors it is compared with.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const TYPESCRIPT_JS = '.cache/corpus/src/npm-typescript/package/lib/typescript.js';

export interface Source {
  /** What the text is, relative to the repository root. */
  name: string;
  bytes: Buffer;
}

/** typescript.js (9 MB) if the corpus is downloaded, else the repository's own sources concatenated. */
export function loadSource(root: string, minBytes: number): Source {
  const ts = path.join(root, TYPESCRIPT_JS);
  if (existsSync(ts)) return { name: TYPESCRIPT_JS, bytes: readFileSync(ts) };
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(path.join(root, dir)).sort()) {
      const rel = path.join(dir, f);
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|py|mjs)$/.test(f)) files.push(rel);
    }
  };
  for (const d of ['src', 'test', 'scripts', 'models/training']) if (existsSync(path.join(root, d))) walk(d);
  const one = Buffer.concat(files.map((f) => readFileSync(path.join(root, f))));
  // Repeated to size: the timing does not care that the text repeats.
  const parts: Buffer[] = [];
  let n = 0;
  while (n < minBytes) {
    parts.push(one);
    n += one.length;
  }
  return { name: 'repository sources (src, test, scripts, models/training), repeated', bytes: Buffer.concat(parts) };
}

/** The first `n` bytes of `b` as text, cut back to a whole UTF-8 character. */
export function prefixText(b: Buffer, n: number): string {
  let end = Math.min(n, b.length);
  while (end > 0 && end < b.length && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

export interface HeldoutFile {
  name: string;
  bytes: Buffer;
  text: string;
}

export interface IdxRecord {
  package: string;
  path: string;
  offset: number;
  length: number;
}

export function readIdx(corpus: string): { idx: IdxRecord[]; raw: Buffer } | undefined {
  const idxFile = path.join(corpus, 'heldout.idx');
  const binFile = path.join(corpus, 'heldout.bin');
  if (!existsSync(idxFile) || !existsSync(binFile)) return undefined;
  return { idx: JSON.parse(readFileSync(idxFile, 'utf8')) as IdxRecord[], raw: readFileSync(binFile) };
}

/**
 * The deterministic sample of whole held-out files that eval.py's `heldout_files` takes: every
 * package in turn (sorted), a file picked by `(i * 7919) % remaining`, until `maxBytes`. Files
 * that are not valid UTF-8 are dropped (the engine takes text), and counted.
 */
export function heldoutSample(corpus: string, maxBytes: number, maxFile = 1 << 20): { files: HeldoutFile[]; skippedNotUtf8: number } | undefined {
  const r = readIdx(corpus);
  if (!r) return undefined;
  const byPkg = new Map<string, IdxRecord[]>();
  for (const rec of r.idx) {
    if (rec.length > maxFile) continue;
    if (!byPkg.has(rec.package)) byPkg.set(rec.package, []);
    byPkg.get(rec.package)!.push(rec);
  }
  const pkgs = [...byPkg.keys()].sort();
  const files: HeldoutFile[] = [];
  let total = 0;
  let skippedNotUtf8 = 0;
  for (let i = 0; total < maxBytes && [...byPkg.values()].some((v) => v.length); i++) {
    for (const pkg of pkgs) {
      const recs = byPkg.get(pkg)!;
      if (!recs.length) continue;
      const rec = recs.splice((i * 7919) % recs.length, 1)[0];
      const bytes = r.raw.subarray(rec.offset, rec.offset + rec.length);
      const text = bytes.toString('utf8');
      total += bytes.length; // counted as eval.py counts it, so the same files are picked
      if (Buffer.byteLength(text) !== bytes.length || text.includes('\uFFFD')) skippedNotUtf8++;
      else files.push({ name: `${pkg}/${rec.path}`, bytes, text });
      if (total >= maxBytes) break;
    }
  }
  return { files, skippedNotUtf8 };
}

/** Held-out files longer than `minBytes` (any size), each cut to its first `cutBytes`. */
export function longHeldout(corpus: string, minBytes: number, cutBytes: number, most: number): HeldoutFile[] {
  const r = readIdx(corpus);
  if (!r) return [];
  return r.idx.filter((rec) => rec.length > minBytes)
    .sort((a, b) => b.length - a.length || a.offset - b.offset)
    .map((rec) => {
      const text = prefixText(r.raw.subarray(rec.offset, rec.offset + rec.length), cutBytes);
      return { name: `${rec.package}/${rec.path}`, bytes: Buffer.from(text, 'utf8'), text };
    })
    .filter((f) => !f.text.includes('\uFFFD'))
    .slice(0, most);
}

function which(exe: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d && existsSync(path.join(d, exe)));
}

/** Bits per byte of xz, zstd and zpaq on the same files, each compressed on its own (eval.py `compressor_bits`); null where a tool is missing. */
export function compressorBpb(files: Buffer[]): Record<string, number | null> {
  const total = files.reduce((a, f) => a + f.length, 0);
  const tools: [string, string, (data: Buffer) => number][] = [
    ['xz -9e', 'xz', (d) => run('xz', ['-9e', '-c', '-T1'], d).length],
    ['zstd -19 --long=27', 'zstd', (d) => run('zstd', ['-19', '--long=27', '-c', '-q'], d).length],
    ['zpaq -m5', 'zpaq', (d) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-zpaq-'));
      try {
        writeFileSync(path.join(dir, 'f'), d);
        run('zpaq', ['a', 'a.zpaq', 'f', '-m5'], undefined, dir);
        return statSync(path.join(dir, 'a.zpaq')).size;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }],
  ];
  const out: Record<string, number | null> = {};
  for (const [name, exe, size] of tools) {
    if (!which(exe) || !total) {
      out[name] = null;
      continue;
    }
    let bytes = 0;
    for (const f of files) bytes += size(f);
    out[name] = Math.round((8 * bytes / total) * 10000) / 10000;
  }
  return out;
}

function run(cmd: string, args: string[], input?: Buffer, cwd?: string): Buffer {
  const r = spawnSync(cmd, args, { input, cwd, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString() || r.error?.message}`);
  return r.stdout;
}
