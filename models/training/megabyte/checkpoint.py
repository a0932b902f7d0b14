"""Checkpoints and model directories: loading weights, the segment record, verification.

One place for what train.py, export.py, eval.py, fixture.py, match_fit.py, ceiling.py and
equal_compute.py read. A bundled model's weights live once, in its ONNX graphs: `load_checkpoint`
and `load_weights` take a model directory (manifest.json + level*.onnx) as well as a PyTorch
checkpoint, and rebuild the state dict from the graphs' initialisers bit for bit
(`state_dict_from_model_dir`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .model import Megabyte, ModelConfig, LevelConfig
from .symbols import ONNX

# What a checkpoint records of its training segment besides steps, seconds and bytes; export.py
# writes the same keys into the manifest's training.segments, and train.py --init-from reads them back.
SEGMENT_KEYS = ("lr", "seed", "init_from", "fim", "middle_weight", "optimizer", "muon_lr", "schedule", "ema", "grow",
                "add_ngram")


class ModelDirError(ValueError):
    """A model directory whose files do not match its manifest (the message names the file)."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_model_dir(model_dir: str | Path) -> dict:
    """Checks manifest.json, each listed file's size and sha256, and each graph's input/output
    names against the contract; returns the manifest. The Python twin of src/engine/manifest.ts."""
    import onnx
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


def config_from_manifest(manifest: dict) -> ModelConfig:
    fields = set(LevelConfig.__dataclass_fields__)
    return ModelConfig.from_dict({"patch_sizes": manifest["patch_sizes"], "vocab_size": manifest["vocab_size"],
                                  "levels": [{k: v for k, v in lv.items() if k in fields} for lv in manifest["levels"]],
                                  **manifest.get("recipe", {})})


def state_dict_from_model_dir(model_dir: str | Path) -> tuple[ModelConfig, dict]:
    """(config, state dict) rebuilt from a model directory's ONNX initialisers, exactly the fp32
    tensors export.py wrote (transposed matrices transposed back). The directory is verified first."""
    import onnx
    from onnx import numpy_helper
    from .graphs import build_level
    d = Path(model_dir)
    manifest = verify_model_dir(d)
    cfg = config_from_manifest(manifest)
    shell = Megabyte(cfg)  # its own weights are never read: only which parameter each initialiser holds
    names = {id(p): n for n, p in shell.named_parameters()}
    state: dict[str, torch.Tensor] = {}
    for li, f in enumerate(manifest["files"]):
        inits = {t.name: t for t in onnx.load(str(d / f["path"])).graph.initializer}
        for init_name, (tensor, transposed) in build_level(shell, li).sources.items():
            if init_name not in inits:
                raise ModelDirError(f"{d / f['path']}: no initialiser {init_name} (for {names[id(tensor)]}): "
                                    "exported by another version of the graph builder")
            a = torch.from_numpy(numpy_helper.to_array(inits[init_name]).copy())
            state[names[id(tensor)]] = a.T.contiguous() if transposed else a
    want = shell.state_dict()
    missing = sorted(set(want) - set(state))
    if missing:
        raise ModelDirError(f"{d}: the graphs hold no weights for {missing}")
    for k, v in want.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ModelDirError(f"{d}: {k} has shape {tuple(state[k].shape)}, the manifest's model {tuple(v.shape)}")
    return cfg, {k: state[k] for k in want}


def _model_dir_record(model_dir: Path, manifest: dict) -> dict:
    """What train.py --init-from reads of a checkpoint, from a manifest: the segments behind the
    weights and the bytes they saw."""
    tr = manifest.get("training", {})
    return {"history": list(tr.get("segments", [])), "seen_bytes": tr.get("bytes", 0),
            "preset": tr.get("preset"), "model_dir": str(model_dir)}


def load_weights(path: str | Path, device="cpu") -> tuple[dict, dict]:
    """(state dict, record) of a checkpoint file or a model directory. For a checkpoint the record
    is the checkpoint itself; for a model directory its manifest's training record (no "step":
    its segments are all in "history")."""
    p = Path(path)
    if p.is_dir():
        cfg, state = state_dict_from_model_dir(p)
        manifest = json.loads((p / "manifest.json").read_text())
        record = _model_dir_record(p, manifest)
        record["config"] = cfg.to_dict()
        return {k: v.to(device) for k, v in state.items()}, record
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such checkpoint or model directory")
    st = torch.load(p, map_location=device, weights_only=False)
    return st["model"], st


def load_checkpoint(path: str | Path) -> tuple[Megabyte, dict]:
    """(model in eval mode, record) of a checkpoint file or a model directory (see load_weights).
    A checkpoint's "model" is what is evaluated and exported: the weight EMA when it was trained
    with one (train.py --ema)."""
    p = Path(path)
    if p.is_dir():
        cfg, state = state_dict_from_model_dir(p)
        st = _model_dir_record(p, json.loads((p / "manifest.json").read_text()))
        st["config"] = cfg.to_dict()
    else:
        state, st = load_weights(p)
        cfg = ModelConfig.from_dict(st["config"])
    model = Megabyte(cfg)
    model.load_state_dict(state)
    model.eval()
    return model, st


def write_fitted_block(key: str, block: dict, out: str | None, manifest: str | None) -> None:
    """A fitted manifest block (match_fit.py's match_model, cm_fit.py's context_mixing): to `out`
    as its own JSON file, and into `manifest` under `key`, when given."""
    if out:
        Path(out).write_text(json.dumps(block, indent=1) + "\n")
    if manifest:
        p = Path(manifest)
        m = json.loads(p.read_text())
        m[key] = block
        p.write_text(json.dumps(m, indent=1) + "\n")
