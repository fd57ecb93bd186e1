"""Artist-keyed animation from the game 0 A.D. (Debian's `0ad-data`, CC-BY-SA 3.0,
Wildfire Games), fetched for training by `scripts/fetch_0ad.sh` into `cache/0ad/`:
- people (`clips`): 642 clips at 30 fps of soldiers, citizens, riders and workers walking,
  running, fighting, gathering, on one biped (`art/skeletons/biped.xml`), of which `BODY`
  are the body's bones (the rest are props and helpers: weapons, shields, capes, sheaths);
- animals (`animal_clips`): about 240 clips of 21 species (horses, elephants, big cats,
  deer, birds, a crocodile...) walking, running, grazing, attacking, dying, each on its
  species' skeleton (`ANIMALS`), of which the main tree is kept (the loose roots are
  IK targets and poles).

A clip (`.psa`, "PSSA" version 1) holds, after its name, the frame length (ms), the bone
count and the frame count, then for every frame and bone (in the order of the skeleton's
standard bone tree) a position and a unit quaternion (x, y, z, w): the bone's transform in
the model's space (Y up), not relative to its parent. The motion is that world motion on a
rig whose rest pose is the clip's first frame.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..kinematics import local_from_world
from ..rotations import quaternion_to_matrix
from ..skeleton import Skeleton
from .motion import Motion, MotionError

CACHE = Path(__file__).resolve().parents[2] / "cache" / "0ad"
BODY = (
    "hip", "spine", "spine1", "chest", "neck", "head",
    *(f"{b}_{s}" for s in "LR" for b in ("shoulder", "arm", "forearm", "hand", "finger", "fingertip")),
    *(f"{b}_{s}" for s in "LR" for b in ("thigh", "leg", "foot")),
)  # fmt: skip


READY = ".ready-2"  # the cache's version: 2 added the animals
# Clip name prefix -> the skeletons its species may be on (the one with the clip's bone count).
# Left out: the wolf and the hippopotamus, whose skeletons are split into loose chains.
ANIMALS = {
    "Croc_": ("crocodile",), "animal_boar": ("boar",), "animal_pig": ("boar",), "bear_": ("ursidae_armature",),
    "bovidae_": ("bovidae_skeleton",), "camel_": ("camelus",), "chicken_": ("chicken",), "deer_": ("deer",),
    "donkey_": ("horse_old",), "lion_": ("horse_old",), "elephant_": ("elephantidae_african",),
    "feline_": ("feline_blender",), "fox_": ("fox_armature",), "wolfhound_": ("wolfhound",), "giraffe_": ("giraffe",),
    "goat_": ("goat",), "horse_": ("horse", "pony"), "pony_": ("pony", "horse"), "mastiff_": ("mastiff",),
    "peacock_": ("peacock",), "rhino_": ("rhino",), "sheep_": ("sheep",), "zebra_": ("zebra",), "zebu_": ("zebu",),
}  # fmt: skip


def available(folder: Path = CACHE) -> bool:
    return (folder / READY).is_file()


def bone_tree(xml_text: str) -> tuple[list[str], list[int]]:
    """Names and parents of the standard skeleton's bones, in the file's depth-first order."""
    names, parents = [], []

    def walk(element, parent: int) -> None:
        for bone in element.findall("bone"):
            names.append(bone.get("name"))
            parents.append(parent)
            walk(bone, len(names) - 1)

    standard = ET.fromstring(xml_text).find("standard_skeleton")
    if standard is None:
        raise MotionError("no standard_skeleton in the skeleton file")
    walk(standard, -1)
    return names, parents


def read_psa(data: bytes) -> tuple[float, np.ndarray]:
    """-> (fps, (T, bones, 7) positions and x, y, z, w quaternions)."""
    if data[:4] != b"PSSA" or struct.unpack_from("<I", data, 4)[0] != 1:
        raise MotionError("not a version-1 PSSA animation")
    (name_length,) = struct.unpack_from("<I", data, 12)
    frame_ms, bones, frames = struct.unpack_from("<fII", data, 16 + name_length)
    start = 28 + name_length
    if frame_ms <= 0 or frames == 0 or len(data) < start + 28 * bones * frames:
        raise MotionError(f"a damaged PSSA animation ({frames} frames of {bones} bones in {len(data)} bytes)")
    keys = np.frombuffer(data, "<f4", bones * frames * 7, start).reshape(frames, bones, 7).astype(np.float64)
    return 1000.0 / frame_ms, keys


def motion_of(keys: np.ndarray, fps: float, names: list[str], parents: list[int], keep=BODY) -> Motion:
    """The kept bones' world motion (positions, rotations in the model's space) as a clip on
    a rig posed like the first frame."""
    index = [names.index(n) for n in keep]
    where = {j: i for i, j in enumerate(index)}
    kept_parents = np.array([where.get(parents[j], -1) for j in index])
    if (kept_parents[1:] < 0).any():
        raise MotionError("the kept bones are not one tree")
    heads = keys[:, index, :3]
    frames = quaternion_to_matrix(keys[:, index][..., [6, 3, 4, 5]])  # (w, x, y, z)
    skeleton = Skeleton(kept_parents, heads[0], frames[0], tuple(keep))
    return Motion(skeleton, local_from_world(skeleton, frames), heads[:, 0] - heads[0, 0], fps)


def main_tree(names: list[str], parents: list[int]) -> tuple[str, ...]:
    """The bones of the largest tree of a skeleton, in its order."""
    size = [1] * len(names)
    for j in range(len(names) - 1, -1, -1):  # children come after their parents
        if parents[j] >= 0:
            size[parents[j]] += size[j]
    root = max((j for j in range(len(names)) if parents[j] < 0), key=lambda j: size[j])
    inside = [False] * len(names)
    for j in range(len(names)):
        inside[j] = j == root or (parents[j] >= 0 and inside[parents[j]])
    return tuple(n for n, keep in zip(names, inside, strict=True) if keep)


def _checked(folder: Path) -> Path:
    if not available(folder):
        raise FileNotFoundError(f"no 0 A.D. animations in {folder}: run scripts/fetch_0ad.sh")
    return folder


def _skeleton(folder: Path, name: str) -> tuple[list[str], list[int]]:
    return bone_tree((folder / f"art/skeletons/{name}.xml").read_text(encoding="utf-8"))


def clips(folder: Path = CACHE) -> list[tuple[str, Motion]]:
    """Every people clip of the cache, by its path under `art/animation/biped/` (without `.dae.cached.psa`)."""
    names, parents = _skeleton(_checked(folder), "biped")
    root = folder / "art/animation/biped"
    out = []
    for path in sorted(root.rglob("*.psa")):
        fps, keys = read_psa(path.read_bytes())
        if keys.shape[1] != len(names):
            raise MotionError(f"{path}: {keys.shape[1]} bones, the biped has {len(names)}")
        out.append((str(path.relative_to(root)).removesuffix(".dae.cached.psa"), motion_of(keys, fps, names, parents)))
    return out


def animal_clips(folder: Path = CACHE) -> list[tuple[str, Motion]]:
    """Every animal clip of a species in `ANIMALS`, by its file name (without `.dae.cached.psa`),
    on its skeleton's main tree."""
    skeletons = {}  # kind -> (names, parents, main tree), read once
    out = []
    for path in sorted((_checked(folder) / "art/animation/quadraped").rglob("*.psa")):
        name = path.name.removesuffix(".dae.cached.psa")
        kinds = next((k for prefix, k in ANIMALS.items() if name.startswith(prefix)), None)
        if kinds is None:
            continue
        fps, keys = read_psa(path.read_bytes())
        for kind in kinds:
            if kind not in skeletons:
                names, parents = _skeleton(folder, kind)
                skeletons[kind] = names, parents, main_tree(names, parents)
            names, parents, keep = skeletons[kind]
            if keys.shape[1] == len(names):
                out.append((name, motion_of(keys, fps, names, parents, keep)))
                break
        else:
            raise MotionError(f"{path}: {keys.shape[1]} bones, none of the skeletons {kinds} has as many")
    return out
