"""The built zip installs into the temporary HOME, registers cleanly, and disabling it stops any engine."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import addon_utils
import bpy
import pytest

from engine import __version__ as ENGINE_VERSION
from tests.addon.addon_harness import (
    PACKAGE,
    REAL_HOME,
    ROOT,
    TEMP_HOME,
    assert_process_gone,
    configure,
    pump_until,
    run_to_end,
    runs,
)
from tests.fixtures import fake_engine
from tools.build_extension import BuildError, blender_ext_path, build

BLENDER_PLATFORMS = ("windows-x64", "windows-arm64", "macos-x64", "macos-arm64", "linux-x64")
OPERATORS = ("generate", "cancel", "import_asset", "remesh", "history_import", "history_open_folder", "history_remove")


def test_the_extension_installs_under_the_temporary_home(extension) -> None:
    installed = Path(extension.__file__).resolve().parent
    assert installed.is_relative_to(TEMP_HOME) and not installed.is_relative_to(REAL_HOME)
    assert installed == Path(bpy.utils.user_resource("EXTENSIONS")) / "user_default" / "dreamfusion"
    assert (installed / "engine" / "protocol.py").is_file()
    user_dir = Path(bpy.utils.extension_path_user(PACKAGE, create=True))
    assert user_dir.is_relative_to(TEMP_HOME)


def test_the_zip_holds_the_extension_and_nothing_of_the_workshop(built_zip: Path) -> None:
    names = zipfile.ZipFile(built_zip).namelist()
    for required in ("__init__.py", "blender_manifest.toml", "engine/__main__.py", "bridge/worker.py"):
        assert required in names
    for name in names:
        assert not name.startswith(("tests/", "tools/", "bench/", "docs/", ".venv/", ".git/", "wheels/", "dist/"))
        assert "__pycache__" not in name and not name.endswith((".pyc", ".whl"))
    manifest = tomllib.loads(zipfile.ZipFile(built_zip).read("blender_manifest.toml").decode())
    assert manifest["id"] == "dreamfusion" and manifest["version"] == ENGINE_VERSION


def blender_ext() -> ModuleType:
    """The extension platform's own code (from the bpy wheel), to ask it what Blender would accept."""
    spec = importlib.util.spec_from_file_location("blender_ext", blender_ext_path())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_platform_and_blender_from_4_2_accepts_the_zip(built_zip: Path) -> None:
    """Pure Python, no wheels: Blender's own filter offers the zip on all five platforms and both Pythons
    (3.11 for Blender 4.2 to 5.0, 3.13 for 5.1+), and refuses it only below 4.2."""
    manifest = tomllib.loads(zipfile.ZipFile(built_zip).read("blender_manifest.toml").decode())
    assert "wheels" not in manifest, "nothing inside Blender needs a wheel; heavy work runs in the engine's Python"
    filter_skip = blender_ext().repository_filter_skip
    reasons: list[str] = []

    def skipped(item: dict, platform: str, blender: tuple[int, int, int], python: tuple[int, int, int]) -> bool:
        return filter_skip(
            item, filter_blender_version=blender, filter_platform=platform, filter_python_version=python,
            skip_message_fn=reasons.append, error_fn=lambda exc: reasons.append(repr(exc)),
        )  # fmt: skip

    for platform in BLENDER_PLATFORMS:
        for blender, python in (((4, 2, 0), (3, 11, 0)), ((5, 0, 1), (3, 11, 0)), ((5, 1, 0), (3, 13, 0))):
            assert not skipped(manifest, platform, blender, python), reasons
    # The filter is live: it refuses an older Blender, and a platform list that leaves one out.
    assert skipped(manifest, "linux-x64", (4, 1, 0), (3, 11, 0))
    assert skipped({**manifest, "platforms": ["linux-x64"]}, "windows-arm64", (5, 0, 1), (3, 11, 0))


