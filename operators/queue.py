"""The queue of prompts: add the panel's prompt, paste many, load a prompt list; run them one after another.

Each item runs as an ordinary Generate through the one run slot (``runtime.RUNS``); when it ends, the
slot calls back here, the item's status is set and the next runnable item starts. A cancel stops the
queue there: the running item keeps its checkpoint (the next Run Queue continues it) and the rest stay
queued. Every result becomes an asset in the "DreamFusion" collection (scene/assets.py) and a run in
the history.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path

import bpy
from bpy_extras.io_utils import ImportHelper

from .. import preferences, runtime
from ..bridge.command_line import GenerateRequest, RequestError, generate_command, resume_command
from ..bridge.engine_run import EngineRun
from ..bridge.history import RunRecord, discard_empty_run
from ..bridge.naming import object_name
from ..bridge.prompt_queue import (
    QueueEntry,
    QueueStatus,
    can_resume,
    entries_from_file,
    entries_from_text,
    outcome,
    shown_status,
    typed_entry,
)
from ..bridge.run_state import RunState
from ..bridge.worker import WorkerStartError
from ..properties import DreamFusionQueueItem, DreamFusionSettings, settings
from ..scene.assets import add_asset
from .generate import request_from_settings
from .history import add_record


def find_item(scene: bpy.types.Scene | None, uid: str) -> DreamFusionQueueItem | None:
    if scene is None:
        return None
    return next((item for item in scene.dreamfusion.queue if item.uid == uid), None)


def add_entries(scene: bpy.types.Scene, entries: list[QueueEntry]) -> None:
    """Queue ``entries`` at the end and select the first of them."""
    queue = scene.dreamfusion.queue
    first = len(queue)
    for entry in entries:
        item = queue.add()
        item.uid = uuid.uuid4().hex
        item.set_entry(entry)
    scene.dreamfusion.queue_index = first


def settle_interrupted(scene: bpy.types.Scene) -> None:
    """Items a saved file says were running, that no engine runs now, become cancelled (they continue)."""
    for item in scene.dreamfusion.queue:
        running_now = runtime.QUEUE.is_running(scene.name, item.uid)
        if item.status == QueueStatus.RUNNING and shown_status(item.status, running_now) is QueueStatus.CANCELLED:
            item.status = QueueStatus.CANCELLED
            item.message = "Interrupted when Blender stopped; Run Queue continues it"


def start_next(context: bpy.types.Context, scene: bpy.types.Scene) -> str | None:
    """Start the scene's first runnable item in the run slot; the sentence why not, else None (also: none left)."""
    item = next((i for i in scene.dreamfusion.queue if QueueStatus(i.status).runnable), None)
    if item is None:
        return None
    try:
        request = request_from_settings(scene.dreamfusion, preferences.get(context), item.entry())
        python = preferences.ready_engine_python(context)
        if item.status == QueueStatus.CANCELLED and can_resume(item.run_dir):
            request = replace(request, out=Path(item.run_dir))
            command = resume_command(python, request.out, request.low_memory)
        else:
            command = generate_command(python, request)
        runtime.QUEUE.begin(scene.name, item.uid)
        state = runtime.RUNS.start(
            EngineRun.of(command, request.out, "generate"),
            partial(import_queued_result, scene.name, item.uid, request),
            partial(end_queued_run, scene.name, item.uid),
        )
    except (RequestError, WorkerStartError) as exc:
        runtime.QUEUE.end()
        runtime.show_refused_run(str(exc), "generate")
        return str(exc)
    item.run_dir = str(request.out)
    if state.finished:  # its process ended as it started: the slot keeps the state, no callback follows
        runtime.QUEUE.end()
        item.status, item.message = outcome(state)
        return item.message
    item.status, item.message = QueueStatus.RUNNING, "Running"
    return None


def import_queued_result(
    scene_name: str, uid: str, request: GenerateRequest, context: bpy.types.Context, state: RunState
) -> None:
    """A finished item's mesh as an asset of its scene, and a run of its history, as one undo step."""
    scene = bpy.data.scenes.get(scene_name)
    if scene is None:
        raise RuntimeError(f"the scene {scene_name!r} whose queue it ran is gone")
    record = RunRecord.from_run(request, state, datetime.now())
    thumbnail = Path(record.thumbnail) if record.thumbnail else None
    name = object_name(request.prompt)
    obj = add_asset(scene, Path(record.mesh), name, scene.dreamfusion.size, thumbnail, request.prompt, (request.prior,))
    add_record(scene.dreamfusion, record, obj)
    item = find_item(scene, uid)
    if item is not None:
        item.object, item.status, item.message = obj, QueueStatus.DONE, state.message
    bpy.ops.ed.undo_push(message=f"DreamFusion: {obj.name}")


def end_queued_run(scene_name: str, uid: str, context: bpy.types.Context, state: RunState) -> None:
    """Record how the item ended; unless it was cancelled, start the next one."""
    runtime.QUEUE.end()
    scene = bpy.data.scenes.get(scene_name)
    item = find_item(scene, uid)
    status, message = outcome(state)
    if item is not None:
        item.status, item.message = status, message
        if status is QueueStatus.FAILED and discard_empty_run(Path(item.run_dir)):
            item.run_dir = ""
    if scene is not None and status is not QueueStatus.CANCELLED:
        start_next(context, scene)


