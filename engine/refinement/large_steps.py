"""Vertex updates made smooth before they are taken: Nicolet et al. 2021, "Large Steps in Inverse Rendering of
Geometry". The optimizer moves u and the mesh moves by x = (I + lambda L)^-1 u, L the uniform graph Laplacian.

Why: a render's gradient reaches only the vertices it sees change. A flat face that sits too far in shades the
same as one in place, so only its silhouette's vertices are pulled outward, and a per-vertex step leaves the face's
interior behind until the Laplacian drags it, one ring of vertices a step. Through (I + lambda L)^-1 a pull on the
silhouette moves the whole face, and a lump's sharp gradient is spread over its neighbourhood instead of growing
spikes. The matrix is factored once (scipy's sparse LU, on the CPU) and each step solves it twice (forward and
backward: it is symmetric).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.sparse import coo_matrix, identity
from scipy.sparse.linalg import splu


class SmoothSteps:
    """x = (I + lambda L)^-1 u for one mesh's vertex graph (edges ``sources`` -> ``targets``, each way once)."""

    def __init__(self, sources: torch.Tensor, targets: torch.Tensor, count: int, smoothing: float) -> None:
        rows, columns = sources.cpu().numpy(), targets.cpu().numpy()
        adjacency = coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(count, count)).tocsr()
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        laplacian = coo_matrix((degree, (np.arange(count), np.arange(count))), shape=(count, count)) - adjacency
        self._factor = splu((identity(count) + smoothing * laplacian).tocsc())

    def vertices(self, u: torch.Tensor) -> torch.Tensor:
        """x (V, 3) of u (V, 3), differentiably."""
        return _Solve.apply(u, self._factor)


class _Solve(torch.autograd.Function):
    """y = M^-1 u for a symmetric M given by its LU factors; the gradient is M^-1 of the output's."""

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, factor: Any) -> torch.Tensor:
        ctx.factor = factor
        return _solve(factor, u)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _solve(ctx.factor, grad), None


def _solve(factor: Any, values: torch.Tensor) -> torch.Tensor:
    solved = factor.solve(values.detach().cpu().double().numpy())
    return torch.from_numpy(solved).to(device=values.device, dtype=values.dtype)
