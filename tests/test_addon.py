"""The Blender extension, built (`build.py`), installed and enabled in the real `bpy`."""

import numpy as np
import pytest
from conftest import ROOT, build_metarig

import model.facing
import model.landmarks
import model.pipeline
import model.skeleton
import model.video
from model.data.bvh import load_bvh
from model.rotations import (
    axis_angle_to_matrix,
    bone_to_world_local,
    matrix_to_quaternion,
    rebase_local_rotations,
    smooth_rotations,
)

VIDEO = str(ROOT / "examples" / "creature.mp4")
BLEND = str(ROOT / "examples" / "creature.blend")
T = 8  # captured frames in most tests: scene frames 1..8
# Blender's pose from the keys against the network's rotations: F-curve keys are float32,
# and Euler channels near gimbal lock amplify their rounding (measured up to 1.1e-4).
KEY_TOL = 2e-4


def key_pose(bpy, obj, frame: int, rng, spread=0.3) -> np.ndarray:
    """Pose every bone with a random rotation (in its own rotation mode) and key it at
    `frame`, in the assigned action (made if missing). Returns the local rotations, bone order."""
    if obj.animation_data is None or obj.animation_data.action is None:
        obj.animation_data_create().action = bpy.data.actions.new(f"{obj.name} user action")
    R = axis_angle_to_matrix(rng.normal(0, spread, (len(obj.pose.bones), 3)))
    for bone, r in zip(obj.pose.bones, R):
        if bone.rotation_mode == "QUATERNION":
            bone.rotation_quaternion = matrix_to_quaternion(r).tolist()
            bone.keyframe_insert("rotation_quaternion", frame=frame)
        elif bone.rotation_mode == "AXIS_ANGLE":
            q = matrix_to_quaternion(r)
            angle = 2 * np.arctan2(np.linalg.norm(q[1:]), q[0])
            bone.rotation_axis_angle = [angle, *(q[1:] / max(np.linalg.norm(q[1:]), 1e-12))]
            bone.keyframe_insert("rotation_axis_angle", frame=frame)
        else:
            from mathutils import Matrix

            bone.rotation_euler = Matrix(r.tolist()).to_euler(bone.rotation_mode)
            bone.keyframe_insert("rotation_euler", frame=frame)
    return R


def snapshot(bpy):
    """Every action's keys, bit for bit, and what each object is assigned."""
    out = {}
    for action in bpy.data.actions:
        curves = []
        for layer in action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    for fc in bag.fcurves:
                        n = len(fc.keyframe_points)
                        data = {k: np.empty(2 * n, np.float32) for k in ("co", "handle_left", "handle_right")}
                        for k, v in data.items():
                            fc.keyframe_points.foreach_get(k, v)
                        curves.append((fc.data_path, fc.array_index, *(v.tobytes() for v in data.values())))
        out[action.name] = sorted(curves)
    assigned = {o.name: o.animation_data.action.name for o in bpy.data.objects if o.animation_data and o.animation_data.action}
    return out, assigned


def blender_pose(bpy, obj, names, frames):
    """matrix_basis rotations (T, J, 3, 3) as Blender evaluates them at scene `frames`."""
    out = []
    for f in frames:
        bpy.context.scene.frame_set(int(f))
        out.append([np.array(obj.pose.bones[n].matrix_basis)[:3, :3] for n in names])
    return np.array(out)


def network_output(ext, obj, reference_frame, frames, bpy, stride=1):
    """What the network makes of the video for this rig, computed here from the rig's keys
    as Blender evaluates them (not through the add-on's reading code), smoothed as a
    capture with the default options smooths it."""
    sk = ext.armature.skeleton_from_armature(obj)
    bpy.context.scene.frame_set(reference_frame)
    W = np.array(obj.matrix_world)[:3, :3]
    ref_positions = np.array([obj.pose.bones[n].head for n in sk.names]) @ W.T
    ref_rotations = np.array([np.array(obj.pose.bones[n].matrix_basis)[:3, :3] for n in sk.names])
    net = ext.job.network("CPU")
    # Keys every `stride` scene frames, each from the video frame nearest its time (30 fps video).
    scene_fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    wanted = np.floor(np.arange(frames) * stride * 30.0 / scene_fps + 0.5).astype(int)
    video = np.array([model.video.read_video(VIDEO, i, i + 1)[0] for i in wanted])
    positions = net.video_to_pose(video, sk, ref_positions, ref_rotations)
    rotations = net.pose_to_rotation(sk, ref_positions, ref_rotations, positions)
    rotations = model.facing.keep_heading(rotations, sk, ref_rotations)  # Facing AUTO, the default: the general path's rule
    return sk, smooth_rotations(rotations, model.pipeline.CaptureOptions.smoothing)


