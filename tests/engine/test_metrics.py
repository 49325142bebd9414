"""Result-vs-ground-truth metrics on meshes with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from engine import metrics
from engine.mesh.file_format import MeshData, write_npz
from engine.mesh.interchange import write_glb
from engine.procedural.ground_truth import scene_mesh
from engine.procedural.scene import Scene


def _box(centre: tuple[float, float, float], size: float, color=(0.5, 0.5, 0.5)) -> MeshData:
    box = trimesh.creation.box(extents=(size, size, size))
    box.apply_translation(centre)
    return MeshData(box.vertices, box.faces, np.tile([*color, 1.0], (len(box.vertices), 1)))


def _turned(mesh: MeshData, degrees: float, axis_xy: tuple[float, float]) -> MeshData:
    """Rotated about the vertical line through ``axis_xy`` (counter-clockwise seen from above)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    centre = np.array([*axis_xy, 0.0])
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return MeshData((mesh.vertices - centre) @ rotation.T + centre, mesh.faces, mesh.colors)


def _merged(a: MeshData, b: MeshData) -> MeshData:
    return MeshData(
        np.concatenate([a.vertices, b.vertices]),
        np.concatenate([a.faces, b.faces + len(a.vertices)]),
        np.concatenate([a.colors, b.colors]),
    )


@pytest.fixture(scope="module")
def snowman() -> tuple[Scene, MeshData]:
    scene = Scene.from_prompt("a snowman")
    return scene, scene_mesh(scene, 96)


def test_occupancy_of_a_box_counts_its_voxels():
    occupancy = metrics.occupancy(_box((0.0, 0.0, 0.0), 1.0), resolution=96)  # 48 voxels of 1/48 per side
    assert occupancy.sum() == 48**3


def test_iou_of_overlapping_boxes_is_the_analytic_value():
    a, b = _box((0.0, 0.0, 0.0), 1.0), _box((0.5, 0.0, 0.0), 1.0)
    assert metrics.volumetric_iou(a, b) == pytest.approx(1 / 3, abs=1e-3)
    assert metrics.volumetric_iou(a, _box((0.0, 0.0, 0.0), 0.5)) == pytest.approx(1 / 8, abs=1e-3)


def test_iou_of_a_sphere_mesh_matches_its_volume():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.625)
    mesh = MeshData(sphere.vertices, sphere.faces, np.ones((len(sphere.vertices), 4)))
    box = _box((0.0, 0.0, 0.0), 1.25)  # the sphere's bounding cube, 80 voxels a side
    assert metrics.volumetric_iou(mesh, box, resolution=128) == pytest.approx(math.pi / 6, abs=0.01)


def test_open_mesh_does_not_fill_space():
    box = _box((0.0, 0.0, 0.0), 1.0)
    open_box = MeshData(box.vertices, box.faces[2:], box.colors)  # one face of the cube missing
    assert metrics.occupancy(open_box).sum() < 48**3 * 1.01


def test_chamfer_of_a_shifted_mesh_is_about_the_shift():
    a = _box((0.0, 0.0, 0.0), 1.0)
    rng = np.random.default_rng(0)
    points_a = metrics.sample_surface(a, 20_000, rng)[0]
    same = metrics.chamfer_distance(points_a, metrics.sample_surface(a, 20_000, rng)[0])
    shifted = metrics.chamfer_distance(points_a, metrics.sample_surface(_box((0.0, 0.0, 0.1), 1.0), 20_000, rng)[0])
    assert same < 0.01
    assert 0.03 < shifted < 0.1  # the faces normal to the shift move by 0.1, the others slide in-plane


def test_normal_consistency_is_one_for_a_box_and_drops_for_a_crumpled_one():
    """Sampled box against box: faces agree exactly (1 but for samples near edges). The same box with every
    vertex pushed along a random direction keeps its place but not its normals."""
    rng = np.random.default_rng(0)
    box = _box((0.0, 0.0, 0.0), 1.0)
    points, _, normals = metrics.sample_surface(box, 20_000, rng)
    truth_points, _, truth_normals = metrics.sample_surface(box, 20_000, rng)
    assert metrics.normal_consistency(points, normals, truth_points, truth_normals) > 0.98  # 1.6 % near edges
    fine = trimesh.creation.box(extents=(1.0, 1.0, 1.0)).subdivide().subdivide().subdivide()
    crumpled = np.asarray(fine.vertices) + rng.normal(0.0, 0.05, fine.vertices.shape)
    rough = MeshData(
        crumpled.astype(np.float32), np.asarray(fine.faces, np.int32), np.ones((len(crumpled), 4), np.float32)
    )
    points, _, normals = metrics.sample_surface(rough, 20_000, rng)
    consistency = metrics.normal_consistency(points, normals, truth_points, truth_normals)
    assert 0.3 < consistency < 0.9
    assert metrics.normal_consistency(points[:0], normals[:0], truth_points, truth_normals) == 0.0