def test_the_source_follows_extension_rules() -> None:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert manifest["blender_version_min"] == "4.2.0" and manifest["permissions"]["files"]
    init = ast.parse((ROOT / "__init__.py").read_text())
    assert not any(isinstance(node, ast.Assign) and "bl_info" in ast.unparse(node) for node in init.body)
    for folder in ("bridge", "runtime", "operators", "panels", "scene"):
        for path in (ROOT / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    assert node.module.split(".")[0] not in {"engine", "bridge", "scene", "operators", "panels"}, path


def test_a_build_that_fails_validation_says_why_and_keeps_the_last_zip(built_zip: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    manifest = (ROOT / "blender_manifest.toml").read_text()
    (source / "blender_manifest.toml").write_text(manifest.replace('tagline = "', 'tagline = "Ends with a period.'))
    (source / "__init__.py").write_text("")
    output = tmp_path / "dist"
    output.mkdir()
    last_good = shutil.copy(built_zip, output / built_zip.name)
    with pytest.raises(BuildError, match="tagline"):
        build(output, source=source)
    assert sorted(output.iterdir()) == [Path(last_good)]
    assert zipfile.ZipFile(last_good).testzip() is None


def test_operators_and_the_sidebar_are_registered(extension) -> None:
    for name in OPERATORS:
        assert hasattr(bpy.ops.dreamfusion, name)
    for panel in ("DREAMFUSION_PT_main", "DREAMFUSION_PT_advanced", "DREAMFUSION_PT_history"):
        cls = getattr(bpy.types, panel)
        assert (cls.bl_space_type, cls.bl_region_type, cls.bl_category) == ("VIEW_3D", "UI", "DreamFusion")
    assert bpy.context.scene.dreamfusion.preset == "balanced"


def test_the_scene_offers_default_naming_its_prior_then_the_priors_of_the_preferences(extension) -> None:
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    defaults = [
        (item.identifier, item.name, item.description) for item in prefs.bl_rna.properties["default_prior"].enum_items
    ]
    assert [key for key, _, _ in defaults] == ["procedural", "stable-diffusion", "deepfloyd-if"]
    scene_settings = bpy.context.scene.dreamfusion
    prior_items = importlib.import_module(f"{PACKAGE}.properties").prior_items  # the menu's items, as Blender asks
    try:
        for default, shown in (
            ("procedural", "Default: Procedural (offline)"),
            ("deepfloyd-if", "Default: DeepFloyd IF"),
        ):
            prefs.default_prior = default
            offered = prior_items(scene_settings, bpy.context)
            assert offered[0][:2] == ("DEFAULT", shown) and [item[:3] for item in offered[1:]] == defaults
        scene_settings.prior = "stable-diffusion"
        assert scene_settings.prior == "stable-diffusion"
    finally:
        prefs.default_prior, scene_settings.prior = "procedural", "DEFAULT"


def test_disable_stops_the_engine_and_re_registering_twice_works(addon, tmp_path: Path) -> None:
    pid_file = tmp_path / "engine.pid"
    configure(fake_engine.write_launcher(tmp_path, "--pid-file", str(pid_file), "--step-seconds", "0.05"), steps=10**5)
    bpy.ops.dreamfusion.generate()
    pump_until(lambda state: state.step >= 1)
    addon_utils.disable(PACKAGE)
    assert_process_gone(int(pid_file.read_text()))
    assert not hasattr(bpy.types.Scene, "dreamfusion")
    addon_utils.enable(PACKAGE)
    addon_utils.disable(PACKAGE)
    addon_utils.enable(PACKAGE)
    assert bpy.app.timers.is_registered(runs().timer)
    configure(fake_engine.write_launcher(tmp_path), steps=2)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    assert run_to_end().status == "done"
    assert bpy.context.view_layer.objects.active.name == "a red cube"


BLENDER_PRELUDE = """
import os, sys, time
import bpy
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
bpy.context.preferences.addons["bl_ext.user_default.dreamfusion"].preferences.engine_python = sys.argv[2]
bpy.context.scene.dreamfusion.prompt = "a red cube"
bpy.ops.dreamfusion.generate()
from bl_ext.user_default.dreamfusion.runtime import RUNS
"""


def run_in_blender(script: str, built_zip: Path, launcher: Path, home: Path) -> str:
    """``script`` after BLENDER_PRELUDE in a fresh Python with bpy (its own HOME); its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", BLENDER_PRELUDE + script, str(built_zip), str(launcher)],
        env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_quitting_blender_stops_an_engine_that_ignores_stop(built_zip: Path, tmp_path: Path) -> None:
    launcher = fake_engine.write_launcher(tmp_path, "--behaviour", "hang")  # ignores stdin closing too
    script = """
while RUNS.state().step < 1:
    RUNS.pump()
    time.sleep(0.02)
print("engine pid", RUNS.active_pid(), flush=True)
"""  # and Blender quits with the engine running
    output = run_in_blender(script, built_zip, launcher, tmp_path / "home")
    pid = int(output.split("engine pid")[1].split()[0])
    try:
        assert_process_gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_blender_never_imports_torch_or_the_engine_stack(built_zip: Path, tmp_path: Path) -> None:
    """A whole run, import included, in a fresh Blender process: none of the engine's heavy packages load."""
    script = """
while RUNS.pump():
    time.sleep(0.02)
assert RUNS.state().status == "done", RUNS.state().error_report()
assert bpy.context.view_layer.objects.active.name == "a red cube"
print("loaded:", sorted({name.split(".")[0] for name in sys.modules} & {"torch", "diffusers", "transformers",
      "trimesh", "scipy", "PIL", "mcubes"}))
"""
    output = run_in_blender(script, built_zip, fake_engine.write_launcher(tmp_path), tmp_path / "home")
    assert "loaded: []" in output, output
