"""The rasterizer and the mesh render against cases worked by hand: a square facing a camera covers exactly the
pixel centres inside its projection, at its depth, lit by its normal; the antialiased silhouette's coverage sums to
the square's area in pixels, and gradients match finite differences."""

from __future__ import annotations

import math

import pytest
import torch

from engine.cameras import Cameras, look_at
from engine.config import ShadingConfig
from engine.refinement.mesh_render import render_mesh
from engine.refinement.rasterize import interpolate, rasterize
from engine.shading import ShadingMode

RESOLUTION = 32
DISTANCE = 2.0  # the camera on -Y, looking at the origin; fovy 90 degrees: a metre at the origin is 8 pixels
SQUARE = ((0, 1, 2), (0, 2, 3))


def camera(dtype: torch.dtype = torch.float64, light: tuple[float, float, float] = (0.0, -100.0, 0.0)) -> Cameras:
    position = torch.tensor([[0.0, -DISTANCE, 0.0]], dtype=dtype)
    rotation = look_at(position.float(), torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 1.0]])).to(dtype)
    return Cameras(
        position=position,
        rotation=rotation,
        fovy=torch.tensor([math.pi / 2], dtype=dtype),
        azimuth=torch.zeros(1, dtype=dtype),
        elevation=torch.zeros(1, dtype=dtype),
        distance=torch.tensor([DISTANCE], dtype=dtype),
        light=torch.tensor([light], dtype=dtype),
    )


def square(left: float, right: float, bottom: float, top: float, y: float = 0.0) -> torch.Tensor:
    """Corners of an axis-aligned square in the plane at ``y`` (x to the right, z up on screen)."""
    return torch.tensor([[left, y, bottom], [right, y, bottom], [right, y, top], [left, y, top]], dtype=torch.float64)


def pixel_coordinate(x: float) -> float:
    """Where x (metres, in the plane y = 0) lands, in pixels (pixel i's centre at i)."""
    return (x / DISTANCE + 1.0) * 0.5 * RESOLUTION - 0.5


def test_a_square_covers_exactly_the_pixel_centres_inside_it() -> None:
    vertices = square(-0.5, 0.5, -0.5, 0.5)  # projects to [11.5, 19.5] in both axes
    fragments = rasterize(vertices, torch.tensor(SQUARE), camera(), RESOLUTION)
    covered = fragments.face >= 0
    expected = torch.zeros(RESOLUTION, RESOLUTION, dtype=torch.bool)
    expected[12:20, 12:20] = True
    assert torch.equal(covered, expected)
    points = interpolate(vertices, torch.tensor(SQUARE), fragments)
    columns, rows = fragments.pixels % RESOLUTION, fragments.pixels // RESOLUTION
    # The ray through a pixel centre meets the plane y = 0 at depth 2: x = (2 (c + 0.5) / 32 - 1) * 2, z likewise.
    assert torch.allclose(points[:, 1], torch.zeros(len(points), dtype=torch.float64), atol=1e-12)
    assert torch.allclose(points[:, 0], (2 * (columns.double() + 0.5) / RESOLUTION - 1) * DISTANCE, atol=1e-9)
    assert torch.allclose(points[:, 2], (1 - 2 * (rows.double() + 0.5) / RESOLUTION) * DISTANCE, atol=1e-9)


def test_the_nearer_of_two_overlapping_squares_wins() -> None:
    near, far = square(-0.5, 0.0, -0.5, 0.5, y=-0.5), square(-0.5, 0.5, -0.5, 0.5, y=0.5)
    faces = torch.tensor([*SQUARE, *[[a + 4, b + 4, c + 4] for a, b, c in SQUARE]])
    fragments = rasterize(torch.cat([near, far]), faces, camera(), RESOLUTION)
    centre_row = RESOLUTION // 2
    # The near square at depth 1.5 spans pixels [10.2, 15.5], the far one at 2.5 [12.3, 18.7] behind it.
    near_columns = (fragments.face[centre_row] >= 0) & (fragments.face[centre_row] <= 1)
    assert near_columns.nonzero().squeeze(-1).tolist() == list(range(11, 16))
    assert (fragments.face[centre_row, 16:19] >= 2).all()
    assert (fragments.face[centre_row, 19:] == -1).all()


