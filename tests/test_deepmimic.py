import json

import numpy as np
import pytest

pytest.importorskip("pybullet_data")
from model.data.deepmimic import clip_paths, load_deepmimic  # noqa: E402
from model.data.motion import MotionError  # noqa: E402


def test_all_humanoid_clips_load():
    paths = clip_paths()
    assert len(paths) >= 10
    for path in paths:
        clip = load_deepmimic(path)
        assert clip.skeleton.num_joints == 15 and clip.num_frames > 10
        assert np.isfinite(clip.positions()).all()
    # Y up, in metres: a walking humanoid's first frame spans 1 to 2 m vertically.
    walk = load_deepmimic(next(p for p in paths if "walk" in p.name))
    height = np.ptp(walk.positions()[0, :, 1])
    assert 1.0 < height < 2.0 and walk.fps == pytest.approx(30, abs=0.1)


def test_knees_are_hinges_and_wrists_never_move():
    clip = load_deepmimic(next(p for p in clip_paths() if "run" in p.name))
    knee = clip.skeleton.names.index("right_knee")
    axis_z = clip.local_rotations[:, knee] @ np.array([0.0, 0.0, 1.0])
    assert np.abs(axis_z - [0, 0, 1]).max() < 1e-9  # rotation about the URDF axis only
    wrist = clip.skeleton.names.index("left_wrist")
    assert np.allclose(clip.local_rotations[:, wrist], np.eye(3))


def test_wrong_frame_width_is_rejected(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(json.dumps({"Loop": "wrap", "Frames": [[0.03] + [0.0] * 10]}))
    with pytest.raises(MotionError, match="values"):
        load_deepmimic(path)
