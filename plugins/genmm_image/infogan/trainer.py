"""``image.infogan``: the InfoGAN training step (Chen et al. 2016, sec. 5 and 6).

``min_{G,Q} max_D V(D, G) - lambda L_I(G, Q)``. As in the authors' release, the information
term is added to both players' losses: the discriminator step trains the shared trunk, the D
head and the Q head (D's optimiser holds all three) on ``V + lambda L_I`` of detached fakes;
the generator step adds ``lambda L_I`` to G's adversarial loss. One trunk pass gives both D's
score and Q's output. Paper settings for MNIST: Adam, lr 2e-4 for D and 1e-3 for G.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genmm.errors import RecipeError
from genmm.training.gan import GANTrainer, fetch_batch, sample_latent
from genmm_image.infogan.losses import MutualInformationLoss

if TYPE_CHECKING:
    from genmm.training.run import Run

INFOGAN_OPTIMIZERS = {
    "generator": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
    "discriminator": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]},
}


class InfoGANTrainer(GANTrainer):
    """D step: adversarial + MI (trunk, D and Q heads); G step: adversarial + MI."""

    default_optimizers = INFOGAN_OPTIMIZERS

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        optimizers: dict[str, dict[str, Any]] | None = None,
        schedules: dict[str, dict[str, Any]] | None = None,
        ema: float | None = None,
        adversarial: str = "adversarial",
        information: str = "information",
    ) -> None:
        super().__init__(
            generator, discriminator, optimizers, schedules, ema=ema, adversarial=adversarial
        )
        self.information_role = information

    def bind(self, run: Run, trainer: str = "image.infogan") -> None:
        super().bind(run, trainer)  # errors name image.infogan, not core.gan

    def setup(self, run: Run) -> None:
        super().setup(run)  # bind, G and D optimisers (D's holds the trunk and both heads), EMA
        information = run.losses.get(self.information_role)
        if not isinstance(information, MutualInformationLoss):
            raise RecipeError(
                f"image.infogan needs losses.{self.information_role}: "
                "{name: image.mutual_information}",
                file=run.recipe_file,
                key=f"losses.{self.information_role}",
            )
        if not callable(getattr(self.D, "infer", None)) or not callable(
            getattr(self.G, "split", None)
        ):
            raise RecipeError(
                "image.infogan needs image.infogan_generator and image.infogan_discriminator",
                file=run.recipe_file,
                key="models",
            )
        self.information = information
        self.g_terms = [(r, t) for r, t in self.g_terms if t is not information]

    def train_step(self, run: Run) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        G, D = self.G, self.D
        d_optimizer = self.optimizers[self.discriminator_role]
        g_optimizer = self.optimizers[self.generator_role]
        real, _ = fetch_batch(run)
        latent = sample_latent(G, real.shape[0], run.device)
        _, category, code = G.split(latent)
        weight = self.information.weight

        # discriminator (with the shared trunk and Q head): V(D, G) + lambda L_I on fakes
        d_optimizer.zero_grad(set_to_none=True)
        with run.autocast():
            fake = G(latent)
            real_scores = D(real)
            fake_scores, q = D.infer(fake.detach())
            d_loss = self.adversarial.discriminator_loss([real_scores], [fake_scores])
            d_info, _ = self.information.parts(q, category, code)
            d_total = d_loss + weight * d_info
        d_total.backward()
        self._clip(D)
        d_optimizer.step()
        self.d_steps += 1
        logs["d_loss"] = d_loss.detach()

        # generator: non-saturating loss + lambda L_I through the (frozen) trunk and Q head
        D.requires_grad_(False)
        g_optimizer.zero_grad(set_to_none=True)
        with run.autocast():
            fake_scores, q = D.infer(fake)
            g_loss = self.adversarial.generator_loss([fake_scores])
            g_info, info_logs = self.information.parts(q, category, code)
            g_total = g_loss + weight * g_info
        g_total.backward()
        D.requires_grad_(True)
        self._clip(G)
        g_optimizer.step()
        run.update_ema(self.generator_role)
        self.step_schedules()
        logs.update(g_loss=g_loss.detach(), mi_loss=g_info.detach(), **info_logs)
        return logs
