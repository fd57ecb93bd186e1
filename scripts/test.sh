#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite on Python 3.11 with bpy 5.0.1;
# then, unless pytest arguments are given, the Blender matrix (scripts/test_blenders.sh):
# the Blender tests on bpy 5.3.0 / Python 3.13 and install-and-capture smoke tests of the
# Linux release zip on 4.2 LTS, 4.5 LTS and 5.3. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
if [ $# -eq 0 ]; then
  bash scripts/test_blenders.sh
fi
