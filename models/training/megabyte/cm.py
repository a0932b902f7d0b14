"""The context-mixing (CM) layer: online context models mixed with the network, bit by bit.

The network (4.9M parameters) does not learn a document while reading it; lossless compressors
(lpaq, paq8, zpaq) do: many small models of the bytes so far, each predicting the next bit, mixed
by a logistic mixer that keeps learning inside the document, then refined by adaptive probability
maps (APM/SSE). This module is that layer, in integer arithmetic so that src/engine/cm.ts, its
TypeScript twin, computes the same numbers bit for bit (test/engine/parity.test.ts checks the
fixture fixture.py writes from this module).

A byte is 8 binary decisions, most significant bit first; `c0` is the partial byte with a leading
1 (1..255). Probabilities are 12-bit (1..4095); `stretch`/`squash` are ln(p/(1-p)) and its inverse
in units of 1/256, by table. The parts, predicting bit j of the byte at position i of the stream
from the stream before i:

- 13 hashed context models, each a table of (16-bit probability, count, check byte) slots, and a
  parallel table of 8-bit bit histories, found by hashing the context with c0: orders 0, 1, 2, 3,
  4, 6; the current identifier; the identifier and the one before it; the byte above (same
  column, previous line) with the last byte; the indentation depth with the last two bytes; two
  sparse contexts (bytes 2-3 back; bytes 2 and 4 back); the innermost 4 open brackets and the open
  quote (outside strings) with the last byte. A slot's probability moves towards each bit by
  1/(n + 1.5) (n its count, capped at `limit`); its input to the mixer is stretch(p).
- 2 match models (megabyte/match.py): the network's match model (min 4 symbols, with its suffix
  anchor at the cursor) and a longer one (min 12). Where the predicted byte agrees with the bits
  so far, the input is stretch of an adaptive probability indexed by (length bucket, expected bit,
  anchored), else 0.
- Each context model gives a second input: its slot's bit history (a state of NEX: the counts of
  zeros and ones it saw, bounded, recent bits weighing more, and the last bit), mapped to a
  probability by an adaptive state map per context model (lpaq/paq8's StateMap; it learns at
  1/(n + 1.5) up to SS_LIMIT). It replaced a map of the slot's (count, probability bucket), which
  did less (models/training/README.md, the A/B table).
- Two logistic mixers over those 26 context inputs, the 2 match inputs and a bias, learning online
  (`lr`): one with its weight set chosen by the match state and c0, one by how many of orders
  1-6 are confident and the bit position; their outputs averaged in the stretch domain; then two
  APMs (contexts c0, and c0 with the last two bytes), averaged with that: p_cm.
- The final mixer, with fixed weights fitted on the training split (cm_fit.py, manifest
  `context_mixing.final`): squash(w1 stretch(p_cm) + w2 stretch(p_net) + w3), its weights chosen
  by the bit position, p_cm's confidence and the match state. p_net is the network's probability of the bit given
  the bits so far (its byte distribution summed over each half of the subtree), rounded to 12
  bits: the only float that enters, so PyTorch and onnxruntime differ only where the rounding
  does. The online part never sees the network: its state at any position depends on the symbols
  alone, so the engine can build it over a document the network never decoded.

Sentinels (BOS, SUF, PRE, EOM) are not bytes: the network gives their probability; the CM gives
P(byte b) = (1 - P_net(sentinels)) * prod of the bits' final probabilities. Where the match
model's suffix anchor predicts EOM (the copied middle is complete), the linear rule of the match
model stays: P(EOM) = lam + (1 - lam) P_net(EOM), bytes scaled by (1 - lam). At a sentinel the
contexts reset (it enters the history as byte 0; the word, the column, the line above, the
brackets and the quote restart).

Everything reads the stream before the position (predict, then update), so it is causal.
"""
from __future__ import annotations

import base64
import math
from array import array

import numpy as np

from . import match
from .symbols import EOM

M32 = 0xFFFFFFFF
N_CTX = 13
N_MATCH = 2
N_INPUTS = 2 * N_CTX + N_MATCH + 1  # per context stretch(p) and its bit history's map; matches; bias
MO = 2 * N_CTX  # where the match inputs start
SS_LIMIT = 255  # a state map entry's count cap
CTX_NAMES = ["order0", "order1", "order2", "order3", "order4", "order6", "word", "word2",
             "column", "indent", "sparse23", "sparse24", "bracket"]
