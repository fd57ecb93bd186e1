"""Does fitting the network's rotations to V2P's positions (`pose_to_rotation(fit=True)`)
help video capture? Mean errors over a rendered evaluation set, without and with the fit.

    .venv/bin/python scripts/fit_check.py --set out/evalset
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model import metrics  # noqa: E402
from model.data.evalsets import load_video_set  # noqa: E402
from model.evaluate_video import Pipeline  # noqa: E402
from model.ik import fit_positions  # noqa: E402
from model.network import CAPTURE_WEIGHTS  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--set", default="out/evalset")
args = parser.parse_args()
pipeline, rows = Pipeline(CAPTURE_WEIGHTS, CAPTURE_WEIGHTS), []
for clip in load_video_set(args.set):
    result = pipeline(clip)
    plain = result.rotations
    fitted = fit_positions(clip.skeleton, plain, result.positions)
    rows.append(
        [
            f(R, clip.rotations, *extra)
            for f, extra in ((metrics.rotation_error, ()), (metrics.twist_error, (clip.skeleton,)))
            for R in (plain, fitted)
        ]
    )
rotation, rotation_fit, twist, twist_fit = np.mean(rows, 0)
print(f"| end-to-end, as shipped | {rotation:.2f} | {twist:.2f} |")
print(f"| end-to-end + fit to V2P positions | {rotation_fit:.2f} | {twist_fit:.2f} |")
