"""A result mesh against the procedural prior's ground truth: IoU, Chamfer, normal consistency, surface accuracy
(normal angles and F-score), albedo error, front check.

Meshes are on Blender axes (the engine's result files and ``prior-mesh`` output). Inside tests
need no spatial index: occupancy grids come from vertical rays cast through every column and
counting signed crossings (a winding number along the ray), and single points use the
generalised winding number, so open or slightly broken result meshes still give sane answers.

Surface accuracy sees what IoU cannot (a lumpy face of the right size): the angle between each result
sample's face normal and the true normal at the nearest true point, over area-uniform samples (so shares
and the median are area-weighted), and the F-score of Tatarchenko et al. 2019 at distances given as a
fraction of the truth's largest side. Both use exact point-to-triangle distances (a point-to-sample
distance would put a perfect mesh half a sample spacing off, more than the tightest tau).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from .mesh.file_format import MeshData, read_npz
from .mesh.interchange import read_glb
from .procedural.ground_truth import scene_mesh
from .procedural.scene import FRONT_DIRECTIONS, Scene

_COLUMN_JITTER = (1.234567e-5, 2.345678e-5)  # keeps columns off mesh edges and vertices
NORMAL_ANGLES_DEG = (2.0, 5.0, 10.0)  # shares of the result's area within these angles of the true normal
FSCORE_TAUS = (0.005, 0.01)  # F-score distances, as fractions of the truth's largest side
_CANDIDATE_FACES = 24  # faces of the nearest anchors, searched exactly for each closest point
# barycentric anchors of every face: corners, edge midpoints, centroid
_FACE_ANCHORS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [1 / 3] * 3])
_AREA_ANCHORS_PER_FACE = 2  # on average, placed by area: large faces get many


@dataclass
class FrontCheck:
    """Where a fronted object's marker was found, as the directions its front would then face."""

    shape: str
    fronts: list[str]  # of FRONT_DIRECTIONS
    untested: list[str]  # turns that fall on another object of the scene, so cannot tell
    marker_albedo_error: float | None  # mean |RGB| error near the true marker; None if nothing is there

    @property
    def ok(self) -> bool:
        """One front, facing -Y."""
        return self.fronts == ["-Y"]


@dataclass
class FScore:
    """Tatarchenko et al. 2019 at one distance: precision (result near truth), recall (truth near result)."""

    tau: float  # as a fraction of the truth's largest side
    precision: float
    recall: float

    @property
    def fscore(self) -> float:
        total = self.precision + self.recall
        return 2.0 * self.precision * self.recall / total if total > 0 else 0.0


@dataclass
class SurfaceAccuracy:
    """How flat faces come out flat and in place: area-weighted normal angles against the truth, and F-scores."""

    within_deg: dict[float, float]  # angle (NORMAL_ANGLES_DEG) -> share of the result's area within it of the truth
    median_angle_deg: float  # area-weighted
    fscores: list[FScore]  # one per FSCORE_TAUS


@dataclass
class MeshComparison:
    iou: float
    chamfer: float  # mean of the two directed mean surface distances, metres
    normal_consistency: float  # mean |n_result . n_true| at nearest surface points, both ways: 1 = smooth and right
    albedo_error: float  # mean |RGB| between result surface colors and the nearest true ones
    fronts: list[FrontCheck]
    surface: SurfaceAccuracy


def load_mesh(path: Path) -> MeshData:
    """A ``.glb`` or Blender-ready ``.npz`` mesh."""
    path = Path(path)
    return read_glb(path) if path.suffix.lower() == ".glb" else read_npz(path)