INPUT_NAMES = CTX_NAMES + ["match", "match_long"]
MIXER_SELECT = 4 * 256  # match state (none, <16, <32, longer) x c0
MIXER2_SELECT = 6 * 8   # confident orders (0..5) x bit position
APM2_BITS = 16
FINAL_SETS = 8 * 4 * 4  # bit position x confidence of p_cm x match state
LONG_MIN_LEN = 12

DEFAULTS = {
    "limit": 127,        # a context slot's count cap (its rate floor 1/(limit + 1.5))
    "lr": 8,             # mixers' learning rate (weights move by x * err * lr >> 14)
    "init_weight": 4096,   # the mixers' initial weight of each input (65536 = 1.0)
    "match_rate": 6,     # match models' adaptive probabilities move by 2^-rate
    "apm_rate": 7,
    "min_table_bits": 16,
    "max_table_bits": 22,
    "long_min_len": LONG_MIN_LEN,
}

_SQ = [1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549, 2994, 3348,
       3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094]


def squash(d: int) -> int:
    """1 / (1 + e^(-d/256)) in 12 bits, by interpolation in a 33-point table (d clamped to +-2047)."""
    if d > 2047:
        d = 2047
    if d < -2047:
        d = -2047
    w = d & 127
    k = (d >> 7) + 16
    return (_SQ[k] * (128 - w) + _SQ[k + 1] * w + 64) >> 7


def _stretch_table() -> list[int]:
    t = [0] * 4096
    pi = 0
    for x in range(-2047, 2048):
        v = squash(x)
        for i in range(pi, v + 1):
            t[i] = x
        pi = v + 1
    for i in range(pi, 4096):
        t[i] = 2047
    return t


STRETCH = _stretch_table()
SQUASH = [squash(d) for d in range(-2047, 2048)]  # SQUASH[d + 2047]
RATE = [int(65536 / (n + 1.5)) for n in range(256)]

# Bit histories: a slot's 8-bit state stands for (n0, n1, last bit), the counts of zeros and ones it
# saw, bounded: a run (one count 0) up to 40, else the larger count up to HIST_CAP[smaller count];
# on a bit the opposite count above 2 loses half its excess (recent bits weigh more). The states
# are numbered in breadth-first order from (0, 0) (src/engine/cm.ts builds the same table).
HIST_CAP = [40, 12, 6, 4, 4]


def _hist_next(n0: int, n1: int, y: int) -> tuple[int, int, int]:
    if y:
        n1 += 1
        if n0 > 2:
            n0 = 2 + (n0 - 2) // 2
    else:
        n0 += 1
        if n1 > 2:
            n1 = 2 + (n1 - 2) // 2
    cap = HIST_CAP[min(4, min(n0, n1))]
    n0, n1 = min(n0, cap), min(n1, cap)
    return n0, n1, (y if n0 and n1 else 0)


def _hist_table() -> tuple[list[int], list[tuple[int, int, int]]]:
    states = [(0, 0, 0)]
    num = {states[0]: 0}
    nex: list[int] = []
    k = 0
    while k < len(states):
        n0, n1, _ = states[k]
        for y in (0, 1):
            t = _hist_next(n0, n1, y)
            if t not in num:
                num[t] = len(states)
                states.append(t)
            nex.append(num[t])
        k += 1
    assert len(states) <= 256
    return nex, states


