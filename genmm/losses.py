"""The modality-free loss zoo, registered as ``core.*`` (docs/writing-plugins.md, section 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Context:
    """What one adversarial step knows, handed to regularisers and extra generator terms."""

    generator: nn.Module
    discriminator: nn.Module
    real: Tensor
    fake: Tensor
    condition: Any = None
    latent: Any = None
    real_scores: list[Tensor] = field(default_factory=list)
    real_features: list[Tensor] = field(default_factory=list)
    fake_scores: list[Tensor] = field(default_factory=list)
    fake_features: list[Tensor] = field(default_factory=list)
    batch: Any = None
    step: int = 0
    #: how the trainer calls D, ``(x, condition) -> (scores, features)``; penalties use it too
    discriminator_call: Any = None

    def discriminate(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        if self.discriminator_call is not None:
            return self.discriminator_call(x, self.condition)
        return discriminate(self.discriminator, x, self.condition)


def discriminate(discriminator: nn.Module, x: Tensor, condition: Any = None):
    """D(x[, condition if ``D.conditional``]) as (list of scores, list of features)."""
    conditional = getattr(discriminator, "conditional", False)
    output = discriminator(x, condition) if conditional else discriminator(x)
    features: list[Tensor] = []
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], (list, tuple)):
        output, features = output[0], list(output[1])
    scores = list(output) if isinstance(output, (list, tuple)) else [output]
    return scores, features


def _sum(values: list[Tensor]) -> Tensor:
    return sum(values[1:], values[0])


class Loss:
    """The base of every loss; its ``role`` says where a trainer adds it."""

    role: ClassVar[str] = "generator"

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.weight, self.every = weight, every

    def __call__(self, context: Context) -> Tensor:
        raise NotImplementedError


class AdversarialLoss(Loss):
    """A two-player objective on discriminator scores."""

    role: ClassVar[str] = "adversarial"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__(weight=weight, every=1)

    def discriminator_loss(self, real: list[Tensor], fake: list[Tensor]) -> Tensor:
        return _sum([self.d_term(r, f) for r, f in zip(real, fake)])

    def generator_loss(self, fake: list[Tensor]) -> Tensor:
        return _sum([self.g_term(f) for f in fake])

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_term(self, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def regularize(self, context: Context) -> Tensor | None:
        """An optional discriminator penalty that belongs to the objective (WGAN-GP)."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after each discriminator update (WGAN weight clipping)."""


class MinimaxLoss(AdversarialLoss):
    """The original minimax objective: G minimises log(1 - D(G(z))) (Goodfellow et al. 2014)."""

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_term(self, fake: Tensor) -> Tensor:
        return -F.softplus(fake).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Minimax for D; G maximises log D(G(z)) (Goodfellow et al. 2014, section 3)."""

    def g_term(self, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


class LSGANLoss(AdversarialLoss):
    """Least squares GAN with targets a=0, b=1, c=1 (Mao et al. 2017, eq. 2)."""

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0, weight: float = 1.0):
        super().__init__(weight)
        self.real_label, self.fake_label = real_label, fake_label

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        real_term = 0.5 * ((real - self.real_label) ** 2).mean()
        return real_term + 0.5 * ((fake - self.fake_label) ** 2).mean()

    def g_term(self, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - self.real_label) ** 2).mean()


class WGANLoss(AdversarialLoss):
    """Wasserstein GAN with weight clipping to [-clip, clip] (Arjovsky et al. 2017, alg. 1)."""

    def __init__(self, clip: float | None = 0.01, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.clip = clip

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_term(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        if self.clip is not None:
            for parameter in discriminator.parameters():
                parameter.clamp_(-self.clip, self.clip)


def _input_gradient(context: Context, x: Tensor) -> Tensor:
    """The gradient of D's summed scores with respect to ``x``, one row per sample."""
    scores, _ = context.discriminate(x)
    (gradient,) = torch.autograd.grad(_sum([s.sum() for s in scores]), x, create_graph=True)
    return gradient.flatten(1)


def gradient_penalty(context: Context, center: float = 1.0) -> Tensor:
    """E[(||grad D(x_hat)||_2 - center)^2] on random interpolates (Gulrajani et al. 2017)."""
    real, fake = context.real.detach(), context.fake.detach()
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    return ((_input_gradient(context, mixed).norm(2, dim=1) - center) ** 2).mean()


class WGANGPLoss(WGANLoss):
    """WGAN with gradient penalty, lambda = 10 (Gulrajani et al. 2017, alg. 1)."""

    def __init__(self, penalty: float = 10.0, weight: float = 1.0) -> None:
        super().__init__(clip=None, weight=weight)
        self.penalty = penalty

    def regularize(self, context: Context) -> Tensor:
        return self.penalty * gradient_penalty(context)


class HingeLoss(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): D on max(0, 1 -+ s), G on -s."""

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def g_term(self, fake: Tensor) -> Tensor:
        return -fake.mean()


class R1Penalty(Loss):
    """R1: (gamma / 2) E[||grad D(x_real)||^2] (Mescheder et al. 2018); lazy with ``every``."""

    role: ClassVar[str] = "discriminator"

    def __init__(self, gamma: float = 10.0, weight: float = 1.0, every: int = 1) -> None:
        super().__init__(weight=weight, every=every)
        self.gamma = gamma

    def __call__(self, context: Context) -> Tensor:
        real = context.real.detach().requires_grad_(True)
        return 0.5 * self.gamma * _input_gradient(context, real).pow(2).sum(1).mean()


class FeatureMatchingLoss(Loss):
    """L1 between D's intermediate features of real and generated data, summed over layers
    (Salimans et al. 2016 sec. 3.1 match statistics; Kumar et al. 2019 eq. 3 use it per layer)."""

    def __init__(
        self, weight: float = 10.0, statistic: Literal["l1", "mean"] = "l1", every: int = 1
    ) -> None:
        super().__init__(weight, every)
        if statistic not in ("l1", "mean"):
            raise ValueError("statistic must be 'l1' (per-sample L1) or 'mean' (batch means)")
        self.statistic = statistic

    def __call__(self, context: Context) -> Tensor:
        pairs = list(zip(context.real_features, context.fake_features))
        if not pairs:
            raise ValueError("feature matching needs a discriminator returning (scores, features)")
        if self.statistic == "mean":
            terms = [(r.detach().mean(0) - f.mean(0)).pow(2).mean() for r, f in pairs]
        else:
            terms = [F.l1_loss(f, r.detach()) for r, f in pairs]
        return _sum(terms)


ADVERSARIAL = {
    "core.bce": MinimaxLoss,
    "core.nonsaturating": NonSaturatingLoss,
    "core.lsgan": LSGANLoss,
    "core.wgan": WGANLoss,
    "core.wgan_gp": WGANGPLoss,
    "core.hinge": HingeLoss,
}
REGULARISERS = {"core.r1": R1Penalty, "core.feature_matching": FeatureMatchingLoss}
