"""bpy-free helpers of the add-on: the engine worker process and what a run or a set-up job shows, command
lines, the private engine environment and its installer, presets, choices, history.

Nothing here imports bpy, so all of it is unit-tested with plain Python; Blender's main thread
calls into it and alone touches Blender data.
"""
