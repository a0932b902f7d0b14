// manifest.json: what a model directory holds and how to check it before any session is created.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ONNX_TEMPLATES, VOCAB_SIZE } from './contract';
import { externalDataRefs, OnnxFormatError } from './onnxfile';
import { MatchParams, matchParamsError } from './match';
import { CmBlock, cmBlockError } from './cm';
import { ConfidenceBlock, confidenceBlockError } from './confidence';

export interface LevelManifest {
  dim: number;
  layers: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
  embed_dim: number;
  unit: number;
  rope_theta: number;
}

export interface Manifest {
  format: string;
  name: string;
  description?: string;
  architecture: 'megabyte' | 'plain-transformer';
  patch_sizes: number[];
  top_unit: number;
  levels: LevelManifest[];
  vocab_size: number;
  onnx_names: Record<string, string>;
  parameters: { total: number; levels: number[] };
  files: { path: string; sha256: string; bytes: number }[];
  evaluation?: { heldout_bpb?: number; [k: string]: unknown };
  training?: Record<string, unknown>;
  corpus?: unknown[];
  /** The match model mixed with the network (models/training/megabyte/match.py); optional. */
  match_model?: MatchParams;
  /** The context-mixing layer over the network and online models (models/training/megabyte/cm.py); optional, needs match_model. */
  context_mixing?: CmBlock;
  /**
   * The calibration of ghost text's confidence (src/engine/confidence.ts, fitted by
   * src/bench/calibrate.ts); optional. A list holds one block per generation rule (network alone,
   * with the match model, with the context-mixing layer): the engine uses the one fitted on the
   * model as it generates now.
   */
  confidence?: ConfidenceBlock | ConfidenceBlock[];
}

export class ModelError extends Error {
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'ModelError';
  }
}

/**
 * Why a manifest's file path does not name a file inside the model directory (undefined: it
 * does): absolute on any platform, a `..` segment, a drive letter, empty. Backslashes count as
 * separators everywhere, so a manifest means the same on every platform.
 */
export function modelPathError(p: unknown): string | undefined {
  if (typeof p !== 'string' || p === '') return 'must be a relative path inside the model directory';
  if (path.posix.isAbsolute(p) || path.win32.isAbsolute(p) || /^[A-Za-z]:/.test(p)) return `${JSON.stringify(p)} is absolute: it must be a path inside the model directory`;
  if (p.split(/[\\/]/).some((seg) => seg === '..')) return `${JSON.stringify(p)} leaves the model directory (..)`;
  if (p.includes('\0')) return `${JSON.stringify(p)} holds a NUL byte`;
  return undefined;
}

/** Whether `file` (both real paths) lies inside `dir`. */
function inside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** Reads and validates `dir/manifest.json`; with `verify`, checks every file's size and sha256. */
export async function readManifest(dir: string, verify = true): Promise<Manifest> {
  const file = path.join(dir, 'manifest.json');
  let m: Manifest;
  try {
    m = JSON.parse(await fs.readFile(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new ModelError(`cannot read the manifest (${(e as Error).message})`, file);
  }
  const bad = (what: string) => new ModelError(what, file);
  if (m.format !== 'megabyte-onnx/1') throw bad(`unknown format ${JSON.stringify(m.format)}`);
  if (m.vocab_size !== VOCAB_SIZE) throw bad(`vocab_size ${m.vocab_size}, expected ${VOCAB_SIZE}`);
  if (!Array.isArray(m.levels) || m.levels.length !== (m.patch_sizes?.length ?? -1) + 1) {
    throw bad('levels must have one entry per patch size, plus the local level');
  }
  for (const [k, v] of Object.entries(ONNX_TEMPLATES)) {
    if (m.onnx_names?.[k] !== v) throw bad(`onnx_names.${k} is ${JSON.stringify(m.onnx_names?.[k])}, the engine expects ${JSON.stringify(v)}`);
  }
  if (!Array.isArray(m.files) || m.files.length !== m.levels.length) throw bad('files must list one ONNX graph per level');
  m.files.forEach((f, i) => {
    const err = modelPathError(f?.path);
    if (err) throw bad(`files[${i}].path ${err}`);
  });
  if (m.match_model !== undefined) {
    const err = matchParamsError(m.match_model);
    if (err) throw bad(err);
  }
  if (m.context_mixing !== undefined) {
    const err = cmBlockError(m.context_mixing);
    if (err) throw bad(err);
    if (m.match_model === undefined) throw bad('context_mixing needs a match_model (its first match input)');
  }
  if (m.confidence !== undefined) {
    const blocks: unknown[] = Array.isArray(m.confidence) ? m.confidence : [m.confidence];
    for (const [i, b] of blocks.entries()) {
      const err = confidenceBlockError(b);
      if (err) throw bad(Array.isArray(m.confidence) ? `confidence[${i}]: ${err}` : err);
    }
  }
  if (verify) {
    const realDir = await fs.realpath(dir);
    await Promise.all(m.files.map(async (f, i) => {
      const p = path.join(dir, f.path);
      let st;
      try {
        st = await fs.stat(p);
      } catch {
        throw new ModelError('missing (listed in manifest.json)', p);
      }
      // A link inside the directory may still lead out of it.
      if (!inside(realDir, await fs.realpath(p))) throw new ModelError(`files[${i}].path leads out of the model directory (a symbolic link)`, p);
      if (st.size !== f.bytes) throw new ModelError(`size ${st.size} bytes, manifest.json says ${f.bytes} (truncated or replaced?)`, p);
      const bytes = await fs.readFile(p);
      const got = createHash('sha256').update(bytes).digest('hex');
      if (got !== f.sha256) throw new ModelError(`sha256 ${got} does not match manifest.json (${f.sha256}): corrupt or replaced`, p);
      // onnxruntime would read an external-data tensor from wherever its location points (and
      // outside what sha256 covers): the engine loads only self-contained graphs, as export.py writes.
      let refs;
      try {
        refs = externalDataRefs(bytes);
      } catch (e) {
        if (e instanceof OnnxFormatError) throw new ModelError(`not a readable ONNX file (${e.message})`, p);
        throw e;
      }
      if (refs.length) {
        const where = refs.slice(0, 3).map((r) => `${r.tensor || '(unnamed)'} -> ${JSON.stringify(r.location ?? '?')}`).join(', ');
        throw new ModelError(`${refs.length} tensor(s) keep their data outside the file (ONNX external data: ${where}); the engine loads only self-contained graphs, whose bytes manifest.json's sha256 covers`, p);
      }
    }));
  }
  return m;
}
