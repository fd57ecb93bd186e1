"""The one capture pipeline (`model.pipeline`): streaming equals one pass, cancel while
decoding, frame-rate mapping, truncated files, checks before decoding, option bounds."""

import numpy as np
import pytest
import torch
from test_capture import untrained
from test_video import frame_index, write_video

from model import network, pipeline, streaming
from model.data import procedural
from model.facing import keep_heading, keeps_heading
from model.pipeline import CaptureError, CaptureOptions, capture_video, plan_frames
from model.rotations import axis_rotation, smooth_rotations
from model.skeleton import Skeleton
from model.video import VideoInfo, iter_frames, read_video, video_info


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "clip.avi"
    write_video(path, "MJPG", (80, 60), 45, 30.0)
    return str(path)


def rig(bones=20):
    motion = procedural.random_motion(procedural.random_skeleton(8, bones), 2, seed=8)
    return motion.skeleton, motion.positions()[0], motion.local_rotations[0]


def one_pass(net, path, sk, ref_p, ref_r, options):
    """The whole clip at once, through the numpy API with one chunk per stage."""
    frames = read_video(path)
    view = net.video_to_pose(frames, sk, ref_p, ref_r, chunk_frames=10_000)
    positions = view @ axis_rotation(2, np.radians([pipeline.VIEWS[options.view]]))[0].T
    rotations = net.pose_to_rotation(sk, ref_p, ref_r, positions, chunk_frames=10_000)
    if keeps_heading(options.facing, "general"):
        rotations = keep_heading(rotations, sk, ref_r)
    return positions, smooth_rotations(rotations, options.smoothing)


@pytest.mark.parametrize(
    "view, facing, smoothing, chunks",
    [
        ("FRONT", "REFERENCE", 0.0, (16, 32)),
        ("LEFT", "VIDEO", 1.5, (1, 7)),
        ("BACK", "REFERENCE", 4.0, (5, 3)),
        ("RIGHT", "AUTO", 10.0, (16, 32)),
    ],
)
def test_streamed_capture_equals_one_pass(clip, monkeypatch, view, facing, smoothing, chunks):
    monkeypatch.setattr(network, "VIDEO_CHUNK_FRAMES", chunks[0])
    monkeypatch.setattr(network, "CHUNK_FRAMES", chunks[1])
    net, (sk, ref_p, ref_r) = untrained(), rig()
    options = CaptureOptions(view=view, facing=facing, smoothing=smoothing, mapping="FRAME")
    plan = plan_frames(options, video_info(clip), scene_start=1, scene_fps=30.0)
    seen = []
    result = capture_video(net, clip, sk, ref_p, ref_r, plan, options, progress=seen.append)
    positions, rotations = one_pass(net, clip, sk, ref_p, ref_r, options)
    assert result.rotations.shape == (45, sk.num_joints, 3, 3) and not any("ended after" in w for w in result.warnings)
    assert result.pixels.shape == (45, sk.num_joints, 2) and np.isfinite(result.pixels).all()
    assert result.confidence.shape == (45,) and ((0 <= result.confidence) & (result.confidence <= 1)).all()
    # Equal up to float rounding: chunks of other sizes round matrix products differently, and
    # the crop's pixel interpolation turns a box that moved by 1e-6 px into slightly other
    # pixels (an error in the streaming itself is of the order of the values).
    assert np.abs(result.rotations - rotations).max() < 1e-3 and np.abs(result.positions - positions).max() < 1e-3
    np.testing.assert_array_equal(result.scene_frames, np.arange(1, 46))
    # Progress: monotone, counted in frames, ending at the total.
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and seen[-1].done == seen[-1].total == 45 and seen[-1].decoded == 45
    assert seen[0].stage == "decoding" and "45 frames" in str(seen[-1])


