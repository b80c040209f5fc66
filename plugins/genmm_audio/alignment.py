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
"""

from __future__ import annotations

import torch
from torch import Tensor


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
