"""Video-to-Pose and end-to-end capture: the numpy API, joint training, the Cycles-rendered
evaluation clips, and the shipped checkpoint's accuracy on a small fixed rendered set."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model import network, train
from model.data import evalsets, procedural, video_cache
from model.facing import keep_heading
from model.ik import InputError
from model.kinematics import forward_kinematics
from model.pose2rot import P2RConfig, PoseToRotation
from model.video import prepare_frames
from model.video2pose import V2PConfig, VideoToPose

ROOT = Path(__file__).resolve().parents[1]
SMALL_V2P = V2PConfig(image_size=32, width=32, heads=2, query_layers=1, decoder_layers=2)
SMALL_P2R = P2RConfig(width=32, heads=2, rest_layers=1, ref_layers=1, pose_layers=1, decoder_layers=1)


def untrained() -> network.Network:
    torch.manual_seed(0)
    p2r = PoseToRotation(SMALL_P2R)
    torch.nn.init.normal_(p2r.head[1].weight, std=0.1)
    return network.Network({"video2pose": VideoToPose(SMALL_V2P), "pose2rot": p2r})


def example(frames=10, bones=20):
    motion = procedural.random_motion(procedural.random_skeleton(4, bones), frames + 1, seed=4)
    video = np.random.default_rng(0).integers(0, 256, (frames, 40, 60, 3), dtype=np.uint8)
    return motion.skeleton, video, motion.positions()[0], motion.local_rotations[0]


def test_video_to_pose_and_capture_shapes_units_and_chunking():
    net = untrained()
    sk, video, ref_p, ref_r = example()
    P = net.video_to_pose(video, sk, ref_p, ref_r)
    assert P.shape == (10, sk.num_joints, 3) and P.dtype == np.float64
    assert np.abs(P[:, sk.roots[0]]).max() == 0  # root at the origin
    assert 0.01 * sk.scale < np.abs(P).max() < 100 * sk.scale  # in the skeleton's units
    np.testing.assert_allclose(net.video_to_pose(video, sk, ref_p, ref_r, chunk_frames=3), P, atol=1e-5)
    R = net.capture(video, sk, ref_p, ref_r)
    assert R.shape == (10, sk.num_joints, 3, 3)
    assert np.allclose(R @ R.swapaxes(-1, -2), np.eye(3), atol=1e-5)
    seen = net.capture(video, sk, ref_p, ref_r, facing="VIDEO")  # the network's heading, as Pose-to-Rotation gives it
    np.testing.assert_allclose(seen, net.pose_to_rotation(sk, ref_p, ref_r, P), atol=1e-9)
    np.testing.assert_allclose(R, keep_heading(seen, sk, ref_r), atol=1e-9)  # by default, the reference's
    with pytest.raises(InputError, match="facing"):
        net.capture(video, sk, ref_p, ref_r, facing="BACK")
    assert net.video_to_pose(video[:0], sk, ref_p, ref_r).shape == (0, sk.num_joints, 3)


def test_video_api_rejects_bad_input():
    net = untrained()
    sk, video, ref_p, ref_r = example()
    with pytest.raises(InputError, match="uint8 RGB"):
        net.video_to_pose(video.astype(np.float32), sk, ref_p, ref_r)
    with pytest.raises(InputError, match="uint8 RGB"):
        net.video_to_pose(video[..., :2], sk, ref_p, ref_r)
    with pytest.raises(InputError, match="NaN"):
        net.video_to_pose(video, sk, np.full_like(ref_p, np.nan), ref_r)
    with pytest.raises(InputError):
        net.video_to_pose(video, sk, ref_p[:3], ref_r)
    big = procedural.random_skeleton(1, 256)
    big = type(big)(np.r_[big.parents, 0], np.r_[big.rest_heads, big.rest_heads[:1]], np.r_[big.rest_frames, big.rest_frames[:1]])
    with pytest.raises(InputError, match="at most 256"):
        net.video_to_pose(video, big, np.zeros((257, 3)), np.tile(np.eye(3), (257, 1, 1)))


def test_joint_training_lowers_the_loss():
    torch.manual_seed(0)
    parts = torch.nn.ModuleDict({"video2pose": VideoToPose(SMALL_V2P), "pose2rot": PoseToRotation(SMALL_P2R)})
    examples = train.video_examples([21, 22], 6, 12, SMALL_V2P.image_size)
    batch = train.video_batch(examples, "cpu")
    optimizer = torch.optim.Adam(parts.parameters(), lr=2e-3)
    losses, v2p_moved = [], False
    before = parts["video2pose"].head[-1].weight.detach().clone()
    for _ in range(30):
        out, local, inputs = train.end_to_end(parts, batch, examples, np.array([True, True]))
        loss = train.video_loss(out, batch)
        loss = loss + train.rotation_loss(local, batch["rotations"], batch["graph"].valid, inputs.is_root)
        optimizer.zero_grad()
        loss.backward()
        v2p_moved |= bool(parts["video2pose"].encoder.project[0].weight.grad.abs().sum() > 0)
        assert all(p.grad is None for p in parts["video2pose"].encoder.backbone.parameters())  # frozen
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0] and v2p_moved
    assert not torch.equal(before, parts["video2pose"].head[-1].weight)


def test_the_shape_loss_sees_the_shape_whichever_way_the_body_faces():
    """`train.shape_loss`: nothing for the true body turned any way per frame (and moved),
    about the position loss's figure for a changed shape facing the right way, padding ignored,
    and a gradient that moves the prediction toward the truth's shape."""
    from model.rotations import axis_angle_to_matrix

    rng = np.random.default_rng(0)
    true = torch.tensor(rng.normal(size=(2, 5, 9, 3)), dtype=torch.float32)
    valid = torch.ones(2, 9, dtype=torch.bool)
    valid[1, 7:] = False  # the second clip has 7 joints
    turns = axis_angle_to_matrix(torch.tensor(rng.normal(size=(2, 5, 1, 3)), dtype=torch.float32))
    turned = (turns @ true[..., None])[..., 0] + 3.0
    turned[1, :, 7:] = 100.0  # padding: whatever is there does not count
    assert train.shape_loss(turned, true, valid) < 1e-3  # (the distance's own epsilon is 1e-4)
    assert train.position_loss(turned, true, valid) > 1.0
    changed = true + torch.tensor(rng.normal(0, 0.05, true.shape), dtype=torch.float32)
    changed = changed - changed[:, :, :7].mean(2, keepdim=True) + true[:, :, :7].mean(2, keepdim=True)
    valid7 = valid.clone()
    valid7[0, 7:] = False
    shape, position = train.shape_loss(changed, true, valid7), train.position_loss(changed, true, valid7)
    assert 0.7 * position < shape <= position  # (a small turn fits some of the noise)
    pred = turned.clone().requires_grad_(True)
    (train.shape_loss(pred + torch.tensor(rng.normal(0, 0.1, true.shape), dtype=torch.float32), true, valid)).backward()
    assert pred.grad[0].abs().sum() > 0 and pred.grad[1, :, 7:].abs().sum() == 0


