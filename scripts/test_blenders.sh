#!/usr/bin/env bash
# The Blender matrix beyond the main test run (which is bpy 5.0.1 on Python 3.11):
# 1. the Blender tests (the built, installed extension) on bpy 5.3.0, Python 3.13, in
#    .venv313 (set up by scripts/setup.sh with PYTHON=3.13);
# 2. an install-and-capture smoke test (scripts/smoke_blender.py) of the Linux release zip,
#    wheels included, in clean environments holding only `bpy`: 4.2 LTS and 4.5 LTS
#    (Python 3.11, the zip's own torch) and 5.3 (Python 3.13, where the zip carries no torch:
#    the preference "Own torch" pointed at .venv313's, as the extension tells a user).
# Environments are kept between runs (a stamp per environment), but for a smoke test's when
# less than KEEP_GB of disk is left: it is removed after its run (a re-run downloads bpy).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_NO_CACHE_DIR=1
KEEP_GB=${KEEP_GB:-12}
free_gb() { df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }'; }
echo "matrix: $(free_gb) GB of disk free"

PYTHON=3.13 VENV=.venv313 EXTRAS=blender,dev bash scripts/setup.sh
echo "matrix: the Blender tests on bpy 5.3.0 / Python 3.13"
.venv313/bin/python -m pytest -q -p no:cacheprovider tests/test_blender.py tests/test_addon.py tests/test_rigs.py

echo "matrix: building the Linux release zip (wheels for Python 3.11 and 3.13)"
.venv/bin/python build.py --platforms linux-x64 --dist build/matrix >/dev/null
zip=$(ls build/matrix/mocap_anything-*-linux_x64.zip)
own_torch=$(.venv313/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
for pair in 4.2.23:3.11 4.5.15:3.11 5.3.0:3.13; do
  bpy=${pair%%:*} python=${pair##*:}
  env=build/bpy-$bpy
  if [ ! -f "$env/.ready" ]; then
    rm -rf "$env"
    "$(bash scripts/find_python.sh "$python")" -m venv "$env"
    "$env/bin/pip" install -q "bpy==$bpy"
    touch "$env/.ready"
  fi
  if [ "$python" = 3.13 ]; then
    "$env/bin/python" scripts/smoke_blender.py "$zip" --own-torch "$own_torch"
  else
    "$env/bin/python" scripts/smoke_blender.py "$zip"
  fi
  if [ "$(free_gb)" -lt "$KEEP_GB" ]; then
    echo "matrix: $(free_gb) GB of disk free: removing $env (re-created by the next run)"
    rm -rf "$env"
  fi
done
