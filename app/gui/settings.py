"""Where the app keeps its preferences (QSettings under the organisation and application names)."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANISATION = "GarmentKeypointStudio"
APPLICATION = "Garment Keypoint Studio"


def settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)
