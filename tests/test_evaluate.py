import numpy as np
import pytest
from conftest import needs_bpy

from model import evaluate, metrics
from model.data.procedural import random_motion, random_skeleton
from model.ik import solve_rotations


@needs_bpy
def test_cli_prints_tables_for_each_set_and_noise(capsys, tmp_path):
    out = tmp_path / "t.md"
    args = ["--sets", "procedural", "rigify", "--noise", "0", "2", "--max-frames", "30", "--solvers", "ik", "--out", str(out)]
    assert evaluate.main(args) == 0
    text = capsys.readouterr().out
    assert text.strip() == out.read_text().strip()
    for heading in ("### procedural, solver `ik`, noise 0 cm", "### rigify, solver `ik`, noise 2 cm", "| horse | 70 | 30 |"):
        assert heading in text
    summary = [line.split("|") for line in text.splitlines() if line.startswith("| procedural |")]
    exact, noisy = (float(cells[4]) for cells in summary)
    assert noisy > exact  # noise makes the baseline worse
    assert float(summary[0][6]) == 0.0  # exact positions: the IK result reproduces them


def test_evaluate_clip_exact_positions_reproduce_positions():
    motion = random_motion(random_skeleton(11, 40), 50, seed=11)
    rotation, twist, mpjpe, velocity, multi, swing, twist_class, leaf = evaluate.evaluate_clip(solve_rotations, motion)
    assert mpjpe < 1e-9 and rotation > 0 and twist >= 0 and velocity >= 0
    assert multi < 1e-4 and swing < 1e-4 and twist_class > 0 and leaf > 0  # what the IK can and cannot know
    # A solver that knows the truth scores zero everywhere.
    oracle = lambda sk, P, rp, rr: motion.local_rotations[1:]
    assert np.allclose(evaluate.evaluate_clip(oracle, motion), 0.0, atol=1e-6)
    # Holding the reference scores the reference's distance from each frame.
    held = evaluate.evaluate_clip(evaluate.hold_reference, motion)
    assert held[0] > rotation and held[2] > 1.0
    # With the rest pose as reference, holding it scores each frame's distance from rest; the IK
    # still reproduces the positions exactly.
    rested = evaluate.evaluate_clip(evaluate.hold_reference, motion, rest=True)
    truth = motion.local_rotations[1:]
    assert rested[0] == pytest.approx(metrics.rotation_error(np.broadcast_to(np.eye(3), truth.shape), truth))
    assert evaluate.evaluate_clip(solve_rotations, motion, rest=True)[2] < 1e-9


def test_bad_arguments():
    motion = random_motion(random_skeleton(11, 10), 5, seed=1)
    with pytest.raises(ValueError, match="reference frame"):
        evaluate.evaluate_clip(solve_rotations, motion, reference_frame=5)
    with pytest.raises(ValueError, match="besides the reference"):
        evaluate.evaluate_clip(solve_rotations, motion.frames(slice(0, 1)))
    with pytest.raises(SystemExit):
        evaluate.main(["--noise", "-1"])
    with pytest.raises(SystemExit):
        evaluate.main(["--sets", "nonsense"])
    for twice in (["a/p.safetensors", "a/p.safetensors"], ["a/network.safetensors"]):  # a table column replaced
        with pytest.raises(SystemExit):
            evaluate.main(["--solvers", "network", "--weights", *twice])


def test_checkpoints_of_one_stem_are_named_by_their_folders():
    runs = ["model/weights/pose2rot.safetensors", "training/p2r-gate/pose2rot.safetensors", "x/capture.safetensors"]
    assert [evaluate.label(c, runs) for c in runs] == ["weights/pose2rot", "p2r-gate/pose2rot", "capture"]