@pytest.mark.parametrize("rig", ["human", "horse", "bird"])
def test_capture_on_metarig_writes_network_output_into_new_action(blender, ext, rig, rng):
    bpy = blender
    obj = build_metarig(bpy, rig)
    key_pose(bpy, obj, 1, rng)
    key_pose(bpy, obj, 20, rng)
    user_action = obj.animation_data.action
    sk, expected = network_output(ext, obj, 1, T, bpy)
    before = snapshot(bpy)
    action = ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")

    assert action.name not in before[0] and obj.animation_data.action == action
    assert action["mocap_anything_path"].startswith("general path: ")  # a creature filmed, whatever the rig
    assert len(bpy.data.actions) == len(before[0]) + 1
    after = snapshot(bpy)
    assert all(after[0][name] == keys for name, keys in before[0].items())  # incl. the reference frame's keys
    assert user_action.use_fake_user and not action.use_fake_user  # the user's action is still saved with the file

    fcurves = ext.keys.channel_fcurves(action, obj.animation_data.action_slot)
    for bone in obj.pose.bones:
        prop, n = ext.keys.channels(bone.rotation_mode)
        for i in range(n):
            fc = fcurves.find(f'pose.bones["{bone.name}"].{prop}', index=i)
            co = np.empty(2 * len(fc.keyframe_points), np.float32)
            fc.keyframe_points.foreach_get("co", co)
            np.testing.assert_array_equal(co[0::2], np.arange(1, T + 1))  # one key per frame
    assert len(fcurves) == sum(ext.keys.channels(b.rotation_mode)[1] for b in obj.pose.bones)
    got = blender_pose(bpy, obj, sk.names, range(1, T + 1))
    assert np.abs(got - expected).max() < KEY_TOL


