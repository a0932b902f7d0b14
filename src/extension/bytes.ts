// UTF-8 ↔ UTF-16 bookkeeping. The engine speaks bytes (bits per UTF-8 byte); VS Code speaks
// UTF-16 code units. Everything that lines one up against the other walks the text here, code
// point by code point. Pure: no `vscode` import, so it is tested with `node --test`.

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

export interface LineSurprisal {
  /** Zero-based line number, counted as VS Code counts lines (\r\n, \n and \r all end a line). */
  line: number;
  /** UTF-8 bytes of the line's content, line break excluded. */
  bytes: number;
  bitsPerByte: number;
}

/**
 * Mean bits per byte of each non-empty line. `bits[k]` belongs to the k-th UTF-8 byte of `text`.
 * Line-break bytes advance the byte index but are not averaged in: how surprising a line is
 * should not depend on how it ends.
 */
export function lineSurprisal(text: string, bits: ArrayLike<number>): LineSurprisal[] {
  const lines: LineSurprisal[] = [];
  let line = 0;
  let byte = 0;
  let lineBytes = 0;
  let lineBits = 0;
  const endLine = () => {
    if (lineBytes > 0) lines.push({ line, bytes: lineBytes, bitsPerByte: lineBits / lineBytes });
    line++;
    lineBytes = 0;
    lineBits = 0;
  };
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    if (cp === 0x0d || cp === 0x0a) {
      // \r\n is one line break of two bytes.
      const crlf = cp === 0x0d && text.charCodeAt(i + 1) === 0x0a;
      const n = crlf ? 2 : 1;
      byte += n;
      i += n;
      endLine();
      continue;
    }
    const n = utf8Length(cp);
    if (byte + n > bits.length) break; // the engine scored fewer bytes than we hold: stop there
    for (let k = 0; k < n; k++) lineBits += bits[byte + k];
    lineBytes += n;
    byte += n;
    i += cp > 0xffff ? 2 : 1;
  }
  if (lineBytes > 0) lines.push({ line, bytes: lineBytes, bitsPerByte: lineBits / lineBytes });
  return lines;
}
