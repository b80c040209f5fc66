"""``audio.pretrain``: the generator alone on its regression losses, before the adversarial
phase.

Yamamoto et al. (Parallel WaveGAN, ICASSP 2020, sec. 3.1) keep the discriminator off for the
first training steps and Yang et al. (Multi-band MelGAN, SLT 2021, sec. 2.3) pre-train the
MelGAN generator with the multi-resolution STFT loss alone: the generator quickly learns the
spectral envelope and the adversarial phase then spends its steps on fine structure. On a CPU
this is what makes a few tens of minutes of training useful. The phase sums the
generator-role losses named in ``losses`` (default: ``[mrstft]``), each scaled by its
``weight``, and none that needs a discriminator.

The optimiser is the core's: the generator role defaults to Adam 1e-4, betas (0.5, 0.9)
(MelGAN's), and the phase keys ``optimizers: {generator: ...}``, ``schedules: {generator: ...}``,
``clip_grad_norm`` and ``accumulate`` apply as in every phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context, Loss
from genmm.training import Trainer
from genmm.training.gan import fetch_batch
from genmm.training.run import generate, sample_latent

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

#: MelGAN's optimiser (Kumar et al. 2019, sec. 3): the recipe's optimizers.generator updates it
DEFAULT_OPTIMIZER = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]}


class GeneratorPretraining(Trainer):
    """Generator-only steps on the named generator losses (no discriminator)."""

    registered_name = "audio.pretrain"

    def __init__(
        self,
        generator: str = "generator",
        losses: list[str] | None = None,
        lazy_adjust: bool = True,
    ) -> None:
        super().__init__()
        self.generator_role = generator
        self.loss_roles = list(losses) if losses is not None else ["mrstft"]
        self.lazy_adjust = lazy_adjust
        self.steps = 0

    def setup(self, run: TrainerRun) -> None:
        self.G = run.model(self.generator_role)
        terms: list[tuple[str, Loss]] = []
        for role in self.loss_roles:
            term = run.loss(role)  # a RecipeError naming losses.<role> when absent
            if isinstance(term, AdversarialLoss) or getattr(term, "role", "generator") != (
                "generator"
            ):
                raise RecipeError(
                    f"{self.registered_name} trains the generator alone: losses.{role} is not "
                    "a generator term",
                    file=run.recipe_file,
                    key=f"phases.{run.phase_name}.losses",
                )
            terms.append((role, term))
        if not terms:
            raise RecipeError(
                f"{self.registered_name} needs at least one loss",
                file=run.recipe_file,
                key=f"phases.{run.phase_name}.losses",
            )
        # a term with every: N > 1 is lazy: its own step every N steps, scaled by N
        self.terms = [(r, t) for r, t in terms if getattr(t, "every", 1) == 1]
        self.lazy = [(r, t) for r, t in terms if getattr(t, "every", 1) > 1]
        every = max((t.every for _, t in self.lazy), default=1) if self.lazy_adjust else 1
        run.add_optimizer(self.generator_role, default=DEFAULT_OPTIMIZER, lazy_every=every)

    def context(self, run: TrainerRun, real: Tensor, condition: Any) -> Context:
        latent = sample_latent(self.G, real.shape[0], run.device)
        fake = generate(self.G, latent, condition)
        return Context(self.G, None, real, fake, condition, latent, step=run.step)

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        batch: list[tuple[Tensor, Any]] = []

        def compute() -> Tensor:
            real, condition = fetch_batch(run)
            batch[:] = [(real, condition)]
            context = self.context(run, real, condition)
            total = context.fake.new_zeros(())
            for role, term in self.terms:
                value = term(context)
                logs[role] = value.detach()
                total = total + term.weight * value
            return total

        if self.terms:
            logs["g_loss"] = run.update(self.generator_role, compute)
        for role, term in self.lazy:
            if self.steps % term.every == 0:

                def lazy(term: Loss = term) -> Tensor:
                    real, condition = batch[0] if batch else fetch_batch(run)
                    return term(self.context(run, real, condition))

                logs[role] = run.update(self.generator_role, lazy, scale=term.weight * term.every)
        self.steps += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))
