"""MEGABYTE against the plain byte-level transformer at equal training compute (the paper's claim
that MEGABYTE models bytes better for the same compute), on our held-out split.

Equal compute here: both trained from scratch by train.py on the same corpus, the same FIM rate
and schedule, for the same wall-clock minutes on one CPU core each, side by side on the same
machine (so a busy machine slows both alike). Then both are scored on the same held-out files:
MEGABYTE with the whole file as context and with the plain model's training window, the plain
model with its window (its full-context cost is quadratic).

  python models/training/train.py --preset mb-small --out models/training/runs/ec-mb \
      --seq-len 16384 --batch-size 2 --threads 1 --minutes 50 &
  python models/training/train.py --preset plain-small --out models/training/runs/ec-plain \
      --seq-len 2048 --batch-size 8 --threads 1 --minutes 50 &
  wait
  python models/training/equal_compute.py --megabyte models/training/runs/ec-mb \
      --plain models/training/runs/ec-plain --heldout .cache/corpus --max-bytes 300000 --out test/bench

Writes equal-compute-<date>.json and .md under --out; prints the JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval import file_bits, heldout_files  # noqa: E402
from megabyte.checkpoint import load_checkpoint  # noqa: E402


def run_facts(run: Path) -> dict:
    st = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()]
    curve = [{"sec": r["sec"], "bytes": r["bytes"], "heldout_bpb": r["heldout_bpb"]} for r in log if "heldout_bpb" in r]
    return {"preset": st["preset"], "parameters": sum(p.numel() for p in st["model"].values()),
            "steps": st["step"], "bytes_seen": st["seen_bytes"], "train_seconds": round(st["train_seconds"], 1),
            "seq_len": st["seq_len"], "fim_rate": st["fim_rate"], "lr": st.get("lr"), "curve": curve}


def bpb(model, files: list[tuple[str, bytes]], context: int) -> tuple[float, float]:
    t0 = time.time()
    bits = sum(float(file_bits(model, data, context).sum()) for _, data in files)
    return round(bits / sum(len(d) for _, d in files), 4), round(time.time() - t0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--megabyte", required=True, help="train.py --out dir of the MEGABYTE run")
    ap.add_argument("--plain", required=True, help="train.py --out dir of the plain run")
    ap.add_argument("--heldout", default=".cache/corpus")
    ap.add_argument("--max-bytes", type=int, default=300_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="test/bench")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    mb_run, plain_run = Path(args.megabyte), Path(args.plain)
    facts = {"megabyte": run_facts(mb_run), "plain": run_facts(plain_run)}
    window = facts["plain"]["seq_len"]
    files = heldout_files(Path(args.heldout), args.max_bytes)
    mb, _ = load_checkpoint(mb_run / "checkpoint.pt")
    plain, _ = load_checkpoint(plain_run / "checkpoint.pt")
    with torch.no_grad():
        mb_full, t1 = bpb(mb, files, 0)
        mb_window, t2 = bpb(mb, files, window)
        plain_window, t3 = bpb(plain, files, window)
    res = {
        "date": time.strftime("%Y-%m-%d"), "heldout_files": len(files), "heldout_bytes": sum(len(d) for _, d in files),
        "window": window, "training": facts,
        "bpb": {"megabyte_full_context": mb_full, f"megabyte_context_{window}": mb_window, f"plain_context_{window}": plain_window},
        "eval_seconds": {"megabyte_full_context": t1, f"megabyte_context_{window}": t2, f"plain_context_{window}": t3},
        "megabyte_better_by_bpb": round(plain_window - min(mb_full, mb_window), 4),
        "command": "python models/training/equal_compute.py " + " ".join(sys.argv[1:]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"equal-compute-{res['date']}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    m, p = facts["megabyte"], facts["plain"]
    row = lambda f: f"| {f['preset']} | {f['parameters']:,} | {f['steps']:,} | {f['bytes_seen'] / 1e6:.1f} MB | {f['train_seconds'] / 60:.1f} min | {f['seq_len']:,} |"  # noqa: E731
    md = [f"# Equal training compute: MEGABYTE vs a plain byte transformer ({res['date']})", "",
          __doc__.split("\n\n")[1].replace("\n", " "), "",
          "| model | parameters | steps | bytes seen | training time | window |", "|---|---|---|---|---|---|", row(m), row(p), "",
          f"Held-out: {res['heldout_files']} whole files, {res['heldout_bytes']:,} bytes (eval.py heldout_files, --max-bytes {args.max_bytes}).", "",
          "| model | context | bits per byte |", "|---|---|---|",
          f"| {m['preset']} | whole file | {mb_full} |", f"| {m['preset']} | {window} bytes | {mb_window} |",
          f"| {p['preset']} | {window} bytes | {plain_window} |", "",
          "Held-out bits per byte during training (train.py's fixed sample of 8 windows of each run's own length):", "",
          "| run | minutes | bytes seen | held-out bpb |", "|---|---|---|---|",
          *[f"| {f['preset']} | {c['sec'] / 60:.1f} | {c['bytes'] / 1e6:.1f} MB | {c['heldout_bpb']} |" for f in (m, p) for c in f["curve"]],
          "", f"Command: `{res['command']}`", ""]
    stem.with_suffix(".md").write_text("\n".join(md))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
