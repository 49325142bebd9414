"""The Blender-ready mesh file ``mesh.npz``: its arrays, how they are written and read, and color encoding.

numpy only: the add-on imports this module inside Blender (the files for other tools, GLB, OBJ and PNG, are
written by ``interchange.py``). Arrays are in metres on Blender axes (Z up, front -Y). UVs follow Blender and
OpenGL: origin at the bottom left, so PNG row 0 is v = 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import versioned_npz

FORMAT_VERSION = 1


@dataclass
class MeshData:
    """A triangle mesh with per-vertex albedo and optional per-loop UVs plus texture."""

    vertices: np.ndarray  # (N, 3) float32
    faces: np.ndarray  # (M, 3) int32
    colors: np.ndarray  # (N, 4) float32, linear RGBA
    uvs: np.ndarray | None = None  # (M * 3, 2) float32
    texture: str | None = None  # PNG file name beside the npz

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32)
        colors = np.asarray(self.colors, dtype=np.float32)
        if colors.shape[1] == 3:
            colors = np.concatenate([colors, np.ones((len(colors), 1), np.float32)], axis=1)
        self.colors = np.ascontiguousarray(colors)
        if self.uvs is not None:
            self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, for color stored as display values (PNG, glTF bytes, OBJ)."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse of ``linear_to_srgb``."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, np.power((srgb + 0.055) / 1.055, 2.4))


class MeshFileError(ValueError):
    """A mesh file that is missing, corrupt or of another version."""


def write_npz(path: Path, mesh: MeshData) -> None:
    """Write atomically: a crash leaves the previous file, never a partial one."""
    arrays: dict[str, np.ndarray] = {"vertices": mesh.vertices, "faces": mesh.faces, "colors": mesh.colors}
    if mesh.uvs is not None:
        arrays["uvs"] = mesh.uvs
    if mesh.texture is not None:
        arrays["texture"] = np.array(mesh.texture)
    versioned_npz.save(path, FORMAT_VERSION, arrays)


def read_npz(path: Path) -> MeshData:
    """Read and validate a ``mesh.npz``: every array's shape, type and values, so what reaches Blender builds a
    mesh. Any file that is not one (truncated, another zip, a link, a FIFO) is a MeshFileError sentence."""
    path = Path(path)
    if not os.path.lexists(path):
        raise MeshFileError(f"no mesh file at {path}")
    try:
        arrays = versioned_npz.load(path, FORMAT_VERSION)
    except versioned_npz.FormatVersionError as exc:
        raise MeshFileError(f"{path} has mesh format {exc.found}; this version reads {FORMAT_VERSION}") from None
    except KeyError:
        raise MeshFileError(f"{path} is not a DreamFusion mesh file (it has no format_version)") from None
    except Exception as exc:  # numpy and zipfile raise many kinds for a file that is not an archive
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        raise MeshFileError(f"{path} is not a readable mesh file ({reason})") from exc
    problem = _array_problem(arrays)
    if problem is not None:
        raise MeshFileError(f"{path} is not a usable mesh file: {problem}")
    texture = str(arrays["texture"]) if "texture" in arrays else None
    if texture is not None and (not texture or Path(texture).name != texture or texture in (".", "..")):
        raise MeshFileError(f"{path} names the texture {texture!r}, which is not a file name beside it")
    return MeshData(arrays["vertices"], arrays["faces"], arrays["colors"], arrays.get("uvs"), texture)


def _array_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with a mesh file's arrays, in words; None when they make a mesh."""
    for key in ("vertices", "faces", "colors"):
        if key not in arrays:
            return f"it has no {key}"
    vertices, faces, colors, uvs = arrays["vertices"], arrays["faces"], arrays["colors"], arrays.get("uvs")
    shapes = (
        ("vertices", vertices, (3,), np.floating),
        ("faces", faces, (3,), np.integer),
        ("colors", colors, (3, 4), np.floating),
    )
    for key, array, widths, kind in shapes:
        if array.ndim != 2 or array.shape[1] not in widths or not np.issubdtype(array.dtype, kind):
            return f"its {key} are {array.dtype} of shape {array.shape}, not (N, {' or '.join(map(str, widths))})"
    if len(colors) != len(vertices):
        return f"it has {len(colors)} colors for {len(vertices)} vertices"
    if not (np.isfinite(vertices).all() and np.isfinite(colors).all()):
        return "its vertices or colors hold NaN or infinite values"
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        return "it has faces that index missing vertices"
    if uvs is not None:
        if uvs.shape != (3 * len(faces), 2) or not np.issubdtype(uvs.dtype, np.floating):
            return f"its uvs are {uvs.dtype} of shape {uvs.shape}, not ({3 * len(faces)}, 2)"
        if not np.isfinite(uvs).all():
            return "its uvs hold NaN or infinite values"
    if "texture" in arrays and (arrays["texture"].shape != () or arrays["texture"].dtype.kind != "U"):
        return "its texture is not a file name"
    return None
