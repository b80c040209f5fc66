"""Fast categorical sampling: cumulative sums + binary search instead of ``torch.multinomial``.

On a 2-core CPU ``torch.multinomial`` takes 10-14 ms for a 64 x 5,000 draw; exponentiating
in place, taking the running sum and locating one uniform draw per row with
``torch.searchsorted`` takes about 0.4 ms and gives exactly the same distribution.

Two refinements keep the memory traffic of the Monte Carlo rollouts (about 200,000 draws over
5,000 tokens per policy-gradient step) low:

- two-level search: when the vocabulary splits into equal blocks, only the per-block sums are
  accumulated over the whole row (a vectorised reduction) and the running sum is taken inside
  the one chosen block;
- :func:`sample_projected` computes the output layer's logits ``chunk_rows`` rows at a time,
  so each (chunk, V) block is exponentiated and searched while it is still in cache.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def filter_top_k(logits: Tensor, top_k: int | None) -> Tensor:
    """Keep the ``top_k`` largest logits of each row, the rest to -inf (a new tensor)."""
    if top_k is None or top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    threshold = logits.topk(top_k, dim=-1).values[..., -1:]  # (R, 1)
    return logits.masked_fill(logits < threshold, float("-inf"))


def block_size(vocabulary: int) -> int:
    """The divisor of ``vocabulary`` nearest above its square root (1 = no blocks)."""
    if vocabulary < 256:
        return 1
    for size in range(math.isqrt(vocabulary), min(vocabulary, 4 * math.isqrt(vocabulary))):
        if size > 1 and vocabulary % size == 0:
            return size
    return 1


def search(cumulative: Tensor, draw: Tensor) -> Tensor:
    """Index of the first running sum above ``draw`` (R, 1), kept below the row's total so a
    zero-weight token (an equal running sum) is never picked: (R, K), (R, 1) -> (R, 1)."""
    total = cumulative[:, -1:]
    draw = torch.minimum(draw, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cumulative, draw, right=True)


def sample_categorical(logits: Tensor, in_place: bool = False) -> Tensor:
    """One draw per row of softmax(``logits``): (R, V) -> (R,) int64.

    With ``in_place`` the logits tensor is overwritten (it becomes the weights).
    """
    weights = logits.detach() if in_place else logits.detach().clone()
    rows, vocabulary = weights.shape
    weights.sub_(weights.amax(dim=-1, keepdim=True)).exp_()  # (R, V), max weight 1
    size = block_size(vocabulary)
    if size == 1:
        cumulative = weights.cumsum_(dim=-1)  # (R, V), non-decreasing
        draw = torch.rand(rows, 1, device=weights.device).mul_(cumulative[:, -1:])
        return search(cumulative, draw).squeeze(-1)
    blocks = weights.view(rows, vocabulary // size, size)  # (R, V/K, K)
    block_cumulative = blocks.sum(dim=-1).cumsum_(dim=-1)  # (R, V/K)
    draw = torch.rand(rows, 1, device=weights.device).mul_(block_cumulative[:, -1:])
    block = search(block_cumulative, draw)  # (R, 1)
    before = block_cumulative.gather(1, (block - 1).clamp_(min=0))  # mass of earlier blocks
    before.masked_fill_(block == 0, 0.0)
    inside = blocks.gather(1, block[:, :, None].expand(-1, 1, size))[:, 0].cumsum_(dim=-1)
    offset = search(inside, draw - before)  # (R, 1), within the block
    return (block * size + offset).squeeze(-1)


def sample_projected(hidden: Tensor, weight: Tensor, bias: Tensor, chunk_rows: int = 128) -> Tensor:
    """Draws from softmax(``hidden`` @ ``weight``.T + ``bias``): (R, H) -> (R,) int64, the
    (R, V) logits made ``chunk_rows`` rows at a time (cache-sized)."""
    rows = hidden.shape[0]
    if rows <= chunk_rows:
        return sample_categorical(torch.addmm(bias, hidden, weight.t()), in_place=True)
    out = torch.empty(rows, dtype=torch.long, device=hidden.device)
    weight_t = weight.t()  # (H, V)
    for start in range(0, rows, chunk_rows):
        logits = torch.addmm(bias, hidden[start : start + chunk_rows], weight_t)  # (c, V)
        out[start : start + chunk_rows] = sample_categorical(logits, in_place=True)
    return out
