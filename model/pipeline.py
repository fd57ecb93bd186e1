"""The one capture pipeline: a video file onto a rig, streaming (DESIGN.md section 6).

    options = CaptureOptions(view="LEFT", smoothing=1.0)
    plan = plan_frames(options, video_info("clip.mp4"), scene_start=1, scene_fps=24.0)
    result = capture_video(net, "clip.mp4", skeleton, ref_positions, ref_rotations, plan, options)

Frames are decoded one at a time and letterboxed at once to the network's input size; then
Video-to-Pose, the turn from the view frame into the skeleton's space, Pose-to-Rotation
and the smoothing run over chunks with the halos their temporal windows need
(`model.streaming`), so the result equals one pass and memory does not grow with the
clip beyond the output arrays. Progress is reported and cancel checked after every
decoded frame. Every caller (the add-on's worker thread, its API, operator and command
line, `python -m model.capture`, the evaluation, the benchmarks) goes through
`capture_video`; the options, with their defaults, bounds and help, are defined once in
`CaptureOptions`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from . import anchor, crop, landmarks, streaming
from .facing import FACINGS, keep_heading, keeps_heading
from .follow import Follower
from .ik import InputError
from .person import SUBJECTS, Choice, PathError, choose, probe_frames
from .rotations import axis_rotation, smooth_rotations
from .skeleton import Skeleton
from .video import VideoError, VideoInfo, iter_frames, prepare_frames

# Where the camera stood, as Blender's numpad views name them -> the yaw (about Z, degrees)
# taking the view frame (camera on -Y looking toward +Y) to the skeleton's world orientation.
VIEWS = {"FRONT": 0.0, "RIGHT": 90.0, "BACK": 180.0, "LEFT": -90.0}
DEVICES = ("AUTO", "CPU", "CUDA")
MAPPINGS = ("TIME", "FRAME")
MAX_FRAME = 1_048_574  # Blender's largest frame number (MAXFRAME)
MAX_SMOOTHING = 10.0


class CaptureError(ValueError):
    """Input a capture cannot use as it is (rig, reference frame, video, range, options); the
    message says why and what to do."""


class Cancelled(Exception):
    """The user stopped the capture."""


def _option(label: str, help: str, kind: type, *, minimum=None, maximum=None, choices=None, optional=False) -> dict:
    return {"label": label, "help": help, "kind": kind, "min": minimum, "max": maximum, "choices": choices, "optional": optional}


@dataclass(frozen=True)
class CaptureOptions:
    """Every capture option, once: the add-on's panel properties, the API's keywords and the
    command line's flags are made from (or checked against) these fields. None, where
    allowed, means the default the help names."""

    reference_frame: int | None = field(
        default=None,
        metadata=_option(
            "Reference",
            "A keyed frame where the rig is posed as the subject is in the video (default: the current frame)",
            int,
            minimum=-MAX_FRAME,
            maximum=MAX_FRAME,
            optional=True,
        ),
    )
    frame_start: int | None = field(
        default=None,
        metadata=_option(
            "Start",
            "Scene frame of the first captured frame (default: the scene's start)",
            int,
            minimum=-MAX_FRAME,
            maximum=MAX_FRAME,
            optional=True,
        ),
    )
    frame_end: int | None = field(
        default=None,
        metadata=_option(
            "End",
            "Last scene frame to capture (default: as far as the video goes)",
            int,
            minimum=-MAX_FRAME,
            maximum=MAX_FRAME,
            optional=True,
        ),
    )
    video_start: int = field(
        default=0,
        metadata=_option("Video Offset", "Video frame (from 0) that lands on the start frame", int, minimum=0, maximum=10**8),
    )
    stride: int = field(
        default=1,
        metadata=_option("Stride", "Key every n-th scene frame (Blender interpolates between)", int, minimum=1, maximum=1000),
    )
    mapping: str = field(
        default="TIME",
        metadata=_option(
            "Timing",
            "TIME: each key takes the video frame nearest its scene time (a 120 fps clip on a 24 fps scene keeps real "
            "speed); FRAME: video frame n onto scene frame n, whatever the rates",
            str,
            choices=MAPPINGS,
        ),
    )
    view: str = field(
        default="FRONT",
        metadata=_option("Camera", "Where the camera stood, relative to the rig's front", str, choices=tuple(VIEWS)),
    )
    camera_angle: float = field(
        default=0.0,
        metadata=_option(
            "Camera Angle",
            "Degrees further round than Camera, seen from above the way FRONT turns to RIGHT (a camera between the "
            "front and the right: FRONT and 45)",
            float,
            minimum=-180.0,
            maximum=180.0,
        ),
    )
    facing: str = field(
        default="AUTO",  # what one camera leaves most open (BENCHMARKS.md, "the body keeps the reference's heading")
        metadata=_option(
            "Facing",
            "REFERENCE: the body keeps the reference's heading (its turn about the scene's up) and takes its tilt and "
            "every joint below from the video; VIDEO: the heading from the video too, for subjects that turn around; "
            "AUTO: VIDEO on the person path, REFERENCE on the general path",
            str,
            choices=FACINGS,
        ),
    )
    device: str = field(
        default="AUTO",
        metadata=_option("Device", "AUTO: CUDA when torch sees a GPU, else the CPU", str, choices=DEVICES),
    )
    subject: str = field(
        default="AUTO",
        metadata=_option(
            "Subject",
            "AUTO: the person path when the rig is a humanoid and a person is seen in the video, else the general "
            "path; PERSON: always the person path (a humanoid rig); OTHER: the general path (animals, anything)",
            str,
            choices=SUBJECTS,
        ),
    )
    person_x: float | None = field(
        default=None,
        metadata=_option(
            "Person X",
            "Person path, several people filmed: follow the one seen first at this place, across the frame from the left "
            "edge (0) to the right (1), with Person Y (default: the first person found)",
            float,
            minimum=0.0,
            maximum=1.0,
            optional=True,
        ),
    )
    person_y: float | None = field(
        default=None,
        metadata=_option(
            "Person Y",
            "With Person X: the place's height, from the top edge (0) to the bottom (1)",
            float,
            minimum=0.0,
            maximum=1.0,
            optional=True,
        ),
    )
    smoothing: float = field(
        default=3.0,  # the networks' jitter, taken out (BENCHMARKS.md, "Video capture: ... Smoothing on by default")
        metadata=_option(
            "Smoothing",
            "Temporal smoothing, Gaussian sigma in keys (frames at stride 1; 0: none)",
            float,
            minimum=0.0,
            maximum=MAX_SMOOTHING,
        ),
    )

    def __post_init__(self):
        for f in fields(self):
            check_option(f.name, getattr(self, f.name))
        if (self.person_x is None) != (self.person_y is None):
            raise CaptureError("person x and person y go together: give both, or neither to follow the first person found")

    @property
    def person_at(self) -> tuple[float, float] | None:
        """Where the person to follow is (fractions of the frame), if the user said."""
        return None if self.person_x is None else (self.person_x, self.person_y)


def option_fields() -> tuple:
    """The options' dataclass fields (name, default, metadata) in their order."""
    return fields(CaptureOptions)


