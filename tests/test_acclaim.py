"""The ASF/AMC reader: a small skeleton with a hand-worked answer, and the Vicon clip
that training reads."""

import numpy as np
import pytest

from model.data import acclaim, evalsets, humans

ASF = """# a test skeleton
:version 1.10
:units
  mass 1.0
  length 1
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 1
     axis 0 0 90 XYZ
     dof rx
  end
  begin
     id 2
     name b
     direction 1 0 0
     length 2
     axis 0 0 0 XYZ
  end
  begin
     id 3
     name c
     direction 0 1 0
     length 1
     axis 0 0 0 XYZ
     dof rx ry rz
  end
:hierarchy
  begin
    root a
    a b
    b c
  end
"""
AMC = """:FULLY-SPECIFIED
:DEGREES
1
root 0 0 0 0 0 0
a 0
c 0 0 0
2
root 1 2 3 0 0 0
a {a}
c 0 0 0
"""


def read(tmp_path, a="90", asf=ASF):
    (tmp_path / "s.asf").write_text(asf)
    (tmp_path / "m.amc").write_text(AMC.format(a=a))
    return acclaim.load_acclaim(tmp_path / "s.asf", tmp_path / "m.amc")


def test_a_worked_example(tmp_path):
    clip = read(tmp_path)
    s = acclaim.INCH
    assert list(clip.skeleton.names) == ["root", "a", "b", "c"]
    np.testing.assert_allclose(clip.skeleton.rest_heads, np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [3, 0, 0]]) * s)
    np.testing.assert_allclose(clip.end_sites[3], np.array([0, 1, 0]) * s)
    # a turns 90 degrees about its own x axis, which its `axis` (90 about z) lays along world y:
    # everything below it swings from +x to -z; the root moves by (1, 2, 3) inches.
    heads = clip.positions()[1]
    expected = np.array([[0, 0, 0], [0, 0, 0], [0, 0, -1], [0, 0, -3]]) + np.array([1, 2, 3])
    np.testing.assert_allclose(heads, expected * s, atol=1e-12)


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(acclaim.AcclaimError, match="frame 2 gives a 2 values for 1 degrees of freedom"):
        read(tmp_path, a="90 1")
    with pytest.raises(acclaim.AcclaimError, match="only rotations are read"):
        read(tmp_path, asf=ASF.replace("dof rx ry rz", "dof tx rx"))
    with pytest.raises(acclaim.AcclaimError, match="only degrees"):
        read(tmp_path, asf=ASF.replace("angle deg", "angle rad"))
    with pytest.raises(acclaim.AcclaimError, match=r"names bones that :bonedata lacks: \['d'\]"):
        read(tmp_path, asf=ASF.replace("    b c\n", "    b c d\n"))


def test_the_vicon_training_clip():
    clip = acclaim.load_acclaim(evalsets.ACCLAIM_DIR / "test.asf", evalsets.ACCLAIM_DIR / "test.amc")
    assert (clip.num_frames, clip.skeleton.num_joints) == (2751, 31)
    positions = clip.positions()
    sk = clip.skeleton
    child = np.arange(1, sk.num_joints)
    rest = np.linalg.norm(sk.rest_heads[child] - sk.rest_heads[sk.parents[child]], axis=-1)
    moving = np.linalg.norm(positions[:, child] - positions[:, sk.parents[child]], axis=-1)
    np.testing.assert_allclose(moving, np.broadcast_to(rest, moving.shape), atol=1e-9)  # rigid bones
    height = np.ptp(positions[0, :, 1])
    assert 1.2 < height < 2.0, height  # a person, in metres (Y up)
    assert humans.anchors_of(sk) is not None  # the person path's training finds its body joints
