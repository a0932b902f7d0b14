"""Train a MEGABYTE (or, with a plain-* preset, the plain byte-level baseline).

  python models/training/train.py --preset mb-small --corpus .cache/corpus --out runs/mb-small \
      --minutes 80

AdamW, linear warmup then cosine decay, gradient clipping, bf16 autocast (CPU and CUDA),
checkpoints every --ckpt-every steps and at the end, --resume, a bits-per-byte log (JSON lines).
Runs unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel; gloo on CPU,
nccl on CUDA): each rank draws its own batches from its own seed. With --minutes, rank 0's clock
drives the schedule and the stop of every rank (broadcast each step), so the replicas apply the
same learning rates and stop at the same step.

--recipe modern (each part can be overridden by its own flag): Muon for the 2-D hidden matrices
(--optimizer muon, --muon-lr), AdamW for the rest; QK-norm; ReLU^2 MLP; zero-initialised output
projections; hashed byte-bigram input embeddings (--ngram 2); warmdown (--schedule warmdown:
constant after warmup, then linear to 0 over the last --warmdown of the run); weight EMA
(--ema DECAY: the checkpoint's "model" is the average, used by eval.py and export.py; the raw
weights are kept for --resume).

The data stream is a function of (seed, rank, step): step k of rank r draws its batch from
numpy's generator seeded with (seed, r, k), so a resumed run reads the same windows as an
uninterrupted one. A checkpoint holds the weights, the EMA, the optimisers' state, the step and
the clock (the schedule's position), so `--resume` with the same flags continues exactly.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
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
from megabyte.model import Megabyte, ModelConfig, PRESETS, MLPS, add_ngram, grow  # noqa: E402
from megabyte.data import Corpus, batch  # noqa: E402
from megabyte.optim import Muon, muon_params  # noqa: E402
from megabyte.checkpoint import SEGMENT_KEYS, load_weights  # noqa: E402

# The two recipes --recipe picks from; a flag given on the command line overrides its part.
RECIPES = {
    "baseline": {"optimizer": "adamw", "qk_norm": False, "mlp": "gelu", "zero_init": False, "ngram": "",
                 "schedule": "cosine", "ema": 0.0},
    "modern": {"optimizer": "muon", "qk_norm": True, "mlp": "relu2", "zero_init": True, "ngram": "2",
               "schedule": "warmdown", "ema": 0.995},
}
# Flags that must be the same when a run is resumed (they shape the schedule, the data or the optimiser).
RESUME_KEYS = ("optimizer", "schedule", "warmdown", "ema", "lr", "muon_lr", "warmup", "minutes", "steps",
               "seq_len", "batch_size", "fim_rate", "fim", "middle_weight", "seed", "weight_decay")


def bf16_is_fast(device: torch.device) -> bool:
    if device.type == "cuda":
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def lr_at(step: int, total: int, warmup: int, peak: float, progress: float | None = None,
          schedule: str = "cosine", warmdown: float = 0.4) -> float:
    """Linear warmup, then cosine decay to 10% of peak (schedule "cosine"), or constant and a
    linear decay to 0 over the last `warmdown` of the run ("warmdown"). `progress` (0..1), when
    given, replaces step/total: with a time budget the schedule follows the clock, so a
    slowed-down machine still ends its run at the low learning rate."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, progress if progress is not None else (step - warmup) / max(1, total - warmup))
    if schedule == "warmdown":
        return peak * min(1.0, (1.0 - t) / warmdown)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, in state-dict order (replicas of a DDP run must agree)."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()


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
    ap.add_argument("--lr", type=float, default=2e-3, help="AdamW's peak learning rate")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--steps", type=int, default=0, help="total steps (0: derive from --minutes)")
    ap.add_argument("--minutes", type=float, default=0,
                    help="training-time budget, earlier segments of a resumed run included; the schedule follows it")
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--fim", choices=["pack", "one"], default="pack",
                    help="pack: every file of a FIM window is an example; one: one file per window "
                         "(the first three segments of mb-small)")
    ap.add_argument("--middle-weight", type=float, default=1.0,
                    help="loss weight of the middles and their EOM in FIM windows (pack), 1 elsewhere")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="baseline",
                    help="baseline: the recipe mb-small was trained with; modern: see above")
    ap.add_argument("--optimizer", choices=["adamw", "muon"], default=None,
                    help="muon: Muon for the 2-D hidden matrices, AdamW (--lr) for the rest")
    ap.add_argument("--muon-lr", type=float, default=0.02)
    ap.add_argument("--muon-momentum", type=float, default=0.95)
    ap.add_argument("--schedule", choices=["cosine", "warmdown"], default=None)
    ap.add_argument("--warmdown", type=float, default=0.4, help="fraction of the run the warmdown decays over")
    ap.add_argument("--ema", type=float, default=None, help="weight EMA decay (0: off)")
    ap.add_argument("--qk-norm", type=int, choices=[0, 1], default=None)
    ap.add_argument("--mlp", choices=MLPS, default=None)
    ap.add_argument("--zero-init", type=int, choices=[0, 1], default=None)
    ap.add_argument("--ngram", default=None, help="hashed n-gram input embeddings: orders, e.g. 2 or 2,3 ('' none)")
    ap.add_argument("--ngram-buckets", type=int, default=8191)
    ap.add_argument("--stop-after", type=int, default=0,
                    help="end this invocation at this step (checkpointed), the schedule unchanged: --resume continues")
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--amp", choices=["auto", "on", "off"], default="auto",
                    help="bf16 autocast; auto: on for CUDA and for CPUs with AMX/AVX512-BF16 "
                         "(elsewhere bf16 is emulated and no faster than fp32)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", help="start from these weights with a fresh optimizer: a model directory "
                                        "(e.g. models/mb-small: its ONNX graphs and manifest) or a checkpoint")
    ap.add_argument("--grow", default=None, metavar="LEVEL:LAYERS",
                    help="with --init-from: append LAYERS blocks to level LEVEL, their output projections zero "
                         "(the grown model starts as the old one: megabyte.model.grow)")
    ap.add_argument("--add-ngram", default=None, metavar="ORDERS",
                    help="with --init-from: add hashed n-gram input embeddings of these orders (e.g. 2,3) beside the "
                         "model's own, all zero (the model starts as the old one: megabyte.model.add_ngram)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    for k, v in RECIPES[args.recipe].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if not 0.0 <= args.ema < 1.0:
        ap.error("--ema is a decay in [0, 1)")
    if not 0.0 < args.warmdown <= 1.0:
        ap.error("--warmdown is a fraction in (0, 1]")
    try:
        ngram = [int(n) for n in args.ngram.split(",") if n.strip()]
    except ValueError:
        ap.error(f"--ngram: a comma-separated list of orders, got {args.ngram!r}")

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
    ckpt = out / "checkpoint.pt"
    resume = torch.load(ckpt, map_location=device, weights_only=False) if args.resume and ckpt.exists() else None
    run_args = {k: getattr(args, k) for k in RESUME_KEYS}
    if resume is not None:
        cfg = ModelConfig.from_dict(resume["config"])
        was = resume.get("run_args")
        if was is not None:
            # A warmdown run still in its constant phase may take another --minutes: the same as having
            # planned that budget from the start (the decay has not begun under either).
            constant = (args.schedule == "warmdown" and args.minutes and was.get("minutes")
                        and resume["train_seconds"] <= (1 - args.warmdown) * 60 * min(args.minutes, was["minutes"]))
            diff = {k: (was.get(k), v) for k, v in run_args.items() if was.get(k) != v
                    and not (k == "steps" and v) and not (k == "minutes" and constant)}
            if diff:
                raise SystemExit(f"--resume with other settings than {ckpt} was made with "
                                 f"(flag: (then, now)): {diff}; resume with the same flags")
    else:
        cfg = dataclasses.replace(copy.deepcopy(PRESETS[args.preset]), qk_norm=bool(args.qk_norm), mlp=args.mlp,
                                  zero_init=bool(args.zero_init), ngram_orders=ngram, ngram_buckets=args.ngram_buckets)
    init = None
    if resume is None and args.init_from:
        # The architecture is the starting weights' own (a model directory's manifest or a checkpoint's
        # config), grown by --grow: --preset only names the run.
        state, st = load_weights(args.init_from, device)
        cfg = ModelConfig.from_dict(st["config"]) if "config" in st else cfg
        if args.grow:
            try:
                lvl, n = (int(a) for a in args.grow.split(":"))
            except ValueError:
                ap.error(f"--grow: LEVEL:LAYERS, got {args.grow!r}")
            cfg, state = grow(cfg, {k: v.cpu() for k, v in state.items()}, lvl, n)
        if args.add_ngram:
            try:
                orders = [int(n) for n in args.add_ngram.split(",") if n.strip()]
            except ValueError:
                ap.error(f"--add-ngram: a comma-separated list of orders, got {args.add_ngram!r}")
            cfg, state = add_ngram(cfg, {k: v.cpu() for k, v in state.items()}, orders)
        init = (state, st)
    elif args.grow or args.add_ngram:
        ap.error("--grow and --add-ngram need --init-from")
    model = Megabyte(cfg).to(device)
    seq_len = args.seq_len - args.seq_len % cfg.top_unit
    if args.optimizer == "muon":
        mp, adam_params = muon_params(model)
    else:
        mp, adam_params = [], list(model.parameters())
    ids = {id(p) for p in adam_params}
    named = [(n, p) for n, p in model.named_parameters() if id(p) in ids]
    decay = [p for n, p in named if p.dim() >= 2 and "embed" not in n and "ngram" not in n]
    no_decay = [p for n, p in named if not (p.dim() >= 2 and "embed" not in n and "ngram" not in n)]
    opts = [torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                               {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))]
    peaks = [args.lr]
    if mp:
        opts.append(Muon(mp, lr=args.muon_lr, momentum=args.muon_momentum))
        peaks.append(args.muon_lr)
    ema = copy.deepcopy(model).eval() if args.ema else None
    step, seen_bytes, train_seconds = 0, 0, 0.0
    total = args.steps or 10 ** 9
    history: list[dict] = []  # earlier training segments behind the starting weights
    if resume is not None:
        st = resume
        model.load_state_dict(st.get("raw_model", st["model"]))
        if ema is not None:
            ema.load_state_dict(st["model"])
        for o, sd in zip(opts, st["opts"] if "opts" in st else [st["opt"]]):
            o.load_state_dict(sd)
        step, seen_bytes, train_seconds = st["step"], st["seen_bytes"], st["train_seconds"]
        total = args.steps or st["total"]  # an explicit --steps extends (or cuts) the schedule
        history = st.get("history", [])
    elif init is not None:
        state, st = init
        model.load_state_dict(state)
        if ema is not None:
            ema.load_state_dict(state)
        seen_bytes = st.get("seen_bytes", 0)  # the bytes behind these weights keep counting
        # The segments behind these weights, for the manifest (export.py).
        history = list(st.get("history", []))
        if "step" in st:
            history.append({"steps": st["step"], "seconds": round(st.get("train_seconds", 0.0), 1), "bytes": seen_bytes,
                            **{k: st[k] for k in SEGMENT_KEYS if st.get(k) is not None}})
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model
    amp = args.amp == "on" or (args.amp == "auto" and bf16_is_fast(device))
    train = Corpus(args.corpus, "train")
    held = Corpus(args.corpus, "heldout")
    hrng = np.random.default_rng(12345)
    held_windows = torch.from_numpy(batch(held, hrng, 8, seq_len, 0.0))
    log = open(out / "log.jsonl", "a") if rank == 0 else None
    if rank == 0:
        print(json.dumps({"preset": args.preset, "params": model.num_params(), "seq_len": seq_len,
                          "total_steps": total, "world": world, "recipe": cfg.recipe(),
                          **{k: getattr(args, k) for k in ("optimizer", "schedule", "ema")}}), flush=True)
    budget = args.minutes * 60
    timed = bool(args.minutes and not args.steps)
    if timed:
        total = 10 ** 9  # the clock ends the run
    t_start = time.time()
    deadline = t_start + max(0.0, budget - train_seconds) if args.minutes else float("inf")
    stop = False

    def save():
        evaluated = ema if ema is not None else model
        torch.save({"model": evaluated.state_dict(), "raw_model": model.state_dict(),
                    "opts": [o.state_dict() for o in opts], "step": step,
                    "seen_bytes": seen_bytes, "train_seconds": train_seconds, "total": total,
                    "config": cfg.to_dict(), "preset": args.preset, "seq_len": seq_len,
                    "fim_rate": args.fim_rate, "fim": args.fim, "middle_weight": args.middle_weight,
                    "history": history, "lr": args.lr, "seed": args.seed, "init_from": args.init_from,
                    "optimizer": args.optimizer, "muon_lr": args.muon_lr if mp else None,
                    "schedule": args.schedule, "ema": args.ema or None, "grow": args.grow,
                    "add_ngram": args.add_ngram,
                    "run_args": run_args}, ckpt.with_suffix(".tmp"))
        os.replace(ckpt.with_suffix(".tmp"), ckpt)  # a run killed while saving keeps the last checkpoint

    while step < total and not stop:
        t0 = time.time()
        factor = lr_at(step, total, args.warmup, 1.0, progress=min(1.0, train_seconds / budget) if timed else None,
                       schedule=args.schedule, warmdown=args.warmdown)
        for o, peak in zip(opts, peaks):
            for g in o.param_groups:
                g["lr"] = peak * factor
        rng = np.random.default_rng((args.seed, rank, step))
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
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for o in opts:
            o.step()
        step += 1
        if ema is not None:
            d = min(args.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(p, 1 - d)
        seen_bytes += x.numel() * world
        dt = time.time() - t0
        train_seconds += dt  # (the clock, data included, drives a --minutes schedule)
        stop = time.time() > deadline or step == args.stop_after
        if ddp and args.minutes:
            # Rank 0's clock decides for every rank: the same progress (learning rates) and the same last step.
            shared = torch.tensor([train_seconds, float(stop)], dtype=torch.float64,
                                  device=device if device.type == "cuda" else "cpu")
            dist.broadcast(shared, 0)
            train_seconds, stop = float(shared[0]), bool(shared[1])
        if rank == 0 and (step % 10 == 0 or step == total or stop):
            rec = {"step": step, "loss": round(plain.item(), 4), "bpb": round(plain.item() / math.log(2), 4),
                   "lr": round(opts[0].param_groups[0]["lr"], 6), "gnorm": round(float(gnorm), 3),
                   "bytes": seen_bytes, "sec": round(train_seconds, 1), "bytes_per_s": round(x.numel() * world / dt)}
            if step % args.eval_every == 0 or step == total or stop:
                rec["heldout_bpb"] = round(heldout_bpb(ema if ema is not None else model, held_windows, device, amp), 4)
                if ema is not None:
                    rec["heldout_bpb_raw"] = round(heldout_bpb(model, held_windows, device, amp), 4)
            if stop:
                rec["final"] = True
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if rank == 0 and (step % args.ckpt_every == 0 or step == total or stop):
            save()
    result = {"step": step, "seen_bytes": seen_bytes, "train_seconds": round(train_seconds, 1),
              "weights_sha256": weights_digest(model)}
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    return result


if __name__ == "__main__":
    print(json.dumps(main()))
