// The workspace index of the cheap models: other files' text, far more of it than the network's
// stream holds (megabyte.context.indexBytes against workspaceBytes), for the match models to copy
// from when the document itself has no match. The network never reads it, so it costs no encoding:
// building it is reading the files and hashing every position (~30 ms per MB here).
//
// Layout: `NUL file1 NUL file2 NUL ... NUL` as bytes; a position p of that text is the match
// pointer p - L (L: the text's length), so pointers below 0 are the index's and pointers from 0
// are the stream's, and a match into the index runs on with ptr++ as one in the stream does. A
// NUL reads as -2, equal to no symbol: a match never crosses from one file into the next, nor off
// the end into the stream, and the backward verification stops at a file's start.
//
// No peeking: the document's own file (its copy on disk, which may hold the very text being
// predicted) is excluded by range (External.lo/hi), and the stream's own positions are never in it.

/** Bytes of left context hashed per position: an index match needs at least this much evidence. */
export const CROSS_CONTEXT = 8;
/** Candidates with the same context hash verified per lookup, most recent first. */
export const CROSS_CANDIDATES = 16;
/** What a NUL (a file boundary) of the index reads as: no stream symbol equals it. */
export const BOUNDARY = -2;

export interface CrossFile {
  path: string;
  /** Its text is text[start, end) of the index (bytes; start is after its leading NUL). */
  start: number;
  end: number;
}

/** A document's view of the index: the index, minus the range of the document's own file. */
export interface External {
  index: CrossIndex;
  /** Excluded pointers [lo, hi) (the document's own file; lo === hi: none). */
  lo: number;
  hi: number;
}

/** The hash of the 8 bytes before a position, given as two big-endian words. */
function mix(w0: number, w1: number): number {
  return (Math.imul(w0, 0x9e3779b1) ^ Math.imul(w1 ^ 0x7feb352d, 0x85ebca6b)) >>> 0;
}

/** The hash of the CROSS_CONTEXT symbols before i (-1: a boundary or a sentinel among them: no lookup). */
function hash8(get: (j: number) => number, i: number): number {
  let w0 = 0;
  let w1 = 0;
  for (let j = i - CROSS_CONTEXT; j < i; j++) {
    const s = get(j);
    if (s < 0 || s > 255) return -1;
    w0 = (w0 << 8) | (w1 >>> 24);
    w1 = (w1 << 8) | s;
  }
  return mix(w0, w1);
}

/** Positions hashed between two pauses of CrossIndex.build (~8 ms here). */
export const BUILD_CHUNK = 1 << 18;

/**
 * The most memory the index takes per byte of text: the text (1), its chains (4) and the hash
 * heads (at most 2 slots of 4 bytes per position, rounded up to a power of two).
 */
export const INDEX_MEMORY_PER_BYTE = 13;

export class CrossIndex {
  readonly text: Uint8Array;
  readonly files: CrossFile[];
  private readonly head: Int32Array;
  /** prev[p]: the previous position with p's context hash (-1: none). */
  private readonly prev: Int32Array;
  private readonly mask: number;
  readonly at = (ptr: number): number => {
    const b = this.text[ptr + this.text.length];
    return b === 0 ? BOUNDARY : b;
  };

  /** The index over `parts` (NUL bytes inside a text become boundaries too); build() does it in chunks. */
  constructor(parts: readonly { path: string; text: string | Uint8Array }[], hashed = true) {
    const bufs = parts.map((p) => (typeof p.text === 'string' ? Buffer.from(p.text, 'utf8') : p.text));
    const L = 1 + bufs.reduce((a, b) => a + b.length + 1, 0);
    this.text = new Uint8Array(L);
    this.files = [];
    let at = 1;
    for (let k = 0; k < bufs.length; k++) {
      this.text.set(bufs[k], at);
      this.files.push({ path: parts[k].path, start: at, end: at + bufs[k].length });
      at += bufs[k].length + 1;
    }
    let bits = 10;
    while (bits < 24 && 1 << bits < L) bits++;
    this.mask = (1 << bits) - 1;
    this.head = new Int32Array(1 << bits).fill(-1);
    this.prev = new Int32Array(L).fill(-1);
    if (hashed) this.hash(0, L);
  }

