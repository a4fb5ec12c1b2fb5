"""A shown garment read twice (two detector boxes, one outline) is merged; garments below the display
threshold and garments that merely overlap are kept."""

from __future__ import annotations

from inference.annotation import Garment, Keypoint
from inference.duplicates import merge_read_twice


def _garment(box, score, detector_score, category_id=4):
    x1, y1, x2, y2 = box
    corners = (Keypoint(x1, y1), Keypoint(x2, y1), Keypoint(x2, y2), Keypoint(x1, y2))
    return Garment(category_id, box, corners, score=score,
                   extra={"detector_score": detector_score, "detection_score": detector_score})


def test_the_lower_scored_reading_of_one_shown_garment_is_dropped_and_order_kept():
    jacket_a = _garment((100.0, 100.0, 300.0, 400.0), 0.40, 0.30)
    trousers = _garment((400.0, 100.0, 500.0, 400.0), 0.70, 0.60, category_id=8)
    jacket_b = _garment((105.0, 110.0, 300.0, 405.0), 0.60, 0.45, category_id=2)  # IoU ≈ 0.93 with jacket_a
    assert merge_read_twice([jacket_a, trousers, jacket_b], shown_from=0.25) == [trousers, jacket_b]


def test_garments_that_only_overlap_or_are_not_shown_are_kept():
    top = _garment((100.0, 100.0, 300.0, 300.0), 0.8, 0.7)
    skirt_on_it = _garment((150.0, 150.0, 350.0, 350.0), 0.6, 0.5, category_id=9)  # IoU ≈ 0.39
    assert merge_read_twice([top, skirt_on_it], shown_from=0.25) == [top, skirt_on_it]
    # Evaluation lowers the threshold for AP: a hypothesis the app would not show stays for it to score.
    hidden_twin = _garment((100.0, 100.0, 300.0, 300.0), 0.3, 0.1)
    assert merge_read_twice([top, hidden_twin], shown_from=0.25) == [top, hidden_twin]
    assert merge_read_twice([top, hidden_twin], shown_from=0.05) == [top]
