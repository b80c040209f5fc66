"""Vocos generator (Siuzdak, "Vocos: Closing the gap between time-domain and Fourier-based
neural vocoders for high-quality audio synthesis", ICLR 2024; arXiv 2306.00814, sec. 3 and
table 5), with the optional amplitude prior of FreeV (Lv et al., "FreeV: Free lunch for
vocoders through pseudo inversed mel filter", Interspeech 2024, sec. 3).

The whole network runs at the frame rate, not the sample rate:

* a k7 ``Conv1d`` embedding of the log-mel to ``dim`` channels, then LayerNorm;
* ``num_layers`` ConvNeXt blocks (Liu et al. 2022): depthwise k7 convolution, LayerNorm,
  a pointwise ``dim -> intermediate_dim`` linear, GELU, ``intermediate_dim -> dim``, a layer
  scale initialised at ``1 / num_layers``, a residual connection; a final LayerNorm;
* the iSTFT head: a linear layer to ``n_fft + 2`` values per frame, split into a log
  magnitude (``exp``, clipped at ``max_magnitude``) and a phase ``p`` used through
  ``cos p + i sin p``; the complex spectrum goes through an inverse STFT at the mel's own
  ``n_fft`` / ``hop`` / window (``genmm_audio.frontend.istft``, the exact inverse of the
  front end's framing, so ``N`` frames give ``N * hop`` samples).

The paper's network (dim 512, intermediate 1536, 8 blocks) has 13.5 M parameters; both
widths and the depth are arguments so a recipe can size it for a CPU.

With ``amplitude_prior`` (FreeV) the magnitude half of the head predicts a residual over
``log(max(pinv(mel_basis) 10^mel, 1e-5))``, the pseudo-inverse of the mel filterbank applied
to the input, and is initialised at zero: at step 0 the magnitude is already the prior.

Built from a recipe it takes the data's ``description``: ``n_mels``, ``n_fft``, ``hop`` and
``win`` default to the data's, and a mismatch is refused when the model is built.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genmm_audio.frontend import istft, mel_filterbank


class ConvNeXtBlock(nn.Module):
    """``(B, C, N) -> (B, C, N)``: depthwise k7, LayerNorm, C -> 4C-ish linear, GELU, back,
    layer scale, residual (Vocos sec. 3.2, after ConvNeXt, Liu et al. 2022)."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float | None) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.expand = nn.Linear(dim, intermediate_dim)
        self.activation = nn.GELU()
        self.project = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale))) if layer_scale else None

    def forward(self, x: Tensor) -> Tensor:
        residual = x
        x = self.depthwise(x).transpose(1, 2)  # (B, C, N) -> (B, N, C)
        x = self.project(self.activation(self.expand(self.norm(x))))
        if self.gamma is not None:
            x = self.gamma * x
        return residual + x.transpose(1, 2)


class VocosGenerator(nn.Module):
    """Log-mel ``(B, n_mels, N)`` -> waveform ``(B, 1, N * hop)``."""

    latent_dim = 0  # a vocoder takes only its condition: G(mel)

    def __init__(
        self,
        n_mels: int | None = None,
        dim: int = 512,
        intermediate_dim: int = 1536,
        num_layers: int = 8,
        layer_scale: float | None = None,
        n_fft: int | None = None,
        hop: int | None = None,
        win: int | None = None,
        max_magnitude: float = 100.0,
        amplitude_prior: bool = False,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        description = description or {}
        given = {"n_mels": n_mels, "n_fft": n_fft, "hop": hop, "win": win}
        paper = {"n_mels": 80, "n_fft": 1024, "hop": 256, "win": None}
        settings: dict[str, Any] = {}
        for key, value in given.items():
            data = description.get(key)
            if value is not None and data is not None and value != data:
                raise ValueError(f"{key} is {value} but the data's log-mels use {data}")
            settings[key] = value if value is not None else data if data is not None else paper[key]
        self.n_mels, self.n_fft, self.hop = settings["n_mels"], settings["n_fft"], settings["hop"]
        self.win = settings["win"] or self.n_fft
        self.max_magnitude = max_magnitude
        self.embed = nn.Conv1d(self.n_mels, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        scale = layer_scale if layer_scale is not None else 1.0 / num_layers
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, scale) for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, self.n_fft + 2)
        self.apply(_init)
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.amplitude_prior = amplitude_prior
        if amplitude_prior:
            basis = mel_filterbank(
                int(description.get("sample_rate", 22050)),
                self.n_fft,
                self.n_mels,
                float(description.get("fmin", 0.0)),
                description.get("fmax"),
            )
            self.register_buffer("inverse_basis", torch.linalg.pinv(basis), persistent=False)
            bins = self.n_fft // 2 + 1
            with torch.no_grad():  # the residual over the prior starts at zero
                self.head.weight[:bins].zero_()
                self.head.bias[:bins].zero_()

    def spectrum(self, mel: Tensor) -> Tensor:
        """``(B, n_mels, N) -> (B, n_fft / 2 + 1, N)`` complex spectrum of the output."""
        x = self.norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)  # (B, dim, N)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (B, n_fft + 2, N)
        log_magnitude, phase = x.chunk(2, dim=1)
        if self.amplitude_prior:
            prior = (self.inverse_basis @ torch.pow(10.0, mel)).clamp(min=1e-5)
            log_magnitude = log_magnitude + torch.log(prior)
        magnitude = torch.exp(log_magnitude).clamp(max=self.max_magnitude)
        return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))

    def forward(self, mel: Tensor) -> Tensor:  # (B, n_mels, N) -> (B, 1, N * hop)
        audio = istft(self.spectrum(mel), self.n_fft, self.hop, self.win, self.window)
        return audio.unsqueeze(1)


def _init(module: nn.Module) -> None:
    """Truncated normal (std 0.02) weights and zero biases, as the authors' backbone."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
