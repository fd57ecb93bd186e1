#!/usr/bin/env bash
# Prints the path of a working Python interpreter of version $1 (3.11, 3.13): on the PATH
# or in pyenv's versions; fails with a message if there is none. (A pyenv shim of another
# version's name is on the PATH but does not run: each candidate is tried.)
set -euo pipefail
for candidate in "python$1" "$HOME"/.pyenv/versions/"$1".*/bin/python"$1"; do
  if "$candidate" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$1'.split('.')))" >/dev/null 2>&1; then
    "$candidate" -c "import sys; print(sys.executable)"
    exit 0
  fi
done
echo "no Python $1 found (on the PATH or in ~/.pyenv/versions)" >&2
exit 1