def compare(
    result: MeshData,
    scene: Scene,
    truth: MeshData | None = None,
    resolution: int = 96,
    samples: int = 20_000,
    seed: int = 0,
) -> MeshComparison:
    """All metrics of ``result`` against ``scene`` (its mesh is built when ``truth`` is not given)."""
    truth = truth if truth is not None else scene_mesh(scene)
    rng = np.random.default_rng(seed)
    result_points, result_colors, result_normals = sample_surface(result, samples, rng)
    truth_points, truth_colors, truth_normals = sample_surface(truth, samples, rng)
    return MeshComparison(
        iou=volumetric_iou(result, truth, resolution),
        chamfer=chamfer_distance(result_points, truth_points),
        normal_consistency=normal_consistency(result_points, result_normals, truth_points, truth_normals),
        albedo_error=albedo_error(result_points, result_colors, truth_points, truth_colors),
        fronts=front_checks(result, scene, result_points, result_colors),
        surface=surface_accuracy(result, truth, result_points, result_normals, truth_points),
    )


def occupancy(mesh: MeshData, resolution: int = 96, bound: float = 1.0) -> np.ndarray:
    """(R, R, R) bool grid of voxel centres inside the mesh, over [-bound, bound]^3, indexed [x, y, z]."""
    cell = 2.0 * bound / resolution
    centres = -bound + (np.arange(resolution) + 0.5) * cell
    grid = np.zeros((resolution, resolution, resolution + 1), dtype=np.int32)
    if len(mesh.faces) == 0:
        return grid[..., :-1] > 0
    v = mesh.vertices.astype(np.float64)
    a, b, c = (v[mesh.faces[:, k]] for k in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    keep = np.abs(area) > 1e-14
    a, b, c, area = a[keep], b[keep], c[keep], area[keep]
    origin = np.array([centres[0] + _COLUMN_JITTER[0], centres[0] + _COLUMN_JITTER[1]])
    lo = np.minimum(np.minimum(a, b), c)[:, :2]
    hi = np.maximum(np.maximum(a, b), c)[:, :2]
    first = np.clip(np.ceil((lo - origin) / cell), 0, resolution).astype(np.int64)
    last = np.clip(np.floor((hi - origin) / cell), -1, resolution - 1).astype(np.int64)
    span = np.clip(last - first + 1, 0, None)
    counts = span[:, 0] * span[:, 1]
    tri = np.repeat(np.arange(len(counts)), counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ix = first[tri, 0] + local % span[tri, 0]
    iy = first[tri, 1] + local // span[tri, 0]
    px, py = origin[0] + ix * cell, origin[1] + iy * cell
    ta, tb, tc, tarea = a[tri], b[tri], c[tri], area[tri]

    def edge(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Twice the signed area of (p, q, column point)."""
        return (q[:, 0] - p[:, 0]) * (py - p[:, 1]) - (q[:, 1] - p[:, 1]) * (px - p[:, 0])

    wa, wb, wc = edge(tb, tc) / tarea, edge(tc, ta) / tarea, edge(ta, tb) / tarea
    hit = (wa >= 0) & (wb >= 0) & (wc >= 0)
    z = wa * ta[:, 2] + wb * tb[:, 2] + wc * tc[:, 2]
    # Upward rays enter through faces whose outward normal points down (negative projected area).
    step = np.where(tarea < 0, 1, -1)
    above = np.searchsorted(centres, z[hit], side="right")  # first voxel whose centre is above the crossing
    np.add.at(grid, (ix[hit], iy[hit], above), step[hit])
    return np.cumsum(grid, axis=2)[..., :-1] > 0


def volumetric_iou(a: MeshData, b: MeshData, resolution: int = 96, bound: float = 1.0) -> float:
    occ_a, occ_b = occupancy(a, resolution, bound), occupancy(b, resolution, bound)
    union = np.logical_or(occ_a, occ_b).sum()
    return float(np.logical_and(occ_a, occ_b).sum() / union) if union else 0.0


def face_geometry(mesh: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """Each face's unit normal (zero for a degenerate one) and its area: (F, 3), (F,)."""
    v = mesh.vertices.astype(np.float64)
    cross = np.cross(v[mesh.faces[:, 1]] - v[mesh.faces[:, 0]], v[mesh.faces[:, 2]] - v[mesh.faces[:, 0]])
    length = np.linalg.norm(cross, axis=1)
    return cross / np.maximum(length, 1e-30)[:, None], 0.5 * length


def sample_surface(mesh: MeshData, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` points uniform by area on the surface, with their interpolated RGB albedo and their face's unit
    normal."""
    v = mesh.vertices.astype(np.float64)
    face_normal, areas = face_geometry(mesh)
    if len(areas) == 0 or areas.sum() <= 0:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3))
    faces = rng.choice(len(areas), size=count, p=areas / areas.sum())
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    w = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    corners = mesh.faces[faces]
    points = sum(w[:, k : k + 1] * v[corners[:, k]] for k in range(3))
    colors = sum(w[:, k : k + 1] * mesh.colors[corners[:, k], :3] for k in range(3))
    return points, colors, face_normal[faces]


def chamfer_distance(points_a: np.ndarray, points_b: np.ndarray) -> float:
    """Symmetric mean nearest-neighbour distance between two surface samples; inf if one is empty."""
    if len(points_a) == 0 or len(points_b) == 0:
        return float("inf")
    to_b = cKDTree(points_b).query(points_a)[0].mean()
    to_a = cKDTree(points_a).query(points_b)[0].mean()
    return float((to_a + to_b) / 2)


def normal_consistency(
    points: np.ndarray, normals: np.ndarray, truth_points: np.ndarray, truth_normals: np.ndarray
) -> float:
    """Mean |n . n'| between each sample's normal and the nearest sample's on the other surface, averaged over
    both directions (the sign is left out: a thin wall's two sides are both right); 0 if one is empty."""
    if len(points) == 0 or len(truth_points) == 0:
        return 0.0
    to_truth = np.abs((normals * truth_normals[cKDTree(truth_points).query(points)[1]]).sum(axis=1)).mean()
    to_result = np.abs((truth_normals * normals[cKDTree(points).query(truth_points)[1]]).sum(axis=1)).mean()
    return float((to_truth + to_result) / 2)


def closest_faces(mesh: MeshData, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distance from each point to ``mesh`` and the face it is nearest to: (N,), (N,) int.

    Exact point-to-triangle distances (trimesh) over candidate faces: the owners of the _CANDIDATE_FACES anchors
    nearest the point (a cKDTree; trimesh's own search needs rtree). Every face anchors its corners, edge midpoints
    and centroid, and large faces also area samples, so a point is near an anchor of the face it lies nearest to.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(mesh.faces) == 0:
        return np.full(len(points), np.inf), np.zeros(len(points), dtype=np.int64)
    triangles = mesh.vertices.astype(np.float64)[mesh.faces]
    areas = face_geometry(mesh)[1]
    rng = np.random.default_rng(0)
    sampled = rng.choice(len(areas), size=_AREA_ANCHORS_PER_FACE * len(areas), p=areas / max(areas.sum(), 1e-30))
    owners = np.concatenate([np.repeat(np.arange(len(areas)), len(_FACE_ANCHORS)), sampled])
    anchors = np.concatenate(
        [
            np.einsum("ak,fkd->fad", _FACE_ANCHORS, triangles).reshape(-1, 3),
            np.einsum("nk,nkd->nd", rng.dirichlet(np.ones(3), size=len(sampled)), triangles[sampled]),
        ]
    )
    k = min(_CANDIDATE_FACES, len(anchors))
    candidates = owners[cKDTree(anchors).query(points, k=k)[1].reshape(len(points), k)]
    repeated = np.repeat(points, k, axis=0)
    nearest = trimesh.triangles.closest_point(triangles[candidates.ravel()], repeated)
    distances = np.linalg.norm(nearest - repeated, axis=1).reshape(len(points), k)
    best = distances.argmin(axis=1)
    rows = np.arange(len(points))
    return distances[rows, best], candidates[rows, best]


def surface_accuracy(
    result: MeshData,
    truth: MeshData,
    result_points: np.ndarray,
    result_normals: np.ndarray,
    truth_points: np.ndarray,
) -> SurfaceAccuracy:
    """Normal angles and F-scores of ``result`` against ``truth`` from area-uniform samples of both
    (``sample_surface``): shares of samples are shares of area. The angle is signed: a face turned inside out is
    180 degrees off."""
    if len(result_points) == 0 or len(truth_points) == 0:
        return SurfaceAccuracy(
            {angle: 0.0 for angle in NORMAL_ANGLES_DEG}, 180.0, [FScore(t, 0.0, 0.0) for t in FSCORE_TAUS]
        )
    to_truth, faces = closest_faces(truth, result_points)
    cosine = (result_normals * face_geometry(truth)[0][faces]).sum(axis=1)
    angles = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    to_result, _ = closest_faces(result, truth_points)
    size = float(np.ptp(truth.vertices, axis=0).max())
    return SurfaceAccuracy(
        within_deg={angle: float((angles <= angle).mean()) for angle in NORMAL_ANGLES_DEG},
        median_angle_deg=float(np.median(angles)),
        fscores=[
            FScore(tau, float((to_truth <= tau * size).mean()), float((to_result <= tau * size).mean()))
            for tau in FSCORE_TAUS
        ],
    )


def albedo_error(points: np.ndarray, colors: np.ndarray, truth_points: np.ndarray, truth_colors: np.ndarray) -> float:
    """Mean |RGB| difference between each result sample's color and the nearest true surface color."""
    if len(points) == 0 or len(truth_points) == 0:
        return float("inf")
    nearest = cKDTree(truth_points).query(points)[1]
    return float(np.abs(colors - truth_colors[nearest]).mean())


def winding_numbers(mesh: MeshData, points: np.ndarray) -> np.ndarray:
    """Generalised winding number (Jacobson et al. 2013) of each point: ~1 inside, ~0 outside."""
    v = mesh.vertices.astype(np.float64)
    out = np.zeros(len(points))
    for index, point in enumerate(np.asarray(points, dtype=np.float64)):
        a, b, c = (v[mesh.faces[:, k]] - point for k in range(3))
        la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
        det = np.einsum("ij,ij->i", a, np.cross(b, c))
        dots = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la
        dots += np.einsum("ij,ij->i", c, a) * lb
        out[index] = 2.0 * np.arctan2(det, dots).sum() / (4.0 * np.pi)
    return out


def front_checks(
    result: MeshData,
    scene: Scene,
    points: np.ndarray,
    colors: np.ndarray,
    tolerance: float = 0.03,
) -> list[FrontCheck]:
    """For each fronted object: the turns of its marker that the result fills (inside, or within
    ``tolerance`` of its surface), and the result's color error near the true marker."""
    checks = []
    tree = cKDTree(points) if len(points) else None
    for obj in scene.objects:
        if not obj.front_markers:
            continue
        markers = np.array(obj.front_markers)
        with torch.no_grad():
            turns = torch.tensor(markers, dtype=torch.float32)
            others = [Scene.object_distance(other, turns).numpy() for other in scene.objects if other is not obj]
        blocked = np.min(others, axis=0) < 2 * tolerance if others else np.zeros(len(markers), bool)
        inside = winding_numbers(result, markers) > 0.5 if len(result.faces) else np.zeros(len(markers), bool)
        near = tree.query(markers)[0] <= tolerance if tree is not None else np.zeros(len(markers), bool)
        present = (inside | near) & ~blocked
        color_error = None
        close = tree.query_ball_point(markers[0], r=2 * tolerance) if tree is not None else []
        if close:
            with torch.no_grad():
                true = scene.albedo(turns[:1]).numpy()[0]
            color_error = float(np.abs(colors[close] - true).mean())
        checks.append(
            FrontCheck(
                obj.shape.name,
                fronts=[d for d, found in zip(FRONT_DIRECTIONS, present, strict=True) if found],
                untested=[d for d, out in zip(FRONT_DIRECTIONS, blocked, strict=True) if out],
                marker_albedo_error=color_error,
            )
        )
    return checks
