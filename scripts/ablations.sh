#!/usr/bin/env bash
# The P2R ablation study (BENCHMARKS.md): six networks trained with one short, equal
# budget (the full model, one variant per removed part, and one trained on procedural
# motion only), then evaluated on every set with exact positions and 2 cm noise (first 300
# frames of each clip), beside holding the reference and the IK. Checkpoints go to
# out/ablations/ (not shipped).
# Usage: bash scripts/ablations.sh [extra arguments for python -m model.train]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out/ablations
budget=(--stage p2r --steps 1000 --tokens 2000 --val-every 500 --threads 1)
declare -A variants=(
  [full]=""
  [no_reference]="--no-reference"
  [no_rest]="--no-rest"
  [full_attention]="--attention full"
  [all_global]="--attention global"
  [procedural_only]="--real 0"
)
for name in full no_reference no_rest full_attention all_global procedural_only; do
  if [ ! -f "out/ablations/$name.json" ] || ! grep -q '"step": 1000' "out/ablations/$name.json"; then
    # shellcheck disable=SC2086
    .venv/bin/python -m model.train "${budget[@]}" ${variants[$name]} --out "out/ablations/$name.safetensors" "$@"
  fi
done
.venv/bin/python -m model.evaluate --noise 0 2 --max-frames 300 --solvers hold ik \
  --weights out/ablations/{full,no_reference,no_rest,full_attention,all_global,procedural_only}.safetensors \
  --out out/ablations.md
