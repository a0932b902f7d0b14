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
src/engine/match.ts is the TypeScript twin: fixture.py writes this module's predictions and
anchors into models/mb-small/fixture.json, test/engine/parity.test.ts checks the engine against
them and test_match.py checks they are still this module's, so the two agree symbol for symbol.

The rule, for position i (predicting s[i] from s[:i]):
  1. if a match is running (len > 0): if it predicted s[i-1] right, ptr += 1 and len += 1
     (at most MAX_LEN), else len = 0;
  2. if len == 0 and i >= min_len: cand = table[hash(s[i-min_len:i])]; if cand >= 0, count how
     many symbols before cand equal those before i (at most VERIFY); if at least min_len, the match
     is ptr = cand, len = that count (a hash collision verifies shorter and is dropped);
  3. table[hash(s[i-min_len:i])] = i (the most recent occurrence wins);
  4. the prediction is s[ptr] when len > 0.

The suffix anchor (fill-in-the-middle): where the middle starts, the plain rule copies from the
most recent place the last few symbols occurred, which in a table of similar lines is the wrong
line. `anchor` looks for a place in the stream whose left context equals the cursor's (its last
ANCHOR_CTX symbols) and which the suffix's first symbols follow within ANCHOR_REACH symbols: a
copy of the whole prefix-middle-suffix seam elsewhere in the file. Of those, the longest left
match wins (then the most recent). The match starts there, with the evidence of both sides as
its length, and while it runs its weight comes from `anchor_lambda` (fitted on training spans,
match_fit.py --fim-spans) instead of `lambda`; when its source reaches the place where the
suffix's first symbols begin, it predicts EOM (the copied middle is complete). Without a suffix
anchor, the occurrence of the left context with the longest left match starts the match (plain
weights). The engine also hands its further candidates the next-best anchors (src/engine/match.ts
`anchors`).
"""
from __future__ import annotations

import numpy as np

from .symbols import BOS, EOM, PRE, SUF

SENTINEL = BOS  # symbols from BOS up are sentinels, not bytes

TABLE_BITS = 20   # hash table of 2^20 positions (4 MB in the engine)
VERIFY = 64       # symbols compared backwards to confirm a match found by hash
MAX_LEN = 65535   # a running match's length stops growing here
MIN_LEN = 4
BOUNDS = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 24, 32, 48, 64, 128, 256]
ANCHOR_CTX = 8      # symbols of left context an anchor must share with the cursor
ANCHOR_HEAD = 24    # at most this many of the suffix's first symbols must follow it
ANCHOR_REACH = 512  # ... within this many symbols (the longest middle it can copy)
ANCHOR_CANDIDATES = 256  # left-context occurrences looked at, most recent first
ANCHOR_BOUNDS = [16, 24, 32, 40, 48, 64, 96, 128]
WHITESPACE = (9, 10, 13, 32)


def anchor(s, n: int, suf_start: int, suf_len: int) -> tuple[int, int, bool, int] | None:
    """(source position, evidence length, two-sided, end) of the anchor for a middle starting at n,
    or None. Two-sided: the suffix anchor; `end` is where the suffix's first symbols begin after
    the source (there the anchored match predicts EOM: the copied middle is complete), else -1. Else (no suffix, or nothing fits it) the occurrence of
    the left context with the longest match to the left, if any: at a line's indentation that is
    a line with the same indentation after a similar line, where the plain rule's most recent
    occurrence of 4 spaces is as often deeper indentation. When the cursor's line holds only its
    indentation, a source whose indentation goes on (a space or tab follows) is not a candidate."""
    if n < ANCHOR_CTX:
        return None
    line = n
    while line > 0 and int(s[line - 1]) not in (10, BOS, SUF, PRE):
        line -= 1
    indent_only = line < n and all(int(x) in (9, 32) for x in s[line:n])
    head = [int(x) for x in s[suf_start:suf_start + min(suf_len, ANCHOR_HEAD)]]
    two_sided = len(head) >= ANCHOR_CTX and not all(x in WHITESPACE for x in head)
    ctx = [int(x) for x in s[n - ANCHOR_CTX:n]]
    best = None
    left_best = None
    seen = 0
    for j in range(n - 1, ANCHOR_CTX - 1, -1):
        if int(s[j - 1]) != ctx[-1] or [int(x) for x in s[j - ANCHOR_CTX:j]] != ctx:
            continue
        if indent_only and int(s[j]) in (9, 32):
            continue
        seen += 1
        if seen > ANCHOR_CANDIDATES:
            break
        k = 0
        while k < VERIFY and j - 1 - k >= 0 and s[j - 1 - k] == s[n - 1 - k]:
            k += 1
        if int(s[j]) < SENTINEL and (left_best is None or k > left_best[1]):
            left_best = (j, k)
        end = -1
        for t in range(j + 1, min(j + ANCHOR_REACH, n - len(head)) + 1 if two_sided else j + 1):
            if int(s[t - 1]) >= SENTINEL:  # the copied middle may not cross a sentinel
                break
            if int(s[t]) == head[0] and [int(x) for x in s[t:t + len(head)]] == head:
                end = t
                break
        if end < 0:
            continue
        if best is None or k > best[1]:
            best = (j, k, end)
    if best is not None:
        return best[0], best[1] + len(head), True, best[2]
    return None if left_best is None else (left_best[0], left_best[1], False, -1)


def slot(s, i: int, min_len: int) -> int:
    """FNV-1a over s[i-min_len:i], folded to TABLE_BITS."""
    h = 0x811C9DC5
    for j in range(i - min_len, i):
        h = ((h ^ int(s[j])) * 0x01000193) & 0xFFFFFFFF
    return (h ^ (h >> 12)) & ((1 << TABLE_BITS) - 1)


def anchor_in_stream(s, n: int) -> tuple[int, int, bool, int] | None:
    """`anchor` for a middle starting at n, its suffix found in the stream: between the last SUF
    and PRE before n (the fill-in-the-middle layout), none in a left-to-right stream."""
    suf = max((i for i in range(n) if s[i] == SUF), default=-1)
    if suf < 0:
        return anchor(s, n, 0, 0)
    pre = max(i for i in range(n) if s[i] == PRE)
    return anchor(s, n, suf + 1, pre - suf - 1)


def predictions(stream, min_len: int = MIN_LEN, anchor_at: tuple[int, int, int, bool, int] | None = None):
    """(pred, length, anchored) for every position of `stream` (symbols); pred is -1 where no
    match runs. With anchor_at = (position, source, length, two_sided, end), the match is set
    there at that position; `anchored` says where a two-sided (suffix) anchored match runs. An
    anchored match that reaches `end` predicts EOM, and ends."""
    s = [int(x) for x in stream]
    n = len(s)
    pred = np.full(n, -1, dtype=np.int32)
    length = np.zeros(n, dtype=np.int32)
    anchored = np.zeros(n, dtype=bool)
    on = False
    end = -1
    table: dict[int, int] = {}
    ptr = ln = 0
    for i in range(n):
        if ln > 0 and on and ptr == end:  # it predicted EOM: the copy is over either way
            ln, on = 0, False
        if ln > 0:
            if s[ptr] == s[i - 1]:
                ptr += 1
                ln = min(ln + 1, MAX_LEN)
            else:
                ln = 0
                on = False
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
        if anchor_at is not None and i == anchor_at[0]:
            ptr, ln, on, end = anchor_at[1], min(anchor_at[2], MAX_LEN), anchor_at[3], anchor_at[4]
        if ln > 0:
            pred[i] = EOM if on and ptr == end else s[ptr]
            length[i] = ln
            anchored[i] = on
    return pred, length, anchored


def bucket(length: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Index of the largest bound <= length; -1 where length is below the first (no match)."""
    return np.searchsorted(np.asarray(bounds), length, side="right") - 1


