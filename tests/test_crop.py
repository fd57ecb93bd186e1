"""Finding the subject and cutting it out (`model.crop`): the pixel mappings are exact
inverses of the image operations, and the confidence falls where it should."""

import numpy as np
import torch

from model import crop, pipeline
from model.data.procedural import random_skeleton
from model.skeleton import Skeleton
from model.video import prepare_frames


def dot_frame(height, width, x, y):
    frame = np.zeros((height, width, 3), np.uint8)
    frame[y - 2 : y + 3, x - 2 : x + 3] = 255
    return frame


def brightest(image: torch.Tensor) -> torch.Tensor:
    """(3, S, S) -> (x, y) of the weighted centre of the bright pixels (pixel centres at +0.5)."""
    weight = image.mean(0)
    ys, xs = torch.meshgrid(torch.arange(weight.shape[0]) + 0.5, torch.arange(weight.shape[1]) + 0.5, indexing="ij")
    return torch.stack([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()


def test_letterbox_and_crop_places_map_back_to_the_frame():
    for height, width, x, y in ((480, 640, 500, 100), (720, 405, 40, 600)):
        frame = dot_frame(height, width, x, y)
        S = 160
        square = prepare_frames(frame[None], S)[0]
        uv = brightest(square) / S * 2 - 1
        back = crop.letterbox_to_pixels(uv[None, None], height, width, S)[0, 0]
        assert torch.allclose(back, torch.tensor([x + 0.5, y + 0.5]), atol=0.03 * max(height, width) / S * 2)
        box = torch.tensor([[x + 30.0, y - 20.0, 120.0]])  # the dot off the crop's centre
        cut = crop.cut([frame], box, S)[0]
        uv = brightest(cut) / S * 2 - 1
        assert torch.allclose(crop.crop_to_pixels(uv[None, None], box)[0, 0], torch.tensor([x + 0.5, y + 0.5]), atol=1.0)


def test_boxes_hold_the_joints_and_crops_outside_the_frame_are_black():
    pixels = torch.tensor([[[100.0, 50.0], [140.0, 250.0], [120.0, 150.0]]])
    ((cx, cy, side),) = crop.boxes(pixels, 480, 640).tolist()
    assert (cx, cy) == (120.0, 150.0) and side == 200 * crop.MARGIN
    tiny = crop.boxes(torch.full((1, 3, 2), 10.0), 480, 640)
    assert tiny[0, 2] == crop.MIN_SIDE * 640  # a lost subject does not zoom in on a point
    small = crop.boxes(torch.tensor([[[60.0, 60.0], [70.0, 75.0]]]), 128, 128, size=160)
    assert small[0, 2] == 160 / crop.MAX_ZOOM  # a subject 15 px tall is not blown up to fill the crop
    assert crop.boxes(pixels, 480, 640, size=160)[0, 2] == side  # a large one is framed as before
    frame = np.full((60, 80, 3), 200, np.uint8)
    corner = crop.cut([frame], torch.tensor([[0.0, 0.0, 40.0]]), 32)[0]
    assert corner[:, :15, :15].max() == 0 and corner[:, 17:, 17:].min() > 0.7


def test_smoothing_follows_a_moving_subject_without_jitter():
    t = torch.arange(60, dtype=torch.float64)
    truth = torch.stack([10 * t, 5 * t, torch.full_like(t, 100)], -1)
    jitter = truth + torch.randn(60, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 8
    smooth = crop.smooth(jitter)
    inner = slice(6, -6)
    assert (smooth - truth)[inner].abs().mean() < 0.5 * (jitter - truth)[inner].abs().mean()
    assert torch.allclose(crop.smooth(truth)[inner], truth[inner])  # a steady pan stays where it is


def test_confidence_and_its_runs_of_frames():
    seen = np.tile([[100.0, 100.0], [120.0, 160.0]], (6, 1, 1))
    boxes = np.tile([110.0, 130.0, 100.0], (6, 1))
    located = seen.copy()
    located[2] += 60  # the first look found something else
    seen[4:, 1] = located[4:, 1] = [-50, 100]  # both looks: one of two joints out of frame
    score = crop.confidence(located, seen, boxes, 240, 320)
    np.testing.assert_allclose(score[[0, 1, 3]], 1.0)
    assert score[2] == 0.0 and score[4] == score[5] == 0.5
    assert pipeline.frame_runs(score < crop.LOW_CONFIDENCE, np.arange(10, 16)) == "12"
    low = np.array([0.9, 0.1, 0.2, 0.9, 0.3, 0.1]) < crop.LOW_CONFIDENCE
    assert pipeline.frame_runs(low, np.arange(0, 12, 2)) == "2-4, 8-10"  # a stride: runs of captured frames
    assert pipeline.frame_runs(low, np.arange(6), limit=1) == "1-2, ..."


class BlobSeer:
    """A stand-in for Video-to-Pose with a 2D head: its two 'joints' are the left and right
    edges of the bright blob in whatever square it is shown, so the pipeline's looks,
    boxes, crops and mappings can be checked against a subject whose place is known."""

    image_size, locates = 64, True

    def video_stages(self, skeleton, ref_positions):
        def fn(images):
            weight = images.mean(1)  # (n, S, S)
            S = weight.shape[-1]
            xs = (torch.arange(S, dtype=torch.float64) + 0.5) / S * 2 - 1
            bright = (weight > 0.5).double()
            mass = bright.sum((1, 2)).clamp(min=1)
            cx = (bright.sum(1) * xs).sum(-1) / mass
            cy = (bright.sum(2) * xs).sum(-1) / mass
            half = (bright.sum(1) > 0).double().sum(-1) / S  # half the blob's width, in -1..1 units
            uv = torch.stack([torch.stack([cx - half, cy], -1), torch.stack([cx + half, cy], -1)], 1)
            return torch.cat([torch.zeros(len(images), 2, 3, dtype=torch.float64), uv], -1)

        return [(fn, 0)]


def test_the_crop_follows_a_subject_that_crosses_the_frame():
    from model import pipeline, streaming
    from model.skeleton import Skeleton

    T, H, W, side = 40, 360, 640, 24
    centres = np.stack([np.linspace(40, W - 40, T), np.linspace(80, H - 60, T)], -1)
    frames = []
    for cx, cy in centres:
        frame = np.full((H, W, 3), 30, np.uint8)
        frame[int(cy) - side // 2 : int(cy) + side // 2, int(cx) - side // 2 : int(cx) + side // 2] = 255
        frames.append(frame)
    skeleton = Skeleton(np.array([-1, 0]), np.array([[0.0, 0, 0], [0, 0, 1]]))
    chunks, stages, seen = pipeline.pose_stages(BlobSeer(), skeleton, None, iter(frames), T, chunk_frames=7)
    assert sum(len(out) for out in streaming.chain(stages, chunks)) == T
    box_centres = seen.boxes[:, :2]
    assert np.abs(box_centres - centres).max() < 12  # the box follows it across the frame
    assert (seen.boxes[:, 2] < 0.2 * W).all()  # and frames it closely: the subject fills the crop
    second_look = seen.pixels.mean(1)
    assert np.abs(second_look - centres).max() < 2.5  # the crop's view maps back to the frame
    assert np.abs(second_look - centres).mean() < np.abs(seen.located.mean(1) - centres).mean()  # sharper than the first look
    assert (seen.confidence(T) > 0.8).all()


def test_preview_draws_the_joints_where_they_were_seen():
    from model.capture import PREVIEW_SIZE, preview
    from model.skeleton import Skeleton

    skeleton = Skeleton(np.array([-1, 0]), np.array([[0.0, 0, 0], [0, 0, 1]]))
    frames = np.zeros((1, 360, 640, 3), np.uint8)  # scaled by PREVIEW_SIZE/640 into the tile, centred
    heads = np.array([[[0.0, 0, 0], [0, 0, 1]]])
    seen = np.array([[[100.0, 100.0], [300.0, 200.0]]])
    row = preview(frames, skeleton, heads, pixels=seen, confidence=np.array([0.8]))
    assert not ((row[:, :PREVIEW_SIZE, 0] > 150) & (row[:, :PREVIEW_SIZE, 2] < 100)).any()  # the frame as it is, first
    tile = row[:, PREVIEW_SIZE : 2 * PREVIEW_SIZE]
    orange = (tile[..., 0] > 150) & (tile[..., 2] < 100)
    ys, xs = np.nonzero(orange)
    scale, top = PREVIEW_SIZE / 640, (PREVIEW_SIZE - round(360 * PREVIEW_SIZE / 640)) // 2
    assert abs(xs.min() - 100 * scale) <= 2 and abs(xs.max() - 300 * scale) <= 2
    assert abs(ys.min() - (100 * scale + top)) <= 2 and abs(ys.max() - (200 * scale + top)) <= 2
    plain = preview(frames, skeleton, heads)[:, PREVIEW_SIZE : 2 * PREVIEW_SIZE]
    assert not ((plain[..., 0] > 150) & (plain[..., 2] < 100)).any()  # nothing seen, nothing drawn


def hand_rig():
    """A root with a leg, and an arm ending in a hand with five fingers of three joints."""
    parents, heads = [-1, 0, 1, 2, 0, 4], [[0, 0, 0], [0, 0, 1], [0.5, 0, 1], [1, 0, 1], [0.2, 0, -0.5], [0.2, 0, -1]]
    for f in range(5):
        for k in range(3):
            parents.append(3 if k == 0 else len(parents) - 1)
            heads.append([1.03 + 0.03 * k, 0.02 * (f - 2), 1])
    return Skeleton(np.array(parents), np.array(heads, float))


def test_the_first_look_places_a_large_rig_by_its_body():
    sk = hand_rig()
    assert np.array_equal(crop.first_look_joints(sk, sk.num_joints), np.arange(sk.num_joints))  # small enough: all
    source = crop.first_look_joints(sk, 6)
    assert np.array_equal(source, [0, 1, 2, 3, 4, 5] + [3] * 15)  # the fingers go, placed by the hand
    big = random_skeleton(1, 150)
    source = crop.first_look_joints(big, 64)
    body = np.unique(source)
    assert body.size == 64 and set(big.roots) <= set(body)
    assert big.ancestor_mask[np.arange(150), source].all()  # each joint placed by itself or an ancestor
    assert big.subset(body).num_joints == 64  # a rig: every kept joint's parent is kept
    assert np.linalg.norm(big.rest_heads - big.rest_heads[source], axis=-1).max() < 0.2 * big.scale


class RestSeer:
    """A stand-in for Video-to-Pose that sees each joint where its rest head is (x, z): a
    joint's place tells which rig's joint it is. Records the size of each rig it looks for."""

    image_size, locates = 64, True

    def __init__(self):
        self.rigs = []

    def video_stages(self, skeleton, ref_positions):
        self.rigs.append(skeleton.num_joints)
        uv = torch.as_tensor(skeleton.rest_heads[:, [0, 2]] / (2 * np.abs(skeleton.rest_heads).max()))

        def fn(images):
            heads = torch.zeros(len(images), skeleton.num_joints, 3, dtype=torch.float64)
            return torch.cat([heads, uv.expand(len(images), -1, -1)], -1)

        return [(fn, 0)]


def test_the_first_look_at_a_large_rig_places_each_left_out_joint_where_its_stand_in_is():
    from model import streaming

    sk, seer, T = random_skeleton(1, 150), RestSeer(), 5
    frames = [np.zeros((48, 64, 3), np.uint8)] * T
    chunks, stages, seen = pipeline.pose_stages(seer, sk, sk.rest_heads, iter(frames), T)
    assert sum(len(out) for out in streaming.chain(stages, chunks)) == T
    assert seer.rigs == [150, crop.LOOK_JOINTS]  # the second look at the whole rig, the first at its body
    source = crop.first_look_joints(sk)
    assert np.array_equal(seen.located, seen.located[:, source])  # a joint left out is where its stand-in is
    kept_places = np.unique(sk.rest_heads[np.unique(source)][:, [0, 2]], axis=0)
    assert len(np.unique(seen.located[0], axis=0)) == len(kept_places)  # and the kept ones each where they are
