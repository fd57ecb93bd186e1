"""Build the installable Blender extension: one zip per platform in dist/.

    python build.py                             # every platform in PLATFORMS, wheels included
    python build.py --platforms linux-x64       # only some
    python build.py --no-wheels                 # one zip without wheels, for a Blender (or the
                                                # `bpy` module) whose Python already has torch and OpenCV

The zip holds the add-on (`mocap_anything_addon/` at its root), the `model` package as a
sub-package (so Blender imports it as `bl_ext.<repo>.mocap_anything.model`, never as a
top-level `model`), the shipped end-to-end weights and, listed in the manifest's `wheels`,
the wheels of torch (CPU), OpenCV and safetensors with their dependencies (numpy excepted:
Blender ships it). Installing is then offline; nothing runs pip inside Blender. Wheels are
downloaded once into build/wheels/<platform>/. Each zip is built and then checked by
Blender's own `blender_ext.py` (the code behind `blender --command extension build` and
`validate`), taken from the `bpy` module.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BUILD, DIST = ROOT / "build", ROOT / "dist"
# Blender platform -> the pip platform tags its wheels may carry. Blender 4.2 to 5.0 run Python 3.11.
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": [f"macosx_{v}_0_arm64" for v in range(11, 15)],
}
REQUIREMENTS = ["torch==2.13.0", "opencv-python-headless==4.11.0.86", "safetensors==0.8.0"]
BLENDER_SHIPS = ("numpy",)  # wheels Blender already has; bundling a second copy would clash
WEIGHTS = ("capture.safetensors", "capture.json")


def blender_ext() -> Path:
    spec = importlib.util.find_spec("bpy")  # found, not imported
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")) if spec else []
    if not found:
        raise SystemExit("build: blender_ext.py not found in the bpy module")
    return found[-1]


def download_wheels(platform: str) -> list[Path]:
    folder = BUILD / "wheels" / platform
    if not (folder / ".complete").exists():
        print(f"build: downloading wheels for {platform} into {folder}", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--dest", str(folder)]
        command += [arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)]
        command += ["--python-version", "3.11", "--implementation", "cp", *REQUIREMENTS]
        subprocess.run(command, check=True)
        (folder / ".complete").touch()
    wheels = sorted(folder.glob("*.whl"))
    return [w for w in wheels if re.split(r"-", w.name)[0].lower() not in BLENDER_SHIPS]


def stage(wheels: list[Path], platforms: list[str]) -> Path:
    """The extension's source tree: manifest, add-on, model sub-package, weights, wheels."""
    staged = BUILD / "extension"
    shutil.rmtree(staged, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "model")
    shutil.copytree(ROOT / "mocap_anything_addon", staged, ignore=ignore)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "weights")
    shutil.copytree(ROOT / "model", staged / "model", ignore=skip)
    (staged / "model" / "weights").mkdir()
    for name in WEIGHTS:
        shutil.copy2(ROOT / "model" / "weights" / name, staged / "model" / "weights" / name)
    manifest = (ROOT / "blender_manifest.toml").read_text(encoding="utf-8")
    if wheels:
        (staged / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, staged / "wheels" / wheel.name)
        listed = ",\n".join(f'  "./wheels/{w.name}"' for w in sorted({w.name: w for w in wheels}.values()))
        top, tables = manifest.split("\n[", 1)  # top-level keys go before the first table
        extra = f"platforms = {platforms!r}\nwheels = [\n{listed},\n]\n".replace("'", '"')
        manifest = f"{top}\n{extra}\n[{tables}"
    (staged / "blender_manifest.toml").write_text(manifest, encoding="utf-8")
    return staged


def build(platforms: list[str], with_wheels: bool, dist: Path = DIST) -> list[Path]:
    wheels = [w for p in platforms for w in download_wheels(p)] if with_wheels else []
    staged = stage(wheels, platforms)
    out = BUILD / "zips"
    shutil.rmtree(out, ignore_errors=True)
    tool = blender_ext()
    command = [sys.executable, str(tool), "build", "--source-dir", str(staged), "--output-dir", str(out)]
    out.mkdir(parents=True)
    subprocess.run(command + (["--split-platforms"] if with_wheels else []), check=True)
    dist.mkdir(parents=True, exist_ok=True)
    zips = []
    for z in sorted(out.glob("*.zip")):
        subprocess.run([sys.executable, str(tool), "validate", str(z)], check=True)
        zips.append(Path(shutil.move(z, dist / z.name)))
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platforms", nargs="+", choices=list(PLATFORMS), default=list(PLATFORMS))
    parser.add_argument("--no-wheels", action="store_true", help="one zip without wheels (torch and OpenCV come from elsewhere)")
    args = parser.parse_args(argv)
    for z in build(args.platforms, not args.no_wheels):
        print(f"build: {z.relative_to(ROOT)} ({z.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
