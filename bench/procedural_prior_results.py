"""The procedural prior benchmark's results: its payload (image-set and query costs, 2D and 3D SDS per view selection
and guidance scale) and its report section.

bench/procedural_prior.py measures the prior and writes this payload; the report reads it here without the runner
(which needs torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Measured, Payload
from .report_page import Page, num, table


@dataclass
class ImageSetCost:
    prompt: str
    build_s: float
    load_s: float


@dataclass
class Costs:
    views: int
    resolution: int
    sets: list[ImageSetCost]
    prompt_set_build_s: float  # the slowest of ``sets``
    unconditional_set_build_s: float
    eps_query_ms: dict[str, float]  # per view selection


@dataclass
class Sds2d:
    """2D SDS at one view selection and guidance scale, averaged over prompts and views."""

    selection: str
    width_deg: float | None  # the kernel's width (None: suffix selection)
    guidance_scale: float
    nearest_prompt_image_mse: float
    right_class: float
    psnr_vs_true_view: float


@dataclass
class Sds3d:
    """A whole engine run at one view selection and guidance scale, scored against the ground truth."""

    prompt: str
    selection: str
    width_deg: float | None
    guidance_scale: float
    steps: int
    iou: float
    chamfer: float
    albedo_error: float
    fronts_ok: list[bool]
    run_s: float


@dataclass
class PriorPayload(Payload):
    """procedural_prior.json."""

    threads: int
    costs: Costs
    sds_2d: list[Sds2d]
    sds_3d: list[Sds3d]


def procedural_prior_section(page: Page, measured: Measured[PriorPayload]) -> None:
    data, costs = measured.payload, measured.payload.costs
    page.add(
        f"From `bench/procedural_prior.py` on {measured.envelope.machine.platform}, {data.threads} threads: "
        f"image sets of {costs.views} views at {costs.resolution} px; prompt set build (max) "
        f"{costs.prompt_set_build_s:.2f} s, unconditional set build {costs.unconditional_set_build_s:.2f} s; "
        "eps query (cond + uncond, 64 px): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in costs.eps_query_ms.items())
        + "."
    )
    rows = [
        [
            r.selection + ("" if r.width_deg is None else f" {r.width_deg:g} deg"),
            f"{r.guidance_scale:g}",
            num(r.nearest_prompt_image_mse, 5),
            num(r.right_class, 2),
            num(r.psnr_vs_true_view, 2),
        ]
        for r in data.sds_2d
    ]
    header = ["view selection", "guidance", "nearest prompt-image MSE", "right class", "PSNR vs true view"]
    page.add(*table(header, rows))
