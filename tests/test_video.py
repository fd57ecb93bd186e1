"""The video reader on real files encoded here with OpenCV, and its errors on bad input."""

import cv2
import numpy as np
import pytest

from model.video import VideoError, prepare_frames, read_video, video_info


def write_video(path, fourcc: str, size: tuple[int, int], frames: int, fps: float) -> np.ndarray:
    """Frames whose mean brightness encodes their index (robust to lossy codecs)."""
    w, h = size
    images = np.zeros((frames, h, w, 3), np.uint8)
    for t in range(frames):
        images[t] = 20 + 10 * (t % 20)
        images[t, : h // 2, : w // 2] = (255, 0, 0)  # red top-left (RGB): catches BGR/RGB mix-ups
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"this OpenCV cannot write {fourcc}"
    for image in images:
        writer.write(image[..., ::-1].copy())
    writer.release()
    return images


def frame_index(frame: np.ndarray) -> int:
    h, w = frame.shape[:2]
    return round((float(frame[h // 2 :, w // 2 :].mean()) - 20) / 10)


@pytest.mark.parametrize(
    "name, fourcc, size, fps",
    [
        ("clip.mp4", "mp4v", (160, 90), 30.0),
        ("clip.avi", "MJPG", (64, 48), 24.0),
        ("clip.mov", "mp4v", (48, 96), 60.0),
        ("clip.mkv", "XVID", (100, 100), 25.0),
    ],
)
def test_reads_encoded_files_of_any_codec_size_and_fps(tmp_path, name, fourcc, size, fps):
    path = tmp_path / name
    images = write_video(path, fourcc, size, 12, fps)
    info = video_info(path)
    assert (info.width, info.height) == size and info.fps == pytest.approx(fps, rel=0.01) and info.frames == 12
    frames = read_video(path)
    assert frames.shape == images.shape and frames.dtype == np.uint8
    assert [frame_index(f) for f in frames] == list(range(12))
    top_left = frames[:, 2, 2].astype(int)
    assert (top_left[:, 0] > 200).all() and (top_left[:, 2] < 60).all()  # red stays red: RGB order

    part = read_video(path, start=3, stop=11, stride=3)
    assert [frame_index(f) for f in part] == [3, 6, 9]
    assert [frame_index(f) for f in read_video(path, start=10, stop=1000)] == [10, 11]


def test_prepare_frames_letterboxes_any_size(tmp_path):
    frames = np.zeros((2, 30, 60, 3), np.uint8)
    frames[:, :, :, 1] = 200
    out = prepare_frames(frames, 32)
    assert out.shape == (2, 3, 32, 32) and out.dtype.is_floating_point
    green = out[0, 1] > 0.5
    assert green[8:24].all() and not green[:7].any() and not green[25:].any()  # centred, aspect kept
    tall = prepare_frames(np.full((1, 64, 16, 3), 255, np.uint8), 32)
    assert tall[0, 0, :, 12:20].min() > 0.99 and tall[0, 0, :, :11].max() == 0
    with pytest.raises(VideoError, match="uint8 RGB"):
        prepare_frames(np.zeros((2, 8, 8), np.uint8), 32)
    with pytest.raises(VideoError, match="uint8 RGB"):
        prepare_frames(np.zeros((2, 8, 8, 3), np.float32), 32)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(VideoError, match="no video file"):
        read_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoError, match="empty"):
        read_video(empty)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match="not a video|no decodable frames|no video stream"):
        read_video(garbage)
    text = tmp_path / "notes.avi"
    text.write_text("not a video at all\n" * 100)
    with pytest.raises(VideoError, match="not a video|no decodable frames|no video stream"):
        read_video(text)

    zero = tmp_path / "zero.avi"  # a valid container holding no frames
    cv2.VideoWriter(str(zero), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (32, 32)).release()
    with pytest.raises(VideoError):
        read_video(zero)

    good = tmp_path / "good.avi"
    write_video(good, "MJPG", (32, 32), 40, 30.0)
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(good.read_bytes()[:600])  # the header survives, the frames do not
    with pytest.raises(VideoError):
        read_video(truncated)


def test_absurd_frame_ranges_are_refused(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, "MJPG", (32, 32), 5, 30.0)
    for kwargs in ({"start": -1}, {"start": 4, "stop": 4}, {"start": 3, "stop": 1}, {"stride": 0}):
        with pytest.raises(VideoError, match="bad frame range"):
            read_video(path, **kwargs)
    with pytest.raises(VideoError, match="no frames from frame 99"):
        read_video(path, start=99)
