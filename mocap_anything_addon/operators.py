"""Operators: Capture from Video (modal: a worker thread, a timer draining its progress),
Cancel, BVH export, twist analysis and report."""

from __future__ import annotations

import bpy
from bpy_extras.io_utils import ExportHelper

from model.pipeline import CaptureError

from . import capture, export
from .job import Job, solve

_analysis: dict[tuple[str, str], dict] = {}  # (armature, action) -> twist report, this session only


def settings(context):
    return context.scene.mocap_anything


def status(context):
    return context.window_manager.mocap_anything_status


def prepare(context):
    from .panel import options_from

    s = settings(context)
    return capture.prepare(context.active_object, s.video, options_from(s))


class MOCAP_OT_capture(bpy.types.Operator):
    """Capture the video's motion onto the active armature, into a new action"""

    bl_idname = "mocap_anything.capture"
    bl_label = "Capture from Video"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return not status(context).running

    def execute(self, context):  # scripts and redo: synchronous
        try:
            request = prepare(context)
            result = solve(request)
            action = capture.write(context.active_object, request, result)
        except (CaptureError, RuntimeError, ValueError) as error:  # bad input, damaged weights, a rig it cannot read
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        for text in capture.messages(request, result):
            self.report({"WARNING"}, text)
        self.report({"INFO"}, f"captured into {action.name!r}")
        return {"FINISHED"}

    def invoke(self, context, event):
        try:
            request = prepare(context)
        except (CaptureError, ValueError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.armature = context.active_object.name
        self.job = Job(request).start()
        st = status(context)
        st.running, st.cancel, st.fraction, st.text = True, False, 0.0, "starting"
        self.timer = context.window_manager.event_timer_add(0.2, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        st = status(context)
        if event.type == "ESC" or st.cancel:
            self.job.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        st.fraction, st.text = self.job.poll()
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
        if not self.job.done:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self.timer)
        st.running, st.cancel = False, False
        if self.job.error is not None:
            kind = {"INFO"} if self.job.cancelled else {"ERROR"}
            self.report(kind, "capture cancelled; nothing was changed" if self.job.cancelled else str(self.job.error))
            return {"CANCELLED"}
        obj = bpy.data.objects.get(self.armature)
        result = self.job.result
        try:
            if obj is None:
                raise CaptureError(f"armature {self.armature!r} was removed during the capture; nothing was written")
            capture.check_unchanged(obj, self.job.request)  # the user may have edited the rig meanwhile
            action = capture.write(obj, self.job.request, result)
        except (CaptureError, ValueError, KeyError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        for text in capture.messages(self.job.request, result):
            self.report({"WARNING"}, text)
        st.path = str(result.path)
        self.report({"INFO"}, f"captured {len(result.rotations)} frames into {action.name!r} ({result.path})")
        return {"FINISHED"}  # the UNDO flag makes the keys one undo step

    def cancel(self, context):  # Blender ends the operator (a file loaded, the window closed)
        self.job.cancel()
        context.window_manager.event_timer_remove(self.timer)
        st = status(context)
        st.running, st.cancel = False, False


class MOCAP_OT_cancel(bpy.types.Operator):
    """Stop the running capture; nothing is written"""

    bl_idname = "mocap_anything.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        status(context).cancel = True
        return {"FINISHED"}


def _armature_action(context):
    obj = context.active_object
    if obj is None or obj.type != "ARMATURE" or not obj.animation_data or not obj.animation_data.action:
        return None, None
    return obj, obj.animation_data.action


class _ActionOperator:
    @classmethod
    def poll(cls, context):
        return _armature_action(context)[1] is not None


class MOCAP_OT_export_bvh(_ActionOperator, bpy.types.Operator, ExportHelper):
    """Write the active armature's action as BVH"""

    bl_idname = "mocap_anything.export_bvh"
    bl_label = "Export BVH"
    filename_ext = ".bvh"
    filter_glob: bpy.props.StringProperty(default="*.bvh", options={"HIDDEN"})

    def execute(self, context):
        obj, action = _armature_action(context)
        self.report({"INFO"}, f"wrote {export.export_bvh(obj, action, self.filepath)}")
        return {"FINISHED"}


class MOCAP_OT_analyse_twist(_ActionOperator, bpy.types.Operator):
    """Compute each bone's twist over the action (and its error against the ground-truth action, if set)"""

    bl_idname = "mocap_anything.analyse_twist"
    bl_label = "Analyse Twist"

    def execute(self, context):
        obj, action = _armature_action(context)
        _analysis[obj.name, action.name] = export.twist_report(obj, action, settings(context).truth_action)
        return {"FINISHED"}


class MOCAP_OT_twist_report(_ActionOperator, bpy.types.Operator, ExportHelper):
    """Write the twist analysis of the active armature's action as CSV (or JSON, by extension)"""

    bl_idname = "mocap_anything.twist_report"
    bl_label = "Export Twist Report"
    filename_ext = ".csv"
    filter_glob: bpy.props.StringProperty(default="*.csv;*.json", options={"HIDDEN"})
    check_extension = False

    def execute(self, context):
        obj, action = _armature_action(context)
        report = export.twist_report(obj, action, settings(context).truth_action)
        _analysis[obj.name, action.name] = report
        self.report({"INFO"}, f"wrote {export.write_twist_report(report, self.filepath)}")
        return {"FINISHED"}


def analysis(obj, action) -> dict | None:
    return _analysis.get((obj.name, action.name))


CLASSES = (MOCAP_OT_capture, MOCAP_OT_cancel, MOCAP_OT_export_bvh, MOCAP_OT_analyse_twist, MOCAP_OT_twist_report)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
