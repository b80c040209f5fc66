"""Monotonic alignment search (Kim et al., "Glow-TTS: A Generative Flow for Text-to-Speech via
Monotonic Alignment Search", NeurIPS 2020, sec. 3.2 and algorithm 1), in torch.

Given the log-likelihood ``log_p[i, j]`` of mel frame ``j`` under phoneme ``i``, the search
finds the monotonic, surjective alignment (every phoneme takes at least one frame, frames go to
phonemes in order, none skipped) of largest total log-likelihood by dynamic programming::

    Q[i, j] = max(Q[i - 1, j - 1], Q[i, j - 1]) + log_p[i, j],    Q[0, 0] = log_p[0, 0]

then backtracks from ``(L - 1, T - 1)``. The forward pass is vectorised over the batch and the
phonemes (one step per frame), the backtrack over the batch. Durations are the path's row sums:
this is how a corpus without per-phoneme timings gets its duration targets (Glow-TTS; JETS,
Lim et al. 2022, with an alignment module in the model).

:class:`AlignmentModule` gives the search its log-likelihoods inside the training phase, as
JETS (Lim et al., Interspeech 2022, sec. 2.2) does after "One TTS Alignment to Rule Them All"
(Badlani et al., ICASSP 2022): a convolutional encoder of the phoneme embeddings (keys) and one
of the mel frames (queries), the score of frame ``j`` for phoneme ``i`` the negative scaled
squared distance ``-temperature * ||q_j - k_i||^2``, a softmax over the phonemes. It learns by
:func:`alignment_loss`: the forward-sum loss (the likelihood of every monotonic alignment,
summed by CTC with the phonemes as the label sequence and a blank column of log-probability
-1) plus the binarisation loss (the soft alignment's log-probability on the searched hard
path), which together make the soft alignment sharp and monotonic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@torch.no_grad()
def monotonic_alignment_search(
    log_p: Tensor, phoneme_lengths: Tensor | None = None, frame_lengths: Tensor | None = None
) -> Tensor:
    """The most likely monotonic alignment: ``(B, L, T)`` log-likelihoods -> ``(B, L, T)``
    0/1 path (zero outside each item's ``phoneme_lengths`` x ``frame_lengths``)."""
    batch, phonemes, frames = log_p.shape
    device = log_p.device
    if phoneme_lengths is None:
        phoneme_lengths = torch.full((batch,), phonemes, device=device, dtype=torch.long)
    if frame_lengths is None:
        frame_lengths = torch.full((batch,), frames, device=device, dtype=torch.long)
    if bool((phoneme_lengths > frame_lengths).any()):
        raise ValueError("monotonic alignment needs at least one frame per phoneme")
    log_p = log_p.double()
    best = torch.full_like(log_p, float("-inf"))  # Q, (B, L, T)
    best[:, 0, 0] = log_p[:, 0, 0]
    floor = torch.full((batch, 1), float("-inf"), dtype=log_p.dtype, device=device)
    for j in range(1, frames):
        previous = best[:, :, j - 1]  # (B, L)
        diagonal = torch.cat([floor, previous[:, :-1]], dim=1)  # from phoneme i - 1
        best[:, :, j] = torch.maximum(previous, diagonal) + log_p[:, :, j]
    path = torch.zeros(batch, phonemes, frames, dtype=torch.long, device=device)
    rows = torch.arange(batch, device=device)
    index = phoneme_lengths.long() - 1  # (B,)
    for j in range(frames - 1, -1, -1):
        active = j < frame_lengths
        path[rows, index, j] = active.long()
        if j == 0:
            break
        stay = best[rows, index, j - 1]
        advance = best[rows, (index - 1).clamp(min=0), j - 1]
        move = active & (index > 0) & ((index == j) | (advance > stay))
        index = index - move.long()
    return path


def durations_from_path(path: Tensor) -> Tensor:
    """Frames per phoneme of an alignment path: ``(B, L, T) -> (B, L)``."""
    return path.sum(-1)


class AlignmentModule(nn.Module):
    """Phoneme-frame log-likelihoods for the search (see the module docstring): keys from the
    phoneme embeddings by conv(3) - ReLU - conv(1), queries from the log-mel by conv(3) -
    ReLU - conv(1) - ReLU - conv(1), as Badlani et al. 2022 (their widths: twice the input,
    then ``channels`` 80; temperature 0.0005)."""

    def __init__(
        self, text_channels: int, n_mels: int, channels: int = 80, temperature: float = 0.0005
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.keys = nn.Sequential(
            nn.Conv1d(text_channels, 2 * text_channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * text_channels, channels, 1),
        )
        self.queries = nn.Sequential(
            nn.Conv1d(n_mels, 2 * n_mels, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * n_mels, n_mels, 1),
            nn.ReLU(),
            nn.Conv1d(n_mels, channels, 1),
        )

    def forward(self, text: Tensor, mel: Tensor, phoneme_mask: Tensor) -> Tensor:
        """``text`` (B, L, C), ``mel`` (B, n_mels, T), ``phoneme_mask`` (B, L) true at padding
        -> scores (B, L, T): padded phonemes at -1e4 (no probability)."""
        keys = self.keys(text.transpose(1, 2))  # (B, channels, L)
        queries = self.queries(mel)  # (B, channels, T)
        distance = (
            keys.square().sum(1)[:, :, None]
            + queries.square().sum(1)[:, None, :]
            - 2 * torch.bmm(keys.transpose(1, 2), queries)
        )  # ||q_j - k_i||^2, (B, L, T)
        scores = -self.temperature * distance
        return scores.masked_fill(phoneme_mask[:, :, None], -1e4)


def alignment_loss(
    scores: Tensor, path: Tensor, phoneme_lengths: Tensor, frame_lengths: Tensor
) -> dict[str, Tensor]:
    """``forward_sum`` (CTC over the phonemes in order, a blank of log-probability -1, mean over
    the batch of the per-utterance loss divided by its phoneme count, as CTC's ``mean``) and
    ``binarisation`` (mean ``-log softmax(scores)`` over the hard ``path``'s cells)."""
    batch, phonemes, frames = scores.shape
    with_blank = F.pad(scores, (0, 0, 1, 0), value=-1.0)  # (B, L + 1, T), blank first
    log_probs = with_blank.log_softmax(dim=1).permute(2, 0, 1)  # (T, B, L + 1)
    targets = torch.arange(1, phonemes + 1, device=scores.device).expand(batch, -1)
    forward_sum = F.ctc_loss(
        log_probs.float(),
        targets,
        frame_lengths.long(),
        phoneme_lengths.long(),
        blank=0,
        zero_infinity=True,
    )
    log_soft = scores.log_softmax(dim=1)  # over the phonemes
    hard = path.to(log_soft.dtype)
    binarisation = -(log_soft * hard).sum() / hard.sum().clamp(min=1.0)
    return {"forward_sum": forward_sum, "binarisation": binarisation}


def segment_means(values: Tensor, path: Tensor) -> Tensor:
    """Per-frame ``values`` (B, T) averaged over each phoneme's frames of ``path`` (B, L, T):
    (B, L); a phoneme without frames gets 0."""
    hard = path.to(values.dtype)
    frames = values.shape[1]
    sums = torch.bmm(hard[:, :, :frames], values[:, :, None])[..., 0]
    return sums / hard.sum(-1).clamp(min=1.0)
