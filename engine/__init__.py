"""DreamFusion engine: Score Distillation Sampling of a NeRF from a frozen 2D diffusion prior.

Runs as its own process (``python -m engine``). This package's ``__init__`` and the modules
``protocol`` and ``mesh.file_format`` import no torch, so the Blender add-on may import them.
"""

__version__ = "0.1.0"
