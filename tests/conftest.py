import atexit
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Blender's user folder (preferences, installed extensions) for this test run only; read
# when bpy is first imported, removed when the run ends.
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="mocap-blender-user-")
atexit.register(shutil.rmtree, os.environ["BLENDER_USER_RESOURCES"], ignore_errors=True)
EXTENSION = "bl_ext.user_default.mocap_anything"
# Tests on Rigify's metarigs read them from the `bpy` wheel: skipped, with the reason, without it.
needs_bpy = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs the bpy module (Rigify metarigs)")


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


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory):
    """The extension as `build.py --no-wheels` builds it (torch and OpenCV come from this
    Python), validated by Blender's own tool."""
    import build

    zips = build.build([], with_wheels=False, dist=tmp_path_factory.mktemp("dist"))
    assert len(zips) == 1
    return zips[0]


@pytest.fixture
def ext(blender, extension_zip):
    """The built extension, installed into Blender's user repository and enabled, on a fresh
    scene; its package (`bl_ext.user_default.mocap_anything`)."""
    import addon_utils

    if not (Path(os.environ["BLENDER_USER_RESOURCES"]) / "extensions" / "user_default" / "mocap_anything").is_dir():
        result = blender.ops.extensions.package_install_files(filepath=str(extension_zip), repo="user_default")
        assert result == {"FINISHED"}
    addon_utils.enable(EXTENSION, default_set=True)
    modules = ("api", "armature", "capture", "cli", "export", "job", "keys", "operators", "panel")
    for name in modules:
        importlib.import_module(f"{EXTENSION}.{name}")
    return importlib.import_module(EXTENSION)


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
