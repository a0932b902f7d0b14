// Realistic cursor positions in real files, for the confidence calibration (calibrate.ts) and its
// evaluation (precision.ts): where a user starts typing and waits for ghost text. The text the
// user would write next (the "middle": the rest of the line, or the next lines from a line start)
// is taken out of the document; the lines after it stay, as they do when one edits inside a file.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { rng } from '../engine/sampling';

export const POSITION_KINDS = ['line_start', 'block_start', 'mid_line', 'after_punct'] as const;
export type PositionKind = (typeof POSITION_KINDS)[number];

export interface Position {
  file: string;
  /** The document as the user has it: the file without the middle. */
  doc: string;
  /** The cursor, a UTF-16 offset into doc. */
  offset: number;
  /** What follows the cursor in the real file (what the user wants). */
  middle: string;
  kind: PositionKind;
  /** The file's extension, for per-language figures. */
  lang: string;
}

interface IdxRecord { package: string; path: string; offset: number; length: number }

/** The file types positions are drawn from: what the corpus's editors hold. */
const SOURCE = /\.(py|ts|tsx|js|mjs|cjs|go|rs|c|h|cc|cpp|hpp|java|sh|bash|md|rst|css|scss|html|json|ya?ml|toml)$/;

/** Bytes of a file kept around a position (the cursor near its end, as in a long file being edited). */
const MAX_DOC = 48 * 1024;

/**
 * `count` positions from whole files of `split` (train or heldout) of a corpus (corpus.py's
 * <split>.bin/.idx), the kinds in turn, a file picked at random for each (deterministic in
 * `seed`). `excludePackages`: packages left out (e.g. those a network was trained on).
 */
export function samplePositions(corpus: string, split: 'train' | 'heldout', count: number, seed: number, excludePackages = new Set<string>()): Position[] {
  const idx: IdxRecord[] = JSON.parse(readFileSync(path.join(corpus, `${split}.idx`), 'utf8'));
  const raw = readFileSync(path.join(corpus, `${split}.bin`));
  const files = idx.filter((r) => r.length > 1500 && r.length < 400_000 && SOURCE.test(r.path) && !excludePackages.has(packageName(r.package)));
  if (!files.length) throw new Error(`no source files in ${corpus} ${split}`);
  const random = rng(seed);
  const out: Position[] = [];
  for (let tries = 0; out.length < count && tries < count * 40; tries++) {
    const kind = POSITION_KINDS[out.length % POSITION_KINDS.length];
    const rec = files[Math.floor(random() * files.length)];
    const text = raw.subarray(rec.offset, rec.offset + rec.length).toString('utf8');
    if (text.includes('\uFFFD')) continue;
    const p = positionIn(text, kind, random);
    if (!p) continue;
    // a long file: keep the part before the cursor that fits, from a line start
    let from = 0;
    if (p.start > MAX_DOC) from = text.indexOf('\n', p.start - MAX_DOC) + 1;
    const to = Math.min(text.length, p.end + 4096);
    const doc = text.slice(from, p.start) + text.slice(p.end, to);
    out.push({ file: `${rec.package}/${rec.path}`, doc, offset: p.start - from, middle: text.slice(p.start, p.end), kind, lang: path.extname(rec.path).slice(1) });
  }
  return out;
}

/** "name@version" or "name=version" (corpus.py's package records) -> name. */
export function packageName(pkg: string): string {
  return pkg.replace(/[@=].*$/, '');
}

/** A position of `kind` in `text` (UTF-16 offsets of the middle), or undefined if the line drawn has none. */
function positionIn(text: string, kind: PositionKind, random: () => number): { start: number; end: number } | undefined {
  const lines = text.split('\n');
  if (lines.length < 12) return undefined;
  const i = 5 + Math.floor(random() * (lines.length - 10));
  const line = lines[i].replace(/\r$/, '');
  if (line.length > 200 || line.trim().length < 4) return undefined;
  const lineStart = lines.slice(0, i).reduce((a, l) => a + l.length + 1, 0);
  const indent = /^[ \t]*/.exec(line)![0].length;
  const lineEnd = lineStart + line.length;
  if (kind === 'line_start') return { start: lineStart + indent, end: lineEnd };
  if (kind === 'block_start') {
    const n = 2 + Math.floor(random() * 3);
    const body = lines.slice(i, i + n).map((l) => l.replace(/\r$/, ''));
    if (body.length < n || body.some((l) => l.length > 200)) return undefined;
    let end = lineStart;
    for (let j = 0; j < n; j++) end += lines[i + j].length + (j < n - 1 ? 1 : 0);
    if (lines[i + n - 1].endsWith('\r')) end--;
    return { start: lineStart + indent, end };
  }
  // mid_line: after a blank that follows a word; after_punct: after ( . = : { (and the blanks after it)
  const at: number[] = [];
  for (let k = indent + 1; k < line.length - 1; k++) {
    const a = line[k - 1];
    if (kind === 'mid_line' ? /\s/.test(a) && /[\p{L}\p{N}_)\]'"]/u.test(line[k - 2] ?? '') && /\S/.test(line[k]) : /[(.=:{]/.test(a)) {
      let s = k;
      while (kind === 'after_punct' && s < line.length && (line[s] === ' ' || line[s] === '\t')) s++;
      if (s < line.length - 1 && line.slice(s).trim().length > 0) at.push(s);
    }
  }
  if (!at.length) return undefined;
  return { start: lineStart + at[Math.floor(random() * at.length)], end: lineEnd };
}

/** Whether `shown` is right: what follows the cursor starts with it, or it is all of it up to trailing blanks. */
export function isRight(shown: string, middle: string): boolean {
  if (!shown) return false;
  return middle.startsWith(shown) || shown.trimEnd() === middle.trimEnd();
}

/**
 * Characters of `shown` a user keeps (Tab when it is right, else accept-word up to where it goes
 * wrong: whole words of the common prefix), and characters shown wrong (the rest).
 */
export function keptAndWrong(shown: string, middle: string, cuts: (text: string) => number[]): { kept: number; wrong: number } {
  if (isRight(shown, middle)) return { kept: shown.length, wrong: 0 };
  let lcp = 0;
  while (lcp < shown.length && lcp < middle.length && shown[lcp] === middle[lcp]) lcp++;
  const kept = Math.max(0, ...cuts(shown).filter((k) => k <= lcp));
  return { kept, wrong: shown.length - kept };
}
