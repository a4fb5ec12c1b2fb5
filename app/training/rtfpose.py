"""RTFPose-style top-down keypoint network: CSPNeXt + MECS + CSFF + SAFE + RTMCC (SimCC/GAU) head.

The paper (Feng et al., Journal of Textile Research 2026) names the three modules and their purpose but its
text gives no layer-level detail, so they are built as follows:
- MECS (median-enhanced channel and spatial attention): a channel gate from average-, max- and median-pooled
  descriptors through one shared MLP (the median resists the outliers that occluders and folds cause), then a
  spatial gate from multi-scale depthwise strip convolutions.
- CSFF (cross-scale feature fusion): the stride-8, -16 and -32 maps are brought to stride 16 (strided conv
  down, upsample up), concatenated and fused with a CSP layer, so fine detail and semantics meet.
- SAFE (self-attention feature enhancement): spatial self-attention over the fused map's tokens with a
  learned, zero-initialised residual weight.
The head is RTMPose's RTMCC head: 7×7 conv to K maps, flatten, ScaleNorm + Linear, one GAU block over the K
keypoint tokens, then two linear SimCC classifiers.

Optional category head (``num_categories`` > 0): average- and max-pooled fused features → MLP → category
logits. The crop shows the whole garment at pose resolution, so it tells look-alike categories (short vs long
sleeve, top vs outwear, vest vs sling) apart far better than the detector's stride-8 class heatmaps; the
runtime combines both (see inference/category_fusion.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from app.training.layers import ConvBNAct, CSPLayer, CSPNeXt


@dataclass(frozen=True)
class PoseConfig:
    input_size: tuple[int, int] = (128, 128)  # (w, h)
    num_keypoints: int = 81
    simcc_split_ratio: float = 2.0
    widths: tuple[int, int, int, int] = (24, 48, 96, 192)
    blocks: tuple[int, int, int, int] = (1, 1, 1, 1)
    stem: int = 16
    fuse_channels: int = 96
    hidden: int = 128  # GAU token width
    gau_s: int = 64
    # >0 adds a garment-category classifier on the crop (13 for DF2); 0 = keypoints only (older models).
    num_categories: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> PoseConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc.items()})


FUSED_STRIDE = 16  # CSFF's output, which the head's keypoint maps and the category head read


def token_grid(input_size: tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of the fused keypoint maps the head flattens, for a (w, h) input."""
    w, h = input_size
    return h // FUSED_STRIDE, w // FUSED_STRIDE


