"""Export a randomly initialised preset (seed 0) as an engine model directory, for timing only.

  python models/training/export_random.py --preset plain-small --out .cache/bench/plain-small

The benchmark (src/bench/bench.ts) uses it for the plain-transformer baseline when no trained
`models/plain-small` exists: the time of a forward pass does not depend on the weights, so
its encode, keystroke and generation timings are valid; its bits per byte are not. The manifest
has no `training` entry and says `"weights": "random"`, which is how the benchmark tells.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export  # noqa: E402
from megabyte.model import Megabyte, PRESETS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", help="model name in the manifest (default: the preset)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = Megabyte(copy.deepcopy(PRESETS[args.preset])).eval()
    name = args.name or args.preset
    m = export.export(model, Path(args.out), name, {
        "description": f"{args.preset}, random initialisation (seed {args.seed}): for timing only",
        "weights": "random", "seed": args.seed,
    })
    print(json.dumps({"out": args.out, "parameters": m["parameters"], "files": m["files"]}))


if __name__ == "__main__":
    main()
