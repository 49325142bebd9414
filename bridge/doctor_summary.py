"""What the preferences show of a doctor report: a few short lines (standard library only, no bpy)."""

from __future__ import annotations

from ..engine.payloads import DoctorReport, MemoryNeed
from .choices import prior_label
from .model_list import format_bytes


def doctor_summary(report: DoctorReport) -> list[str]:
    """Versions, device, free memory, models present, what the learned priors' weights take on the device."""
    versions = [
        f"Python {report.python}",
        f"engine {report.engine}",
        f"torch {report.torch or 'missing'}",
        f"diffusers {report.packages.get('diffusers') or 'missing'}",
    ]
    lines = [" · ".join(versions)]
    requested = report.device_requested
    if report.device:
        text = f"Device: {report.device}" + (" (auto)" if requested == "auto" else "")
        gpus = report.cuda.devices if report.cuda is not None and report.device == "cuda" else []
        for gpu in gpus:
            text += f" · {gpu.name}, {format_bytes(gpu.free_bytes)} of {format_bytes(gpu.total_bytes)} free"
        lines.append(text)
    elif requested != "auto":
        lines.append(f"Device: {requested} is not available here (auto would use {report.device_auto or '?'})")
    memory = report.memory
    lines.append(f"Memory: {format_bytes(memory.available_bytes)} of {format_bytes(memory.total_bytes)} free")
    present = [model for model in report.models if model.present]
    complete = [model.name for model in present if model.complete]
    lines.append(
        f"Models: {', '.join(complete) or 'none'}"
        + (f" ({len(present) - len(complete)} incomplete)" if len(present) > len(complete) else "")
    )
    return lines + [memory_need_line(need) for need in report.memory_needs]


def memory_need_line(need: MemoryNeed) -> str:
    """ "DeepFloyd IF: 18.1 GB of weights in float16 (9.5 GB at once in low-memory mode), more than the 8.0 GB free"."""
    line = (
        f"{prior_label(need.prior)}: {format_bytes(need.weights_bytes)} of weights in {need.dtype} "
        f"({format_bytes(need.low_memory_weights_bytes)} at once in low-memory mode)"
    )
    if need.free_bytes is not None and need.weights_bytes > need.free_bytes:
        line += f", more than the {format_bytes(need.free_bytes)} free" + ("" if need.fits else " even then")
    return line


def offers_device_fallback(report: DoctorReport) -> bool:
    """The device setting names a device this machine lacks: the preferences offer "auto" and "cpu"."""
    return report.device is None and report.device_requested != "auto"
