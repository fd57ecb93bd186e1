#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job on the bundled example, headless, the
# way a pipeline would: builds the Blender extension (build.py --no-wheels), installs it
# into a Blender user folder under out/, and runs its command
#   blender --command mocap_anything capture ...
# (through scripts/blender_cli.py, as this machine has the `bpy` module, not a Blender
# build) to capture examples/creature.mp4 onto the armature in examples/creature.blend.
# Writes out/demo/: creature.blend (the new action "creature capture"), creature.bvh,
# creature.preview.png (video frames | what Video-to-Pose saw | the rig as Blender poses it
# with the result, the ground truth in grey) and creature.twist.csv (twist per bone and
# frame, with errors). Then a real person: the sports2d demo video (extracted by setup.sh)
# onto Rigify's basic human (out/demo/human.rig.blend, made by scripts/make_human_blend.py),
# Subject Auto: human.blend, sports2d.bvh, sports2d.preview.png (with the detector's
# landmarks). Extra arguments go to both capture commands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python build.py --no-wheels
.venv/bin/python scripts/blender_cli.py capture --blend examples/creature.blend --armature creature \
  --video examples/creature.mp4 --reference-frame 0 --truth-action "creature truth" --out out/demo/creature.blend \
  --bvh out/demo/creature.bvh --preview out/demo/creature.preview.png --twist-report out/demo/creature.twist.csv "$@"
.venv/bin/python scripts/make_human_blend.py examples/sports2d.mp4 out/demo/human.rig.blend
.venv/bin/python scripts/blender_cli.py capture --blend out/demo/human.rig.blend --armature human \
  --video examples/sports2d.mp4 --reference-frame 0 --out out/demo/human.blend \
  --bvh out/demo/sports2d.bvh --preview out/demo/sports2d.preview.png "$@"
