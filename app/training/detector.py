"""CenterNet-style anchor-free garment detector with decoding inside the graph.

Heads at stride 8: a centre heatmap per category (sigmoid), box size as log(w/stride, h/stride), and a
sub-cell centre offset. ``DetectorWithDecode`` appends peak NMS (3×3 max-pool) and top-K so the ONNX output
is ``dets`` [1, K, 6] = x1, y1, x2, y2 (network-input pixels), score, class index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.training.layers import ConvBNAct, CSPLayer, CSPNeXt

STRIDE = 8


@dataclass(frozen=True)
class DetectorConfig:
    input_size: tuple[int, int] = (320, 320)
    num_classes: int = 13
    widths: tuple[int, int, int, int] = (24, 48, 96, 192)
    blocks: tuple[int, int, int, int] = (1, 1, 1, 1)
    stem: int = 16
    neck: int = 64
    top_k: int = 50

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> DetectorConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc.items()})


class CenterNetDetector(nn.Module):
    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = CSPNeXt(cfg.widths, cfg.stem, cfg.blocks)
        c3, c4, c5 = self.backbone.out_channels
        n = cfg.neck
        self.lat5, self.lat4, self.lat3 = ConvBNAct(c5, n, 1), ConvBNAct(c4, n, 1), ConvBNAct(c3, n, 1)
        self.fuse4 = CSPLayer(n, n, 1)
        self.fuse3 = CSPLayer(n, n, 1)

        def head(cout: int) -> nn.Sequential:
            return nn.Sequential(ConvBNAct(n, n, 3), nn.Conv2d(n, cout, 1))

        self.heatmap = head(cfg.num_classes)
        self.size = head(2)
        self.offset = head(2)
        # Start heatmaps near sigmoid^-1(0.01) so the focal loss does not explode at step one.
        nn.init.constant_(self.heatmap[-1].bias, -4.6)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c3, c4, c5 = self.backbone(image)
        p4 = self.fuse4(self.lat4(c4) + F.interpolate(self.lat5(c5), scale_factor=2.0, mode="nearest"))
        p3 = self.fuse3(self.lat3(c3) + F.interpolate(p4, scale_factor=2.0, mode="nearest"))
        return self.heatmap(p3), self.size(p3), self.offset(p3)


class DetectorWithDecode(nn.Module):
    """Export wrapper: raw heads → dets [B, K, 6], sorted by score."""

    def __init__(self, detector: CenterNetDetector):
        super().__init__()
        self.detector = detector
        self.top_k = detector.cfg.top_k

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        heat, size, offset = self.detector(image)
        return decode_centernet(heat, size, offset, self.top_k)


def decode_centernet(heat_logits, size, offset, top_k: int) -> torch.Tensor:
    b, c, h, w = heat_logits.shape
    heat = torch.sigmoid(heat_logits)
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).to(heat.dtype)
    scores, flat_idx = peaks.reshape(b, -1).topk(min(top_k, c * h * w), dim=1)
    cls = torch.div(flat_idx, h * w, rounding_mode="floor")
    pix = flat_idx - cls * (h * w)
    ys = torch.div(pix, w, rounding_mode="floor")
    xs = pix - ys * w
    idx = pix.unsqueeze(1).expand(b, 2, -1)
    off = offset.reshape(b, 2, -1).gather(2, idx)
    wh = torch.exp(size.reshape(b, 2, -1).gather(2, idx).clamp(max=8.0)) * STRIDE
    cx = (xs.to(heat.dtype) + off[:, 0]) * STRIDE
    cy = (ys.to(heat.dtype) + off[:, 1]) * STRIDE
    return torch.stack(
        [cx - wh[:, 0] / 2, cy - wh[:, 1] / 2, cx + wh[:, 0] / 2, cy + wh[:, 1] / 2, scores, cls.to(heat.dtype)],
        dim=-1,
    )


def detection_targets(boxes: np.ndarray, classes: np.ndarray, cfg: DetectorConfig) -> dict[str, np.ndarray]:
    """Boxes (n,4) in network-input pixels → heatmap (C,H,W), size/offset (2,H,W) and their mask (H,W).

    Elliptical Gaussians with σ = box side / 6 · 0.54 (TTFNet's choice); size and offset are supervised at
    the centre cell only.
    """
    w_in, h_in = cfg.input_size
    hh, ww = h_in // STRIDE, w_in // STRIDE
    heat = np.zeros((cfg.num_classes, hh, ww), np.float32)
    size = np.zeros((2, hh, ww), np.float32)
    offset = np.zeros((2, hh, ww), np.float32)
    mask = np.zeros((hh, ww), np.float32)
    ys, xs = np.mgrid[0:hh, 0:ww].astype(np.float32)
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) if len(boxes) else []
    for i in order:  # large first so a small garment's centre cell wins
        x1, y1, x2, y2 = boxes[i] / STRIDE
        bw, bh = x2 - x1, y2 - y1
        if bw <= 0.25 or bh <= 0.25:
            continue
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ix, iy = min(max(int(cx), 0), ww - 1), min(max(int(cy), 0), hh - 1)
        sx, sy = max(bw / 6 * 0.54, 0.5), max(bh / 6 * 0.54, 0.5)
        g = np.exp(-((xs - ix) ** 2) / (2 * sx**2) - ((ys - iy) ** 2) / (2 * sy**2))
        c = int(classes[i])
        heat[c] = np.maximum(heat[c], g)
        heat[c, iy, ix] = 1.0
        size[:, iy, ix] = np.log([bw, bh])
        offset[:, iy, ix] = [cx - ix, cy - iy]
        mask[iy, ix] = 1.0
    return {"heat": heat, "size": size, "offset": offset, "mask": mask}


def detection_loss(outputs, targets: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    heat_logits, size, offset = outputs
    gt = targets["heat"]
    pred = torch.sigmoid(heat_logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg_weight = torch.pow(1 - gt, 4)
    pos_loss = torch.log(pred) * torch.pow(1 - pred, 2) * pos
    neg_loss = torch.log(1 - pred) * torch.pow(pred, 2) * neg_weight * (1 - pos)
    num_pos = pos.sum().clamp(min=1.0)
    focal = -(pos_loss.sum() + neg_loss.sum()) / num_pos
    mask = targets["mask"].unsqueeze(1)
    size_l1 = (F.l1_loss(size, targets["size"], reduction="none") * mask).sum() / num_pos
    off_l1 = (F.l1_loss(offset, targets["offset"], reduction="none") * mask).sum() / num_pos
    total = focal + size_l1 + off_l1
    return total, {"focal": float(focal.detach()), "size": float(size_l1.detach()), "offset": float(off_l1.detach())}
