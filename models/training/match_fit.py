"""Fits the match model's mixing weights (megabyte/match.py) on the training split.

  python models/training/match_fit.py --checkpoint models/mb-small \\
      --corpus .cache/corpus --max-bytes 1500000 --manifest models/mb-small/manifest.json

A deterministic sample of whole training files (every package in turn) is scored by the network,
file by file from BOS like eval.py scores the held-out split; the match model runs over the same
streams; each length bucket's weight maximises the mixture's likelihood. Only weights are fitted
(20 numbers), on training files: the held-out figures of eval.py --match stay out of sample.
With --manifest the block is written into that manifest.json as `match_model` (the ONNX files
and their sha256 do not change); --out writes it to a JSON file instead.
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
from megabyte import match  # noqa: E402
from megabyte.symbols import BOS, EOM  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--max-bytes", type=int, default=1_500_000)
    ap.add_argument("--min-len", type=int, default=match.MIN_LEN)
    ap.add_argument("--fim-spans", type=int, default=600,
                    help="training spans (cut like eval.py --fim-spans) to fit the suffix anchor's weights on")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--manifest", help="write the block into this manifest.json")
    ap.add_argument("--out", help="write the block to this JSON file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from eval import file_bits, fim_context, fim_spans, heldout_files, stream_bits
    from megabyte.checkpoint import load_checkpoint, write_fitted_block
    model, _ = load_checkpoint(args.checkpoint)
    t0 = time.time()
    files = heldout_files(Path(args.corpus), args.max_bytes, max_file=256 << 10, split="train")
    nets, hits, lens = [], [], []
    for _, data in files:
        stream = [BOS] + list(data)
        pred, length, _ = match.predictions(stream, args.min_len)
        nets.append(file_bits(model, data).numpy())
        hits.append(pred[1:] == np.frombuffer(data, dtype=np.uint8))
        lens.append(length[1:])
    net, hit, length = np.concatenate(nets), np.concatenate(hits), np.concatenate(lens)
    bounds = [b for b in match.BOUNDS if b >= args.min_len]
    lam = match.fit(net, hit, length, bounds)
    mm = {"kind": "byte match model, linear mixing per match length (megabyte/match.py, src/engine/match.ts)",
          "min_len": args.min_len, "table_bits": match.TABLE_BITS, "verify": match.VERIFY,
          "bounds": bounds, "lambda": lam}
    mixed = match.mixed_bits(net, hit, length, mm)
    mm["fitted_on"] = {"split": "train", "files": len(files), "bytes": int(len(net)),
                       "network_bpb": round(float(net.mean()), 4), "mixed_bpb": round(float(mixed.mean()), 4),
                       "match_coverage": round(float((length > 0).mean()), 4),
                       "match_hit_rate": round(float(hit[length > 0].mean()), 4),
                       "seconds": round(time.time() - t0, 1)}
    # the suffix anchor: its weights from the middles of training spans in the engine's layout
    t1 = time.time()
    a_net, a_hit, a_len, found = [], [], [], 0
    spans = fim_spans(Path(args.corpus), args.fim_spans, seed=11, split="train")
    for data, c, e in spans:
        ctx = fim_context(data, c, e, model.cfg.top_unit, True)
        stream = ctx + list(data[c:e]) + [EOM]
        a = match.anchor_in_stream(stream, len(ctx))
        if a is None or not a[2]:  # the left-only anchor keeps the plain weights
            continue
        found += 1
        pred, length, anchored = match.predictions(stream, args.min_len, (len(ctx), *a))
        net = stream_bits(model, stream).numpy()
        m = anchored & (np.arange(len(stream)) >= len(ctx))
        a_net.append(net[m])
        a_hit.append(pred[m] == np.asarray(stream)[m])
        a_len.append(length[m])
    an, ah, al = np.concatenate(a_net), np.concatenate(a_hit), np.concatenate(a_len)
    mm["anchor_bounds"] = match.ANCHOR_BOUNDS
    mm["anchor_lambda"] = match.fit(an, ah, al, match.ANCHOR_BOUNDS)
    mm["anchor"] = {"ctx": match.ANCHOR_CTX, "head": match.ANCHOR_HEAD, "reach": match.ANCHOR_REACH,
                    "candidates": match.ANCHOR_CANDIDATES}
    mm["fitted_on"]["anchor"] = {"spans": len(spans), "anchored": found, "symbols": int(len(an)),
                                 "hit_rate": round(float(ah.mean()), 4) if len(ah) else None,
                                 "seconds": round(time.time() - t1, 1)}
    write_fitted_block("match_model", mm, args.out, args.manifest)
    print(json.dumps(mm))


if __name__ == "__main__":
    main()
