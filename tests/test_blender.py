"""Our conventions against the real Blender (PyPI `bpy`): FK, bone frames, Rigify, BVH."""

import numpy as np
import pytest

pytest.importorskip("bpy")  # the whole module needs the real Blender

from conftest import build_metarig  # noqa: E402

from mocap_anything_addon.armature import skeleton_from_armature  # noqa: E402
from model.data.bvh import load_bvh  # noqa: E402
from model.data.evalsets import CMU_DIR  # noqa: E402
from model.data.motion import Y_UP_TO_Z_UP  # noqa: E402
from model.data.rigify import METARIGS, load_metarig  # noqa: E402
from model.kinematics import forward_kinematics  # noqa: E402
from model.rotations import axis_angle_to_matrix, matrix_to_quaternion  # noqa: E402
from model.skeleton import SkeletonError, bone_frames  # noqa: E402  (the add-on raises this very class)


def _pose(obj, names, rotations):
    for n, q in zip(names, matrix_to_quaternion(rotations)):
        obj.pose.bones[n].rotation_mode = "QUATERNION"
        obj.pose.bones[n].rotation_quaternion = q


def _blender_pose(obj, names):
    heads = np.array([obj.pose.bones[n].head for n in names])
    rotations = np.array([np.array(obj.pose.bones[n].matrix)[:3, :3] for n in names])
    return heads, rotations


@pytest.mark.parametrize("name", list(METARIGS))
def test_fk_matches_blender_on_metarig(blender, name, rng):
    obj = build_metarig(blender, name)
    sk = skeleton_from_armature(obj)
    R = axis_angle_to_matrix(rng.normal(0, 1.0, (sk.num_joints, 3)))
    location = rng.normal(0, 0.3, 3)  # root bone location, in the root bone's rest frame
    _pose(obj, sk.names, R)
    obj.pose.bones[sk.names[0]].location = location
    blender.context.view_layer.update()

    G, heads = forward_kinematics(sk, R, sk.rest_frames[0] @ location)
    bl_heads, bl_rotations = _blender_pose(obj, sk.names)
    assert np.abs(heads - bl_heads).max() / sk.scale < 1e-4
    assert np.abs(G - bl_rotations).max() < 1e-4


@pytest.mark.parametrize("name", list(METARIGS))
def test_rigify_reader_matches_blender(blender, name):
    ours, theirs = load_metarig(name), skeleton_from_armature(build_metarig(blender, name))
    assert ours.names == theirs.names
    np.testing.assert_array_equal(ours.parents, theirs.parents)
    assert np.abs(ours.rest_heads - theirs.rest_heads).max() < 1e-5
    assert np.abs(ours.rest_frames - theirs.rest_frames).max() < 1e-4


def test_bone_frames_match_blender_edit_bones(blender, rng):
    directions = rng.normal(size=(40, 3))
    # Blender's special cases: along -Y, close to -Y (Taylor branch), along +Y.
    directions[:6] = [[0, -1, 0], [1e-3, -1, 0], [0, -1, 2e-4], [3e-3, -1, -2e-3], [0, 1, 0], [1, 0, 0]]
    heads = rng.normal(size=(40, 3))
    tails = heads + directions * rng.uniform(0.1, 2, (40, 1))
    rolls = rng.uniform(-np.pi, np.pi, 40)
    obj = blender.data.objects.new("a", blender.data.armatures.new("a"))
    blender.context.scene.collection.objects.link(obj)
    blender.context.view_layer.objects.active = obj
    blender.ops.object.mode_set(mode="EDIT")
    for i in range(40):
        b = obj.data.edit_bones.new(f"b{i}")
        b.head, b.tail, b.roll = heads[i], tails[i], rolls[i]
    blender.ops.object.mode_set(mode="OBJECT")
    theirs = np.array([np.array(obj.data.bones[f"b{i}"].matrix_local)[:3, :3] for i in range(40)])
    assert np.abs(bone_frames(heads, tails, rolls) - theirs).max() < 1e-5


def test_adapter_folds_object_rotation(blender, rng):
    obj = build_metarig(blender, "basic_quadruped")
    obj.rotation_euler = (0.4, -1.1, 2.0)
    obj.location = (3.0, -2.0, 1.0)
    blender.context.view_layer.update()
    sk = skeleton_from_armature(obj)
    R = axis_angle_to_matrix(rng.normal(0, 0.8, (sk.num_joints, 3)))
    _pose(obj, sk.names, R)
    blender.context.view_layer.update()
    W = np.array(obj.matrix_world)
    bl_heads, bl_rotations = _blender_pose(obj, sk.names)
    G, heads = forward_kinematics(sk, R)  # local rotations are unaffected by the fold
    assert np.abs(heads - (bl_heads @ W[:3, :3].T)).max() / sk.scale < 1e-4
    assert np.abs(G - W[:3, :3] @ bl_rotations).max() < 1e-4


def test_adapter_folds_uniform_scale_and_rejects_uneven_scale(blender):
    obj = build_metarig(blender, "basic_human")
    plain = skeleton_from_armature(obj)
    obj.scale = (2.0, 2.0, 2.0)
    blender.context.view_layer.update()
    scaled = skeleton_from_armature(obj)  # heads in world units, frames unchanged
    np.testing.assert_allclose(scaled.rest_heads, 2 * plain.rest_heads, atol=1e-6)
    np.testing.assert_allclose(scaled.rest_frames, plain.rest_frames, atol=1e-6)
    obj.scale = (2.0, 1.0, 2.0)
    blender.context.view_layer.update()
    with pytest.raises(SkeletonError, match="scaled unevenly"):
        skeleton_from_armature(obj)


def test_bvh_reader_matches_blender_importer(blender):
    path = CMU_DIR / "01_01.bvh"
    if not path.exists():
        pytest.skip("assimp-testmodels is not installed")
    clip = load_bvh(path).rotated(Y_UP_TO_Z_UP)  # the importer's default axis change
    blender.ops.import_anim.bvh(filepath=str(path), rotate_mode="QUATERNION")
    obj = blender.context.object
    rest = np.array([np.array(obj.data.bones[n].matrix_local)[:3, :3] for n in clip.skeleton.names])
    G, heads = forward_kinematics(clip.skeleton, clip.local_rotations, clip.root_translation)
    for frame in (0, 1, 500, 1777, clip.num_frames - 1):
        blender.context.scene.frame_set(frame + 1)  # the importer starts at frame 1
        bl_heads, bl_rotations = _blender_pose(obj, clip.skeleton.names)
        assert np.abs(heads[frame] - bl_heads).max() / clip.skeleton.scale < 1e-4
        # Blender's bones have rolls of their own: compare rotations relative to rest.
        ours = G[frame] @ clip.skeleton.rest_frames.transpose(0, 2, 1)
        theirs = bl_rotations @ rest.transpose(0, 2, 1)
        assert np.abs(ours - theirs).max() < 1e-4