  /** Builds the index over `parts`, hashing in chunks with `pause()` between them (a request goes first). */
  static async build(parts: readonly { path: string; text: string | Uint8Array }[], pause: () => Promise<void> = async () => undefined): Promise<CrossIndex> {
    const x = new CrossIndex(parts, false);
    for (let p = 0; p < x.text.length; p += BUILD_CHUNK) {
      await pause();
      x.hash(p, Math.min(x.text.length, p + BUILD_CHUNK));
    }
    return x;
  }

  /** Chains positions [from, to): each after the 8 bytes it is found by. */
  private hash(from: number, to: number): void {
    const t = this.text;
    let w0 = 0;
    let w1 = 0;
    let run = 0; // bytes since the last boundary
    for (let j = Math.max(0, from - CROSS_CONTEXT); j < from; j++) {
      run = t[j] === 0 ? 0 : run + 1;
      w0 = (w0 << 8) | (w1 >>> 24);
      w1 = (w1 << 8) | t[j];
    }
    for (let p = from; p < to; p++) {
      const b = t[p];
      if (run >= CROSS_CONTEXT && b !== 0) {
        const h = mix(w0, w1);
        const slot = (h ^ (h >>> 15)) & this.mask;
        this.prev[p] = this.head[slot];
        this.head[slot] = p;
      }
      run = b === 0 ? 0 : run + 1;
      w0 = (w0 << 8) | (w1 >>> 24);
      w1 = (w1 << 8) | b;
    }
  }

  get size(): number {
    return this.text.length;
  }

  bytes(): number {
    return this.text.byteLength + this.head.byteLength + this.prev.byteLength;
  }

  /** The view for a document at `path` (its own file, if indexed, excluded). */
  view(path: string | undefined): External {
    const f = path === undefined ? undefined : this.files.find((x) => x.path === path);
    const L = this.text.length;
    return f ? { index: this, lo: f.start - L, hi: f.end - L } : { index: this, lo: 0, hi: 0 };
  }

  /**
   * The best match for the position after the stream's symbols before i (`get`): the candidate,
   * among the most recent CROSS_CANDIDATES with the same context, whose left context agrees
   * longest (up to `verify`), if that is at least `minLen`. Returns the pointer to copy from
   * (negative) and the evidence length, or undefined.
   */
  find(get: (j: number) => number, i: number, ext: External, verify: number, minLen: number): { ptr: number; len: number } | undefined {
    if (i < CROSS_CONTEXT) return undefined;
    const h = hash8(get, i);
    if (h < 0) return undefined;
    const t = this.text;
    const L = t.length;
    let best = 0; // pointers into the index are negative: 0 is none
    let bestLen = 0;
    let p = this.head[(h ^ (h >>> 15)) & this.mask];
    for (let c = 0; c < CROSS_CANDIDATES && p >= 0; c++, p = this.prev[p]) {
      const ptr = p - L;
      if (ptr >= ext.lo && ptr < ext.hi) continue;
      let k = 0;
      while (k < verify && i - 1 - k >= 0 && p - 1 - k >= 0 && t[p - 1 - k] !== 0 && t[p - 1 - k] === get(i - 1 - k)) k++;
      if (k > bestLen) {
        best = ptr;
        bestLen = k;
        if (k >= verify) break;
      }
    }
    return bestLen < Math.max(minLen, CROSS_CONTEXT) ? undefined : { ptr: best, len: bestLen };
  }

  /** Pointers whose left context is the CROSS_CONTEXT symbols before i, most recent first (for anchors). */
  *candidates(get: (j: number) => number, i: number, ext: External, limit: number): Generator<number> {
    if (i < CROSS_CONTEXT) return;
    const h = hash8(get, i);
    if (h < 0) return;
    const L = this.text.length;
    let p = this.head[(h ^ (h >>> 15)) & this.mask];
    for (let c = 0; c < limit && p >= 0; c++, p = this.prev[p]) {
      const ptr = p - L;
      if (!(ptr >= ext.lo && ptr < ext.hi)) yield ptr;
    }
  }

  /** The file a pointer of the index lies in. */
  fileAt(ptr: number): CrossFile | undefined {
    const p = ptr + this.text.length;
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      const f = this.files[m];
      if (p < f.start) hi = m - 1;
      else if (p > f.end) lo = m + 1;
      else return f;
    }
    return undefined;
  }
}
