"""The shapes the procedural prior knows, as unions of SDF parts in each shape's own frame.

Frame: Blender axes, Z up, the shape's front facing -Y, its vertical axis through x = y = 0.
Bounding boxes and radii are declared (tests check them against the SDFs) so layouts are exact.
A fronted shape has a ``front_marker``: a point inside a feature that exists only on one side
(the snowman's nose, the duck's beak, the mug's handle, the chair's backrest). A result faces -Y
with one front when the marker is filled and its 90/180/270 degree turns about the axis are not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from . import sdf

Vec3 = tuple[float, float, float]
Distance = Callable[[torch.Tensor], torch.Tensor]


def _at(offset: Vec3, primitive: Callable[..., torch.Tensor], **params: object) -> Distance:
    """``primitive`` with its origin moved to ``offset``."""

    def distance(points: torch.Tensor) -> torch.Tensor:
        return primitive(points - torch.tensor(offset, dtype=points.dtype, device=points.device), **params)

    return distance


@dataclass(frozen=True)
class Part:
    """One primitive of a shape: a solid added in the object's color (or a fixed one), or a hollow carved out."""

    distance: Distance
    color: str | None = None  # a fixed vocabulary color; None: the color the prompt asks for
    carve: bool = False


@dataclass(frozen=True)
class Shape:
    name: str
    parts: tuple[Part, ...]
    default_color: str
    bbox_min: Vec3
    bbox_max: Vec3
    radius: float  # of the smallest origin-centred sphere holding the shape
    front_marker: Vec3 | None = None

    @property
    def fronted(self) -> bool:
        return self.front_marker is not None


_SNOWMAN_HEAD: Vec3 = (0.0, 0.0, 0.63)
_DUCK_HEAD: Vec3 = (0.0, -0.3, 0.3)

SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape("sphere", (Part(partial(sdf.sphere, radius=0.9)),), "gray", (-0.9, -0.9, -0.9), (0.9, 0.9, 0.9), 0.9),
        Shape(
            "cube",
            (Part(partial(sdf.box, half=(0.6, 0.6, 0.6), rounding=0.03)),),
            "gray",
            (-0.6, -0.6, -0.6),
            (0.6, 0.6, 0.6),
            3**0.5 * 0.57 + 0.03,
        ),
        Shape(
            "cylinder",
            (Part(partial(sdf.cylinder, radius=0.6, half_height=0.6)),),
            "gray",
            (-0.6, -0.6, -0.6),
            (0.6, 0.6, 0.6),
            2**0.5 * 0.6,
        ),
        Shape(
            "cone",
            (Part(partial(sdf.cone, half_height=0.7, bottom_radius=0.7, top_radius=0.0)),),
            "gray",
            (-0.7, -0.7, -0.7),
            (0.7, 0.7, 0.7),
            2**0.5 * 0.7,
        ),
        Shape(
            "torus",
            (Part(partial(sdf.torus, major=0.65, minor=0.25)),),
            "gray",
            (-0.9, -0.9, -0.25),
            (0.9, 0.9, 0.25),
            0.9,
        ),
        Shape(
            "pyramid",
            (Part(_at((0.0, 0.0, -0.6), sdf.pyramid, half_base=0.7, height=1.2)),),
            "gray",
            (-0.7, -0.7, -0.6),
            (0.7, 0.7, 0.6),
            (2 * 0.7**2 + 0.6**2) ** 0.5,
        ),
        Shape(
            "mushroom",
            (
                Part(_at((0.0, 0.0, 0.225), sdf.ellipsoid, radii=(0.7, 0.7, 0.35))),
                Part(_at((0.0, 0.0, -0.225), sdf.cylinder, radius=0.2, half_height=0.35), color="white"),
            ),
            "red",
            (-0.7, -0.7, -0.575),
            (0.7, 0.7, 0.575),
            0.76,
        ),
        Shape(
            "snowman",
            (
                Part(_at((0.0, 0.0, -0.43), sdf.sphere, radius=0.42)),
                Part(_at((0.0, 0.0, 0.19), sdf.sphere, radius=0.31)),
                Part(_at(_SNOWMAN_HEAD, sdf.sphere, radius=0.22)),
                Part(partial(sdf.round_cone, a=(0.0, -0.12, 0.63), b=(0.0, -0.47, 0.6), ra=0.075, rb=0.03), "orange"),
                Part(_at((-0.09, -0.18, 0.71), sdf.sphere, radius=0.04), "black"),
                Part(_at((0.09, -0.18, 0.71), sdf.sphere, radius=0.04), "black"),
                Part(_at((0.0, -0.3, 0.26), sdf.sphere, radius=0.045), "black"),
                Part(_at((0.0, -0.31, 0.1), sdf.sphere, radius=0.045), "black"),
            ),
            "white",
            (-0.42, -0.5, -0.85),
            (0.42, 0.42, 0.85),
            0.86,
            front_marker=(0.0, -0.38, 0.61),
        ),
        Shape(
            "duck",
            (
                Part(_at((0.0, 0.1, -0.25), sdf.ellipsoid, radii=(0.45, 0.6, 0.35))),
                Part(partial(sdf.round_cone, a=(0.0, 0.45, -0.2), b=(0.0, 0.72, 0.02), ra=0.18, rb=0.06)),
                Part(_at(_DUCK_HEAD, sdf.sphere, radius=0.28)),
                Part(_at((0.0, -0.6, 0.27), sdf.ellipsoid, radii=(0.14, 0.2, 0.06)), "orange"),
                Part(_at((-0.12, -0.5, 0.4), sdf.sphere, radius=0.04), "black"),
                Part(_at((0.12, -0.5, 0.4), sdf.sphere, radius=0.04), "black"),
            ),
            "yellow",
            (-0.45, -0.8, -0.6),
            (0.45, 0.78, 0.58),
            0.85,
            front_marker=(0.0, -0.68, 0.27),
        ),
        Shape(
            "mug",
            (
                Part(partial(sdf.cylinder, radius=0.5, half_height=0.55)),
                Part(_at((0.0, -0.5, 0.0), sdf.torus, major=0.25, minor=0.07, axis=0)),
                Part(_at((0.0, 0.0, 0.15), sdf.cylinder, radius=0.42, half_height=0.55), carve=True),
            ),
            "blue",
            (-0.5, -0.82, -0.55),
            (0.5, 0.5, 0.55),
            0.84,
            front_marker=(0.0, -0.75, 0.0),
        ),
        Shape(
            "chair",
            (
                Part(partial(sdf.box, half=(0.45, 0.45, 0.06), rounding=0.02)),
                *(
                    Part(_at((x, y, -0.36), sdf.box, half=(0.05, 0.05, 0.3)))
                    for x in (-0.38, 0.38)
                    for y in (-0.38, 0.38)
                ),
                Part(_at((0.0, 0.4, 0.46), sdf.box, half=(0.45, 0.05, 0.4), rounding=0.02)),
            ),
            "brown",
            (-0.45, -0.45, -0.66),
            (0.45, 0.45, 0.86),
            1.06,
            front_marker=(0.0, 0.4, 0.7),
        ),
    )
}
