"""``audio.pretrain``: the generator alone on its regression losses, before the adversarial
phase.

Yamamoto et al. (Parallel WaveGAN, ICASSP 2020, sec. 3.1) keep the discriminator off for the
first training steps and Yang et al. (Multi-band MelGAN, SLT 2021, sec. 2.3) pre-train the
MelGAN generator with the multi-resolution STFT loss alone: the generator quickly learns the
spectral envelope and the adversarial phase then spends its steps on fine structure. On a CPU
this is what makes a few tens of minutes of training useful. The phase uses the
generator-role losses named in ``losses`` (default: ``mrstft``) and none that needs a
discriminator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genmm.errors import RecipeError
from genmm.losses import Context
from genmm.training.gan import fetch_batch, generate, sample_latent
from genmm.training.trainer import Trainer

if TYPE_CHECKING:
    from genmm.training.run import Run


class GeneratorPretraining(Trainer):
    """Generator-only steps on the named generator losses (no discriminator)."""

    def __init__(
        self,
        generator: str = "generator",
        losses: list[str] | None = None,
        optimizer: dict[str, Any] | None = None,
        schedule: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.generator_role = generator
        self.loss_roles = list(losses or ["mrstft"])
        self.optimizer_spec = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9], **(optimizer or {})}
        self.schedule_spec = schedule

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        self.terms = []
        for role in self.loss_roles:
            if role not in run.losses:
                raise RecipeError(
                    f"audio.pretrain needs a loss under losses.{role}",
                    file=run.recipe_file,
                    key=f"phases.{run.phase_name}.losses",
                )
            self.terms.append((role, run.losses[role]))
        self.make_optimizer(
            run, self.generator_role, self.G.parameters(), self.optimizer_spec, self.schedule_spec
        )

    def train_step(self, run: Run) -> dict[str, Any]:
        optimizer = self.optimizers[self.generator_role]
        real, condition = fetch_batch(run)
        optimizer.zero_grad(set_to_none=True)
        with run.autocast():
            latent = sample_latent(self.G, real.shape[0], run.device)
            fake = generate(self.G, latent, condition)
            context = Context(self.G, None, real, fake, condition, latent, step=run.step)
            logs: dict[str, Any] = {}
            total = fake.new_zeros(())
            for role, term in self.terms:
                value = term(context)
                logs[role] = value.detach()
                total = total + term.weight * value
        total.backward()
        optimizer.step()
        self.step_schedules()
        logs["g_loss"] = total.detach()
        return logs