def test_every_rotation_mode_is_keyed_in_its_own_property(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    modes = ["QUATERNION", "XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX", "AXIS_ANGLE"]
    for k, bone in enumerate(obj.pose.bones):
        bone.rotation_mode = modes[k % len(modes)]
    key_pose(bpy, obj, 1, rng)
    sk, expected = network_output(ext, obj, 1, T, bpy)
    action = ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")
    assert np.abs(blender_pose(bpy, obj, sk.names, range(1, T + 1)) - expected).max() < KEY_TOL
    fcurves = ext.keys.channel_fcurves(action, action.slots[0])
    for bone in obj.pose.bones:
        prop = ext.keys.channels(bone.rotation_mode)[0]
        assert fcurves.find(f'pose.bones["{bone.name}"].{prop}', index=0) is not None
        if bone.rotation_mode == "QUATERNION":
            q = np.array(
                [
                    [fcurves.find(f'pose.bones["{bone.name}"].{prop}', index=i).evaluate(f) for i in range(4)]
                    for f in range(1, T + 1)
                ]
            )
            assert (np.sum(q[1:] * q[:-1], -1) >= 0).all()  # one hemisphere


def test_keys_conversion_is_blenders_and_continuous(blender, ext, rng):
    R = axis_angle_to_matrix(np.cumsum(rng.normal(0, 0.4, (200, 3)), 0))  # long spins: wraps and sign flips
    for mode in ["QUATERNION", "XYZ", "ZYX", "YXZ", "AXIS_ANGLE"]:
        values = ext.keys.to_channels(R, mode)
        assert np.abs(ext.keys.from_channels(values, mode) - R).max() < 1e-9
        if mode == "QUATERNION":
            assert (np.sum(values[1:] * values[:-1], -1) >= 0).all()
        elif mode != "AXIS_ANGLE":
            assert np.abs(np.diff(values, axis=0)).max() < np.pi  # unwrapped
            from mathutils import Euler

            for t in (0, 57, 199):
                np.testing.assert_allclose(np.array(Euler(values[t].tolist(), mode).to_matrix()), R[t], atol=1e-6)


def scene_state(bpy):
    return snapshot(bpy), len(bpy.data.actions), bpy.context.scene.frame_current


def test_bad_input_is_refused_and_leaves_the_scene_untouched(blender, ext, rng, tmp_path):
    bpy = blender
    CaptureError = ext.api.CaptureError
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)
    mesh = bpy.data.objects.new("mesh", bpy.data.meshes.new("mesh"))
    bpy.context.scene.collection.objects.link(mesh)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cases = [
        (None, VIDEO, {}, "select an armature"),
        (mesh, VIDEO, {}, "select an armature"),
        (obj, VIDEO, {"reference_frame": 3}, "not keyed"),
        (obj, str(tmp_path / "missing.mp4"), {}, "missing.mp4"),
        (obj, str(text), {}, "notes.mp4"),
        (obj, str(empty), {}, "empty.mp4"),
        (obj, VIDEO, {"frame_start": 1, "frame_end": 200}, "60 frames at 30 fps"),
        (obj, "", {}, "no video was chosen"),
        (obj, VIDEO, {"smoothing": float("nan")}, "smoothing must be a finite number"),
        (obj, VIDEO, {"stride": 0}, "stride must be between 1 and"),
        (obj, VIDEO, {"view": "ABOVE"}, "view must be"),
    ]
    state = scene_state(bpy)
    for target, video, kwargs, message in cases:
        with pytest.raises(CaptureError, match=message):
            ext.api.capture(target, video, **{"reference_frame": 1, **kwargs})
        assert scene_state(bpy) == state, message

    constraint = obj.pose.bones[3].constraints.new("COPY_ROTATION")
    with pytest.raises(CaptureError, match="constraints"):
        ext.api.capture(obj, VIDEO, reference_frame=1)
    constraint.enabled = False  # a disabled constraint changes nothing
    obj.scale = (2, 1, 2)
    bpy.context.view_layer.update()
    with pytest.raises(CaptureError, match="scaled unevenly"):
        ext.api.capture(obj, VIDEO, reference_frame=1)
    obj.pose.bones[3].constraints.remove(constraint)
    obj.scale = (1, 1, 1)
    assert scene_state(bpy) == state


def test_linked_armature_is_refused(blender, ext, rng, tmp_path):
    bpy = blender
    build_metarig(bpy, "basic_human")
    library = tmp_path / "library.blend"
    bpy.data.libraries.write(str(library), {bpy.data.objects["basic_human"]})
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.data.libraries.load(str(library), link=True) as (_, data_to):
        data_to.objects = ["basic_human"]
    linked = data_to.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    with pytest.raises(ext.api.CaptureError, match="linked from"):
        ext.api.capture(linked, VIDEO, reference_frame=1)


def test_rotated_armature_and_several_roots_are_captured(blender, ext, rng):
    bpy = blender
    from model.skeleton import Skeleton

    parents = np.array([-1, 0, 1, -1, 3, 4, 5])  # two chains, two roots
    heads = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [1, 0, 0], [1, 0, 1], [1.5, 0, 1.5], [1, 0, 2]], float)
    frames = np.repeat(np.eye(3)[None], 7, 0)
    obj = ext.armature.armature_from_skeleton(
        Skeleton(parents, heads, frames, [f"b{j}" for j in range(7)]), "two roots", bpy.context.scene
    )
    obj.rotation_euler = (0.3, 0.0, 1.2)
    bpy.context.view_layer.update()
    for bone in obj.pose.bones:
        bone.rotation_mode = "QUATERNION"
    key_pose(bpy, obj, 1, rng)
    sk, expected = network_output(ext, obj, 1, T, bpy)
    ext.api.capture(obj, VIDEO, reference_frame=1, frame_start=1, frame_end=T, device="CPU")
    assert len(sk.roots) == 2
    assert np.abs(blender_pose(bpy, obj, sk.names, range(1, T + 1)) - expected).max() < KEY_TOL


