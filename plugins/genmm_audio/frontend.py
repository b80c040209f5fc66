"""The signal front end of MelGAN (Kumar et al. 2019, sec. 4 / appendix A), in pure torch.

* :func:`stft` / :func:`istft`: short-time Fourier transform with reflect padding of
  ``(n_fft - hop) / 2`` samples each side and no centring, so a signal of ``T`` samples (a
  multiple of the hop) gives exactly ``T / hop`` frames; the inverse is windowed overlap-add.
* :func:`mel_filterbank`: Slaney-style triangular filters on the Slaney mel scale, each
  normalised to unit area (``2 / (f[i+2] - f[i])``), as ``librosa.filters.mel(htk=False,
  norm="slaney")``.
* :class:`MelFrontend`: ``log10(max(mel @ |STFT|, 1e-5))`` at the paper's settings (22,050 Hz,
  n_fft 1024, hop 256, window 1024, 80 mels, 0 Hz to Nyquist).
* :func:`griffin_lim`: the non-learned baseline, inverse mel (non-negative least squares) then
  fast Griffin-Lim (Griffin & Lim 1984; Perraudin et al. 2013, momentum 0.99).
* :func:`resample`: band-limited windowed-sinc resampling (Smith, "Digital Audio Resampling").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ----------------------------------------------------------------------------- STFT


def stft(
    audio: Tensor,
    n_fft: int = 1024,
    hop: int = 256,
    win: int = 1024,
    window: Tensor | None = None,
    pad: int | None = None,
) -> Tensor:
    """Complex STFT, reflect-padded by ``pad`` (default ``(n_fft - hop) // 2``) each side.

    ``(B, T)`` or ``(B, 1, T)`` -> ``(B, n_fft // 2 + 1, frames)``.
    """
    if audio.dim() == 3:
        audio = audio.squeeze(1)
    pad = (n_fft - hop) // 2 if pad is None else pad
    if window is None:
        window = torch.hann_window(win, device=audio.device, dtype=audio.dtype)
    if pad:
        audio = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    return torch.stft(
        audio,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        window=window,
        center=False,
        return_complex=True,
    )


def istft(
    spectrum: Tensor,
    n_fft: int = 1024,
    hop: int = 256,
    win: int = 1024,
    window: Tensor | None = None,
    pad: int | None = None,
) -> Tensor:
    """Inverse of :func:`stft` by windowed overlap-add: ``(B, F, N) -> (B, N * hop)`` (for the
    default padding; in general ``(N - 1) * hop + n_fft - 2 * pad`` samples)."""
    pad = (n_fft - hop) // 2 if pad is None else pad
    if window is None:
        window = torch.hann_window(win, device=spectrum.device, dtype=torch.float32)
    if win < n_fft:  # centre the window inside the frame, as torch.stft does
        left = (n_fft - win) // 2
        window = F.pad(window, (left, n_fft - win - left))
    frames = torch.fft.irfft(spectrum, n=n_fft, dim=1) * window[None, :, None]  # (B, n_fft, N)
    count = frames.shape[-1]
    length = (count - 1) * hop + n_fft
    signal = F.fold(frames, (1, length), (1, n_fft), stride=(1, hop))[:, 0, 0]  # (B, length)
    squared = window.pow(2)[None, :, None].expand(1, n_fft, count)
    envelope = F.fold(squared, (1, length), (1, n_fft), stride=(1, hop))[:, 0, 0]
    signal = signal / torch.where(envelope > 1e-11, envelope, torch.ones_like(envelope))
    return signal[:, pad : length - pad]


# ----------------------------------------------------------------------------- mel scale


def hz_to_mel(frequency: Tensor) -> Tensor:
    """Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above."""
    frequency = torch.as_tensor(frequency, dtype=torch.float64)
    linear = frequency / (200.0 / 3.0)
    logstep = math.log(6.4) / 27.0
    logarithmic = 15.0 + torch.log(frequency.clamp(min=1e-10) / 1000.0) / logstep
    return torch.where(frequency >= 1000.0, logarithmic, linear)


def mel_to_hz(mel: Tensor) -> Tensor:
    mel = torch.as_tensor(mel, dtype=torch.float64)
    linear = mel * (200.0 / 3.0)
    logstep = math.log(6.4) / 27.0
    logarithmic = 1000.0 * torch.exp(logstep * (mel - 15.0))
    return torch.where(mel >= 15.0, logarithmic, linear)


def mel_filterbank(
    sample_rate: int = 22050,
    n_fft: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> Tensor:
    """Slaney-normalised triangular filters: ``(n_mels, n_fft // 2 + 1)`` float32."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_frequencies = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(
        torch.linspace(float(hz_to_mel(fmin)), float(hz_to_mel(fmax)), n_mels + 2).double()
    )  # (n_mels + 2,) Hz
    widths = edges.diff()  # (n_mels + 1,)
    ramps = edges[:, None] - fft_frequencies[None, :]  # (n_mels + 2, F)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]  # unit area (Slaney)
    return weights.float()


class MelFrontend(nn.Module):
    """Audio -> log10 mel magnitude, MelGAN's ``Audio2Mel``: ``(B, 1, T) -> (B, n_mels, T/hop)``."""

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop: int = 256,
        win: int = 1024,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float | None = None,
        floor: float = 1e-5,
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.hop, self.win = sample_rate, n_fft, hop, win
        self.n_mels, self.floor = n_mels, floor
        self.fmin, self.fmax = fmin, fmax
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        self.register_buffer(
            "mel_basis", mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax), persistent=False
        )

    def magnitude(self, audio: Tensor) -> Tensor:  # (B, 1, T) -> (B, F, T/hop)
        return stft(audio, self.n_fft, self.hop, self.win, self.window).abs()

    def forward(self, audio: Tensor) -> Tensor:  # (B, 1, T) -> (B, n_mels, T/hop)
        mel = torch.matmul(self.mel_basis, self.magnitude(audio))
        return torch.log10(torch.clamp(mel, min=self.floor))

    # ------------------------------------------------------------------ baseline
    def inverse_mel(self, log_mel: Tensor, iterations: int = 100) -> Tensor:
        """Linear magnitude from a log-mel by non-negative least squares (projected gradient
        from the clamped pseudo-inverse): ``(B, n_mels, N) -> (B, F, N)``."""
        target = torch.pow(10.0, log_mel)
        basis = self.mel_basis
        magnitude = torch.clamp(torch.linalg.pinv(basis) @ target, min=0.0)
        step = 1.0 / torch.linalg.matrix_norm(basis, ord=2).pow(2)
        for _ in range(iterations):
            gradient = basis.T @ (basis @ magnitude - target)
            magnitude = torch.clamp(magnitude - step * gradient, min=0.0)
        return magnitude

    def griffin_lim(
        self, log_mel: Tensor, iterations: int = 32, momentum: float = 0.99, seed: int = 0
    ) -> Tensor:
        """The non-learned baseline: ``(B, n_mels, N) -> (B, 1, N * hop)``."""
        magnitude = self.inverse_mel(log_mel)
        audio = griffin_lim(
            magnitude, self.n_fft, self.hop, self.win, iterations, momentum, seed, self.window
        )
        return audio.unsqueeze(1)


def griffin_lim(
    magnitude: Tensor,
    n_fft: int = 1024,
    hop: int = 256,
    win: int = 1024,
    iterations: int = 32,
    momentum: float = 0.99,
    seed: int = 0,
    window: Tensor | None = None,
) -> Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013) from random phases: ``(B, F, N) -> (B, N*hop)``."""
    generator = torch.Generator().manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=generator) * (2 * math.pi)
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device))
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        audio = istft(magnitude * angles, n_fft, hop, win, window)
        rebuilt = stft(audio, n_fft, hop, win, window)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / angles.abs().clamp(min=1e-16)
        previous = rebuilt
    return istft(magnitude * angles, n_fft, hop, win, window)


# ----------------------------------------------------------------------------- resampling


def resample(
    audio: Tensor, orig_rate: int, new_rate: int, width: int = 16, rolloff: float = 0.99
) -> Tensor:
    """Band-limited resampling with a Hann-windowed sinc of ``width`` zero crossings.

    ``(..., T) -> (..., ceil(T * new_rate / orig_rate))``; the cut-off is ``rolloff`` times the
    lower Nyquist frequency.
    """
    if orig_rate == new_rate:
        return audio
    divisor = math.gcd(int(orig_rate), int(new_rate))
    orig, new = int(orig_rate) // divisor, int(new_rate) // divisor
    shape = audio.shape
    signal = audio.reshape(-1, 1, shape[-1]).to(torch.float64)
    cutoff = min(orig, new) * rolloff  # in units of the reduced rates
    half = math.ceil(width * orig / cutoff)
    taps = torch.arange(-half, half + orig, dtype=torch.float64) / orig  # input-sample times
    phases = -torch.arange(new, dtype=torch.float64)[:, None] / new  # output phase offsets
    t = (phases + taps[None, :]) * cutoff
    t = t.clamp(-width, width)
    window = torch.cos(t * math.pi / width / 2) ** 2
    kernel = torch.special.sinc(t) * window * (cutoff / orig)  # (new, taps)
    signal = F.pad(signal, (half, half + orig))
    output = F.conv1d(signal, kernel[:, None, :], stride=orig)  # (N, new, frames)
    output = output.transpose(1, 2).reshape(signal.shape[0], -1)
    length = math.ceil(new * shape[-1] / orig)
    return output[:, :length].to(audio.dtype).reshape(*shape[:-1], length)
