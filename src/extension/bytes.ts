// UTF-8 ↔ UTF-16 bookkeeping. The engine speaks bytes (bits per UTF-8 byte); VS Code speaks
// UTF-16 code units. Everything that lines one up against the other walks the text here, code
// point by code point; so does the line arithmetic of the surprisal view (per-line scores, the
// painted window around the visible lines, runs for the overview ruler). Pure: no `vscode`
// import, so it is tested with `node --test`.

/** Bytes that TextEncoder writes for one code point (a lone surrogate becomes U+FFFD: 3 bytes). */
export function utf8Length(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

/** UTF-8 byte length of a string without allocating the encoded bytes. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    bytes += utf8Length(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  return bytes;
}

/** A stretch of text whose bytes share a confidence level. */
export interface BitsRun {
  text: string;
  /** UTF-8 bytes in the run. */
  bytes: number;
  /** Mean bits per byte over the run; NaN where the engine gave no bits (text longer than `bits`). */
  bitsPerByte: number;
  level: number;
}

/**
 * Splits `text` into runs of consecutive code points whose mean bits per byte fall in the same
 * `level`. `bits[k]` is the surprisal of the k-th UTF-8 byte of `text`; a code point's bits are
 * the sum over its bytes, so a 3-byte character is shaded by all three. Missing bits (the text
 * was cut after generation, or the engine returned fewer) get level -1.
 */
export function runsByLevel(text: string, bits: ArrayLike<number>, level: (bitsPerByte: number) => number): BitsRun[] {
  const runs: BitsRun[] = [];
  let byte = 0;
  let current: { start: number; end: number; bytes: number; bits: number; level: number } | undefined;
  const flush = () => {
    if (!current) return;
    runs.push({
      text: text.slice(current.start, current.end),
      bytes: current.bytes,
      bitsPerByte: current.level === -1 ? NaN : current.bits / current.bytes,
      level: current.level,
    });
  };
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const n = utf8Length(cp);
    let sum = 0;
    let known = byte + n <= bits.length;
    for (let k = 0; known && k < n; k++) {
      const b = bits[byte + k];
      if (!Number.isFinite(b)) known = false;
      else sum += b;
    }
    const lvl = known ? level(sum / n) : -1;
    if (current && current.level === lvl) {
      current.end = i + units;
      current.bytes += n;
      current.bits += known ? sum : 0;
    } else {
      flush();
      current = { start: i, end: i + units, bytes: n, bits: known ? sum : 0, level: lvl };
    }
    byte += n;
    i += units;
  }
  flush();
  return runs;
}

/** Per-line scores of a document, one entry per line as VS Code numbers them. */
export interface LineScores {
  /** Mean bits per byte of each line; NaN for an empty line and for lines past the last scored byte. */
  bitsPerByte: Float32Array;
  /** UTF-8 bytes of each line's content that have bits, line break excluded. */
  bytes: Uint32Array;
}

/** Lines as VS Code counts them: \r\n, \n and \r each end one. */
export function lineCount(text: string): number {
  let lines = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) lines++;
  }
  return lines;
}

/**
 * Mean bits per byte of each line. `bits[k]` belongs to the k-th UTF-8 byte of `text`.
 * Line-break bytes advance the byte index but are not averaged in: how surprising a line is
 * should not depend on how it ends. If `bits` ends inside the text, the line it ends in is
 * averaged over its whole characters that have bits and the lines after it are NaN.
 */
