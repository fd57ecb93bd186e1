"""Synthetic video of any skeleton, rendered on the fly in torch (training data for V2P).

Each bone gets a body part: a capsule from its head to its tail, of random thickness,
colour and stripes, shaded by one random light. A static perspective camera looks at the
body from the front of the *view frame* (on -Y, looking along +Y, Z up; DESIGN.md
section 3) with random distance, focal length and elevation, and the subject is not
always centred. Backgrounds are random gradients, horizons and blotches; pixel noise and
exposure vary. The camera's yaw about the subject is baked into the ground truth: the
view-frame positions and the root rotations are the world's turned by -yaw.

Rendering is a z-buffer over analytic capsules (the nearest surface per pixel, soft
edges), vectorised over frames, pixels and the bones that overlap each 8 x 8 tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..kinematics import forward_kinematics
from ..rotations import axis_rotation
from ..skeleton import Skeleton, default_tails
from .motion import Motion

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Body:
    """Per bone: the bone vector in its own rest frame, a radius, a colour and stripes."""

    bone_vectors: np.ndarray  # (J, 3): B_j^T (tail_j - head_j)
    radius: np.ndarray  # (J,)
    colour: np.ndarray  # (J, 3) in [0, 1]
    stripes: np.ndarray  # (J, 3): amplitude, frequency (per bone length), phase


@dataclass(frozen=True)
class Camera:
    eye: np.ndarray  # (3,) in the view frame
    rotation: np.ndarray  # (3, 3) rows: right, forward, up
    focal: float  # pixels


def bone_vectors(skeleton: Skeleton, tails: np.ndarray | None = None) -> np.ndarray:
    tails = default_tails(skeleton) if tails is None else tails
    return (skeleton.rest_frames.transpose(0, 2, 1) @ (tails - skeleton.rest_heads)[..., None])[..., 0]


def random_body(rng: np.random.Generator, skeleton: Skeleton, tails: np.ndarray | None = None) -> Body:
    vectors = bone_vectors(skeleton, tails)
    s, J = skeleton.scale, skeleton.num_joints
    length = np.linalg.norm(vectors, axis=-1)
    radius = np.clip(rng.uniform(0.12, 0.4) * length * rng.uniform(0.7, 1.3, J), 0.012 * s, rng.uniform(0.06, 0.14) * s)
    palette = rng.uniform(0.05, 1.0, (int(rng.integers(1, 4)), 3))
    colour = np.clip(palette[rng.integers(0, len(palette), J)] + rng.normal(0, 0.06, (J, 3)), 0, 1)
    stripes = np.stack([rng.uniform(0, 0.4, J) * (rng.random(J) < 0.3), rng.uniform(1, 5, J), rng.uniform(0, 2 * np.pi, J)], -1)
    return Body(vectors, radius, colour, stripes)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, UP)
    right /= np.linalg.norm(right)
    return np.stack([right, forward, np.cross(right, forward)])


def random_camera(rng: np.random.Generator, heads: np.ndarray, size: int, small_share: float = 0.0) -> Camera:
    """A static camera in front of the clip's joint heads (T, J, 3, view frame). The clip
    spans 45-95% of the image, or with probability `small_share` 15-45% (a small subject
    in a large frame, as the first look of a capture sees it)."""
    low, high = heads.reshape(-1, 3).min(0), heads.reshape(-1, 3).max(0)
    centre, radius = (low + high) / 2, max((high - low)[[0, 2]].max() / 2, 1e-6)  # across and up
    focal = 1 / (2 * np.tan(np.radians(rng.uniform(35, 65)) / 2))  # per image width
    large = small_share == 0 or rng.random() < 1 - small_share  # (no draw without small subjects: seeded sets stay)
    fill = rng.uniform(0.45, 0.95) if large else rng.uniform(0.15, 0.45)  # of the image the clip spans
    distance = 2 * radius * focal / fill + (high - low)[1] / 2 + 1e-3 * radius
    elevation = np.radians(rng.uniform(-5, 30))
    eye = centre + distance * np.array([0.0, -np.cos(elevation), np.sin(elevation)])
    rotation = look_at(eye, centre)
    shift = rng.uniform(-1, 1, 2) * (1 - fill) / 2 * (distance / focal)  # subject off centre
    rotation = look_at(eye, centre + shift[0] * rotation[0] + shift[1] * rotation[2])
    return Camera(eye, rotation, focal * size)


def random_background(rng: np.random.Generator, size: int) -> torch.Tensor:
    """(3, size, size): a sky/ground split with gradients and soft blotches."""
    v = torch.linspace(0, 1, size)[:, None].expand(size, size)
    sky, ground = (torch.tensor(rng.uniform(0, 1, 3), dtype=torch.float32) for _ in range(2))
    horizon = rng.uniform(0.3, 0.9)
    sharp = rng.uniform(5, 60)
    mix = torch.sigmoid((v - horizon) * sharp)[None]
    image = sky[:, None, None] * (1 - mix) + ground[:, None, None] * mix
    image = image * (1 + rng.uniform(-0.3, 0.3) * (v[None] - 0.5))
    cells = int(rng.integers(3, 16))
    blotches = torch.tensor(rng.normal(0, rng.uniform(0, 0.25), (1, 3, cells, cells)), dtype=torch.float32)
    image = image + torch.nn.functional.interpolate(blotches, size=(size, size), mode="bicubic", align_corners=False)[0]
    return image.clamp(0, 1)


def _project(points: torch.Tensor, camera: Camera, size: int):
    """(..., 3) view-frame points -> pixel (u, v) (..., 2) and depth (...)."""
    rot = torch.as_tensor(camera.rotation, dtype=points.dtype)
    c = (points - torch.as_tensor(camera.eye, dtype=points.dtype)) @ rot.T
    depth = c[..., 1].clamp(min=1e-4)
    uv = torch.stack([c[..., 0], -c[..., 2]], -1) * (camera.focal / depth[..., None]) + size / 2
    return uv, depth


TILE = 8  # pixels; each tile shades only the bones whose box overlaps it


def rasterize(heads, tails, body: Body, camera: Camera, size: int, background, light: np.ndarray, ambient: float):
    """Capsules from heads to tails (T, J, 3) -> images (T, 3, size, size) in [0, 1]."""
    T, J = heads.shape[:2]
    a, depth_a = _project(heads, camera, size)
    b, depth_b = _project(tails, camera, size)
    radius = torch.as_tensor(body.radius, dtype=heads.dtype).expand(T, J)
    radius_px = camera.focal * radius / ((depth_a + depth_b) / 2)  # (T, J)

    # Candidate bones per tile: (T, n tiles, K) indices, K = the most any tile needs.
    tiles = -(-size // TILE)
    corner = torch.stack(torch.meshgrid(torch.arange(tiles), torch.arange(tiles), indexing="xy"), -1).reshape(-1, 2) * TILE
    low = torch.minimum(a, b) - radius_px[..., None] - 1
    high = torch.maximum(a, b) + radius_px[..., None] + 1
    overlap = ((low[:, None] < corner[None, :, None] + TILE) & (high[:, None] > corner[None, :, None])).all(-1)
    K = max(int(overlap.sum(-1).max()), 1)
    hit, bone = overlap.to(torch.int8).topk(K, dim=-1)  # (T, n, K)
    hit = hit.bool()

    def per_tile(x):  # (T, J, ...) -> (T, n, 1, K, ...)
        flat = x.reshape(T, J, -1)
        out = flat.gather(1, bone.reshape(T, -1, 1).expand(-1, -1, flat.shape[-1]))
        return out.reshape(T, bone.shape[1], 1, K, *x.shape[2:])

    inner = torch.stack(torch.meshgrid(torch.arange(TILE), torch.arange(TILE), indexing="xy"), -1).reshape(-1, 2)
    pixel = (corner[:, None] + inner[None]).to(heads.dtype) + 0.5  # (n, P, 2)
    p = pixel[None, :, :, None, :]  # (1, n, P, 1, 2)
    a_, ab = per_tile(a), per_tile(b - a)
    t = (((p - a_) * ab).sum(-1) / (ab.square().sum(-1) + 1e-9)).clamp(0, 1)  # (T, n, P, K)
    offset = p - (a_ + t[..., None] * ab)
    r_px = per_tile(radius_px)
    rel = (offset.norm(dim=-1) / r_px).clamp(max=1.0)
    bulge = (1 - rel.square()).sqrt()
    depth = per_tile(depth_a) + t * per_tile(depth_b - depth_a) - per_tile(radius) * bulge
    coverage = (r_px - offset.norm(dim=-1) + 0.5).clamp(0, 1) * hit[:, :, None]
    nearest = torch.where(coverage > 0, depth, torch.inf).argmin(-1, keepdim=True)  # (T, n, P, 1)

    def pick(x):
        return x.expand_as(t).gather(-1, nearest)[..., 0]

    cov, t_n, bulge_n = pick(coverage), pick(t), pick(bulge)
    q = offset.gather(3, nearest[..., None].expand(*nearest.shape, 2))[..., 0, :] / pick(r_px)[..., None].clamp(min=1e-6)
    normal = torch.stack([q[..., 0], -bulge_n, -q[..., 1]], -1)  # camera axes: right, forward, up
    shade = ambient + (1 - ambient) * (normal @ torch.as_tensor(light, dtype=heads.dtype)).clamp(min=0)
    idx = bone[:, :, None].expand(-1, -1, nearest.shape[2], -1).gather(-1, nearest)[..., 0]  # (T, n, P) bone index
    colour = torch.as_tensor(body.colour, dtype=heads.dtype)[idx]
    amp, freq, phase = (torch.as_tensor(body.stripes[:, k], dtype=heads.dtype)[idx] for k in range(3))
    colour = colour * (1 + amp * torch.sin(2 * np.pi * freq * t_n + phase))[..., None] * shade[..., None]
    flat_pixel = (pixel[..., 1].long() * size + pixel[..., 0].long()).reshape(-1)  # (n * P,)
    inside = flat_pixel < size * size
    bg = background.reshape(3, -1).T[flat_pixel.clamp(max=size * size - 1)][None]  # (1, n * P, 3)
    shaded = cov.reshape(T, -1, 1) * colour.reshape(T, -1, 3) + (1 - cov.reshape(T, -1, 1)) * bg
    image = torch.zeros(T, size * size, 3, dtype=heads.dtype)
    image[:, flat_pixel[inside]] = shaded[:, inside]
    return image.clamp(0, 1).transpose(1, 2).reshape(T, 3, size, size)


def view_motion(motion: Motion, yaw: float) -> Motion:
    """The clip as a camera at `yaw` (radians, about Z, counter-clockwise seen from above)
    sees it in the view frame: the world turned by -yaw, which turns the roots."""
    Q = axis_rotation(2, np.float64(-yaw))
    sk = motion.skeleton
    R = motion.local_rotations.copy()
    for r in sk.roots:
        B = sk.rest_frames[r]
        R[:, r] = B.T @ Q @ B @ R[:, r]
    heads0 = sk.rest_heads[sk.roots[0]]
    translation = (heads0 + motion.root_translation) @ Q.T - heads0  # turn about the world origin
    return Motion(sk, R, translation, motion.fps)


def bone_ends(motion: Motion, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Posed heads and tails (T, J, 3) of the body's bones, by forward kinematics."""
    G, heads = forward_kinematics(motion.skeleton, motion.local_rotations, motion.root_translation)
    return heads, heads + (G @ body.bone_vectors[:, :, None])[..., 0]


