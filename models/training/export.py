"""Export a trained checkpoint as one ONNX graph per level, plus manifest.json.

  python models/training/export.py --checkpoint runs/mb-small/checkpoint.pt --out models/mb-small \
      --name mb-small [--corpus .cache/corpus] [--eval eval.json]

The graphs are written with onnx.helper rather than traced: attention is onnxruntime's fused
`com.microsoft.GroupQueryAttention` (measured here 4x faster than plain ops on CPU, ~20x on GPU),
with rotary positions computed inside the op, and every level takes past keys/values and returns
the new positions' ones, so appending one patch to a document costs one step, not a re-run of the file.

Graph contract (names from megabyte/symbols.py ONNX, mirrored in src/engine/contract.ts):
  inputs   prev_units (N, S, unit) int64, [context (N, S, D) float, levels > 0],
           past_length (1,) int64: positions already in the past (the same for every row),
           past_key.{i}, past_value.{i} (N, kv_heads, C, head_dim) float, C >= past_length:
           a buffer whose first past_length positions are the past (C may be 0; the rest is ignored)
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
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from megabyte.model import Megabyte, ModelConfig  # noqa: E402
from megabyte.symbols import ONNX, VOCAB_SIZE, BOS, SUF, PRE, EOM, PAD  # noqa: E402

OPSET = 21


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base="c") -> str:
        nm = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, domain: str = "", **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, domain=domain or None, **attrs))
        return outs[0] if n_out == 1 else outs

    def linear(self, x: str, lin: torch.nn.Linear) -> str:
        w = lin.weight.detach().float().numpy().T.copy()   # (in, out)
        y = self.op("MatMul", [x, self.const(w, "w")])
        if lin.bias is not None:
            y = self.op("Add", [y, self.const(lin.bias.detach().float().numpy(), "b")])
        return y

    def layer_norm(self, x: str, ln: torch.nn.LayerNorm) -> str:
        return self.op("LayerNormalization", [x, self.const(ln.weight.detach().float().numpy(), "g"),
                                             self.const(ln.bias.detach().float().numpy(), "b")],
                       axis=-1, epsilon=ln.eps)


def export_level(model: Megabyte, li: int, path: Path) -> None:
    cfg = model.cfg
    level = model.levels[li]
    lv = cfg.levels[li]
    unit, hd = cfg.unit(li), lv.head_dim
    g = GraphBuilder()
    inputs = [helper.make_tensor_value_info(ONNX["input_units"], TensorProto.INT64, ["N", "S", unit])]
    if li > 0:
        inputs.append(helper.make_tensor_value_info(ONNX["input_context"], TensorProto.FLOAT, ["N", "S", lv.dim]))
    inputs.append(helper.make_tensor_value_info(ONNX["past_length"], TensorProto.INT64, [1]))
    for i in range(lv.layers):
        for key in ("past_key", "past_value"):
            inputs.append(helper.make_tensor_value_info(ONNX[key].format(i=i), TensorProto.FLOAT,
                                                        ["N", lv.kv_heads, "P", hd]))
    units = ONNX["input_units"]
    # (N, S, unit) -> (N, S, unit, e) -> (N, S, unit*e) -> (N, S, D)
    emb = g.op("Gather", [g.const(level.embed.weight.detach().float().numpy(), "embed"), units], axis=0)
    shp_units = g.op("Shape", [units])
    ns = g.op("Slice", [shp_units, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64))])
    flat = g.op("Concat", [ns, g.const(np.array([unit * lv.embed_dim], np.int64))], axis=0)
    x = g.linear(g.op("Reshape", [emb, flat]), level.in_proj)
    if li > 0:
        x = g.op("Add", [x, ONNX["input_context"]])
    # Sequence bookkeeping for GroupQueryAttention: total = past_length + S; seqlens_k = total - 1
    # per row. past_length is an input, not the past tensors' length, so the past may be a buffer
    # of any capacity >= past_length (the op reads the first seqlens_k + 1 - S positions of each row).
    p_len = ONNX["past_length"]
    s_len = g.op("Slice", [shp_units, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64))])
    total64 = g.op("Add", [p_len, s_len])                                   # (1,) int64
    total32 = g.op("Cast", [g.op("Squeeze", [total64, g.const(np.array([0], np.int64))])], to=TensorProto.INT32)
    n_rows = g.op("Slice", [shp_units, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))])
    seqlens = g.op("Cast", [g.op("Expand", [g.op("Sub", [total64, g.const(np.array([1], np.int64))]), n_rows])],
                   to=TensorProto.INT32)                                    # (N,) int32
    # Rotary tables (total, hd/2), as model.rope_cos_sin computes them.
    inv = (1.0 / (lv.rope_theta ** (np.arange(0, hd, 2, dtype=np.float32) / hd))).astype(np.float32)
    pos = g.op("Cast", [g.op("Range", [g.const(np.array(0, np.int64)),
                                       g.op("Squeeze", [total64, g.const(np.array([0], np.int64))]),
                                       g.const(np.array(1, np.int64))])], to=TensorProto.FLOAT)
    ang = g.op("Mul", [g.op("Unsqueeze", [pos, g.const(np.array([1], np.int64))]), g.const(inv[None, :], "inv_freq")])
    cos, sin = g.op("Cos", [ang]), g.op("Sin", [ang])
    outputs = []
    for i, blk in enumerate(level.blocks):
        h = g.layer_norm(x, blk.ln1)
        q, k, v = g.linear(h, blk.attn.q), g.linear(h, blk.attn.k), g.linear(h, blk.attn.v)
        pk, pv = g.name("present_key"), g.name("present_value")
        att = g.name("attn")
        g.nodes.append(helper.make_node(
            "GroupQueryAttention",
            [q, k, v, ONNX["past_key"].format(i=i), ONNX["past_value"].format(i=i), seqlens, total32, cos, sin],
            [att, pk, pv], domain="com.microsoft", num_heads=lv.heads, kv_num_heads=lv.kv_heads,
            do_rotary=1, rotary_interleaved=0, scale=1.0 / float(np.sqrt(hd))))
        # present (N, kv, max(C, total), hd) -> its positions [past_length, total): the new ones.
        for present, key in ((pk, "new_key"), (pv, "new_value")):
            nm = ONNX[key].format(i=i)
            g.nodes.append(helper.make_node("Slice", [present, p_len, total64, g.const(np.array([2], np.int64))], [nm]))
            outputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, ["N", lv.kv_heads, "S", hd]))
        x = g.op("Add", [x, g.linear(att, blk.attn.o)])
        h = g.layer_norm(x, blk.ln2)
        x = g.op("Add", [x, g.linear(g.op("Gelu", [g.linear(h, blk.fc1)]), blk.fc2)])
    x = g.layer_norm(x, level.ln_f)
    if level.last:
        out_name = ONNX["output_logits"]
        g.nodes.append(helper.make_node("Identity", [g.linear(x, level.head)], [out_name]))
        out_info = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", "S", cfg.vocab_size])
    else:
        out_name = ONNX["output_context"]
        p, dc = cfg.patch_sizes[li], cfg.levels[li + 1].dim
        shape = g.op("Concat", [ns, g.const(np.array([p, dc], np.int64))], axis=0)
        g.nodes.append(helper.make_node("Reshape", [g.linear(x, level.child_proj), shape], [out_name]))
        out_info = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", "S", p, dc])
    graph = helper.make_graph(g.nodes, f"megabyte_level{li}", inputs, [out_info] + outputs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                          producer_name="megabyte-complete")
    m.ir_version = 10
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_checkpoint(path: str | Path) -> tuple[Megabyte, dict]:
    st = torch.load(path, map_location="cpu", weights_only=False)
    model = Megabyte(ModelConfig.from_dict(st["config"]))
    model.load_state_dict(st["model"])
    model.eval()
    return model, st


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
        "levels": [dict(lv.__dict__, unit=cfg.unit(i), head_dim=lv.head_dim) for i, lv in enumerate(cfg.levels)],
        "vocab_size": VOCAB_SIZE,
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
        extra = {k: old[k] for k in ("description", "training", "corpus", "evaluation") if k in old}
        extra["graphs_exported"] = time.strftime("%Y-%m-%d")
        m = export(model, Path(args.out), old["name"], extra)
        print(json.dumps({"out": args.out, "files": m["files"]}))
        return
    this = {"steps": st["step"], "seconds": round(st["train_seconds"], 1), "bytes": st["seen_bytes"]}
    for k in ("lr", "seed", "init_from"):
        if st.get(k) is not None:
            this[k] = st[k]
    segments = list(st.get("history", []))
    if args.earlier_training:
        earlier = json.loads(Path(args.earlier_training).read_text())["training"]
        segments = earlier.get("segments") or [{k: earlier[k] for k in ("steps", "seconds", "bytes") if k in earlier}]
    segments.append(this)
    extra = {"description": args.description,
             "training": {"preset": st.get("preset"), "steps": sum(s["steps"] for s in segments),
                          # seen bytes carry over from segment to segment (train.py --init-from)
                          "bytes": st["seen_bytes"], "seconds": round(sum(s["seconds"] for s in segments), 1),
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


class ModelDirError(ValueError):
    """A model directory whose files do not match its manifest (the message names the file)."""


def verify_model_dir(model_dir: str | Path) -> dict:
    """Checks manifest.json, each listed file's size and sha256, and each graph's input/output
    names against the contract; returns the manifest. The Python twin of src/engine/manifest.ts."""
    d = Path(model_dir)
    mf = d / "manifest.json"
    try:
        manifest = json.loads(mf.read_text())
    except (OSError, ValueError) as e:
        raise ModelDirError(f"{mf}: cannot read the manifest ({e})") from e
    if manifest.get("onnx_names") != ONNX:
        raise ModelDirError(f"{mf}: onnx_names do not match the contract in megabyte/symbols.py")
    for i, f in enumerate(manifest.get("files", [])):
        p = d / f["path"]
        if not p.exists():
            raise ModelDirError(f"{p}: missing (listed in manifest.json)")
        if p.stat().st_size != f["bytes"]:
            raise ModelDirError(f"{p}: size {p.stat().st_size} bytes, manifest.json says {f['bytes']}")
        if sha256(p) != f["sha256"]:
            raise ModelDirError(f"{p}: sha256 does not match manifest.json: corrupt or replaced")
        g = onnx.load(str(p), load_external_data=False).graph
        names = {x.name for x in g.input}
        lv = manifest["levels"][i]
        want = {ONNX["input_units"], ONNX["past_length"]} | ({ONNX["input_context"]} if i else set())
        want |= {ONNX[k].format(i=j) for j in range(lv["layers"]) for k in ("past_key", "past_value")}
        if not want <= names:
            raise ModelDirError(f"{p}: graph inputs {sorted(names)} lack {sorted(want - names)}")
    return manifest