def test_ground_truth_compared_with_itself_is_perfect_and_faces_front(snowman):
    scene, truth = snowman
    result = metrics.compare(truth, scene, truth=truth)
    assert result.iou == 1.0
    assert result.chamfer < 0.01
    assert result.normal_consistency > 0.97
    assert result.albedo_error < 0.01
    (front,) = result.fronts
    assert front.shape == "snowman" and front.ok and front.fronts == ["-Y"]
    assert front.marker_albedo_error < 0.01


def test_albedo_error_is_the_color_difference(snowman):
    scene, truth = snowman
    tinted = MeshData(truth.vertices, truth.faces, np.clip(truth.colors + np.array([0.1, 0.0, 0.0, 0.0]), 0, 1))
    error = metrics.compare(tinted, scene, truth=truth).albedo_error
    assert error == pytest.approx(0.1 / 3, abs=0.01)


@pytest.mark.parametrize(("degrees", "front"), [(90, "+X"), (180, "+Y"), (270, "-X")])
def test_turned_result_reports_where_its_front_faces(snowman, degrees, front):
    scene, truth = snowman
    (obj,) = scene.objects
    turned = _turned(truth, degrees, obj.offset[:2])
    (check,) = metrics.compare(turned, scene, truth=truth).fronts
    assert check.fronts == [front] and not check.ok


def test_janus_result_with_two_faces_fails_the_front_check(snowman):
    scene, truth = snowman
    (obj,) = scene.objects
    janus = _merged(truth, _turned(truth, 180, obj.offset[:2]))
    (check,) = metrics.compare(janus, scene, truth=truth).fronts
    assert check.fronts == ["-Y", "+Y"] and not check.ok


@pytest.mark.parametrize("prompt", ["a duck", "a mug", "a chair"])
@pytest.mark.slow
def test_every_fronted_shape_has_one_front_in_its_ground_truth(prompt):
    scene = Scene.from_prompt(prompt)
    truth = scene_mesh(scene, 96)
    (check,) = metrics.compare(truth, scene, truth=truth, samples=5_000).fronts
    assert check.ok, check


@pytest.mark.slow
def test_markers_on_another_object_are_not_tested():
    scene = Scene.from_prompt("a duck next to a snowman")
    truth = scene_mesh(scene, 96)
    duck, snowman = metrics.compare(truth, scene, truth=truth, samples=5_000).fronts
    assert duck.ok and snowman.ok
    assert duck.untested == ["+X"]  # the duck's +X turn lands inside the snowman


def test_meshes_load_from_glb_and_npz(snowman, tmp_path):
    _, truth = snowman
    write_glb(tmp_path / "a.glb", truth)
    write_npz(tmp_path / "a.npz", truth)
    for name in ("a.glb", "a.npz"):
        loaded = metrics.load_mesh(tmp_path / name)
        assert np.allclose(loaded.vertices, truth.vertices, atol=1e-6)
        assert metrics.volumetric_iou(loaded, truth) == 1.0


def _ridged_sheet(teeth: int, ridged_width: float, slope_deg: float) -> MeshData:
    """The unit square z = 0 (x, y in [0, 1]) with ``teeth`` triangular ridges of slope ``slope_deg`` across
    x in [0, ridged_width] and flat beyond: an open heightfield, faces facing +z."""
    half = ridged_width / teeth / 2
    xs = np.concatenate([np.linspace(0.0, ridged_width, 2 * teeth + 1), [1.0]])
    zs = np.concatenate([np.tile([0.0, half * math.tan(math.radians(slope_deg))], teeth), [0.0, 0.0]])
    vertices = np.array([(x, y, z) for y in (0.0, 1.0) for x, z in zip(xs, zs, strict=True)])
    n = len(xs)
    faces = [f for i in range(n - 1) for f in ((i, i + 1, n + i + 1), (i, n + i + 1, n + i))]
    return MeshData(vertices, np.array(faces, np.int32), np.ones((len(vertices), 4)))