def render_clip(
    motion: Motion, body: Body, rng: np.random.Generator, size: int, small_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A view-frame clip (see `view_motion`) as uint8 RGB frames (T, size, size, 3), and
    where each joint head appears in them (T, J, 2): x right, y down, -1..1 edge to edge."""
    heads, tails = bone_ends(motion, body)
    camera = random_camera(rng, np.concatenate([heads, tails], 1), size, small_share)
    light = np.array([rng.uniform(-1, 1), -rng.uniform(0.3, 1.5), rng.uniform(-0.2, 1.2)])
    light /= np.linalg.norm(light)  # towards the light, in camera axes: from the camera's side
    background = random_background(rng, size)
    h, tl = (torch.as_tensor(x, dtype=torch.float32) for x in (heads, tails))
    image = rasterize(h, tl, body, camera, size, background, light, ambient=rng.uniform(0.25, 0.6))
    image = image * rng.uniform(0.7, 1.3) + torch.as_tensor(rng.normal(0, rng.uniform(0, 0.03), image.shape), dtype=image.dtype)
    uv = _project(h, camera, size)[0].numpy() / size * 2 - 1
    return (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy(), uv


def render_seen(motion: Motion, rng: np.random.Generator, size: int, small_share: float = 0.0):
    """A clip seen from a random yaw, with a random body and camera (`render_clip`): the
    view-frame motion (V2P's targets: `targets`), the frames (T, size, size, 3) and where
    each joint appears (T, J, 2)."""
    view = view_motion(motion, rng.uniform(-np.pi, np.pi))
    video, uv = render_clip(view, random_body(rng, motion.skeleton), rng, size, small_share)
    return view, video, uv


def targets(view: Motion) -> np.ndarray:
    """A view-frame clip's heads as V2P learns them (T, J, 3): root at the origin, in units
    of the skeleton's scale."""
    sk, positions = view.skeleton, view.positions()
    root = int(sk.roots[0])
    return (positions - positions[:, root : root + 1]) / sk.scale
