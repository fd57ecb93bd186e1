"""Install-and-capture smoke test of a release zip, as a user would do it, in a Python that
has only the `bpy` module (a Blender of one version):

    python scripts/smoke_blender.py dist/mocap_anything-0.1.0-linux_x64.zip [--own-torch DIR]

Into a fresh Blender user folder it installs the zip (its wheels included) and enables
the extension, builds the bundled example's rig with plain bpy (examples/creature.npz:
an armature "creature" with its reference pose keyed at frame 0 in the action "creature
reference"; the example .blend is saved by Blender 5.0, which older ones cannot open),
captures the first 12 frames of examples/creature.mp4 through the add-on's API and checks
what a user would see: a new action with a key per bone per frame, finite rotations, the user's own action
unchanged. Where the zip carries no torch for this Python, it checks that the extension
says so, then points the preference "Own torch" at `--own-torch` (a site-packages folder
with torch) and enables it again, as the message tells a user to. On Python 3.11 the
person path's detector (mediapipe, from the zip) must load and run; on 3.13 it is not
offered. Prints one line; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = "bl_ext.user_default.mocap_anything"
FRAMES = 12


def keyed(action) -> dict[str, list[tuple[float, float]]]:
    """Every F-curve's keys, whichever API (layered actions from 4.4, slots) holds them."""
    curves = action.fcurves if hasattr(action, "fcurves") and len(action.fcurves) else []
    if not curves and hasattr(action, "layers"):
        curves = [c for layer in action.layers for strip in layer.strips for bag in strip.channelbags for c in bag.fcurves]
    return {f"{c.data_path}[{c.array_index}]": [tuple(k.co) for k in c.keyframe_points] for c in curves}


def build_rig(bpy):
    import numpy as np
    from mathutils import Matrix

    data = np.load(ROOT / "examples" / "creature.npz")
    parents, heads, frames = data["parents"], data["rest_heads"], data["rest_frames"]
    names = [str(n) for n in data["names"]]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    armature = bpy.data.armatures.new("creature")
    obj = bpy.data.objects.new("creature", armature)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    size = float(np.ptp(heads, axis=0).max())
    bones = []
    for j, name in enumerate(names):
        bone = armature.edit_bones.new(name)
        bone.head, bone.tail = (0, 0, 0), (0, 0.05 * size, 0)
        matrix = Matrix.Identity(4)
        for r in range(3):
            matrix[r][0], matrix[r][1], matrix[r][2], matrix[r][3] = (*frames[j][r], heads[j][r])
        bone.matrix = matrix
        if parents[j] >= 0:
            bone.parent = bones[parents[j]]
        bones.append(bone)
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.animation_data_create().action = bpy.data.actions.new("creature reference")
    for j, name in enumerate(names):
        pose = obj.pose.bones[name]
        pose.rotation_mode = "QUATERNION"
        pose.rotation_quaternion = Matrix([list(row) for row in data["ref_rotations"][j]]).to_quaternion()
        pose.keyframe_insert("rotation_quaternion", frame=0)
    return obj


def person_detector() -> bool | None:
    """Whether the person path's detector, from the zip's wheels, runs and sees nobody in a
    blank frame (None: not installed, as on Python 3.13)."""
    import numpy as np

    from model import landmarks

    if not landmarks.available():
        return None
    with landmarks.Detector() as detect:
        return not np.isfinite(detect(np.full((240, 320, 3), 90, np.uint8))).any()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", type=Path)
    parser.add_argument("--own-torch", help="site-packages folder with torch, for a zip that carries none for this Python")
    args = parser.parse_args()
    # The installed extension (its wheels, torch included: over 1 GB) goes to a folder of its
    # own, removed at exit, so that runs leave nothing behind.
    resources = tempfile.mkdtemp(prefix="mocap-smoke-")
    atexit.register(shutil.rmtree, resources, ignore_errors=True)
    os.environ["BLENDER_USER_RESOURCES"] = resources
    import bpy  # noqa: I001 (addon_utils exists only once bpy is imported)
    import addon_utils

    where = f"bpy {bpy.app.version_string} / Python {sys.version_info.major}.{sys.version_info.minor}"
    obj = build_rig(bpy)
    before = keyed(obj.animation_data.action)
    bpy.ops.extensions.package_install_files(filepath=str(args.zip.resolve()), repo="user_default", enable_on_install=True)
    if EXTENSION not in bpy.context.preferences.addons:
        print(f"{where}: FAILED, the extension did not enable", file=sys.stderr)
        return 1
    extension = sys.modules[EXTENSION]
    note = ""
    if hasattr(extension, "requirements") and extension.requirements.missing():
        if not args.own_torch:
            print(
                f"{where}: FAILED, the zip lacks {extension.requirements.missing()} and no --own-torch was given", file=sys.stderr
            )
            return 1
        bpy.context.preferences.addons[EXTENSION].preferences.torch_path = args.own_torch
        addon_utils.disable(EXTENSION)
        addon_utils.enable(EXTENSION, default_set=True)
        note = " (torch from the preference Own torch, as the missing-torch message says)"
    from bl_ext.user_default.mocap_anything import api

    action = api.capture(obj, str(ROOT / "examples" / "creature.mp4"), reference_frame=0, frame_start=1, frame_end=FRAMES)
    keys = keyed(action)
    bones = len(obj.pose.bones)
    frames = {k[0] for ks in keys.values() for k in ks}
    problems = []
    if frames != set(range(1, FRAMES + 1)):
        problems.append(f"keys on frames {sorted(frames)}")
    rotation_curves = [p for p in keys if "rotation" in p]
    if len({p.split('"]')[0] for p in rotation_curves}) != bones:
        problems.append(f"rotation keys on {len(rotation_curves)} curves for {bones} bones")
    if any(not all(map(lambda v: v == v and abs(v) < 1e6, (k[1] for k in ks))) for ks in keys.values()):
        problems.append("non-finite keys")
    user_action = bpy.data.actions["creature reference"]
    if keyed(user_action) != before:
        problems.append("the user's action changed")
    detector = person_detector()
    if (detector is not None) != (sys.version_info < (3, 13)) or detector is False:
        problems.append(f"the person detector: {detector} on Python {sys.version_info[:2]}")
    note += ", the person detector " + ("runs" if detector else "is not offered on this Python (no mediapipe wheels)")
    if problems:
        print(f"{where}: FAILED, " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"{where}: installed {args.zip.name}, enabled{note}, captured {FRAMES} frames x {bones} bones into {action.name!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
