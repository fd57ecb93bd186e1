"""Blender's evaluation is the truth: rig setups captured exactly (twin rigs against the real
`bpy`) or refused up front with nothing left behind; the reference is the user's own pose."""

import shutil

import numpy as np
import pytest
from conftest import build_metarig
from test_addon import KEY_TOL, VIDEO, T, blender_pose, key_pose, network_output, scene_state


def world_frames(bpy, obj, names, frames):
    """(T, J, 3, 3) `pose_bone.matrix` rotations and (T, J, 3) heads, as Blender evaluates them."""
    G, H = [], []
    for f in frames:
        bpy.context.scene.frame_set(int(f))
        G.append([np.array(obj.pose.bones[n].matrix)[:3, :3] for n in names])
        H.append([np.array(obj.pose.bones[n].head) for n in names])
    return np.array(G), np.array(H)


def twin(bpy, source, name):
    """A second copy of the metarig posed, at frame 1, in the world pose `source` has there."""
    obj = build_metarig(bpy, "basic_human")
    obj.name = name
    return obj


def copy_world_pose(bpy, source, target, frame):
    """Key `target` at `frame` in the world pose `source` has there (Blender computes the basis)."""
    from mathutils import Matrix

    bpy.context.scene.frame_set(frame)
    target.animation_data_create().action = bpy.data.actions.new(f"{target.name} user action")
    for bone in target.pose.bones:  # parents first: Blender keeps the order of creation
        bone.matrix = Matrix(source.pose.bones[bone.name].matrix)
        bpy.context.view_layer.update()
    for bone in target.pose.bones:
        bone.keyframe_insert(f"rotation_{'quaternion' if bone.rotation_mode == 'QUATERNION' else 'euler'}", frame=frame)


