"""The photometric bound ("oracle"): a prior that knows the true render of every training view.

Its noise prediction is exact for a data set of one image, the prompt's scene rendered at the render's own
camera, under the render's own light, in its shading mode, over its background. The SDS gradient is then
w(t) * alpha_t / sigma_t * (render - truth): a photometric L2 loss against the truth, through the same field,
renderer, cameras, schedule and mesh export as every other prior. What it reaches is what the project's 3D
machinery can do; the gap to it is the cost of distillation (bench/REPORT.md has both per prompt).
"""

from __future__ import annotations

import math

import torch

from .base import ViewContext
from .procedural_camera import CameraProceduralPrior


class OraclePrior(CameraProceduralPrior):
    name = "oracle"

    @torch.no_grad()
    def predict_noise(
        self, noisy: torch.Tensor, t: torch.Tensor, views: list[ViewContext], guidance_scale: float
    ) -> torch.Tensor:
        """(z - alpha x_true) / sigma; one true image, so guidance has nothing to choose between."""
        scene = self.check_views(noisy, views)
        out = torch.empty_like(noisy)
        alphabars = self.alphas_cumprod[t.to(self.device)].double().cpu().tolist()
        for index, view in enumerate(views):
            assert view.camera is not None
            truth = self.images(scene, view, view.camera.light)[0]
            alpha, sigma = math.sqrt(alphabars[index]), math.sqrt(1.0 - alphabars[index])
            eps = (noisy[index].flatten().float() - alpha * truth) / sigma
            out[index] = eps.view(noisy.shape[1:]).to(noisy.dtype)
        return out
