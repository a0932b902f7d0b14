"""A smaller copy of the corpus, for a machine that cannot fetch it (the lent GPU machine: nothing
outside it can be reached, and what travels there is capped at 64 MB with the working tree).

  python models/training/pack_corpus.py --corpus .cache/corpus --train-mb 170 --out .gpu/corpus.tar.xz

Every training package keeps files (in corpus order, whole) up to one shared cap per package, the
largest cap that keeps the total within --train-mb ("water-filling"), so small packages stay
whole and only the big trees (Go, Rust, the stdlib) are cut; data.py's sampling weights cap
packages the same way. The held-out split is copied whole, so evaluation figures stay comparable.
The corpus list gets each package's kept files and bytes (`packed_files`, `packed_bytes`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path


def water_fill(sizes: dict[str, int], budget: int) -> int:
    """The largest per-package cap c with sum(min(size, c)) <= budget."""
    lo, hi = 0, max(sizes.values(), default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(s, mid) for s in sizes.values()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def pack(corpus: Path, out_dir: Path, train_bytes: int) -> dict:
    idx = json.loads((corpus / "train.idx").read_text())
    raw = (corpus / "train.bin").read_bytes()
    sizes: dict[str, int] = {}
    for rec in idx:
        sizes[rec["package"]] = sizes.get(rec["package"], 0) + rec["length"] + 1
    cap = water_fill(sizes, train_bytes)
    kept: dict[str, int] = {}
    files: dict[str, int] = {}
    parts, new_idx, off = [], [], 0
    for rec in idx:
        n = rec["length"] + 1
        if kept.get(rec["package"], 0) + n > cap:
            continue
        kept[rec["package"]] = kept.get(rec["package"], 0) + n
        files[rec["package"]] = files.get(rec["package"], 0) + 1
        parts.append(raw[rec["offset"] - 1:rec["offset"] + rec["length"]])  # the BOS marker too
        new_idx.append({**rec, "offset": off + 1})
        off += n
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "train.bin").write_bytes(b"".join(parts))
    (out_dir / "train.idx").write_text(json.dumps(new_idx))
    for name in ("heldout.bin", "heldout.idx"):
        (out_dir / name).write_bytes((corpus / name).read_bytes())
    listing = json.loads((corpus / "corpus.json").read_text())
    for entry in listing:
        if entry["package"] in kept:
            entry["packed_files"], entry["packed_bytes"] = files[entry["package"]], kept[entry["package"]]
    (out_dir / "corpus.json").write_text(json.dumps(listing, indent=1))
    return {"train_bytes": off, "cap_per_package": cap, "packages": len(kept), "files": len(new_idx)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=".cache/corpus")
    ap.add_argument("--train-mb", type=float, default=170)
    ap.add_argument("--out", default=".gpu/corpus.tar.xz")
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        res = pack(Path(args.corpus), Path(td) / "corpus", int(args.train_mb * 1e6))
        subprocess.run(["tar", "-cf", str(out.resolve()), "-I", "xz -9 -T2", "-C", td, "corpus"], check=True)
    res["archive_bytes"] = out.stat().st_size
    print(json.dumps(res))


if __name__ == "__main__":
    main()
