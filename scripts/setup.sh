#!/usr/bin/env bash
# Sets up everything MoCap Anything needs on a fresh Debian/Ubuntu machine with Python 3.11:
# - Debian packages: the CMU BVH clips (assimp-testmodels) and the X11/GL libraries the
#   `bpy` module loads;
# - a virtual environment in .venv with the pinned Python packages (pyproject.toml).
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

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

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
stamp=.venv/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: creating .venv and installing the pinned Python packages"
  "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  # The CPU build of torch first, so that nothing pulls the CUDA wheels.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[blender,eval,dev]"
  echo "$want" > "$stamp"
fi