class QueueItemOperator:
    """An operator on the queue item at ``index``: ``act`` changes it, or says why it cannot."""

    index: bpy.props.IntProperty(name="Index", description="Position in the queue", min=0)

    def execute(self, context: bpy.types.Context) -> set[str]:
        queue = settings(context).queue
        if 0 <= self.index < len(queue):
            refusal = self.act(context, queue[self.index])
        else:
            refusal = f"There is no prompt number {self.index + 1} in the queue"
        if refusal is not None:
            self.report({"ERROR"}, refusal)
            return {"CANCELLED"}
        return {"FINISHED"}

    def act(self, context: bpy.types.Context, item: DreamFusionQueueItem) -> str | None:
        raise NotImplementedError


def remove_items(scene_settings: DreamFusionSettings, indices: list[int]) -> None:
    """Take the items at ``indices`` out of the queue; the selection stays on an item."""
    for index in sorted(indices, reverse=True):
        scene_settings.queue.remove(index)
    scene_settings.queue_index = min(scene_settings.queue_index, max(len(scene_settings.queue) - 1, 0))


class DREAMFUSION_OT_queue_add(bpy.types.Operator):
    """Add the prompt above to the end of the queue"""

    bl_idname = "dreamfusion.queue_add"
    bl_label = "Add Prompt"
    bl_options = frozenset({"REGISTER", "UNDO"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            entry = typed_entry(settings(context).prompt)
        except RequestError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        add_entries(context.scene, [entry])
        return {"FINISHED"}


class DREAMFUSION_OT_queue_paste(bpy.types.Operator):
    """Add prompts from the clipboard, one a line (or JSON lines with seed, preset, prior, steps)"""

    bl_idname = "dreamfusion.queue_paste"
    bl_label = "Paste Prompts"
    bl_options = frozenset({"REGISTER", "UNDO"})

    text: bpy.props.StringProperty(
        name="Text", description="The prompts; empty: the clipboard's text", options={"SKIP_SAVE"}
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        text = self.text or context.window_manager.clipboard
        if not text.strip():
            self.report({"ERROR"}, "The clipboard holds no text: copy the prompts, one a line, then paste")
            return {"CANCELLED"}
        try:
            entries = entries_from_text(text)
        except RequestError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        add_entries(context.scene, entries)
        self.report({"INFO"}, f"Queued {len(entries)} prompts")
        return {"FINISHED"}


class DREAMFUSION_OT_queue_load(bpy.types.Operator, ImportHelper):
    """Add the prompts of a text file: one a line, or JSON lines (the file `engine batch` reads)"""

    bl_idname = "dreamfusion.queue_load"
    bl_label = "Load Prompt List"
    bl_options = frozenset({"REGISTER", "UNDO"})

    filename_ext = ".txt"
    filter_glob: bpy.props.StringProperty(default="*.txt;*.jsonl", options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            entries = entries_from_file(Path(self.filepath))
        except RequestError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        add_entries(context.scene, entries)
        self.report({"INFO"}, f"Queued {len(entries)} prompts from {Path(self.filepath).name}")
        return {"FINISHED"}


class DREAMFUSION_OT_queue_remove(QueueItemOperator, bpy.types.Operator):
    """Take this prompt out of the queue (its run folder and asset stay)"""

    bl_idname = "dreamfusion.queue_remove"
    bl_label = "Remove from Queue"
    bl_options = frozenset({"REGISTER", "UNDO"})

    def act(self, context: bpy.types.Context, item: DreamFusionQueueItem) -> str | None:
        if runtime.QUEUE.is_running(context.scene.name, item.uid):
            return "That prompt is running: cancel it first"
        remove_items(settings(context), [self.index])
        return None


class DREAMFUSION_OT_queue_retry(QueueItemOperator, bpy.types.Operator):
    """Queue this failed prompt again (it starts over in a new run folder)"""

    bl_idname = "dreamfusion.queue_retry"
    bl_label = "Retry"
    bl_options = frozenset({"REGISTER", "UNDO"})

    def act(self, context: bpy.types.Context, item: DreamFusionQueueItem) -> str | None:
        if item.status != QueueStatus.FAILED:
            return f"Only a failed prompt can be retried; this one is {item.status}"
        item.status, item.message, item.run_dir = QueueStatus.QUEUED, "", ""
        return None


class DREAMFUSION_OT_queue_clear_done(bpy.types.Operator):
    """Take the prompts that are done out of the queue (their assets stay)"""

    bl_idname = "dreamfusion.queue_clear_done"
    bl_label = "Clear Done"
    bl_options = frozenset({"REGISTER", "UNDO"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene_settings = settings(context)
        done = [index for index, item in enumerate(scene_settings.queue) if item.status == QueueStatus.DONE]
        remove_items(scene_settings, done)
        return {"FINISHED"}


class DREAMFUSION_OT_queue_run(bpy.types.Operator):
    """Run the queued prompts one after another (a cancelled one continues from its checkpoint)"""

    bl_idname = "dreamfusion.queue_run"
    bl_label = "Run Queue"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        settle_interrupted(scene)
        waiting = sum(QueueStatus(item.status).runnable for item in scene.dreamfusion.queue)
        nothing = None if waiting else "Nothing is queued: add the prompt, paste prompts or load a list first"
        refusal = runtime.run_refusal() or nothing or start_next(context, scene)
        if refusal is not None:
            self.report({"ERROR"}, refusal)
            return {"CANCELLED"}
        self.report({"INFO"}, f"Running {waiting} queued prompts")
        return {"FINISHED"}


CLASSES = (
    DREAMFUSION_OT_queue_add,
    DREAMFUSION_OT_queue_paste,
    DREAMFUSION_OT_queue_load,
    DREAMFUSION_OT_queue_remove,
    DREAMFUSION_OT_queue_retry,
    DREAMFUSION_OT_queue_clear_done,
    DREAMFUSION_OT_queue_run,
)