def test_camera_angle_turns_on_from_the_camera_option(clip):
    net, (sk, ref_p, ref_r) = untrained(), rig()

    def capture(**kwargs):
        options = CaptureOptions(mapping="FRAME", facing="VIDEO", **kwargs)
        plan = plan_frames(options, video_info(clip), scene_start=1, scene_fps=30.0)
        return capture_video(net, clip, sk, ref_p, ref_r, plan, options)

    right, front = capture(view="RIGHT"), capture(view="FRONT")
    np.testing.assert_allclose(capture(view="FRONT", camera_angle=90.0).rotations, right.rotations, atol=1e-9)
    np.testing.assert_allclose(capture(view="BACK", camera_angle=-180.0).positions, front.positions, atol=1e-9)
    assert np.abs(capture(view="FRONT", camera_angle=35.0).positions - front.positions).max() > 1e-3


def test_the_encoder_sees_each_frame_once_a_look_whatever_the_chunks(clip, monkeypatch):
    net, (sk, ref_p, ref_r) = untrained(), rig()
    encoder, seen = net.parts["video2pose"].encoder, []
    features = encoder.features
    monkeypatch.setattr(encoder, "features", lambda images: seen.append(len(images)) or features(images))
    monkeypatch.setattr(network, "VIDEO_CHUNK_FRAMES", 5)  # windows overlap by the halo: 2 frames each side
    options = CaptureOptions(mapping="FRAME")
    capture_video(net, clip, sk, ref_p, ref_r, plan_frames(options, video_info(clip), scene_start=1, scene_fps=30.0), options)
    assert net.locates and sum(seen) == 2 * 45  # the first look at the whole frame, the second at the crop


def test_sliding_equals_one_pass_for_any_chunking():
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(1, 1, 5)

    def fn(x):  # three replicate-padded convolutions: reach 6 frames
        y = x[None, None]
        for _ in range(3):
            y = conv(torch.nn.functional.pad(y, (2, 2), mode="replicate"))
        return y[0, 0]

    x = torch.randn(103)
    with torch.no_grad():
        whole = fn(x)
        for chunk in (1, 5, 16, 200):
            for piece in (1, 3, 50):
                stages = [streaming.Sliding(fn, 6, chunk), streaming.Sliding(lambda v: 2 * v, 0, chunk + 1)]
                out = torch.cat(list(streaming.chain(stages, x.split(piece))))
                assert torch.allclose(out, 2 * whole, atol=1e-6), (chunk, piece)
        wrong = torch.cat(list(streaming.chain([streaming.Sliding(fn, 2, 5)], x.split(5))))  # too small a halo
        assert not torch.allclose(wrong, whole, atol=1e-6)


def test_cancel_while_decoding_stops_with_nothing_held(clip):
    net, (sk, ref_p, ref_r) = untrained(), rig()
    options = CaptureOptions(mapping="FRAME")
    plan = plan_frames(options, video_info(clip), scene_start=1, scene_fps=30.0)
    seen = []
    with pytest.raises(pipeline.Cancelled) as caught:
        capture_video(net, clip, sk, ref_p, ref_r, plan, options, progress=seen.append, cancelled=lambda: len(seen) >= 3)
    assert seen[-1].stage == "decoding" and seen[-1].done == 0 and seen[-1].decoded == 3
    assert caught.value.__context__ is None
    tb = caught.value.__traceback__
    while tb is not None:  # no frame of the traceback keeps frames or results alive
        for value in tb.tb_frame.f_locals.values():
            size = value.nbytes if isinstance(value, np.ndarray) else value.numel() * 4 if isinstance(value, torch.Tensor) else 0
            assert size < 100_000
        tb = tb.tb_next