export function lineScores(text: string, bits: ArrayLike<number>): LineScores {
  const steps = lineScoresInSlices(text, bits, Infinity);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * lineScores, yielding after every `sliceBytes` bytes so that a caller can give the event loop a
 * turn between slices; returns the scores. One pass over the UTF-8 bytes (the text is encoded
 * once; \r and \n bytes occur in UTF-8 only as those characters), no allocation per line:
 * 1 MB of source in ~10-20 ms in all.
 */
export function* lineScoresInSlices(text: string, bits: ArrayLike<number>, sliceBytes = 1 << 17): Generator<void, LineScores, void> {
  const utf8 = new TextEncoder().encode(text); // a lone surrogate becomes U+FFFD, as the engine encodes it
  const count = lineCount(text);
  const bitsPerByte = new Float32Array(count).fill(NaN);
  const bytes = new Uint32Array(count);
  // Stop at the last whole character that has bits: back off over continuation bytes (10xxxxxx).
  let scored = Math.min(utf8.length, bits.length);
  while (scored < utf8.length && scored > 0 && (utf8[scored] & 0xc0) === 0x80) scored--;
  let line = 0;
  let lineBytes = 0;
  let lineBits = 0;
  for (let i = 0; i < scored; ) {
    for (const stop = Math.min(scored, i + sliceBytes); i < stop; i++) {
      const c = utf8[i];
      if (c === 0x0a || c === 0x0d) {
        if (lineBytes > 0) {
          bitsPerByte[line] = lineBits / lineBytes;
          bytes[line] = lineBytes;
        }
        line++;
        lineBytes = 0;
        lineBits = 0;
        if (c === 0x0d && utf8[i + 1] === 0x0a) i++; // \r\n is one line break of two bytes
        continue;
      }
      lineBits += bits[i];
      lineBytes++;
    }
    if (i < scored) yield;
  }
  if (lineBytes > 0) {
    bitsPerByte[line] = lineBits / lineBytes;
    bytes[line] = lineBytes;
  }
  return { bitsPerByte, bytes };
}

/** Lines `start` to `end`, both included. */
export interface LineSpan {
  start: number;
  end: number;
}

/** A span of consecutive lines at one level; `peak` is the highest bits per byte among them. */
export interface LevelRun extends LineSpan {
  level: number;
  peak: number;
}

/**
 * Consecutive lines of `bitsPerByte[from..to]` at the same level (at least `minLevel`) merged into
 * runs, in line order. A line below `minLevel` (an empty line: NaN) ends a run.
 */
export function levelRuns(
  bitsPerByte: ArrayLike<number>,
  levelOf: (bitsPerByte: number) => number,
  from = 0,
  to = bitsPerByte.length - 1,
  minLevel = 0,
): LevelRun[] {
  const runs: LevelRun[] = [];
  let run: LevelRun | undefined;
  const last = Math.min(to, bitsPerByte.length - 1);
  for (let line = Math.max(0, from); line <= last; line++) {
    const b = bitsPerByte[line];
    const level = Number.isNaN(b) ? -1 : levelOf(b);
    if (level < minLevel) {
      run = undefined;
    } else if (run && run.level === level) {
      run.end = line;
      if (b > run.peak) run.peak = b;
    } else {
      run = { start: line, end: line, level, peak: b };
      runs.push(run);
    }
  }
  return runs;
}

/** At most `cap` of `runs`: the highest levels first, then the highest peaks; returned in line order. */
export function mostSurprising(runs: readonly LevelRun[], cap: number): LevelRun[] {
  if (runs.length <= cap) return [...runs];
  const kept = [...runs].sort((a, b) => b.level - a.level || b.peak - a.peak || a.start - b.start).slice(0, Math.max(0, cap));
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * The lines to decorate around what an editor shows: each visible span widened by `margin` lines
 * on both sides, clamped to the document, overlapping or touching spans merged, in line order.
 */
export function paintWindows(visible: readonly LineSpan[], lines: number, margin: number): LineSpan[] {
  const spans = visible
    .map((v) => ({ start: Math.max(0, Math.min(v.start, v.end) - margin), end: Math.min(lines - 1, Math.max(v.start, v.end) + margin) }))
    .filter((s) => s.start <= s.end)
    .sort((a, b) => a.start - b.start);
  const merged: LineSpan[] = [];
  for (const s of spans) {
    const prev = merged[merged.length - 1];
    if (prev && s.start <= prev.end + 1) prev.end = Math.max(prev.end, s.end);
    else merged.push({ ...s });
  }
  return merged;
}

/**
 * Whether `painted` still covers what is visible with `slack` lines to spare on each side (less
 * at the document's ends): if not, it is time to paint again, before the user scrolls off the edge.
 */
export function windowsCover(painted: readonly LineSpan[], visible: readonly LineSpan[], lines: number, slack: number): boolean {
  return visible.every((v) => {
    const start = Math.max(0, Math.min(v.start, v.end) - slack);
    const end = Math.min(lines - 1, Math.max(v.start, v.end) + slack);
    return painted.some((p) => p.start <= start && end <= p.end);
  });
}
