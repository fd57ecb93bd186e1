"""Following one person when several are filmed (model.follow): with a stand-in detector
that behaves as BlazePose does (it tracks whom it found, and picks up anyone else when
that person is gone), and on real footage with two people."""

from pathlib import Path

import numpy as np
import pytest

from model import follow, landmarks, pipeline
from model.video import iter_frames

SPORTS2D = Path(__file__).resolve().parents[1] / "examples" / "sports2d.mp4"  # extracted by scripts/setup.sh
H, W = 200, 400


def person(x: float, y: float, side: float = 40.0) -> np.ndarray:
    """Landmarks of a person whose body's box is centred at (x, y)."""
    marks = np.full((landmarks.COUNT, landmarks.PACKED), np.nan, dtype=np.float32)
    rng = np.random.default_rng(0)
    marks[:, :2] = [x, y] + rng.uniform(-side / 2, side / 2, (landmarks.COUNT, 2))
    marks[landmarks.BODY[:2], :2] = [[x - side / 2, y - side / 2], [x + side / 2, y + side / 2]]
    marks[:, 2:6], marks[:, 6] = 0.0, 0.9
    return marks


class Scene:
    """Two people: A walks right from x = 60 and is hidden on frames 10-19; B stands at
    x = 320 from frame 5. The stand-in detector sees whom it tracked if still visible,
    else the first visible person not painted over (A before B)."""

    def __init__(self):
        self.tracked = None

    @staticmethod
    def places(t: int) -> dict[str, tuple[float, float]]:
        out = {}
        if not 10 <= t < 20:
            out["A"] = (60.0 + 4 * t, 100.0)
        if t >= 5:
            out["B"] = (320.0, 100.0)
        return out

    def detector(self, frames: list[np.ndarray]):
        t = iter(range(len(frames)))

        def detect(frame: np.ndarray) -> np.ndarray:
            now = next(t)
            visible = {k: p for k, p in self.places(now).items() if frame[int(p[1]), int(p[0])].max() != follow.PAINT}
            if self.tracked not in visible:
                self.tracked = next(iter(visible), None)
            return person(*visible[self.tracked]) if self.tracked else person(np.nan, np.nan)

        return detect


def follow_scene(at=None, count: int = 30):
    scene, frames = Scene(), [np.zeros((H, W, 3), np.uint8) for _ in range(count)]
    follower = follow.Follower(scene.detector(frames), at)
    centres = [follow.body_box(follower(f)) for f in frames]
    return [None if b is None else b.centre for b in centres], follower


def test_the_first_person_found_is_followed_and_others_left_out():
    centres, follower = follow_scene()
    for t, centre in enumerate(centres):
        if "A" in Scene.places(t):
            np.testing.assert_allclose(centre, Scene.places(t)["A"])  # A whenever A is there
        else:
            assert centre is None  # never B, though the detector turned to B
    assert follower.others == [10]  # B seen once: then painted over, so the detector looks for A again


def test_the_person_at_a_place_is_followed():
    centres, follower = follow_scene(at=(320 / W, 100 / H))
    assert all(c is None for c in centres[:5])  # A only: not the one asked for
    for c in centres[5:]:
        np.testing.assert_allclose(c, (320.0, 100.0))
    assert follower.others == [0]  # A, once: then painted over


def test_a_place_needs_both_coordinates():
    with pytest.raises(pipeline.CaptureError, match="person x and person y"):
        pipeline.CaptureOptions(person_x=0.5)
    assert pipeline.CaptureOptions(person_x=0.25, person_y=1.0).person_at == (0.25, 1.0)
    with pytest.raises(pipeline.CaptureError, match="between"):
        pipeline.CaptureOptions(person_x=1.5, person_y=0.5)


@pytest.mark.skipif(not landmarks.available(), reason="needs mediapipe 0.10.21 (Python 3.11)")
@pytest.mark.skipif(not SPORTS2D.exists(), reason="the sports2d demo video comes with scripts/setup.sh")
def test_two_people_in_real_footage():
    """In the sports2d clip a man stands on a box and jumps off it to the right while a
    woman walks across to the left. Left alone, the detector turns from him to her (frames
    170-200, on the left third of the frame); the follower stays with him and says when
    someone else was seen."""
    frames = [f for _, f in iter_frames(SPORTS2D, range(200))]
    width = frames[0].shape[1]
    with landmarks.Detector() as detect:
        plain = [follow.body_box(detect(f)) for f in frames]
    assert sum(b is not None and b.centre[0] < width / 3 for b in plain) > 10  # the woman, taken for him
    with landmarks.Detector() as detect:
        follower = follow.Follower(detect)
        followed = [follow.body_box(follower(f)) for f in frames]
    assert not any(b is not None and b.centre[0] < width / 3 for b in followed)
    assert sum(b is not None for b in followed[10:160]) == 150  # him, on the box
    assert follower.others
