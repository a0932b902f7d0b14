"""Fits the context-mixing layer's final mixer (megabyte/cm.py) on the training split.

  python models/training/cm_fit.py --checkpoint models/mb-small \\
      --corpus .cache/corpus --max-bytes 120000 --manifest models/mb-small/manifest.json

A deterministic sample of whole training files (every package in turn, as match_fit.py samples
them) is scored by the network from BOS; the CM layer's online part runs over the same streams
(it learns inside each file, as it does in the engine) and gives p_cm for every bit; its small
adaptive tables (match maps, the mixers' weights, the first APM, the bit-history maps) carry from file to
file, and where the last file leaves them is the manifest's `priors`, where every document starts
(a short document has no time to learn that a long match is right);
the final mixer's weights, per set (bit position x p_cm's confidence x match state), are the logistic regression
of the bit on [stretch(p_cm), stretch(p_net), 1] (Newton's method), stored as integers (65536 = 1.0)
in manifest.json `context_mixing.final` beside the online part's parameters. The held-out figures
of eval.py --cm stay out of sample. Run it again after a new network (the final weights depend
on how good the network is); it needs the manifest's match_model (match_fit.py) first.
Pure Python: about 1.5 KB/s on one core, so 120 KB takes a few minutes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from megabyte import cm  # noqa: E402
from megabyte.symbols import BOS  # noqa: E402

KIND = "context mixing: online context models + the network, bit by bit (megabyte/cm.py, src/engine/cm.ts)"


def fit_final(feats: np.ndarray, sets: int = cm.FINAL_SETS, iterations: int = 30,
              ridge: float = 10.0) -> tuple[list[list[int]], float, float]:
    """Per set (feats: set, st_cm, st_net, y, ...), the logistic regression of y on
    [st_cm / 256, st_net / 256, 1] (squash works in units of 1/256), as integers (65536 = 1.0):
    squash((w0 st_cm + w1 st_net + w2 256) >> 16); a ridge pulls each set towards PRIOR (a set
    with few or separable bits stays finite). Returns (weights, bits per bit of p_cm alone, of the
    fitted mixer), on the fitting data."""
    prior = np.array([0.5, 0.5, 0.0])
    out = []
    before = after = 0.0
    for k in range(sets):
        f = feats[feats[:, 0] == k]
        w = prior.copy()
        if len(f):
            X = np.stack([f[:, 1], f[:, 2], np.full(len(f), 256.0)], 1) / 256.0
            y = f[:, 3].astype(np.float64)
            for _ in range(iterations):
                p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
                g = X.T @ (p - y) + ridge * (w - prior)
                H = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(3)
                w = w - np.linalg.solve(H, g)
            pc = np.clip(1 / (1 + np.exp(-X[:, 0])), 1 / 4096, 1 - 1 / 4096)
            pf = np.clip(1 / (1 + np.exp(-np.clip(X @ w, -30, 30))), 1 / 4096, 1 - 1 / 4096)
            before -= float(np.sum(y * np.log2(pc) + (1 - y) * np.log2(1 - pc)))
            after -= float(np.sum(y * np.log2(pf) + (1 - y) * np.log2(1 - pf)))
        out.append([int(round(x * 65536)) for x in np.clip(w, -64, 64)])
    n = len(feats)
    return out, before / max(1, n), after / max(1, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--max-bytes", type=int, default=120_000)
    ap.add_argument("--max-file", type=int, default=48 << 10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--manifest", help="write the block into this manifest.json (its match_model is used)")
    ap.add_argument("--match", help="manifest.json whose match_model to use (default: --manifest)")
    ap.add_argument("--out", help="write the block to this JSON file")
    ap.add_argument("--feats", help="also save the per-bit features (set, st_cm, st_net, y, j, match state) here (.npy)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from eval import heldout_files, load_match, stream_probs
    from megabyte.checkpoint import load_checkpoint, write_fitted_block
    mm = load_match(args.match or args.manifest)
    model, _ = load_checkpoint(args.checkpoint)
    t0 = time.time()
    files = heldout_files(Path(args.corpus), args.max_bytes, max_file=args.max_file, split="train")
    block = {"kind": KIND, "params": dict(cm.DEFAULTS), "final": cm.default_final()}
    feats: list = []
    for _, data in files:
        # each file from the priors the files before it left (the small tables; the hashed
        # context tables start empty in every document), as a document starts from the manifest's
        stream = [BOS] + list(data)
        end: list = []
        cm.stream_bits(stream, stream_probs(model, stream), block, mm, feats=feats, state=end)
        block["priors"] = end[0].priors()
    f = np.asarray(feats, dtype=np.float64)
    if args.feats:
        np.save(args.feats, f)
    final, before, after = fit_final(f)
    block["final"] = final
    block["fitted_on"] = {"split": "train", "files": len(files), "bytes": int(sum(len(d) for _, d in files)),
                          "bits_per_bit_cm_alone": round(before, 4), "bits_per_bit_final": round(after, 4),
                          "seconds": round(time.time() - t0, 1)}
    write_fitted_block("context_mixing", block, args.out, args.manifest)
    print(json.dumps(block["fitted_on"]))


if __name__ == "__main__":
    main()
