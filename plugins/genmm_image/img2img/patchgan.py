"""The 70x70 PatchGAN discriminator of pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image
Translation with Conditional Adversarial Networks", CVPR): section 3.2.2 (D classifies each
N x N patch as real or fake; the responses are averaged) and appendix 6.1.2 (the layers).

``C64-C128-C256-C512``, then a convolution to one channel (``Ck``: 4x4 convolution, batch
norm, LeakyReLU 0.2; no batch norm on the first layer; the first three with stride 2, the last
two with stride 1, as in the authors' ``NLayerDiscriminator``, whose output units each see a
70x70 patch of the input). D is conditional: it sees the input image and the (real or
generated) output concatenated along the channels, ``D(cat(x, y))`` (section 2, eq. 1), and
returns one logit per patch, ``(B, 1, S/8 - 2, S/8 - 2)``: 30x30 at 256, 14x14 at 128, 6x6 at
64. With 3 + 3 input channels: 2,768,705 parameters, the figure the authors' code prints.

``layers`` is the authors' ``n_layers`` (3: 70x70; 1: 16x16; 5: 286x286 patches); widths
double from ``width`` up to ``8 x width``.

CycleGAN (Zhu et al. 2017, appendix 7.2) uses the same 70x70 PatchGAN unconditionally, on one
image (``conditional: false``: called ``D(image)``), with instance norm instead of batch norm
(``norm: instance``: the authors' ``norm='instance'``, no affine parameters, so the
convolutions keep their biases): 2,764,737 parameters on 3 channels.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from genmm_image.layers import dcgan_init, from_description


def receptive_field(layers: int) -> int:
    """The side of the input patch one output unit sees: 70 for ``layers = 3``."""
    size = 1
    strides = [1, 1] + [2] * layers  # from the output back: last conv, stride-1 conv, the rest
    for stride in strides:
        size = (size - 1) * stride + 4
    return size


class PatchGANDiscriminator(nn.Module):
    """(output image (B, C_out, S, S), input image (B, C_in, S, S)) -> patch logits."""

    conditional = True  # called as D(image, condition): the condition is the input image

    def __init__(
        self,
        in_channels: int | None = None,
        out_channels: int | None = None,
        width: int = 64,
        layers: int = 3,
        conditional: bool = True,
        norm: Literal["batch", "instance"] = "batch",
        description: dict | None = None,
    ) -> None:
        super().__init__()
        in_channels = from_description(description, "input_channels", in_channels, 3, "in_channels")
        out_channels = from_description(description, "channels", out_channels, 3, "out_channels")
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        if norm not in ("batch", "instance"):
            raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")
        self.in_channels, self.out_channels, self.layers = in_channels, out_channels, layers
        self.conditional = conditional  # unconditional (CycleGAN): D(image) alone
        self.receptive_field = receptive_field(layers)
        seen = in_channels + out_channels if conditional else out_channels
        instance = norm == "instance"

        def normalise(channels: int) -> nn.Module:
            return nn.InstanceNorm2d(channels) if instance else nn.BatchNorm2d(channels)

        blocks: list[nn.Module] = [
            nn.Conv2d(seen, width, 4, 2, 1),  # (B, 64, S/2, S/2)
            nn.LeakyReLU(0.2, inplace=True),
        ]
        multiple = 1
        for n in range(1, layers + 1):
            previous, multiple = multiple, min(2**n, 8)
            stride = 2 if n < layers else 1  # (B, 128, S/4), (B, 256, S/8), (B, 512, S/8 - 1)
            blocks += [
                nn.Conv2d(width * previous, width * multiple, 4, stride, 1, bias=instance),
                normalise(width * multiple),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        blocks.append(nn.Conv2d(width * multiple, 1, 4, 1, 1))  # (B, 1, S/8 - 2, S/8 - 2)
        self.model = nn.Sequential(*blocks)
        dcgan_init(self)

    def forward(self, image: Tensor, condition: Tensor | None = None) -> Tensor:
        if not self.conditional:
            return self.model(image)
        return self.model(torch.cat([condition, image], 1))