def _accuracy(result: MeshData, truth: MeshData, samples: int = 40_000) -> metrics.SurfaceAccuracy:
    rng = np.random.default_rng(0)
    points, _, normals = metrics.sample_surface(result, samples, rng)
    truth_points = metrics.sample_surface(truth, samples, rng)[0]
    return metrics.surface_accuracy(result, truth, points, normals, truth_points)


def test_closest_faces_gives_exact_distances_to_a_box():
    """Points around a unit box: the distance to a box is the length of how far each coordinate lies outside it
    (or, inside, the distance to the nearest face)."""
    box = _box((0.0, 0.0, 0.0), 1.0)
    points = np.random.default_rng(1).uniform(-0.8, 0.8, (2_000, 3))
    distance, faces = metrics.closest_faces(box, points)
    outside = np.linalg.norm(np.clip(np.abs(points) - 0.5, 0.0, None), axis=1)
    inside = (0.5 - np.abs(points)).min(axis=1)
    expected = np.where((np.abs(points) <= 0.5).all(axis=1), inside, outside)
    assert np.allclose(distance, expected, atol=1e-9)
    assert faces.min() >= 0 and faces.max() < len(box.faces)


@pytest.mark.slow
def test_a_perfect_mesh_has_every_normal_right_and_f_score_one(snowman):
    box = _box((0.0, 0.0, 0.0), 1.0)
    accuracy = _accuracy(box, box)
    assert all(share == 1.0 for share in accuracy.within_deg.values())
    assert accuracy.median_angle_deg < 1e-6
    assert [f.fscore for f in accuracy.fscores] == [1.0, 1.0]
    scene, truth = snowman  # a curved marching-cubes mesh, through compare
    surface = metrics.compare(truth, scene, truth=truth).surface
    # trimesh's point-triangle distance is off by up to 1e-4 on marching-cubes slivers (area ~1e-7): 0.03 % of samples
    assert surface.within_deg[2.0] > 0.999 and surface.median_angle_deg < 1e-3
    assert [f.fscore for f in surface.fscores] == [1.0, 1.0]


@pytest.mark.slow
def test_ridges_of_known_height_and_slope_score_the_hand_computed_shares():
    """Against the flat square, 4 ridges of slope a = 8 deg over 0.4 of its width, height h = 0.05 tan a = 7.0 mm:
    ridge faces are 8 deg off, so within 5 deg is the flat area's share 0.6 / (0.6 + 0.4 / cos a); within 10 deg is
    all of it. A ridge point at height z is z from the square (z is uniform on a ramp): precision at tau is
    (0.6 + 0.4 / cos a * min(1, tau / h)) / (0.6 + 0.4 / cos a). A square point under a ramp at height z is z cos a
    from the ramp: recall is 0.6 + 0.4 * min(1, tau / (h cos a)). The square's largest side is 1, so tau is 5 and
    10 mm."""
    slope = math.radians(8.0)
    height = 0.05 * math.tan(slope)
    ridged = 0.4 / math.cos(slope)
    accuracy = _accuracy(_ridged_sheet(4, 0.4, 8.0), _ridged_sheet(1, 0.0, 0.0))
    assert accuracy.within_deg[2.0] == pytest.approx(0.6 / (0.6 + ridged), abs=0.01)
    assert accuracy.within_deg[5.0] == pytest.approx(0.6 / (0.6 + ridged), abs=0.01)
    assert accuracy.within_deg[10.0] == 1.0
    assert accuracy.median_angle_deg < 1e-6  # the flat area is more than half
    for score, tau in zip(accuracy.fscores, (0.005, 0.01), strict=True):
        precision = (0.6 + ridged * min(1.0, tau / height)) / (0.6 + ridged)
        recall = 0.6 + 0.4 * min(1.0, tau / (height * math.cos(slope)))
        assert score.tau == tau
        assert score.precision == pytest.approx(precision, abs=0.01)
        assert score.recall == pytest.approx(recall, abs=0.01)
        assert score.fscore == pytest.approx(2 * precision * recall / (precision + recall), abs=0.01)
    steep = _accuracy(_ridged_sheet(4, 1.0, 30.0), _ridged_sheet(1, 0.0, 0.0))  # ridged all over: every face 30 deg
    assert steep.median_angle_deg == pytest.approx(30.0, abs=1e-6)
    assert steep.within_deg[10.0] == 0.0