def add_option_flags(parser, skip: tuple[str, ...] = ()) -> None:
    """One `--flag` per option (argparse), with its default, choices and help."""
    for f in fields(CaptureOptions):
        if f.name in skip:
            continue
        m, flag = f.metadata, "--" + f.name.replace("_", "-")
        if m["choices"]:
            parser.add_argument(flag, default=f.default, choices=list(m["choices"]), help=m["help"])
        else:
            parser.add_argument(flag, type=m["kind"], default=f.default, help=m["help"])


def options_from_flags(args) -> CaptureOptions:
    """The options parsed by `add_option_flags` (skipped ones take their defaults)."""
    return CaptureOptions(**{f.name: getattr(args, f.name) for f in fields(CaptureOptions) if hasattr(args, f.name)})


def check_option(name: str, value) -> None:
    """One option's value against its kind, bounds and choices; CaptureError if wrong."""
    meta = next(f.metadata for f in fields(CaptureOptions) if f.name == name)
    what = name.replace("_", " ")
    if value is None:
        if not meta["optional"]:
            raise CaptureError(f"{what} must be given")
        return
    kind = meta["kind"]
    if kind is int and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise CaptureError(f"{what} must be a whole number, got {value!r}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
            raise CaptureError(f"{what} must be a finite number, got {value!r}")
    if kind is str and value not in meta["choices"]:
        raise CaptureError(f"{what} must be one of {', '.join(meta['choices'])}, got {value!r}")
    if meta["min"] is not None and not meta["min"] <= value <= meta["max"]:
        raise CaptureError(f"{what} must be between {meta['min']} and {meta['max']}, got {value}")


# ---- which video frame lands on which scene frame ------------------------------------


@dataclass(frozen=True)
class Plan:
    scene_frames: np.ndarray  # (K,) the scene frames keyed
    video_frames: np.ndarray  # (K,) the video frame (from 0) each key takes, non-decreasing
    video: VideoInfo

    def __len__(self) -> int:
        return len(self.scene_frames)


def plan_frames(options: CaptureOptions, video: VideoInfo, *, scene_start: int, scene_fps: float) -> Plan:
    """Keys from `frame_start` (default `scene_start`) every `stride` scene frames to
    `frame_end` (default: as far as the video goes), each with its video frame: by time
    (`TIME`: scene frames at `scene_fps`, video at its own rate) or one to one (`FRAME`).
    CaptureError if the range is empty or runs past the video's end."""
    if not (math.isfinite(scene_fps) and scene_fps > 0):
        raise CaptureError(f"the scene's frame rate must be positive, got {scene_fps}")
    start = scene_start if options.frame_start is None else options.frame_start
    ratio = video.fps / scene_fps if options.mapping == "TIME" else 1.0
    # Video frame of the key `offset` scene frames after the start (round half up, so that
    # equal rates map exactly and a 60 fps clip on 24 fps takes the nearest frame in time).
    to_video = lambda offset: options.video_start + np.floor(offset * ratio + 0.5 + 1e-9).astype(np.int64)  # noqa: E731
    last_offset = math.ceil((video.frames - options.video_start - 0.5) / ratio) if video.frames > options.video_start else 0
    while last_offset >= 0 and to_video(np.array(last_offset)) >= video.frames:  # the last offset whose frame exists
        last_offset -= 1
    available = last_offset // options.stride + 1 if last_offset >= 0 else 0
    if options.frame_end is None:
        count = available
        if count < 1:
            raise CaptureError(f"the video has {video.frames} frames, none from video frame {options.video_start} on")
    else:
        if options.frame_end < start:
            raise CaptureError(f"the frame range {start}-{options.frame_end} is empty")
        count = (options.frame_end - start) // options.stride + 1
        if count > available:
            last = start + (available - 1) * options.stride if available else None
            reach = f"reaches scene frame {last}" if last is not None else "has no frames there"
            raise CaptureError(
                f"the video ({video.frames} frames at {video.fps:g} fps) {reach} from video frame {options.video_start}, "
                f"but the range runs to {options.frame_end}: shorten the range or leave the end unset"
            )
    offsets = np.arange(count, dtype=np.int64) * options.stride
    return Plan(start + offsets, to_video(offsets), video)


# ---- the capture ------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    stage: str  # what runs now: "decoding", "video -> pose -> rotation"
    decoded: int  # frames decoded so far
    done: int  # frames whose rotations are final
    total: int
    elapsed: float  # seconds

    @property
    def fraction(self) -> float:
        return 0.5 * (self.decoded + self.done) / max(self.total, 1)

    @property
    def eta(self) -> float | None:
        """Seconds left, from the rate so far; None until there is a rate to speak of."""
        f = self.fraction
        return self.elapsed * (1 - f) / f if f >= 0.01 else None

    def __str__(self) -> str:
        text = f"{self.stage}, {self.done}/{self.total} frames"
        return text + (f", {self.eta:.0f} s left" if self.eta is not None and self.done < self.total else "")


@dataclass
class CaptureResult:
    rotations: np.ndarray  # (K, J, 3, 3) local rotations, the rig's conventions
    positions: np.ndarray  # (K, J, 3) Video-to-Pose heads, skeleton space, root at the origin
    scene_frames: np.ndarray  # (K,)
    video_frames: np.ndarray  # (K,)
    warnings: list[str]
    pixels: np.ndarray  # (K, J, 2) where each joint is in the video frame (pixels; NaN: V2P has no 2D head)
    confidence: np.ndarray  # (K,) in [0, 1] (`Sightings.confidence`; NaN: V2P has no 2D head)
    path: Choice  # which path ran ("person" or "general") and why
    landmarks: np.ndarray | None = None  # (K, 33, 3) the person path's landmarks: pixels and visibility


@dataclass
class Sightings:
    """Where Video-to-Pose saw the subject, per frame, in pixels of the frames as decoded;
    filled as the frames go through `pose_stages` (NaN where it does not locate)."""

    located: np.ndarray  # (K, J, 2) the joints in the first look, at the whole frame
    pixels: np.ndarray  # (K, J, 2) the joints in the second look, at the crop (person path: the only look)
    boxes: np.ndarray  # (K, 3) the crop: centre x, y and side (person path: the landmarks' box)
    frame_size: tuple[int, int] = (0, 0)  # height, width
    landmarks: np.ndarray | None = None  # (K, 33, 3) person path: the landmarks' pixels and visibility
    others: list[int] = field(default_factory=list)  # person path: frames where someone else was seen (`model.follow`)

    @classmethod
    def empty(cls, frames: int, joints: int, person: bool = False) -> Sightings:
        marks = np.full((frames, landmarks.COUNT, 3), np.nan) if person else None
        joints_nan = np.full((frames, joints, 2), np.nan)
        return cls(joints_nan, joints_nan.copy(), np.full((frames, 3), np.nan), landmarks=marks)

    def confidence(self, count: int) -> np.ndarray:
        """Per frame in [0, 1]: the general path's `crop.confidence`; the person path's is
        how visible the body's landmarks are and how many are inside the frame (0: nobody
        found)."""
        if self.landmarks is None:
            return crop.confidence(self.located[:count], self.pixels[:count], self.boxes[:count], *self.frame_size)
        body = self.landmarks[:count, landmarks.BODY]
        inside = ((body[..., :2] >= 0) & (body[..., :2] <= self.frame_size[::-1])).all(-1)
        return np.nan_to_num((body[..., 2] * inside).mean(-1), nan=0.0)


def sliding(stages: list[tuple[streaming.Stage, int]], chunk: int) -> list[streaming.Sliding]:
    return [streaming.Sliding(fn, halo, chunk) for fn, halo in stages]


LOCATE_CHUNK_FRAMES = 8  # the first look's chunks: the frames waiting for their crop stay few


def pose_stages(
    net, skeleton: Skeleton, ref_positions, frames: Iterator[np.ndarray], capacity: int, chunk_frames: int | None = None
):
    """Video-to-Pose over uint8 RGB frames (H, W, 3) arriving one at a time, as streaming
    stages: -> (chunks, stages, sightings). `streaming.chain(stages, chunks)` yields the
    view-frame heads (n, J, 3) in the skeleton's units, root at the origin; `sightings`
    fills with where the joints are in the frames. A V2P with a 2D head looks twice
    (`model.crop`): at the whole frame to find the subject (at most `crop.LOOK_JOINTS` of the
    rig's joints), then at a crop around it.
    `chunk_frames` (default `network.VIDEO_CHUNK_FRAMES`) changes the work per network
    call, not the result."""
    from .network import VIDEO_CHUNK_FRAMES

    chunk = chunk_frames or VIDEO_CHUNK_FRAMES
    first = min(chunk, LOCATE_CHUNK_FRAMES)
    video = net.video_stages(skeleton, ref_positions)
    S, seen = net.image_size, Sightings.empty(capacity, skeleton.num_joints)
    if not net.locates:
        chunks = (prepare_frames(frame[None], S) for frame in frames)
        return chunks, [*sliding(video, chunk), streaming.Sliding(lambda out: out[..., :3], 0, chunk)], seen
    placed_by = crop.first_look_joints(skeleton)
    body = np.unique(placed_by)  # the joints of the first look's rig
    look = video
    if body.size < skeleton.num_joints:
        look = net.video_stages(skeleton.subset(body), np.asarray(ref_positions)[body])
    pending: deque[np.ndarray] = deque()  # working copies waiting for their crop box
    count = {"located": 0, "cut": 0, "seen": 0}
    work = {}

    def chunks() -> Iterator[torch.Tensor]:
        for frame in frames:
            small, scale = crop.working_copy(frame)
            if not work:
                work.update(height=small.shape[0], width=small.shape[1], scale=scale)
                seen.frame_size = frame.shape[:2]
            pending.append(small)
            yield prepare_frames(small[None], S)

    def record(name: str, array: np.ndarray, values: torch.Tensor) -> None:
        n = count[name]
        array[n : n + len(values)] = values.numpy()
        count[name] += len(values)

    def locate(out: torch.Tensor) -> torch.Tensor:  # the first look -> boxes (working pixels)
        pixels = crop.letterbox_to_pixels(out[:, np.searchsorted(body, placed_by), 3:], work["height"], work["width"], S)
        record("located", seen.located, pixels / work["scale"])
        return crop.boxes(pixels, work["height"], work["width"], S)

    def cut(boxes: torch.Tensor) -> torch.Tensor:
        record("cut", seen.boxes, boxes / work["scale"])
        return crop.cut([pending.popleft() for _ in range(len(boxes))], boxes, S)

    def place(out: torch.Tensor) -> torch.Tensor:  # the second look -> positions; the joints' pixels kept
        n = count["seen"]
        boxes = torch.as_tensor(seen.boxes[n : n + len(out)])
        record("seen", seen.pixels, crop.crop_to_pixels(out[..., 3:], boxes))
        return out[..., :3]

    sigma = crop.SMOOTHING
    stages = [
        *sliding(look, first),
        streaming.Sliding(locate, 0, first),
        streaming.Sliding(crop.smooth, math.ceil(3 * sigma), first),
        streaming.Sliding(cut, 0, first),
        *sliding(video, chunk),
        streaming.Sliding(place, 0, chunk),
    ]
    return chunks(), stages, seen


def person_stages(
    net,
    skeleton: Skeleton,
    ref_positions,
    frames: Iterator[np.ndarray],
    capacity: int,
    chunk_frames: int | None = None,
    at: tuple[float, float] | None = None,
):
    """The person path's Video-to-Pose, as `pose_stages`: the landmarks of one person in
    each frame (the detector made to follow the first person found, or the one `at` a
    place: `model.follow`), their box smoothed over time, then the person network over
    their tokens; `sightings` fills with the landmarks, the boxes, the joints' pixels and
    the frames where someone else was seen. A frame without the followed person keeps the
    pose of the last frame with them (before the first: the reference pose, as if seen
    from the front)."""
    from .network import VIDEO_CHUNK_FRAMES

    chunk = chunk_frames or VIDEO_CHUNK_FRAMES
    video = net.video_stages(skeleton, ref_positions, "person2pose")
    seen = Sightings.empty(capacity, skeleton.num_joints, person=True)
    kept = np.full((capacity, landmarks.COUNT, landmarks.PACKED), np.nan)  # the landmarks as found, for `anchor`
    match = anchor.Matcher(skeleton.parents)
    count = {"seen": 0, "placed": 0}
    root = int(skeleton.roots[0])
    last = {"pose": torch.as_tensor(ref_positions - ref_positions[root], dtype=torch.float64)}

    def chunks() -> Iterator[torch.Tensor]:
        with landmarks.Detector() as detect:
            follow = Follower(detect, at)
            seen.others = follow.others  # the follower's own list: it grows as the frames go
            for frame in frames:
                seen.frame_size = frame.shape[:2]
                yield torch.from_numpy(follow(frame)).double()[None]

    def box(packed: torch.Tensor) -> torch.Tensor:  # -> the landmarks with their frame's box appended
        boxes = crop.smooth(landmarks.boxes(packed, *seen.frame_size))
        return torch.cat([packed, boxes[:, None].expand(-1, landmarks.COUNT, -1)], -1)

    def tokens(packed: torch.Tensor) -> torch.Tensor:  # -> the network's input; the landmarks kept
        n, boxes = count["seen"], packed[:, 0, landmarks.PACKED :]
        seen.landmarks[n : n + len(packed)] = packed[..., [0, 1, 6]].numpy()  # pixels, visibility
        kept[n : n + len(packed)] = packed[..., : landmarks.PACKED].numpy()
        seen.boxes[n : n + len(packed)] = boxes.numpy()
        count["seen"] += len(packed)
        return landmarks.features(packed[..., : landmarks.PACKED], boxes)

    def place(out: torch.Tensor) -> torch.Tensor:  # -> positions; the joints' pixels kept
        n = count["placed"]
        boxes = torch.as_tensor(seen.boxes[n : n + len(out)])
        found = landmarks.found(seen.landmarks[n : n + len(out)])
        seen.pixels[n : n + len(out)] = np.where(found[:, None, None], crop.crop_to_pixels(out[..., 3:], boxes).numpy(), np.nan)
        count["placed"] += len(out)
        marks, positions = kept[n : n + len(out)], out[..., :3].numpy()
        at = match(seen.pixels[n : n + len(out)], marks[..., :2])
        positions = torch.from_numpy(anchor.anchor(positions, marks, skeleton.parents, at))
        for i, person in enumerate(found):
            if person:
                last["pose"] = positions[i]
            else:
                positions[i] = last["pose"]
        return positions

    stages = [
        streaming.Sliding(box, math.ceil(3 * crop.SMOOTHING), chunk),
        streaming.Sliding(tokens, 0, chunk),
        *sliding(video, chunk),
        streaming.Sliding(place, 0, chunk),
    ]
    return chunks(), stages, seen


def choose_path(net, path: str | Path, skeleton: Skeleton, plan: Plan, subject: str) -> Choice:
    """The path a capture of the planned frames takes (`model.person.choose`)."""

    def sample() -> Iterator[np.ndarray]:
        return (frame for _, frame in iter_frames(path, plan.video_frames[probe_frames(len(plan))]))

    try:
        return choose(subject, skeleton, net.has("person2pose"), sample)
    except (PathError, VideoError) as error:
        raise CaptureError(str(error)) from None


def followed(choice: Choice, marks: np.ndarray, video_frames: np.ndarray, at: tuple[float, float] | None) -> Choice:
    """The choice, saying whom the capture followed: the person found first, or at the place asked."""
    whom = "the person found first" if at is None else f"the person at ({at[0]:g}, {at[1]:g}) of the frame"
    found = np.flatnonzero(landmarks.found(marks))
    if not found.size:
        return Choice(choice.path, choice.reason + f"; it looked for {whom} and found nobody")
    x, y = marks[found[0], landmarks.BODY, :2].mean(0)
    where = f"video frame {video_frames[found[0]]}, around pixel ({x:.0f}, {y:.0f})"
    return Choice(choice.path, choice.reason + f"; it followed {whom} ({where})")


def frame_runs(mask: np.ndarray, scene_frames: np.ndarray, limit: int = 8) -> str:
    """The runs of consecutive captured frames where `mask` holds, in scene frames:
    "3, 7-9, 12", the first `limit` runs."""
    edges = np.flatnonzero(np.diff(np.r_[False, mask, False].astype(int)))
    runs = [(scene_frames[a], scene_frames[b - 1]) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit])
    return text + (", ..." if len(runs) > limit else "")