NEX, HIST_STATES = _hist_table()  # NEX[2 * state + y]: the next state
N_STATES = len(HIST_STATES)
# a state map entry: 16-bit probability << 8 | count; it starts at (n1 + 1/2) / (n0 + n1 + 1)
SS_INIT = [((2 * n1 + 1) * 65536 // (2 * (n0 + n1) + 2)) << 8 for n0, n1, _ in HIST_STATES] + [32768 << 8] * (256 - N_STATES)


def h2(a: int, b: int) -> int:
    """A 32-bit hash of two 32-bit words (src/engine/cm.ts h2)."""
    h = ((a * 0x9E3779B1) & M32) ^ b
    h = (h * 0x85EBCA6B) & M32
    return h ^ (h >> 15)


def table_bits(n: int, p: dict = DEFAULTS) -> int:
    """log2 of each context table's slots for a stream of n symbols: about 8 slots per byte (one
    per bit), between min_table_bits and max_table_bits (2^22 slots of 4 bytes: 16 MB a table)."""
    return max(p["min_table_bits"], min(p["max_table_bits"], int(n).bit_length() + 3))


def match_bucket(length: int) -> int:
    return length if length < 12 else min(15, 8 + length.bit_length() - 1)


def is_word(b: int) -> bool:
    return 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b == 95 or b >= 128


def net_bit_stretch(probs: np.ndarray, stream) -> np.ndarray:
    """stretch(p_net(bit j = 1 | bits before)) along each byte's path: (n, 8) int, from the network's
    symbol distribution (n, 260) (rows of non-byte positions are 0). The bytes' probabilities are
    summed over each half of the subtree in float64 and rounded to 12 bits (cm.ts netBits)."""
    n = len(stream)
    out = np.zeros((n, 8), dtype=np.int64)
    b = np.asarray(probs[:, :256], dtype=np.float64)
    sym = np.asarray(stream, dtype=np.int64)
    isbyte = sym < 256
    x = np.where(isbyte, sym, 0)
    st = np.asarray(STRETCH)
    for j in range(8):
        lev = b.reshape(n, 1 << j, 256 >> j).sum(-1)          # subtree sums at depth j
        lev1 = b.reshape(n, 2 << j, 128 >> j).sum(-1)          # depth j + 1
        node = x >> (8 - j)
        s = lev[np.arange(n), node]
        s1 = lev1[np.arange(n), 2 * node + 1]
        p = np.where(s > 0, s1 / np.where(s > 0, s, 1), 0.5)
        q = np.clip(np.floor(p * 4096 + 0.5), 1, 4095).astype(np.int64)
        out[:, j] = np.where(isbyte, st[q], 0)
    return out


PRIOR_SIZES = {"sm": N_MATCH * 64, "w": MIXER_SELECT * N_INPUTS, "w2": MIXER2_SELECT * N_INPUTS,
               "apm1": 256 * 33, "ss": N_CTX * 256}


def encode_table(v) -> str:
    """A table of integers as the manifest stores it: base64 of little-endian int32."""
    return base64.b64encode(np.asarray(v, dtype="<i4").tobytes()).decode()


def decode_table(s: str) -> list[int]:
    return np.frombuffer(base64.b64decode(s), dtype="<i4").astype(np.int64).tolist()


def default_final() -> list[list[int]]:
    """Final mixer weights before fitting: p_cm and p_net half each."""
    return [[32768, 32768, 0] for _ in range(FINAL_SETS)]  # cm_fit.py's prior


def final_set(j: int, st_cm: int, ms: int) -> int:
    return (j * 4 + min(3, abs(st_cm) >> 9)) * 4 + ms


class CM:
    """The online part over one stream (predict, then update), and the final mixer."""

    def __init__(self, n: int, params: dict | None = None, disable: tuple[str, ...] = ()):
        self.p = {**DEFAULTS, **(params or {})}
        self.bits = table_bits(n, self.p)
        size = 1 << self.bits
        self.tp = [array("H", [32768]) * size for _ in range(N_CTX)]
        self.tn = [array("B", [0]) * size for _ in range(N_CTX)]
        self.tc = [array("B", [0]) * size for _ in range(N_CTX)]
        self.ts = [array("B", [0]) * size for _ in range(N_CTX)]  # each slot's bit history
        self.ss = SS_INIT * N_CTX  # per context, the map from a bit history to a probability
        self.sm = [[32768] * 64 for _ in range(N_MATCH)]
        iw = self.p.get("weights")
        self.w = [list(iw) if iw else [self.p["init_weight"]] * N_INPUTS for _ in range(MIXER_SELECT)]
        self.w2 = [[self.p["init_weight"]] * N_INPUTS for _ in range(MIXER2_SELECT)]
        self.apm1 = [(squash((k - 16) * 128) * 16) for _ in range(256) for k in range(33)]
        pri = (params or {}).get("priors")
        if pri:  # the small adaptive tables as training left them (cm_fit.py): a document starts from them
            t = {k: decode_table(v) for k, v in pri.items()}
            self.sm = [t["sm"][q * 64:(q + 1) * 64] for q in range(N_MATCH)]
            self.w = [t["w"][k * N_INPUTS:(k + 1) * N_INPUTS] for k in range(MIXER_SELECT)]
            self.w2 = [t["w2"][k * N_INPUTS:(k + 1) * N_INPUTS] for k in range(MIXER2_SELECT)]
            self.apm1 = t["apm1"]
            self.ss = t["ss"]
        self.apm2 = array("i", [squash((k - 16) * 128) * 16 for k in range(33)]) * (1 << APM2_BITS)
        self.off = [name in disable for name in INPUT_NAMES]
        # byte-boundary context
        self.c4 = self.c8 = 0
        self.w0 = self.w1 = 0
        self.line = 0
        self.prev_line = -1
        self.indent = 0
        self.in_indent = True
        self.brk = 0  # the innermost 8 open brackets, 2 bits each (outside strings)
        self.q = 0    # the open quote (", ', `), 0 outside strings
        self.hist: list[int] = []
        self.h = [0] * N_CTX
        self._contexts()

    def priors(self) -> dict[str, str]:
        """The small adaptive tables (match maps, both mixers, the first APM, the bit-history maps) as
        the manifest's `priors` stores them."""
        return {"sm": encode_table([x for q in self.sm for x in q]),
                "w": encode_table([x for r in self.w for x in r]), "w2": encode_table([x for r in self.w2 for x in r]),
                "apm1": encode_table(self.apm1), "ss": encode_table(self.ss)}

    def _contexts(self) -> None:
        c4, c8 = self.c4, self.c8
        n = len(self.hist)
        col = n - self.line
        above = 0
        if self.prev_line >= 0 and self.prev_line + col < self.line:
            above = self.hist[self.prev_line + col]
        v = [h2(0, 0), h2(1, c4 & 0xFF), h2(2, c4 & 0xFFFF), h2(3, c4 & 0xFFFFFF), h2(4, c4),
             h2(h2(5, c4), c8 & 0xFFFF), h2(6, self.w0), h2(h2(7, self.w0), self.w1),
             h2(h2(8, above), c4 & 0xFF), h2(h2(9, self.indent), c4 & 0xFFFF),
             h2(10, c4 & 0xFFFF00), h2(11, c4 & 0xFF00FF00),
             h2(h2(12, (self.brk & 0xFF) | (self.q << 8)), c4 & 0xFF)]
        self.h = v

    def push(self, sym: int) -> None:
        """Appends a symbol to the history (after its bits were coded, for a byte)."""
        b = sym if sym < 256 else 0
        n = len(self.hist)
        self.hist.append(b)
        self.c8 = ((self.c8 << 8) | (self.c4 >> 24)) & M32
        self.c4 = ((self.c4 << 8) | b) & M32
        if sym >= 256:
            self.w0 = self.w1 = 0
            self.brk = self.q = 0
            self.line, self.prev_line, self.indent, self.in_indent = n + 1, -1, 0, True
        else:
            if is_word(b):
                self.w0 = h2(self.w0, b)
            elif self.w0:
                self.w1, self.w0 = self.w0, 0
            if self.q:
                if b == self.q and (self.c4 >> 8) & 0xFF != 92:
                    self.q = 0
                elif b == 10 and self.q != 96:
                    self.q = 0
            elif b in (34, 39, 96):
                self.q = b
            elif b in (40, 91, 123):
                self.brk = ((self.brk << 2) | (1 if b == 40 else 2 if b == 91 else 3)) & 0xFFFF
            elif b in (41, 93, 125):
                self.brk >>= 2
            if b == 10:
                self.prev_line, self.line, self.indent, self.in_indent = self.line, n + 1, 0, True
            elif self.in_indent and b in (9, 32):
                self.indent += 1
            else:
                self.in_indent = False
        self._contexts()

    def code_byte(self, b: int, m: list[tuple[int, int, bool]], net_st=None, fin=None,
                  feats: list | None = None) -> tuple[float, list[int]]:
        """Predicts and learns the 8 bits of byte b; m: each match model's (predicted symbol,
        length, anchored) at this position. Returns (bits of b under the CM alone or, with net_st
        (8 stretch values) and fin (final weights), under the final mixer; and the 8 final 12-bit
        probabilities of the bits being 1). feats collects (set, st_cm, st_net, y) for fitting."""
        p = self.p
        bits_ = self.bits
        shift = 32 - bits_
        lim = p["limit"]
        lr = p["lr"]
        mrate = p["match_rate"]
        arate = p["apm_rate"]
        off = self.off
        hh = self.h
        c4 = self.c4
        # the match state selecting the mixer's weight set: the first match model's length
        mlen = m[0][1] if m[0][0] >= 0 and m[0][0] < 256 else 0
        ms = 0 if mlen == 0 else 1 if mlen < 16 else 2 if mlen < 32 else 3
        total = 0.0
        probs = []
        scratch = []
        c0 = 1
        # every bit is predicted from the state at the byte's start; the 8 bits learn after it,
        # in order (so generation's byte distribution, all nodes from one state, is exactly this)
        for j in range(8):
            y = (b >> (7 - j)) & 1
            x = [0] * N_INPUTS
            idx = [0] * N_CTX
            chks = [0] * N_CTX
            # a nibble's 15 nodes share a bucket of 16 slots (one cache line in the engine), found
            # by hashing the context with the bits before the nibble
            key = 1 if j < 4 else c0 >> (j - 4)
            nib = c0 if j < 4 else (c0 & ((1 << (j - 4)) - 1)) | (1 << (j - 4))
            idx3 = [0] * N_CTX
            for i in range(N_CTX):
                s = h2(hh[i], key)
                k = ((s >> shift) & ~15) | nib
                chk = s & 0xFF
                hit = self.tc[i][k] == chk
                pp = self.tp[i][k] if hit else 32768
                k3 = i * 256 + (self.ts[i][k] if hit else 0)
                idx[i] = k
                chks[i] = chk
                idx3[i] = k3
                if not off[i]:
                    x[i] = STRETCH[pp >> 4]
                    x[N_CTX + i] = STRETCH[self.ss[k3] >> 12]
            mctx = [-1] * N_MATCH
            for q in range(N_MATCH):
                ps, ln, an = m[q]
                if ln > 0 and 0 <= ps < 256 and ((ps + 256) >> (8 - j)) == c0 and not off[N_CTX + q]:
                    e = (ps >> (7 - j)) & 1
                    c = match_bucket(ln) * 2 + e + (32 if an else 0)
                    mctx[q] = c
                    x[MO + q] = STRETCH[self.sm[q][c] >> 4]
            x[N_INPUTS - 1] = 256
            mse = ms if mctx[0] >= 0 else 0
            sel = mse * 256 + c0
            w = self.w[sel]
            # the second mixer's set: how many of orders 1, 2, 3, 4, 6 are confident
            w2 = self.w2[sum(1 for i in range(1, 6) if abs(x[i]) >= 512) * 8 + j]
            dot = dot2 = 0
            for i in range(N_INPUTS):
                dot += w[i] * x[i]
                dot2 += w2[i] * x[i]
            d1 = max(-2047, min(2047, dot >> 16))
            d2 = max(-2047, min(2047, dot2 >> 16))
            p1, p2 = squash(d1), squash(d2)
            pm = squash((d1 + d2) >> 1)
            # APMs
            st = STRETCH[pm] + 2048
            lo, wt = st >> 7, st & 127
            i1 = c0 * 33 + lo
            a1 = (self.apm1[i1] * (128 - wt) + self.apm1[i1 + 1] * wt) >> 11
            c2 = h2(c0, c4 & 0xFFFF) >> (32 - APM2_BITS)
            i2 = c2 * 33 + lo
            a2 = (self.apm2[i2] * (128 - wt) + self.apm2[i2 + 1] * wt) >> 11
            pc = (pm + a1 + 2 * a2 + 2) >> 2
            pc = 1 if pc < 1 else 4095 if pc > 4095 else pc
            # output
            if net_st is None:
                pf = pc
            else:
                sc = STRETCH[pc]
                fs = final_set(j, sc, mse)
                if feats is not None:
                    feats.append((fs, sc, int(net_st[j]), y, j, mse))
                fw = fin[fs]
                pf = squash((fw[0] * sc + fw[1] * int(net_st[j]) + fw[2] * 256) >> 16)
                pf = 1 if pf < 1 else 4095 if pf > 4095 else pf
            probs.append(pf)
            total -= math.log2((pf if y else 4096 - pf) / 4096)
            scratch.append((y, x, idx, chks, idx3, mctx, w, w2, p1, p2, i1 + (wt >> 6), i2 + (wt >> 6)))
            c0 = (c0 << 1) | y
        for y, x, idx, chks, idx3, mctx, w, w2, p1, p2, j1, j2 in scratch:
            err = ((y << 12) - p1) * lr
            err2 = ((y << 12) - p2) * lr
            for i in range(N_INPUTS):
                if x[i]:
                    w[i] += (x[i] * err) >> 14
                    w2[i] += (x[i] * err2) >> 14
            self.apm1[j1] += ((y << 16) - self.apm1[j1]) >> arate
            self.apm2[j2] += ((y << 16) - self.apm2[j2]) >> arate
            for i in range(N_CTX):
                k = idx[i]
                tp = self.tp[i]
                tn = self.tn[i]
                ts = self.ts[i]
                if self.tc[i][k] != chks[i]:
                    self.tc[i][k] = chks[i]
                    tp[k] = 32768
                    tn[k] = 0
                    ts[k] = 0
                nn = tn[k]
                tp[k] += (((y << 16) - tp[k]) * RATE[nn]) >> 16
                if nn < lim:
                    tn[k] = nn + 1
                ts[k] = NEX[2 * ts[k] + y]
                k3 = idx3[i]
                v = self.ss[k3]
                sp, sn = v >> 8, v & 255
                sp += (((y << 16) - sp) * RATE[sn]) >> 16
                self.ss[k3] = (sp << 8) | (sn + 1 if sn < SS_LIMIT else sn)
            for q in range(N_MATCH):
                c = mctx[q]
                if c >= 0:
                    sm = self.sm[q]
                    sm[c] += ((y << 16) - sm[c]) >> mrate
        return total, probs


def matches(stream, anchor_at=None, long_min_len: int = LONG_MIN_LEN):
    """The two match models' (pred, length, anchored) arrays over a stream."""
    p4, l4, a4 = match.predictions(stream, match.MIN_LEN, anchor_at)
    p12, l12, _ = match.predictions(stream, long_min_len)
    return (p4, l4, a4), (p12, l12, np.zeros(len(stream), dtype=bool))


def stream_bits(stream, probs: np.ndarray | None, cmp: dict | None = None, mm: dict | None = None,
                anchor_at=None, disable: tuple[str, ...] = (), feats: list | None = None,
                start: int = 0, state: list | None = None):
    """Bits of every symbol of `stream` (index 0, BOS, costs nothing) under the CM layer. probs:
    the network's (n, 260) distribution per position (None: the CM alone, sentinels free). cmp:
    the manifest's context_mixing block (None: defaults, unfitted final mixer). mm: the match_model
    block (its anchor_lambda for EOM at the anchor's end). Returns (bits, per-bit final 12-bit
    probabilities as an (n, 8) array; 0 rows at sentinels). `state` gets the CM object at the end."""
    cmp = cmp or {}
    params = {**DEFAULTS, **cmp.get("params", {})}
    if "weights" in cmp:
        params["weights"] = cmp["weights"]
    if "priors" in cmp:
        params["priors"] = cmp["priors"]
    n = len(stream)
    cm = CM(n, params, disable)
    (p4, l4, a4), (p12, l12, a12) = matches(stream, anchor_at, params["long_min_len"])
    p4, l4, a4, p12, l12 = p4.tolist(), l4.tolist(), a4.tolist(), p12.tolist(), l12.tolist()
    net_st = None if probs is None else net_bit_stretch(probs, stream)
    fin = cmp.get("final") or default_final()
    bits = np.zeros(n)
    pb = np.zeros((n, 8), dtype=np.int64)
    for i in range(n):
        s = int(stream[i])
        eom = 0.0
        if mm is not None and a4[i] and p4[i] == EOM and "anchor_lambda" in mm:
            b = match.bucket(np.asarray([l4[i]]), mm["anchor_bounds"])[0]
            eom = mm["anchor_lambda"][b] if b >= 0 else 0.0
        if s >= 256:
            if i > 0 and probs is not None:
                pe = float(probs[i, s])
                bits[i] = -math.log2(eom + (1 - eom) * pe if s == EOM else (1 - eom) * pe)
            cm.push(s)
            continue
        m = [(p4[i], l4[i], a4[i]), (p12[i], l12[i], False)]
        if i >= start:
            b, pr = cm.code_byte(s, m, None if net_st is None else net_st[i], fin, feats)
            if probs is not None:
                sent = float(probs[i, 256:].sum())
                b -= math.log2(max(1e-300, (1 - eom) * (1 - sent)))
            bits[i] = b
            pb[i] = pr
        else:
            cm.code_byte(s, m)
        cm.push(s)
    if state is not None:
        state.append(cm)
    return bits, pb
