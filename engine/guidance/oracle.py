"""The photometric bound ("oracle"): a prior that knows the true render of every training view.

Its noise prediction is exact for a data set of one image, the prompt's scene rendered at the render's own
camera, under the render's own light, in its shading mode, over its background. The SDS gradient is then
w(t) * alpha_t / sigma_t * (render - truth): a photometric L2 loss against the truth, through the same field,
renderer, cameras, schedule and mesh export as every other prior. What it reaches is what the project's 3D
machinery can do; the gap to it is the cost of distillation (bench/REPORT.md has both per prompt).
"""

from __future__ import annotations

import torch

from ..procedural.baked_scene import BakedScene
from ..prompts import ViewContext
from .procedural_camera import CameraProceduralPrior


class OraclePrior(CameraProceduralPrior):
    name = "oracle"

    def view_eps(
        self, z: torch.Tensor, alpha: float, sigma: float, scene: BakedScene, view: ViewContext, guidance_scale: float
    ) -> torch.Tensor:
        """(z - alpha x_true) / sigma; one true image, so guidance has nothing to choose between."""
        assert view.camera is not None
        truth = self.images(scene, view, view.camera.light)[0]
        return (z - alpha * truth) / sigma
