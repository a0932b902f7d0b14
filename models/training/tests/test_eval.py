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


def test_pack_corpus_keeps_whole_files_and_cuts_only_the_big_packages(tmp_path):
    import json
    from megabyte.data import Corpus
    from pack_corpus import pack, water_fill
    assert water_fill({"a": 10, "b": 100, "c": 1000}, 300) == 190
    src = tmp_path / "src"
    src.mkdir()
    big = [b"x = %d\n" % i * 400 for i in range(20)]
    small = [b"y = %d\n" % i * 10 for i in range(5)]
    raw, idx, off = bytearray(), [], 0
    for pkg, files in (("big", big), ("small", small)):
        for i, data in enumerate(files):
            raw += b"\0" + data
            idx.append({"package": pkg, "path": f"f{i}.py", "offset": off + 1, "length": len(data)})
            off += 1 + len(data)
    for split in ("train", "heldout"):
        (src / f"{split}.bin").write_bytes(bytes(raw))
        (src / f"{split}.idx").write_text(json.dumps(idx))
    (src / "corpus.json").write_text(json.dumps([{"package": "big"}, {"package": "small"}]))
    res = pack(src, tmp_path / "out", 20_000)
    assert res["train_bytes"] <= 20_000
    out_idx = json.loads((tmp_path / "out" / "train.idx").read_text())
    out_raw = (tmp_path / "out" / "train.bin").read_bytes()
    assert sum(r["package"] == "small" for r in out_idx) == 5, "a small package stays whole"
    for r in out_idx:
        assert out_raw[r["offset"] - 1] == 0, "each file keeps its BOS marker"
        src_rec = next(x for x in idx if x["package"] == r["package"] and x["path"] == r["path"])
        assert out_raw[r["offset"]:r["offset"] + r["length"]] == raw[src_rec["offset"]:src_rec["offset"] + src_rec["length"]]
    assert (tmp_path / "out" / "heldout.bin").read_bytes() == bytes(raw), "the held-out split is copied whole"
    Corpus(tmp_path / "out", "train")  # data.py reads it
