"""MoCap Anything's model side: skeletons, rotations, kinematics, solvers and data.

Pure Python on numpy and torch; never imports bpy (the add-on adapts Blender to it).
"""
