"""Import a DreamFusion ``mesh.npz`` from disk (also File > Import)."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy_extras.io_utils import ImportHelper

from ..bridge.naming import object_name
from ..engine.mesh.file_format import MeshFileError
from ..scene.mesh_import import import_mesh_file


class DREAMFUSION_OT_import_asset(bpy.types.Operator, ImportHelper):
    """Import a mesh written by the DreamFusion engine (mesh.npz), with its colors and material"""

    bl_idname = "dreamfusion.import_asset"
    bl_label = "Import DreamFusion Mesh"
    bl_options = frozenset({"REGISTER", "UNDO"})

    filename_ext = ".npz"
    filter_glob: bpy.props.StringProperty(default="*.npz", options={"HIDDEN"})
    name: bpy.props.StringProperty(name="Name", description="Object name; empty: the run folder's name")
    size: bpy.props.FloatProperty(
        name="Size", description="Largest side of the object", subtype="DISTANCE", unit="LENGTH", min=0.001,
        default=1.0,
    )  # fmt: skip

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = Path(self.filepath)
        try:
            import_mesh_file(context, path, object_name(self.name or path.parent.name), self.size)
        except MeshFileError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


def menu_import(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.operator(DREAMFUSION_OT_import_asset.bl_idname, text="DreamFusion Mesh (.npz)")


CLASSES = (DREAMFUSION_OT_import_asset,)


def register() -> None:
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
