"""Dataclass configs, one per stage of the method, with defaults from the DreamFusion paper.

Scene scale: the field lives in the box [-1, 1]^3 (engine units, Blender axes: Z up, the
object's front facing -Y); objects fit inside radius ~0.75. The paper's camera and light
distances (objects of radius ~0.5) are scaled by ``SCENE_SCALE`` to match.
Schedules are fractions of the run so they hold for every step count
("paper: 1k of 15k steps" becomes 1/15).

Every field declares its type (the annotation) and the values it takes, on its own line:
``eikonal_weight: float = setting(0.0, low=0.0, high=10.0)`` (``engine/config_schema.py`` lists the
keywords: low, high, below, choices, length, ordered). Adding a field is that one line; ``--set``, the
flags, ``config.json`` on resume and ``check`` then refuse a bad value with a sentence naming the field
and its values, and tests/engine/test_config.py fails for a field declared without ``setting``.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import Field as DataclassField
from dataclasses import asdict, dataclass, fields, is_dataclass
from dataclasses import field as default
from functools import cache
from typing import Any, get_type_hints

from .config_schema import ALLOWED_KEY, Allowed, ConfigError, check_value, setting, shown
from .protocol import MAX_PROMPT_CHARS
from .registry import FIELDS, PRIORS

SCENE_SCALE = 1.6  # our object radius / the paper's (0.75 / ~0.47)
BOUND = 1.0  # the field's half-extent
DEVICES = ("auto", "cpu", "cuda", "mps")  # "auto": CUDA, then MPS, then the CPU (engine/device.py)
BAKES = ("vertex", "uv")  # albedo as vertex colors, or a UV atlas with a texture
MESH_FORMATS = ("npz", "glb", "obj")  # mesh.npz is always written


@dataclass
class CameraConfig:
    """Random training cameras and point lights (paper A.2, scaled by SCENE_SCALE)."""

    distance_range: tuple[float, float] = setting(
        (1.25 * SCENE_SCALE, 1.75 * SCENE_SCALE), low=0.1, high=100.0, ordered=True
    )
    # paper: focal = U(0.7, 1.35) * width
    fovy_range_deg: tuple[float, float] = setting((40.0, 70.0), low=1.0, high=179.0, ordered=True)
    elevation_range_deg: tuple[float, float] = setting((-10.0, 90.0), low=-90.0, high=90.0, ordered=True)
    azimuth_range_deg: tuple[float, float] = setting((-180.0, 180.0), low=-360.0, high=360.0, ordered=True)
    uniform_sphere_prob: float = setting(0.5, low=0.0, high=1.0)  # else uniform in elevation angle
    position_jitter: float = setting(0.1 * SCENE_SCALE, low=0.0, high=10.0)  # U(-j, j)^3
    # paper N(0, 0.2 I); halved: small objects at 64 px
    lookat_std: float = setting(0.2 * SCENE_SCALE * 0.5, low=0.0, high=10.0)
    up_std: float = setting(0.02, low=0.0, high=10.0)
    light_distance_range: tuple[float, float] = setting(
        (0.8 * SCENE_SCALE, 1.5 * SCENE_SCALE), low=0.01, high=100.0, ordered=True
    )
    light_position_std: float = setting(1.0 * SCENE_SCALE, low=0.0, high=100.0)  # light ~ N(camera position, I)
    front_half_angle_deg: float = setting(45.0, low=0.0, high=90.0)  # |azimuth| <= this: ", front view"
    overhead_elevation_deg: float = setting(60.0, low=-90.0, high=90.0)  # elevation > this: ", overhead view"
    # The fixed orbit camera used for previews and turntables.
    preview_distance: float = setting(1.5 * SCENE_SCALE, low=0.1, high=100.0)
    preview_elevation_deg: float = setting(20.0, low=-90.0, high=90.0)
    preview_fovy_deg: float = setting(50.0, low=1.0, high=179.0)


@dataclass
class ShadingConfig:
    """Paper A.2: ambient-only warm-up, then diffuse + ambient, textureless half the time."""

    ambient_warmup_fraction: float = setting(1.0 / 15.0, low=0.0, high=1.0)  # paper: first 1k of 15k steps
    shaded_prob: float = setting(0.75, low=0.0, high=1.0)
    textureless_prob: float = setting(0.5, low=0.0, high=1.0)  # within shaded renders
    ambient: float = setting(0.1, low=0.0, high=1.0)
    diffuse: float = setting(0.9, low=0.0, high=1.0)
    # The diffuse light blocked by the object itself (not in the paper). Off: on the oracle of the mug and the chair
    # (fast preset) it gave 0.447 and 0.795 against 0.444 and 0.806 (bench/REPORT.md, thin and hollow shapes).
    shadows: bool = setting(False)
    # previews, turntables, and "fixed" training
    background: tuple[float, float, float] = setting((0.8, 0.8, 0.8), low=0.0, high=1.0)
    # "auto": a random color every step where the prior can render any background (the camera-conditioned one),
    # else the fixed one; "random" | "fixed" force it. A random background can never be absorbed by the object,
    # and no object color loses its contrast against it (measured: a white cube IoU 0.91 random, 0.0 fixed gray).
    training_background: str = setting("auto", choices=("auto", "random", "fixed"))


@dataclass
class MLPConfig:
    """The paper's MLP field (``field.name = "mlp"``): 5 ResNet blocks of 128 units, SiLU, LayerNorm, PE L=8."""

    hidden: int = setting(128, low=1, high=4096)
    blocks: int = setting(5, low=0, high=64)
    octaves: int = setting(8, low=0, high=16)


