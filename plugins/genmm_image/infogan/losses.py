"""The InfoGAN mutual-information term (Chen et al. 2016, sec. 5, eq. 4-6).

``L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c) <= I(c; G(z, c))`` is maximised by
G and Q; as a loss we minimise ``-lambda L_I`` up to the constant H(c):

* categorical c1: cross-entropy of Q's logits against the sampled class, lambda = 1 (sec. 6,
  "lambda is set to 1 for discrete latent codes");
* continuous c_j: the negative log-likelihood of a factored Gaussian Q(c_j | x) with mean
  ``mean_j`` and std ``exp(log_std_j)`` (std 1 unless the discriminator learns it).

The MI estimates ``H(c) - CE`` are logged (for 10 classes H(c1) = log 10 = 2.303 nats).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from genmm.losses import Context, Loss

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_nll(value: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """-log N(value; mean, exp(log_std)^2), summed over code dimensions, mean over the batch."""
    nll = LOG_SQRT_2PI + log_std + 0.5 * ((value - mean) * torch.exp(-log_std)).square()
    return nll.sum(1).mean()


class MutualInformationLoss(Loss):
    """``lambda_discrete * CE(c1) + lambda_continuous * NLL(c2, c3)`` on Q's output for G(c)."""

    role: ClassVar[str] = "generator"

    def __init__(
        self, lambda_discrete: float = 1.0, lambda_continuous: float = 1.0, weight: float = 1.0
    ) -> None:
        super().__init__(weight)
        self.lambda_discrete = lambda_discrete
        self.lambda_continuous = lambda_continuous

    def parts(
        self, q: dict[str, Tensor], category: Tensor, code: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """(loss, logs) from Q's output and the codes that generated the images."""
        cross_entropy = F.cross_entropy(q["logits"], category)
        loss = self.lambda_discrete * cross_entropy
        logs = {
            "mi_categorical": math.log(q["logits"].shape[1]) - cross_entropy.detach(),
            "q_accuracy": (q["logits"].argmax(1) == category).float().mean(),
        }
        if code.shape[1]:
            nll = gaussian_nll(code, q["mean"], q["log_std"])
            loss = loss + self.lambda_continuous * nll
            logs["q_continuous_nll"] = nll.detach()
        return loss, logs

    def __call__(self, context: Context) -> Tensor:
        _, category, code = context.generator.split(context.latent)
        _, q = context.discriminator.infer(context.fake)
        return self.parts(q, category, code)[0]
