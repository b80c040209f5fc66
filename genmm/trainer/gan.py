"""``core.gan``: the generic adversarial trainer (Goodfellow et al. 2014, algorithm 1).

Each step makes ``n_critic`` discriminator updates and one generator update. Batches are
mappings with ``real`` and optionally ``condition``; the generator is called as
``G(z, condition)`` (either may be absent: a vocoder takes only its condition) with
``z = G.sample_latent(n, device)`` or ``randn(n, G.latent_dim)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context, Loss, discriminate
from genmm.trainer.phase import Phase

if TYPE_CHECKING:
    from genmm.trainer.run import Run

DEFAULT_OPTIMIZER = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


def sample_latent(generator: nn.Module, n: int, device: torch.device | str) -> Tensor | None:
    """The generator's latent for ``n`` samples (``None`` when it takes no noise)."""
    custom = getattr(generator, "sample_latent", None)
    if callable(custom):
        return custom(n, device)
    latent_dim = getattr(generator, "latent_dim", 0)
    if not latent_dim:
        return None
    return torch.randn(n, latent_dim, device=device)


def generate(generator: nn.Module, latent: Any, condition: Any = None) -> Tensor:
    inputs = [x for x in (latent, condition) if x is not None]
    return generator(*inputs)


def unpack(batch: Any) -> tuple[Tensor, Any]:
    """``real`` and ``condition`` of a batch (a mapping, a pair or a bare tensor)."""
    if isinstance(batch, dict):
        return batch["real"], batch.get("condition")
    if isinstance(batch, (list, tuple)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def fetch_batch(run: Run) -> tuple[Tensor, Any]:
    """The run's next batch as ``(real, condition)``, both moved to the run's device."""
    real, condition = unpack(run.next_batch())
    return run.to_device(real), run.to_device(condition)


class GANTrainer(Phase):
    """Alternating D/G updates with any adversarial loss, regularisers and extra G terms."""

    #: each network's optimiser when the recipe names none; a recipe's keys update these.
    #: Subclasses set their paper's values here.
    default_optimizers: dict[str, dict[str, Any]] = {
        "generator": DEFAULT_OPTIMIZER,
        "discriminator": DEFAULT_OPTIMIZER,
    }

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        optimizers: dict[str, dict[str, Any]] | None = None,
        schedules: dict[str, dict[str, Any]] | None = None,
        n_critic: int = 1,
        clip_grad_norm: float | None = None,
        accumulate: int = 1,
        ema: float | None = None,
        ema_start: int = 0,
        adversarial: str = "adversarial",
    ) -> None:
        super().__init__()
        if n_critic < 1 or accumulate < 1:
            raise ValueError("n_critic and accumulate must be >= 1")
        self.generator_role = generator
        self.discriminator_role = discriminator
        defaults = {
            generator: self.default_optimizers["generator"],
            discriminator: self.default_optimizers["discriminator"],
        }
        self.optimizer_specs = {role: dict(spec) for role, spec in defaults.items()}
        for role, spec in (optimizers or {}).items():
            self.optimizer_specs[role] = {**defaults.get(role, DEFAULT_OPTIMIZER), **spec}
        self.schedule_specs = schedules or {}
        self.n_critic = n_critic
        self.clip_grad_norm = clip_grad_norm
        self.accumulate = accumulate
        self.ema_decay = ema
        self.ema_start = ema_start
        self.adversarial_role = adversarial
        self.d_steps = 0

    def bind(self, run: Run, trainer: str = "core.gan") -> None:
        """Take the generator, discriminator and losses from ``run``: the adversarial loss and
        the extra discriminator (``d_terms``) and generator (``g_terms``) terms. Subclasses
        that build their own optimisers call this from their ``setup``."""
        self.G = run.model(self.generator_role)
        self.D = run.model(self.discriminator_role)
        adversarial = run.losses.get(self.adversarial_role)
        if not isinstance(adversarial, AdversarialLoss):
            raise RecipeError(
                f"{trainer} needs an adversarial loss under losses.{self.adversarial_role}",
                file=run.recipe_file,
                key=f"losses.{self.adversarial_role}",
            )
        self.adversarial = adversarial
        extra = {r: loss for r, loss in run.losses.items() if r != self.adversarial_role}
        self.d_terms = [(r, loss) for r, loss in extra.items() if _role(loss) == "discriminator"]
        self.g_terms = [(r, loss) for r, loss in extra.items() if _role(loss) == "generator"]

    def setup(self, run: Run) -> None:
        self.bind(run)
        for role, model in ((self.generator_role, self.G), (self.discriminator_role, self.D)):
            self.make_optimizer(
                run,
                role,
                model.parameters(),
                self.optimizer_specs[role],
                self.schedule_specs.get(role),
            )
        if self.ema_decay is not None:
            run.add_ema(self.generator_role, self.ema_decay, self.ema_start)

    def _add_terms(self, terms, context: Context, logs: dict, loss: Tensor) -> Tensor:
        """``loss`` plus each extra term due at this step (lazy terms every ``term.every``
        steps, scaled by ``every`` as in StyleGAN2's lazy regularisation); each is logged."""
        for role, term in terms:
            if self.d_steps % term.every == 0:
                value = term(context)
                logs[role] = value.detach()
                loss = loss + term.weight * term.every * value
        return loss

    def _clip(self, model: nn.Module) -> None:
        if self.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_grad_norm)

    def train_step(self, run: Run) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        d_optimizer = self.optimizers[self.discriminator_role]
        g_optimizer = self.optimizers[self.generator_role]
        kept: list[Context] = []
        for critic in range(self.n_critic):
            last = critic == self.n_critic - 1
            d_optimizer.zero_grad(set_to_none=True)
            self.d_steps += 1
            for _ in range(self.accumulate):
                real, condition = fetch_batch(run)
                latent = sample_latent(self.G, real.shape[0], run.device)
                with run.autocast():
                    with torch.set_grad_enabled(last):
                        fake = generate(self.G, latent, condition)
                    context = Context(self.G, self.D, real, fake, condition, latent, step=run.step)
                    context.real_scores, context.real_features = discriminate(
                        self.D, real, condition
                    )
                    fake_scores, _ = discriminate(self.D, fake.detach(), condition)
                    d_loss = self.adversarial.discriminator_loss(context.real_scores, fake_scores)
                    logs["d_adversarial"] = d_loss.detach()
                    penalty = self.adversarial.regularize(context)
                    if penalty is not None:
                        logs["d_penalty"] = penalty.detach()
                        d_loss = d_loss + penalty
                    d_loss = self._add_terms(self.d_terms, context, logs, d_loss)
                (d_loss / self.accumulate).backward()
                logs["d_loss"] = d_loss.detach()
                if last:
                    context.real_scores = [s.detach() for s in context.real_scores]
                    context.real_features = [f.detach() for f in context.real_features]
                    kept.append(context)
            self._clip(self.D)
            d_optimizer.step()
            self.adversarial.after_discriminator_step(self.D)

        self.D.requires_grad_(False)
        g_optimizer.zero_grad(set_to_none=True)
        for context in kept:
            with run.autocast():
                context.fake_scores, context.fake_features = discriminate(
                    self.D, context.fake, context.condition
                )
                g_loss = self.adversarial.generator_loss(context.fake_scores)
                logs["g_adversarial"] = g_loss.detach()
                g_loss = self._add_terms(self.g_terms, context, logs, g_loss)
            (g_loss / self.accumulate).backward()
            logs["g_loss"] = g_loss.detach()
        self.D.requires_grad_(True)
        self._clip(self.G)
        g_optimizer.step()
        run.update_ema(self.generator_role)
        self.step_schedules()
        return logs

    def extra_state(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))


def _role(loss: Any) -> str:
    return getattr(loss, "role", "generator") if isinstance(loss, Loss) else "generator"
