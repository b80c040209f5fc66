"""``image.infogan``: the InfoGAN training step (Chen et al. 2016, sec. 5 and 6).

``min_{G,Q} max_D V(D, G) - lambda L_I(G, Q)``. As in the authors' release, the information
term is added to both players' losses: the discriminator step trains the shared trunk, the D
head and the Q head (D's optimiser holds all three) on ``V + lambda L_I`` of detached fakes;
the generator step adds ``lambda L_I`` to G's adversarial loss. One trunk pass gives both D's
score and Q's output (``D.infer``). Paper settings for MNIST: Adam, lr 2e-4 for D and 1e-3 for
G (the defaults here; the recipe's ``optimizers`` keys update them).

This is :class:`genmm.training.GANTrainer` with three hooks: :meth:`discriminate` calls
``D.infer`` and keeps Q's output, :meth:`extra_discriminator_loss` and
:meth:`extra_generator_loss` add ``lambda L_I`` (``losses.information``) to each player. The
recipe's adversarial loss with its weight, penalty (WGAN-GP) and clipping (WGAN), and every
other loss it names, are applied as in ``core.gan``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import Context
from genmm.training.gan import GANTrainer
from genmm_image.infogan.losses import MutualInformationLoss

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

INFOGAN_OPTIMIZERS = {
    "generator": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
    "discriminator": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]},
}


class InfoGANTrainer(GANTrainer):
    """D step: adversarial + MI (trunk, D and Q heads); G step: adversarial + MI."""

    default_optimizers = INFOGAN_OPTIMIZERS
    registered_name = "image.infogan"

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        information: str = "information",
        losses: list[str] | None = None,
        n_critic: int = 1,
        ema: float | None = None,
        ema_start: int = 0,
    ) -> None:
        super().__init__(
            generator,
            discriminator,
            adversarial,
            losses=losses,
            n_critic=n_critic,
            ema=ema,
            ema_start=ema_start,
        )
        self.information_role = information
        self.q_outputs: dict[int, dict[str, Tensor]] = {}

    def setup(self, run: TrainerRun) -> None:
        self.information = run.loss(self.information_role, MutualInformationLoss)
        super().setup(run)  # G and D optimisers (D's holds the trunk and both heads), EMA
        if not callable(getattr(self.D, "infer", None)) or not callable(
            getattr(self.G, "split", None)
        ):
            raise RecipeError(
                "image.infogan needs image.infogan_generator and image.infogan_discriminator "
                "(a generator with split() and a discriminator with infer())",
                file=run.recipe_file,
                key="models",
            )
        # the information term is this trainer's own (both players), not a plain G term
        self.g_terms = [(r, t) for r, t in self.g_terms if r != self.information_role]
        self.g_lazy = [(r, t) for r, t in self.g_lazy if r != self.information_role]

    def parameters(self, role: str, model: torch.nn.Module) -> Any:
        """D's optimiser holds the shared trunk, the real/fake head and the Q head."""
        if role == self.discriminator_role:
            heads = getattr(model, "q_head", None)
            held = list(model.parameters())
            if heads is not None:  # Q is part of D: say so rather than rely on it
                ids = {id(p) for p in held}
                held += [p for p in heads.parameters() if id(p) not in ids]
            return held
        return model.parameters()

    # ------------------------------------------------------------------ hooks
    def discriminate(self, x: Tensor, condition: Any) -> tuple[list[Tensor], list[Tensor]]:
        """One trunk pass: D's logit, and Q's output kept (by the images' storage) for the
        information term of the same images."""
        logit, q = self.D.infer(x)
        self.q_outputs[x.data_ptr()] = q
        return [logit], []

    def information_term(self, context: Context) -> tuple[Tensor, dict[str, Tensor]]:
        """``L_I`` of Q's output on this step's fakes and the codes that made them."""
        q = self.q_outputs.pop(context.fake.data_ptr())
        self.q_outputs.clear()
        _, category, code = self.G.split(context.latent)
        return self.information.parts(q, category, code)

    def extra_discriminator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor:
        information, _ = self.information_term(context)
        logs["d_information"] = information.detach()
        return self.information.weight * information

    def extra_generator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor:
        information, parts = self.information_term(context)
        logs.update(mi_loss=information.detach(), **parts)
        return self.information.weight * information
