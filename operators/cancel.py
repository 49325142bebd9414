"""Cancel: ask the engine to stop; the run manager escalates to SIGTERM and kill if it does not."""

from __future__ import annotations

import bpy

from . import run_manager


class DREAMFUSION_OT_cancel(bpy.types.Operator):
    """Stop the running engine (it saves a checkpoint first)"""

    bl_idname = "dreamfusion.cancel"
    bl_label = "Cancel"
    bl_options = frozenset({"REGISTER"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not run_manager.busy():
            cls.poll_message_set("No run is going")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        run_manager.cancel()
        return {"FINISHED"}


CLASSES = (DREAMFUSION_OT_cancel,)
