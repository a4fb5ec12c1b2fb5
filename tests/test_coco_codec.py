import pytest

from app.datasets.coco import CocoFormatError, build_document, decode_annotation, encode_garment
from inference.annotation import Garment, Keypoint, Visibility
from inference.schema import deepfashion2


def _garment(cat_id: int) -> Garment:
    cat = deepfashion2().category(cat_id)
    kps = [Keypoint(10.25 + i, 20.75 + 2 * i, Visibility.VISIBLE) for i in range(cat.num_keypoints)]
    kps[1] = Keypoint(3.5, 4.5, Visibility.OCCLUDED)
    kps[2] = Keypoint.absent()
    return Garment(cat_id, (1.5, 2.5, 100.25, 200.75), tuple(kps), score=0.9)


@pytest.mark.parametrize("cat_id", range(1, 14))
def test_encode_decode_round_trip_keeps_sub_pixel_floats(cat_id):
    g = _garment(cat_id)
    ann = encode_garment(g, image_id=7, annotation_id=3)
    cat = deepfashion2().category(cat_id)
    assert ann["keypoints"][cat.start * 3 : cat.start * 3 + 3] == [10.25, 20.75, 2]
    assert ann["num_keypoints"] == cat.num_keypoints - 1
    assert ann["bbox"] == [1.5, 2.5, 98.75, 198.25]
    back = decode_annotation(ann)
    assert back.keypoints == g.keypoints and back.bbox == g.bbox and back.category_id == cat_id


def test_decode_rejects_wrong_length_and_bad_visibility():
    ann = encode_garment(_garment(1), 1, 1)
    with pytest.raises(CocoFormatError, match="expected 882"):
        decode_annotation({**ann, "keypoints": ann["keypoints"][:-3]})
    bad = list(ann["keypoints"])
    bad[2] = 5
    with pytest.raises(CocoFormatError, match="visibility"):
        decode_annotation({**ann, "keypoints": bad})


def test_document_lists_13_categories_with_294_keypoint_names():
    doc = build_document([], [])
    assert [c["id"] for c in doc["categories"]] == list(range(1, 14))
    assert all(len(c["keypoints"]) == 294 for c in doc["categories"])
