"""The hash-grid field: instant-NGP's multiresolution hash encoding (Mueller et al. 2022) with small MLP heads,
as threestudio's dreamfusion-sd geometry.

Each level is a grid of ``resolution`` cells across the box whose vertices hold ``features_per_level`` learned
features: a coarse level whose vertices fit in the table is stored densely, a finer one is hashed into
``2^log2_table_size`` slots (instant-NGP's spatial hash, so its vertices collide and the MLP sorts that out).
All levels live in one flat parameter, each at its offset. The features of a point are its cells' corners
interpolated (trilinear, or smoothstep for continuous normals), concatenated over the levels; one MLP reads them
into the pre-activation density, another into the albedo logits. Density is softplus(raw + blob), the blob
(``blob.py``) being threestudio's Magic3D ``blob_magic3d``.

Progressive levels (threestudio's ProgressiveBandHashGrid): the finer levels unlock over the run and read as
zero until then, so they are neither computed nor updated; the count of active levels is a buffer, so a
checkpoint restores it.

Normals are analytic: the gradient of the pre-activation density, carried forward through the interpolation
weights' derivatives and the density MLP (a forward-mode Jacobian, three tangents), so they cost one pass and
one ordinary backward instead of autograd's double backward, and they are the exact gradient of the density
that is rendered.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import BOUND, FieldConfig, HashGridConfig
from .base import Field, FieldSample
from .blob import blob

# instant-NGP's spatial hash: the xor of each integer coordinate times its prime, modulo the table size.
HASH_PRIMES = (1, 2654435761, 805459861)


def level_resolutions(config: HashGridConfig) -> list[int]:
    """Cells across the box per level: a geometric series from the base to the finest resolution."""
    if config.levels == 1:
        return [config.base_resolution]
    growth = math.exp((math.log(config.finest_resolution) - math.log(config.base_resolution)) / (config.levels - 1))
    return [math.floor(config.base_resolution * growth**level + 1e-6) for level in range(config.levels)]


def _corner_product(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, combine=torch.mul) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Per-axis values of a cell's lower and upper vertex (..., K) each, K = 2 (or 1 for single vertices), combined
    into its K^3 corners (..., K^3), x fastest (corner c = x + 2 y + 4 z)."""
    combined = combine(combine(z[..., :, None, None], y[..., None, :, None]), x[..., None, None, :])
    return combined.reshape(*x.shape[:-1], -1)


