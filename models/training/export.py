"""Export a trained checkpoint as one ONNX graph per level, plus manifest.json.

  python models/training/export.py --checkpoint runs/mb-small/checkpoint.pt --out models/mb-small \
      --name mb-small [--corpus .cache/corpus] [--eval eval.json]

The graphs (megabyte/graphs.py) are written with onnx.helper rather than traced: attention is
onnxruntime's fused `com.microsoft.GroupQueryAttention` (measured here 4x faster than plain ops on
CPU, ~20x on GPU), with rotary positions computed inside the op, and every level takes past
keys/values and returns the new positions' ones, so appending one patch to a document costs one
step, not a re-run of the file. --checkpoint takes a checkpoint or a model directory (its weights
rebuilt from its graphs). The graphs are the only committed copy of a bundled model's weights:
train.py --init-from and eval.py --checkpoint read a model directory directly.

Graph contract (names from megabyte/symbols.py ONNX, mirrored in src/engine/contract.ts):
  inputs   prev_units (N, S, unit) int64, [context (N, S, D) float, levels > 0],
           past_length (1,) int64: positions already in the past (the same for every row),
           past_key.{i}, past_value.{i} (N, kv_heads, C, head_dim) float, C >= max(1, past_length):
           a buffer whose first past_length positions are the past (the rest is ignored)
  outputs  child_context (N, S, p, D_child) float | logits (N, S, 260) float,
           new_key.{i}, new_value.{i} (N, kv_heads, S, head_dim): keys (rotated) and values of
           the S new positions, which the caller writes into its buffer at past_length.

Why only the new positions come out: onnxruntime-node copies every output into a fresh JS
buffer, so a `present` output (past + new) costs a copy of the whole cache per call — at 1 MB
of context 31 MB per global step, three times over with candidates. The caller keeps one
growing buffer per layer instead and appends S positions; inside the graph GroupQueryAttention
still concatenates past and new in onnxruntime's own arena (one memcpy, no JS allocation).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from megabyte.model import Megabyte  # noqa: E402
from megabyte.symbols import ONNX, VOCAB_SIZE, BOS, SUF, PRE, EOM, PAD  # noqa: E402
from megabyte.graphs import build_level, attention_kind  # noqa: E402
from megabyte.checkpoint import SEGMENT_KEYS, load_checkpoint, sha256  # noqa: E402


def export_level(model: Megabyte, li: int, path: Path) -> None:
    onnx.save(build_level(model, li).proto, str(path))


# What export() writes from the model itself (the rest of a manifest is records).
GRAPH_KEYS = ("format", "name", "architecture", "patch_sizes", "top_unit", "levels", "vocab_size", "recipe",
              "symbols", "onnx_names", "parameters", "files")


def export(model: Megabyte, out: Path, name: str, extra: dict | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    files = []
    for li in range(len(cfg.levels)):
        p = out / f"level{li}.onnx"
        export_level(model, li, p)
        files.append({"path": p.name, "sha256": sha256(p), "bytes": p.stat().st_size})
    manifest = {
        "format": "megabyte-onnx/1",
        "name": name,
        "architecture": "megabyte" if cfg.patch_sizes else "plain-transformer",
        "patch_sizes": cfg.patch_sizes,
        "top_unit": cfg.top_unit,
        "levels": [dict(lv.__dict__, unit=cfg.unit(i), head_dim=lv.head_dim, attention=attention_kind(cfg, i))
                   for i, lv in enumerate(cfg.levels)],
        "vocab_size": VOCAB_SIZE,
        "recipe": cfg.recipe(),
        "symbols": {"BOS": BOS, "SUF": SUF, "PRE": PRE, "EOM": EOM, "PAD": PAD},
        "onnx_names": ONNX,
        "parameters": model.num_params(),
        "files": files,
    }
    manifest.update(extra or {})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--description", default="")
    ap.add_argument("--corpus", help="corpus dir whose corpus.json is copied into the manifest")
    ap.add_argument("--eval", help="JSON file of evaluation figures (eval.py --json) for the manifest")
    ap.add_argument("--earlier-training", help="manifest.json of the model this checkpoint was continued from "
                                               "(train.py --init-from): its training is recorded as earlier segments")
    ap.add_argument("--keep-records", action="store_true",
                    help="only write the graphs anew (after a change of the graph contract): the manifest "
                         "already in --out keeps its description, training, corpus and evaluation records")
    args = ap.parse_args()
    model, st = load_checkpoint(args.checkpoint)
    if args.keep_records:
        old = json.loads((Path(args.out) / "manifest.json").read_text())
        if old.get("parameters") != model.num_params():
            raise SystemExit(f"{args.out}: its manifest describes another model than {args.checkpoint}")
        # every record (description, training, corpus, evaluation, match_model, ...), not what the graphs define
        extra = {k: v for k, v in old.items() if k not in GRAPH_KEYS}
        extra["graphs_exported"] = time.strftime("%Y-%m-%d")
        m = export(model, Path(args.out), old["name"], extra)
        print(json.dumps({"out": args.out, "files": m["files"]}))
        return
    segments = list(st.get("history", []))
    if args.earlier_training:
        earlier = json.loads(Path(args.earlier_training).read_text())["training"]
        segments = earlier.get("segments") or [{k: earlier[k] for k in ("steps", "seconds", "bytes") if k in earlier}]
    if "step" in st:  # a checkpoint: its own segment (a model directory's are all in its history)
        this = {"steps": st["step"], "seconds": round(st["train_seconds"], 1), "bytes": st["seen_bytes"]}
        for k in SEGMENT_KEYS:
            if st.get(k) is not None:
                this[k] = st[k]
        segments.append(this)
    extra = {"description": args.description,
             "training": {"preset": st.get("preset"), "steps": sum(s["steps"] for s in segments),
                          # seen bytes carry over from segment to segment (train.py --init-from)
                          "bytes": st.get("seen_bytes", 0), "seconds": round(sum(s["seconds"] for s in segments), 1),
                          "seq_len": st.get("seq_len"), "fim_rate": st.get("fim_rate"),
                          "segments": segments, "exported": time.strftime("%Y-%m-%d")}}
    if args.corpus:
        extra["corpus"] = json.loads((Path(args.corpus) / "corpus.json").read_text())
    if args.eval:
        extra["evaluation"] = json.loads(Path(args.eval).read_text())
    m = export(model, Path(args.out), args.name, extra)
    print(json.dumps({"out": args.out, "files": m["files"]}))


if __name__ == "__main__":
    main()
