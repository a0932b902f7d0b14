#!/usr/bin/env bash
# Train a model on a lent GPU machine (PyTorch there, no Node, nothing reachable) in one device call.
#
# Here, first:  node scripts/python.mjs models/training/pack_corpus.py     (-> .gpu/corpus.tar.xz, ~40 MB)
#               move models/training/checkpoints (plain-small.pt, 22 MB) out of the tree (what travels
#               is capped at 64 MB; the tracked tree is ~21 MB without it)
# Device call:  carry [".gpu/corpus.tar.xz"], command `bash scripts/gpu-train.sh`, timeout_s ~600
#               (env: PRESET=mb-small MINUTES=7 SEQ=65536 BATCH=16 LR=2e-3 RECIPE=baseline|modern)
# Back here:    cat <files_at>/weights.pt.part-* > models/training/runs/gpu/checkpoint.pt, then the
#               usual eval / export / fixture steps of models/training/README.md.
# Returns (in $OUT): train.log, eval.json, weights.pt.part-* (weights only, 15 MB pieces: a file
# that comes back is at most 16 MiB, eight files at most).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(command -v python3 || command -v python)
OUT=${OUT:-/tmp/mb-gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$OUT/train.log" || true
work=$(mktemp -d /tmp/mb-train.XXXXXX)
tar -xJf .gpu/corpus.tar.xz -C "$work"
device=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1
"$python" models/training/train.py --preset "${PRESET:-mb-small}" --corpus "$work/corpus" --out "$work/run" \
  --device "$device" --seq-len "${SEQ:-65536}" --batch-size "${BATCH:-16}" --lr "${LR:-2e-3}" --warmup "${WARMUP:-200}" \
  --minutes "${MINUTES:-7}" --threads "${THREADS:-8}" --eval-every 200 --ckpt-every 500 --seed 0 \
  --fim-rate 0.5 --fim pack --middle-weight "${MIDDLE_WEIGHT:-4}" --recipe "${RECIPE:-baseline}" 2>&1 | tee -a "$OUT/train.log"
"$python" - "$work/run/checkpoint.pt" "$work/weights.pt" <<'PY'
import sys, torch
st = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
for k in ("opt", "opts", "raw_model"):  # weights only: "model" is what eval and export read (the EMA with --ema)
    st.pop(k, None)
torch.save(st, sys.argv[2])
PY
split -b 15000000 -d "$work/weights.pt" "$OUT/weights.pt.part-"
"$python" models/training/eval.py --checkpoint "$work/weights.pt" --heldout "$work/corpus" --max-bytes 300000 \
  --fim-spans 40 --threads "${THREADS:-8}" --json "$OUT/eval.json" 2>&1 | tail -1 | tee -a "$OUT/train.log"
ls -la "$OUT"
