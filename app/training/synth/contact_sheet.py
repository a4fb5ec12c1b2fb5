"""Tile rendered scenes into one image to look at them, optionally with landmarks, skeleton and boxes.

    python -m app.training.synth.contact_sheet --out docs/synth/contact_sheet.jpg --n 24 --landmarks
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from app.training.synth.scene import MODES, SceneConfig, SynthScene, render_scene, render_single_garment
from inference.annotation import Visibility
from inference.schema import deepfashion2

COLOURS = {Visibility.VISIBLE: (60, 220, 60), Visibility.OCCLUDED: (40, 40, 235)}


def draw_annotations(scene: SynthScene) -> np.ndarray:
    img = scene.image.copy()
    for g in scene.garments:
        cat = deepfashion2().category(g.category_id)
        x1, y1, x2, y2 = (int(round(v)) for v in g.bbox)
        cv2.rectangle(img, (x1, y1), (x2, y2), (255, 160, 0), 1)
        cv2.putText(img, cat.coco_name, (x1 + 2, max(10, y1 + 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 160, 0), 1)
        for a, b in cat.skeleton:
            ka, kb = g.keypoints[a], g.keypoints[b]
            if ka.visibility and kb.visibility:
                cv2.line(img, (int(ka.x), int(ka.y)), (int(kb.x), int(kb.y)), (230, 230, 230), 1, cv2.LINE_AA)
        for k in g.keypoints:
            if k.visibility != Visibility.ABSENT:
                cv2.circle(img, (int(round(k.x)), int(round(k.y))), 3, COLOURS[k.visibility], -1, cv2.LINE_AA)
    return img


def contact_sheet(scenes: list[SynthScene], cols: int, tile: tuple[int, int], landmarks: bool) -> np.ndarray:
    tw, th = tile
    rows = (len(scenes) + cols - 1) // cols
    sheet = np.full((rows * th, cols * tw, 3), 255, np.uint8)
    for i, scene in enumerate(scenes):
        img = draw_annotations(scene) if landmarks else scene.image
        h, w = img.shape[:2]
        s = min(tw / w, th / h)
        small = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
        r, c = divmod(i, cols)
        sheet[r * th:r * th + small.shape[0], c * tw:c * tw + small.shape[1]] = small
    return sheet


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.training.synth.contact_sheet", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="output image (.jpg or .png)")
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cols", type=int, default=6)
    p.add_argument("--tile", default="320x240", help="tile size WxH")
    p.add_argument("--mode", default="mixed", choices=MODES)
    p.add_argument("--single", type=int, default=None, metavar="CATEGORY",
                   help="render_single_garment of this category (0 = cycle through all 13)")
    p.add_argument("--landmarks", action="store_true", help="draw boxes, skeletons and landmarks")
    p.add_argument("--quality", type=int, default=80, help="JPEG quality")
    args = p.parse_args(argv)
    tile = tuple(int(v) for v in args.tile.lower().split("x"))
    scenes = []
    for i in range(args.n):
        if args.single is None:
            scenes.append(render_scene(args.seed + i, SceneConfig(mode=args.mode)))
        else:
            ids = deepfashion2().category_ids
            cat = ids[i % len(ids)] if args.single == 0 else args.single
            scenes.append(render_single_garment(args.seed + i, cat, image_size=(240, 320)))
    sheet = contact_sheet(scenes, args.cols, tile, args.landmarks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, args.quality] if args.out.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(args.out), sheet, params):
        print(f"could not write {args.out}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({len(scenes)} scenes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
