"""Add-on preferences: where to find a torch of the user's own (e.g. with CUDA)."""

import bpy


class Preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    torch_path: bpy.props.StringProperty(
        name="Own torch",
        description=(
            "A site-packages folder holding a torch build of your own (for example with CUDA), used before the "
            "bundled CPU build. Takes effect after restarting Blender"
        ),
        subtype="DIR_PATH",
    )

    def draw(self, context):
        self.layout.prop(self, "torch_path")
        self.layout.label(text="Leave empty to use the bundled CPU build. Restart Blender after changing it.")


def torch_path() -> str:
    addon = bpy.context.preferences.addons.get(__package__)
    return bpy.path.abspath(addon.preferences.torch_path) if addon and addon.preferences else ""


def register():
    bpy.utils.register_class(Preferences)


def unregister():
    bpy.utils.unregister_class(Preferences)
