"""Dataclass configs, one per stage of the method, with defaults from the DreamFusion paper.

Scene scale: the field lives in the box [-1, 1]^3 (engine units, Blender axes: Z up, the
object's front facing -Y); objects fit inside radius ~0.75. The paper's camera and light
distances (objects of radius ~0.5) are scaled by ``SCENE_SCALE`` to match.
Schedules are fractions of the run so they hold for every step count
("paper: 1k of 15k steps" becomes 1/15).
Standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, is_dataclass
from dataclasses import field as default
from typing import Any

SCENE_SCALE = 1.6  # our object radius / the paper's (0.75 / ~0.47)
BOUND = 1.0  # the field's half-extent


@dataclass
class CameraConfig:
    """Random training cameras and point lights (paper A.2, scaled by SCENE_SCALE)."""

    distance_range: tuple[float, float] = (1.25 * SCENE_SCALE, 1.75 * SCENE_SCALE)
    fovy_range_deg: tuple[float, float] = (40.0, 70.0)  # paper: focal = U(0.7, 1.35) * width
    elevation_range_deg: tuple[float, float] = (-10.0, 90.0)
    azimuth_range_deg: tuple[float, float] = (-180.0, 180.0)
    uniform_sphere_prob: float = 0.5  # else uniform in elevation angle
    position_jitter: float = 0.1 * SCENE_SCALE  # U(-j, j)^3
    lookat_std: float = 0.2 * SCENE_SCALE * 0.5  # paper N(0, 0.2 I); halved: small objects at 64 px
    up_std: float = 0.02
    light_distance_range: tuple[float, float] = (0.8 * SCENE_SCALE, 1.5 * SCENE_SCALE)
    light_position_std: float = 1.0 * SCENE_SCALE  # light ~ N(camera position, I)
    front_half_angle_deg: float = 45.0  # |azimuth| <= this: ", front view"
    overhead_elevation_deg: float = 60.0  # elevation > this: ", overhead view"
    # The fixed orbit camera used for previews and turntables.
    preview_distance: float = 1.5 * SCENE_SCALE
    preview_elevation_deg: float = 20.0
    preview_fovy_deg: float = 50.0


@dataclass
class ShadingConfig:
    """Paper A.2: ambient-only warm-up, then diffuse + ambient, textureless half the time."""

    ambient_warmup_fraction: float = 1.0 / 15.0  # paper: first 1k of 15k steps
    shaded_prob: float = 0.75
    textureless_prob: float = 0.5  # within shaded renders
    ambient: float = 0.1
    diffuse: float = 0.9
    background: tuple[float, float, float] = (0.8, 0.8, 0.8)  # previews, turntables, and "fixed" training
    # "auto": a random color every step where the prior can render any background (the camera-conditioned one),
    # else the fixed one; "random" | "fixed" force it. A random background can never be absorbed by the object,
    # and no object color loses its contrast against it (measured: a white cube IoU 0.91 random, 0.0 fixed gray).
    training_background: str = "auto"


@dataclass
class FieldConfig:
    """The NeRF: density tau and albedo rho. ``grid`` is the fast CPU backbone, ``mlp`` the paper's."""

    name: str = "sdf-grid"  # "sdf-grid" (default) | "grid" (density) | "mlp" (the paper's)
    grid_resolutions: tuple[int, ...] = (16, 32, 64)
    coarse_to_fine_fraction: float = 0.2  # levels unlock evenly over this fraction of the run
    mlp_hidden: int = 128  # paper: 5 ResNet blocks, 128 units, SiLU, LayerNorm, PE L=8
    mlp_blocks: int = 5
    mlp_octaves: int = 8
    blob: str = "magic3d"  # "magic3d" (threestudio) | "gaussian" (paper)
    blob_strength: float = 10.0  # magic3d: 10 * (1 - r / radius); gaussian paper lambda = 5
    blob_radius: float = 0.5 * SCENE_SCALE  # magic3d radius; gaussian sigma = 0.2 * SCENE_SCALE
    sdf_beta: float = 0.02  # sdf-grid: VolSDF's Laplace scale, metres (about 2/3 of a 64^3 voxel)
    sdf_init_radius: float = 0.5  # sdf-grid: the sphere it starts from, metres


@dataclass
class RenderConfig:
    """Volume rendering of the field."""

    resolution: int = 64
    samples_per_ray: int = 64
    jitter: bool = True  # stratified sampling while training
    shading: str = "per-sample"  # "per-sample" (the paper's) | "deferred" (one shade per ray)
    min_transmittance: float = 1e-4  # samples behind this much opacity are not evaluated (renderer.py)
    min_optical_depth: float = 1e-5  # nor samples with less density than this over their step


