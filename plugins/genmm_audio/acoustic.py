"""The text-to-mel acoustic model: FastSpeech 2 (Ren et al., "FastSpeech 2: Fast and
High-Quality End-to-End Text to Speech", ICLR 2021), and a mel-spectrogram discriminator for
training it adversarially.

:class:`FastSpeech2` follows the paper's sec. 2 and appendix B, with its values as defaults:

* **encoder**: phoneme embedding (``hidden`` 256) plus sinusoidal positions, 4 feed-forward
  Transformer (FFT) blocks (FastSpeech, Ren et al. 2019, sec. 3.1): multi-head self-attention
  (2 heads) then a two-layer 1-D convolution network (kernels 9 and 1, 1024 filters, ReLU),
  each with a residual connection, layer normalisation and dropout 0.2;
* **speaker embedding** (for several voices, as the multi-speaker FastSpeech 2 of its open
  implementations): one vector per voice added to every encoder output;
* **variance adaptor** (sec. 2.3, fig. 1(b, c)): duration, pitch and energy predictors, each
  two 1-D convolutions (kernel 3, 256 filters, ReLU, layer norm, dropout 0.5) and a linear
  layer. Durations are predicted as ``log(d + 1)``; pitch and energy, at the phoneme level
  (the variant of FastPitch, Łańcucki 2021, which the authors' successors use), are quantised
  into 256 bins over the training range and embedded (256 dimensions) into the hidden
  sequence. Training feeds the true values; inference the predicted ones;
* **length regulator** (FastSpeech sec. 3.2): each phoneme's hidden state repeated for its
  duration in frames; at inference the durations are ``(exp(prediction) - 1) / speed``, rounded
  on their running sum so the total follows ``speed`` to a frame (``speed`` 2 halves it);
* **mel decoder**: 4 FFT blocks and a linear projection to ``n_mels`` (no post-net: the paper
  drops it);
* **alignment module** (``aligner: true``, for a corpus without phoneme timings): JETS's
  (:class:`genmm_audio.alignment.AlignmentModule`), whose monotonic alignment search gives the
  durations in training (:meth:`FastSpeech2.align`); not used at inference.

:class:`MelDiscriminator` judges log-mel segments, as the mel-domain discriminators trained
with a FastSpeech 2 generator do (GANSpeech, Yang et al., Interspeech 2021; Multi-SpectroGAN,
Lee et al., AAAI 2021): a stack of strided 1-D convolutions over time with the mel bins as
channels (LeakyReLU 0.2), at ``scales`` time resolutions (average pooling by 2 between them,
as MelGAN's multi-scale discriminator), returning a score map per scale and every intermediate
activation for feature matching (Kumar et al. 2019, eq. 3).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm_audio.alignment import AlignmentModule, monotonic_alignment_search
from genmm_audio.text import PhonemeVocabulary


def sinusoid_positions(length: int, channels: int, device: torch.device) -> Tensor:
    """Transformer positions (Vaswani et al. 2017, sec. 3.5): ``(length, channels)``."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(
        torch.arange(0, channels, 2, device=device, dtype=torch.float32)
        * (-math.log(10000.0) / channels)
    )
    table = torch.zeros(length, channels, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : channels // 2]
    return table


def padding_mask(lengths: Tensor, length: int | None = None) -> Tensor:
    """True at padded positions: ``(B,) -> (B, length)``."""
    length = int(lengths.max()) if length is None else length
    return torch.arange(length, device=lengths.device)[None, :] >= lengths[:, None]


class FFTBlock(nn.Module):
    """Feed-forward Transformer block: self-attention and a conv network, post-norm residuals."""

    def __init__(
        self,
        hidden: int = 256,
        heads: int = 2,
        filters: int = 1024,
        kernel: int = 9,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.attention_norm = nn.LayerNorm(hidden)
        self.conv1 = nn.Conv1d(hidden, filters, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(filters, hidden, 1)
        self.conv_norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # (B, T, hidden), mask (B, T)
        keep = (~mask).unsqueeze(-1).to(x.dtype)
        attended, _ = self.attention(x, x, x, key_padding_mask=mask, need_weights=False)
        x = self.attention_norm(x + self.dropout(attended)) * keep
        y = self.conv2(F.relu(self.conv1(x.transpose(1, 2)))).transpose(1, 2)
        return self.conv_norm(x + self.dropout(y)) * keep


class VariancePredictor(nn.Module):
    """Two k3 convolutions (ReLU, layer norm, dropout) and a linear layer: ``(B, L, hidden) ->
    (B, L)`` (sec. 2.3 and appendix B)."""

    def __init__(
        self, hidden: int = 256, filters: int = 256, kernel: int = 3, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(hidden, filters, kernel, padding=kernel // 2)
        self.norm1 = nn.LayerNorm(filters)
        self.conv2 = nn.Conv1d(filters, filters, kernel, padding=kernel // 2)
        self.norm2 = nn.LayerNorm(filters)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(filters, 1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.dropout(self.norm1(F.relu(self.conv1(x.transpose(1, 2))).transpose(1, 2)))
        x = self.dropout(self.norm2(F.relu(self.conv2(x.transpose(1, 2))).transpose(1, 2)))
        return self.linear(x).squeeze(-1).masked_fill(mask, 0.0)


def length_regulate(x: Tensor, durations: Tensor) -> tuple[Tensor, Tensor]:
    """Repeat phoneme ``i`` of item ``b`` ``durations[b, i]`` times (FastSpeech sec. 3.2):
    ``(B, L, C), (B, L) -> (B, T, C)`` with ``T`` the longest total, and the frame counts
    ``(B,)``. Padded phonemes have duration 0."""
    durations = durations.long().clamp(min=0)
    ends = durations.cumsum(1)  # (B, L)
    totals = ends[:, -1]
    frames = max(int(totals.max()), 1)
    times = torch.arange(frames, device=x.device)[None, :].expand(x.shape[0], frames)
    index = torch.searchsorted(ends, times.contiguous(), right=True).clamp(max=x.shape[1] - 1)
    expanded = torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return expanded * (times < totals[:, None]).unsqueeze(-1).to(x.dtype), totals


def durations_at_speed(log_durations: Tensor, mask: Tensor, speed: float = 1.0) -> Tensor:
    """Predicted ``log(d + 1)`` -> whole frames at ``speed`` (2: twice as fast), rounded on
    the running sum so each phoneme is within a frame of ``d / speed`` and the total within
    one frame of ``sum(d) / speed``: ``(B, L) -> (B, L)`` long."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    frames = (torch.exp(log_durations) - 1.0).clamp(min=0.0).masked_fill(mask, 0.0) / speed
    boundaries = torch.round(frames.cumsum(1)).long()
    durations = torch.diff(boundaries, dim=1, prepend=torch.zeros_like(boundaries[:, :1]))
    empty = durations.sum(1) == 0  # an untrained model may say nothing: one frame at least
    durations[empty, 0] = 1
    return durations


class FastSpeech2(nn.Module):
    """FastSpeech 2 with a speaker embedding; see the module docstring. Sizes of the phoneme
    vocabulary, the voices, the mel and the pitch/energy ranges come from the data's
    description."""

    def __init__(
        self,
        description: dict[str, Any] | None = None,
        hidden: int = 256,
        encoder_layers: int = 4,
        decoder_layers: int = 4,
        heads: int = 2,
        filters: int = 1024,
        kernel: int = 9,
        dropout: float = 0.2,
        predictor_filters: int = 256,
        predictor_kernel: int = 3,
        predictor_dropout: float = 0.5,
        bins: int = 256,
        n_mels: int | None = None,
        aligner: bool = False,
    ) -> None:
        super().__init__()
        description = description or {}
        vocabulary = PhonemeVocabulary.from_description(description)
        voices = list(description.get("voices") or ["default"])
        data_mels = description.get("n_mels")
        if n_mels is not None and data_mels is not None and n_mels != data_mels:
            raise ValueError(f"n_mels {n_mels} is not the data's {data_mels}")
        self.n_mels = int(n_mels or data_mels or 80)
        self.hidden, self.voices = hidden, voices
        self.embedding = nn.Embedding(len(vocabulary), hidden, padding_idx=0)
        block = dict(hidden=hidden, heads=heads, filters=filters, kernel=kernel, dropout=dropout)
        self.encoder = nn.ModuleList(FFTBlock(**block) for _ in range(encoder_layers))
        self.speaker_embedding = nn.Embedding(len(voices), hidden)
        predictor = dict(
            hidden=hidden,
            filters=predictor_filters,
            kernel=predictor_kernel,
            dropout=predictor_dropout,
        )
        self.duration_predictor = VariancePredictor(**predictor)
        self.pitch_predictor = VariancePredictor(**predictor)
        self.energy_predictor = VariancePredictor(**predictor)
        for name in ("pitch", "energy"):
            stats = description.get(name) or {"min": -3.0, "max": 3.0}
            edges = torch.linspace(float(stats["min"]), float(stats["max"]), bins - 1)
            self.register_buffer(f"{name}_bins", edges, persistent=False)
        self.pitch_embedding = nn.Embedding(bins, hidden)
        self.energy_embedding = nn.Embedding(bins, hidden)
        self.decoder = nn.ModuleList(FFTBlock(**block) for _ in range(decoder_layers))
        self.projection = nn.Linear(hidden, self.n_mels)
        self.aligner = AlignmentModule(hidden, self.n_mels) if aligner else None

    def align(
        self, phonemes: Tensor, phoneme_lengths: Tensor, mel: Tensor, mel_lengths: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The alignment module's scores (B, L, T) of the true mel against the phoneme
        embeddings, and the monotonic alignment search's hard path on them (B, L, T)."""
        if self.aligner is None:
            raise ValueError("this model has no alignment module (audio.fastspeech2 aligner: true)")
        mask = padding_mask(phoneme_lengths, phonemes.shape[1])
        scores = self.aligner(self.embedding(phonemes), mel, mask)
        path = monotonic_alignment_search(
            scores.detach().log_softmax(dim=1), phoneme_lengths, mel_lengths
        )
        return scores, path

    def speaker_index(self, voice: str) -> int:
        """The speaker embedding's row for ``voice``; ValueError listing the known ones."""
        if voice not in self.voices:
            raise ValueError(f"unknown voice '{voice}' (this model has: {', '.join(self.voices)})")
        return self.voices.index(voice)

    def _stack(self, blocks: nn.ModuleList, x: Tensor, mask: Tensor) -> Tensor:
        x = x + sinusoid_positions(x.shape[1], self.hidden, x.device)[None]
        for block in blocks:
            x = block(x, mask)
        return x

    def forward(
        self,
        phonemes: Tensor,
        phoneme_lengths: Tensor | None = None,
        speaker: Tensor | None = None,
        durations: Tensor | None = None,
        pitch: Tensor | None = None,
        energy: Tensor | None = None,
        speed: float = 1.0,
    ) -> dict[str, Tensor]:
        """``(B, L)`` phoneme ids -> ``mel (B, n_mels, T)``, ``mel_lengths``, the predicted
        ``log_durations``, ``pitch``, ``energy`` ``(B, L)`` and the ``durations`` used. Given
        ``durations``, ``pitch`` and ``energy`` (training) they are used instead of the
        predictions."""
        batch, length = phonemes.shape
        if phoneme_lengths is None:
            phoneme_lengths = torch.full((batch,), length, device=phonemes.device)
        if speaker is None:
            speaker = torch.zeros(batch, dtype=torch.long, device=phonemes.device)
        mask = padding_mask(phoneme_lengths, length)  # (B, L)
        x = self._stack(self.encoder, self.embedding(phonemes), mask)  # (B, L, hidden)
        x = x + self.speaker_embedding(speaker)[:, None, :]
        log_durations = self.duration_predictor(x, mask)
        pitch_prediction = self.pitch_predictor(x, mask)
        chosen = pitch_prediction if pitch is None else pitch
        x = x + self.pitch_embedding(torch.bucketize(chosen.detach(), self.pitch_bins))
        energy_prediction = self.energy_predictor(x, mask)
        chosen = energy_prediction if energy is None else energy
        x = x + self.energy_embedding(torch.bucketize(chosen.detach(), self.energy_bins))
        x = x.masked_fill(mask.unsqueeze(-1), 0.0)
        if durations is None:
            durations = durations_at_speed(log_durations.detach(), mask, speed)
        frames, mel_lengths = length_regulate(x, durations.masked_fill(mask, 0))  # (B, T, hidden)
        frame_mask = padding_mask(mel_lengths, frames.shape[1])
        frames = self._stack(self.decoder, frames, frame_mask)
        mel = self.projection(frames).transpose(1, 2)  # (B, T, hidden) -> (B, n_mels, T)
        return {
            "mel": mel,
            "mel_lengths": mel_lengths,
            "log_durations": log_durations,
            "pitch": pitch_prediction,
            "energy": energy_prediction,
            "durations": durations,
        }


class MelDiscriminator(nn.Module):
    """Log-mel segments ``(B, n_mels, W)`` -> (score maps per scale, every activation)."""

    def __init__(
        self,
        description: dict[str, Any] | None = None,
        channels: list[int] | None = None,
        kernel: int = 5,
        scales: int = 2,
        slope: float = 0.2,
        n_mels: int | None = None,
    ) -> None:
        super().__init__()
        n_mels = int(n_mels or (description or {}).get("n_mels") or 80)
        channels = list(channels or [128, 256, 256])
        self.slope = slope
        self.stacks = nn.ModuleList()
        for _ in range(scales):
            layers, width = nn.ModuleList(), n_mels
            for index, out in enumerate(channels):
                stride = 1 if index == 0 else 2
                layers.append(nn.Conv1d(width, out, kernel, stride, padding=kernel // 2))
                width = out
            layers.append(nn.Conv1d(width, 1, 3, padding=1))
            self.stacks.append(layers)
        self.pool = nn.AvgPool1d(4, 2, padding=1, count_include_pad=False)

    def forward(self, mel: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        scores, features = [], []
        x = mel
        for scale, layers in enumerate(self.stacks):
            if scale:
                x = self.pool(x)  # (B, n_mels, W) -> (B, n_mels, W / 2)
            h = x
            for layer in layers[:-1]:
                h = F.leaky_relu(layer(h), self.slope)
                features.append(h)
            scores.append(layers[-1](h))  # (B, 1, W / 2^k)
        return scores, features
