"""Things that hide parts of garments (hands, phones, mugs, tape, hangers) and the ChArUco board.

Each draw function paints into a float BGR image in place and returns the uint8 mask it covered,
which the scene uses to mark hidden landmarks occluded (visibility 1).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

SKIN = np.array([[0.55, 0.68, 0.88], [0.45, 0.58, 0.8], [0.35, 0.48, 0.7], [0.22, 0.33, 0.5], [0.62, 0.74, 0.9]], np.float32)
SHIFT = 4  # cv2 fixed-point bits: sub-pixel drawing
ONE = 1 << SHIFT

# ChArUco calibration board used at the workstation (see measure/ calibration).
BOARD_SQUARES = (7, 5)
BOARD_SQUARE_MM = 40.0
BOARD_MARKER_MM = 30.0
BOARD_PX_PER_MM = 2.0


def _fp(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, float) * ONE).astype(np.int32).reshape(-1, 1, 2)


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray, shade_fn=None) -> None:
    """Blend a flat colour (times shade_fn(xx, yy) if given) through mask, touching only its bounding box."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return
    sub = (slice(y, y + h), slice(x, x + w))
    a = (mask[sub].astype(np.float32) / 255.0)[..., None]
    layer = colour[None, None]
    if shade_fn is not None:
        yy, xx = np.mgrid[y:y + h, x:x + w].astype(np.float32)
        layer = layer * shade_fn(xx, yy)[..., None]
    img[sub] = img[sub] * (1 - a) + a * layer


def _soft_shadow(img: np.ndarray, mask: np.ndarray, offset: tuple[int, int], strength: float) -> None:
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return
    pad = 20 + abs(offset[0]) + abs(offset[1])
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(mask.shape[1], x + w + pad), min(mask.shape[0], y + h + pad)
    shadow = cv2.GaussianBlur(mask[y0:y1, x0:x1], (0, 0), 6)
    shadow = np.roll(shadow, offset, axis=(0, 1)).astype(np.float32) / 255.0
    img[y0:y1, x0:x1] *= (1 - strength * shadow)[..., None]


