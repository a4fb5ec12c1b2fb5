"""Bundled data files: garment schemas, points of measure, models, sample project.

Not code: this package exists so the data travels with wheels and frozen builds.
"""

from __future__ import annotations

import os
from pathlib import Path

_ENV_OVERRIDE = "GARMENT_STUDIO_RESOURCES"


def resource_dir() -> Path:
    """Folder that holds the bundled resources (overridable for frozen or relocated builds)."""
    override = os.environ.get(_ENV_OVERRIDE)
    return Path(override) if override else Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
