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

Normals are analytic: the gradient of the pre-activation density, the encoding's Jacobian (from the
interpolation weights' derivatives) times the density MLP's gradient with respect to its input (reverse mode
through its few layers, written out), so they cost one pass and one ordinary backward instead of autograd's
double backward, and they are the exact gradient of the density that is rendered.
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
from .blob import blob, start_sphere
from .volsdf import volsdf_density

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
    return combined.flatten(-3)  # not reshape(..., -1): no points is a valid input (a chunk of empty rays)


class _Interpolate(torch.autograd.Function):
    """Corner rows of the table (N, L, 8) read and combined with per-corner coefficients (N, L, 8, K) (the
    interpolation weights, and their slopes for a Jacobian): (N, L, K, F). One gather forward and one scatter-add
    backward for every level, instead of autograd's graph of per-level gathers; gradients go to the table only
    (the points are data)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, table: torch.Tensor, rows: torch.Tensor, coefficients: torch.Tensor
    ) -> torch.Tensor:
        values = table.index_select(0, rows.reshape(-1)).reshape(*rows.shape, table.shape[1])  # (N, L, 8, F)
        ctx.save_for_backward(rows, coefficients)
        ctx.table_shape = table.shape
        # batched (K, 8) x (8, F) products: 4x faster on a CPU than broadcasting to (N, L, 8, K, F) and summing
        return coefficients.transpose(-1, -2) @ values

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor, None, None]:
        rows, coefficients = ctx.saved_tensors
        grad_values = coefficients @ grad_output  # (N, L, 8, F)
        grad_table = grad_values.new_zeros(ctx.table_shape)
        grad_table.index_add_(0, rows.reshape(-1), grad_values.reshape(-1, ctx.table_shape[1]))
        return grad_table, None, None


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
        unit = ((flat.detach() / self.bound).clamp(-1.0, 1.0) + 1.0) * 0.5  # [0, 1]^3; the points are data
        active = range(int(self.active_levels))
        dense = [self._dense_level(level, unit, jacobian) for level in active if not self.hashed[level]]
        hashed = [level for level in active if self.hashed[level]]  # the finest levels: a suffix
        parts = dense + ([self._hashed_levels(hashed, unit, jacobian)] if hashed else [])
        features = torch.cat([part[0] for part in parts], dim=1)  # (N, active * F)
        locked = self.output_dim - features.shape[1]
        encoded = F.pad(features, (0, locked)).reshape(*points.shape[:-1], self.output_dim)
        if not jacobian:
            return encoded, None
        jacobians = F.pad(torch.cat([part[1] for part in parts], dim=2), (0, locked))
        return encoded, jacobians.reshape(*points.shape[:-1], 3, self.output_dim)

    def _cells(
        self, unit: torch.Tensor, resolution: float | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each point's cell (its lower vertex, as floats) and the interpolation weight of the upper vertex per
        axis (..., 3), with that weight's derivative per unit of the box."""
        position = unit * resolution
        cell = position.floor().clamp(max=resolution - 1)  # the box's far faces belong to the last cell
        t = position - cell
        scale = resolution * (0.5 / self.bound)
        if self.config.interpolation == "smoothstep":
            return cell, t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t) * scale
        return cell, t, torch.ones_like(t) * scale

    def _dense_level(self, level: int, unit: torch.Tensor, jacobian: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A level stored densely, read with ``grid_sample`` (one fused kernel): features (N, F), Jacobian (N, F, 3).

        Interpolation at the cell's own weights (smoothstep warps them), and each axis's derivative is the other
        two axes' interpolation of that axis's vertex differences at the cell, which ``grid_sample`` reads exactly
        with that axis's coordinate on the cell's lower vertex."""
        resolution = self.resolutions[level]
        side = resolution + 1
        rows = self.table[self.offsets[level] : self.offsets[level + 1]]
        volume = rows.view(side, side, side, -1).permute(3, 0, 1, 2).unsqueeze(0)  # (1, F, z, y, x)
        cell, weight, slope = self._cells(unit, float(resolution))
        at = (cell + weight) * (2.0 / resolution) - 1.0  # grid_sample's [-1, 1] with align_corners
        features = _sample(volume, at)
        if not jacobian:
            return features, None
        on_cell = cell * (2.0 / resolution) - 1.0
        columns = []
        for axis in range(3):
            dim = 4 - axis  # x is the volume's last dimension
            differences = F.pad(volume.diff(dim=dim), (0, 0) * (4 - dim) + (0, 1))
            coordinates = torch.where(torch.arange(3, device=unit.device) == axis, on_cell, at)
            columns.append(_sample(differences, coordinates) * slope[:, axis : axis + 1])
        return features, torch.stack(columns, dim=1)

    def _hashed_levels(
        self, levels: list[int], unit: torch.Tensor, jacobian: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The hashed levels together: their 8 corners' rows, weights and weight slopes, read by ``_Interpolate``:
        features (N, L * F), Jacobian (N, L * F, 3)."""
        resolutions = torch.tensor([self.resolutions[level] for level in levels], device=unit.device)
        cell, weight, slope = self._cells(unit.unsqueeze(1), resolutions.to(unit.dtype).view(1, -1, 1))  # (N, L, 3)
        corners = cell.long().unsqueeze(-1) + self.sides  # (N, L, 3, 2)
        rows = torch.stack([self._corner_rows(level, corners[:, i]) for i, level in enumerate(levels)], dim=1)
        factors = torch.stack([1.0 - weight, weight], dim=-1)  # (N, L, 3, 2): the lower and upper vertex's weight
        fx, fy, fz = factors.unbind(2)
        coefficients = [_corner_product(fx, fy, fz)]  # (N, L, 8)
        if jacobian:
            # d weight / d point: one axis's factor differentiated, the other two kept
            dx, dy, dz = torch.stack([-slope, slope], dim=-1).unbind(2)
            coefficients += [_corner_product(dx, fy, fz), _corner_product(fx, dy, fz), _corner_product(fx, fy, dz)]
        values = _Interpolate.apply(self.table, rows, torch.stack(coefficients, dim=-1))  # (N, L, K, F)
        features = values[:, :, 0].flatten(1)
        return features, (values[:, :, 1:].transpose(1, 2).flatten(2) if jacobian else None)


def _sample(volume: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """(1, C, D, H, W) read trilinearly at ``at`` (N, 3) in [-1, 1] (x, y, z; align_corners): (N, C)."""
    values = F.grid_sample(volume, at.view(1, -1, 1, 1, 3), mode="bilinear", align_corners=True)
    return values.view(volume.shape[1], -1).T


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

    def forward_with_input_gradient(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output (N, 1) of a one-output head and its gradient with respect to the input (N, I): reverse mode
        through the layers (a ReLU passes the gradient where its input was positive), one (N, hidden) product a
        layer, where carrying the three axes' tangents forward took three."""
        masks = []
        for layer in self.hidden:
            pre = layer(x)
            masks.append(pre > 0)
            x = F.relu(pre)
        gradient = self.output.weight  # (1, hidden): d output / d last activations
        for layer, mask in zip(reversed(self.hidden), reversed(masks), strict=True):
            gradient = (gradient * mask) @ layer.weight
        return self.output(x), gradient


# A signed distance moves in metres, and the head's output weights move it at once for every point that reads them,
# so it learns slower than the density form's 0.1. Measured on the oracle's sphere (fast preset, seed 0;
# bench/results/hash-grid/README.md): IoU 0.971 at 0.01, 0.975 at 0.03 (the sdf-grid 0.982).
SDF_LEARNING_RATES = {"geometry": 3e-2, "albedo": 1e-1}


class HashGridField(Field):
    # threestudio dreamfusion-sd: Adam lr 0.01 for the whole geometry (encoding and both heads) over 10k steps. Our
    # runs are 150-1200 steps: measured on the oracle's cube (150 steps, 32 px): IoU 0.728 at 0.01, 0.799 at 0.03,
    # 0.849 at 0.05, 0.900 at 0.1, 0.910 at 0.2; 0.1 kept (the cylinder: 0.811 -> 0.892). The albedo head is its own
    # group so OptimConfig.albedo_lr can move it. The GPU recipe sets threestudio's 0.01 with its 10k steps.
    default_learning_rates: ClassVar[dict[str, float]] = {"geometry": 1e-1, "albedo": 1e-1}

    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__()
        self.config = config
        self.bound = bound
        grid = config.hash_grid
        if grid.output == "sdf":
            self.default_learning_rates = SDF_LEARNING_RATES  # type: ignore[misc]
        self.encoding = HashEncoding(grid, bound)
        self.density_head = _Head(self.encoding.output_dim, grid.hidden, grid.hidden_layers, 1)
        self.albedo_head = _Head(self.encoding.output_dim, grid.hidden, grid.hidden_layers, 3)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        geometry = [self.encoding.table, *self.density_head.parameters()]
        return {"geometry": geometry, "albedo": list(self.albedo_head.parameters())}

    def set_progress(self, fraction: float) -> None:
        self.encoding.set_progress(fraction)

    @property
    def surface_density(self) -> float | None:
        """A signed distance's surface is its zero level: VolSDF's density there is 1 / (2 beta)."""
        return 0.5 / self.config.hash_grid.beta if self.signed_distance else None

    @property
    def signed_distance(self) -> bool:
        return self.config.hash_grid.output == "sdf"

    def _start(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The start shape the head's output (N, 1) is added to, and its gradient: the blob's pre-activation density,
        or the start sphere's signed distance."""
        if self.signed_distance:
            return start_sphere(points, self.config.hash_grid.init_radius)
        return blob(points, self.config)

    def _density(self, points: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        """Softplus of the pre-activation density, or VolSDF's of the distance; zero outside the ball."""
        density = volsdf_density(geometry, self.config.hash_grid.beta) if self.signed_distance else F.softplus(geometry)
        return self._inside(points, density)

    def forward(self, points: torch.Tensor) -> FieldSample:
        features, jacobian = self.encoding(points, jacobian=True)
        assert jacobian is not None
        flat_features = features.reshape(-1, self.encoding.output_dim)
        raw, feature_gradient = self.density_head.forward_with_input_gradient(flat_features)
        # the chain rule: d raw / d point = (d features / d point) (d raw / d features), (N, 3, D) (N, D, 1)
        raw_gradient = torch.bmm(jacobian.reshape(-1, 3, self.encoding.output_dim), feature_gradient.unsqueeze(-1))
        start, start_gradient = self._start(points)
        geometry = raw.reshape(points.shape[:-1]) + start
        gradient = raw_gradient.reshape(points.shape) + start_gradient
        norm = gradient.norm(dim=-1, keepdim=True)
        # a distance grows outwards, a density inwards
        normals = (gradient if self.signed_distance else -gradient) / norm.clamp_min(1e-6)
        albedo = torch.sigmoid(self.albedo_head(features))
        return FieldSample(
            density=self._density(points, geometry),
            albedo=albedo,
            normals=normals,
            gradient_norm=norm.squeeze(-1) if self.signed_distance else None,
        )

    def _inside(self, points: torch.Tensor, density: torch.Tensor) -> torch.Tensor:
        """Zero outside the ball the renderer marches (radius ``bound``): nothing there is ever seen, and the box's
        corners would otherwise read whatever their hashed rows learned elsewhere (measured: a sphere's export
        filled the whole box, IoU 0.355, fast preset)."""
        return torch.where(points.norm(dim=-1) <= self.bound, density, torch.zeros_like(density))

    def _density_from(self, points: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        geometry = self.density_head(features).reshape(points.shape[:-1]) + self._start(points)[0]
        return self._density(points, geometry)

    @torch.no_grad()
    def density(self, points: torch.Tensor) -> torch.Tensor:
        return self._density_from(points, self.encoding(points)[0])

    @torch.no_grad()
    def density_and_albedo(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Without normals, for mesh export's millions of points: the features read once for both heads."""
        features = self.encoding(points)[0]
        return self._density_from(points, features), torch.sigmoid(self.albedo_head(features))
