#!/usr/bin/env bash
# Ships a checkpoint as the bundled network (models/mb-small), with everything fitted to it:
#   bash models/training/ship.sh CHECKPOINT [CORPUS]      (~40 min on 2 cores)
# 1. gate: the network alone on the 1.29 MB held-out sample must beat the bundled one, else stop
#    with models/mb-small untouched;
# 2. export the graphs (the manifest keeps its records and gains the segment), re-fit the match
#    model's weights and the context-mixing layer's, measure (network + match, infilling, the
#    layer), write the parity fixture;
# 3. re-fit the three confidence calibrations (one per generation rule) and measure them.
# Figures go to .cache/ship/*.json; the manifest's evaluation is the 300 KB sample's (as before).
#   bash models/training/ship.sh --refit CHECKPOINT [CORPUS]
# re-fits and re-measures what is fitted to the bundled network (step 2 without the export, and 3)
# after a change of the mixing code (match model, context-mixing layer): CHECKPOINT is the bundled
# network's own (models/mb-small works); no gate, the graphs and the segment records untouched.
set -euo pipefail
cd "$(dirname "$0")/../.."
REFIT=0
if [ "${1:-}" = --refit ]; then REFIT=1; shift; fi
CK=${1:?usage: ship.sh [--refit] CHECKPOINT [CORPUS]}
CORPUS=${2:-.cache/corpus-v2}
OUT=.cache/ship
mkdir -p "$OUT"
py() { node scripts/python.mjs "$@"; }
step() { echo "=== $(date -u +%H:%M:%S) $*"; }
node scripts/build.mjs --quiet  # eval.py --cm scores through the built engine (dist/)

if [ "$REFIT" = 0 ]; then
step "gate: network alone on the 1.29 MB held-out sample, bundled vs $CK"
# (the bundled network's figure is kept while its weights are unchanged)
SUM=$(cat models/mb-small/*.onnx | sha256sum | cut -c1-16)
[ -s "$OUT/before-1mb-$SUM.json" ] || py models/training/eval.py --checkpoint models/mb-small --heldout "$CORPUS" \
  --max-bytes 1000000 --match models/mb-small/manifest.json --json "$OUT/before-1mb-$SUM.json" > /dev/null
py models/training/eval.py --checkpoint "$CK" --heldout "$CORPUS" --max-bytes 1000000 \
  --match models/mb-small/manifest.json --json "$OUT/after-1mb-oldmatch.json" > /dev/null
py - "$OUT/before-1mb-$SUM.json" "$OUT/after-1mb-oldmatch.json" <<'EOF'
import json, sys
b, a = (json.load(open(p)) for p in sys.argv[1:3])
print(f"network alone: bundled {b['network_only_bpb']} -> checkpoint {a['network_only_bpb']} bits/byte ({a['files']} files, {a['bytes']} bytes)")
sys.exit(0 if a["network_only_bpb"] < b["network_only_bpb"] else 1)
EOF

step "export"
cp models/mb-small/manifest.json "$OUT/manifest-before.json"
py models/training/export.py --checkpoint "$CK" --out models/mb-small --name mb-small \
  --description "$(node -p 'require("./models/mb-small/manifest.json").description')" --corpus "$CORPUS"
else
  cp models/mb-small/manifest.json "$OUT/manifest-before.json"
fi
step "match model weights"
py models/training/match_fit.py --checkpoint "$CK" --corpus "$CORPUS" --max-bytes 1500000 \
  --manifest models/mb-small/manifest.json
step "context-mixing layer weights"
py models/training/cm_fit.py --checkpoint "$CK" --corpus "$CORPUS" --max-bytes 100000 --threads 2 \
  --manifest models/mb-small/manifest.json
step "figures: 1.29 MB sample, 300 KB sample + infilling, the layer"
py models/training/eval.py --checkpoint "$CK" --heldout "$CORPUS" --max-bytes 1000000 \
  --match models/mb-small/manifest.json --json "$OUT/after-1mb.json" > /dev/null
py models/training/eval.py --checkpoint "$CK" --heldout "$CORPUS" --max-bytes 300000 --fim-spans 40 \
  --match models/mb-small/manifest.json --json "$OUT/e1.json" > /dev/null
py models/training/eval.py --checkpoint "$CK" --heldout "$CORPUS" --max-bytes 300000 \
  --cm models/mb-small --json "$OUT/e2.json" > /dev/null
py - "$CK" "$CORPUS" "$OUT" <<'EOF'
import json, sys
ck, corpus, out = sys.argv[1:4]
path = "models/mb-small/manifest.json"
m = json.load(open(path))
# each segment's held-out figures of the network alone (npm run curve plots them): the earlier
# segments' from the manifest before, this one's from the samples measured above
before = json.load(open(f"{out}/manifest-before.json"))["training"]["segments"]
segments = m["training"]["segments"]
for old, new in zip(before, segments):
    if "heldout_network_bpb" in old:
        new["heldout_network_bpb"] = old["heldout_network_bpb"]
segments[-1]["heldout_network_bpb"] = {"v2 1.29 MB": json.load(open(f"{out}/after-1mb.json"))["network_only_bpb"],
                                       "v2 370 KB": json.load(open(f"{out}/e1.json"))["network_only_bpb"]}
e = json.load(open(f"{out}/e1.json"))
e["command"] = f"eval.py --checkpoint {ck} --heldout {corpus} --max-bytes 300000 --fim-spans 40 --match models/mb-small/manifest.json"
e["match_model_bpb"] = e["bpb"]
cm = json.load(open(f"{out}/e2.json"))
e["context_mixing"] = {"heldout": cm, "command": f"eval.py --checkpoint {ck} --heldout {corpus} --max-bytes 300000 --cm models/mb-small"}
m["evaluation"] = e
open(path, "w").write(json.dumps(m, indent=1) + "\n")
print(json.dumps({k: e[k] for k in ("bpb", "network_only_bpb", "compressors_bpb")}))
EOF
step "parity fixture"
py models/training/fixture.py --checkpoint "$CK" --out models/mb-small/fixture.json
step "confidence calibrations"
for g in context-mixing match network; do
  npm run --silent calibrate -- --generation $g --positions 2000 --seed 3 > "$OUT/calibrate-$g.json"
  npm run --silent precision -- --generation $g --positions 1200 --seed 12 > "$OUT/precision-$g.json"
done
step "done"