def lower_median(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Lower median along dim via top-k (exports to ONNX TopK, unlike torch.median)."""
    n = x.shape[dim]
    k = n - (n - 1) // 2  # the lower median is the k-th largest
    return x.topk(k, dim=dim).values.narrow(dim, k - 1, 1).squeeze(dim)


class MECS(nn.Module):
    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        mid = max(channels // reduction, 8)
        self.mlp = nn.Sequential(nn.Conv2d(channels, mid, 1), nn.SiLU(inplace=True), nn.Conv2d(mid, channels, 1))
        self.local = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.strips = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, (1, k), padding=(0, k // 2), groups=channels),
                nn.Conv2d(channels, channels, (k, 1), padding=(k // 2, 0), groups=channels),
            )
            for k in (3, 5, 7)
        )
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        pooled = (flat.mean(-1), flat.amax(-1), lower_median(flat, -1))
        gate = sum(self.mlp(p[..., None, None]) for p in pooled)
        x = x * torch.sigmoid(gate)
        base = self.local(x)
        spatial = base + sum(s(base) for s in self.strips)
        return x * torch.sigmoid(self.mix(spatial))


class CSFF(nn.Module):
    def __init__(self, in_channels: tuple[int, int, int], out_channels: int):
        super().__init__()
        c3, c4, c5 = in_channels
        part = out_channels // 2
        self.down = ConvBNAct(c3, part, 3, 2)
        self.mid = ConvBNAct(c4, part, 1)
        self.up = ConvBNAct(c5, part, 1)
        self.fuse = CSPLayer(3 * part, out_channels, 1)

    def forward(self, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.up(c5), scale_factor=2.0, mode="nearest")
        return self.fuse(torch.cat([self.down(c3), self.mid(c4), up], dim=1))


class SAFE(nn.Module):
    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        qk = max(channels // reduction, 8)
        self.q = nn.Conv2d(channels, qk, 1)
        self.k = nn.Conv2d(channels, qk, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.scale = qk**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # B, N, qk
        k = self.k(x).flatten(2)  # B, qk, N
        v = self.v(x).flatten(2).transpose(1, 2)  # B, N, C
        attn = torch.softmax(q @ k * self.scale, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, c, h, w)
        return x + self.gamma * out


class ScaleNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class GAU(nn.Module):
    """Gated attention unit over keypoint tokens (RTMCCBlock): relu²(qk/√s) kernel, gated by u."""

    def __init__(self, dim: int, s: int = 64, expansion: int = 2):
        super().__init__()
        self.e = dim * expansion
        self.s = s
        self.norm = ScaleNorm(dim)
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.randn(2, s) * 0.02 + 1.0)
        self.beta = nn.Parameter(torch.zeros(2, s))
        self.out = nn.Linear(self.e, dim, bias=False)
        self.res_scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        uv = F.silu(self.uv(self.norm(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        q = base * self.gamma[0] + self.beta[0]
        k = base * self.gamma[1] + self.beta[1]
        kernel = torch.square(F.relu(q @ k.transpose(1, 2) / math.sqrt(self.s)))
        return x * self.res_scale + self.out(u * (kernel @ v))


class RTFPose(nn.Module):
    def __init__(self, cfg: PoseConfig):
        super().__init__()
        self.cfg = cfg
        w, h = cfg.input_size
        if w % 32 or h % 32:  # CSFF meets the stride-8, -16 and -32 maps at stride 16: all must divide evenly
            raise ValueError(f"pose input size must be a multiple of 32, got {cfg.input_size}")
        self.backbone = CSPNeXt(cfg.widths, cfg.stem, cfg.blocks)
        c3, c4, c5 = self.backbone.out_channels
        self.mecs = MECS(c5)
        self.csff = CSFF((c3, c4, c5), cfg.fuse_channels)
        self.safe = SAFE(cfg.fuse_channels)
        k = cfg.num_keypoints
        self.final_conv = nn.Conv2d(cfg.fuse_channels, k, 7, padding=3)
        rows, cols = token_grid(cfg.input_size)
        flat = rows * cols
        self.token = nn.Sequential(ScaleNorm(flat), nn.Linear(flat, cfg.hidden, bias=False))
        self.gau = GAU(cfg.hidden, cfg.gau_s)
        self.cls_x = nn.Linear(cfg.hidden, int(w * cfg.simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(cfg.hidden, int(h * cfg.simcc_split_ratio), bias=False)
        self.category = None
        if cfg.num_categories > 0:
            c = cfg.fuse_channels
            self.category = nn.Sequential(
                nn.Linear(2 * c, c), nn.SiLU(inplace=True), nn.Dropout(0.1), nn.Linear(c, cfg.num_categories)
            )

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(simcc_x, simcc_y) or, with a category head, (simcc_x, simcc_y, category_logits)."""
        c3, c4, c5 = self.backbone(crops)
        fused = self.safe(self.csff(c3, c4, self.mecs(c5)))
        tokens = self.gau(self.token(self.final_conv(fused).flatten(2)))
        if self.category is None:
            return self.cls_x(tokens), self.cls_y(tokens)
        flat = fused.flatten(2)
        pooled = torch.cat([flat.mean(-1), flat.amax(-1)], dim=1)
        return self.cls_x(tokens), self.cls_y(tokens), self.category(pooled)


def resample_to_input_size(weights: dict[str, torch.Tensor], old: PoseConfig, new: PoseConfig) -> dict:
    """A checkpoint's weights for a network of another input size: the convolutions carry over as they are;
    the parts tied to the input's size are resampled so the new network starts where the old one was.

    - ``token.1.weight`` reads the flattened stride-16 keypoint maps: its (h/16)·(w/16) inputs are resized
      bilinearly as the maps they read, and scaled so a map's response keeps its size (ScaleNorm before it
      keeps each input element's magnitude, the Linear sums more of them).
    - ``cls_x.weight`` and ``cls_y.weight`` have one row per SimCC bin: bin j of the new crop sits at the
      same place in the garment as bin j·old/new of the old crop, so rows are interpolated along the bins.
    Weights of the same shape in both networks are returned unchanged.
    """
    if old.input_size == new.input_size:
        return dict(weights)
    (nw, nh), old_grid, new_grid = new.input_size, token_grid(old.input_size), token_grid(new.input_size)
    out = dict(weights)
    token = weights.get("token.1.weight")
    if token is not None:
        resized = F.interpolate(token.reshape(token.shape[0], 1, *old_grid), size=new_grid, mode="bilinear",
                                align_corners=False)
        out["token.1.weight"] = resized.flatten(1) * (old_grid[0] * old_grid[1] / (new_grid[0] * new_grid[1]))
    for name, bins in (("cls_x.weight", int(nw * new.simcc_split_ratio)),
                       ("cls_y.weight", int(nh * new.simcc_split_ratio))):
        rows = weights.get(name)
        if rows is not None:  # (bins, hidden) → interpolate along the bins
            out[name] = F.interpolate(rows.T[None], size=bins, mode="linear", align_corners=False)[0].T.contiguous()
    return out


def simcc_kl_loss(
    pred_x: torch.Tensor,
    pred_y: torch.Tensor,
    target_x: torch.Tensor,
    target_y: torch.Tensor,
    weight: torch.Tensor,
    beta: float = 10.0,
) -> torch.Tensor:
    """KL(target ‖ softmax(pred)) per axis, targets sharpened as softmax(beta·gaussian) (RTMPose's
    label_softmax); logits are not scaled, so softmax(logits) at inference is the trained distribution.
    Averaged over the weighted (present and labelled) keypoints only."""

    def axis_loss(pred, target):
        log_p = F.log_softmax(pred, dim=-1)
        t = F.softmax(target * beta, dim=-1)
        return (t * (torch.log(t.clamp(min=1e-12)) - log_p)).sum(-1)

    per_kp = axis_loss(pred_x, target_x) + axis_loss(pred_y, target_y)
    return (per_kp * weight).sum() / weight.sum().clamp(min=1.0)
