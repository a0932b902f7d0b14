"""Train a MEGABYTE (or, with a plain-* preset, the plain byte-level baseline).

  python models/training/train.py --preset mb-small --corpus .cache/corpus --out runs/mb-small \
      --minutes 80

AdamW, linear warmup then cosine decay, gradient clipping, bf16 autocast (CPU and CUDA),
checkpoints every --ckpt-every steps and at the end, --resume, a bits-per-byte log (JSON lines).
Runs unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel; gloo on CPU,
nccl on CUDA): each rank draws its own batches from its own seed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from megabyte.model import Megabyte, ModelConfig, PRESETS  # noqa: E402
from megabyte.data import Corpus, batch  # noqa: E402

# What a checkpoint records of its training segment besides steps, seconds and bytes; export.py
# writes the same keys into the manifest's training.segments.
SEGMENT_KEYS = ("lr", "seed", "init_from", "fim", "middle_weight")


def bf16_is_fast(device: torch.device) -> bool:
    if device.type == "cuda":
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def lr_at(step: int, total: int, warmup: int, peak: float, progress: float | None = None) -> float:
    """Linear warmup, then cosine decay to 10% of peak. `progress` (0..1), when given, replaces
    step/total: with a time budget the schedule follows the clock, so a slowed-down machine
    still ends its run at the low learning rate."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, progress if progress is not None else (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def heldout_bpb(model, windows: torch.Tensor, device, amp) -> float:
    model.eval()
    bits, n = 0.0, 0
    for w in windows.split(2):
        w = w.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(w)
        nll = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                w.reshape(-1), reduction="sum")
        bits += nll.item() / math.log(2)
        n += w.numel()
    model.train()
    return bits / n


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="mb-small", choices=sorted(PRESETS))
    ap.add_argument("--corpus", default=".cache/corpus")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seq-len", type=int, default=8192)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--steps", type=int, default=0, help="total steps (0: derive from --minutes)")
    ap.add_argument("--minutes", type=float, default=0,
                    help="training-time budget, earlier segments of a resumed run included; the cosine follows it")
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--fim", choices=["pack", "one"], default="pack",
                    help="pack: every file of a FIM window is an example; one: one file per window "
                         "(the first three segments of mb-small)")
    ap.add_argument("--middle-weight", type=float, default=1.0,
                    help="loss weight of the middles and their EOM in FIM windows (pack), 1 elsewhere")
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--amp", choices=["auto", "on", "off"], default="auto",
                    help="bf16 autocast; auto: on for CUDA and for CPUs with AMX/AVX512-BF16 "
                         "(elsewhere bf16 is emulated and no faster than fp32)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", help="start from these weights (a checkpoint or a weights-only file, "
                                        "e.g. models/training/checkpoints/mb-small.pt) with a fresh optimizer")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)

    ddp = "RANK" in os.environ
    rank, world = 0, 1
    device = torch.device(args.device)
    if ddp:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = PRESETS[args.preset]
    model = Megabyte(cfg).to(device)
    seq_len = args.seq_len - args.seq_len % cfg.top_unit
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    step, seen_bytes, train_seconds = 0, 0, 0.0
    total = args.steps or 10 ** 9
    ckpt = out / "checkpoint.pt"
    history: list[dict] = []  # earlier training segments behind the starting weights
    if args.resume and ckpt.exists():
        st = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, seen_bytes, train_seconds = st["step"], st["seen_bytes"], st["train_seconds"]
        total = args.steps or st["total"]  # an explicit --steps extends (or cuts) the schedule
        history = st.get("history", [])
    elif args.init_from:
        st = torch.load(args.init_from, map_location=device, weights_only=False)
        model.load_state_dict(st["model"])
        seen_bytes = st.get("seen_bytes", 0)  # the bytes behind these weights keep counting
        # The segments behind these weights, for the manifest (export.py).
        history = list(st.get("history", []))
        if "step" in st:
            history.append({"steps": st["step"], "seconds": round(st.get("train_seconds", 0.0), 1), "bytes": seen_bytes,
                            **{k: st[k] for k in SEGMENT_KEYS if st.get(k) is not None}})
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model
    amp = args.amp == "on" or (args.amp == "auto" and bf16_is_fast(device))
    rng = np.random.default_rng(args.seed * 1000 + rank + step)
    train = Corpus(args.corpus, "train")
    held = Corpus(args.corpus, "heldout")
    hrng = np.random.default_rng(12345)
    held_windows = torch.from_numpy(batch(held, hrng, 8, seq_len, 0.0))
    log = open(out / "log.jsonl", "a") if rank == 0 else None
    if rank == 0:
        print(json.dumps({"preset": args.preset, "params": model.num_params(), "seq_len": seq_len,
                          "total_steps": total, "world": world}), flush=True)
    t_start = time.time()
    budget = args.minutes * 60
    deadline = t_start + max(0.0, budget - train_seconds) if args.minutes else float("inf")
    if args.minutes and not args.steps:
        total = 10 ** 9  # the clock ends the run
    while step < total:
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, args.warmup, args.lr,
                            progress=min(1.0, train_seconds / budget) if args.minutes and not args.steps else None)
        x, wts = batch(train, rng, args.batch_size, seq_len, args.fim_rate, args.fim, args.middle_weight, weights=True)
        x = torch.from_numpy(x).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            nll = torch.nn.functional.cross_entropy(net(x).float().reshape(-1, cfg.vocab_size), x.reshape(-1),
                                                    reduction="none")
            plain = nll.mean()
            if args.middle_weight == 1.0:
                loss = plain
            else:
                wt = torch.from_numpy(wts).to(device).reshape(-1)
                loss = (nll * wt).sum() / wt.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen_bytes += x.numel() * world
        dt = time.time() - t0
        train_seconds += time.time() - t0  # (the clock, data included, drives a --minutes schedule)
        if rank == 0 and (step % 10 == 0 or step == total):
            rec = {"step": step, "loss": round(plain.item(), 4), "bpb": round(plain.item() / math.log(2), 4),
                   "lr": round(opt.param_groups[0]["lr"], 6), "gnorm": round(float(gnorm), 3),
                   "bytes": seen_bytes, "sec": round(train_seconds, 1), "bytes_per_s": round(x.numel() * world / dt)}
            if step % args.eval_every == 0 or step == total:
                rec["heldout_bpb"] = round(heldout_bpb(model, held_windows, device, amp), 4)
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if rank == 0 and (step % args.ckpt_every == 0 or step == total or time.time() > deadline):
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "seen_bytes": seen_bytes, "train_seconds": train_seconds, "total": total,
                        "config": cfg.to_dict(), "preset": args.preset, "seq_len": seq_len,
                        "fim_rate": args.fim_rate, "fim": args.fim, "middle_weight": args.middle_weight, "history": history, "lr": args.lr, "seed": args.seed,
                        "init_from": args.init_from}, ckpt)
        if time.time() > deadline:
            if rank == 0:
                rec = {"step": step, "heldout_bpb": round(heldout_bpb(model, held_windows, device, amp), 4),
                       "bytes": seen_bytes, "sec": round(train_seconds, 1), "final": True}
                print(json.dumps(rec), flush=True)
                log.write(json.dumps(rec) + "\n")
                log.flush()
            break
    result = {"step": step, "seen_bytes": seen_bytes, "train_seconds": round(train_seconds, 1)}
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    return result


if __name__ == "__main__":
    print(json.dumps(main()))
