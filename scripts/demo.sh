#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job: the evaluation of the analytic IK
# baseline and the shipped Pose-to-Rotation network on every evaluation set, with exact
# positions and 1 cm / 2 cm noise. The tables are printed and written to out/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
exec .venv/bin/python -m model.evaluate --noise 0 1 2 --out out/results.md "$@"
