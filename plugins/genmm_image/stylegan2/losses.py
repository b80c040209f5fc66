"""``image.path_length``: StyleGAN2's path-length regularisation (Karras et al. 2020, sec. 3.2).

``E_{w, y} (|J_w^T y|_2 - a)^2`` with ``y ~ N(0, I) / sqrt(H W)`` (so the length does not
depend on the image size) and ``a`` an exponential moving average of the lengths (``decay``
0.01), on a batch ``batch_shrink`` (2) times smaller than the step's. The paper's schedule is
lazy: weight 2, every 4 generator updates (its own optimiser step, scaled by 4, through the
core's lazy path). The running mean ``pl_mean`` is this loss's state; ``image.stylegan2``
saves it with its own counters, so a resumed run carries on with it.

The generator must have ``styles(z)`` and ``synthesis(ws)`` (``image.stylegan2_generator``).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from genmm.losses import Context, Loss


def mixed_styles(generator, z: Tensor, probability: float, update_w_avg: bool = False) -> Tensor:
    """ws (n, num_ws, w_dim) of latents ``z``; with ``probability``, style mixing at one random
    crossover point: the later layers take a second latent's w (StyleGAN sec. 3.1)."""
    ws = generator.styles(z, update_w_avg=update_w_avg)
    if probability > 0 and torch.rand([]).item() < probability:
        cutoff = int(torch.randint(1, generator.num_ws, []).item())
        other = generator.styles(torch.randn_like(z))
        return generator.mix(ws, other, cutoff)
    return ws.clone()


class PathLengthPenalty(Loss):
    """``(|J_w^T y| - a)^2`` of fresh styles, ``a`` the running mean of the lengths."""

    role: ClassVar[str] = "generator"

    def __init__(
        self, weight: float = 2.0, every: int = 4, decay: float = 0.01, batch_shrink: int = 2
    ) -> None:
        super().__init__(weight=weight, every=every)
        if batch_shrink < 1 or not 0.0 < decay <= 1.0:
            raise ValueError("batch_shrink must be >= 1 and decay in (0, 1]")
        self.decay, self.batch_shrink = decay, batch_shrink
        self.pl_mean = torch.zeros([])
        #: the probability of style mixing of the styles penalised; image.stylegan2 sets its own
        self.style_mixing = 0.0

    def __call__(self, context: Context) -> Tensor:
        G = context.generator
        n = max(1, context.real.shape[0] // self.batch_shrink)
        z = torch.randn(n, G.z_dim, device=context.real.device)
        ws = mixed_styles(G, z, self.style_mixing)
        images = G.synthesis(ws)  # (n, C, H, W)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (gradient,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = gradient.square().sum(2).mean(1).sqrt()  # (n,)
        if self.pl_mean.device != lengths.device:
            self.pl_mean = self.pl_mean.to(lengths.device)
        with torch.no_grad():
            self.pl_mean.lerp_(lengths.mean(), self.decay)
        return (lengths - self.pl_mean).square().mean()