def mixed_bits(net_bits: np.ndarray, hit: np.ndarray, length: np.ndarray, mm: dict,
               anchored: np.ndarray | None = None) -> np.ndarray:
    """Bits of each symbol under the mixture, from its bits under the network, whether the match
    model predicted it (`hit`), the match length, and where an anchored match runs."""
    b = bucket(length, mm["bounds"])
    lam = np.where(b >= 0, np.asarray(mm["lambda"], dtype=np.float64)[np.maximum(b, 0)], 0.0)
    if anchored is not None and "anchor_lambda" in mm:
        ab = bucket(length, mm["anchor_bounds"])
        alam = np.where(ab >= 0, np.asarray(mm["anchor_lambda"], dtype=np.float64)[np.maximum(ab, 0)], 0.0)
        lam = np.where(anchored, alam, lam)
    p = np.exp2(-np.asarray(net_bits, dtype=np.float64))
    return -np.log2((1 - lam) * p + lam * hit)


def fit(net_bits: np.ndarray, hit: np.ndarray, length: np.ndarray, bounds: list[int] = BOUNDS,
        iterations: int = 200) -> list[float]:
    """The weight per length bucket that maximises the likelihood of the mixture (EM: each
    weight is the mean posterior share of the match model in its bucket)."""
    b = bucket(length, bounds)
    p = np.exp2(-np.asarray(net_bits, dtype=np.float64))
    lams: list[float | None] = []
    for k in range(len(bounds)):
        m = b == k
        if not m.any():
            lams.append(None)  # no data: the neighbour's weight (below)
            continue
        pk, hk = p[m], hit[m].astype(np.float64)
        lam = 0.5
        for _ in range(iterations):
            lam = float(np.mean(lam * hk / (lam * hk + (1 - lam) * pk)))
        lams.append(round(min(lam, 0.999), 4))
    fitted = [x for x in lams if x is not None] or [0.0]
    out, last = [], fitted[0]
    for x in lams:
        last = x if x is not None else last
        out.append(last)
    return out
