"""A prompt's scene laid out in engine coordinates, evaluated as an SDF with albedo.

Layout: each shape keeps its own proportions; the second object of a relation is the anchor and
the first is put against its bounding box on the side the relation names. The whole scene is then
centred on its bounding box and scaled so it fits the engine's object radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .prompt import SceneSpec, parse_prompt
from .shapes import SHAPES, Shape, Vec3
from .vocabulary import COLORS, RELATIONS

SCENE_RADIUS = 0.75  # engine objects fit in this radius (config.py)
_GAP = 0.1  # between side-by-side objects, in shape units


@dataclass(frozen=True)
class PlacedObject:
    """A shape scaled by ``scale`` and moved to ``offset`` (its local origin) in engine coordinates."""

    shape: Shape
    color: Vec3
    offset: Vec3
    scale: float

    def to_local(self, points: torch.Tensor) -> torch.Tensor:
        return (points - torch.tensor(self.offset, dtype=points.dtype, device=points.device)) / self.scale

    def to_world(self, point: Vec3) -> Vec3:
        return tuple(o + self.scale * p for o, p in zip(self.offset, point, strict=True))  # type: ignore[return-value]

    @property
    def front_markers(self) -> list[Vec3]:
        """The marker and its turns by 0, 90, 180 and 270 degrees about the object's vertical axis, in world space.

        Turn k puts the front at -Y turned by k * 90 degrees: -Y, +X, +Y, -X.
        """
        if self.shape.front_marker is None:
            return []
        x, y, z = self.shape.front_marker
        turns = [(x, y, z), (-y, x, z), (-x, -y, z), (y, -x, z)]
        return [self.to_world(t) for t in turns]


FRONT_DIRECTIONS = ("-Y", "+X", "+Y", "-X")  # where the front faces for each turn of ``front_markers``


class Scene:
    """Objects in engine coordinates: signed distance and albedo at any points."""

    def __init__(self, spec: SceneSpec) -> None:
        self.spec = spec
        self.objects = _layout(spec)

    @classmethod
    def from_prompt(cls, prompt: str) -> Scene:
        return cls(parse_prompt(prompt))

    @property
    def radius(self) -> float:
        """Radius of an origin-centred sphere holding the whole scene."""
        return max(math.dist(o.offset, (0, 0, 0)) + o.scale * o.shape.radius for o in self.objects)

    def distance(self, points: torch.Tensor) -> torch.Tensor:
        """Signed distance (N,) at points (N, 3): negative inside."""
        return torch.stack([self.object_distance(o, points) for o in self.objects]).min(dim=0).values

    def albedo(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 3) color of the nearest solid part at points near the surface."""
        distances, colors = [], []
        for obj in self.objects:
            local = obj.to_local(points)
            for part in obj.shape.parts:
                if not part.carve:
                    distances.append(part.distance(local) * obj.scale)
                    colors.append(obj.color if part.color is None else COLORS[part.color])
        nearest = torch.stack(distances).argmin(dim=0)
        return torch.tensor(colors, dtype=points.dtype, device=points.device)[nearest]

    @staticmethod
    def object_distance(obj: PlacedObject, points: torch.Tensor) -> torch.Tensor:
        """Signed distance (N,) to one object of the scene."""
        local = obj.to_local(points)
        solid = torch.stack([p.distance(local) for p in obj.shape.parts if not p.carve]).min(dim=0).values
        for part in obj.shape.parts:
            if part.carve:
                solid = torch.maximum(solid, -part.distance(local))
        return solid * obj.scale


def _layout(spec: SceneSpec) -> tuple[PlacedObject, ...]:
    shapes = [SHAPES[o.shape] for o in spec.objects]
    offsets = [[0.0, 0.0, 0.0] for _ in shapes]
    if spec.relation is not None:
        mover, anchor = shapes
        axis, side = RELATIONS[spec.relation]
        gap = 0.0 if axis == 2 else _GAP  # stacked objects touch; side-by-side ones keep apart
        if side > 0:
            offsets[0][axis] = anchor.bbox_max[axis] - mover.bbox_min[axis] + gap
        else:
            offsets[0][axis] = anchor.bbox_min[axis] - mover.bbox_max[axis] - gap
        # Stacked objects share a vertical axis; side-by-side ones stand on the same floor.
        if axis != 2:
            offsets[0][2] = anchor.bbox_min[2] - mover.bbox_min[2]
    lo = [min(off[i] + s.bbox_min[i] for off, s in zip(offsets, shapes, strict=True)) for i in range(3)]
    hi = [max(off[i] + s.bbox_max[i] for off, s in zip(offsets, shapes, strict=True)) for i in range(3)]
    centre = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    centred = [[off[i] - centre[i] for i in range(3)] for off in offsets]
    radius = max(math.dist(off, (0, 0, 0)) + s.radius for off, s in zip(centred, shapes, strict=True))
    scale = SCENE_RADIUS / radius
    return tuple(
        PlacedObject(shape, COLORS[o.color], tuple(scale * c for c in off), scale)  # type: ignore[arg-type]
        for shape, o, off in zip(shapes, spec.objects, centred, strict=True)
    )
