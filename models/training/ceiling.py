"""The PyTorch ceiling for the engine's encode figure: one exact forward pass of a checkpoint's
model over N bytes (every level, all positions at once, no cache), timed on one device.

  python models/training/ceiling.py --checkpoint models/mb-small \
      --bytes 1000000 --device cuda --dtype bf16

The benchmark's GPU profile (`npm run bench -- --gpu --ep webgpu`) runs it next to the engine's
encode of the same bytes (`--file`), or reads its JSON line (`--ceiling FILE`, see
scripts/gpu-bench.sh): the engine issue's target is the engine within 3x of this. Without
`--file` the bytes are the benchmark's own fallback text (the repository's sources, repeated).
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from megabyte.symbols import BOS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def sample_bytes(n: int) -> bytes:
    """The bytes the benchmark encodes where the corpus is absent (src/bench/sample.ts loadSource
    and prefixText: keep in step): the repository's sources, repeated, cut to a whole character."""
    files: list[Path] = []

    def walk(d: Path) -> None:
        for p in sorted(d.iterdir(), key=lambda p: p.name):
            if p.is_dir():
                walk(p)
            elif p.suffix in (".ts", ".py", ".mjs"):
                files.append(p)

    for d in ("src", "test", "scripts", "models/training"):
        if (ROOT / d).exists():
            walk(ROOT / d)
    one = b"".join(p.read_bytes() for p in files)
    data = one * (n // max(1, len(one)) + 1)
    end = min(n, len(data))
    while 0 < end < len(data) and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--bytes", type=int, default=1_000_000)
    ap.add_argument("--file", help="the bytes to run over (the benchmark passes what the engine encoded)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from megabyte.checkpoint import load_checkpoint
    device = torch.device(args.device)
    model, _ = load_checkpoint(args.checkpoint)
    model = model.to(device).eval()
    U = model.cfg.top_unit
    data = Path(args.file).read_bytes() if args.file else sample_bytes(args.bytes)
    stream = [BOS] + list(data)
    stream += [0] * (-len(stream) % U)  # whole top patches (padding after the end changes nothing before it)
    x = torch.tensor(stream, dtype=torch.long, device=device)[None]
    amp = args.dtype == "bf16"
    times = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for i in range(args.repeats + 1):  # the first run warms up (kernels, allocator)
            sync(device)
            t0 = time.perf_counter()
            model(x)
            sync(device)
            if i:
                times.append(time.perf_counter() - t0)
    print(json.dumps({
        "measure": "ceiling", "framework": f"pytorch {torch.__version__}", "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": args.dtype, "bytes": len(data), "positions_top": len(stream) // U,
        "ms": round(1000 * statistics.median(times), 1), "runs_ms": [round(1000 * t, 1) for t in times],
        "parameters": model.num_params()["total"],
    }))


if __name__ == "__main__":
    main()
