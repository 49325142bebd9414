"""The procedural prior's language: prompts, vocabulary, shapes and where compositions put objects."""

from __future__ import annotations

import pytest
import torch

from engine.errors import PriorError
from engine.procedural.prompt import ObjectSpec, parse_prompt
from engine.procedural.scene import SCENE_RADIUS, Scene
from engine.procedural.shapes import SHAPES
from engine.procedural.vocabulary import COLORS, as_json


def test_vocabulary_is_large_enough_for_the_issue():
    vocabulary = as_json()
    assert len(vocabulary["shapes"]) >= 8
    assert len(vocabulary["colors"]) >= 8
    assert len(vocabulary["fronted_shapes"]) >= 3
    assert {"on top of", "next to"} <= set(vocabulary["relations"])


def test_two_object_prompt_is_read_with_relation():
    spec = parse_prompt("A Red Cube on top of the blue SPHERE.")
    assert spec.objects == (ObjectSpec("cube", "red"), ObjectSpec("sphere", "blue"))
    assert spec.relation == "on top of"
    assert spec.text == "a red cube on top of a blue sphere"


def test_missing_color_takes_the_shape_default_and_articles_are_optional():
    spec = parse_prompt("snowman")
    assert spec.objects == (ObjectSpec("snowman", SHAPES["snowman"].default_color),)
    assert parse_prompt("an orange duck").text == "an orange duck"


def test_unknown_words_fail_naming_them_and_the_closest_known_words():
    with pytest.raises(PriorError) as info:
        parse_prompt("a red cub on top of a blu sphere")
    message = str(info.value)
    assert info.value.kind == "prompt"
    assert "'cub' (closest: cube" in message
    assert "'blu' (closest: blue" in message
    assert "'red'" not in message


@pytest.mark.parametrize(
    "prompt", ["a red blue cube", "a red", "a cube a sphere", "a cube on top of", "on top of a cube", ""]
)
def test_known_words_in_a_wrong_order_fail_with_the_grammar(prompt):
    with pytest.raises(PriorError, match=r"\[a\] \[color\] shape") as info:
        parse_prompt(prompt)
    assert info.value.kind == "prompt"


def _grid(half: float, n: int) -> torch.Tensor:
    axis = torch.linspace(-half, half, n)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


@pytest.mark.parametrize("name", list(SHAPES))
def test_declared_bounds_of_each_shape_hold_its_sdf(name):
    shape = SHAPES[name]
    scene = Scene(parse_prompt(name))
    (obj,) = scene.objects
    points = _grid(1.3, 97)  # spacing 0.027
    with torch.no_grad():
        inside = points[Scene.object_distance(obj, points * obj.scale + torch.tensor(obj.offset)) < 0]
    tolerance = 0.03
    assert torch.all(inside.min(dim=0).values >= torch.tensor(shape.bbox_min) - tolerance)
    assert torch.all(inside.max(dim=0).values <= torch.tensor(shape.bbox_max) + tolerance)
    # The boxes are tight: the shape reaches each face of its box.
    assert torch.all(inside.min(dim=0).values <= torch.tensor(shape.bbox_min) + tolerance)
    assert torch.all(inside.max(dim=0).values >= torch.tensor(shape.bbox_max) - tolerance)
    assert shape.radius - tolerance <= inside.norm(dim=-1).max() <= shape.radius


@pytest.mark.parametrize("prompt", ["a chair", "a duck next to a mug", "a cone on top of a torus"])
def test_scenes_fit_the_engine_object_radius(prompt):
    scene = Scene.from_prompt(prompt)
    assert scene.radius == pytest.approx(SCENE_RADIUS)
    points = _grid(1.0, 81)
    with torch.no_grad():
        inside = points[scene.distance(points) < 0]
    assert inside.norm(dim=-1).max() <= SCENE_RADIUS


def _centre(scene: Scene, index: int) -> torch.Tensor:
    """Centre of the bounding box of one object's solid, measured from its SDF."""
    points = _grid(1.0, 81)
    with torch.no_grad():
        inside = points[Scene.object_distance(scene.objects[index], points) < 0]
    return (inside.min(dim=0).values + inside.max(dim=0).values) / 2


@pytest.mark.parametrize(
    ("relation", "axis", "sign"),
    [("on top of", 2, 1), ("under", 2, -1), ("next to", 0, -1), ("in front of", 1, -1), ("behind", 1, 1)],
)
def test_compositions_place_the_first_object_where_the_relation_says(relation, axis, sign):
    scene = Scene.from_prompt(f"a red cube {relation} a blue sphere")
    cube, sphere = _centre(scene, 0), _centre(scene, 1)
    offset = cube - sphere
    assert sign * offset[axis] > 0.4  # well apart along the relation's axis
    others = [i for i in range(3) if i != axis]
    if axis == 2:
        assert offset[others].abs().max() < 0.03  # stacked on one vertical axis
    else:
        # Side by side: on the same floor, in the same row.
        assert offset[0 if axis == 1 else 1].abs() < 0.03
        floor = [Scene.object_distance(o, _grid(1.0, 81)) for o in scene.objects]
        bottoms = [_grid(1.0, 81)[d < 0][:, 2].min() for d in floor]
        assert abs(bottoms[0] - bottoms[1]) < 0.03


def test_stacked_objects_touch():
    scene = Scene.from_prompt("a red cube on top of a blue sphere")
    cube, sphere = scene.objects
    contact = torch.tensor([[0.0, 0.0, sphere.offset[2] + sphere.scale * SHAPES["sphere"].bbox_max[2]]])
    with torch.no_grad():
        assert Scene.object_distance(cube, contact).abs() < 1e-3
        assert Scene.object_distance(sphere, contact).abs() < 1e-3


def test_albedo_follows_the_words_and_fixed_part_colors():
    scene = Scene.from_prompt("a purple snowman")
    (obj,) = scene.objects
    belly = torch.tensor([obj.to_world((0.0, 0.0, -0.43))])  # centre of the bottom ball
    nose = torch.tensor([obj.to_world(SHAPES["snowman"].front_marker)])
    with torch.no_grad():
        assert torch.allclose(scene.albedo(belly), torch.tensor([COLORS["purple"]]))
        assert torch.allclose(scene.albedo(nose), torch.tensor([COLORS["orange"]]))