@dataclass
class GuidanceConfig:
    """Score Distillation Sampling with classifier-free guidance."""

    prior: str = "procedural"  # "procedural" | "procedural-text" | "stable-diffusion" | "deepfloyd-if"
    model: str | None = None  # folder or hub id; None: the prior's default
    guidance_scale: float | None = None  # None: the prior's default (paper: 100)
    t_range: tuple[float, float] = (0.02, 0.98)
    t_anneal: bool = False  # linearly lower t_max to t_anneal_end over the run
    t_anneal_end: float = 0.5
    weighting: str = "sds"  # "sds": w = 1 - alphabar (sigma_t^2) | "uniform"
    negative_prompt: str = ""
    view_dependent_prompts: bool = True
    half_precision: bool = True  # on GPU only
    offline: bool = True  # local_files_only for real models
    # The procedural prior (camera-conditioned): lights its data are rendered under at each query's camera.
    procedural_lights: int = 16
    # The text-only procedural prior: renders per prompt, and how a render's camera narrows them.
    procedural_views: int = 240
    procedural_view_selection: str = "suffix"  # "suffix": the view prompt's range | "kernel": near cameras
    procedural_view_width_deg: float = 20.0  # kernel: Gaussian width in the angle between cameras


@dataclass
class RegularizerConfig:
    """Opacity and orientation losses (paper A.2)."""

    orientation_weight: float = 1e-2
    orientation_weight_start: float = 1e-4
    orientation_anneal_fraction: float = 1.0 / 3.0  # paper: over 5k of 15k steps
    opacity_weight: float = 1e-3  # sqrt(acc^2 + 0.01)
    smoothness_weight: float = 0.0  # total variation of the grid's density (not in the paper)
    eikonal_weight: float = 1.0  # sdf-grid: (|grad s| - 1)^2 near the surface (measured: 1 beats 10 on "a red cube")


@dataclass
class OptimConfig:
    """Adam with warm-up and cosine decay (paper). The peak rates are the field's own
    (``Field.default_learning_rates``); ``lr`` and ``albedo_lr`` override its geometry and albedo groups."""

    steps: int = 1200
    lr: float | None = None
    albedo_lr: float | None = None
    lr_end_factor: float = 0.1
    warmup_fraction: float = 0.05
    adam_eps: float = 1e-15
    batch_size: int = 1


@dataclass
class MeshConfig:
    """Marching cubes and albedo bake (engine/mesh/)."""

    grid_resolution: int = 256  # density samples per axis over the field's box; albedo at half
    threshold: float | None = None  # None: the level whose surface matches the renders (engine/mesh/threshold.py)
    min_component_fraction: float = 0.02  # drop floaters smaller than this share of faces
    smooth_iterations: int = 2  # Taubin passes (volume-preserving)
    face_budget: int | None = 60_000  # above it the mesh is decimated (quadric error, engine/mesh/decimate.py)
    bake: str = "vertex"  # "vertex" | "uv"
    texture_size: int = 1024
    formats: tuple[str, ...] = ("npz", "glb")  # "obj" too on request; mesh.npz is always written


@dataclass
class RunConfig:
    """Everything one ``generate`` run needs; written to the run folder as config.json."""

    prompt: str = ""
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "mps"
    # Torch threads on CPU. Measured on 2 cores: 7.5 it/s with 1 thread; 0.6-4.1 it/s with 2 as soon as any
    # other process runs (spinning OpenMP threads collapse under contention).
    cpu_threads: int = 1
    preview_every: int = 50
    checkpoint_every: int = 200
    turntable_frames: int = 8
    camera: CameraConfig = default(default_factory=CameraConfig)
    shading: ShadingConfig = default(default_factory=ShadingConfig)
    field: FieldConfig = default(default_factory=FieldConfig)
    render: RenderConfig = default(default_factory=RenderConfig)
    guidance: GuidanceConfig = default(default_factory=GuidanceConfig)
    regularizers: RegularizerConfig = default(default_factory=RegularizerConfig)
    optim: OptimConfig = default(default_factory=OptimConfig)
    mesh: MeshConfig = default(default_factory=MeshConfig)


PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"optim.steps": 600, "mesh.grid_resolution": 128},
    "balanced": {"optim.steps": 1200, "mesh.grid_resolution": 256},
    "quality": {
        "optim.steps": 3000,
        "field.grid_resolutions": (16, 32, 64, 96),
        "mesh.grid_resolution": 256,
    },
}


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return asdict(config)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from ``to_dict`` output; unknown keys are errors."""
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if is_dataclass(default):
            kwargs[name] = from_dict(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def override(config: Any, dotted: dict[str, Any]) -> None:
    """Set ``{"optim.steps": 600}``-style overrides in place; unknown paths are errors."""
    for path, value in dotted.items():
        *parents, leaf = path.split(".")
        target = config
        for part in parents:
            target = getattr(target, part)
        if not hasattr(target, leaf):
            raise ValueError(f"unknown setting {path!r}")
        setattr(target, leaf, value)
