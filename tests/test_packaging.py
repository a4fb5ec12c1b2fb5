"""The frozen one-folder build: built once per session into tmp, then run like a user would run it.

Slow (the PyInstaller build takes about 40 s here, the checks about 10 s) but part of the default suite.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", ROOT / "packaging" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_script = _load("build")
smoke_test = _load("smoke_test")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("frozen")
    return build_script.build(tmp / "dist", tmp / "work")


def test_bundle_leaves_out_torch_and_onnx(bundle):
    names = {p.name.lower() for p in bundle.rglob("*")}
    assert not [n for n in names if n.startswith(("torch", "libtorch", "triton"))]
    assert "onnx" not in names  # the exporter; onnxruntime stays
    assert "onnxruntime" in names


def test_bundle_ships_resources_and_migrations(bundle):
    internal = bundle / "_internal"
    for folder in ("sample/images", "schema", "poms"):
        source = sorted(p.name for p in (ROOT / "resources" / folder).iterdir() if p.is_file())
        shipped = sorted(p.name for p in (internal / "resources" / folder).iterdir())
        assert shipped == source, folder
    versions = ROOT / "app" / "store" / "migrations" / "versions"
    shipped = internal / "app" / "store" / "migrations" / "versions"
    assert sorted(p.name for p in shipped.glob("*.py")) == sorted(p.name for p in versions.glob("*.py"))
    assert (internal / "app" / "store" / "migrations" / "env.py").is_file()


def test_frozen_app_runs_measures_stores_and_opens_the_sample(bundle, tmp_path):
    checks = smoke_test.smoke(bundle / "garment-studio", tmp_path)
    names = [c.name for c in checks]
    assert names[:2] == ["--version", "measure --keypoints"]
    assert "import + info (store, migrations)" in names
    assert "gui first run (offscreen screenshot)" in names
    if smoke_test.bundled_model_present():
        assert "measure with the bundled model" in names


def test_desktop_entry_installs_for_the_bundle(bundle, tmp_path):
    import configparser
    import os
    import shutil
    import subprocess

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    subprocess.run(["sh", str(ROOT / "packaging" / "install-desktop.sh"), str(bundle)], check=True, env=env)
    entry_path = tmp_path / "share" / "applications" / "garment-studio.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(entry_path)
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f'"{bundle / "garment-studio"}" gui %f'
    assert Path(desktop["TryExec"]).is_file()
    assert (tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{desktop['Icon']}.png").is_file()
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(entry_path)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_smoke_test_names_a_path_that_is_no_bundle(tmp_path, capsys):
    assert smoke_test.main([str(tmp_path)]) == 1
    assert "is not an executable garment-studio bundle" in capsys.readouterr().err
