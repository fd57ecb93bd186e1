"""The "MoCap" tab of the 3D View sidebar: its settings (saved with the scene), the capture
status (window manager: neither saved nor undone) and how they are drawn."""

from __future__ import annotations

import os

import bpy
import numpy as np

from model.pipeline import VIEWS, CaptureError, CaptureOptions, option_fields
from model.video import VideoError, video_info

from .armature import reference_source
from .capture import video_path
from .operators import analysis

CHOICE_TEXT = {  # per choice of an enum option (or option and choice): (label, description)
    ("subject", "AUTO"): ("Auto", "The person path when the rig is a humanoid and a person is seen in the video"),
    "PERSON": ("Person", "A person filmed: the person detector's landmarks guide the capture (humanoid rigs)"),
    "OTHER": ("Animal or Other", "Any creature or object: the general path"),
    "AUTO": ("Auto", "CUDA when torch sees a GPU, else the CPU"),
    "CPU": ("CPU", "Always the CPU"),
    "CUDA": ("CUDA", "An NVIDIA GPU (needs a CUDA build of torch, see the preferences)"),
    ("facing", "AUTO"): ("Auto", "Video on the person path (its detector sees which way a person faces), else Reference"),
    "REFERENCE": ("Reference", "The body keeps the reference's heading; its tilt and every joint below come from the video"),
    "VIDEO": ("Video", "The heading from the video too, for subjects that turn around (one camera often misjudges it)"),
    "TIME": ("By Time", "Each key takes the video frame nearest its scene time"),
    "FRAME": ("Frame by Frame", "Video frame n onto scene frame n, whatever the rates"),
    **{v: (v.title(), f"The video was shot from the {v.lower()} of the rig") for v in VIEWS},
}
# shown while unset
OPTIONAL_DEFAULT = {"reference_frame": 1, "frame_start": 1, "frame_end": 250, "person_x": 0.5, "person_y": 0.5}
TOGETHER = {"person_y": "person_x"}  # an optional option set and unset with another's toggle


def option_properties() -> dict:
    """The panel's properties, one per capture option (`CaptureOptions`: label, help,
    default, bounds, choices); an option whose default is "unset" gets a `use_` toggle."""
    props = {}
    for f in option_fields():
        m = f.metadata
        common = {"name": m["label"], "description": m["help"]}
        if m["kind"] is int:
            default = OPTIONAL_DEFAULT[f.name] if m["optional"] else f.default
            props[f.name] = bpy.props.IntProperty(**common, default=default, min=m["min"], max=m["max"])
        elif m["kind"] is float:
            default = OPTIONAL_DEFAULT[f.name] if m["optional"] else f.default
            props[f.name] = bpy.props.FloatProperty(**common, default=default, min=m["min"], max=m["max"])
        else:
            items = [(c, *CHOICE_TEXT.get((f.name, c), CHOICE_TEXT.get(c))) for c in m["choices"]]
            props[f.name] = bpy.props.EnumProperty(**common, items=items, default=f.default)
        if m["optional"] and f.name not in TOGETHER:
            props[f"use_{f.name}"] = bpy.props.BoolProperty(name=m["label"], description=f"Set: {m['help']}")
    return props


def options_from(settings) -> CaptureOptions:
    """The panel's settings as capture options."""
    values = {}
    for f in option_fields():
        unset = f.metadata["optional"] and not getattr(settings, f"use_{TOGETHER.get(f.name, f.name)}")
        values[f.name] = None if unset else getattr(settings, f.name)
    return CaptureOptions(**values)


MocapSettings = type(
    "MocapSettings",
    (bpy.types.PropertyGroup,),
    {
        "__doc__": "The MoCap tab's settings, saved with the scene",
        "__annotations__": {
            "video": bpy.props.StringProperty(name="Video", description="The video file to capture", subtype="FILE_PATH"),
            **option_properties(),
            "truth_action": bpy.props.PointerProperty(
                name="Ground Truth", type=bpy.types.Action, description="An action with the true motion, to measure twist error"
            ),
        },
    },
)


class MocapStatus(bpy.types.PropertyGroup):
    running: bpy.props.BoolProperty()
    cancel: bpy.props.BoolProperty()
    fraction: bpy.props.FloatProperty()
    text: bpy.props.StringProperty()
    path: bpy.props.StringProperty()  # which path the last capture took, and why


def reference_text(obj, settings, scene) -> str:
    """Where the reference pose will be read: the user's action (never a capture) and frame."""
    frame = settings.reference_frame if settings.use_reference_frame else scene.frame_current
    try:
        source, _ = reference_source(obj)
    except CaptureError as error:
        return str(error)
    return f"reference: {source.name if source else 'the NLA'}, frame {frame}"


