"""The networks of CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation
using Cycle-Consistent Adversarial Networks", ICCV): section 4 and appendix 7.2 (the
generator's layers), with the layer order, biases and initialisation of the authors' PyTorch
release (``ResnetGenerator`` in junyanz/pytorch-CycleGAN-and-pix2pix).

The generator (after Johnson et al. 2016): ``c7s1-64, d128, d256, R256 x n, u128, u64,
c7s1-3`` — ``c7s1-k`` a 7x7 convolution of stride 1 with k filters, instance norm and ReLU on
a reflection-padded input; ``dk`` a 3x3 convolution of stride 2 (instance norm, ReLU); ``Rk``
a residual block of two 3x3 convolutions (reflection padding, instance norm; ReLU after the
first only); ``uk`` a 3x3 fractionally strided convolution of stride 1/2 (instance norm,
ReLU); the last ``c7s1-3`` has no norm and ends in tanh. Six residual blocks at 128x128 and
nine at 256x256 (appendix 7.2); ``blocks`` defaults to that rule. Instance norm without
affine parameters (the authors' ``norm='instance'``), so every convolution has a bias: at nine
blocks and 3 channels this is 11,378,179 parameters, the figure the authors' code prints for
``resnet_9blocks``.

The discriminator is the 70x70 PatchGAN of pix2pix (``image.patchgan``) with ``conditional:
false`` (it sees one image, not a pair) and ``norm: instance``, as the authors' CycleGAN
(appendix 7.2: ``C64-C128-C256-C512``, LeakyReLU 0.2, instance norm, no norm on C64).

:class:`HistoryPool` is the paper's image buffer (section 4, after Shrivastava et al. 2017):
D is updated on a history of 50 generated images rather than the latest ones.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genmm_image.layers import dcgan_init, from_description


def paper_blocks(image_size: int) -> int:
    """Residual blocks by the paper's rule: 6 for 128x128 (and below), 9 for 256x256 and up."""
    return 6 if image_size <= 128 else 9


class ResidualBlock(nn.Module):
    """``Rk``: x + IN(conv3(pad(ReLU(IN(conv3(pad(x))))))) at k channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """Image of one domain (B, C_in, S, S) in [-1, 1] -> image of the other (B, C_out, S, S)."""

    latent_dim = 0  # deterministic: G(x)

    def __init__(
        self,
        in_channels: int | None = None,
        out_channels: int | None = None,
        image_size: int | None = None,
        blocks: int | None = None,
        width: int = 64,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        in_channels = from_description(description, "input_channels", in_channels, 3, "in_channels")
        out_channels = from_description(description, "channels", out_channels, 3, "out_channels")
        image_size = from_description(description, "image_size", image_size, 256, "image_size")
        blocks = paper_blocks(image_size) if blocks is None else blocks
        if blocks < 0 or width < 1 or image_size % 4:
            raise ValueError("blocks >= 0, width >= 1 and an image size divisible by 4 are needed")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.image_size, self.blocks, self.width = image_size, blocks, width

        def norm_relu(channels: int) -> list[nn.Module]:
            return [nn.InstanceNorm2d(channels), nn.ReLU(inplace=True)]

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7),  # c7s1-64: (B, 64, S, S)
            *norm_relu(width),
            nn.Conv2d(width, 2 * width, 3, 2, 1),  # d128: (B, 128, S/2, S/2)
            *norm_relu(2 * width),
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1),  # d256: (B, 256, S/4, S/4)
            *norm_relu(4 * width),
        ]
        layers += [ResidualBlock(4 * width) for _ in range(blocks)]  # R256 x n
        layers += [
            nn.ConvTranspose2d(4 * width, 2 * width, 3, 2, 1, output_padding=1),  # u128: S/2
            *norm_relu(2 * width),
            nn.ConvTranspose2d(2 * width, width, 3, 2, 1, output_padding=1),  # u64: S
            *norm_relu(width),
            nn.ReflectionPad2d(3),
            nn.Conv2d(width, out_channels, 7),  # c7s1-3: (B, 3, S, S)
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)
        dcgan_init(self)  # the authors' init_weights('normal', 0.02)

    def forward(self, image: Tensor) -> Tensor:
        return self.model(image)


class HistoryPool:
    """The buffer of generated images D learns from (section 4, "we update the discriminators
    using a history of generated images rather than the ones produced by the latest
    generators"; the authors' ``ImagePool``).

    :meth:`query` takes a batch of new images, one by one: while the pool holds fewer than
    ``size`` images, each new image is stored and returned; once full, with probability 1/2 a
    stored image (chosen uniformly) is returned and the new one takes its place, otherwise the
    new image is returned and the pool is left alone. ``size: 0`` returns the batch as given.
    Random draws come from torch's global stream (saved and restored by the core on resume);
    the stored images are part of the trainer's state.
    """

    def __init__(self, size: int = 50) -> None:
        if size < 0:
            raise ValueError(f"the history pool's size must be >= 0, got {size}")
        self.size = size
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        chosen = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                chosen.append(image)
            elif float(torch.rand(())) > 0.5:
                index = int(torch.randint(len(self.images), ()))
                chosen.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                chosen.append(image)
        return torch.cat(chosen)

    def state_dict(self) -> dict:
        stacked = torch.cat(self.images).cpu() if self.images else torch.zeros(0)
        return {"size": self.size, "images": stacked}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        images = state.get("images")
        self.images = (
            [] if images is None or images.numel() == 0 else list(images.to(device).split(1))
        )
