import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def bpy_module():
    """The real Blender (PyPI `bpy`), with the Rigify add-on enabled."""
    bpy = pytest.importorskip("bpy")
    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    return bpy


@pytest.fixture
def blender(bpy_module):
    """A fresh, empty scene for each test."""
    bpy_module.ops.wm.read_factory_settings(use_empty=True)
    import addon_utils

    addon_utils.enable("rigify", default_set=True)
    return bpy_module


def build_metarig(bpy, name: str):
    """Build a Rigify metarig with Rigify's own `create` and return the armature object."""
    from model.data.rigify import METARIGS

    module = importlib.import_module("rigify.metarigs." + METARIGS[name][:-3].replace("/", "."))
    obj = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    module.create(obj)
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj
