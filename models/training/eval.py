"""Bits per byte of files under a checkpoint (PyTorch, the reference the engine is checked against).

  python models/training/eval.py --checkpoint runs/mb-small/checkpoint.pt [--context BYTES] FILE...
  python models/training/eval.py --checkpoint ... --heldout .cache/corpus --max-bytes 2000000 --json out.json

Each file is its own document, scored from BOS. With --context W the file is cut into blocks of
W/2 bytes, each scored after the W/2 bytes before it (every byte sees W/2..W bytes of context);
src/engine/engine.ts `score` applies the same rule. --heldout also runs xz -9e, zstd -19 --long
and zpaq -m5 on the same bytes (each file compressed on its own, like the model scores them).

--fim-spans N: what the text after the cursor is worth. N spans (one line, or two to four lines,
the cursor after the first line's indentation) are cut from held-out files; the middle's bits per
byte are measured in the engine's layout `BOS far SUF suffix PRE near middle EOM` (far aligned
so SUF opens a top patch, near 0.5-1.5 KB, suffix 2 KB; src/engine/engine.ts buildStream), with an
empty suffix, and left to right (`BOS prefix middle`), plus the bits of EOM after the middle.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from megabyte import cm, match  # noqa: E402
from megabyte.model import Megabyte  # noqa: E402
from megabyte.symbols import BOS, EOM, PRE, SUF  # noqa: E402


@torch.no_grad()
def stream_bits_pair(model: Megabyte, stream: list[int], mm: dict | None = None,
                     middle_at: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Bits of every symbol of `stream` (the first included) under the network, and with `mm`
    (a manifest's match_model) under the network mixed with the match model (else None), from one
    exact forward pass over the whole stream, padded to whole top patches (padding after the end
    changes nothing before it). With `middle_at` (where a middle starts: the cursor, in
    `... SUF suffix PRE near` or left to right), the match model's anchor applies there, as the
    engine applies it at the cursor."""
    U = model.cfg.top_unit
    T = len(stream)
    Tp = -(-T // U) * U
    x = torch.tensor(stream + [0] * (Tp - T), dtype=torch.long)[None]
    logits = model(x)[0, :T].float()
    nll = F.cross_entropy(logits, x[0, :T], reduction="none") / math.log(2)
    if mm is None:
        return nll, None
    a = match.anchor_in_stream(stream, middle_at) if middle_at is not None and "anchor_lambda" in mm else None
    pred, length, anchored = match.predictions(stream, mm["min_len"], None if a is None else (middle_at, *a))
    mixed = match.mixed_bits(nll.numpy(), pred == np.asarray(stream), length, mm, anchored)
    return nll, torch.from_numpy(mixed).float()


@torch.no_grad()
def stream_probs(model: Megabyte, stream: list[int]) -> np.ndarray:
    """The network's distribution over the 260 symbols at every position of `stream` (float64),
    from one exact forward pass (as stream_bits_pair)."""
    U = model.cfg.top_unit
    T = len(stream)
    Tp = -(-T // U) * U
    x = torch.tensor(stream + [0] * (Tp - T), dtype=torch.long)[None]
    logits = model(x)[0, :T].double()
    return torch.softmax(logits, -1).numpy()


def stream_bits_cm(model: Megabyte, stream: list[int], cmp: dict, mm: dict, middle_at: int | None = None,
                   disable: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Bits of every symbol of `stream` under the network alone and under the context-mixing layer
    (megabyte/cm.py, the manifest's `context_mixing` block, its match models from `mm`); with
    `middle_at` the match model's anchor applies there, as the engine applies it at the cursor."""
    probs = stream_probs(model, stream)
    s = np.asarray(stream)
    net = -np.log2(np.maximum(probs[np.arange(len(s)), s], 1e-300))
    a = match.anchor_in_stream(stream, middle_at) if middle_at is not None and "anchor_lambda" in mm else None
    bits, _ = cm.stream_bits(stream, probs, cmp, mm, None if a is None else (middle_at, *a), disable)
    return net, bits


def stream_bits(model: Megabyte, stream: list[int], mm: dict | None = None, middle_at: int | None = None) -> torch.Tensor:
    """stream_bits_pair's mixed bits with `mm`, else the network's."""
    net, mixed = stream_bits_pair(model, stream, mm, middle_at)
    return net if mixed is None else mixed


def file_bits_pair(model: Megabyte, data: bytes, context: int = 0,
                   mm: dict | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Bits of every byte of a file scored from BOS (with --context W: in blocks of W/2 bytes, each
    after the W/2 before it), under the network and, with `mm`, the mixture (else None)."""
    n = len(data)
    net, mixed = torch.zeros(n), (torch.zeros(n) if mm else None)
    half = max(1, context // 2)
    if not context or n <= context:
        blocks = [(0, 0, n)]  # (context start, start, end)
    else:
        blocks = [(max(0, s - half), s, min(n, s + half)) for s in range(0, n, half)]
    for c0, s, e in blocks:
        b, m = stream_bits_pair(model, [BOS] + list(data[c0:e]), mm)
        net[s:e] = b[1 + s - c0:]
        if mixed is not None:
            mixed[s:e] = m[1 + s - c0:]
    return net, mixed


def file_bits(model: Megabyte, data: bytes, context: int = 0, mm: dict | None = None) -> torch.Tensor:
    net, mixed = file_bits_pair(model, data, context, mm)
    return net if mixed is None else mixed


def compressor_bits(files: list[bytes]) -> dict:
    """Bits per byte of xz -9e, zstd -19 --long, zpaq -m5 on the same files (each on its own)."""
    res = {}
    total = sum(len(f) for f in files)
    tools = {
        "xz -9e": (["xz", "-9e", "-c", "-T1"], None),
        "zstd -19 --long": (["zstd", "-19", "--long=27", "-c", "-q"], None),
        "zpaq -m5": (None, "zpaq"),
    }
    for name, (cmd, special) in tools.items():
        exe = cmd[0] if cmd else special
        if not shutil.which(exe):
            res[name] = None
            continue
        size = 0
        for data in files:
            if cmd:
                size += len(subprocess.run(cmd, input=data, capture_output=True, check=True).stdout)
            else:
                with tempfile.TemporaryDirectory() as td:
                    src, arc = Path(td) / "f", Path(td) / "a.zpaq"
                    src.write_bytes(data)
                    subprocess.run(["zpaq", "a", str(arc), "f", "-m5"], cwd=td, capture_output=True, check=True)
                    size += arc.stat().st_size
        res[name] = round(8 * size / total, 4)
    return res


def compressed_sizes(data: bytes) -> dict[str, int | None]:
    """Bytes of one document under xz -9e, zstd -19 --long, 7z PPMd (-mx=9) and zpaq -m5 (whole
    archives, headers included: what a user would store)."""
    out: dict[str, int | None] = {}
    for name, cmd in (("xz -9e", ["xz", "-9e", "-c", "-T1"]), ("zstd -19 --long", ["zstd", "-19", "--long=27", "-c", "-q"])):
        out[name] = len(subprocess.run(cmd, input=data, capture_output=True, check=True).stdout) if shutil.which(cmd[0]) else None
    for name, exe, args in (("ppmd (7z)", "7z", ["a", "-m0=PPMd", "-mx=9", "a.7z", "f"]), ("zpaq -m5", "zpaq", ["a", "a.zpaq", "f", "-m5"])):
        if not shutil.which(exe):
            out[name] = None
            continue
        with tempfile.TemporaryDirectory() as td:
            (Path(td) / "f").write_bytes(data)
            subprocess.run([exe, *args], cwd=td, capture_output=True, check=True)
            out[name] = (Path(td) / args[-2 if exe == "7z" else 1]).stat().st_size
    return out


def language(name: str) -> str:
    """A held-out file's language, by extension (.d.ts counts as ts; no extension: other)."""
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else "other"


ABLATIONS = {"order 0": "order0", "orders 1-2": "order1,order2", "orders 3-4": "order3,order4", "order 6": "order6",
             "words": "word,word2", "column and indentation": "column,indent", "sparse": "sparse23,sparse24", "brackets and quote": "bracket",
             "match model (min 4, the anchor)": "match", "long match model (min 12)": "match_long",
             "the network (CM alone)": "network"}


def engine_bits(docs: list[bytes], model_dir: str, mode: str, without: str = "") -> list[float]:
    """Total bits of each document under the TypeScript engine (`npm run score`, built by
    scripts/build.mjs): mode "cm" (as the editor uses the model), "match" (--match-only: the
    network and the match model) or "network" (--network-only). Each document is scored on its
    own from BOS, as file_bits scores them."""
    root = Path(__file__).resolve().parents[2]
    cli = root / "dist" / "cli" / "score.js"
    if not cli.exists():
        raise SystemExit(f"{cli} is missing: run node scripts/build.mjs first")
    flag = {"cm": [], "match": ["--match-only"], "network": ["--network-only"]}[mode] + (["--without", without] if without else [])
    with tempfile.TemporaryDirectory() as td:
        paths = []
        for k, d in enumerate(docs):
            p = Path(td) / f"{k}"
            p.write_bytes(d)
            paths.append(str(p))
        r = subprocess.run(["node", str(cli), "--model", model_dir, "--per-file", "--threads", "1", *flag, *paths],
                           capture_output=True, text=True, check=True)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    per = {Path(x["file"]).name: x for x in lines if "file" in x}
    return [per[str(k)]["bpb"] * len(d) for k, d in enumerate(docs)]


def cm_figures(files: list[tuple[str, bytes]], model_dir: str) -> dict:
    """eval.py --cm: held-out bits per byte (a) per file and (b) per package concatenated (in the
    sample's order), overall and per language, under the engine with the context-mixing layer, with
    the match model only, and the network alone, beside the compressors on the same documents.
    (b) per language: each package's files of that language concatenated."""
    by_pkg: dict[str, list[bytes]] = {}
    by_pkg_lang: dict[tuple[str, str], list[bytes]] = {}
    for name, data in files:
        by_pkg.setdefault(name.split("/")[0], []).append(data)
        by_pkg_lang.setdefault((name.split("/")[0], language(name)), []).append(data)
    sets = {
        "a_per_file": ([d for _, d in files], [language(n) for n, _ in files]),
        "b_per_package": ([b"".join(v) for v in by_pkg.values()], ["all"] * len(by_pkg)),
        "b_per_package_language": ([b"".join(v) for v in by_pkg_lang.values()], [k[1] for k in by_pkg_lang]),
    }
    res: dict = {}
    for key, (docs, langs) in sets.items():
        rows = {m: engine_bits(docs, model_dir, m) for m in ("cm", "match", "network")}
        comp = [compressed_sizes(d) for d in docs]
        groups: dict[str, dict] = {}
        for g in sorted(set(langs)) + (["all"] if key != "b_per_package" else []):
            ix = [i for i, lang in enumerate(langs) if g == "all" or lang == g]
            n = sum(len(docs[i]) for i in ix)
            fig = {"documents": len(ix), "bytes": n}
            for m, b in rows.items():
                fig[{"cm": "mixed", "match": "network+match", "network": "network"}[m]] = round(sum(b[i] for i in ix) / n, 4)
            for c in comp[0]:
                sizes = [comp[i][c] for i in ix]
                fig[c] = None if None in sizes else round(8 * sum(sizes) / n, 4)
            if fig.get("zpaq -m5"):
                fig["vs_zpaq"] = round(fig["mixed"] / fig["zpaq -m5"] - 1, 4)
            groups[g] = fig
        res[key] = groups
    return res


def ablation(files: list[tuple[str, bytes]], model_dir: str) -> dict:
    """Held-out bits per byte (each file its own document) with each input of the context-mixing
    layer left out (ABLATIONS), beside the whole layer, the network + match model and the network."""
    docs = [d for _, d in files]
    n = sum(len(d) for d in docs)
    out = {"files": len(docs), "bytes": n}
    for name, mode, w in [("all inputs", "cm", ""), *((k, "cm", v) for k, v in ABLATIONS.items()),
                          ("network + match model only", "match", ""), ("network alone", "network", "")]:
        out[name] = round(sum(engine_bits(docs, model_dir, mode, w)) / n, 4)
    return out


def heldout_files(corpus: Path, max_bytes: int, max_file: int = 1 << 20, split: str = "heldout") -> list[tuple[str, bytes]]:
    """A deterministic sample of whole files of a split (held-out by default): every package in
    turn, up to max_bytes."""
    idx = json.loads((corpus / f"{split}.idx").read_text())
    raw = (corpus / f"{split}.bin").read_bytes()
    by_pkg: dict[str, list[dict]] = {}
    for rec in idx:
        if rec["length"] <= max_file:
            by_pkg.setdefault(rec["package"], []).append(rec)
    out, total = [], 0
    i = 0
    while total < max_bytes and any(by_pkg.values()):
        for pkg in sorted(by_pkg):
            recs = by_pkg[pkg]
            if not recs:
                continue
            rec = recs.pop((i * 7919) % len(recs))
            data = raw[rec["offset"]:rec["offset"] + rec["length"]]
            out.append((f"{pkg}/{rec['path']}", data))
            total += len(data)
            if total >= max_bytes:
                break
        i += 1
    return out


def fim_spans(corpus: Path, count: int, seed: int = 7, split: str = "heldout") -> list[tuple[bytes, int, int]]:
    """(file, start, end) of deterministic spans, cut like src/bench/infill.ts cuts them: one
    line at even indices, two to four lines at odd ones."""
    import random
    idx = json.loads((corpus / f"{split}.idx").read_text())
    raw = (corpus / f"{split}.bin").read_bytes()
    files = [r for r in idx if 2000 < r["length"] < 200_000 and r["path"].endswith((".py", ".ts", ".js", ".mjs", ".md", ".rst"))]
    rnd = random.Random(seed)
    out: list[tuple[bytes, int, int]] = []
    for _ in range(count * 50):
        if len(out) >= count:
            break
        rec = rnd.choice(files)
        data = raw[rec["offset"]:rec["offset"] + rec["length"]]
        lines = data.split(b"\n")
        n = 1 if len(out) % 2 == 0 else 2 + rnd.randrange(3)
        first = 5 + rnd.randrange(max(1, len(lines) - n - 10))
        body = lines[first:first + n]
        if len(b"".join(body).strip()) < 8 or any(len(x) > 200 for x in body):
            continue
        indent = len(body[0]) - len(body[0].lstrip(b" \t"))
        start = len(b"\n".join(lines[:first])) + 1 + indent
        out.append((data, start, start + len(b"\n".join(body)) - indent))
    return out


FIM_PREFIX = 16384  # bytes of prefix the --fim-spans figures give each span (the model gains little beyond)


def _prefix(data: bytes, c: int) -> tuple[list[int], list[int]]:
    """(head, prefix): the last FIM_PREFIX bytes before c, and [BOS] when they start the file."""
    lo = max(0, c - FIM_PREFIX)
    return ([BOS] if lo == 0 else []), list(data[lo:c])


def fim_context(data: bytes, c: int, e: int, unit: int, suffix: bool, near_min: int = 512,
                suffix_bytes: int = 2048) -> list[int]:
    """The stream before the middle data[c:e], as the engine builds it (engine.ts buildStream):
    `BOS far SUF suffix PRE near`, SUF at a multiple of the top unit, near_min..near_min+unit-1
    bytes of near prefix; the prefix cut to its last FIM_PREFIX bytes (then without BOS)."""
    head, prefix = _prefix(data, c)
    far = max(0, ((len(head) + len(prefix) - near_min) // unit) * unit - len(head))
    return head + prefix[:far] + [SUF] + (list(data[e:e + suffix_bytes]) if suffix else []) + [PRE] + prefix[far:]


def fim_figures(model: Megabyte, spans: list[tuple[bytes, int, int]], mm: dict | None = None) -> dict:
    """Middle bits per byte with the suffix, an empty suffix and left to right, and EOM bits. With
    `mm`: the mixture's figures, and the network's under "network_only" (the same forward passes)."""
    kinds = ("with_suffix", "empty_suffix", "left_to_right")
    acc = {v: {"bits": dict.fromkeys(kinds, 0.0), "eom": dict.fromkeys(kinds[:2], 0.0), "eom_line": 0.0}
           for v in (("mixed", "net") if mm else ("net",))}
    n = 0
    for k, (data, c, e) in enumerate(spans):
        middle = list(data[c:e])
        for key in kinds:
            if key == "left_to_right":
                head, prefix = _prefix(data, c)
                ctx, stream = head + prefix, head + prefix + middle
            else:
                ctx = fim_context(data, c, e, model.cfg.top_unit, key == "with_suffix")
                stream = ctx + middle + [EOM]
            net, mixed = stream_bits_pair(model, stream, mm, len(ctx))
            for v, b in (("net", net), ("mixed", mixed)):
                if v not in acc:
                    continue
                a = acc[v]
                a["bits"][key] += float(b[len(ctx):len(ctx) + len(middle)].sum())
                if key != "left_to_right":
                    a["eom"][key] += float(b[-1])
                    if key == "with_suffix" and k % 2 == 0:  # one-line spans: a middle that ends where a line does
                        a["eom_line"] += float(b[-1])
        n += len(middle)

    def figures(a: dict) -> dict:
        return {"spans": len(spans), "middle_bytes": n,
                "middle_bpb": {k: round(v / max(1, n), 4) for k, v in a["bits"].items()},
                "eom_bits": {**{k: round(v / max(1, len(spans)), 3) for k, v in a["eom"].items()},
                             "with_suffix_one_line": round(a["eom_line"] / max(1, (len(spans) + 1) // 2), 3)}}
    if not mm:
        return figures(acc["net"])
    return {**figures(acc["mixed"]), "network_only": figures(acc["net"])}


def load_match(path: str | Path) -> dict:
    """The match_model block of a manifest.json or of a match_fit.py --out file."""
    d = json.loads(Path(path).read_text())
    return d.get("match_model", d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--context", type=int, default=0)
    ap.add_argument("--heldout", help="corpus dir: evaluate a sample of its held-out split")
    ap.add_argument("--max-bytes", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fim-spans", type=int, default=0, help="also measure infilling on this many held-out spans")
    ap.add_argument("--json", help="write the figures here (for export.py --eval)")
    ap.add_argument("--match", help="manifest.json (or match_fit.py --out JSON) whose match_model is mixed in; "
                                    "the figures are then given with and without it")
    ap.add_argument("--cm", metavar="MODEL_DIR",
                    help="held-out figures (a) per file and (b) per package concatenated, per language, through the "
                         "TypeScript engine with the model directory's context-mixing layer, beside the compressors")
    ap.add_argument("--ablate", action="store_true", help="with --cm: the ablation table instead (each input left out)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from megabyte.checkpoint import load_checkpoint
    model, _ = load_checkpoint(args.checkpoint)
    files = [(f, Path(f).read_bytes()) for f in args.files]
    if args.heldout:
        files += heldout_files(Path(args.heldout), args.max_bytes)
    mm = load_match(args.match) if args.match else None
    if args.cm:
        t0 = time.time()
        res = ablation(files, args.cm) if args.ablate else cm_figures(files, args.cm)
        res["seconds"] = round(time.time() - t0, 1)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        print(json.dumps(res))
        return
    t0 = time.time()
    bits, n, per_pkg = 0.0, 0, {}
    net_bits = 0.0
    for name, data in files:
        net, mixed = file_bits_pair(model, data, args.context, mm)
        net_bits += float(net.sum())
        b = float((net if mixed is None else mixed).sum())
        bits += b
        n += len(data)
        pkg = name.split("/")[0]
        pb, pn = per_pkg.get(pkg, (0.0, 0))
        per_pkg[pkg] = (pb + b, pn + len(data))
    res = {"files": len(files), "bytes": n, "bits": round(bits, 4), "bpb": round(bits / max(1, n), 4),
           "context": args.context or "full", "seconds": round(time.time() - t0, 2)}
    if mm:
        res["network_only_bpb"] = round(net_bits / max(1, n), 4)
    if args.heldout:
        res["per_package_bpb"] = {k: round(b / max(1, m), 4) for k, (b, m) in per_pkg.items()}
        res["heldout_bpb"] = res["bpb"]
        res["compressors_bpb"] = compressor_bits([d for _, d in files])
    if args.fim_spans and args.heldout:
        spans = fim_spans(Path(args.heldout), args.fim_spans)
        res["fim"] = fim_figures(model, spans, mm)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
