"""The desktop entry and the icon in packaging/ (fast; the installed entry is checked in test_packaging.py)."""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"


def test_desktop_entry_names_the_command_and_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(PACKAGING / "garment-studio.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"].split()[:2] == ["garment-studio", "gui"]
    assert (PACKAGING / "icons" / f"{desktop['Icon']}.png").is_file()
    assert (PACKAGING / "icons" / f"{desktop['Icon']}.svg").is_file()
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(
            ["desktop-file-validate", str(PACKAGING / "garment-studio.desktop")], capture_output=True, text=True
        )
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_icon_png_is_the_rendered_svg(tmp_path, qapp):
    # qapp: render_icon would otherwise create a bare QGuiApplication, and any widget test after this one in
    # the same process would then abort (a QWidget needs a QApplication).
    import cv2

    spec = importlib.util.spec_from_file_location("render_icon", PACKAGING / "render_icon.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fresh = module.render(png=tmp_path / "icon.png")
    committed = cv2.imread(str(PACKAGING / "icons" / "garment-studio.png"), cv2.IMREAD_UNCHANGED)
    rendered = cv2.imread(str(fresh), cv2.IMREAD_UNCHANGED)
    assert committed.shape == rendered.shape == (256, 256, 4)
    assert committed[128, 128, 3] == 255 and committed[0, 0, 3] == 0  # opaque tile, transparent corners
    difference = np.abs(committed.astype(int) - rendered.astype(int))
    if difference.max() > 8:  # anti-aliasing may differ slightly between Qt builds
        pytest.fail("packaging/icons/garment-studio.png is stale: run packaging/render_icon.py")
