"""What the add-on needs besides Blender (PyTorch, OpenCV), and what it says when they are
missing: a panel in the MoCap tab and a `blender --command mocap_anything` that explains
(exit 1), instead of an extension that fails to enable with a traceback. This happens
where a zip carries no torch for Blender's Python (Linux on Python 3.13, Blender 5.1+)."""

from __future__ import annotations

import sys

import bpy

NEEDED = (("PyTorch", "torch"), ("OpenCV", "cv2"))


def missing() -> list[str]:
    """The needed packages that cannot be imported (tried, so a broken install counts too)."""
    names = []
    for name, module in NEEDED:
        try:
            __import__(module)
        except ImportError:
            names.append(name)
    return names


def message(names: list[str]) -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f"MoCap Anything needs {' and '.join(names)}, which this install lacks for Blender's Python {version}: "
        f"install it into a folder with a Python {version} (python -m pip install torch opencv-python-headless "
        "--target FOLDER), choose that folder as Own torch in the extension's preferences, and restart Blender"
    )


class MOCAP_PT_missing(bpy.types.Panel):
    bl_space_type, bl_region_type, bl_category, bl_label = "VIEW_3D", "UI", "MoCap", "Capture from Video"
    names: list[str] = []

    def draw(self, context):
        col = self.layout.column(align=True)
        col.alert = True
        words, line = message(self.names).split(), ""
        for word in words:  # wrapped by hand: panels do not wrap labels
            if len(line) + len(word) > 42:
                col.label(text=line)
                line = ""
            line = f"{line} {word}".strip()
        col.label(text=line)


_handle = None


def register(names: list[str]) -> None:
    global _handle
    MOCAP_PT_missing.names = names
    bpy.utils.register_class(MOCAP_PT_missing)

    def command(argv: list[str]) -> int:
        print(f"mocap_anything: error: {message(names)}", file=sys.stderr)
        return 1

    _handle = bpy.utils.register_cli_command("mocap_anything", command)


def unregister() -> None:
    bpy.utils.unregister_cli_command(_handle)
    bpy.utils.unregister_class(MOCAP_PT_missing)
