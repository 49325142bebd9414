"""Where every panel of the add-on lives: the 3D Viewport's sidebar, tab "DreamFusion"."""

from __future__ import annotations


class SidebarPanel:
    """Mixed into each panel class ahead of ``bpy.types.Panel``."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DreamFusion"
