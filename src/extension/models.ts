// Finding models on disk: a model is a directory holding manifest.json (and the ONNX files it
// lists). Node only, no `vscode` import, so the lead can test it against a temp directory.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** manifest.json as written by the training side; every field optional, as the extension only reads it. */
export interface ModelManifest {
  name?: string;
  description?: string;
  files?: { path: string; sha256?: string; bytes?: number }[];
  evaluation?: { heldout_bpb?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export type ModelSource = 'bundled' | 'user';

export interface ModelEntry {
  dir: string;
  name: string;
  description?: string;
  /** Bytes of the model's files on disk; undefined when they could not be counted. */
  sizeBytes?: number;
  heldoutBpb?: number;
  source: ModelSource;
}

export interface ModelRoot {
  dir: string;
  source: ModelSource;
  /** Child directories that are not models (models/training holds the PyTorch side). */
  skip?: readonly string[];
}

/** Reads `<dir>/manifest.json`; undefined when it is missing or not JSON. Throws nothing. */
export async function readModel(dir: string, source: ModelSource): Promise<ModelEntry | undefined> {
  let manifest: ModelManifest;
  try {
    const parsed: unknown = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    manifest = parsed as ModelManifest;
  } catch {
    return undefined;
  }
  const bpb = manifest.evaluation?.heldout_bpb;
  return {
    dir,
    name: typeof manifest.name === 'string' && manifest.name.trim() !== '' ? manifest.name : path.basename(dir),
    description: typeof manifest.description === 'string' ? manifest.description : undefined,
    sizeBytes: await modelSize(dir, manifest),
    heldoutBpb: typeof bpb === 'number' && Number.isFinite(bpb) ? bpb : undefined,
    source,
  };
}

/** Sum of the manifest's file sizes; files without a recorded size are stat'ed, a manifest without files counts the directory. */
async function modelSize(dir: string, manifest: ModelManifest): Promise<number | undefined> {
  const files = Array.isArray(manifest.files) ? manifest.files.filter((f) => f && typeof f.path === 'string') : undefined;
  try {
    if (files && files.length > 0) {
      let total = 0;
      for (const f of files) {
        total += typeof f.bytes === 'number' ? f.bytes : (await fs.stat(path.resolve(dir, f.path))).size;
      }
      return total;
    }
    let total = 0;
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      if (e.isFile()) total += (await fs.stat(path.join(dir, e.name))).size;
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Models in each root (the root itself if it holds a manifest, then its children), each root sorted by name. */
export async function listModels(roots: readonly ModelRoot[]): Promise<ModelEntry[]> {
  const all: ModelEntry[] = [];
  for (const root of roots) {
    const found: ModelEntry[] = [];
    const self = await readModel(root.dir, root.source);
    if (self) found.push(self);
    let children: string[] = [];
    try {
      children = (await fs.readdir(root.dir, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && !(root.skip ?? []).includes(e.name))
        .map((e) => e.name);
    } catch {
      // A missing or unreadable root holds no models; the picker just shows fewer.
    }
    for (const child of children) {
      const entry = await readModel(path.join(root.dir, child), root.source);
      if (entry) found.push(entry);
    }
    found.sort((a, b) => a.name.localeCompare(b.name));
    all.push(...found);
  }
  return all;
}

/**
 * The model named by the `megabyte.models.default` setting: matched by manifest name, then by
 * directory name; the user's folder wins over bundled models of the same name (the user put it
 * there on purpose). An empty name picks the first bundled model, then the first user model.
 */
export function resolveModel(entries: readonly ModelEntry[], name: string): ModelEntry | undefined {
  const wanted = name.trim();
  const bySource = (source: ModelSource) => entries.filter((e) => e.source === source);
  const ordered = [...bySource('user'), ...bySource('bundled')];
  if (wanted === '') return bySource('bundled')[0] ?? bySource('user')[0];
  return ordered.find((e) => e.name === wanted) ?? ordered.find((e) => path.basename(e.dir) === wanted);
}

/** The engine may report a model's directory normalized differently from how it was found. */
export function sameDir(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && path.resolve(a) === path.resolve(b);
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '? B';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