def draw_hand(rng: np.random.Generator, img: np.ndarray, target: np.ndarray, px_per_cm: float) -> np.ndarray:
    """A hand resting with fingertips near `target` (x, y), arm reaching in from outside."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    ang = rng.uniform(0, 2 * np.pi)  # direction the fingers point
    d = np.array([np.cos(ang), np.sin(ang)])
    n = np.array([-d[1], d[0]])
    s = px_per_cm * rng.uniform(0.9, 1.1)
    tip = np.asarray(target, float) + d * rng.uniform(-2, 2) * s
    palm_c = tip - d * 11 * s
    cv2.ellipse(mask, tuple(_fp(palm_c)[0, 0]), (int(5.0 * s * ONE), int(4.3 * s * ONE)),
                np.degrees(ang), 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
    arm_end = palm_c - d * 60 * s
    cv2.line(mask, tuple(_fp(palm_c)[0, 0]), tuple(_fp(arm_end)[0, 0]), 255, int(7.5 * s), cv2.LINE_AA, SHIFT)
    for i, off in enumerate((-2.7, -0.9, 0.9, 2.7)):
        length = (6.5, 7.5, 7.2, 5.8)[i] * rng.uniform(0.85, 1.1)
        base = palm_c + d * 3.5 * s + n * off * s
        end = base + (d * np.cos(0.08 * off) + n * np.sin(0.08 * off)) * length * s
        cv2.line(mask, tuple(_fp(base)[0, 0]), tuple(_fp(end)[0, 0]), 255, max(2, int(1.7 * s)), cv2.LINE_AA, SHIFT)
    thumb_base = palm_c + n * 4 * s * (1 if rng.random() < 0.5 else -1)
    thumb_end = thumb_base + (d * 0.6 + n * 0.8 * np.sign((thumb_base - palm_c) @ n)) * 5.5 * s
    cv2.line(mask, tuple(_fp(thumb_base)[0, 0]), tuple(_fp(thumb_end)[0, 0]), 255, max(2, int(2.0 * s)), cv2.LINE_AA, SHIFT)
    sleeve = rng.random() < 0.6  # a shirt cuff on the wrist
    _soft_shadow(img, mask, (int(0.6 * s), int(0.8 * s)), 0.35)
    def shade(xx, yy):
        along = (xx - palm_c[0]) * d[0] + (yy - palm_c[1]) * d[1]
        return 0.85 + 0.15 * np.clip(along / (10 * s) + 0.5, 0, 1)

    _paint(img, mask, SKIN[rng.integers(len(SKIN))] * rng.uniform(0.9, 1.1), shade)
    if sleeve:
        cuff = np.zeros_like(mask)
        cv2.line(cuff, tuple(_fp(palm_c - d * 12 * s)[0, 0]), tuple(_fp(arm_end)[0, 0]), 255, int(9 * s), cv2.LINE_AA, SHIFT)
        colour = np.clip(rng.uniform(0.1, 0.9) + rng.uniform(-0.1, 0.1, 3), 0, 1).astype(np.float32)
        _paint(img, cuff, colour)
        mask = np.maximum(mask, cuff)
    return mask


def draw_object(rng: np.random.Generator, img: np.ndarray, centre: np.ndarray, px_per_cm: float) -> np.ndarray:
    """A phone, mug, tape-measure roll, pen or scissors-sized block lying on the surface."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    kind = rng.choice(["phone", "mug", "tape", "pen", "box"])
    c = np.asarray(centre, float)
    ang = rng.uniform(0, 180)
    s = px_per_cm
    if kind in ("phone", "box", "pen"):
        size = {"phone": (7.5, 15.5), "box": (rng.uniform(6, 14), rng.uniform(6, 20)), "pen": (1.0, 14.5)}[kind]
        box = cv2.boxPoints(((float(c[0]), float(c[1])), (size[0] * s, size[1] * s), float(ang)))
        cv2.fillPoly(mask, [_fp(box)], 255, cv2.LINE_AA, SHIFT)
        colour = {"phone": np.full(3, rng.uniform(0.03, 0.2), np.float32),
                  "box": rng.uniform(0.2, 0.9, 3).astype(np.float32),
                  "pen": rng.uniform(0.05, 0.9, 3).astype(np.float32)}[kind]
    else:
        radius = (rng.uniform(3.5, 4.5) if kind == "mug" else rng.uniform(2.5, 3.5)) * s
        cv2.circle(mask, tuple(_fp(c)[0, 0]), int(radius * ONE), 255, -1, cv2.LINE_AA, SHIFT)
        colour = rng.uniform(0.2, 0.95, 3).astype(np.float32) if kind == "mug" else np.array([0.1, 0.75, 0.85], np.float32)
    _soft_shadow(img, mask, (int(0.5 * s), int(0.7 * s)), 0.4)
    def shade(xx, yy):
        return 0.8 + 0.2 * np.clip(((xx - c[0]) - (yy - c[1])) / (10 * s) + 0.5, 0, 1)

    _paint(img, mask, colour, shade)
    if kind == "mug":
        inner = np.zeros_like(mask)
        cv2.circle(inner, tuple(_fp(c)[0, 0]), int(radius * 0.8 * ONE), 255, -1, cv2.LINE_AA, SHIFT)
        _paint(img, inner, colour * 0.55)
    if kind == "phone":
        screen = np.zeros_like(mask)
        box = cv2.boxPoints(((float(c[0]), float(c[1])), (6.7 * s, 14.5 * s), float(ang)))
        cv2.fillPoly(screen, [_fp(box)], 255, cv2.LINE_AA, SHIFT)
        _paint(img, screen, np.array([0.12, 0.1, 0.08], np.float32) + rng.uniform(0, 0.25))
    return mask


