"""CSPNeXt building blocks (RTMPose/RTMDet backbone family), sized down for CPU training.

Shapes follow mmpose's CSPNeXt: a stem of three 3×3 convs (stride 2), then four stages, each a stride-2
conv followed by a CSP layer of depthwise-separable blocks with channel attention; SPP in the last stage.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.SiLU(inplace=True) if act else nn.Identity(),
        )


class DepthwiseSeparable(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 5):
        super().__init__(ConvBNAct(cin, cin, k, groups=cin), ConvBNAct(cin, cout, 1))


class CSPNeXtBlock(nn.Module):
    """3×3 conv then 5×5 depthwise-separable conv, with identity shortcut."""

    def __init__(self, channels: int, shortcut: bool = True):
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3)
        self.conv2 = DepthwiseSeparable(channels, channels, 5)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return x + y if self.shortcut else y


class ChannelAttention(nn.Module):
    """CSPNeXt's global-average-pool channel gate (hard-sigmoid in mmdet; plain sigmoid here)."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc(x.mean(dim=(2, 3), keepdim=True)))


class CSPLayer(nn.Module):
    def __init__(self, cin: int, cout: int, num_blocks: int, shortcut: bool = True):
        super().__init__()
        mid = max(cout // 2, 8)
        self.main = ConvBNAct(cin, mid, 1)
        self.short = ConvBNAct(cin, mid, 1)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, shortcut) for _ in range(num_blocks)])
        self.attention = ChannelAttention(2 * mid)
        self.final = ConvBNAct(2 * mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.blocks(self.main(x)), self.short(x)], dim=1)
        return self.final(self.attention(y))


class SPPBottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, kernels: tuple[int, ...] = (5, 9, 13)):
        super().__init__()
        mid = cin // 2
        self.reduce = ConvBNAct(cin, mid, 1)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernels)
        self.expand = ConvBNAct(mid * (len(kernels) + 1), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        return self.expand(torch.cat([x] + [p(x) for p in self.pools], dim=1))


class CSPNeXt(nn.Module):
    """Returns the stride-8, -16 and -32 feature maps (C3, C4, C5)."""

    def __init__(self, widths: tuple[int, int, int, int], stem: int, blocks: tuple[int, int, int, int]):
        super().__init__()
        self.stem = nn.Sequential(
            ConvBNAct(3, stem // 2, 3, 2), ConvBNAct(stem // 2, stem // 2, 3), ConvBNAct(stem // 2, stem, 3)
        )
        stages, cin = [], stem
        for i, (cout, n) in enumerate(zip(widths, blocks, strict=True)):
            layers: list[nn.Module] = [ConvBNAct(cin, cout, 3, 2)]
            if i == len(widths) - 1:
                layers.append(SPPBottleneck(cout, cout))
            layers.append(CSPLayer(cout, cout, n, shortcut=i < len(widths) - 1))
            stages.append(nn.Sequential(*layers))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.out_channels = widths[1:]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats[1], feats[2], feats[3]
