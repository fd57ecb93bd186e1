"""The "MoCap" tab of the 3D View sidebar: its settings (saved with the scene), the capture
status (window manager: neither saved nor undone) and how they are drawn."""

from __future__ import annotations

import bpy
import numpy as np

from .job import VIEWS
from .operators import analysis


class MocapSettings(bpy.types.PropertyGroup):
    video: bpy.props.StringProperty(name="Video", description="The video file to capture", subtype="FILE_PATH")
    use_frame_start: bpy.props.BoolProperty(name="Start", description="Set the first scene frame (else the scene's start)")
    frame_start: bpy.props.IntProperty(name="Start", default=1, description="Scene frame of the video's first captured frame")
    use_frame_end: bpy.props.BoolProperty(name="End", description="Set the last scene frame (else as far as the video goes)")
    frame_end: bpy.props.IntProperty(name="End", default=250, description="Last scene frame to capture")
    video_start: bpy.props.IntProperty(name="Video Offset", min=0, description="First video frame to use (from 0)")
    stride: bpy.props.IntProperty(name="Stride", default=1, min=1, description="Use every n-th video frame")
    use_current_frame: bpy.props.BoolProperty(
        name="Current Frame as Reference", default=True, description="The reference is the current frame, which must be keyed"
    )
    reference_frame: bpy.props.IntProperty(
        name="Reference", default=1, description="A keyed frame where the rig is posed as the subject is in the video"
    )
    view: bpy.props.EnumProperty(
        name="Camera",
        description="Where the camera stood, relative to the rig's front",
        items=[(v, v.title(), f"The video was shot from the {v.lower()} of the rig") for v in VIEWS],
    )
    device: bpy.props.EnumProperty(
        name="Device",
        items=[
            ("AUTO", "Auto", "CUDA when torch sees a GPU, else the CPU"),
            ("CPU", "CPU", "Always the CPU"),
            ("CUDA", "CUDA", "An NVIDIA GPU (needs a CUDA build of torch, see the preferences)"),
        ],
    )
    smoothing: bpy.props.FloatProperty(
        name="Smoothing", min=0.0, max=10.0, default=0.0, description="Temporal smoothing, Gaussian sigma in frames (0: none)"
    )
    truth_action: bpy.props.PointerProperty(
        name="Ground Truth", type=bpy.types.Action, description="An action with the true motion, to measure twist error"
    )


class MocapStatus(bpy.types.PropertyGroup):
    running: bpy.props.BoolProperty()
    cancel: bpy.props.BoolProperty()
    fraction: bpy.props.FloatProperty()
    text: bpy.props.StringProperty()


class _Tab:
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MoCap"


class MOCAP_PT_capture(_Tab, bpy.types.Panel):
    bl_label = "Capture from Video"

    def draw(self, context):
        layout, s, st = self.layout, context.scene.mocap_anything, context.window_manager.mocap_anything_status
        obj = context.active_object
        layout.label(text=obj.name if obj and obj.type == "ARMATURE" else "Select an armature", icon="ARMATURE_DATA")
        layout.prop(s, "video")
        col = layout.column(align=True)
        for use, value in (("use_frame_start", "frame_start"), ("use_frame_end", "frame_end")):
            row = col.row(align=True)
            row.prop(s, use, text="")
            row.active = getattr(s, use)
            row.prop(s, value)
        col.prop(s, "video_start")
        col.prop(s, "stride")
        layout.prop(s, "use_current_frame")
        if not s.use_current_frame:
            layout.prop(s, "reference_frame")
        layout.prop(s, "view")
        layout.prop(s, "device")
        layout.prop(s, "smoothing")
        if st.running:
            layout.progress(factor=st.fraction, type="BAR", text=st.text)
            layout.operator("mocap_anything.cancel", icon="CANCEL")
        else:
            layout.operator("mocap_anything.capture", icon="REC")


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