@dataclass
class SDFGridConfig:
    """The signed-distance grid (``field.name = "sdf-grid"``)."""

    beta: float = setting(0.02, low=1e-4, high=1.0)  # VolSDF's Laplace scale, metres (2/3 of a 64^3 voxel)
    init_radius: float = setting(0.5, low=0.05, high=0.95)  # the start sphere, metres
    # beta at the run's end, reached geometrically from beta (None: constant; bench/results/surface-trials.md)
    beta_end: float | None = setting(None, low=1e-4, high=1.0)


@dataclass
class HashGridConfig:
    """The hash-grid field (``field.name = "hash_grid"``): instant-NGP's multiresolution hash encoding with small
    MLP heads, as threestudio's dreamfusion-sd geometry ("implicit-volume" with a "ProgressiveBandHashGrid").

    threestudio's encoding (16 levels from 16 to 4096 cells, 2^19 rows a level, 8 levels at the start) is sized for
    10k steps of 512 px-equivalent detail on a GPU; the defaults here are that encoding scaled to the CPU and to 64 px
    renders: 5 levels from 16 to 128 cells (16, 26, 45, 76, 128), 2^16 rows, so the three finest levels hash, and
    2 levels at the start. Offline its output is a signed distance (as the default sdf-grid's, and Neuralangelo's).
    Measured on the oracle, fast preset, seed 0 (bench/results/hash-grid/README.md): threestudio's density output
    (with 4 levels to 64 cells) stayed 0.006 and 0.023 IoU below the sdf-grid on the cube and the sphere (its
    underside, which no camera sees, left at the blob; its surface at a guessed threshold); the distance with 4
    levels to 64 cells left the cylinder 0.011 below, with 5 to 128 cells 0.005 (cube +0.004, sphere -0.008), but
    the duck 0.029 (its surface inside the truth), the chair 0.129 (a concave corner filled) and the mug 0.047
    below; no setting tried met the bound on all six (the README's trials). The learned priors' recipe sets
    threestudio's values (in the comments), its density output and its learning rate 0.01."""

    levels: int = setting(5, low=1, high=32)  # threestudio n_levels 16
    features_per_level: int = setting(2, low=1, high=8)  # threestudio n_features_per_level 2
    log2_table_size: int = setting(16, low=8, high=24)  # threestudio log2_hashmap_size 19 (rows per level)
    base_resolution: int = setting(16, low=2, high=4096)  # threestudio base_resolution 16 (cells across the box)
    finest_resolution: int = setting(128, low=2, high=1 << 16)  # threestudio 16 * 1.4473^15 = 4096
    # Progressive levels (threestudio ProgressiveBandHashGrid): start_level 8 of 16, one more every update_steps 500
    # from start_step 2000 of 10k steps; as fractions of the run. Locked levels read as zero features.
    start_levels: int = setting(2, low=1, high=32)  # threestudio start_level 8
    progressive_start: float = setting(0.2, low=0.0, high=1.0)  # 2000 / 10000
    progressive_every: float = setting(0.05, low=0.0, high=1.0)  # 500 / 10000; 0: every level from the start
    # "linear" (instant-NGP's default) | "smoothstep" (instant-NGP's option: continuous analytic normals)
    interpolation: str = setting("linear", choices=("linear", "smoothstep"))
    hidden: int = setting(64, low=1, high=1024)  # threestudio mlp_network_config n_neurons 64, ReLU
    hidden_layers: int = setting(1, low=1, high=8)  # threestudio n_hidden_layers 1 (each head)
    init_scale: float = setting(1e-4, low=0.0, high=1.0)  # tiny-cuda-nn's table init U(-1e-4, 1e-4)
    # "sdf" (a signed distance on a start sphere, VolSDF's density and the eikonal term, as Neuralangelo's hash-grid
    # SDF; measured above) | "density" (threestudio's implicit-volume: softplus on the blob)
    output: str = setting("sdf", choices=("density", "sdf"))
    beta: float = setting(0.02, low=1e-4, high=1.0)  # "sdf": VolSDF's Laplace scale, metres (the sdf-grid's)
    init_radius: float = setting(0.5, low=0.05, high=0.95)  # "sdf": the start sphere, metres (the sdf-grid's)


