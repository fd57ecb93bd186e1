"""Render the video evaluation set with Blender's Cycles: third-party rigs with skinned
bodies, real and procedural motion, cameras at several yaws.

    .venv/bin/python scripts/render_evalset.py --out out/evalset            # the whole set
    .venv/bin/python scripts/render_evalset.py --out out/tuneset --tuning   # the tuning set
    .venv/bin/python scripts/render_evalset.py --out /tmp/s --clips basic_human.proc@0 --frames 12
    .venv/bin/python scripts/render_evalset.py --out out/evalset-people --people --size 384 --clips cmu.01_01@35 ...
    .venv/bin/python scripts/render_evalset.py --out out/tuneset-people --people --size 384 --clips training.01_03@35 ...

Rigs: Blender's Rigify metarigs (human, horse, wolf, bird, ...: never used in training)
with seeded procedural motion, the human rigs of the CMU and DeepMimic clips with
their real motion (`training.<clip>`: a clip training uses, for sets apart from the
evaluation set), and three procedural creatures of held-out seeds (`EVAL_CREATURES`;
`creature<seed>.proc@<yaw>` renders a procedural creature, as for the bundled example in
`examples/`): 23 clips. Each bone gets a body part (an ellipsoid from head to tail, skinned
rigidly to it with an Armature modifier) and a material of its own; a sun and a coloured
world light it. Each clip is posed frame by frame in the view frame (the world turned
by -yaw, DESIGN.md section 3), rendered, and encoded as `<clip>.mp4` with OpenCV; its
ground truth goes to `<clip>.npz` (`model.data.evalsets.load_video_clip` reads it): the
skeleton, the view-frame local rotations and heads (the heads as Blender evaluated
them, and where its camera shows them, in pixels), and a reference pair from a frame outside the rendered excerpt, in world space
as a keyed frame is. Same arguments, same files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import zlib
from pathlib import Path

import bpy
import cv2
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Matrix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mocap_anything_addon.armature import armature_from_skeleton  # noqa: E402
from model import humanoid  # noqa: E402
from model.data import evalsets, procedural, render, rigify  # noqa: E402
from model.data.motion import Motion  # noqa: E402
from model.kinematics import forward_kinematics  # noqa: E402
from model.rotations import matrix_to_quaternion  # noqa: E402
from model.skeleton import Skeleton, default_tails  # noqa: E402

FPS = 30.0
RIGIFY_RIGS = ("human", "horse", "wolf", "bird", "basic_human", "cat")
REAL_CLIPS = {"cmu": ("01_01", "Boxing_Toes"), "deepmimic": ("dance_b", "jump")}  # long enough for 49 frames at 30 fps
YAWS = (0, 35, -60, 90, 150, -120)  # degrees, cycled over the clips: two per motion
EVAL_CREATURES = (1_000_101, 1_000_202, 1_000_303)  # skinned procedural creatures of held-out seeds
TUNING_SEED = 3_000_000  # the tuning set's creatures: seeds no training or evaluation draws
REFERENCE = 0  # the reference frame: just before the rendered frames 1..frames


def clip_names() -> list[str]:
    """`<source>.<motion>@<yaw>`: two yaws per motion, then one per held-out creature, the
    yaws cycling on."""
    motions = [f"{rig}.proc" for rig in RIGIFY_RIGS] + [f"{src}.{c}" for src, clips in REAL_CLIPS.items() for c in clips]
    names = [f"{m}@{YAWS[(2 * i + k) % len(YAWS)]}" for i, m in enumerate(motions) for k in range(2)]
    return names + [f"creature{seed}.proc@{YAWS[(len(names) + i) % len(YAWS)]}" for i, seed in enumerate(EVAL_CREATURES)]


def tuning_clip_names() -> list[str]:
    """The tuning set (`--tuning`): twelve procedural creatures of seeds that neither training
    nor the evaluation set uses, for choosing a capture setting before the evaluation set
    judges it."""
    return [f"creature{TUNING_SEED + i}.proc@{YAWS[i % len(YAWS)]}" for i in range(1, 13)]


def source_motion(name: str, frames: int) -> Motion:
    """The world-space motion of `<source>.<motion>` at FPS: frames + 1 of them, the
    first (`REFERENCE`) for the reference pair."""
    source, motion = name.split(".", 1)
    if motion == "proc":
        # `creature<seed>`: a procedural creature (held-out seeds: at or above 1,000,000)
        skeleton = procedural.random_skeleton(int(source[8:])) if source.startswith("creature") else rigify.load_metarig(source)
        return procedural.random_motion(skeleton, frames + 1, fps=FPS, seed=zlib.crc32(name.encode()))
    # `training.<clip>`: a real clip that training uses (`evalsets.training_clips`), for
    # measuring what the detector makes of people apart from the evaluation set
    loaded = dict(evalsets.training_clips() if source == "training" else evalsets.load_set(source))[motion]
    step = max(1, round(loaded.fps / FPS))
    start = min(loaded.num_frames // 4, max(0, loaded.num_frames - step * (frames + 1)))
    clip = loaded.frames(slice(start, start + step * (frames + 1), step))
    if clip.num_frames < frames + 1:
        raise ValueError(f"{name} has only {clip.num_frames} frames at {FPS:g} fps")
    return clip


def person_body(body: render.Body, skeleton: Skeleton, rng: np.random.Generator) -> tuple[render.Body, int]:
    """A humanoid rig's body shaped and dressed like a person's (`--people`): a torso along
    the spine, a head on top, thinner limbs; skin, a shirt and trousers; and which bone is
    the head (-1: none), which `build_scene` gives a face (`face_image`)."""
    rig = humanoid.check(skeleton)
    if not rig.ok:
        return body, -1
    s, h, parents = skeleton.scale, skeleton.rest_heads, skeleton.parents
    length = np.linalg.norm(body.bone_vectors, axis=-1)
    radius = np.clip(0.22 * length, 0.012 * s, 0.04 * s)
    up = humanoid.path_to_root(parents, rig.chest)
    spine = up[: up.index(rig.pelvis) + 1]
    radius[spine] = 0.085 * s
    middle = np.abs(h[:, 0] - h[rig.pelvis, 0]) < 0.05 * s
    above = np.flatnonzero(middle & (h[:, 2] > h[rig.chest, 2]) & ~np.isin(np.arange(len(h)), spine))
    radius[above] = 0.03 * s
    head = int(above[np.argmax(h[above, 2])]) if above.size else -1
    if head >= 0:
        radius[head] = 0.055 * s
    skin, shirt, trousers = (rng.uniform(0.25, 0.95, 3) * [1.0, 0.8, 0.65], rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.6, 3))
    legs = h[:, 2] < h[rig.pelvis, 2] - 0.05 * s
    hands = (radius <= 0.02 * s) & ~legs
    colour = np.where(legs[:, None], trousers, np.where((hands | np.isin(np.arange(len(h)), above))[:, None], skin, shirt))
    return render.Body(body.bone_vectors, radius, colour, body.stripes * 0), head


SIDES = (re.compile(r"left|\.L$|_L$", re.IGNORECASE), re.compile(r"right|\.R$|_R$", re.IGNORECASE))


def front_of(skeleton: Skeleton) -> np.ndarray:
    """Where a humanoid rig faces at rest (unit, horizontal): its left side, as its bones'
    names say, crossed with up."""
    left, right = ([i for i, n in enumerate(skeleton.names) if side.search(n)] for side in SIDES)
    if not left or not right:
        return np.array([0.0, -1.0, 0.0])  # Blender's rigs face -Y
    across = skeleton.rest_heads[left].mean(0) - skeleton.rest_heads[right].mean(0)
    front = np.cross(across, [0.0, 0.0, 1.0])
    front[2] = 0.0
    return front / np.linalg.norm(front)


def face_image(skin: np.ndarray, rng: np.random.Generator, width: int = 256, height: int = 128) -> np.ndarray:
    """A head's texture (height, width, 3), u around the head with the face at its middle,
    v from chin (row 0) to crown: skin, eyes, brows, a nose, a mouth, and hair over the
    crown and the back. Simple, but a face is what the person detector looks for first."""
    image = np.empty((height, width, 3))
    image[:] = skin
    hair = rng.uniform(0.02, 0.45) * np.array([1.0, 0.8, 0.6])
    u, v = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    image[(v > 0.78) | (np.abs(u - 0.5) > 0.22) & (v > 0.35)] = hair
    dark = skin * 0.25
    for x in (0.44, 0.56):
        image[((u - x) / 0.025) ** 2 + ((v - 0.6) / 0.05) ** 2 < 1] = [0.95, 0.95, 0.95]  # eye whites
        image[((u - x) / 0.012) ** 2 + ((v - 0.6) / 0.035) ** 2 < 1] = [0.05, 0.04, 0.03]  # irises
        image[(np.abs(u - x) < 0.03) & (np.abs(v - 0.69) < 0.012)] = hair  # brows
    image[(np.abs(u - 0.5) < 0.008) & (v > 0.45) & (v < 0.6)] = skin * 0.7  # the nose's ridge
    image[((u - 0.5) / 0.045) ** 2 + ((v - 0.36) / 0.018) ** 2 < 1] = dark + [0.35, 0.05, 0.05]  # the mouth
    return np.clip(image, 0, 1)


def face_material(skin: np.ndarray, rng: np.random.Generator):
    image = face_image(skin, rng)
    texture = bpy.data.images.new("face", image.shape[1], image.shape[0])
    texture.pixels.foreach_set(np.concatenate([image, np.ones(image.shape[:2] + (1,))], -1).astype(np.float32).ravel())
    mat = bpy.data.materials.new("face")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    node = nodes.new("ShaderNodeTexImage")
    node.image = texture
    mat.node_tree.links.new(node.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    nodes["Principled BSDF"].inputs["Roughness"].default_value = 0.6
    return mat


def build_scene(motion: Motion, rng: np.random.Generator, size: int, samples: int, people: bool = False, small_share=0.0):
    """An armature for the skeleton with a skinned body, a camera (`small_share`: as
    `render.random_camera`), a sun and a world."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.threads_mode = "FIXED"
    scene.render.threads = 1

    sk = motion.skeleton
    tails = default_tails(sk)
    rig = armature_from_skeleton(sk, "rig", scene, tails)

    body, head = render.random_body(rng, sk, tails), -1
    if people:
        body, head = person_body(body, sk, rng)
    mesh = bpy.data.meshes.new("body")
    verts, faces, groups = [], [], []
    sphere_v, sphere_f = _unit_sphere(10, 6)
    for j in range(sk.num_joints):
        length = np.linalg.norm(body.bone_vectors[j])
        r = body.radius[j]
        local = sphere_v * np.array([r, length / 2 + r * 0.6, r]) + np.array([0, length / 2, 0])
        world = local @ sk.rest_frames[j].T + sk.rest_heads[j]
        faces += (sphere_f + len(verts)).tolist()
        verts += world.tolist()
        groups.append(len(sphere_v))
    mesh.from_pydata(verts, [], faces)
    materials = {}
    for j in range(sk.num_joints):
        key = tuple(np.round(body.colour[j], 2))
        if key not in materials:
            mat = bpy.data.materials.new(f"m{len(materials)}")
            mat.use_nodes = True
            bsdf = mat.node_tree.nodes["Principled BSDF"]
            bsdf.inputs["Base Color"].default_value = (*key, 1.0)
            bsdf.inputs["Roughness"].default_value = float(rng.uniform(0.3, 0.9))
            mesh.materials.append(mat)
            materials[key] = len(materials)
    index = np.repeat([materials[tuple(np.round(c, 2))] for c in body.colour], len(sphere_f)).astype(np.int32)
    if head >= 0:  # a face on the head, toward where the rig faces: u around the head from its back, v up it
        mesh.materials.append(face_material(body.colour[head], rng.spawn(1)[0]))  # (spawn: the scene's draws stay)
        index[head * len(sphere_f) : (head + 1) * len(sphere_f)] = len(mesh.materials) - 1
        front = sk.rest_frames[head].T @ front_of(sk)
        u = (np.arctan2(sphere_v[:, 2], sphere_v[:, 0]) - np.arctan2(front[2], front[0])) / (2 * np.pi) + 0.5
        uv = np.tile(np.stack([u % 1.0, (sphere_v[:, 1] + 1) / 2], -1), (sk.num_joints, 1))
        loops = np.empty(len(mesh.loops), dtype=np.int32)
        mesh.loops.foreach_get("vertex_index", loops)
        mesh.uv_layers.new(name="uv").data.foreach_set("uv", uv[loops].astype(np.float32).ravel())
    mesh.polygons.foreach_set("material_index", index)
    mesh.shade_smooth()
    obj = bpy.data.objects.new("body", mesh)
    scene.collection.objects.link(obj)
    start = 0
    for j, n in enumerate(groups):
        group = obj.vertex_groups.new(name=sk.names[j])
        group.add(list(range(start, start + n)), 1.0, "REPLACE")
        start += n
    obj.modifiers.new("armature", "ARMATURE").object = rig

    cam = render.random_camera(rng, np.concatenate(render.bone_ends(motion, body), 1), size, small_share)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.sensor_fit = "HORIZONTAL"
    camera.data.lens = cam.focal / size * camera.data.sensor_width
    camera.data.clip_start = 1e-3 * sk.scale
    camera.data.clip_end = 1e3 * sk.scale
    M = np.eye(4)
    M[:3, 0], M[:3, 1], M[:3, 2], M[:3, 3] = cam.rotation[0], cam.rotation[2], -cam.rotation[1], cam.eye
    camera.matrix_world = Matrix(M.tolist())
    scene.collection.objects.link(camera)
    scene.camera = camera

    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = float(rng.uniform(2, 5))
    sun.rotation_euler = (float(rng.uniform(0.2, 1.0)), 0.0, float(rng.uniform(-1.0, 1.0)))
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (*rng.uniform(0.05, 0.9, 3), 1.0)
    scene.world = world
    return rig


