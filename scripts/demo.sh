#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job on the bundled example: captures
# examples/creature.mp4 onto its rig (examples/creature.npz) with the shipped end-to-end
# network, headless, and writes out/capture/creature.bvh (the captured motion),
# creature.npz (local rotations and view-frame positions) and creature.preview.png
# (video frames above the captured skeleton, drawn over the ground truth in grey).
# Extra arguments go to `python -m model.capture`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m model.capture examples/creature.mp4 --rig examples/creature.npz --out out/capture "$@"