@dataclass
class FieldConfig:
    """The NeRF: density tau and albedo rho. ``grid`` is the fast CPU backbone, ``mlp`` the paper's, ``hash_grid``
    threestudio's. Settings one field alone uses live in its own section (``field.sdf_grid``, ``field.mlp``,
    ``field.hash_grid``); the grid levels (both dense grids) and the blob (the density fields) are shared."""

    # a name of engine/registry.py FIELDS, each with its one-line description there
    name: str = setting("sdf-grid", choices=FIELDS.keys())
    grid_resolutions: tuple[int, ...] = setting((16, 32, 64), low=2, high=256, length=(1, 8))
    # levels unlock evenly over this fraction of the run
    coarse_to_fine_fraction: float = setting(0.2, low=0.0, high=1.0)
    blob: str = setting("magic3d", choices=("magic3d", "gaussian"))  # "magic3d" (threestudio) | "gaussian" (paper)
    # magic3d: 10 * (1 - r / radius); gaussian paper lambda = 5
    blob_strength: float = setting(10.0, low=0.0, high=1000.0)
    # magic3d radius; gaussian sigma = 0.2 * SCENE_SCALE
    blob_radius: float = setting(0.5 * SCENE_SCALE, low=0.01, high=10.0)
    sdf_grid: SDFGridConfig = default(default_factory=SDFGridConfig)
    mlp: MLPConfig = default(default_factory=MLPConfig)
    hash_grid: HashGridConfig = default(default_factory=HashGridConfig)


@dataclass
class RenderConfig:
    """Volume rendering of the field."""

    resolution: int = setting(64, low=8, high=512)
    samples_per_ray: int = setting(64, low=1, high=1024)
    jitter: bool = setting(True)  # stratified sampling while training
    shading: str = setting("per-sample", choices=("per-sample", "deferred"))  # the paper's | one shade per ray
    # signed-distance fields: "directional" scales VolSDF's density by -d . grad s (NeuS, Wang et al. 2021), so a ray
    # grazing a surface gathers none of its density and the silhouette is the zero level's | "volsdf": as is
    sdf_density: str = setting("volsdf", choices=("volsdf", "directional"))
    # where the "directional" density's eikonal term also reads |grad s| (NeuS applies it at every sample): "rays": an
    # even stride of the step's ray samples | "sphere": as many points uniform in the field's bounding ball, drawn from
    # the run's generator, so it holds where no ray of the step passes (bench/results/surface-trials.md)
    eikonal_points: str = setting("rays", choices=("rays", "sphere"))
    min_transmittance: float = setting(1e-4, low=0.0, high=1.0)  # samples behind this much opacity are skipped
    min_optical_depth: float = setting(1e-5, low=0.0, high=1.0)  # and samples with less density over their step
    shadow_samples: int = setting(32, low=1, high=1024)  # along each shadow ray (shading.shadows)


@dataclass
class PerpNegConfig:
    """Perp-Neg for the learned priors (engine/guidance/perp_neg.py); weights from stable-dreamfusion/threestudio."""

    enabled: bool = setting(False)
    weight: float = setting(-2.0, low=-100.0, high=0.0)
    front_decay: float = setting(2.0, low=0.0, high=100.0)
    side_decay: float = setting(10.0, low=0.0, high=100.0)


@dataclass
class ProceduralConfig:
    """The camera-conditioned procedural prior: the lights its data are rendered under at each query's camera."""

    lights: int = setting(16, low=1, high=256)
    # ... and the render's own light among them (what many lights give near the render's; see procedural_camera.py)
    render_light: bool = setting(True)


