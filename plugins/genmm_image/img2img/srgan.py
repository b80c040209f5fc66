"""The networks of SRGAN (Ledig, Theis, Huszár, Caballero, Cunningham, Acosta, Aitken, Tejani,
Totz, Wang & Shi 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR): section 2.2 and figure 4.

The generator, SRResNet: a 9x9 convolution (64 filters) and PReLU; ``B = 16`` residual blocks
of two 3x3 convolutions of 64 filters with batch norm, a PReLU after the first, and an
element-wise sum; a 3x3 convolution with batch norm summed with the first layer's output (the
long skip); then two upsampling blocks, each a 3x3 convolution to 256 channels, a sub-pixel
shuffle x2 (Shi et al. 2016) and a PReLU (x4 in all); and a 9x9 convolution to the output
channels. The PReLU slope is one learned value per layer (He et al. 2015's channel-shared form,
as ``nn.PReLU()``). No activation at the end (figure 4): the output is the image in [-1, 1]
(clamped where it is shown or measured). At the paper's settings on 3 channels: 1,549,462
parameters.

The discriminator (figure 4): eight 3x3 convolutions of 64, 64, 128, 128, 256, 256, 512, 512
filters with strides 1, 2, 1, 2, 1, 2, 1, 2, each followed by batch norm (not the first) and
LeakyReLU 0.2, then a dense layer of 1024 units, LeakyReLU 0.2 and a dense layer of one unit
(the sigmoid of the figure is in the log loss: D returns the logit). On 96x96 high-resolution
crops (the paper's) the dense layer sees 6 x 6 x 512 features: 23,565,505 parameters.
"""

from __future__ import annotations

from torch import Tensor, nn

from genmm_image.layers import from_description


class SRResidualBlock(nn.Module):
    """x + BN(conv3(PReLU(BN(conv3(x)))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.BatchNorm2d(channels),
            nn.PReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """Low-resolution image (B, C, h, w) in [-1, 1] -> (B, C, 4h, 4w)."""

    latent_dim = 0

    def __init__(
        self,
        channels: int | None = None,
        blocks: int = 16,
        width: int = 64,
        upsamplings: int = 2,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        channels = from_description(description, "channels", channels, 3, "channels")
        if blocks < 1 or width < 1 or upsamplings < 0:
            raise ValueError("blocks >= 1, width >= 1 and upsamplings >= 0 are needed")
        factor = (description or {}).get("factor")
        if factor is not None and int(factor) != 2**upsamplings:
            raise ValueError(
                f"the data is x{factor} super-resolution but upsamplings: {upsamplings} gives "
                f"x{2**upsamplings}"
            )
        self.channels, self.blocks, self.factor = channels, blocks, 2**upsamplings
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU())  # (B, 64, h, w)
        self.body = nn.Sequential(
            *[SRResidualBlock(width) for _ in range(blocks)],
            nn.Conv2d(width, width, 3, 1, 1),
            nn.BatchNorm2d(width),
        )
        upsampling: list[nn.Module] = []
        for _ in range(upsamplings):  # (B, 64, h, w) -> (B, 256, h, w) -> (B, 64, 2h, 2w)
            upsampling += [nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*upsampling)
        self.tail = nn.Conv2d(width, channels, 9, 1, 4)  # (B, C, 4h, 4w)

    def forward(self, low_resolution: Tensor) -> Tensor:
        head = self.head(low_resolution)
        return self.tail(self.upsample(head + self.body(head)))  # the long skip


class SRGANDiscriminator(nn.Module):
    """High-resolution image (B, C, S, S) -> one logit (B, 1): real or super-resolved."""

    def __init__(
        self,
        channels: int | None = None,
        image_size: int | None = None,
        width: int = 64,
        dense: int = 1024,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        channels = from_description(description, "channels", channels, 3, "channels")
        image_size = from_description(description, "image_size", image_size, 96, "image_size")
        if image_size % 16:
            raise ValueError(f"the image size must be divisible by 16 (4 stride-2 layers), got "
                             f"{image_size}")  # fmt: skip
        widths = [width, width, 2 * width, 2 * width, 4 * width, 4 * width, 8 * width, 8 * width]
        layers: list[nn.Module] = []
        previous = channels
        for index, filters in enumerate(widths):
            stride = 2 if index % 2 else 1  # (B, 64, S, S), (B, 64, S/2, S/2), ...
            layers.append(nn.Conv2d(previous, filters, 3, stride, 1))
            if index > 0:
                layers.append(nn.BatchNorm2d(filters))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            previous = filters
        self.features = nn.Sequential(*layers)  # (B, 512, S/16, S/16)
        side = image_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(previous * side * side, dense),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(dense, 1),
        )
        self.image_size = image_size

    def forward(self, image: Tensor) -> Tensor:
        return self.classifier(self.features(image))
