"""The context-mixing layer (megabyte/cm.py): its integer parts, causality, the final mixer's fit,
and the fixture the TypeScript twin (src/engine/cm.ts) is checked against."""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from megabyte import cm, match  # noqa: E402
from megabyte.symbols import BOS  # noqa: E402

REPO = os.path.dirname(os.path.dirname(ROOT))
TEXT = b"def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n" * 3


def test_squash_and_stretch_are_inverse_and_monotone():
    for d in range(-1024, 1025, 7):
        assert abs(cm.STRETCH[cm.squash(d)] - d) <= 16
    assert all(cm.STRETCH[p] >= cm.STRETCH[p - 1] for p in range(1, 4096))
    assert 1 <= cm.squash(-5000) and cm.squash(5000) <= 4095


def test_the_cm_learns_a_repeated_text_and_never_reads_ahead():
    s = [BOS] + list(TEXT)
    bits, probs = cm.stream_bits(s, None)
    third = len(TEXT) // 3
    first, last = bits[1:1 + third].mean(), bits[1 + 2 * third:].mean()
    assert first < 5 and last < first / 4, (first, last)
    for i in (3, 40, len(s) - 1):
        t = list(s)
        t[i] ^= 0x21
        _, p2 = cm.stream_bits(t, None)
        assert (p2[:i] == probs[:i]).all(), f"changing symbol {i} moved an earlier prediction"
        first_bit = 7 - (s[i] ^ t[i]).bit_length() + 1
        assert (p2[i, :first_bit + 1] == probs[i, :first_bit + 1]).all()


def test_bit_histories_count_bounded_and_favour_recent_bits():
    st = cm.HIST_STATES
    assert len(st) == cm.N_STATES <= 256 and len(cm.NEX) == 2 * cm.N_STATES and st[0] == (0, 0, 0)
    assert all(0 <= t < cm.N_STATES for t in cm.NEX)

    def run(bits, s=0):
        for y in bits:
            s = cm.NEX[2 * s + y]
        return st[s]
    assert run([1] * 3) == (0, 3, 0) and run([1] * 100) == (0, 40, 0), "a run counts up to 40"
    assert run([0] * 10 + [1]) == (6, 1, 1), "the opposite count above 2 loses half its excess"
    assert run([0, 1, 0]) == (2, 1, 0) and run([1, 0, 1]) == (1, 2, 1), "the last bit is kept"
    for n0, n1, _ in st:
        assert max(n0, n1) <= cm.HIST_CAP[min(4, n0, n1)]
    # the state map starts at (n1 + 1/2) / (n0 + n1 + 1)
    k = st.index((0, 3, 0))
    assert cm.SS_INIT[k] >> 8 == 7 * 65536 // 8


def test_brackets_and_quotes_are_tracked_outside_strings():
    c = cm.CM(100)
    for b in b'f(a, [x, "(["'[:12]:
        c.push(b)
    assert c.brk == (1 << 2) | 2 and c.q == 34, (c.brk, c.q)
    for b in b'\\"':
        c.push(b)
    assert c.q == 34, "an escaped quote does not close the string"
    for b in b'"])':
        c.push(b)
    assert c.brk == 0 and c.q == 0
    c.push(ord("("))
    c.push(256)
    assert c.brk == 0, "a sentinel resets the context"


def test_priors_round_trip_and_start_the_next_document():
    s = [BOS] + list(TEXT)
    end: list = []
    cm.stream_bits(s, None, state=end)
    pri = end[0].priors()
    assert set(pri) == set(cm.PRIOR_SIZES)
    for k, n in cm.PRIOR_SIZES.items():
        assert len(cm.decode_table(pri[k])) == n
    cold, _ = cm.stream_bits(s[:80], None)
    warm, _ = cm.stream_bits(s[:80], None, {"priors": pri})
    assert warm.sum() < cold.sum(), "a document starting from priors learned on the same kind of text costs less"


def test_fit_final_recovers_weights_of_synthetic_data():
    sys.path.insert(0, ROOT)
    from cm_fit import fit_final
    rng = np.random.default_rng(1)
    n = 60000
    sc = rng.integers(-1500, 1500, n)
    sn = rng.integers(-1500, 1500, n)
    z = (0.3 * sc + 0.9 * sn) / 256 + 0.2
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    feats = np.stack([np.zeros(n), sc, sn, y], 1)
    w, before, after = fit_final(feats, sets=1, ridge=1.0)
    assert abs(w[0][0] / 65536 - 0.3) < 0.05 and abs(w[0][1] / 65536 - 0.9) < 0.05 and abs(w[0][2] / 65536 - 0.2) < 0.1
    assert after < before


def test_fixture_is_this_module():
    """fixture.json's CM case (the engine's parity test reads it) is still what cm.py computes."""
    fx = json.load(open(os.path.join(REPO, "models", "mb-small", "fixture.json")))
    if "cm" not in fx:
        return
    man = json.load(open(os.path.join(REPO, "models", "mb-small", "manifest.json")))
    k = fx["cm"]
    stream = k["stream"]
    a = match.anchor_in_stream(stream, k["cursor"])
    assert (list(a) if a else None) == k["anchor"]
    _, alone = cm.stream_bits(stream, None, man["context_mixing"], man["match_model"], None if a is None else (k["cursor"], *a))
    assert alone.tolist() == k["alone"]