@dataclass
class ProceduralTextConfig:
    """The text-only procedural prior: renders per prompt, and how a render's camera narrows them."""

    views: int = setting(240, low=8, high=2000)
    # "suffix": the view prompt's range | "kernel": near cameras
    view_selection: str = setting("suffix", choices=("suffix", "kernel"))
    # kernel: Gaussian width in the angle between cameras
    view_width_deg: float = setting(20.0, low=0.1, high=180.0)


@dataclass
class GuidanceConfig:
    """Score Distillation Sampling with classifier-free guidance.

    The guidance scale s is diffusers' and stable-dreamfusion's: eps = eps_uncond + s (eps_cond - eps_uncond), so
    s = 1 is no guidance. The paper and threestudio write eps_cond + w (eps_cond - eps_uncond): their w = 100 is
    s = 101. Settings one prior alone uses live in its own section (``guidance.procedural``, ...).
    """

    # a name of engine/registry.py PRIORS, each with its label, description and default guidance scale there
    prior: str = setting("procedural", choices=PRIORS.keys())
    model: str | None = setting(None, length=(1, 4096))  # folder or hub id; None: the prior's default
    guidance_scale: float | None = setting(None, low=0.0, high=1000.0)  # None: the prior's default
    # None: the prior's default (the paper's 0.02-0.98 for the learned priors, 0.02-0.4 for the camera-conditioned one)
    t_range: tuple[float, float] | None = setting(None, low=0.0, high=1.0, ordered=True)
    t_anneal: bool = setting(False)  # linearly lower t_max to t_anneal_end over the run
    t_anneal_end: float = setting(0.5, low=0.0, high=1.0)
    weighting: str = setting("sds", choices=("sds", "uniform"))  # "sds": w = 1 - alphabar (sigma_t^2) | "uniform"
    negative_prompt: str = setting("", length=(0, MAX_PROMPT_CHARS))
    view_dependent_prompts: bool = setting(True)
    half_precision: bool = setting(True)  # on GPU only
    # Learned priors in less GPU memory, same guidance (engine/guidance/learned_prior.py): the text encoder runs and
    # is freed before the UNet moves to the device, attention is memory-efficient, the VAE encodes one image at a time.
    low_memory: bool = setting(False)
    offline: bool = setting(True)  # local_files_only for real models
    perp_neg: PerpNegConfig = default(default_factory=PerpNegConfig)
    procedural: ProceduralConfig = default(default_factory=ProceduralConfig)
    procedural_text: ProceduralTextConfig = default(default_factory=ProceduralTextConfig)


@dataclass
class RegularizerConfig:
    """Opacity and orientation losses (paper A.2)."""

    orientation_weight: float = setting(1e-2, low=0.0, high=1000.0)
    orientation_weight_start: float = setting(1e-4, low=1e-12, high=1000.0)
    orientation_anneal_fraction: float = setting(1.0 / 3.0, low=0.0, high=1.0)  # paper: over 5k of 15k steps
    orientation_ramp: str = setting("log", choices=("log", "linear"))  # the start-to-full weight's interpolation
    opacity_weight: float = setting(1e-3, low=0.0, high=1000.0)  # sqrt(acc^2 + 0.01)
    # total variation of the grid's density (not in the paper)
    smoothness_weight: float = setting(0.0, low=0.0, high=1e4)
    # sdf-grid: (|grad s| - 1)^2 near the surface (measured: 1 beats 10 on "a red cube")
    eikonal_weight: float = setting(1.0, low=0.0, high=1000.0)
    # sdf-grid: mean |Laplacian s| near the surface (Neuralangelo), against lumps too small for the renders to see
    curvature_weight: float = setting(0.0, low=0.0, high=1000.0)


@dataclass
class OptimConfig:
    """Adam with warm-up and cosine decay (paper). The peak rates are the field's own
    (``Field.default_learning_rates``); ``lr`` and ``albedo_lr`` override its geometry and albedo groups."""

    steps: int = setting(1200, low=1, high=1_000_000)
    lr: float | None = setting(None, low=1e-8, high=10.0)  # None: the field's own geometry rate
    albedo_lr: float | None = setting(None, low=1e-8, high=10.0)  # None: the field's own albedo rate
    lr_end_factor: float = setting(0.1, low=0.0, high=1.0)
    warmup_fraction: float = setting(0.05, low=0.0, high=1.0)
    adam_eps: float = setting(1e-15, low=1e-30, high=1.0)
    batch_size: int = setting(1, low=1, high=64)
    # The gradient's total norm is clipped to this (None: not clipped; neither anchor clips by default).
    grad_clip: float | None = setting(None, low=1e-6, high=1e6)
    # Steps whose loss or gradient is not finite are skipped; this many in a row stop the run (its last checkpoint
    # is kept). threestudio's 16-bit grad scaler skips such steps without a limit; a run that makes nothing else
    # for this long has diverged.
    max_skipped_in_a_row: int = setting(50, low=1, high=1_000_000)


