#!/usr/bin/env bash
# The benchmark's GPU profile on a lent machine with an NVIDIA GPU, PyTorch and no Node.
#
#   bash scripts/gpu-bench.sh ceiling   PyTorch bf16, one forward pass of models/mb-small's checkpoint
#                                       over the benchmark's 1 MB (-> .gpu/ceiling.json, and $OUT)
#   bash scripts/gpu-bench.sh [flags]   the engine's figures on WebGPU (default flags: --gpu --ep webgpu
#                                       --torch-device cuda), with .gpu/ceiling.json when present
#
# Two device calls, because what travels is capped at 64 MB: the tracked tree is ~41 MB with the
# checkpoints and the bundle of Node + onnxruntime-node (node scripts/pack-gpu.mjs, here) is ~37 MB.
#   1. run `bash scripts/gpu-bench.sh ceiling` (nothing carried); put the ceiling.json it returns
#      into .gpu/ here;
#   2. move models/training/checkpoints out of the tree (the baseline is then random-weighted:
#      timings only, which is all this profile measures), carry [".gpu"], run
#      `bash scripts/gpu-bench.sh`; move the checkpoints back.
# Writes test/bench/results-<date>-gpu-<ep>.{md,json,png}, and copies them to $OUT when set.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(command -v python3 || command -v python)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
mkdir -p .gpu
if [ "${1:-}" = ceiling ]; then
  "$python" models/training/ceiling.py --checkpoint models/mb-small \
    --bytes 1048576 --device "${TORCH_DEVICE:-cuda}" --dtype bf16 | tee .gpu/ceiling.json
  [ -n "${OUT:-}" ] && cp .gpu/ceiling.json "$OUT"/
  exit 0
fi
bundle=.gpu/bundle.tar.xz
[ -f "$bundle" ] || { echo "gpu-bench: $bundle is missing (node scripts/pack-gpu.mjs)" >&2; exit 1; }
dir=$(mktemp -d /tmp/mb-gpu.XXXXXX)
tar -xJf "$bundle" -C "$dir"
# Where the checkout has no dist/ or node_modules/ (a GPU machine gets the tracked files only),
# the bundle's stand in; a developer's own are left as they are.
[ -e dist ] || ln -s "$dir/dist" dist
[ -e node_modules ] || ln -s "$dir/node_modules" node_modules
export PATH="$dir/bin:$PATH" LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--gpu --ep webgpu --torch-device cuda)
[ -f .gpu/ceiling.json ] && args+=(--ceiling .gpu/ceiling.json)
node dist/bench/bench.js "${args[@]}" --python "$python" | tee .gpu/bench.jsonl
if [ -n "${OUT:-}" ]; then
  newest=$(ls -t test/bench/results-*.json | head -1)
  cp "${newest%.json}".* .gpu/bench.jsonl "$OUT"/
fi
