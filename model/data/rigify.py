"""Blender's Rigify metarigs as skeletons: real, unseen rigs with real bone rolls.

The metarigs ship as Python sources in the `bpy` wheel (`rigify/metarigs`), each a
`create(obj)` function that sets `bone.head`, `bone.tail`, `bone.roll` and
`bone.parent` on new edit bones. They are read here with `ast`, without importing bpy
(model/ never does); tests check the result against the rig bpy itself builds.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np

from ..skeleton import Skeleton, bone_frames, parent_first_order

METARIGS = {
    "human": "human.py",
    "basic_human": "Basic/basic_human.py",
    "basic_quadruped": "Basic/basic_quadruped.py",
    "horse": "Animals/horse.py",
    "cat": "Animals/cat.py",
    "wolf": "Animals/wolf.py",
    "bird": "Animals/bird.py",
    "shark": "Animals/shark.py",
}


def metarig_dir() -> Path:
    spec = importlib.util.find_spec("bpy")  # locates the wheel without importing it
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the Rigify metarigs come with the `bpy` package (pip install bpy==5.0.1)")
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/rigify/metarigs"))
    if not found:
        raise FileNotFoundError(f"no rigify/metarigs folder in {Path(spec.origin).parent}")
    return found[-1]


def _bone_records(source: str) -> dict[str, dict]:
    """name -> {head, tail, roll, parent} from the `create` function's statements."""
    bones, current = {}, None
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        # bone = arm.edit_bones.new('name')
        if (
            isinstance(target, ast.Name)
            and target.id == "bone"
            and isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "new"
        ):
            current = bones.setdefault(ast.literal_eval(value.args[0]), {"parent": None})
        # bone.head / bone.tail / bone.roll = literal; bone.parent = arm.edit_bones[bones['name']]
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "bone":
            if current is None:
                continue
            if target.attr in ("head", "tail", "roll"):
                current[target.attr] = ast.literal_eval(value)
            elif target.attr == "parent":
                current["parent"] = ast.literal_eval(value.slice.slice)
    return bones


def load_metarig(name: str) -> Skeleton:
    """The named metarig's rest skeleton (metarig objects sit at the world origin)."""
    if name not in METARIGS:
        raise KeyError(f"unknown metarig {name!r}; choose from {', '.join(METARIGS)}")
    bones = _bone_records((metarig_dir() / METARIGS[name]).read_text(encoding="utf-8"))
    names = list(bones)
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([index[bones[n]["parent"]] if bones[n]["parent"] else -1 for n in names])
    order = parent_first_order(parents)
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    heads = np.array([bones[names[i]]["head"] for i in order], dtype=np.float64)
    tails = np.array([bones[names[i]]["tail"] for i in order], dtype=np.float64)
    rolls = np.array([bones[names[i]]["roll"] for i in order], dtype=np.float64)
    return Skeleton(
        parents=np.where(parents[order] >= 0, position[parents[order]], -1),
        rest_heads=heads,
        rest_frames=bone_frames(heads, tails, rolls),
        names=[names[i] for i in order],
    )
