"""``image.stylegan2``: the StyleGAN2 training loop (Karras et al. 2020, sec. 3 and appendix B).

Per step, as in the paper's lazy-regularisation schedule, up to four optimiser steps:

1. D main: non-saturating logistic loss on real and generated images (``losses.adversarial``,
   ``core.nonsaturating``);
2. D reg, every ``r1.every`` (16) D steps: R1 (Mescheder et al. 2018) through ``core.r1``,
   scaled by ``every`` (sec. 3.1, "lazy regularization");
3. G main: non-saturating loss, style mixing with probability ``style_mixing`` (0.9; StyleGAN
   sec. 3.1: one crossover point, later layers take a second latent's w), ``w_avg`` tracked;
4. G reg, every ``pl_every`` (4) G steps: path-length regularisation (sec. 3.2):
   ``(|J_w^T y|_2 - a)^2`` with ``y ~ N(0, I) / sqrt(H W)``, ``a`` an exponential moving
   average of the lengths (decay 0.01), weight 2, on a half-size batch.

Adam with betas (0, 0.99) and lr 0.0025; for a lazily regularised network of interval k the
learning rate is multiplied by ``c = k / (k + 1)`` and the betas raised to the power ``c``
(appendix B). The generator's EMA uses a half-life of ``ema_kimg`` thousand images, optionally
ramped up to ``ema_rampup`` times the images seen (stylegan2-ada-pytorch).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.losses import Context, R1Penalty
from genmm.training.gan import GANTrainer, fetch_batch

if TYPE_CHECKING:
    from genmm.training.run import Run

STYLEGAN2_OPTIMIZER = {"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99], "eps": 1e-8}


def lazy_adjusted(spec: dict[str, Any], every: int) -> dict[str, Any]:
    """lr * c and betas ** c with c = every / (every + 1) (StyleGAN2 appendix B)."""
    if every <= 1:
        return spec
    c = every / (every + 1)
    spec = dict(spec)
    spec["lr"] = float(spec.get("lr", 0.001)) * c
    if "betas" in spec:
        spec["betas"] = [float(beta) ** c for beta in spec["betas"]]
    return spec


class StyleGAN2Trainer(GANTrainer):
    """Alternating D/G steps with lazy R1, path-length regularisation, style mixing and EMA."""

    default_optimizers = {"generator": STYLEGAN2_OPTIMIZER, "discriminator": STYLEGAN2_OPTIMIZER}

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        optimizers: dict[str, dict[str, Any]] | None = None,
        schedules: dict[str, dict[str, Any]] | None = None,
        style_mixing: float = 0.9,
        pl_weight: float = 2.0,
        pl_every: int = 4,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        ema_kimg: float = 10.0,
        ema_rampup: float | None = None,
        lazy_adjust: bool = True,
        adversarial: str = "adversarial",
    ) -> None:
        super().__init__(generator, discriminator, optimizers, schedules, adversarial=adversarial)
        if pl_every < 1 or pl_batch_shrink < 1:
            raise ValueError("pl_every and pl_batch_shrink must be >= 1")
        self.style_mixing = style_mixing
        self.pl_weight, self.pl_every, self.pl_decay = pl_weight, pl_every, pl_decay
        self.pl_batch_shrink = pl_batch_shrink
        self.ema_kimg, self.ema_rampup = ema_kimg, ema_rampup
        self.lazy_adjust = lazy_adjust
        self.g_steps = 0
        self.images_seen = 0
        self.pl_mean = torch.zeros([])
        self.r1_steps: list[int] = []  # D steps at which R1 ran (the last few, for tests)

    # ------------------------------------------------------------------ setup
    def setup(self, run: Run) -> None:
        self.bind(run, "image.stylegan2")  # G, D, the adversarial loss, d_terms / g_terms
        self.r1 = next((loss for _, loss in self.d_terms if isinstance(loss, R1Penalty)), None)
        d_every = self.r1.every if (self.r1 is not None and self.lazy_adjust) else 1
        g_every = self.pl_every if (self.pl_weight > 0 and self.lazy_adjust) else 1
        for role, model, every in (
            (self.generator_role, self.G, g_every),
            (self.discriminator_role, self.D, d_every),
        ):
            spec = lazy_adjusted(self.optimizer_specs[role], every)
            self.make_optimizer(run, role, model.parameters(), spec, self.schedule_specs.get(role))
        run.add_ema(self.generator_role, 0.999)
        self.pl_mean = self.pl_mean.to(run.device)

    # ------------------------------------------------------------------ pieces
    def styles(self, n: int, device: torch.device, update_w_avg: bool = False) -> Tensor:
        """ws (n, num_ws, w_dim) with style mixing at one random crossover point."""
        G = self.G
        ws = G.styles(torch.randn(n, G.z_dim, device=device), update_w_avg=update_w_avg)
        if self.style_mixing > 0 and torch.rand([]).item() < self.style_mixing:
            cutoff = int(torch.randint(1, G.num_ws, []).item())
            other = G.styles(torch.randn(n, G.z_dim, device=device))
            return G.mix(ws, other, cutoff)
        return ws.clone()

    def path_length_penalty(self, n: int, device: torch.device) -> Tensor:
        """StyleGAN2 sec. 3.2: E (|J_w^T y| - a)^2, updating a (decay ``pl_decay``)."""
        ws = self.styles(n, device)
        images = self.G.synthesis(ws)  # (n, C, H, W)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (gradient,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = gradient.square().sum(2).mean(1).sqrt()  # (n,)
        with torch.no_grad():
            self.pl_mean.lerp_(lengths.mean(), self.pl_decay)
        return (lengths - self.pl_mean).square().mean()

    def ema_beta(self, batch: int) -> float:
        """0.5 ** (batch / half-life in images); the half-life ramps with the images seen."""
        half_life = self.ema_kimg * 1000
        if self.ema_rampup is not None:
            half_life = min(half_life, self.images_seen * self.ema_rampup)
        return 0.5 ** (batch / max(half_life, 1e-8))

    # ------------------------------------------------------------------ step
    def train_step(self, run: Run) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        G, D = self.G, self.D
        d_optimizer = self.optimizers[self.discriminator_role]
        g_optimizer = self.optimizers[self.generator_role]
        real, condition = fetch_batch(run)
        batch = real.shape[0]

        # 1. D main: logistic loss on real and (mixed-style) generated images
        with torch.no_grad(), run.autocast():
            fake = G.synthesis(self.styles(batch, run.device))
        d_optimizer.zero_grad(set_to_none=True)
        with run.autocast():
            real_scores, fake_scores = D(real), D(fake)
            d_loss = self.adversarial.discriminator_loss([real_scores], [fake_scores])
        d_loss.backward()
        d_optimizer.step()
        logs["d_loss"] = d_loss.detach()
        logs["real_score"] = real_scores.detach().mean()
        logs["fake_score"] = fake_scores.detach().mean()

        # 2. D reg: lazy R1 through core.r1, scaled by its interval
        if self.r1 is not None and self.d_steps % self.r1.every == 0:
            d_optimizer.zero_grad(set_to_none=True)
            context = Context(G, D, real, fake, condition, step=run.step)
            with run.autocast():
                penalty = self.r1(context)
            (penalty * self.r1.weight * self.r1.every).backward()
            d_optimizer.step()
            logs["r1"] = penalty.detach()
            self.r1_steps = (self.r1_steps + [self.d_steps])[-8:]
        self.d_steps += 1

        # 3. G main: non-saturating loss, style mixing, w_avg tracking
        D.requires_grad_(False)
        g_optimizer.zero_grad(set_to_none=True)
        with run.autocast():
            fake = G.synthesis(self.styles(batch, run.device, update_w_avg=True))
            g_loss = self.adversarial.generator_loss([D(fake)])
        g_loss.backward()
        g_optimizer.step()
        logs["g_loss"] = g_loss.detach()

        # 4. G reg: lazy path-length regularisation on a smaller batch
        if self.pl_weight > 0 and self.g_steps % self.pl_every == 0:
            g_optimizer.zero_grad(set_to_none=True)
            with run.autocast():
                penalty = self.path_length_penalty(
                    max(1, batch // self.pl_batch_shrink), run.device
                )
            (penalty * self.pl_weight * self.pl_every).backward()
            g_optimizer.step()
            logs["pl_penalty"] = penalty.detach()
            logs["pl_mean"] = self.pl_mean.detach().clone()
        self.g_steps += 1
        D.requires_grad_(True)

        # generator EMA with a half-life in images
        run.ema[self.generator_role].decay = self.ema_beta(batch)
        run.update_ema(self.generator_role)
        self.images_seen += batch
        self.step_schedules()
        return logs

    def extra_state(self) -> dict[str, Any]:
        return {
            "d_steps": self.d_steps,
            "g_steps": self.g_steps,
            "images_seen": self.images_seen,
            "pl_mean": self.pl_mean.detach().cpu(),
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        self.g_steps = int(state.get("g_steps", 0))
        self.images_seen = int(state.get("images_seen", 0))
        if "pl_mean" in state:
            self.pl_mean = torch.as_tensor(state["pl_mean"]).to(self.pl_mean.device)
