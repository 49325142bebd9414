"""The Blender-ready mesh file ``mesh.npz``: its arrays, how they are written and read, and color encoding.

numpy only: the add-on imports this module inside Blender (the files for other tools, GLB, OBJ and PNG, are
written by ``interchange.py``). Arrays are in metres on Blender axes (Z up, front -Y). UVs follow Blender and
OpenGL: origin at the bottom left, so PNG row 0 is v = 1.
"""

from __future__ import annotations

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
    """Read and validate a ``mesh.npz``."""
    path = Path(path)
    if not path.is_file():
        raise MeshFileError(f"no mesh file at {path}")
    try:
        arrays = versioned_npz.load(path, FORMAT_VERSION)
        mesh = MeshData(
            vertices=arrays["vertices"],
            faces=arrays["faces"],
            colors=arrays["colors"],
            uvs=arrays.get("uvs"),
            texture=str(arrays["texture"]) if "texture" in arrays else None,
        )
    except versioned_npz.FormatVersionError as exc:
        raise MeshFileError(f"{path} has mesh format {exc.found}; this version reads {FORMAT_VERSION}") from None
    except (OSError, KeyError, ValueError) as exc:
        raise MeshFileError(f"{path} is not a readable mesh file ({exc})") from exc
    if mesh.faces.size and (mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices)):
        raise MeshFileError(f"{path} has faces that index missing vertices")
    return mesh
