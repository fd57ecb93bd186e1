#!/usr/bin/env bash
# Training data, optional: the people and animals of the game 0 A.D. (Debian's `0ad-data`,
# CC-BY-SA 3.0), artist-keyed animation (model/data/zeroad.py). Downloads the package (1.4 GB),
# keeps only the skeletons and the people's and animals' animations (about 80 MB) in
# cache/0ad/, and removes the rest. Safe to run again; the tests and the shipped extension never need it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=cache/0ad
if [ -f "$out/.ready-2" ]; then
  echo "fetch_0ad: $out is ready"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch_0ad: downloading Debian's 0ad-data (1.4 GB)"
(cd "$work" && apt-get download -q 0ad-data 2>&1 | grep -v "couldn't be accessed by user '_apt'" || true)
deb=$(ls "$work"/0ad-data_*_all.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/share/games/0ad/mods/public/public.zip ./usr/share/doc/0ad-data/copyright
rm -f "$deb"
rm -rf "$out" && mkdir -p "$out"
python3 - "$work/usr/share/games/0ad/mods/public/public.zip" "$out" <<'PY'
import sys, zipfile
from pathlib import Path
archive, out = zipfile.ZipFile(sys.argv[1]), Path(sys.argv[2])
wanted = [
    n for n in archive.namelist()
    if (n.startswith("art/skeletons/") and n.endswith(".xml"))
    or (n.startswith(("art/animation/biped/", "art/animation/quadraped/")) and n.endswith(".psa"))
]
for name in wanted:
    target = out / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(archive.read(name))
print(f"fetch_0ad: {len(wanted)} files into {out}")
PY
cp "$work/usr/share/doc/0ad-data/copyright" "$out/COPYRIGHT"
touch "$out/.ready-2"