def test_the_shaded_square_is_lit_by_its_normal_whichever_way_it_winds() -> None:
    shading = ShadingConfig()
    light = (0.3, -1.0, 0.4)
    background = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    for faces in (torch.tensor(SQUARE), torch.tensor(SQUARE).flip(1)):
        vertices = square(-0.5, 0.5, -0.5, 0.5)
        image = render_mesh(
            vertices,
            faces,
            torch.ones(4, 3, dtype=torch.float64),
            camera(light=light),
            RESOLUTION,
            ShadingMode.TEXTURELESS,
            shading,
            background,
        )
        # The pixel (row 16, column 16) sees the point x = -z = 0.0625 of the plane, whose normal is -Y.
        point = torch.tensor([0.0625, 0.0, -0.0625], dtype=torch.float64)
        to_light = torch.tensor(light, dtype=torch.float64) - point
        expected = shading.ambient + shading.diffuse * float(-to_light[1] / to_light.norm())
        assert image[:, 16, 16].tolist() == pytest.approx([expected] * 3, abs=1e-9)
        assert image[:, 2, 2].tolist() == [0.0, 0.0, 1.0]


def coverage(vertices: torch.Tensor) -> torch.Tensor:
    """The antialiased image of a white square over black, ambient-only: each pixel's share of it."""
    return render_mesh(
        vertices,
        torch.tensor(SQUARE),
        torch.ones(4, 3, dtype=torch.float64),
        camera(),
        RESOLUTION,
        ShadingMode.AMBIENT,
        ShadingConfig(),
        torch.zeros(3, dtype=torch.float64),
    )[0]


def test_the_silhouette_covers_the_squares_area_and_follows_its_edge() -> None:
    # Left and right a fraction of a pixel off the middle between pixel centres, bottom and top on it (a box
    # filter along one axis only: at a corner, blending across and down is the approximation nvdiffrast makes)
    left, right, bottom, top = -0.47, 0.58, -0.5, 0.5
    vertices = square(left, right, bottom, top).requires_grad_(True)
    image = coverage(vertices)
    width = pixel_coordinate(right) - pixel_coordinate(left)
    height = pixel_coordinate(top) - pixel_coordinate(bottom)
    assert float(image.detach().sum()) == pytest.approx(width * height, abs=1e-9)
    image.sum().backward()
    # Moving the right edge (vertices 1 and 2) by dx metres adds height * dx * 8 pixels.
    pixels_per_metre = RESOLUTION / (2 * DISTANCE)
    assert float(vertices.grad[1, 0] + vertices.grad[2, 0]) == pytest.approx(height * pixels_per_metre, rel=1e-6)


def test_a_shaded_pixels_gradient_matches_finite_differences() -> None:
    vertices = torch.tensor(
        [[-0.6, 0.1, -0.5], [0.7, -0.2, -0.4], [0.1, 0.3, 0.6]], dtype=torch.float64, requires_grad=True
    )
    faces = torch.tensor([[0, 1, 2]])
    albedo = torch.tensor([[0.9, 0.2, 0.1], [0.2, 0.8, 0.3], [0.1, 0.3, 0.9]], dtype=torch.float64)
    view = camera(light=(1.0, -1.5, 1.2))
    background = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)

    def pixel(points: torch.Tensor) -> torch.Tensor:
        image = render_mesh(points, faces, albedo, view, RESOLUTION, ShadingMode.COLORED, ShadingConfig(), background)
        return image[1, 15, 17]

    pixel(vertices).backward()
    analytic = vertices.grad.clone()
    assert analytic.abs().sum() > 0
    step = 1e-6
    numeric = torch.zeros_like(analytic)
    with torch.no_grad():
        for index in range(3):
            for axis in range(3):
                plus, minus = vertices.clone(), vertices.clone()
                plus[index, axis] += step
                minus[index, axis] -= step
                numeric[index, axis] = (pixel(plus) - pixel(minus)) / (2 * step)
    assert torch.allclose(analytic, numeric, atol=1e-6, rtol=1e-4)
