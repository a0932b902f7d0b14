"""Training windows from the corpus of corpus.py, with the fill-in-the-middle transformation.

A window starts at a file start and runs on through the following files of the same package
(the corpus keeps one package's files in a row), so the model learns to use far context.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .symbols import BOS, SUF, PRE, EOM


class Corpus:
    def __init__(self, root: str | Path, split: str, package_cap: int = 12 << 20):
        root = Path(root)
        self.raw = np.memmap(root / f"{split}.bin", dtype=np.uint8, mode="r")
        idx = json.loads((root / f"{split}.idx").read_text())
        self.packages: dict[str, list[int]] = {}
        sizes: dict[str, int] = {}
        for rec in idx:
            self.packages.setdefault(rec["package"], []).append(rec["offset"] - 1)  # BOS marker
            sizes[rec["package"]] = sizes.get(rec["package"], 0) + rec["length"]
        self.names = sorted(self.packages)
        # Packages are drawn in proportion to their size capped at package_cap, so the two large
        # Debian trees (Go, Rust) do not drown Python, TypeScript and prose.
        w = np.array([min(sizes[n], package_cap) for n in self.names], dtype=np.float64)
        self.weights = w / w.sum()
        self.files = idx

    def window(self, rng: np.random.Generator, length: int) -> np.ndarray:
        name = self.names[rng.choice(len(self.names), p=self.weights)]
        starts = self.packages[name]
        s = starts[rng.integers(len(starts))]
        w = np.asarray(self.raw[s:s + length], dtype=np.int64)
        if len(w) < length:  # the end of the corpus: wrap to its start
            w = np.concatenate([w, np.asarray(self.raw[:length - len(w)], dtype=np.int64)])
        w[w == 0] = BOS  # corpus.py marks each file start with a NUL (files never contain NUL)
        return w


def _middle(text_from_c: np.ndarray, c: int, fe: int, rng: np.random.Generator) -> int:
    """The end of a middle that starts at c: the rest of a line, a few lines, or a random span."""
    nl = np.flatnonzero(text_from_c == 10)
    kind = rng.random()
    if kind < 0.5 and len(nl):          # the rest of one line
        return c + int(nl[0])
    if kind < 0.8 and len(nl):          # a few lines, half the time up to the last one's end
        return c + int(nl[min(len(nl) - 1, int(rng.integers(1, 5)))]) + int(rng.random() < 0.5)
    return min(fe, c + int(rng.integers(0, 257)))  # a random span


def _cursor(w: np.ndarray, fs: int, fe: int, rng: np.random.Generator) -> int:
    """Where the user is: half the time just after a line's indentation (where one starts typing
    a line), else anywhere in the file."""
    c = int(rng.integers(fs, fe))
    if rng.random() < 0.5:
        line = c
        while line > fs and w[line - 1] != 10:
            line -= 1
        c = line
        while c < fe - 1 and w[c] in (32, 9):
            c += 1
    return c


def fim_transform(w: np.ndarray, rng: np.random.Generator, max_near: int = 4096,
                  max_suffix: int = 2048) -> np.ndarray:
    """BOS far SUF suffix PRE near middle EOM <rest of the window after the file>.
    One file of the window is transformed; the part of its suffix past max_suffix is dropped."""
    bos = np.flatnonzero(w == BOS)
    if len(bos) == 0:
        return w
    ends = np.append(bos[1:], len(w))
    f = rng.integers(len(bos))
    fs, fe = int(bos[f]) + 1, int(ends[f])
    if fe - fs < 16:
        return w
    c = int(rng.integers(fs, fe))
    m = _middle(w[c:fe], c, fe, rng)
    b = max(fs, c - int(rng.integers(0, max_near + 1)))
    s = min(fe, m + int(rng.integers(0, max_suffix + 1)))
    return np.concatenate([w[:b], [SUF], w[m:s], [PRE], w[b:m], [EOM], w[fe:]])


def fim_pack(w: np.ndarray, rng: np.random.Generator, max_near: int = 1536, max_suffix: int = 2048,
             max_far: int = 512, weights: list | None = None) -> np.ndarray:
    """Every file of the window becomes one fill-in-the-middle example,
    `[BOS] far SUF suffix PRE near middle EOM`, the examples one after another.

    Why: with one transformed file per window (fim_transform) the middles and their EOM were a
    few hundred of the 32,768 symbols of a window; after 10,430 such steps the suffix did not
    help the bundled model at all (eval.py --fim-spans 40: middle 3.036 bits per byte with the
    suffix, 3.038 with an empty one) and EOM cost it 14.7 bits. Packing puts several examples in every window. The far part is cut to
    at most max_far bytes before the near part (BOS only where that is the file's start): the
    engine caches the far part, and the examples before it in the window (the same package)
    stand in for far context. near and suffix follow what the engine sends (near 0.5-1.5 KB,
    a suffix budget of 2 KB). With `weights` (a list), the [start, end) ranges of each middle
    and its EOM are appended to it (train.py --middle-weight)."""
    bos = np.flatnonzero(w == BOS)
    if len(bos) == 0:
        return w
    ends = np.append(bos[1:], len(w))
    parts: list[np.ndarray] = [w[:bos[0]]]
    at = len(parts[0])  # symbols in parts so far
    for fs0, fe in zip(bos, ends):
        fs, fe = int(fs0) + 1, int(fe)
        if fe - fs < 16:
            parts.append(w[fs - 1:fe])
            at += fe - fs + 1
            continue
        c = _cursor(w, fs, fe, rng)
        m = _middle(w[c:fe], c, fe, rng)
        b = max(fs, c - int(rng.integers(0, max_near + 1)))
        a = max(fs, b - int(rng.integers(0, max_far + 1)))
        s = min(fe, m + int(rng.integers(0, max_suffix + 1)))
        parts += [[BOS] if a == fs else [], w[a:b], [SUF], w[m:s], [PRE], w[b:c], w[c:m], [EOM]]
        at += (a == fs) + (b - a) + 1 + (s - m) + 1 + (c - b)  # up to the middle
        if weights is not None:
            weights.append((at, at + m - c + 1))
        at += m - c + 1
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


def batch(corpus: Corpus, rng: np.random.Generator, batch_size: int, seq_len: int,
          fim_rate: float, fim: str = "pack", middle_weight: float = 1.0, weights: bool = False):
    """(batch_size, seq_len) symbols; with `weights`, also a loss weight per target:
    middle_weight on the middles and their EOM (pack only), 1 elsewhere. A weight that depends on
    the context and not on the target keeps the model's conditionals calibrated; it only spends
    more of the gradient on the contexts the editor asks about.
    fim: "pack" (every file of a FIM window is an example) or "one" (one file per window)."""
    out = np.empty((batch_size, seq_len), dtype=np.int64)
    wts = np.ones((batch_size, seq_len), dtype=np.float32) if weights else None
    for i in range(batch_size):
        w = corpus.window(rng, seq_len * 2 if fim_rate > 0 else seq_len)
        if rng.random() < fim_rate:
            ranges: list = []
            w = fim_pack(w, rng, weights=ranges) if fim == "pack" else fim_transform(w, rng)
            if wts is not None:
                for a, e in ranges:
                    wts[i, a:min(e, seq_len)] = middle_weight
        out[i] = w[:seq_len] if len(w) >= seq_len else np.pad(w, (0, seq_len - len(w)), constant_values=BOS)
    return (out, wts) if weights else out
