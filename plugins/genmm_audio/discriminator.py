"""MelGAN multi-scale discriminator (Kumar et al. 2019, sec. 2.2 and fig. 1; appendix A,
table 6).

Three identical discriminators run on the raw audio, the audio average-pooled once and twice
(kernel 4, stride 2). Each is: reflection-padded k15 conv to ``ndf`` channels, then
``n_layers`` grouped stride-4 convolutions of kernel 41 (groups = in_channels / 4) multiplying
the channels by 4 up to 1024, then a k5 conv and a k3 conv to one score per position.
LeakyReLU 0.2 after every layer but the last; all convolutions weight-normalised.

``forward(x)`` returns ``(scores_per_scale, features)``: the final outputs of the three
scales and every intermediate activation (all scales, in order) for feature matching
(sec. 2.3, eq. 3), which is what ``core.gan`` expects.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from genmm_audio.generator import ReflectionPad1d, to_planar, wn_conv


class ScaleDiscriminator(nn.Module):
    """One scale: ``(B, 1, T) -> [(B, 16, T), (B, 64, T/4), ..., (B, 1, T/256)]``."""

    def __init__(
        self, ndf: int = 16, n_layers: int = 4, downsampling: int = 4, slope: float = 0.2
    ) -> None:
        super().__init__()
        layers = [
            nn.Sequential(ReflectionPad1d(7), wn_conv(1, ndf, kernel_size=15), nn.LeakyReLU(slope))
        ]
        channels = ndf
        for _ in range(n_layers):
            previous, channels = channels, min(channels * downsampling, 1024)
            layers.append(
                nn.Sequential(
                    wn_conv(
                        previous,
                        channels,
                        kernel_size=downsampling * 10 + 1,  # 41
                        stride=downsampling,
                        padding=downsampling * 5,
                        groups=previous // 4,
                    ),
                    nn.LeakyReLU(slope),
                )
            )
        wide = min(channels * 2, 1024)
        layers.append(
            nn.Sequential(wn_conv(channels, wide, kernel_size=5, padding=2), nn.LeakyReLU(slope))
        )
        layers.append(wn_conv(wide, 1, kernel_size=3, padding=1))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


class MultiScaleDiscriminator(nn.Module):
    """``(B, 1, T) -> ([score at T/256, T/512, T/1024], [features of all scales])``."""

    conditional = False

    def __init__(
        self,
        scales: int = 3,
        ndf: int = 16,
        n_layers: int = 4,
        downsampling: int = 4,
        slope: float = 0.2,
        planar: bool = True,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(ndf, n_layers, downsampling, slope) for _ in range(scales)
        )
        self.planar = planar  # run on (B, C, 1, T) channels-last tensors: the same function

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        scores: list[Tensor] = []
        features: list[Tensor] = []
        x = to_planar(x) if self.planar else x
        for index, discriminator in enumerate(self.discriminators):
            if index:  # (B, 1, T) -> (B, 1, T/2): average pooling, 4 wide, stride 2
                pool = nn.functional.avg_pool1d if x.dim() == 3 else nn.functional.avg_pool2d
                window = (4, 2, 1) if x.dim() == 3 else ((1, 4), (1, 2), (0, 1))
                x = pool(x, *window, count_include_pad=False)
            outputs = discriminator(x)
            if self.planar:  # back to (B, C, T'): views, no copies
                outputs = [output.squeeze(2) for output in outputs]
            scores.append(outputs[-1])
            features.extend(outputs[:-1])
        return scores, features


# ----------------------------------------------------------------------------- HiFi-GAN / Vocos


def wn_conv2d(*args, **kwargs) -> nn.Conv2d:
    return weight_norm(nn.Conv2d(*args, **kwargs))


def activations(layers: nn.ModuleList, output: nn.Module, x: Tensor, slope: float) -> list[Tensor]:
    """Every layer's LeakyReLU activation (for feature matching), then the output's scores."""
    outputs = []
    for layer in layers:
        x = nn.functional.leaky_relu(layer(x), slope)
        outputs.append(x)
    outputs.append(output(x))
    return outputs


class PeriodDiscriminator(nn.Module):
    """One sub-discriminator of HiFi-GAN's multi-period discriminator (Kong et al. 2020,
    sec. 2.2): the waveform reflect-padded to a multiple of ``period`` and folded to
    ``(B, 1, T / p, p)``, then k(5, 1) stride (3, 1) convolutions through ``channels``
    (the last at stride 1) and a k(3, 1) output convolution; LeakyReLU 0.1, weight norm."""

    def __init__(self, period: int, channels: list[int], slope: float = 0.1) -> None:
        super().__init__()
        self.period, self.slope = period, slope
        layers, previous = [], 1
        for index, width in enumerate(channels):
            stride = (3, 1) if index < len(channels) - 1 else (1, 1)
            layers.append(wn_conv2d(previous, width, (5, 1), stride, padding=(2, 0)))
            previous = width
        self.layers = nn.ModuleList(layers)
        self.output = wn_conv2d(previous, 1, (3, 1), 1, padding=(1, 0))

    def forward(self, x: Tensor) -> list[Tensor]:
        batch, _, length = x.shape
        if length % self.period:
            x = nn.functional.pad(x, (0, self.period - length % self.period), mode="reflect")
        x = x.view(batch, 1, -1, self.period)  # (B, 1, T) -> (B, 1, T / p, p)
        return activations(self.layers, self.output, x, self.slope)


class ResolutionDiscriminator(nn.Module):
    """One sub-discriminator of the multi-resolution spectrogram discriminator (Jang et al.
    2021, UnivNet, sec. 2.2; as Vocos uses it): the linear STFT magnitude at one
    (n_fft, hop, window), ``(B, 1, frames, F)``, through a k(3, 9) convolution, three k(3, 9)
    convolutions of stride 2 along frequency, a k3 convolution and a k3 output convolution;
    LeakyReLU 0.1, weight norm."""

    def __init__(self, resolution: list[int], channels: int = 32, slope: float = 0.1) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = resolution
        self.slope = slope
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.layers = nn.ModuleList(
            [wn_conv2d(1, channels, (3, 9), padding=(1, 4))]
            + [wn_conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4)) for _ in range(3)]
            + [wn_conv2d(channels, channels, (3, 3), padding=(1, 1))]
        )
        self.output = wn_conv2d(channels, 1, (3, 3), padding=(1, 1))

    def forward(self, x: Tensor) -> list[Tensor]:
        spectrum = torch.stft(
            x.squeeze(1), self.n_fft, self.hop, self.win, self.window, return_complex=True
        )
        x = spectrum.abs().transpose(1, 2).unsqueeze(1)  # (B, 1, frames, F)
        return activations(self.layers, self.output, x, self.slope)


#: HiFi-GAN's periods and widths (Kong et al. 2020, sec. 2.2 and the authors' V1 config)
PERIODS = [2, 3, 5, 7, 11]
PERIOD_CHANNELS = [32, 128, 512, 1024, 1024]
#: Vocos' resolutions of the multi-resolution discriminator: (n_fft, hop, window)
RESOLUTIONS = [[2048, 512, 2048], [1024, 256, 1024], [512, 128, 512]]


class PeriodResolutionDiscriminator(nn.Module):
    """HiFi-GAN's multi-period discriminator and the multi-resolution spectrogram
    discriminator side by side, as Vocos trains against them (Siuzdak 2024, sec. 3.3):
    ``(B, 1, T) -> ([score of each sub-discriminator], [every intermediate activation])``,
    which is what ``core.gan``'s losses expect (adversarial terms summed over
    sub-discriminators, feature matching over every layer). ``periods: []`` or
    ``resolutions: []`` leaves one family out. At the paper's widths the multi-period half
    has 41.1 M parameters (weight-norm g and v counted)."""

    conditional = False

    def __init__(
        self,
        periods: list[int] | None = None,
        period_channels: list[int] | None = None,
        resolutions: list[list[int]] | None = None,
        resolution_channels: int = 32,
        slope: float = 0.1,
    ) -> None:
        super().__init__()
        periods = PERIODS if periods is None else list(periods)
        channels = list(period_channels or PERIOD_CHANNELS)
        resolutions = RESOLUTIONS if resolutions is None else [list(r) for r in resolutions]
        for resolution in resolutions:
            if len(resolution) != 3:
                raise ValueError("each resolution is [n_fft, hop, window]")
        if not periods and not resolutions:
            raise ValueError("give at least one period or one resolution")
        self.discriminators = nn.ModuleList(
            [PeriodDiscriminator(p, channels, slope) for p in periods]
            + [ResolutionDiscriminator(r, resolution_channels, slope) for r in resolutions]
        )

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        scores: list[Tensor] = []
        features: list[Tensor] = []
        for discriminator in self.discriminators:
            outputs = discriminator(x)
            scores.append(outputs[-1])
            features.extend(outputs[:-1])
        return scores, features