def test_round_trip_through_pose_to_rotation_onto_other_rolls(blender, ext, rng):
    """Pose rig A with an action; its heads (Blender's FK) go through pose_to_rotation for a
    rig B that differs only in bone rolls; written onto B, the world pose is A's."""
    bpy = blender
    a = build_metarig(bpy, "basic_human")
    sk_a = ext.armature.skeleton_from_armature(a)
    rolled = model.skeleton.Skeleton(
        sk_a.parents,
        sk_a.rest_heads,
        sk_a.rest_frames @ axis_angle_to_matrix(np.outer(rng.uniform(-np.pi, np.pi, sk_a.num_joints), [0, 1, 0])),
        sk_a.names,
    )
    b = ext.armature.armature_from_skeleton(rolled, "rolled", bpy.context.scene)
    sk_b = ext.armature.skeleton_from_armature(b)
    frames = 6
    R_a = axis_angle_to_matrix(rng.normal(0, 0.35, (frames, sk_a.num_joints, 3)))
    modes = ["QUATERNION"] * sk_a.num_joints
    action, slot = ext.keys.new_action(a, "posed", np.arange(1, frames + 1), R_a, sk_a.names, modes)
    ext.keys.assign(a, action, slot)
    heads_a = ext.armature.evaluated_pose(a, sk_a, range(1, frames + 1))[0]

    net = ext.job.network("CPU")
    ref_rotations = rebase_local_rotations(R_a[0], sk_a.rest_frames, sk_b.rest_frames)  # B posed as A at frame 1
    R_b = net.pose_to_rotation(sk_b, heads_a[0], ref_rotations, heads_a, fit=True)
    for bone in b.pose.bones:
        bone.rotation_mode = "QUATERNION"
    action_b, slot_b = ext.keys.new_action(b, "rolled", np.arange(1, frames + 1), R_b, sk_b.names, modes)
    ext.keys.assign(b, action_b, slot_b)

    assert np.abs(ext.armature.evaluated_pose(b, sk_b, range(1, frames + 1))[0] - heads_a).max() / sk_a.scale < 1e-3
    # Bone directions: where the heads determine them (bones whose children lie on their
    # axis, or several children); elsewhere the direction is the network's twist.
    directions = []
    for obj in (a, b):
        d = []
        for f in range(1, frames + 1):
            bpy.context.scene.frame_set(f)
            d.append([np.array(obj.pose.bones[n].matrix)[:3, 1] for n in sk_a.names])
        directions.append(np.array(d))
    determined = []
    for j, kids in enumerate(sk_a.children):
        offsets = (sk_a.rest_heads[list(kids)] - sk_a.rest_heads[j]) @ sk_a.rest_frames[j]
        on_axis = len(kids) and np.abs(offsets[:, [0, 2]]).max() < 1e-6 * sk_a.scale
        spread = len(kids) > 1 and np.linalg.matrix_rank(offsets, tol=1e-3 * sk_a.scale) > 1
        determined.append(bool(on_axis or spread))
    assert sum(determined) > sk_a.num_joints // 2
    assert np.abs(directions[0] - directions[1])[:, determined].max() < 1e-3


def test_cancel_leaves_the_scene_as_it_was_and_progress_reaches_the_end(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "bird")
    key_pose(bpy, obj, 1, rng)
    state = scene_state(bpy)
    Options = model.pipeline.CaptureOptions
    request = ext.capture.prepare(obj, VIDEO, Options(reference_frame=1, device="CPU"))
    job = ext.job.Job(request).start()
    job.cancel()
    job.wait()
    assert job.cancelled and job.result is None and job.error.__traceback__ is None
    assert scene_state(bpy) == state

    request = ext.capture.prepare(obj, VIDEO, Options(reference_frame=1, frame_start=1, frame_end=40, device="CPU"))
    job, seen = ext.job.Job(request).start(), []
    while not job.done:
        seen.append(job.poll())
    seen.append(job.poll())
    fractions = [f for f, _ in seen]
    assert job.error is None and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "video -> pose -> rotation, 40/40 frames" in seen[-1][1]
    assert np.abs(job.result.rotations - ext.job.solve(request).rotations).max() < 1e-5


