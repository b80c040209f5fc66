"""The L1 term of pix2pix (Isola et al. 2017, section 3.1, eq. 3 and 4):
G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), L_L1 = E ||y - G(x)||_1, lambda = 100.

It compares the generator's output with the ground truth of the same pair (the batch's
``real``: the target image, while the input image is the ``condition``). A ``generator`` term
of the core's loss zoo contract: ``core.gan`` adds it to G's loss scaled by ``weight``.
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from genmm.losses import Context, Loss


class L1Reconstruction(Loss):
    """Mean absolute error between G(x) and the ground truth y; weight = lambda = 100."""

    role: ClassVar[str] = "generator"

    def __init__(self, weight: float = 100.0, every: int = 1) -> None:
        super().__init__(weight=weight, every=every)

    def __call__(self, context: Context) -> Tensor:
        return F.l1_loss(context.fake, context.real.detach())