def draw_hanger(rng: np.random.Generator, img: np.ndarray, left: np.ndarray, right: np.ndarray,
                neck: np.ndarray, px_per_cm: float) -> np.ndarray:
    """A clothes hanger: bar along the shoulders (left/right shoulder points) and a hook above the neck."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    s = px_per_cm
    left, right, neck = (np.asarray(p, float) for p in (left, right, neck))
    up = neck - (left + right) / 2
    up = up / max(np.linalg.norm(up), 1e-6)
    top = neck + up * rng.uniform(1.0, 4.0) * s
    thick = max(2, int(rng.uniform(0.6, 1.6) * s))
    for a, b in ((left + (neck - left) * 0.08, top), (top, right + (neck - right) * 0.08)):
        cv2.line(mask, tuple(_fp(a)[0, 0]), tuple(_fp(b)[0, 0]), 255, thick, cv2.LINE_AA, SHIFT)
    hook_top = top + up * 9 * s
    cv2.line(mask, tuple(_fp(top)[0, 0]), tuple(_fp(hook_top)[0, 0]), 255, max(1, int(0.5 * s)), cv2.LINE_AA, SHIFT)
    cv2.circle(mask, tuple(_fp(hook_top + np.array([up[1], -up[0]]) * 2 * s)[0, 0]), int(2 * s * ONE), 255,
               max(1, int(0.4 * s)), cv2.LINE_AA, SHIFT)
    colour = rng.choice([np.array([0.95, 0.95, 0.95]), np.array([0.1, 0.1, 0.1]), np.array([0.35, 0.55, 0.7]),
                         np.array([0.7, 0.7, 0.72])]).astype(np.float32)
    _soft_shadow(img, mask, (int(0.4 * s), int(0.5 * s)), 0.3)
    _paint(img, mask, colour)
    return mask


@cache
def charuco_board_image() -> np.ndarray:
    """The printed board (white margin included) as float32 BGR, BOARD_PX_PER_MM pixels per mm."""
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_5X5_100)
    board = cv2.aruco.CharucoBoard(BOARD_SQUARES, BOARD_SQUARE_MM, BOARD_MARKER_MM, dictionary)
    margin_mm = 10.0
    size = (int((BOARD_SQUARES[0] * BOARD_SQUARE_MM + 2 * margin_mm) * BOARD_PX_PER_MM),
            int((BOARD_SQUARES[1] * BOARD_SQUARE_MM + 2 * margin_mm) * BOARD_PX_PER_MM))
    gray = board.generateImage(size, marginSize=int(margin_mm * BOARD_PX_PER_MM), borderBits=1)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR).astype(np.float32) / 255.0


def draw_board(rng: np.random.Generator, img: np.ndarray, table_to_img: np.ndarray,
               centre_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp the board onto the table at centre_mm with a random rotation; returns (mask, board->img H)."""
    h, w = img.shape[:2]
    board = charuco_board_image()
    bh, bw = board.shape[:2]
    ang = rng.uniform(-np.pi, np.pi) if rng.random() < 0.3 else rng.uniform(-0.2, 0.2)
    c, s = np.cos(ang) / BOARD_PX_PER_MM, np.sin(ang) / BOARD_PX_PER_MM
    # board pixel -> table mm: rotate about the board centre, then move to centre_mm
    b2t = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    b2t[:2, 2] = np.asarray(centre_mm) - b2t[:2, :2] @ np.array([bw / 2, bh / 2])
    b2i = table_to_img @ b2t
    warped = cv2.warpPerspective(board, b2i, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((bh, bw), 255, np.uint8), b2i, (w, h))
    tint = rng.uniform(0.85, 1.0)
    a = (mask.astype(np.float32) / 255.0)[..., None]
    img *= 1 - a
    img += a * warped * tint
    return mask, b2i
