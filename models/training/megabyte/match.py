"""The match model: the part of the bundled model that copies from the rest of the file.

Code repeats itself: names, calls, whole lines and blocks come back within a file (Tu et al.
2014, "On the localness of software"; Hellendoorn & Devanbu 2017 found cache n-gram models
beating deep networks on code for this reason). A transformer this small does not learn to copy
across hundreds of patches, while a byte match model (the one lossless compressors such as lpaq and
zpaq mix in) finds the last place the current context occurred and predicts the symbol that
followed it. The two are mixed linearly, with a weight per match length fitted on the training
split (match_fit.py) and stored in manifest.json as `match_model`:

    p(x) = (1 - lam[len]) * p_network(x) + lam[len] * [x == predicted]

The match model runs over the same symbol stream as the network, sentinels included, so in the
fill-in-the-middle layout (`BOS far SUF suffix PRE near middle`) it also copies from the suffix.
src/engine/match.ts is the TypeScript twin; test_match.py writes the fixture its parity test
reads (test/engine/match.test.ts), so the two agree symbol for symbol.

The rule, for position i (predicting s[i] from s[:i]):
  1. if a match is running (len > 0): if it predicted s[i-1] right, ptr += 1 and len += 1
     (at most MAX_LEN), else len = 0;
  2. if len == 0 and i >= min_len: cand = table[hash(s[i-min_len:i])]; if cand >= 0, count how
     many symbols before cand equal those before i (at most VERIFY); if at least min_len, the match
     is ptr = cand, len = that count (a hash collision verifies shorter and is dropped);
  3. table[hash(s[i-min_len:i])] = i (the most recent occurrence wins);
  4. the prediction is s[ptr] when len > 0.
"""
from __future__ import annotations

import numpy as np

TABLE_BITS = 20   # hash table of 2^20 positions (4 MB in the engine)
VERIFY = 64       # symbols compared backwards to confirm a match found by hash
MAX_LEN = 65535   # a running match's length stops growing here
MIN_LEN = 4
BOUNDS = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 24, 32, 48, 64, 128, 256]


def slot(s, i: int, min_len: int) -> int:
    """FNV-1a over s[i-min_len:i], folded to TABLE_BITS."""
    h = 0x811C9DC5
    for j in range(i - min_len, i):
        h = ((h ^ int(s[j])) * 0x01000193) & 0xFFFFFFFF
    return (h ^ (h >> 12)) & ((1 << TABLE_BITS) - 1)


def predictions(stream, min_len: int = MIN_LEN) -> tuple[np.ndarray, np.ndarray]:
    """(pred, length) for every position of `stream` (symbols); pred is -1 where no match runs."""
    s = [int(x) for x in stream]
    n = len(s)
    pred = np.full(n, -1, dtype=np.int32)
    length = np.zeros(n, dtype=np.int32)
    table: dict[int, int] = {}
    ptr = ln = 0
    for i in range(n):
        if ln > 0:
            if s[ptr] == s[i - 1]:
                ptr += 1
                ln = min(ln + 1, MAX_LEN)
            else:
                ln = 0
        if i >= min_len:
            h = slot(s, i, min_len)
            if ln == 0:
                cand = table.get(h, -1)
                if cand >= 0:
                    k = 0
                    while k < VERIFY and cand - 1 - k >= 0 and s[cand - 1 - k] == s[i - 1 - k]:
                        k += 1
                    if k >= min_len:
                        ptr, ln = cand, k
            table[h] = i
        if ln > 0:
            pred[i] = s[ptr]
            length[i] = ln
    return pred, length


def bucket(length: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Index of the largest bound <= length; -1 where length is below the first (no match)."""
    return np.searchsorted(np.asarray(bounds), length, side="right") - 1


def mixed_bits(net_bits: np.ndarray, hit: np.ndarray, length: np.ndarray, mm: dict) -> np.ndarray:
    """Bits of each symbol under the mixture, from its bits under the network, whether the match
    model predicted it (`hit`) and the match length."""
    b = bucket(length, mm["bounds"])
    lam = np.where(b >= 0, np.asarray(mm["lambda"], dtype=np.float64)[np.maximum(b, 0)], 0.0)
    p = np.exp2(-np.asarray(net_bits, dtype=np.float64))
    return -np.log2((1 - lam) * p + lam * hit)


def fit(net_bits: np.ndarray, hit: np.ndarray, length: np.ndarray, bounds: list[int] = BOUNDS,
        iterations: int = 200) -> list[float]:
    """The weight per length bucket that maximises the likelihood of the mixture (EM: each
    weight is the mean posterior share of the match model in its bucket)."""
    b = bucket(length, bounds)
    p = np.exp2(-np.asarray(net_bits, dtype=np.float64))
    lams = []
    for k in range(len(bounds)):
        m = b == k
        if not m.any():
            lams.append(lams[-1] if lams else 0.0)
            continue
        pk, hk = p[m], hit[m].astype(np.float64)
        lam = 0.5
        for _ in range(iterations):
            lam = float(np.mean(lam * hk / (lam * hk + (1 - lam) * pk)))
        lams.append(round(min(lam, 0.999), 4))
    return lams
