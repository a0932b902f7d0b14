"""eval.py's fill-in-the-middle layout is the engine's (src/engine/engine.ts buildStream)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from eval import fim_context, fim_spans  # noqa: E402
from megabyte.symbols import BOS, PRE, SUF  # noqa: E402


def test_fim_context_puts_suf_on_a_top_patch_and_keeps_every_prefix_byte():
    data = bytes((i * 7 + 3) % 251 + 1 for i in range(6000))
    for c in (5, 300, 600, 3001, 5990):
        e = min(len(data), c + 40)
        ctx = fim_context(data, c, e, 64, True)
        s, p = ctx.index(SUF), ctx.index(PRE)
        assert ctx[0] == BOS and (s % 64 == 0 or s == 1), "SUF opens a top patch (or follows BOS: no far part)"
        assert ctx[1:s] + ctx[p + 1:] == list(data[:c]), "far + near is the whole prefix, in order"
        assert ctx[s + 1:p] == list(data[e:e + 2048]), "the suffix follows SUF"
        near = len(ctx) - p - 1
        assert near == c or 512 <= near < 512 + 64, f"near prefix {near} bytes at cursor {c}"
        assert fim_context(data, c, e, 64, False) == ctx[:s + 1] + ctx[p:], "an empty suffix changes nothing else"


def test_fim_spans_are_lines_cut_after_their_indentation(tmp_path):
    import json
    text = b"".join(b"    line number %d = value(%d)\n" % (i, i) for i in range(200))
    (tmp_path / "heldout.bin").write_bytes(b"\0" + text)
    (tmp_path / "heldout.idx").write_text(json.dumps([{"package": "p", "path": "a.py", "offset": 1, "length": len(text)}]))
    spans = fim_spans(tmp_path, 6)
    assert len(spans) == 6
    for k, (data, c, e) in enumerate(spans):
        assert data[c - 4:c] == b"    " and data[c - 5:c - 4] == b"\n" and data[e:e + 1] == b"\n"
        assert (b"\n" in data[c:e]) == (k % 2 == 1), "one line at even indices, several at odd ones"
