"""Colours and sizes shared by the canvas items, the image list and the panels."""

from __future__ import annotations

from PySide6.QtGui import QColor

from inference.annotation import GarmentStatus, Visibility

# One hue per DeepFashion2 category (1..13), chosen to stay distinguishable on photos.
_CATEGORY_HUES = (0, 28, 55, 90, 140, 175, 200, 225, 255, 285, 310, 335, 20)

VISIBILITY_COLOURS = {
    Visibility.VISIBLE: QColor(60, 220, 90),
    Visibility.OCCLUDED: QColor(255, 170, 30),
    Visibility.ABSENT: QColor(150, 150, 150),
}
VISIBILITY_LABELS = {
    Visibility.VISIBLE: "visible",
    Visibility.OCCLUDED: "occluded",
    Visibility.ABSENT: "absent",
}

STATUS_COLOURS = {
    "new": QColor(140, 140, 140),
    GarmentStatus.PREDICTED.value: QColor(80, 150, 255),
    GarmentStatus.CORRECTED.value: QColor(255, 170, 30),
    GarmentStatus.VERIFIED.value: QColor(60, 200, 90),
}

POINT_RADIUS_PX = 5.0  # on screen; points ignore the zoom so they stay grabbable
MEASURE_COLOUR = QColor(0, 230, 255)
PASS_COLOUR = QColor(60, 200, 90)
FAIL_COLOUR = QColor(235, 70, 60)
WARN_COLOUR = QColor(224, 160, 48)


def category_colour(category_id: int) -> QColor:
    hue = _CATEGORY_HUES[(int(category_id) - 1) % len(_CATEGORY_HUES)]
    return QColor.fromHsv(hue, 200, 255)


def status_colour(status: str) -> QColor:
    return STATUS_COLOURS.get(str(status), STATUS_COLOURS["new"])


def narrow_combo(combo, characters: int = 8):
    """A combo box that may be narrower than its longest item (shown elided; the list still opens full
    width), so docks can give the photo room on a small screen."""
    from PySide6.QtWidgets import QComboBox

    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(characters)
    return combo
