"""Trainers of paired image-to-image translation.

* ``image.pix2pix`` (Isola et al. 2017, section 3.3): ``core.gan`` with the paper's settings.
  One D step and one G step per batch; D's objective is divided by 2 ("we divide the
  objective by 2 while optimizing D, which slows down the rate at which D learns relative to
  G"); Adam with lr 2e-4 and betas (0.5, 0.999) for both networks. The recipe gives the
  adversarial loss (``core.bce``: the paper's log-loss, G maximising log D(x, G(x))) and the
  L1 term (``image.l1``, weight 100), and D sees the pair through ``core.gan``'s condition
  (the input image is the batch's ``condition``; a conditional D is called ``D(y, x)``).
* ``image.supervised``: the generator alone on the recipe's generator terms, no adversary:
  the "L1" row of the paper's table 1, the baseline a pix2pix recipe is measured against.

Both step through the core's optimisation path (``run.update``). Adam runs as torch's fused
kernel where the device has one (CPU, CUDA): the same update, several times faster than the
per-tensor loop on the U-Net's 40-55 M parameters (``optimizers.<role>.fused: false`` turns
it off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context, Loss
from genmm.training import GANTrainer, Trainer, fetch_batch, generate, sample_latent
from genmm.training.gan import use_losses

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

PAPER_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
FUSED_DEVICES = ("cpu", "cuda")


def paper_adam(device: torch.device | str) -> dict[str, Any]:
    """The paper's Adam, as the fused kernel on devices that have one."""
    fused = torch.device(device).type in FUSED_DEVICES
    return {**PAPER_ADAM, "fused": True} if fused else dict(PAPER_ADAM)


class Pix2PixTrainer(GANTrainer):
    """``core.gan`` with pix2pix's halved D objective and its Adam settings."""

    registered_name = "image.pix2pix"

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        discriminator_scale: float = 0.5,
        ema: float | None = None,
    ) -> None:
        super().__init__(
            generator=generator,
            discriminator=discriminator,
            adversarial=adversarial,
            losses=losses,
            n_critic=1,
            ema=ema,
        )
        if discriminator_scale <= 0:
            raise ValueError(f"discriminator_scale must be > 0, got {discriminator_scale}")
        self.discriminator_scale = discriminator_scale

    def setup(self, run: TrainerRun) -> None:
        adam = paper_adam(run.device)
        self.default_optimizers = {"generator": adam, "discriminator": adam}
        super().setup(run)
        if not getattr(self.D, "conditional", False):
            raise RecipeError(
                "image.pix2pix needs a conditional discriminator that sees the input image "
                "(image.patchgan)",
                file=run.recipe_file,
                key=f"models.{self.discriminator_role}",
            )

    def discriminator_loss(self, context: Context, fake_scores: list[Tensor], logs: dict) -> Tensor:
        return self.discriminator_scale * super().discriminator_loss(context, fake_scores, logs)


class SupervisedTrainer(Trainer):
    """The generator alone, on the recipe's generator terms (``image.l1``): no adversary."""

    registered_name = "image.supervised"

    def __init__(
        self,
        generator: str = "generator",
        losses: list[str] | None = None,
        ema: float | None = None,
    ) -> None:
        if ema is not None and not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must lie in [0, 1), got {ema}")
        self.generator_role, self.loss_roles, self.ema_decay = generator, losses, ema
        self.updates = 0

    def setup(self, run: TrainerRun) -> None:
        self.G = run.model(self.generator_role)
        self.terms = use_losses(run, self.loss_roles)
        if not self.terms:
            raise RecipeError(
                "image.supervised needs at least one generator term (losses: {l1: {name: "
                "image.l1}})",
                file=run.recipe_file,
                key="losses",
            )
        for role, term in self.terms:
            kind = getattr(term, "role", None)
            if (
                isinstance(term, AdversarialLoss)
                or not isinstance(term, Loss)
                or kind != "generator"
            ):
                raise RecipeError(
                    f"image.supervised trains the generator alone; losses.{role} is not a "
                    "generator term (use image.pix2pix for an adversarial loss)",
                    file=run.recipe_file,
                    key=f"losses.{role}",
                )
            if term.every != 1:
                raise RecipeError(
                    "image.supervised runs every term each step", key=f"losses.{role}.every"
                )
        run.add_optimizer(self.generator_role, default=paper_adam(run.device))
        if self.ema_decay is not None:
            run.add_ema(self.generator_role, self.ema_decay)

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}

        def compute() -> Tensor:
            real, condition = fetch_batch(run)
            fake = generate(self.G, sample_latent(self.G, real.shape[0], run.device), condition)
            context = Context(self.G, None, real, fake, condition, step=run.step)
            total = None
            for role, term in self.terms:
                value = term(context)
                logs[role] = value.detach()
                total = term.weight * value if total is None else total + term.weight * value
            return total

        logs["g_loss"] = run.update(self.generator_role, compute)
        self.updates += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state.get("updates", 0))