_rates: dict[tuple, str] = {}


def video_rates(path: str, scene) -> str:
    """ "video 60 fps, scene 24 fps" for the chosen file (read once per path and size)."""
    try:
        full = video_path(path)
        key = (full, os.path.getsize(full), scene.render.fps, scene.render.fps_base)
    except (OSError, ValueError):  # no file (yet): nothing to say
        return ""
    if key not in _rates:
        try:
            info = video_info(full)
            _rates[key] = f"video {info.fps:g} fps, {info.frames} frames; scene {scene.render.fps / scene.render.fps_base:g} fps"
        except VideoError:
            _rates[key] = "not a video this build can read"
    return _rates[key]


class _Tab:
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MoCap"


class MOCAP_PT_capture(_Tab, bpy.types.Panel):
    bl_label = "Capture from Video"

    def draw(self, context):
        layout, s, st = self.layout, context.scene.mocap_anything, context.window_manager.mocap_anything_status
        obj = context.active_object
        layout.label(text=obj.name if obj and obj.type == "ARMATURE" else "Select an armature", icon="ARMATURE_DATA")
        layout.prop(s, "video")
        rates = video_rates(s.video, context.scene)
        if rates:
            layout.label(text=rates, icon="TIME")
        col = layout.column(align=True)
        for name in ("frame_start", "frame_end"):
            row = col.row(align=True)
            row.prop(s, f"use_{name}", text="")
            row.active = getattr(s, f"use_{name}")
            row.prop(s, name)
        col.prop(s, "video_start")
        col.prop(s, "stride")
        layout.prop(s, "mapping")
        row = layout.row(align=True)
        row.prop(s, "use_reference_frame", text="")
        row.active = s.use_reference_frame
        row.prop(s, "reference_frame", text="Reference" if s.use_reference_frame else "Reference: current frame")
        if obj is not None and obj.type == "ARMATURE":
            layout.label(text=reference_text(obj, s, context.scene), icon="KEYFRAME")
        layout.prop(s, "view")
        layout.prop(s, "camera_angle")
        layout.prop(s, "facing")
        layout.prop(s, "subject")
        if s.subject != "OTHER":
            row = layout.row(align=True)
            row.prop(s, "use_person_x", text="")
            row.active = s.use_person_x
            row.prop(s, "person_x", text="Follow Person at X" if s.use_person_x else "Follow: first person found")
            row.prop(s, "person_y", text="Y")
        layout.prop(s, "device")
        layout.prop(s, "smoothing")
        if st.running:
            layout.progress(factor=st.fraction, type="BAR", text=st.text)
            layout.operator("mocap_anything.cancel", icon="CANCEL")
        else:
            layout.operator("mocap_anything.capture", icon="REC")
            if st.path:
                layout.label(text=f"last capture: {st.path}", icon="INFO")


class MOCAP_PT_twist(_Tab, bpy.types.Panel):
    bl_label = "Twist Preview"
    bl_parent_id = "MOCAP_PT_capture"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout, obj = self.layout, context.active_object
        if obj is None or obj.type != "ARMATURE":
            layout.label(text="Select an armature")
            return
        layout.prop(obj.data, "show_axes", text="Draw Bone Axes")
        layout.prop(context.scene.mocap_anything, "truth_action")
        layout.operator("mocap_anything.analyse_twist")
        action = obj.animation_data.action if obj.animation_data else None
        report = analysis(obj, action) if action else None
        bone = context.active_pose_bone or context.active_bone
        if report and bone and bone.name in report["bones"]:
            values = report["bones"][bone.name]
            frames = report["frames"]
            t = int(np.clip(context.scene.frame_current - frames[0], 0, len(frames) - 1))
            box = layout.box()
            box.label(text=f"{bone.name}: twist {values['twist_deg'][t]:.1f} deg at frame {frames[t]}")
            box.label(text=f"range {min(values['twist_deg']):.1f} to {max(values['twist_deg']):.1f} deg")
            if "mean_error_deg" in values:
                box.label(text=f"error against the ground truth: {values['mean_error_deg']:.1f} deg mean")
        elif action:
            layout.label(text="Analyse, then pick a bone")
        layout.operator("mocap_anything.twist_report", icon="EXPORT")
        layout.operator("mocap_anything.export_bvh", icon="EXPORT")


CLASSES = (MocapSettings, MocapStatus, MOCAP_PT_capture, MOCAP_PT_twist)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mocap_anything = bpy.props.PointerProperty(type=MocapSettings)
    bpy.types.WindowManager.mocap_anything_status = bpy.props.PointerProperty(type=MocapStatus)


def unregister():
    del bpy.types.WindowManager.mocap_anything_status
    del bpy.types.Scene.mocap_anything
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