def test_video_training_stages_write_checkpoints(tmp_path):
    small = ["--width", "16", "--image-size", "32", "--frames", "4", "--clips", "2", "--max-bones", "8", "--val-clips", "1"]
    v2p = tmp_path / "v2p.safetensors"
    assert train.main(["--stage", "v2p", "--out", str(v2p), "--steps", "2", "--val-every", "2", *small]) == 0
    info = json.loads(v2p.with_suffix(".json").read_text())
    assert info["stage"] == "v2p" and {"mpjpe_cm", "pa_mpjpe_cm", "hold_pa_mpjpe_cm", "body_turn_deg"} <= set(
        info["training"]["history"][-1]
    )
    p2r = tmp_path / "p2r.safetensors"
    assert train.main(["--stage", "p2r", "--out", str(p2r), "--steps", "1", "--tokens", "60", *small[:2], *small[4:]]) == 0
    joint = tmp_path / "joint.safetensors"
    shaped = ["--shape", "1", *small]
    assert train.main(["--stage", "joint", "--init", str(v2p), str(p2r), "--out", str(joint), "--steps", "2", *shaped]) == 0
    info = json.loads(joint.with_suffix(".json").read_text())
    assert info["stage"] == "joint" and {"network_deg", "ik_deg", "mpjpe_cm"} <= set(info["training"]["history"][-1])
    sk, video, ref_p, ref_r = example(frames=4)
    assert network.Network.load(joint).capture(video, sk, ref_p, ref_r).shape == (4, sk.num_joints, 3, 3)


