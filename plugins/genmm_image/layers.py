"""Layers shared by the image models: the DCGAN trunks (Radford et al. 2015, section 3) that
the DCGAN and conditional models build on, DCGAN initialisation, the latent prior, and minibatch
standard deviation (Karras et al. 2018, "Progressive Growing of GANs", section 3)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

LATENTS = ("uniform", "normal")

# The DCGAN trunks keep their convolution weights and activations channels-last (NHWC):
# oneDNN's convolutions and their gradients run about 12 % faster so on this CPU (a DCGAN
# 64x64 training step, one thread: 1.45 s against 1.64 s), and cuDNN takes NHWC as well.
# Checkpoints store plain contiguous tensors; loading copies them back into this layout.
MEMORY_FORMAT = torch.channels_last


def stages(image_size: int) -> int:
    """Number of stride-2 layers between 4x4 and ``image_size`` (a power of two >= 8)."""
    count = int(round(math.log2(max(image_size, 1) / 4)))
    if image_size < 8 or 4 * 2**count != image_size:
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
    return count


def padding_for(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) so that a stride-2 (transposed) convolution halves (doubles)."""
    return (kernel_size - 1) // 2, kernel_size % 2


def from_description(
    description: dict[str, Any] | None, fact: str, given: int | None, default: int, argument: str
) -> int:
    """A shape fact of the model (``image_size``, ``channels``, ``num_classes``): the recipe's
    argument when given, else the data's description, else ``default``. An argument that
    contradicts the data is a clear error naming both."""
    known = (description or {}).get(fact)
    if given is None:
        return int(known) if known is not None else default
    if known is not None and int(known) != given:
        raise ValueError(
            f"{argument} is {given} but the data gives {fact} {known}: set {argument}: {known} "
            f"(or leave it out, the model takes it from the data)"
        )
    return given


def check_latent(latent: str) -> str:
    if latent not in LATENTS:
        raise ValueError(f"latent must be 'uniform' (the DCGAN paper) or 'normal', got {latent!r}")
    return latent


def draw_latent(latent: str, n: int, dim: int, device: torch.device | str) -> Tensor:
    """``n`` codes of ``dim`` values: uniform in [-1, 1] or standard normal."""
    if latent == "uniform":
        return torch.rand(n, dim, device=device).mul_(2).sub_(1)
    return torch.randn(n, dim, device=device)


class UpsamplingTrunk(nn.Module):
    """DCGAN generator body: code -> project and reshape to 4x4 (BN, ReLU) -> stride-2
    transposed convolutions (BN, ReLU) -> tanh image; batch norm on all but the output.

    Widths halve from ``width * 2^(stages-1)`` at 4x4 to ``width`` before the output layer.
    """

    def __init__(
        self, in_features: int, image_size: int, channels: int, width: int, kernel_size: int
    ) -> None:
        super().__init__()
        count = stages(image_size)
        widths = [width * 2 ** (count - 1 - i) for i in range(count)] + [channels]
        self.start = widths[0]
        self.project = nn.Linear(in_features, 16 * widths[0], bias=False)  # (B, in) -> (B, 16 C0)
        self.project_norm = nn.BatchNorm2d(widths[0])
        padding, extra = padding_for(kernel_size)
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            last = index == count - 1
            layers.append(
                nn.ConvTranspose2d(
                    width_in, width_out, kernel_size, 2, padding, extra, bias=last
                )  # (B, Cin, S, S) -> (B, Cout, 2S, 2S)
            )
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(width_out), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers).to(memory_format=MEMORY_FORMAT)

    def forward(self, code: Tensor) -> Tensor:  # (B, in) -> (B, C, image_size, image_size)
        x = self.project(code).view(code.shape[0], self.start, 4, 4)  # (B, C0, 4, 4)
        x = torch.relu_(self.project_norm(x)).contiguous(memory_format=MEMORY_FORMAT)
        return self.layers(x)


class DownsamplingTrunk(nn.Module):
    """DCGAN discriminator body: stride-2 convolutions with LeakyReLU, batch norm from the
    second block on (``batch_norm``), optional spectral norm. Returns every block's output;
    the last is ``(B, last_width, 4, 4)``."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        width: int,
        kernel_size: int,
        slope: float,
        batch_norm: bool,
        spectral_norm: bool,
    ) -> None:
        super().__init__()
        count = stages(image_size)
        widths = [in_channels] + [width * 2**i for i in range(count)]
        self.last_width = widths[-1]
        padding, _ = padding_for(kernel_size)
        self.blocks = nn.ModuleList()
        for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            norm = batch_norm and index > 0
            conv = nn.Conv2d(width_in, width_out, kernel_size, 2, padding, bias=not norm)
            layers: list[nn.Module] = [maybe_spectral(conv, spectral_norm)]  # (B,Ci,S,S)->S/2
            if norm:
                layers.append(nn.BatchNorm2d(width_out))
            layers.append(nn.LeakyReLU(slope, inplace=True))
            self.blocks.append(nn.Sequential(*layers))
        self.blocks.to(memory_format=MEMORY_FORMAT)

    def forward(self, x: Tensor) -> list[Tensor]:  # (B, C, S, S) -> [(B, width, S/2, S/2), ...]
        x = x.contiguous(memory_format=MEMORY_FORMAT)
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs


def dcgan_init(module: nn.Module) -> None:
    """Weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02), shifts 0 (Radford et al. 2015,
    section 4: "All weights were initialized from a zero-centered Normal distribution with
    standard deviation 0.02")."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class MinibatchStd(nn.Module):
    """Appends one feature map: the standard deviation of each feature and position over a
    group of ``group_size`` samples, averaged (Karras et al. 2018, sec. 3). A remedy against
    mode collapse: D sees how varied a batch is. ``(B, C, H, W) -> (B, C + 1, H, W)``."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        group = min(self.group_size, batch)
        if batch % group:
            group = 1
        if group == 1:  # no group to measure: the spread over the whole batch
            std = x.float().std(0, unbiased=False, keepdim=True).mean().expand(batch)
        else:
            grouped = x.float().view(group, batch // group, channels, height, width)
            std = (grouped.var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/G,)
            std = std.repeat(group)  # sample i belongs to group i % (B/G)
        feature = std.to(x.dtype).view(batch, 1, 1, 1).expand(batch, 1, height, width)
        return torch.cat([x, feature], 1)


def maybe_spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) when ``enabled``."""
    return nn.utils.parametrizations.spectral_norm(layer) if enabled else layer
