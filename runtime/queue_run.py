"""Which queue item the engine works on now (live, never saved), so a panel can tell a running item from one
that a saved file says was running when Blender stopped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class QueueRun:
    scene: str = ""  # the scene whose queue runs; "" while no queue item runs
    item: str = ""  # the running item's uid

    def begin(self, scene: str, item: str) -> None:
        self.scene, self.item = scene, item

    def end(self) -> None:
        self.scene, self.item = "", ""

    def is_running(self, scene: str, item: str) -> bool:
        return bool(self.item) and (self.scene, self.item) == (scene, item)
