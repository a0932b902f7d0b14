"""The match model (megabyte/match.py): its rule, its fit, and the fixture the engine is checked against."""
import base64
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from megabyte import match  # noqa: E402
from megabyte.symbols import BOS, EOM  # noqa: E402

REPO = os.path.dirname(os.path.dirname(ROOT))


def test_predicts_what_followed_the_most_recent_occurrence():
    s = list(b"abcdXabcdY abcd")
    pred, length, _ = match.predictions(s)
    assert chr(pred[9]) == "X" and length[9] == 4
    assert (pred[:9] == -1).all(), "nothing repeats before the second abcd"
    # one past the end: a stream that goes on predicts Y, the most recent continuation
    pred2, _, _ = match.predictions(s + [0])
    assert chr(pred2[15]) == "Y"


def test_a_wrong_prediction_ends_the_match_and_lengths_grow_while_it_runs():
    s = list(b"the quick brown fox; the quick brown cat")
    pred, length, _ = match.predictions(s)
    at = len(s) - 3
    assert chr(pred[at]) == "f" and length[at] >= 16
    assert pred[at + 1] == -1
    run = length[21:at + 1]
    assert (np.diff(run[run > 0]) == 1).all(), "a running match grows by one per symbol"


def test_fit_recovers_the_mixing_weight_of_synthetic_data():
    rng = np.random.default_rng(0)
    n = 40000
    p = rng.uniform(0.01, 0.3, n)  # the network's probability of the true symbol (and of the match's)
    length = rng.choice([4, 9, 30], n)
    true_lam = np.select([length == 4, length == 9], [0.2, 0.5], 0.85)
    # drawn from the mixture: the match's symbol with weight lam, else the network's draw
    hit = rng.random(n) < true_lam + (1 - true_lam) * p
    lam = match.fit(-np.log2(p), hit, length, [4, 8, 16])
    assert np.allclose(lam, [0.2, 0.5, 0.85], atol=0.03), lam
    mixed = match.mixed_bits(-np.log2(p), hit, length, {"bounds": [4, 8, 16], "lambda": lam})
    assert mixed.mean() < (-np.log2(p)).mean(), "the fitted mixture beats the network alone"


def test_the_committed_fixture_matches_this_implementation():
    """The engine's parity test reads these predictions; they must be match.py's."""
    fx = json.loads(open(os.path.join(REPO, "models", "mb-small", "fixture.json")).read())
    mm = json.loads(open(os.path.join(REPO, "models", "mb-small", "manifest.json")).read())["match_model"]
    text = base64.b64decode(fx["text_b64"])
    pred, length, _ = match.predictions([BOS] + list(text), mm["min_len"])
    assert pred.tolist() == fx["match"]["pred"]
    assert length.tolist() == fx["match"]["len"]
    assert mm["table_bits"] == match.TABLE_BITS and mm["verify"] == match.VERIFY


def test_the_suffix_anchor_copies_the_place_whose_continuation_is_the_suffix():
    from megabyte.symbols import PRE, SUF
    doc = b'f a {\n  log(1);\n  step(A);\n  done();\n}\nf c {\n  log(1);\n  retry(B);\n  fail();\n}\nf b {\n  log(1);\n  '
    suffix = b'\n  done();\n}\n'
    s = [BOS, SUF] + list(suffix) + [PRE] + list(doc)
    src, evidence, two_sided, end = match.anchor(s, len(s), 2, len(suffix))
    assert two_sided and bytes(s[src:src + 8]) == b"step(A);"
    assert evidence >= len(suffix) + 8 and bytes(s[src:end]) == b"step(A);", "the copied middle ends where the suffix begins"
    # without the suffix: the left context alone, the most recent of equal left matches
    src2, _, two_sided2, end2 = match.anchor(s, len(s), 2, 0)
    assert not two_sided2 and end2 == -1 and bytes(s[src2:src2 + 9]) == b"retry(B);"
    # the anchored match starts there, is marked as such, and predicts EOM where the copy ends
    stream = s + list(b"step(A);") + [EOM]
    pred, length, anchored = match.predictions(stream, anchor_at=(len(s), src, evidence, True, end))
    assert bytes(pred[len(s):len(s) + 8].tolist()) == b"step(A);" and anchored[len(s):len(s) + 9].all()
    assert pred[len(s) + 8] == EOM


def test_at_a_bare_indentation_a_deeper_indented_line_is_not_an_anchor():
    # without the rule the deeper line would win: more recent, longer left match
    doc = b"\na:\n    flat()\na:\n        deep()\na:\n    "
    s = [BOS] + list(doc)
    src, _, _, _ = match.anchor(s, len(s), 0, 0)
    assert bytes(s[src:src + 6]) == b"flat()", "the 4-space line, not the 8-space one"


def test_the_committed_anchor_cases_match_this_implementation():
    from fixture import anchor_cases
    fx = json.loads(open(os.path.join(REPO, "models", "mb-small", "fixture.json")).read())
    assert [{**c, "fim": c["fim"] and list(c["fim"]), "l2r": c["l2r"] and list(c["l2r"])} for c in anchor_cases()] == fx["match"]["anchors"]