def test_operator_captures_from_the_panel_settings_in_one_undo_step(blender, ext, rng):
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    key_pose(bpy, obj, 1, rng)
    settings = bpy.context.scene.mocap_anything
    settings.video, settings.device = VIDEO, "CPU"
    settings.use_frame_end, settings.frame_end = True, T
    bpy.context.scene.frame_set(2)  # not keyed
    with pytest.raises(RuntimeError, match="not keyed"):
        bpy.ops.mocap_anything.capture()
    bpy.context.scene.frame_set(1)
    assert bpy.ops.mocap_anything.capture() == {"FINISHED"}
    assert obj.animation_data.action.name == "creature capture"
    assert "UNDO" in ext.operators.MOCAP_OT_capture.bl_options  # the modal run ends in one undo push


def test_capture_options_are_the_same_in_the_panel_the_api_and_the_command_line(blender, ext):
    import inspect

    fields = model.pipeline.option_fields()
    names = [f.name for f in fields]
    api = inspect.signature(ext.api.capture).parameters
    assert sorted(n for n in api if n not in ("armature_object", "video_path")) == sorted(names)
    assert all(api[f.name].default == f.default for f in fields)
    props = blender.context.scene.mocap_anything.bl_rna.properties
    sub = next(a for a in ext.cli.parser()._actions if a.dest == "command").choices["capture"]
    flags = {a.dest: a for a in sub._actions}
    for f in fields:
        m, prop, flag = f.metadata, props[f.name], flags[f.name]
        assert prop.name == m["label"] and prop.description == m["help"] and flag.help == m["help"], f.name
        assert flag.default == f.default and flag.option_strings == ["--" + f.name.replace("_", "-")]
        if m["choices"]:
            assert [item.identifier for item in prop.enum_items] == list(m["choices"]) == flag.choices
            assert prop.default == f.default
        else:
            assert (prop.hard_min, prop.hard_max) == pytest.approx((m["min"], m["max"])) and flag.type is m["kind"]
            together = f.name in ext.panel.TOGETHER  # person_y: set with person_x's toggle
            toggle = "use_" + ext.panel.TOGETHER.get(f.name, f.name)
            assert (toggle in props) == m["optional"] and ("use_" + f.name in props) == (m["optional"] and not together)
            if not m["optional"]:
                assert prop.default == f.default
    # The panel's settings become the same options the API would make.
    settings = blender.context.scene.mocap_anything
    settings.use_frame_end, settings.frame_end, settings.smoothing = True, 12, 1.5
    assert ext.panel.options_from(settings) == model.pipeline.CaptureOptions(frame_end=12, smoothing=1.5)
    settings.use_person_x, settings.person_x, settings.person_y = True, 0.25, 0.75  # one toggle sets the place
    assert ext.panel.options_from(settings).person_at == (0.25, 0.75)
    settings.use_person_x = False


def test_twist_report_and_bvh_export(blender, ext, tmp_path):
    bpy = blender
    bpy.ops.wm.open_mainfile(filepath=BLEND)
    obj, truth = bpy.data.objects["creature"], bpy.data.actions["creature truth"]
    action = ext.api.capture(obj, VIDEO, reference_frame=0, frame_start=1, frame_end=T, device="CPU")
    report = ext.export.twist_report(obj, action, truth)
    frames, R = ext.export.action_rotations(obj, action)
    _, R_true = ext.export.action_rotations(obj, truth, frames)
    from model.rotations import swing_twist

    twist, true = np.degrees(swing_twist(R)[1]), np.degrees(swing_twist(R_true)[1])
    names = list(report["bones"])
    np.testing.assert_allclose([report["bones"][n]["twist_deg"] for n in names], twist.T, atol=1e-3)
    np.testing.assert_allclose([report["bones"][n]["truth_twist_deg"] for n in names], true.T, atol=1e-3)
    self_report = ext.export.twist_report(obj, truth, truth)
    assert max(b["mean_error_deg"] for b in self_report["bones"].values()) == 0
    csv_path = ext.export.write_twist_report(report, tmp_path / "twist.csv")
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "frame,bone,twist_deg,truth_twist_deg,error_deg" and len(rows) == 1 + T * len(names)

    clip = load_bvh(ext.export.export_bvh(obj, action, tmp_path / "c.bvh"))
    sk = ext.armature.skeleton_from_armature(obj)
    assert clip.skeleton.names == sk.names and clip.num_frames == T
    world = bone_to_world_local(R, sk.rest_frames)
    assert np.abs(clip.local_rotations - world).max() < 1e-4