@dataclass
class RefineConfig:
    """Mesh refinement after extraction (engine/refinement/), as Magic3D's fine stage: the extracted mesh rendered at
    a higher resolution than training and its vertices moved by the same prior's SDS, with Laplacian and
    normal-consistency terms (bench/results/surface-trials.md, "Mesh refinement")."""

    steps: int = setting(0, low=0, high=100_000)  # 0: off (the balanced and quality presets: 600)
    resolution: int = setting(256, low=16, high=1024)  # render size for priors that render at any size
    # Adam on vertex offsets (metres), decaying to lr * lr_end_factor along half a cosine. On the balanced oracle
    # cube, 600 steps: a constant 0.001 left 88% of the area within 5 deg, 0.003 decayed to 0.00015 90% (and F@0.5%
    # 0.78 -> 0.93); 400 steps of it 86%
    lr: float = setting(3e-3, low=0.0, high=1.0)
    lr_end_factor: float = setting(0.05, low=0.0, high=1.0)
    # lambda of Nicolet et al. 2021: the offsets are (I + lambda L)^-1 u, u what Adam moves (0: per vertex)
    step_smoothing: float = setting(10.0, low=0.0, high=1e6)
    # the refinement cameras' elevations (None: training's). Lower than training's, they see the bottom no training
    # view saw (on the oracle: the cube 81% within 5 deg with training's -10..90, 88% with these); unmeasured with
    # the learned priors, which may score views from below worse
    elevation_range_deg: tuple[float, float] | None = setting((-45.0, 90.0), low=-90.0, high=90.0, ordered=True)
    # textureless renders only (the albedo is fixed); False: training's mix of colored, textureless and ambient
    textureless: bool = setting(True)
    # the sum over vertices of the squared uniform Laplacian, and over neighbouring faces of 1 - cos of their angle
    laplacian_weight: float = setting(0.0, low=0.0, high=1e9)
    normal_weight: float = setting(0.1, low=0.0, high=1e9)


@dataclass
class MeshConfig:
    """Marching cubes and albedo bake (engine/mesh/)."""

    # density samples per axis over the field's box; albedo at half
    grid_resolution: int = setting(256, low=16, high=1024)
    # None: the level whose surface matches the renders (engine/mesh/threshold.py)
    threshold: float | None = setting(None, low=0.0, high=1e6)
    min_component_fraction: float = setting(0.02, low=0.0, below=1.0)  # drop floaters smaller than this share of faces
    # make solid the empty pockets no training camera sees into (engine/mesh/hidden_voids.py): bubbles under the surface
    fill_hidden_voids: bool = setting(True)
    smooth_iterations: int = setting(2, low=0, high=100)  # Taubin passes (volume-preserving)
    # above it the mesh is decimated (quadric error, engine/mesh/decimate.py)
    face_budget: int | None = setting(60_000, low=100, high=100_000_000)
    bake: str = setting("vertex", choices=BAKES)  # "vertex" | "uv"
    texture_size: int = setting(1024, low=64, high=8192)
    # "obj" too on request; mesh.npz is always written
    formats: tuple[str, ...] = setting(("npz", "glb"), choices=MESH_FORMATS, length=(1, 3))
    refine: RefineConfig = default(default_factory=RefineConfig)


