"""MoCap Anything, the Blender side: a thin adapter between bpy and the `model` package.

Only this package touches bpy, and only on Blender's main thread.
"""