def test_moving_window_places_and_zoom():
    """The window's joint places follow the pixels it shows, and with `max_zoom` the
    window enlarges fewer pixels (a blurred subject, as a capture's capped crop sees a
    small one) without changing what it frames."""
    R, T = 208, 3
    video = np.zeros((T, R, R, 3), np.uint8)
    uv = np.array([[[-0.4, 0.3]]] * T)
    x, y = ((uv[0, 0] + 1) / 2 * R).astype(int)
    video[:, y - 2 : y + 2, x - 2 : x + 2] = 255  # a 4-px dot on the joint

    def window(max_zoom, seed):
        frames, places = video_cache.moving_window(video, uv, np.random.default_rng(seed), 160, max_zoom)
        brightest = np.unravel_index(frames[0, :, :, 0].argmax(), (160, 160))[::-1]
        np.testing.assert_allclose((places[0, 0] + 1) / 2 * 160, brightest, atol=3)
        return (frames[0, :, :, 0] > 40).sum() / (frames[0, :, :, 0] > 200).sum().clip(1)  # halo over core

    sharp = np.median([window(1.0, s) for s in range(8)])
    blurred = np.median([window(2.0, s) for s in range(8)])
    assert blurred > 1.5 * sharp


def test_cached_video_training(tmp_path):
    """Clips rendered once with the frozen encoder's features cached train V2P exactly as
    clips rendered on the fly: the cache holds what the encoder would compute."""
    small = ["--frames", "4", "--image-size", "32"]
    assert video_cache.main(["--out", str(tmp_path / "train"), "--clips", "3", *small]) == 0
    assert video_cache.main(["--out", str(tmp_path / "val"), "--clips", "1", "--validation", *small]) == 0
    cached = video_cache.load(tmp_path / "train")
    assert len(cached) == 3 and all(e["features"][0].shape == (4, 16, 40) for e in cached)
    encoder = VideoToPose(V2PConfig(image_size=32)).encoder
    video = video_cache.render_example(video_cache.FIRST_SEED, 4, 32, 0.5)["video"]
    fresh = encoder.features(prepare_frames(video, 32))
    for a, b in zip(fresh, cached[0]["features"], strict=True):
        torch.testing.assert_close(a.half(), b)
    assert not any(video_cache.VALIDATION_SEED <= int(p.stem.split("_")[1]) for p in (tmp_path / "train").glob("*.npz"))
    out = tmp_path / "v2p.safetensors"
    args = ["--stage", "v2p", "--out", str(out), "--steps", "2", "--val-every", "2", "--clips", "2", "--width", "16"]
    assert train.main([*args, "--cache", str(tmp_path / "train"), "--val-cache", str(tmp_path / "val"), *small]) == 0
    history = json.loads(out.with_suffix(".json").read_text())["training"]["history"]
    assert {"mpjpe_cm", "uv_px"} <= set(history[-1])
    joint = tmp_path / "joint.safetensors"
    args = ["--stage", "joint", "--init", str(out), str(network.POSE2ROT_WEIGHTS), "--out", str(joint), "--steps", "1"]
    caches = ["--cache", str(tmp_path / "train"), str(tmp_path / "val"), "--cache-share", "1", "1"]  # two caches, half each
    assert train.main([*args, "--clips", "2", *caches, "--val-cache", str(tmp_path / "val"), *small]) == 0
    history = json.loads(joint.with_suffix(".json").read_text())["training"]["history"]
    assert {"mpjpe_cm", "uv_px", "network_deg", "ik_deg"} <= set(history[-1])


# ---- Cycles-rendered clips and the shipped checkpoint ---------------------------------

