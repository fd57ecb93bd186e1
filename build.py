"""Build the installable Blender extension: one zip per platform in dist/.

    python build.py                             # every platform in PLATFORMS, wheels included
    python build.py --platforms linux-x64       # only some
    python build.py --no-wheels                 # one zip without wheels, for a Blender (or the
                                                # `bpy` module) whose Python already has torch and OpenCV

The zip holds the add-on (`mocap_anything_addon/` at its root) and, listed in the
manifest's `wheels`, this project's own wheel (the `model` package with its weights: the
add-on imports `model` exactly as the tests and the command-line tools do, one package
under one name) and the wheels of torch (CPU), OpenCV and safetensors with their
dependencies (numpy excepted: Blender ships it), and for Python 3.11 the person path's
detector (`PERSON_RUNTIME`). Installing is then offline; nothing runs pip inside
Blender. Each platform's wheels are the pinned lists (`requirements`), fetched one by
one without dependency resolution (`pip download --platform` would evaluate torch's
markers against this host, not the target, and ask Windows for Linux's nvidia wheels),
once, into build/wheels/<platform>/. Linux gets the CPU build of torch (`torch==2.13.0+cpu`,
not on PyPI, whose Linux torch is a CUDA build of several GB): it must be on the build
host's pip path (it is on this project's machines); a user with a CUDA torch points the
extension's preferences at it. Each zip is built and then checked by Blender's own
`blender_ext.py` (the code behind `blender --command extension build` and `validate`),
taken from the `bpy` module. `--no-wheels` makes one zip of the add-on alone, for a
Python that already has this project (`pip install .`), torch and OpenCV, as the tests do.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BUILD, DIST = ROOT / "build", ROOT / "dist"
# Blender platform -> the pip platform tags its wheels may carry.
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": [f"macosx_{v}_0_arm64" for v in range(11, 15)],
}
# What the extension needs at run time, with torch's own dependencies, pinned (numpy is
# Blender's). The Linux torch is the CPU build.
RUNTIME = [
    "opencv-python-headless==4.11.0.86",
    "safetensors==0.8.0",
    "filelock==4.3.1",
    "typing-extensions==4.16.0",
    "setuptools==84.2.1",
    "sympy==1.14.0",
    "mpmath==1.3.0",
    "networkx==3.6.1",
    "jinja2==3.1.6",
    "markupsafe==3.0.4",
    "fsspec==2026.9.0",
]
# The person path's detector (mediapipe 0.10.21, BlazePose) and what importing it needs,
# for Python 3.11 only: it has no 3.13 wheels, so Blender 5.1 and later take the general
# path (the capture says so). Without mediapipe's own requirements (jax, another OpenCV).
PERSON_RUNTIME = [
    "mediapipe==0.10.21",
    "protobuf==4.25.8",
    "attrs==26.1.0",
    "matplotlib==3.11.2",
    "contourpy==1.3.3",
    "cycler==0.12.1",
    "fonttools==4.68.0",
    "kiwisolver==1.5.1",
    "packaging==26.4",
    "pillow==13.0.0",
    "pyparsing==3.3.3",
    "python-dateutil==4.0.0",
    "tzdata==2026.6",
]
# Blender 4.2 to 5.0 run Python 3.11, 5.1 and later 3.13: each zip carries the wheels of both,
# and Blender installs those of its own Python. torch per platform and Python; None where no
# CPU build can be had (Linux on 3.13: PyPI's is a CUDA build of several GB): there the
# extension asks for a torch of the user's own (preferences).
PYTHONS = ("3.11", "3.13")
TORCH = {
    ("linux-x64", "3.11"): "torch==2.13.0+cpu",
    ("linux-x64", "3.13"): None,
    ("windows-x64", "3.11"): "torch==2.13.0",
    ("windows-x64", "3.13"): "torch==2.13.0",
    ("macos-arm64", "3.11"): "torch==2.13.0",
    ("macos-arm64", "3.13"): "torch==2.13.0",
}


def blender_ext() -> Path:
    spec = importlib.util.find_spec("bpy")  # found, not imported
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")) if spec else []
    if not found:
        raise SystemExit("build: blender_ext.py not found in the bpy module")
    return found[-1]


def requirements(platform: str, python: str) -> list[str]:
    torch = TORCH[platform, python]
    return ([torch] if torch else []) + RUNTIME + (PERSON_RUNTIME if python == "3.11" else [])


def download_wheels(platform: str) -> list[Path]:
    folder = BUILD / "wheels" / platform
    wanted = "\n".join(r for python in PYTHONS for r in requirements(platform, python))
    complete = folder / ".complete"  # holds the list it was made for
    if not complete.exists() or complete.read_text(encoding="utf-8") != wanted:
        print(f"build: downloading wheels for {platform} into {folder}", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        tags = [arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)]
        for python in PYTHONS:
            for requirement in requirements(platform, python):
                command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
                command += ["--dest", str(folder), *tags, "--python-version", python, "--implementation", "cp", requirement]
                if subprocess.run(command).returncode:
                    raise SystemExit(f"build: no {requirement} wheel for {platform} (Python {python}) on this host's pip path")
        complete.write_text(wanted, encoding="utf-8")
    return sorted(folder.glob("*.whl"))


def project_wheel() -> Path:
    """This project's wheel (`model` with its weights), built from the source tree."""
    folder = BUILD / "wheels" / "project"
    shutil.rmtree(folder, ignore_errors=True)
    for stale in ("lib", "bdist.linux-x86_64"):  # setuptools' own build folders would carry old files into the wheel
        shutil.rmtree(BUILD / stale, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(folder), str(ROOT)]
    subprocess.run(command, check=True)
    (wheel,) = folder.glob("*.whl")
    return wheel


def stage(wheels: list[Path], platforms: list[str]) -> Path:
    """The extension's source tree: manifest, add-on, wheels."""
    staged = BUILD / "extension"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(ROOT / "mocap_anything_addon", staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
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
    wheels = [project_wheel(), *(w for p in platforms for w in download_wheels(p))] if with_wheels else []
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
    parser.add_argument("--dist", type=Path, default=DIST, help="where the zips go (default: dist/)")
    args = parser.parse_args(argv)
    for z in build(args.platforms, not args.no_wheels, args.dist.resolve()):
        print(f"build: {z} ({z.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
