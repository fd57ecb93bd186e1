"""The on-the-fly renderer: its ground truth is FK's, and the bodies sit on the joints."""

import dataclasses

import numpy as np
import torch

from model.data import procedural, render
from model.kinematics import forward_kinematics
from model.rotations import axis_rotation


def clip(seed=3, bones=30, frames=6):
    sk = procedural.random_skeleton(seed, bones)
    return procedural.random_motion(sk, frames, seed=seed)


def test_view_motion_turns_the_world_and_only_the_roots():
    motion = clip()
    yaw = 0.7
    view = render.view_motion(motion, yaw)
    Q = axis_rotation(2, np.float64(-yaw))
    np.testing.assert_allclose(view.positions(), motion.positions() @ Q.T, atol=1e-9)
    G_world = forward_kinematics(motion.skeleton, motion.local_rotations, motion.root_translation)[0]
    G_view = forward_kinematics(view.skeleton, view.local_rotations, view.root_translation)[0]
    np.testing.assert_allclose(G_view, Q @ G_world, atol=1e-9)
    others = motion.skeleton.parents >= 0
    assert np.array_equal(view.local_rotations[:, others], motion.local_rotations[:, others])


def test_every_visible_joint_lands_on_its_body():
    motion = clip(seed=5, bones=40)
    sk = motion.skeleton
    rng = np.random.default_rng(0)
    body = render.random_body(rng, sk)
    body = dataclasses.replace(body, colour=np.full_like(body.colour, 0.8), stripes=np.zeros_like(body.stripes))
    heads, tails = render.bone_ends(motion, body)
    np.testing.assert_allclose(heads, motion.positions(), atol=1e-12)
    size = 64
    camera = render.random_camera(rng, np.concatenate([heads, tails], 1), size)
    h, t = (torch.as_tensor(x, dtype=torch.float32) for x in (heads, tails))
    image = render.rasterize(h, t, body, camera, size, torch.zeros(3, size, size), np.array([0.0, -1.0, 0.0]), ambient=1.0)
    uv, _ = render._project(h, camera, size)
    pixel = uv.floor().long()
    inside = ((pixel >= 0) & (pixel < size)).all(-1)
    assert inside.float().mean() > 0.9  # the camera frames the clip
    frame, joint = torch.nonzero(inside, as_tuple=True)
    values = image[frame, :, pixel[frame, joint, 1], pixel[frame, joint, 0]]
    # Every joint's pixel shows a body (thin bones cover it partly), never the black background.
    assert (values.min(-1).values > 0).all() and (values.min(-1).values > 0.3).float().mean() > 0.8
    assert (image.amax(1) == 0).float().mean() > 0.3  # and the body does not fill the frame


def test_render_clip_is_seeded_and_uint8():
    motion = clip(seed=7, bones=12, frames=4)
    body = render.random_body(np.random.default_rng(1), motion.skeleton)
    make = lambda: render.render_clip(motion, body, np.random.default_rng(2), 48)
    (a, uv), (b, _) = make(), make()
    assert a.shape == (4, 48, 48, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert uv.shape == (4, 12, 2) and np.abs(uv).max() < 1.5
    assert a.std() > 5  # not a blank frame