def test_bones_that_do_not_inherit_rotation_reach_the_same_world_pose(blender, ext, rng, tmp_path):
    bpy = blender
    a = build_metarig(bpy, "basic_human")
    key_pose(bpy, a, 1, rng)
    b = twin(bpy, a, "hinged")
    hinged = ["spine.004", "upper_arm.L", "forearm.R", "thigh.L", "hand.L"]
    for name in hinged:
        b.data.bones[name].use_inherit_rotation = False
    for name, mode in (("shin.L", "NONE"), ("forearm.L", "ALIGNED"), ("spine.002", "FIX_SHEAR"), ("foot.R", "AVERAGE")):
        b.data.bones[name].inherit_scale = mode  # no scale in the pose: the same world frames
    copy_world_pose(bpy, a, b, 1)
    names = [bone.name for bone in a.pose.bones]
    G_a, H_a = world_frames(bpy, a, names, [1])
    G_b, H_b = world_frames(bpy, b, names, [1])
    assert np.abs(G_a - G_b).max() < 1e-5 and np.abs(H_a - H_b).max() < 1e-5  # twins at the reference
    for obj in (a, b):
        ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")
    G_a, H_a = world_frames(bpy, a, names, range(1, T + 1))
    G_b, H_b = world_frames(bpy, b, names, range(1, T + 1))
    size = max(np.ptp(H_a.reshape(-1, 3), axis=0))
    assert np.abs(H_a - H_b).max() < 1e-4 * size and np.abs(G_a - G_b).max() < KEY_TOL
    moved = np.degrees(np.arccos(np.clip((np.trace(G_a[0].swapaxes(-1, -2) @ G_a[-1], axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert moved.max() > 1  # the capture moved the rig: the twins agree on motion, not on a still pose
    # What the add-on gives out of the action agrees too: BVH (and the twist report) read
    # hinge bones' keys as Blender applies them.
    from model.data.bvh import load_bvh

    clips = [load_bvh(ext.export.export_bvh(obj, obj.animation_data.action, tmp_path / f"{obj.name}.bvh")) for obj in (a, b)]
    assert np.abs(clips[0].local_rotations - clips[1].local_rotations).max() < KEY_TOL


def test_capturing_again_reads_the_users_pose_and_keys_the_same(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)
    user = obj.animation_data.action
    captures = [ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU") for _ in range(3)]
    names = [bone.name for bone in obj.pose.bones]
    poses = []
    for action in captures:
        obj.animation_data.action = action
        poses.append(blender_pose(bpy, obj, names, range(1, T + 1)))
    assert np.abs(poses[1] - poses[0]).max() == 0 and np.abs(poses[2] - poses[0]).max() == 0
    assert all(a[ext.keys.SOURCE_KEY] == user.name for a in captures)
    # One fake user (the user's own action); earlier captures kept in muted stash tracks.
    assert [a.name for a in bpy.data.actions if a.use_fake_user] == [user.name]
    stashed = [s.action for t in obj.animation_data.nla_tracks if t.name == ext.keys.STASH and t.mute for s in t.strips]
    assert stashed == captures[:2]


def test_rest_position_is_captured_as_in_pose_position_and_said(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)
    sk, expected = network_output(ext, obj, 1, T, bpy)
    obj.data.pose_position = "REST"
    with pytest.warns(UserWarning, match="Rest Position: switch it to Pose Position"):
        ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")
    assert obj.data.pose_position == "REST"  # left as the user had it
    obj.data.pose_position = "POSE"
    assert np.abs(blender_pose(bpy, obj, sk.names, range(1, T + 1)) - expected).max() < KEY_TOL


def test_reference_keyed_only_in_the_nla_is_read_from_it(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)
    sk, expected = network_output(ext, obj, 1, T, bpy)
    data = obj.animation_data
    action, slot = data.action, data.action_slot
    track = data.nla_tracks.new()
    strip = track.strips.new(action.name, 1, action)
    strip.action_slot = slot
    data.action = None
    for _ in range(2):  # again, with the first capture assigned: the reference still comes from the NLA
        ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")
        assert np.abs(blender_pose(bpy, obj, sk.names, range(1, T + 1)) - expected).max() < KEY_TOL


def test_uniformly_scaled_parent_is_folded_in(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    parent = bpy.data.objects.new("holder", None)
    bpy.context.scene.collection.objects.link(parent)
    parent.scale, parent.rotation_euler = (2.0, 2.0, 2.0), (0.0, 0.0, 0.7)
    obj.parent = parent
    bpy.context.view_layer.update()
    key_pose(bpy, obj, 1, rng)
    sk, expected = network_output(ext, obj, 1, T, bpy)
    ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")
    assert np.abs(blender_pose(bpy, obj, sk.names, range(1, T + 1)) - expected).max() < KEY_TOL


def test_rigs_that_cannot_be_captured_faithfully_are_refused_up_front(blender, ext, rng):
    bpy = blender
    CaptureError = ext.api.CaptureError
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)

    def refused(message):
        state = scene_state(bpy), len(obj.animation_data.nla_tracks)
        with pytest.raises(CaptureError, match=message):
            ext.api.capture(obj, VIDEO, reference_frame=1, device="CPU")
        assert (scene_state(bpy), len(obj.animation_data.nla_tracks)) == state, message

    driver = obj.pose.bones["forearm.L"].driver_add("rotation_quaternion", 1)
    refused(r"1 bone\(s\) of 'basic_human' \(forearm.L\) have drivers on their rotation")
    obj.pose.bones["forearm.L"].driver_remove("rotation_quaternion", 1)
    del driver
    obj.pose.bones["shin.R"].lock_rotation[0] = True
    refused(r"\(shin.R\) have locked rotation channels")
    obj.pose.bones["shin.R"].lock_rotation[0] = False
    parent = bpy.data.objects.new("squash", None)
    bpy.context.scene.collection.objects.link(parent)
    parent.scale = (1.0, 1.0, 0.5)
    obj.parent = parent
    bpy.context.view_layer.update()
    refused("scaled unevenly in the world .* by 'squash': apply the scale of 'squash'")
    parent.scale = (-1.0, -1.0, -1.0)
    bpy.context.view_layer.update()
    refused("scaled negatively \\(mirrored\\) in the world .* by 'squash'")
    obj.parent = None
    bpy.context.view_layer.update()
    data = obj.animation_data
    track = data.nla_tracks.new()
    strip = track.strips.new("strip", 1, data.action)
    strip.action_slot = data.action_slot
    data.action = None
    track.select = strip.select = True
    data.use_tweak_mode = True
    refused("NLA tweak mode: leave it")
    data.use_tweak_mode = False
    data.action = strip.action
    data.action_blend_type = "ADD"
    refused("blends its action over the NLA")
    data.action_blend_type = "REPLACE"


def test_video_paths_relative_to_the_blend_and_with_any_characters(blender, ext, rng, tmp_path):
    bpy = blender
    folder = tmp_path / "shots été"
    folder.mkdir()
    shutil.copy(VIDEO, folder / "take one ü.mp4")
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "shot.blend"))
    obj = bpy.data.objects["basic_human"]
    action = ext.api.capture(obj, "//take one ü.mp4", reference_frame=1, frame_start=1, frame_end=4, device="CPU")
    assert action.name == "take one ü capture"
    with pytest.raises(ext.api.CaptureError, match="no video was chosen"):
        ext.api.capture(obj, "  ", reference_frame=1)


def test_command_line_batch_is_all_or_nothing(blender, ext, tmp_path, capsys):
    from test_addon import BLEND
    from test_video import write_video

    broken = tmp_path / "broken.avi"  # the header promises 40 frames; only the first decodes
    write_video(broken, "MJPG", (64, 48), 40, 30.0)
    broken.write_bytes(broken.read_bytes()[:6000])
    work = tmp_path / "outputs"
    work.mkdir()
    args = ["capture", "--blend", BLEND, "--armature", "creature", "--reference-frame", "0", "--device", "CPU"]
    args += ["--frame-end", "4", "--mapping", "FRAME", "--out", str(work / "out.blend")]
    files = ["--bvh", str(work / "bvh"), "--preview", str(work / "png"), "--twist-report", str(work / "twist")]
    # The first video captures and writes its files; the second decodes nothing from frame 2: all is undone.
    assert ext.cli.command([*args, *files, "--video", VIDEO, str(broken), "--video-start", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mocap_anything: error:") and "could be decoded" in err[-1]
    assert list(work.iterdir()) == []

    cases = [
        (["--video", VIDEO, "--preview", str(work / "preview")], "must end in .png or .jpg or .jpeg"),
        (["--video", VIDEO, "--twist-report", str(work / "twist.txt")], "must end in .csv or .json"),
    ]
    for extra, message in cases:
        assert ext.cli.command([*args, *extra]) == 1
        assert message in capsys.readouterr().err
        assert list(work.iterdir()) == []
    inplace = tmp_path / "shot.blend"
    shutil.copy(BLEND, inplace)
    before = inplace.read_bytes()
    same = ["capture", "--blend", str(inplace), "--armature", "creature", "--reference-frame", "0", "--device", "CPU"]
    same += ["--frame-end", "4", "--video", VIDEO, "--out", str(inplace)]
    assert ext.cli.command(same) == 1 and "add --overwrite" in capsys.readouterr().err
    assert inplace.read_bytes() == before
    assert ext.cli.command([*same, "--overwrite"]) == 0 and inplace.read_bytes() != before
    twins = [tmp_path / "a b.mp4", tmp_path / "a_b.mp4"]  # their actions' file names would clash
    for video in twins:
        shutil.copy(VIDEO, video)
    clash = [*args, "--video", *map(str, twins), "--bvh", str(work / "bvh")]
    assert ext.cli.command(clash) == 1 and "would both be" in capsys.readouterr().err
    assert list(work.iterdir()) == []
    for video in twins:
        video.unlink()
    sparse = [*args, "--video", VIDEO, "--stride", "3", "--preview", str(work / "p.png")]  # keys on every third frame
    assert ext.cli.command(sparse) == 0 and (work / "p.png").is_file()
    (work / "p.png").unlink()
    (work / "out.blend").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.avi", "outputs", "shot.blend"]  # no partial files