class _Interpolate(torch.autograd.Function):
    """Corner rows of the table (N, L, 8) read and weighted: features (N, L, F) and, with corner weight slopes
    (N, L, 8, 3), their Jacobian (N, L, F, 3). One gather forward and one scatter-add backward for every level,
    instead of autograd's graph of per-level gathers; gradients go to the table only (the points are data)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        table: torch.Tensor,
        rows: torch.Tensor,
        weights: torch.Tensor,
        slopes: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        values = table.index_select(0, rows.reshape(-1)).reshape(*rows.shape, table.shape[1])  # (N, L, 8, F)
        features = torch.einsum("nlc,nlcf->nlf", weights, values)
        jacobian = None if slopes is None else torch.einsum("nlcd,nlcf->nlfd", slopes, values)
        ctx.save_for_backward(rows, weights, slopes)
        ctx.table_shape = table.shape
        return features, jacobian

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_features: torch.Tensor, grad_jacobian: torch.Tensor | None
    ) -> tuple[torch.Tensor, None, None, None]:
        rows, weights, slopes = ctx.saved_tensors
        grad_values = weights.unsqueeze(-1) * grad_features.unsqueeze(2)  # (N, L, 8, F)
        if slopes is not None and grad_jacobian is not None:
            grad_values = grad_values + torch.einsum("nlcd,nlfd->nlcf", slopes, grad_jacobian)
        grad_table = grad_values.new_zeros(ctx.table_shape)
        grad_table.index_add_(0, rows.reshape(-1), grad_values.reshape(-1, ctx.table_shape[1]))
        return grad_table, None, None, None


class HashEncoding(nn.Module):
    """Points in [-bound, bound]^3 -> the concatenated features of every level (..., levels * F), and on request
    their Jacobian with respect to the point (..., levels * F, 3). Levels from ``active_levels`` on are zero."""

    def __init__(self, config: HashGridConfig, bound: float) -> None:
        super().__init__()
        self.config = config
        self.bound = bound
        self.resolutions = level_resolutions(config)
        table_size = 1 << config.log2_table_size
        self.sizes = [min((r + 1) ** 3, table_size) for r in self.resolutions]
        self.hashed = [(r + 1) ** 3 > table_size for r in self.resolutions]
        self.offsets = [0, *torch.tensor(self.sizes).cumsum(0).tolist()]
        scale = config.init_scale
        self.table = nn.Parameter(torch.empty(self.offsets[-1], config.features_per_level).uniform_(-scale, scale))
        start = config.levels if config.progressive_every <= 0 else min(config.start_levels, config.levels)
        self.register_buffer("active_levels", torch.tensor(start))
        self.register_buffer("sides", torch.tensor([0, 1]), persistent=False)  # a cell's lower and upper vertex
        self.register_buffer("cells", torch.tensor(self.resolutions, dtype=torch.float32), persistent=False)

    @property
    def output_dim(self) -> int:
        return self.config.levels * self.config.features_per_level

    def set_progress(self, fraction: float) -> None:
        """threestudio's schedule: start_levels until progressive_start, then one more every progressive_every."""
        config = self.config
        if config.progressive_every <= 0:
            active = config.levels
        else:
            unlocked = max(0, math.floor((fraction - config.progressive_start) / config.progressive_every + 1e-9))
            active = min(config.levels, config.start_levels + unlocked)
        self.active_levels.fill_(active)

    def rows(self, level: int, vertices: torch.Tensor) -> torch.Tensor:
        """Rows of the flat table for integer vertices (..., 3) of ``level``: dense where they fit, else hashed."""
        return self._corner_rows(level, vertices.unsqueeze(-1))[..., 0]

    def _corner_rows(self, level: int, vertices: torch.Tensor) -> torch.Tensor:
        """Rows for per-axis vertex coordinates (..., 3, K), K = 1 or a cell's 2 sides: (..., K^3)."""
        x, y, z = vertices.unbind(-2)
        if self.hashed[level]:
            hashed = _corner_product(x * HASH_PRIMES[0], y * HASH_PRIMES[1], z * HASH_PRIMES[2], torch.bitwise_xor)
            local = hashed & (self.sizes[level] - 1)
        else:
            side = self.resolutions[level] + 1
            local = _corner_product(x, y * side, z * side * side, torch.add)
        return local + self.offsets[level]

    def forward(self, points: torch.Tensor, jacobian: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        flat = points.reshape(-1, 3)
        active = int(self.active_levels)
        cells = self.cells[:active].view(1, active, 1)
        unit = ((flat.detach() / self.bound).clamp(-1.0, 1.0) + 1.0) * 0.5  # [0, 1]^3
        position = unit.unsqueeze(1) * cells  # (N, L, 3)
        cell = torch.minimum(position.floor(), cells - 1)
        t = position - cell  # in [0, 1]
        corners = cell.long().unsqueeze(-1) + self.sides  # (N, L, 3, 2)
        rows = torch.stack([self._corner_rows(level, corners[:, level]) for level in range(active)], dim=1)
        smooth = self.config.interpolation == "smoothstep"
        s = t * t * (3.0 - 2.0 * t) if smooth else t
        factors = torch.stack([1.0 - s, s], dim=-1)  # (N, L, 3, 2): the lower and upper vertex's weight per axis
        fx, fy, fz = factors.unbind(2)
        weights = _corner_product(fx, fy, fz)  # (N, L, 8)
        slopes = None
        if jacobian:
            # d weight / d point: one axis's factor differentiated, the other two kept
            slope = (6.0 * t * (1.0 - t) if smooth else torch.ones_like(t)) * (cells * (0.5 / self.bound))
            dx, dy, dz = torch.stack([-slope, slope], dim=-1).unbind(2)
            corner_slopes = [_corner_product(dx, fy, fz), _corner_product(fx, dy, fz), _corner_product(fx, fy, dz)]
            slopes = torch.stack(corner_slopes, dim=-1)  # (N, L, 8, 3)
        features, jacobians = _Interpolate.apply(self.table, rows, weights, slopes)
        locked = self.config.levels - active
        width = self.config.features_per_level
        encoded = F.pad(features.reshape(len(flat), -1), (0, locked * width))
        encoded = encoded.reshape(*points.shape[:-1], self.output_dim)
        if jacobians is None:
            return encoded, None
        jacobians = F.pad(jacobians.reshape(len(flat), -1, 3), (0, 0, 0, locked * width))
        return encoded, jacobians.reshape(*points.shape[:-1], self.output_dim, 3)


class _Head(nn.Module):
    """A small ReLU MLP (threestudio's VanillaMLP); its last layer starts at zero, so the field starts at the
    blob with gray albedo, as the grid fields do."""

    def __init__(self, inputs: int, hidden: int, layers: int, outputs: int) -> None:
        super().__init__()
        widths = [inputs] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.output = nn.Linear(hidden, outputs)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.output(x)

    def forward_with_tangents(self, x: torch.Tensor, tangents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output (N, O) and its Jacobian (N, O, 3) given the input's (N, I, 3): forward-mode through the
        layers (a ReLU passes a tangent where its input is positive)."""
        for layer in self.hidden:
            pre = layer(x)
            tangents = torch.einsum("oi,nid->nod", layer.weight, tangents) * (pre > 0).unsqueeze(-1)
            x = F.relu(pre)
        return self.output(x), torch.einsum("oi,nid->nod", self.output.weight, tangents)


class HashGridField(Field):
    # threestudio dreamfusion-sd: Adam lr 0.01 for the whole geometry (encoding and both heads), betas (0.9, 0.99),
    # eps 1e-15 (the optimizer's own). The albedo head is its own group so OptimConfig.albedo_lr can move it.
    default_learning_rates: ClassVar[dict[str, float]] = {"geometry": 1e-2, "albedo": 1e-2}

    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__()
        self.config = config
        self.bound = bound
        grid = config.hash_grid
        self.encoding = HashEncoding(grid, bound)
        self.density_head = _Head(self.encoding.output_dim, grid.hidden, grid.hidden_layers, 1)
        self.albedo_head = _Head(self.encoding.output_dim, grid.hidden, grid.hidden_layers, 3)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        geometry = [self.encoding.table, *self.density_head.parameters()]
        return {"geometry": geometry, "albedo": list(self.albedo_head.parameters())}

    def set_progress(self, fraction: float) -> None:
        self.encoding.set_progress(fraction)

    def forward(self, points: torch.Tensor) -> FieldSample:
        features, jacobian = self.encoding(points, jacobian=True)
        assert jacobian is not None
        flat_features = features.reshape(-1, self.encoding.output_dim)
        raw, raw_gradient = self.density_head.forward_with_tangents(
            flat_features, jacobian.reshape(-1, self.encoding.output_dim, 3)
        )
        offset, offset_gradient = blob(points, self.config)
        pre = raw.reshape(points.shape[:-1]) + offset
        gradient = raw_gradient.reshape(points.shape) + offset_gradient
        normals = -gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        albedo = torch.sigmoid(self.albedo_head(features))
        return FieldSample(density=F.softplus(pre), albedo=albedo, normals=normals)

    def _density_from(self, points: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.density_head(features)[..., 0] + blob(points, self.config)[0])

    @torch.no_grad()
    def density(self, points: torch.Tensor) -> torch.Tensor:
        return self._density_from(points, self.encoding(points)[0])

    @torch.no_grad()
    def density_and_albedo(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Without normals, for mesh export's millions of points: the features read once for both heads."""
        features = self.encoding(points)[0]
        return self._density_from(points, features), torch.sigmoid(self.albedo_head(features))