def check_rig(skeleton: Skeleton, ref_positions, ref_rotations, max_joints: int) -> None:
    """What a capture refuses before any frame is decoded."""
    if skeleton.num_joints > max_joints:
        raise CaptureError(f"the rig has {skeleton.num_joints} bones; at most {max_joints} are supported")
    for name, value, shape in (
        ("reference positions", ref_positions, (skeleton.num_joints, 3)),
        ("reference rotations", ref_rotations, (skeleton.num_joints, 3, 3)),
    ):
        value = np.asarray(value)
        if value.shape != shape or not np.isfinite(value).all():
            raise CaptureError(f"the {name} must be finite, of shape {shape}; got {value.shape}")


def capture_video(
    net,
    path: str | Path,
    skeleton: Skeleton,
    ref_positions,
    ref_rotations,
    plan: Plan,
    options: CaptureOptions,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> CaptureResult:
    """Capture the planned frames of the video at `path` onto the rig (`net`: a
    `model.network.Network` with both parts). `progress(Progress)` is called after every
    decoded frame and every emitted chunk; `cancelled()` is asked after every decoded frame
    and raises `Cancelled` when it answers True (the error holds no frames). A file that
    ends before its header says is captured on the frames that decode, with a warning."""
    from .network import CHUNK_FRAMES, MAX_JOINTS, VIDEO_CHUNK_FRAMES

    check_rig(skeleton, ref_positions, ref_rotations, MAX_JOINTS)
    ref_positions, ref_rotations = np.asarray(ref_positions, np.float64), np.asarray(ref_rotations, np.float64)
    K, J, started = len(plan), skeleton.num_joints, time.perf_counter()
    rotations, positions = np.empty((K, J, 3, 3)), np.empty((K, J, 3))
    count = {"decoded": 0, "positions": 0, "done": 0}

    def report(stage: str) -> None:
        if progress:
            progress(Progress(stage, count["decoded"], count["done"], K, time.perf_counter() - started))

    def frames() -> Iterator[np.ndarray]:
        for _, frame in iter_frames(path, plan.video_frames):
            if cancelled is not None and cancelled():
                raise Cancelled("capture cancelled")
            count["decoded"] += 1
            report("decoding" if count["done"] == 0 else "video -> pose -> rotation")
            yield frame

    choice = choose_path(net, path, skeleton, plan, options.subject)
    if choice.path == "person":
        chunks, video_stages, seen = person_stages(net, skeleton, ref_positions, frames(), K, at=options.person_at)
    else:
        chunks, video_stages, seen = pose_stages(net, skeleton, ref_positions, frames(), K)
    turn = torch.as_tensor(axis_rotation(2, np.radians([VIEWS[options.view] + options.camera_angle]))[0])
    # the person path's own P2R where the person network comes with one (trained on its positions)
    rotation_part = "person2rot" if choice.path == "person" and net.has("person2rot") else "pose2rot"
    pose_fn, pose_halo = net.pose_stage(skeleton, ref_positions, ref_rotations, rotation_part)

    def to_rig(view_positions: torch.Tensor) -> torch.Tensor:  # view frame -> skeleton space; kept for the result
        rig = view_positions @ turn.T
        n = count["positions"]
        positions[n : n + len(rig)] = rig.numpy()
        count["positions"] += len(rig)
        return rig

    keep = keeps_heading(options.facing, choice.path)

    def facing(R: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(keep_heading(R.numpy(), skeleton, ref_rotations)) if keep else R

    sigma = options.smoothing
    stages = [
        *video_stages,
        streaming.Sliding(to_rig, 0, VIDEO_CHUNK_FRAMES),
        streaming.Sliding(pose_fn, pose_halo, CHUNK_FRAMES),
        streaming.Sliding(facing, 0, CHUNK_FRAMES),
        streaming.Sliding(lambda R: smooth_rotations(R, sigma), math.ceil(3 * sigma) if sigma > 0 else 0, CHUNK_FRAMES),
    ]
    stopped = False
    try:
        for out in streaming.chain(stages, chunks):
            n = count["done"]
            rotations[n : n + len(out)] = out.numpy()
            count["done"] += len(out)
            report("video -> pose -> rotation")
    except Cancelled:
        stopped = True
    except (VideoError, InputError) as error:
        raise CaptureError(str(error)) from None
    if stopped:  # raised out here, with the buffers gone: the error holds no frames
        del rotations, positions, stages, video_stages, chunks, seen
        raise Cancelled("capture cancelled")
    warnings = []
    if options.person_at is not None and choice.path != "person":
        warnings.append(f"Person X and Y were set, but only the person path follows a person; this capture took the {choice}")
    got = count["done"]
    if got == 0:
        raise CaptureError(f"{Path(path).name}: no frame of the planned range could be decoded (corrupt or truncated file)")
    if got < K:
        warnings.append(
            f"{Path(path).name} ended after {got} of the {K} frames planned (its header promised {plan.video.frames}): "
            f"captured scene frames {plan.scene_frames[0]}-{plan.scene_frames[got - 1]} only"
        )
    score = seen.confidence(got)
    low = score < crop.LOW_CONFIDENCE  # (a person path's frames with nobody: low too)
    if low.any():
        warnings.append(
            f"the subject was lost, hidden or partly out of frame on {int(low.sum())} of {got} frames "
            f"(scene frames {frame_runs(low, plan.scene_frames)}): check the keys there"
        )
    if choice.path == "person":
        choice = followed(choice, seen.landmarks[:got], plan.video_frames[:got], options.person_at)
        others = np.zeros(got, dtype=bool)
        others[[i for i in seen.others if i < got]] = True
        if others.any():
            warnings.append(
                f"someone other than the person followed was seen on {int(others.sum())} of {got} frames (scene frames "
                f"{frame_runs(others, plan.scene_frames)}) and left out: to follow another person, set Person X and Y "
                "to where they are"
            )
        nobody = ~landmarks.found(seen.landmarks[:got])
        if nobody.any():
            warnings.append(
                f"the person followed was not found on {int(nobody.sum())} of {got} frames: their keys hold the last pose seen "
                "(before the first, the reference pose)"
            )
    return CaptureResult(
        rotations[:got],
        positions[:got],
        plan.scene_frames[:got],
        plan.video_frames[:got],
        warnings,
        seen.pixels[:got],
        score,
        choice,
        None if seen.landmarks is None else seen.landmarks[:got],
    )