def test_frame_rate_mapping_by_time_and_frame_by_frame(tmp_path):
    path = tmp_path / "fast.avi"
    write_video(path, "MJPG", (64, 48), 50, 60.0)
    info = video_info(path)
    by_time = plan_frames(CaptureOptions(), info, scene_start=1, scene_fps=24.0)
    # Scene frame 1 + k at k / 24 s: the 60 fps frame nearest in time is round(2.5 k).
    np.testing.assert_array_equal(by_time.video_frames[:6], [0, 3, 5, 8, 10, 13])
    assert len(by_time) == 20 and by_time.scene_frames[-1] == 20  # 49 / 2.5 -> 19.6: keys at offsets 0..19
    decoded = [frame_index(f) for _, f in iter_frames(path, by_time.video_frames)]
    assert decoded == list(by_time.video_frames % 20)
    one_to_one = CaptureOptions(mapping="FRAME", stride=2, frame_start=5, frame_end=15)
    by_frame = plan_frames(one_to_one, info, scene_start=1, scene_fps=24.0)
    np.testing.assert_array_equal(by_frame.scene_frames, [5, 7, 9, 11, 13, 15])
    np.testing.assert_array_equal(by_frame.video_frames, [0, 2, 4, 6, 8, 10])
    slow = plan_frames(CaptureOptions(video_start=4), VideoInfo(10, 12.0, 8, 8), scene_start=0, scene_fps=24.0)
    np.testing.assert_array_equal(slow.video_frames, [4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9])  # each video frame held twice
    with pytest.raises(CaptureError, match="shorten the range"):
        plan_frames(CaptureOptions(frame_start=1, frame_end=30), info, scene_start=1, scene_fps=24.0)
    with pytest.raises(CaptureError, match="is empty"):
        plan_frames(CaptureOptions(frame_start=5, frame_end=4), info, scene_start=1, scene_fps=24.0)


def test_truncated_file_is_captured_on_what_decodes_with_a_warning(tmp_path):
    whole = tmp_path / "whole.avi"
    write_video(whole, "MJPG", (64, 48), 40, 30.0)
    cut = tmp_path / "cut.avi"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    info = video_info(cut)
    assert info.frames == 40  # the header still promises them all
    net, (sk, ref_p, ref_r) = untrained(), rig()
    options = CaptureOptions(mapping="FRAME")
    plan = plan_frames(options, info, scene_start=1, scene_fps=30.0)
    result = capture_video(net, cut, sk, ref_p, ref_r, plan, options)
    got = len(result.rotations)
    assert 0 < got < 40 and len(result.scene_frames) == got
    ended = [w for w in result.warnings if "ended after" in w]
    assert len(ended) == 1 and f"ended after {got} of the 40 frames" in ended[0]


def test_rig_is_refused_before_any_frame_is_decoded(clip):
    net, (sk, ref_p, ref_r) = untrained(), rig()
    big = procedural.random_skeleton(1, 256)
    big = Skeleton(np.r_[big.parents, 0], np.r_[big.rest_heads, big.rest_heads[:1]], np.r_[big.rest_frames, big.rest_frames[:1]])
    options = CaptureOptions(mapping="FRAME")
    plan = plan_frames(options, video_info(clip), scene_start=1, scene_fps=30.0)
    asked = []
    with pytest.raises(CaptureError, match="257 bones; at most 256"):
        capture_video(net, clip, big, np.zeros((257, 3)), np.tile(np.eye(3), (257, 1, 1)), plan, options, cancelled=asked.append)
    with pytest.raises(CaptureError, match="reference positions must be finite"):
        capture_video(net, clip, sk, np.full_like(ref_p, np.nan), ref_r, plan, options, cancelled=asked.append)
    assert asked == []  # never reached the decoder


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"smoothing": float("nan")}, "smoothing must be a finite number"),
        ({"smoothing": 11.0}, "smoothing must be between 0.0 and 10.0"),
        ({"stride": 0}, "stride must be between 1 and 1000"),
        ({"stride": 2.5}, "stride must be a whole number"),
        ({"stride": True}, "stride must be a whole number"),
        ({"view": "ABOVE"}, "view must be one of FRONT"),
        ({"camera_angle": 200.0}, "camera angle must be between -180.0 and 180.0"),
        ({"mapping": "time"}, "mapping must be one of TIME, FRAME"),
        ({"frame_end": 2_000_000}, "frame end must be between"),
        ({"video_start": -1}, "video start must be between 0"),
    ],
)
def test_options_are_checked_in_one_place(kwargs, message):
    with pytest.raises(CaptureError, match=message):
        CaptureOptions(**kwargs)