def test_cli_captures_a_batch_and_fails_with_one_line(blender, ext, tmp_path, capsys):
    bpy = blender
    out = tmp_path / "out.blend"
    args = ["capture", "--blend", BLEND, "--armature", "creature", "--reference-frame", "0", "--device", "CPU"]
    rc = ext.cli.command(
        args
        + [
            "--video",
            VIDEO,
            VIDEO,
            "--frame-end",
            str(T),
            "--out",
            str(out),
            "--bvh",
            str(tmp_path / "bvh"),
            "--preview",
            str(tmp_path / "png"),
            "--twist-report",
            str(tmp_path / "twist"),
            "--truth-action",
            "creature truth",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert len(list((tmp_path / "bvh").glob("*.bvh"))) == 2 and len(list((tmp_path / "png").glob("*.png"))) == 2
    bpy.ops.wm.open_mainfile(filepath=str(out))
    captured = [a for a in bpy.data.actions if a.name.startswith("creature capture")]
    assert len(captured) == 2 and not any(a.use_fake_user for a in captured)  # assigned, or stashed in the NLA

    bad = [
        (["--video", VIDEO, "--out", str(out), "--armature", "nobody"], "no object named 'nobody'"),
        (["--video", VIDEO, "--out", str(out), "--reference-frame", "5"], "not keyed"),
        (["--video", str(tmp_path / "none.mp4"), "--out", str(out)], "none.mp4"),
        (["--video", VIDEO, "--frame-end", "500", "--out", str(out)], "60 frames at 30 fps"),
        (["--video", VIDEO, "--smoothing", "nan", "--out", str(out)], "smoothing must be a finite number"),
        (["--video", VIDEO, "--out", str(out), "--truth-action", "nothing"], "no action named"),
    ]
    out.unlink()
    for extra, message in bad:
        capsys.readouterr()
        assert ext.cli.command(args + extra) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("mocap_anything: error:") and message in err[0], err
        assert not out.exists()
    assert ext.cli.command(["capture", "--video", VIDEO]) == 2  # argparse: missing arguments


def test_command_line_exit_status_through_a_real_process(extension_zip, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MOCAP_EXTENSION_ZIP": str(extension_zip), "BLENDER_USER_RESOURCES": str(tmp_path / "user")}
    command = [sys.executable, str(ROOT / "scripts" / "blender_cli.py"), "capture", "--blend", BLEND]
    command += ["--armature", "creature", "--video", VIDEO, "--frame-end", "4"]
    ok = subprocess.run(
        command + ["--reference-frame", "0", "--out", str(tmp_path / "o.blend")], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "o.blend").is_file()
    bad = subprocess.run(command + ["--out", str(tmp_path / "p.blend"), "--view", "UP"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    bad = subprocess.run(
        [*command, "--reference-frame", "5", "--out", str(tmp_path / "p.blend")], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("mocap_anything: error: reference frame 5")


def test_extension_builds_per_platform_with_wheels_and_validates(tmp_path):
    """The release build for Linux: Blender's validator passes; the zip holds the add-on and
    the wheels it lists: this project's (the `model` package with the shipped weights),
    torch (the CPU build), OpenCV, safetensors; no numpy (Blender's own)."""
    import tomllib
    import zipfile

    import build

    (zip_path,) = build.build(["linux-x64"], with_wheels=True, dist=tmp_path)
    assert zip_path.name == "mocap_anything-0.1.0-linux_x64.zip"
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
        (project,) = [n for n in names if n.startswith("wheels/mocap_anything-")]
        with zipfile.ZipFile(z.open(project)) as wheel:
            packaged = set(wheel.namelist())
    assert {"__init__.py", "api.py", "cli.py"} <= names and not any(n.startswith("model/") for n in names)
    shipped = {"model/network.py", "model/pipeline.py", "model/weights/capture.safetensors", "model/weights/capture.json"}
    assert shipped <= packaged
    wheels = {w.split("/")[-1].split("-")[0].lower() for w in manifest["wheels"]}
    assert {"mocap_anything", "torch", "opencv_python_headless", "safetensors", "sympy"} <= wheels and "numpy" not in wheels
    assert any("torch-2.13.0+cpu" in w for w in manifest["wheels"])
    assert all(w[2:] in names for w in manifest["wheels"]) and manifest["platforms"] == ["linux-x64"]


def test_without_torch_the_extension_enables_and_says_what_to_do(extension_zip, tmp_path):
    """A Blender whose Python has no torch (Linux on Python 3.13): the extension still
    enables, the MoCap tab and the command say what to do, and no capture operator exists."""
    import json
    import os
    import subprocess
    import sys

    probe = f"""
import importlib, json, sys
sys.modules["torch"] = None  # as if not installed
sys.path.insert(0, {str(ROOT)!r})
import bpy
from scripts.blender_cli import install
ext = install({str(extension_zip)!r})
requirements = importlib.import_module(ext.__name__ + ".requirements")
print(json.dumps({{
    "panel": hasattr(bpy.types, "MOCAP_PT_missing"),
    "operator": hasattr(bpy.types, "MOCAP_OT_capture"),
    "message": requirements.message(requirements.MOCAP_PT_missing.names),
}}))
"""
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "user")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["panel"] and not state["operator"]
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert state["message"].startswith(f"MoCap Anything needs PyTorch, which this install lacks for Blender's Python {python}")
    assert "Own torch" in state["message"]


def test_the_add_on_and_the_tests_share_one_model_package(ext):
    """No second copy of `model` inside the extension: the add-on's errors are the very
    classes the model defines."""
    import sys

    import model.skeleton

    assert ext.armature.SkeletonError is model.skeleton.SkeletonError
    assert ext.api.CaptureError is model.pipeline.CaptureError
    assert not [name for name in sys.modules if name.startswith(f"{ext.__name__}.model")]


SPORTS2D = ROOT / "examples" / "sports2d.mp4"  # a real person, extracted by scripts/setup.sh


@pytest.mark.skipif(not model.landmarks.available(), reason="needs mediapipe 0.10.21 (Python 3.11)")
@pytest.mark.skipif(not SPORTS2D.exists(), reason="the sports2d demo video comes with scripts/setup.sh")
def test_a_person_takes_the_person_path_and_the_action_says_so(blender, ext):
    """Subject Auto on a humanoid rig and real footage of a person: the person path, said
    on the action; Animal or Other forces the general path; Person on a horse is refused
    and leaves nothing behind."""
    bpy = blender
    obj = build_metarig(bpy, "basic_human")
    obj.animation_data_create().action = bpy.data.actions.new("standing")
    for bone in obj.pose.bones:
        bone.keyframe_insert("rotation_quaternion" if bone.rotation_mode == "QUATERNION" else "rotation_euler", frame=1)
    action = ext.api.capture(obj, str(SPORTS2D), reference_frame=1, frame_start=1, frame_end=20, device="CPU")
    assert action["mocap_anything_path"].startswith("person path: a person was found in"), action["mocap_anything_path"]
    assert "it followed the person found first" in action["mocap_anything_path"]
    got = blender_pose(bpy, obj, [b.name for b in obj.pose.bones], range(1, 21))
    assert np.isfinite(got).all() and np.abs(np.diff(got, axis=0)).max() > 1e-3  # it moves
    corner = dict(person_x=0.02, person_y=0.02)  # nobody there: the man on the box is left out, and it says so
    with pytest.warns(UserWarning, match="someone other than the person followed was seen"):
        away = ext.api.capture(obj, str(SPORTS2D), reference_frame=1, frame_start=1, frame_end=8, device="CPU", **corner)
    assert away["mocap_anything_path"].endswith("it looked for the person at (0.02, 0.02) of the frame and found nobody")
    with pytest.warns(UserWarning, match="Person X and Y were set, but only the person path .* took the general path"):
        other = ext.api.capture(
            obj, str(SPORTS2D), reference_frame=1, frame_start=1, frame_end=5, device="CPU", subject="OTHER", **corner
        )
    assert other["mocap_anything_path"] == "general path: Subject is Animal or Other"
    horse = build_metarig(bpy, "horse")
    horse.animation_data_create().action = bpy.data.actions.new("horse standing")
    horse.pose.bones[0].keyframe_insert("rotation_quaternion", frame=1)
    before = snapshot(bpy)
    with pytest.raises(ext.api.CaptureError, match="not a humanoid"):
        ext.api.capture(horse, str(SPORTS2D), reference_frame=1, frame_end=5, device="CPU", subject="PERSON")
    assert snapshot(bpy) == before
