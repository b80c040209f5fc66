"""The U-Net generator of pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation
with Conditional Adversarial Networks", CVPR): section 3.2.1 (skip connections between each
layer i and layer n - i) and appendix 6.1.1 (the layers).

Encoder ``C64-C128-C256-C512-C512-C512-C512-C512`` for 256x256 (``Ck``: 4x4 convolution,
stride 2, batch norm, ReLU; leaky with slope 0.2 in the encoder; no batch norm on the first
layer). Decoder ``CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128`` counted with the skip maps
concatenated (``CDk``: with dropout 0.5), then a convolution to the output channels and tanh.
The first three decoder blocks carry the dropout, as the paper and the authors' Torch code
(``defineG_unet``, d1-d3) place it; dropout is the generator's only noise (section 3.1), so
``latent_dim`` is 0 and the generator is called as ``G(input_image)``.

The layer order and biases follow the authors' PyTorch release (``UnetGenerator``,
junyanz/pytorch-CycleGAN-and-pix2pix): each block is activation -> convolution -> batch norm,
convolutions followed by batch norm have no bias, and the innermost encoder layer (1x1) has
no batch norm. At 256x256 with 3 channels in and out this is 54,413,955 parameters, the
figure that code prints for ``unet_256``.

``depth`` (the number of stride-2 layers) defaults to log2(image_size): the map reaches 1x1,
as in the paper (8 at 256, 7 at 128 as the authors' ``unet_128``, 6 at 64). Widths double from
``width`` up to ``max_width``.

Test time (section 3.3 and the authors' ``test.py``): the generator runs as in training,
dropout on, batch norm on the statistics of the test batch, which is one image
(``inference: paper``: each image normalised by its own statistics, whatever the number of
images generated at once). ``inference: running`` is the usual eval mode (running averages,
no dropout).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm_image.layers import dcgan_init, from_description

Inference = Literal["paper", "running"]


class TestTimeBatchNorm(nn.BatchNorm2d):
    """Batch norm that, out of training, normalises each image by its own statistics
    (``per_image``: the authors' test batch of one) instead of the running averages."""

    def __init__(self, channels: int, per_image: bool) -> None:
        super().__init__(channels)
        self.per_image = per_image

    def forward(self, x: Tensor) -> Tensor:
        if self.training or not self.per_image:
            return super().forward(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


class TestTimeDropout(nn.Dropout):
    """Dropout that stays on out of training when ``always`` (pix2pix's noise at test time)."""

    def __init__(self, p: float, always: bool) -> None:
        super().__init__(p)
        self.always = always

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=self.training or self.always)


def encoder_widths(depth: int, width: int, max_width: int) -> list[int]:
    """64, 128, 256, 512, 512, ... : doubling from ``width``, capped at ``max_width``."""
    return [min(width * 2**i, max_width) for i in range(depth)]


class UNetGenerator(nn.Module):
    """Input image (B, C_in, S, S) in [-1, 1] -> output image (B, C_out, S, S) in [-1, 1]."""

    latent_dim = 0  # no z: dropout is the noise (section 3.1)

    def __init__(
        self,
        in_channels: int | None = None,
        out_channels: int | None = None,
        image_size: int | None = None,
        depth: int | None = None,
        width: int = 64,
        max_width: int = 512,
        dropout: float = 0.5,
        dropout_blocks: int = 3,
        inference: Inference = "paper",
        description: dict | None = None,
    ) -> None:
        super().__init__()
        in_channels = from_description(description, "input_channels", in_channels, 3, "in_channels")
        out_channels = from_description(description, "channels", out_channels, 3, "out_channels")
        image_size = from_description(description, "image_size", image_size, 256, "image_size")
        if inference not in ("paper", "running"):
            raise ValueError(f"inference must be 'paper' or 'running', got {inference!r}")
        if depth is None:
            depth = int(round(math.log2(image_size)))
        if depth < 2 or image_size % 2**depth:
            raise ValueError(
                f"depth {depth} needs an image size divisible by 2**depth (got {image_size}); "
                "the paper's U-Net goes down to 1x1: depth = log2(image_size)"
            )
        if not 0.0 <= dropout < 1.0 or dropout_blocks < 0:
            raise ValueError("dropout must lie in [0, 1) and dropout_blocks be >= 0")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.image_size, self.depth, self.inference = image_size, depth, inference
        per_image = inference == "paper"
        widths = encoder_widths(depth, width, max_width)

        # encoder: e1 = conv(x); e_k = BN(conv(LReLU(e_{k-1}))); the innermost has no BN
        self.down = nn.ModuleList([nn.Conv2d(in_channels, widths[0], 4, 2, 1, bias=False)])
        for k in range(1, depth):
            layers: list[nn.Module] = [
                nn.LeakyReLU(0.2),  # not in place: e_{k-1} is also the skip map
                nn.Conv2d(widths[k - 1], widths[k], 4, 2, 1, bias=False),
            ]
            if k < depth - 1:
                layers.append(TestTimeBatchNorm(widths[k], per_image))
            self.down.append(nn.Sequential(*layers))

        # decoder: d_j = [Dropout](BN(deconv(ReLU(cat(d_{j-1}, e_{n-j+1}))))), out: tanh
        self.up = nn.ModuleList()
        for j in range(1, depth):
            inputs = widths[depth - 1] if j == 1 else 2 * widths[depth - j]
            outputs = widths[depth - j - 1]
            layers = [
                nn.ReLU(inplace=j > 1),  # in place on the concatenation, not on e_n
                nn.ConvTranspose2d(inputs, outputs, 4, 2, 1, bias=False),
                TestTimeBatchNorm(outputs, per_image),
            ]
            if j <= dropout_blocks and dropout > 0:
                layers.append(TestTimeDropout(dropout, always=per_image))
            self.up.append(nn.Sequential(*layers))
        self.up.append(
            nn.Sequential(
                nn.ReLU(inplace=True),
                nn.ConvTranspose2d(2 * widths[0], out_channels, 4, 2, 1),
                nn.Tanh(),
            )
        )
        dcgan_init(self)  # the authors' init: N(0, 0.02) weights, BN scales N(1, 0.02)

    def encode(self, x: Tensor) -> list[Tensor]:
        """The encoder's maps e_1 ... e_n: (B, 64, S/2, S/2), ..., (B, 512, S/2^n, S/2^n)."""
        features = []
        for layer in self.down:
            x = layer(x)
            features.append(x)
        return features

    def decode(self, features: list[Tensor]) -> Tensor:
        """Up from the innermost map e_n, concatenating e_{n-j} after each decoder block."""
        x = self.up[0](features[-1])  # (B, 512, 2, 2) at 1x1 innermost
        for j in range(1, self.depth):
            skip = features[self.depth - 1 - j]
            x = self.up[j](torch.cat([x, skip], 1))  # the skip: channels concatenated
        return x  # (B, C_out, S, S)

    def forward(self, image: Tensor) -> Tensor:
        return self.decode(self.encode(image))
