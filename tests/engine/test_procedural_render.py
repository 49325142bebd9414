"""The procedural prior's renders: analytic shading, engine conventions, and where words put things in images."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from engine.cameras import Cameras, look_at, orbit_cameras
from engine.config import CameraConfig, ShadingConfig
from engine.procedural.baked_scene import BakedScene
from engine.procedural.raymarch import light_visibility, render, trace
from engine.procedural.scene import Scene
from engine.procedural.vocabulary import COLORS
from engine.shading import ShadingMode

SHADING = ShadingConfig()


def _camera(position: tuple[float, float, float], light: tuple[float, float, float], fovy_deg: float = 50.0):
    pos = torch.tensor([position])
    rotation = look_at(pos, torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 1.0]]))
    zero = torch.zeros(1)
    return Cameras(
        pos, rotation, torch.tensor([math.radians(fovy_deg)]), zero, zero, pos.norm(dim=-1), torch.tensor([light])
    )


def test_rendered_sphere_matches_analytic_lambert_shading():
    scene = Scene.from_prompt("a red sphere")
    ((radius, centre),) = [(o.scale * o.shape.radius, torch.tensor(o.offset)) for o in scene.objects]
    camera = _camera((0.4, -2.4, 0.9), (1.5, -1.0, 2.0))
    size = 48
    images = render(scene, camera, size, tuple(ShadingMode), SHADING, supersample=1)

    origins, directions = (x.reshape(-1, 3) for x in camera.rays(size))
    to_centre = centre - origins
    along = (to_centre * directions).sum(-1)
    miss_distance = (to_centre - along[:, None] * directions).norm(dim=-1)  # ray's closest approach to the centre
    t = along - (radius**2 - miss_distance.clamp(max=radius) ** 2).sqrt()
    points = origins + t[:, None] * directions
    normals = (points - centre) / radius
    to_light = camera.light - points
    lambert = ((normals * to_light).sum(-1) / to_light.norm(dim=-1)).clamp_min(0.0)
    intensity = (SHADING.diffuse * lambert + SHADING.ambient)[:, None]
    red = torch.tensor(COLORS["red"])
    expected = {
        ShadingMode.COLORED: red * intensity,
        ShadingMode.TEXTURELESS: intensity.expand(-1, 3),
        ShadingMode.AMBIENT: red.expand(len(points), 3),
    }
    inside = miss_distance < radius - 0.01  # clear of the silhouette
    outside = miss_distance > radius + 0.01
    assert inside.sum() > 200 and outside.sum() > 200
    background = torch.tensor(SHADING.background)
    for mode, color in expected.items():
        image = images[mode][0].permute(1, 2, 0).reshape(-1, 3)
        assert (image[inside] - color[inside]).abs().max() < 2e-3, mode
        assert torch.equal(image[outside], background.expand(int(outside.sum()), 3)), mode
    assert lambert[inside].min() == 0.0 and lambert[inside].max() > 0.9  # the check covers lit and unlit sides


def test_supersampled_edges_blend_object_and_background():
    scene = Scene.from_prompt("a black cube")
    camera = _camera((0.0, -2.5, 0.0), (0.0, -2.5, 0.0))
    image = render(scene, camera, 32, (ShadingMode.AMBIENT,), SHADING, supersample=2)[ShadingMode.AMBIENT][0, 0]
    row = image[16]  # through the middle: background, a blended edge, black, ...
    black, background = COLORS["black"][0], SHADING.background[0]
    assert row.min() == pytest.approx(black) and row.max() == pytest.approx(background)
    blended = (row > black + 0.05) & (row < background - 0.05)
    assert 1 <= blended.sum() <= 4  # one partly covered pixel at each edge, or two


def _centroid(image: torch.Tensor, color: tuple[float, float, float]) -> torch.Tensor:
    """(row, column) centroid of the pixels of an ambient render that have exactly this albedo."""
    match = (image - torch.tensor(color).view(3, 1, 1)).abs().amax(dim=0) < 1e-2
    assert match.sum() > 10
    rows, cols = torch.nonzero(match, as_tuple=True)
    return torch.stack([rows.float().mean(), cols.float().mean()])


@pytest.mark.parametrize(
    ("relation", "azimuth", "axis", "sign"),
    [
        ("on top of", 0.0, 0, -1),  # higher in the front view: smaller row
        ("under", 0.0, 0, 1),
        ("next to", 0.0, 1, -1),  # on the viewer's left in the front view
        ("in front of", 90.0, 1, -1),  # seen from +X, -Y is on the left
        ("behind", 90.0, 1, 1),
    ],
)
def test_renders_show_objects_where_the_words_put_them(relation, azimuth, axis, sign):
    scene = Scene.from_prompt(f"a red cube {relation} a blue sphere")
    camera = orbit_cameras(CameraConfig(), [azimuth], elevation_deg=0.0)
    image = render(scene, camera, 64, (ShadingMode.AMBIENT,), SHADING, supersample=1)[ShadingMode.AMBIENT][0]
    red, blue = _centroid(image, COLORS["red"]), _centroid(image, COLORS["blue"])
    assert sign * (red - blue)[axis] > 5  # pixels


@pytest.mark.parametrize("shape", ["snowman", "duck"])
def test_fronted_shapes_face_the_front_camera(shape):
    scene = Scene.from_prompt(f"a white {shape}")
    cameras = orbit_cameras(CameraConfig(), [0.0, 180.0], elevation_deg=10.0)
    images = render(scene, cameras, 64, (ShadingMode.AMBIENT,), SHADING, supersample=1)[ShadingMode.AMBIENT]
    orange = (images - torch.tensor(COLORS["orange"]).view(1, 3, 1, 1)).abs().amax(dim=1) < 1e-2
    front, back = orange.flatten(1).sum(dim=1).tolist()
    assert front >= 4 and back == 0


@pytest.mark.parametrize("tracer", ["analytic", "baked"])
def test_a_ball_shadows_what_lies_beneath_it(tracer: str) -> None:
    scene = Scene.from_prompt("a red sphere")  # radius 0.75 about the origin
    trace_rays = partial(trace, scene) if tracer == "analytic" else BakedScene.bake(scene, resolution=48).trace
    points = torch.tensor([[0.0, 0.0, -1.0], [1.5, 0.0, 0.0], [0.0, 0.0, -1.0]])
    normals = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
    light = torch.tensor([[0.0, 0.0, 5.0], [1.5, 0.0, 5.0], [0.0, 0.0, 5.0]])
    visibility = light_visibility(trace_rays, points, normals, light)
    # under the ball: dark; beside it: lit; facing away from the light: not traced (its diffuse term is 0)
    assert visibility.squeeze(-1).tolist() == [0.0, 1.0, 1.0]


def test_shadows_darken_the_inside_of_a_mug_and_nothing_else() -> None:
    scene = Scene.from_prompt("a pink mug")
    camera = _camera((0.0, -1.2, 2.6), (2.5, 1.0, 1.5))  # looking into the opening, lit from the far side
    plain, shadowed = (
        render(scene, camera, 64, (ShadingMode.TEXTURELESS,), ShadingConfig(shadows=shadows))[ShadingMode.TEXTURELESS]
        for shadows in (False, True)
    )
    darker = plain - shadowed
    assert darker.min() > -1e-6  # a shadow only takes light away
    assert (darker[0, 0] > 0.3).sum() > 50  # the inner wall toward the light is in the rim's shadow
    ambient_only = torch.full_like(shadowed, ShadingConfig().ambient)
    assert (shadowed - ambient_only).min() > -1e-3  # where shadowed, the ambient term remains
