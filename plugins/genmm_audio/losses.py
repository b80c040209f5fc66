"""Multi-resolution STFT loss (Yamamoto et al., "Parallel WaveGAN", ICASSP 2020, sec. 2.3,
eq. 4-6), an optional extra generator term for MelGAN (off in the paper's setting).

For each resolution (FFT size, hop, window) = (1024, 120, 600), (2048, 240, 1200),
(512, 50, 240) with a Hann window, the spectral convergence
``|| |S| - |S^| ||_F / || |S| ||_F`` plus the log-magnitude L1 ``mean |log|S| - log|S^||``;
the loss is their average over resolutions. The same quantity on held-out speech is the
``mrstft`` metric.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from genmm.losses import Context, Loss

RESOLUTIONS = [[1024, 120, 600], [2048, 240, 1200], [512, 50, 240]]


def stft_magnitude(audio: Tensor, n_fft: int, hop: int, win: int) -> Tensor:
    """``(B, 1, T) -> (B, frames, F)``, centred, reflect-padded, magnitude floored at 1e-7."""
    window = torch.hann_window(win, device=audio.device, dtype=audio.dtype)
    spectrum = torch.stft(
        audio.reshape(-1, audio.shape[-1]),
        n_fft,
        hop,
        win,
        window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return torch.sqrt(torch.clamp(spectrum.real**2 + spectrum.imag**2, min=1e-7)).transpose(1, 2)


def stft_terms(real: Tensor, fake: Tensor, n_fft: int, hop: int, win: int):
    """(spectral convergence, log STFT magnitude L1) at one resolution."""
    target, estimate = stft_magnitude(real, n_fft, hop, win), stft_magnitude(fake, n_fft, hop, win)
    convergence = torch.linalg.norm(target - estimate) / torch.linalg.norm(target)
    magnitude = (torch.log(target) - torch.log(estimate)).abs().mean()
    return convergence, magnitude


def mrstft_distance(
    real: Tensor, fake: Tensor, resolutions: list[list[int]] | None = None
) -> Tensor:
    """Mean over resolutions of spectral convergence + log-magnitude L1 (eq. 6)."""
    resolutions = resolutions or RESOLUTIONS
    total = real.new_zeros(())
    for n_fft, hop, win in resolutions:
        convergence, magnitude = stft_terms(real, fake, n_fft, hop, win)
        total = total + convergence + magnitude
    return total / len(resolutions)


class MultiResolutionSTFTLoss(Loss):
    """Multi-resolution STFT loss of the generated waveform against the real one."""

    role: ClassVar[str] = "generator"

    def __init__(
        self, weight: float = 1.0, resolutions: list[list[int]] | None = None, every: int = 1
    ) -> None:
        super().__init__(weight, every)
        self.resolutions = [list(r) for r in (resolutions or RESOLUTIONS)]
        for resolution in self.resolutions:
            if len(resolution) != 3:
                raise ValueError("each resolution is [n_fft, hop, window]")

    def __call__(self, context: Context) -> Tensor:
        fake = context.fake
        real = context.real[..., : fake.shape[-1]]
        return mrstft_distance(real, fake, self.resolutions)


class MelL1Loss(Loss):
    """L1 between natural-log mels of the generated and the real waveform (Kong et al.,
    HiFi-GAN, NeurIPS 2020, sec. 2.3, "mel-spectrogram loss", lambda = 45; Vocos uses the same
    term and weight). The mels are the data's own analysis (its ``description``: sample rate,
    n_fft, hop, window, mel count); an argument given here overrides the data's."""

    role: ClassVar[str] = "generator"

    def __init__(
        self,
        weight: float = 45.0,
        sample_rate: int | None = None,
        n_fft: int | None = None,
        hop: int | None = None,
        win: int | None = None,
        n_mels: int | None = None,
        every: int = 1,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(weight, every)
        from genmm_audio.data import frontend_from_description

        given = {"sample_rate": sample_rate, "n_fft": n_fft, "hop": hop, "win": win}
        given["n_mels"] = n_mels
        settings = {**(description or {}), **{k: v for k, v in given.items() if v is not None}}
        self.frontend = frontend_from_description(settings)

    def __call__(self, context: Context) -> Tensor:
        fake = context.fake
        real = context.real[..., : fake.shape[-1]]
        self.frontend = self.frontend.to(fake.device)
        return (self.frontend(fake) - self.frontend(real)).abs().mean() * LN10


#: log10 -> natural log: the front end's mels are log10, the papers' loss is on ln-mels
LN10 = math.log(10.0)