def _unit_sphere(u: int, v: int):
    """A UV sphere of radius 1 along Y: vertices (N, 3), quads and triangles as index lists."""
    verts = [(0.0, -1.0, 0.0)]
    for i in range(1, v):
        phi = np.pi * i / v
        for k in range(u):
            theta = 2 * np.pi * k / u
            verts.append((np.sin(phi) * np.cos(theta), -np.cos(phi), np.sin(phi) * np.sin(theta)))
    verts.append((0.0, 1.0, 0.0))
    faces = []
    for k in range(u):
        faces.append((0, 1 + (k + 1) % u, 1 + k, 1 + k))  # degenerate quad = triangle, keeps the array square
    for i in range(v - 2):
        for k in range(u):
            a, b = 1 + i * u + k, 1 + i * u + (k + 1) % u
            faces.append((a, b, b + u, a + u))
    top = len(verts) - 1
    for k in range(u):
        a = 1 + (v - 2) * u
        faces.append((a + k, a + (k + 1) % u, top, top))
    return np.array(verts), np.array(faces)


def render_frames(rig, view: Motion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The view-frame motion posed on the rig and rendered frame by frame: the frames (T,
    size, size, 3, BGR), the heads as Blender evaluated them (T, J, 3) and where its
    camera shows them, in pixels, y down (T, J, 2)."""
    sk, frames, scene = view.skeleton, view.num_frames, bpy.context.scene
    size = scene.render.resolution_x
    pose_bones = [rig.pose.bones[n] for n in sk.names]
    quats = matrix_to_quaternion(view.local_rotations)
    root_location = np.einsum("ji,tj->ti", sk.rest_frames[sk.roots[0]], view.root_translation)
    heads = np.empty((frames, sk.num_joints, 3))
    pixels = np.empty((frames, sk.num_joints, 2))
    images = np.empty((frames, size, size, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        for t in range(frames):
            for j, pb in enumerate(pose_bones):
                pb.rotation_mode = "QUATERNION"
                pb.rotation_quaternion = quats[t, j].tolist()
            pose_bones[sk.roots[0]].location = root_location[t].tolist()
            bpy.context.view_layer.update()
            heads[t] = [tuple(pb.head) for pb in pose_bones]
            for j, pb in enumerate(pose_bones):
                u, v, _ = world_to_camera_view(scene, scene.camera, rig.matrix_world @ pb.head)
                pixels[t, j] = u * size, (1 - v) * size
            scene.render.filepath = f"{tmp}/f{t:04d}.png"
            bpy.ops.render.render(write_still=True)
            images[t] = cv2.imread(scene.render.filepath)
    return images, heads, pixels


def render_clip(name: str, out: Path, frames: int, size: int, samples: int, people: bool = False) -> dict:
    source, yaw = name.rsplit("@", 1)
    motion = source_motion(source, frames)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    view = render.view_motion(motion.frames(slice(REFERENCE + 1, REFERENCE + 1 + frames)), np.radians(float(yaw)))
    rig = build_scene(view, rng, size, samples, people)
    sk = view.skeleton
    images, heads, pixels = render_frames(rig, view)
    writer = cv2.VideoWriter(str(out / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (size, size))
    for image in images:
        writer.write(image)
    writer.release()
    np.savez_compressed(
        out / f"{name}.npz",
        parents=sk.parents,
        rest_heads=sk.rest_heads,
        rest_frames=sk.rest_frames,
        names=np.array(sk.names),
        rotations=view.local_rotations,
        heads=heads,
        pixels=pixels,
        ref_positions=motion.positions()[REFERENCE],
        ref_rotations=motion.local_rotations[REFERENCE],
        yaw_deg=float(yaw),
        fps=FPS,
    )
    fk = forward_kinematics(sk, view.local_rotations, view.root_translation)[1]
    return {"clip": name, "joints": sk.num_joints, "frames": frames, "fk_vs_blender": float(np.abs(fk - heads).max() / sk.scale)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for <clip>.mp4, <clip>.npz and index.json")
    parser.add_argument("--clips", nargs="+", default=None, help="<source>.<motion>@<yaw> names (default: the whole set)")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=128, help="square frame size in pixels")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel")
    parser.add_argument(
        "--people", action="store_true", help="humanoid rigs get bodies shaped and dressed like people, with a face"
    )
    parser.add_argument("--tuning", action="store_true", help="the tuning set instead of the evaluation set")
    args = parser.parse_args(argv)
    if args.tuning and args.clips:
        parser.error("--tuning renders the tuning set's own clips: give --clips or --tuning, not both")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / "index.json"
    index = {c["clip"]: c for c in json.loads(index_path.read_text(encoding="utf-8"))} if index_path.is_file() else {}
    names = args.clips or (tuning_clip_names() if args.tuning else clip_names())
    for name in names:  # the index is rewritten after each clip: an interrupted run keeps its clips
        start = time.perf_counter()
        index[name] = render_clip(name, out, args.frames, args.size, args.samples, args.people)
        index_path.write_text(json.dumps(list(index.values()), indent=2) + "\n", encoding="utf-8")
        print(f"{name}: {index[name]['joints']} joints, {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    worst = max(c["fk_vs_blender"] for c in index.values())
    if worst > 1e-4:
        print(f"error: Blender's pose differs from FK by {worst:.2e} of the rig's size", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
