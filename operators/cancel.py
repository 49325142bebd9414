"""Cancel the engine run or the engine set-up: ask it to stop; its slot escalates to SIGTERM and kill if it
does not (an unfinished install is not marked ready)."""

from __future__ import annotations

import bpy

from .. import runtime
from ..runtime.job_slot import JobSlot


class _CancelSlot:
    slot: JobSlot
    idle_message: str  # why there is nothing to cancel

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not cls.slot.busy():
            cls.poll_message_set(cls.idle_message)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        self.slot.cancel()
        return {"FINISHED"}


class DREAMFUSION_OT_cancel(_CancelSlot, bpy.types.Operator):
    """Stop the running engine (it saves a checkpoint first)"""

    bl_idname = "dreamfusion.cancel"
    bl_label = "Cancel"
    bl_options = frozenset({"REGISTER"})
    slot = runtime.RUNS
    idle_message = "No run is going"


class DREAMFUSION_OT_cancel_engine_job(_CancelSlot, bpy.types.Operator):
    """Stop the engine set-up that is running (an unfinished install is not marked ready)"""

    bl_idname = "dreamfusion.cancel_engine_job"
    bl_label = "Cancel"
    bl_options = frozenset({"REGISTER", "INTERNAL"})
    slot = runtime.SETUP
    idle_message = "No engine set-up is running"


CLASSES = (DREAMFUSION_OT_cancel, DREAMFUSION_OT_cancel_engine_job)
