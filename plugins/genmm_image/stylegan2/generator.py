"""StyleGAN2 generator (Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN"): mapping network (StyleGAN sec. 2, 8 FC layers, lr multiplier 0.01), synthesis
network with a learned constant input, modulated/demodulated convolutions (sec. 2.2), per-layer
noise inputs, and the "skip" output architecture (sec. 4.1, fig. 7b: each resolution's tRGB
output is added to the upsampled image of the previous resolution). Truncation trick
(StyleGAN sec. 4.1, ``w' = w_avg + psi (w - w_avg)``), the noise mode and style mixing are
keyword arguments of the forward: ``G(z, truncation=0.7, noise_mode="const", mix=z2,
crossover=4)``.

Widths follow the official configuration: ``channels(res) = min(channel_base // res,
channel_max)``. Paper (config F) defaults: z = w = 512, 8 mapping layers, channel_base 32768,
channel_max 512. The stylegan2-ada-pytorch ``cifar`` configuration uses 2 mapping layers with
the same widths (512 channels at every resolution up to 32²).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genmm_image.layers import from_description
from genmm_image.stylegan2.layers import EqualLinear, ModulatedConv2d, lrelu, upsample

#: the per-layer noise inputs: a fixed map per layer, fresh noise, or none
NOISE_MODES = ("const", "random", "none")


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // resolution, channel_max)


class MappingNetwork(nn.Module):
    """z (normalised to unit second moment) -> ``layers`` FC + lrelu -> w; tracks ``w_avg``."""

    def __init__(
        self,
        z_dim: int = 512,
        w_dim: int = 512,
        layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        widths = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList(
            EqualLinear(a, b, lr_multiplier=lr_multiplier, activation=True)
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, truncation: float = 1.0, update_w_avg: bool = False) -> Tensor:
        # (B, z_dim) -> (B, w_dim)
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        for layer in self.layers:
            x = layer(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.lerp_(x.detach().mean(0), 1.0 - self.w_avg_beta)
        if truncation != 1.0:
            x = self.w_avg.lerp(x, truncation)
        return x


class NoiseInput(nn.Module):
    """Per-pixel Gaussian noise (one channel, broadcast) times a learned strength (init 0)."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("constant", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, mode: str) -> Tensor:
        if mode == "none":
            return x
        if mode == "const":
            noise = self.constant
        else:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device)
        return x + noise.to(x.dtype) * self.strength


class StyleLayer(nn.Module):
    """Modulated conv -> noise -> bias + lrelu (one "style block" of StyleGAN2 fig. 2c)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise = NoiseInput(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        return lrelu(self.noise(self.conv(x, w), noise_mode), self.bias)


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, plus bias, no activation."""

    def __init__(self, in_channels: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: (up-sampling conv,) conv, tRGB; the image path is upsampled and summed."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, channels):
        super().__init__()
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            self.conv0 = StyleLayer(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = StyleLayer(out_channels, out_channels, w_dim, resolution, up=False)
        self.torgb = ToRGB(out_channels, channels, w_dim)
        self.num_ws = 1 if self.first else 2  # ws consumed by convs; tRGB shares the next one

    def forward(self, x: Tensor | None, image: Tensor | None, ws: Tensor, noise_mode: str):
        # ws: (B, num_ws + 1, w_dim); x: (B, in, R/2, R/2) -> (B, out, R, R)
        if self.first:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)
            x = x.contiguous(memory_format=torch.channels_last)  # NHWC: faster CPU convs
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        rgb = self.torgb(x, ws[:, self.num_ws])
        image = rgb if image is None else upsample(image) + rgb
        return x, image


class SynthesisNetwork(nn.Module):
    """Constant 4x4 input -> blocks at 4, 8, ..., resolution; ``num_ws = 2 log2(res) - 2``."""

    def __init__(
        self,
        w_dim: int = 512,
        resolution: int = 32,
        channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
    ) -> None:
        super().__init__()
        levels = int(math.log2(resolution))
        if 2**levels != resolution or resolution < 4:
            raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
        self.resolutions = [2**i for i in range(2, levels + 1)]
        self.blocks = nn.ModuleList()
        in_channels = 0
        for res in self.resolutions:
            out_channels = channels_at(res, channel_base, channel_max)
            self.blocks.append(SynthesisBlock(in_channels, out_channels, w_dim, res, channels))
            in_channels = out_channels
        self.num_ws = sum(block.num_ws for block in self.blocks) + 1

    def forward(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        # ws: (B, num_ws, w_dim) -> image (B, channels, resolution, resolution)
        x = image = None
        index = 0
        for block in self.blocks:
            x, image = block(x, image, ws[:, index : index + block.num_ws + 1], noise_mode)
            index += block.num_ws
        return image.contiguous()


class StyleGAN2Generator(nn.Module):
    """Mapping + synthesis. ``G(z, truncation=1.0, noise_mode="random", mix=None,
    crossover=None)`` samples; the trainer calls :meth:`styles`, :meth:`mix` and
    ``synthesis`` itself for style mixing and path-length regularisation. ``resolution`` and
    ``channels`` left out come from the data's description (else 32 and 3)."""

    def __init__(
        self,
        resolution: int | None = None,
        channels: int | None = None,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        channel_base: int = 32768,
        channel_max: int = 512,
        w_avg_beta: float = 0.995,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        resolution = from_description(description, "image_size", resolution, 32, "resolution")
        channels = from_description(description, "channels", channels, 3, "channels")
        self.z_dim = self.latent_dim = z_dim
        self.w_dim = w_dim
        self.resolution, self.channels = resolution, channels
        self.mapping = MappingNetwork(
            z_dim, w_dim, mapping_layers, mapping_lr_multiplier, w_avg_beta
        )
        self.synthesis = SynthesisNetwork(w_dim, resolution, channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws

    def styles(self, z: Tensor, truncation: float = 1.0, update_w_avg: bool = False) -> Tensor:
        """z (B, z_dim) -> ws (B, num_ws, w_dim), the same w at every layer."""
        w = self.mapping(z, truncation, update_w_avg)
        return w[:, None].expand(-1, self.num_ws, -1)

    def mix(self, ws: Tensor, other: Tensor, cutoff: int) -> Tensor:
        """Style mixing (StyleGAN sec. 3.1): layers from ``cutoff`` on take ``other``'s styles."""
        ws = ws.clone()
        ws[:, cutoff:] = other[:, cutoff:]
        return ws

    def forward(
        self,
        z: Tensor,
        truncation: float = 1.0,
        noise_mode: str = "random",
        mix: Tensor | None = None,
        crossover: int | None = None,
    ) -> Tensor:
        """(B, z_dim) -> (B, channels, R, R) in about [-1, 1]. ``truncation`` psi (1: none),
        ``noise_mode`` (``const``, ``random``, ``none``); ``mix``: second latents (B, z_dim)
        whose styles the layers from ``crossover`` (default ``num_ws // 2``) on take."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(
                f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}"
            )
        ws = self.styles(z, truncation)
        if mix is not None:
            cut = self.num_ws // 2 if crossover is None else crossover
            if not 0 < cut < self.num_ws:
                raise ValueError(f"crossover must be within 1-{self.num_ws - 1}, got {cut}")
            ws = self.mix(ws, self.styles(mix, truncation), cut)
        return self.synthesis(ws, noise_mode)