SMALL_SET = ["basic_human.proc@35", "horse.proc@-60", "cmu.01_01@0"]
# Measured (the shipped capture, Smoothing 3, Facing REFERENCE = AUTO here; scored in the scene, each clip
# told the Camera option nearest its camera, `model.evaluate_video`): MPJPE 23.34 cm, end-to-end
# 20.63 deg, V2P + IK 42.41 deg; holding the reference pose 22.98 cm, 20.64 deg, level with the
# capture on these three clips (over the 23-clip evaluation set the capture is the closer on
# rotation, BENCHMARKS.md), so these bounds guard against regressions rather than beat the
# do-nothing predictor. An untrained V2P put validation joints about 40 cm off; a P2R that does
# nothing ties the IK.
MPJPE_BOUND_CM, ROTATION_BOUND_DEG, RATIO_TO_IK = 24.5, 22.0, 0.6


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A small fixed set rendered with Cycles by the evaluation-set script."""
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("rendered")
    command = [sys.executable, str(ROOT / "scripts/render_evalset.py"), "--out", str(out), "--frames", "24", "--samples", "8"]
    subprocess.run([*command, "--clips", *SMALL_SET], check=True, capture_output=True, cwd=ROOT)
    return out


def test_cycles_ground_truth_agrees_with_fk_and_decodes(rendered):
    from model.video import read_video

    index = json.loads((rendered / "index.json").read_text())
    assert [c["clip"] for c in index] == SMALL_SET and max(c["fk_vs_blender"] for c in index) < 1e-4
    for clip in evalsets.load_video_set(rendered):
        heads = forward_kinematics(clip.skeleton, clip.rotations)[1]
        root = clip.skeleton.roots[0]
        np.testing.assert_allclose(heads - heads[:, root : root + 1], clip.heads - clip.heads[:, root : root + 1], atol=1e-4)
        frames = read_video(clip.video)
        assert frames.shape == (24, 128, 128, 3) and frames.std() > 5


def test_cycles_training_clips_are_cached_like_the_torch_ones(tmp_path):
    """`scripts/render_training.py` renders clips with Cycles into shards that training
    reads as it reads the torch renderer's: features of every frame, and targets that
    agree with one another (the heads are the rotations' forward kinematics)."""
    pytest.importorskip("bpy")
    command = [sys.executable, str(ROOT / "scripts/render_training.py"), "--out", str(tmp_path), "--clips", "2", "--validation"]
    subprocess.run([*command, "--frames", "3", "--image-size", "32"], check=True, capture_output=True, cwd=ROOT)
    cached = video_cache.load(tmp_path)
    assert len(cached) == 2 and all(e["features"][0].shape == (3, 16, 40) for e in cached)
    for e in cached:
        sk = e["skeleton"]
        heads = forward_kinematics(sk, e["rotations"].double().numpy())[1]
        heads = (heads - heads[:, sk.roots[:1]]) / sk.scale
        np.testing.assert_allclose(heads, e["positions"].numpy(), atol=1e-5)
        assert np.abs(e["uv"].numpy()).mean() < 1.5  # the joints are in (or about) the window
    with np.load(next(tmp_path.glob("shard_*.npz"))) as shard:
        assert shard["0.first_frame"].shape == (32, 32, 3) and shard["0.first_frame"].std() > 1


@pytest.fixture(scope="module")
def shipped():
    return network.load_pretrained()


def test_shipped_capture_records_how_it_was_made(shipped):
    training = shipped.info["training"]
    assert shipped.info["stage"] == "joint" and training["command"].startswith("python -m model.train --stage joint")
    assert len(training["git_commit"]) == 40 and training["history"]


def test_shipped_capture_keeps_its_accuracy(rendered):
    from model.evaluate_video import Pipeline, evaluate_clip, hold_scores

    pipeline = Pipeline(network.CAPTURE_WEIGHTS, network.CAPTURE_WEIGHTS)  # the capture pipeline, from the files
    mpjpe, e2e, v2p_ik, hold_mpjpe, hold = [], [], [], [], []
    for clip in evalsets.load_video_set(rendered):
        net, solved = evaluate_clip(pipeline, clip)
        mpjpe.append(net[0])
        e2e.append(net[1])
        v2p_ik.append(solved[1])
        held = hold_scores(clip)
        hold_mpjpe.append(held[0])
        hold.append(held[1])
    print(
        f"MPJPE {np.mean(mpjpe):.2f} cm, end-to-end {np.mean(e2e):.2f} deg, V2P + IK {np.mean(v2p_ik):.2f} deg, "
        f"holding the reference {np.mean(hold_mpjpe):.2f} cm, {np.mean(hold):.2f} deg"
    )
    assert np.mean(mpjpe) < MPJPE_BOUND_CM and np.mean(e2e) < ROTATION_BOUND_DEG
    assert np.mean(e2e) < RATIO_TO_IK * np.mean(v2p_ik)


def test_pipelines_are_named_apart_when_their_checkpoints_share_a_stem():
    from model.evaluate import label

    pipelines = [["w/capture.safetensors", "w/pose2rot.safetensors"], ["w/capture.safetensors", "run/pose2rot.safetensors"]]
    checkpoints = [c for p in pipelines for c in p]
    names = [" + ".join(label(c, checkpoints) for c in p) for p in pipelines]
    assert names == ["capture + w/pose2rot", "capture + run/pose2rot"]
