"""The bridge modules use relative imports (``from ..engine import protocol``), as inside Blender: import the
repository root as the package ``dreamfusion`` without running its bpy registration."""

from __future__ import annotations

from tools.build_extension import source_package

source_package("dreamfusion")
