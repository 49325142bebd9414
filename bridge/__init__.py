"""bpy-free helpers of the add-on: the engine worker process, run state, command lines, presets, history.

Nothing here imports bpy, so all of it is unit-tested with plain Python; Blender's main thread
calls into it and alone touches Blender data.
"""