@dataclass
class RunConfig:
    """Everything one ``generate`` run needs; written to the run folder as config.json."""

    prompt: str = setting("", length=(1, MAX_PROMPT_CHARS))
    seed: int = setting(0, low=0, high=2**63 - 1)
    device: str = setting("auto", choices=DEVICES)  # "auto" | "cpu" | "cuda" | "mps"
    # Torch threads on CPU. Measured on 2 cores: 7.5 it/s with 1 thread; 0.6-4.1 it/s with 2 as soon as any
    # other process runs (spinning OpenMP threads collapse under contention).
    cpu_threads: int = setting(1, low=1, high=256)
    preview_every: int = setting(50, low=0, high=1_000_000)
    checkpoint_every: int = setting(200, low=0, high=1_000_000)
    turntable_frames: int = setting(8, low=0, high=360)
    camera: CameraConfig = default(default_factory=CameraConfig)
    shading: ShadingConfig = default(default_factory=ShadingConfig)
    field: FieldConfig = default(default_factory=FieldConfig)
    render: RenderConfig = default(default_factory=RenderConfig)
    guidance: GuidanceConfig = default(default_factory=GuidanceConfig)
    regularizers: RegularizerConfig = default(default_factory=RegularizerConfig)
    optim: OptimConfig = default(default_factory=OptimConfig)
    mesh: MeshConfig = default(default_factory=MeshConfig)


# Balanced and quality refine the mesh after extraction (mesh.refine), from a 128^3 extraction: on the balanced oracle
# cube refinement from 256^3 (60,000 lumpier faces) reached 78% of the area within 5 deg of the truth in 160 s, from
# 128^3 90% in 77 s (bench/results/surface-trials.md, "Mesh refinement"). Fast stays unrefined: it is the quick look,
# and refinement would double its time to a mesh.
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"optim.steps": 600, "mesh.grid_resolution": 128},
    "balanced": {"optim.steps": 1200, "mesh.grid_resolution": 128, "mesh.refine.steps": 600},
    "quality": {
        "optim.steps": 3000,
        "field.grid_resolutions": (16, 32, 64, 96),
        "mesh.grid_resolution": 128,
        "mesh.refine.steps": 600,
    },
}


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return asdict(config)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def allowed_values(spec: DataclassField[Any]) -> Allowed:
    """The values a leaf field takes; TypeError for a field declared without ``setting``."""
    if ALLOWED_KEY not in spec.metadata:
        raise TypeError(f"config field {spec.name!r} has no allowed values; declare it with setting(...)")
    return spec.metadata[ALLOWED_KEY]


def leaf_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, DataclassField[Any], Any]]:
    """(dotted path, field, type) of every setting under ``cls``, sections walked in order."""
    for spec in fields(cls):
        hint = _hints(cls)[spec.name]
        if is_dataclass(hint):
            yield from leaf_fields(hint, f"{prefix}{spec.name}.")
        else:
            yield f"{prefix}{spec.name}", spec, hint


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """Rebuild a (nested) config dataclass from ``to_dict`` output, checking every value.

    Missing keys keep their defaults; unknown keys and bad values raise one ConfigError listing them all.
    """
    if not isinstance(data, dict):
        raise ConfigError([f"{prefix.rstrip('.') or 'the settings'} must be an object of settings, not {shown(data)}"])
    known = {spec.name: spec for spec in fields(cls)}
    problems = [f"unknown setting {prefix + name!r}" for name in sorted(set(data) - set(known), key=str)]
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            continue
        hint = _hints(cls)[name]
        try:
            if is_dataclass(hint):
                kwargs[name] = from_dict(hint, value, f"{prefix}{name}.")
            else:
                kwargs[name] = check_value(prefix + name, value, hint, allowed_values(known[name]))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return cls(**kwargs)


def override(config: Any, dotted: dict[str, Any]) -> None:
    """Set ``{"optim.steps": 600}``-style overrides in place, each value checked; unknown paths are errors."""
    problems = []
    for path, value in dotted.items():
        *parents, leaf = path.split(".")
        target = config
        for part in parents:
            target = getattr(target, part, None)
        specs = {spec.name: spec for spec in fields(target)} if is_dataclass(target) else {}
        if leaf not in specs:
            problems.append(f"unknown setting {path!r}")
            continue
        hint = _hints(type(target))[leaf]
        if is_dataclass(hint):
            example = f"{path}.{fields(hint)[0].name}"
            problems.append(f"{path} is a group of settings; set one of its fields, for example {example}")
            continue
        try:
            setattr(target, leaf, check_value(path, value, hint, allowed_values(specs[leaf])))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)


def check(config: Any, prefix: str = "") -> None:
    """Every value of ``config`` against its field (for configs that code has built or changed); ConfigError
    lists the problems. ``prefix`` names a section checked on its own ("mesh.")."""
    problems = []
    for path, spec, hint in leaf_fields(type(config), prefix):
        value: Any = config
        for part in path.removeprefix(prefix).split("."):
            value = getattr(value, part)
        try:
            check_value(path, value, hint, allowed_values(spec))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
