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
    text = w[c:fe]
    nl = np.flatnonzero(text == 10)
    kind = rng.random()
    if kind < 0.5 and len(nl):          # the rest of one line
        m = c + int(nl[0])
    elif kind < 0.8 and len(nl):        # a few lines
        m = c + int(nl[min(len(nl) - 1, int(rng.integers(1, 5)))]) + 1
    else:                               # a random span
        m = min(fe, c + int(rng.integers(0, 257)))
    b = max(fs, c - int(rng.integers(0, max_near + 1)))
    s = min(fe, m + int(rng.integers(0, max_suffix + 1)))
    return np.concatenate([w[:b], [SUF], w[m:s], [PRE], w[b:m], [EOM], w[fe:]])


def batch(corpus: Corpus, rng: np.random.Generator, batch_size: int, seq_len: int,
          fim_rate: float) -> np.ndarray:
    out = np.empty((batch_size, seq_len), dtype=np.int64)
    for i in range(batch_size):
        w = corpus.window(rng, seq_len * 2 if fim_rate > 0 else seq_len)
        if rng.random() < fim_rate:
            w = fim_transform(w, rng)
        out[i] = w[:seq_len] if len(w) >= seq_len else np.pad(w, (0, seq_len - len(w)), constant_values=BOS)
    return out
