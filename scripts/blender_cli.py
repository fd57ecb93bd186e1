"""`blender --command mocap_anything ARGS` for machines with the `bpy` module and no
Blender build: installs the extension zip that `build.py --no-wheels` made into a Blender
user folder, enables it and runs its command handler, the very function a Blender build
calls. Exits with the handler's status.

    .venv/bin/python scripts/blender_cli.py capture --blend examples/creature.blend ...

The zip is $MOCAP_EXTENSION_ZIP, default the newest dist/mocap_anything-*.zip; the user
folder is $BLENDER_USER_RESOURCES, default out/blender-user (never the user's own
Blender settings).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = "bl_ext.user_default.mocap_anything"


def install(zip_path: Path):
    """Install and enable the extension from `zip_path`; returns its package."""
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"}:
        raise SystemExit(f"blender_cli: installing {zip_path} failed")
    return importlib.import_module(EXTENSION)


def main() -> int:
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(ROOT / "out" / "blender-user"))
    given = os.environ.get("MOCAP_EXTENSION_ZIP")
    zips = [Path(given)] if given else sorted((ROOT / "dist").glob("mocap_anything-*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        print("blender_cli: no extension in dist/; run `python build.py --no-wheels` first", file=sys.stderr)
        return 1
    install(zips[-1])
    cli = importlib.import_module(EXTENSION + ".cli")
    return cli.command(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
