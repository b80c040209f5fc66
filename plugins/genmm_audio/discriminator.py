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

from torch import Tensor, nn

from genmm_audio.generator import wn_conv


class ScaleDiscriminator(nn.Module):
    """One scale: ``(B, 1, T) -> [(B, 16, T), (B, 64, T/4), ..., (B, 1, T/256)]``."""

    def __init__(
        self, ndf: int = 16, n_layers: int = 4, downsampling: int = 4, slope: float = 0.2
    ) -> None:
        super().__init__()
        layers = [
            nn.Sequential(
                nn.ReflectionPad1d(7), wn_conv(1, ndf, kernel_size=15), nn.LeakyReLU(slope)
            )
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
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(ndf, n_layers, downsampling, slope) for _ in range(scales)
        )
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        scores: list[Tensor] = []
        features: list[Tensor] = []
        for index, discriminator in enumerate(self.discriminators):
            if index:
                x = self.pool(x)  # (B, 1, T) -> (B, 1, T/2)
            outputs = discriminator(x)
            scores.append(outputs[-1])
            features.extend(outputs[:-1])
        return scores, features
