"""``core.gan``: the generic adversarial trainer (Goodfellow et al. 2014, algorithm 1); how to
use and extend it: docs/writing-plugins.md, section 9."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context, Loss, discriminate
from genmm.training.optim import DEFAULT_OPTIMIZER, NonFiniteLoss
from genmm.training.run import generate, sample_latent
from genmm.training.trainer import Trainer

if TYPE_CHECKING:
    from genmm.surface import TrainerRun


def unpack(batch: Any) -> tuple[Tensor, Any]:
    """``real`` and ``condition`` of a batch (a mapping, a pair or a bare tensor)."""
    if isinstance(batch, dict):
        return batch["real"], batch.get("condition")
    if isinstance(batch, (list, tuple)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def fetch_batch(run: TrainerRun) -> tuple[Tensor, Any]:
    """The run's next batch as ``(real, condition)``, both moved to the run's device."""
    real, condition = unpack(run.next_batch())
    return run.to_device(real), run.to_device(condition)


def use_losses(run: TrainerRun, roles: list[str] | None, exclude: tuple[str, ...] = ()):
    """The recipe's losses this phase uses: ``roles`` (default: all), minus ``exclude``."""
    chosen = list(run.losses) if roles is None else list(roles)
    for role in chosen:
        run.loss(role)  # a RecipeError naming losses.<role> when missing
    return [(role, run.losses[role]) for role in chosen if role not in exclude]


class GANTrainer(Trainer):
    """Alternating D/G updates with any adversarial loss, regularisers and extra G terms."""

    default_optimizers = dict.fromkeys(("generator", "discriminator"), DEFAULT_OPTIMIZER)
    registered_name = "core.gan"
    fresh_fakes = False  # G's step draws new latents and fakes (StyleGAN2) instead of D's

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        n_critic: int = 1,
        ema: float | None = None,
        ema_start: int = 0,
        lazy_adjust: bool = True,
        augment: str | None = None,
    ) -> None:
        if n_critic < 1:
            raise ValueError("n_critic must be >= 1")
        if ema is not None and not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must lie in [0, 1), got {ema}")
        self.generator_role, self.discriminator_role = generator, discriminator
        self.adversarial_role, self.loss_roles, self.n_critic = adversarial, losses, n_critic
        self.ema_decay, self.ema_start, self.lazy_adjust = ema, ema_start, lazy_adjust
        self.augment_role, self.augment = augment, None
        self.d_steps = self.g_steps = 0

    def setup(self, run: TrainerRun) -> None:
        self.G = run.model(self.generator_role)
        self.D = run.model(self.discriminator_role)
        self.adversarial = run.loss(self.adversarial_role, AdversarialLoss)
        if self.augment_role is not None:
            self.augment = run.model(self.augment_role)
            if not callable(getattr(self.augment, "observe", None)):
                message = "an augmentation needs observe(real_scores)"
                raise RecipeError(message, run.recipe_file, f"models.{self.augment_role}")
        terms = use_losses(run, self.loss_roles, exclude=(self.adversarial_role,))
        for role, term in terms:
            if isinstance(term, AdversarialLoss):
                one = f"{self.registered_name} takes one adversarial loss"
                message = f"{one} (losses.{self.adversarial_role}); losses.{role} is another"
                raise RecipeError(message, run.recipe_file, f"losses.{role}")
        side = {r: t.role if isinstance(t, Loss) else "generator" for r, t in terms}

        def chosen(network: str, lazy: bool) -> list[tuple[str, Any]]:
            return [(r, t) for r, t in terms if side[r] == network and (t.every > 1) == lazy]

        self.d_terms, self.d_lazy = chosen("discriminator", False), chosen("discriminator", True)
        self.g_terms, self.g_lazy = chosen("generator", False), chosen("generator", True)
        for network, role, model, lazy in (
            ("generator", self.generator_role, self.G, self.g_lazy),
            ("discriminator", self.discriminator_role, self.D, self.d_lazy),
        ):
            default = self.default_optimizers.get(network, DEFAULT_OPTIMIZER)
            every = max((t.every for _, t in lazy), default=1) if self.lazy_adjust else 1
            parameters = self.parameters(role, model)
            run.add_optimizer(role, default=default, parameters=parameters, lazy_every=every)
        if self.ema_decay is not None:
            run.add_ema(self.generator_role, self.ema_decay, self.ema_start)

    def parameters(self, role: str, model: torch.nn.Module) -> Any:
        return model.parameters()

    def make_fake(self, run: TrainerRun, latent: Any, condition: Any) -> Tensor:
        return generate(self.G, latent, condition)

    def discriminate(self, x: Tensor, condition: Any) -> tuple[list[Tensor], list[Tensor]]:
        return discriminate(self.D, x, condition)

    def score(self, x: Tensor, condition: Any) -> tuple[list[Tensor], list[Tensor]]:
        return self.discriminate(x if self.augment is None else self.augment(x), condition)

    def extra_discriminator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor | None:
        return None

    def extra_generator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor | None:
        return None

    def discriminator_loss(self, context: Context, fake_scores: list[Tensor], logs: dict) -> Tensor:
        adversarial = self.adversarial.discriminator_loss(context.real_scores, fake_scores)
        logs["d_adversarial"] = adversarial.detach()
        loss = self.adversarial.weight * adversarial
        penalty = self.adversarial.regularize(context)
        if penalty is not None:
            logs["d_penalty"] = penalty.detach()
            loss = loss + penalty
        return _add(self.d_terms, context, logs, loss, self.extra_discriminator_loss)

    def generator_loss(self, context: Context, logs: dict) -> Tensor:
        adversarial = self.adversarial.generator_loss(context.fake_scores)
        logs["g_adversarial"] = adversarial.detach()
        loss = self.adversarial.weight * adversarial
        return _add(self.g_terms, context, logs, loss, self.extra_generator_loss)

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        try:
            return self._step(run, logs)
        except NonFiniteLoss as error:
            error.logs = {**logs, f"{error.role}_loss": error.value}  # which term it was
            raise

    def _step(self, run: TrainerRun, logs: dict[str, Any]) -> dict[str, Any]:
        observed: list[list[Tensor]] = []  # D's scores of each batch of reals
        for critic in range(self.n_critic):
            last, contexts = critic == self.n_critic - 1, []

            def d_compute(last: bool = last, contexts: list = contexts) -> Tensor:
                real, condition = fetch_batch(run)
                latent = sample_latent(self.G, real.shape[0], run.device)
                with torch.set_grad_enabled(last and not self.fresh_fakes):
                    fake = self.make_fake(run, latent, condition)
                context = Context(self.G, self.D, real, fake, condition, latent, step=run.step)
                context.discriminator_call = self.score
                context.real_scores, context.real_features = self.score(real, condition)
                contexts.append(context)
                observed.append([s.detach() for s in context.real_scores])
                fake_scores, _ = self.score(fake.detach(), condition)
                return self.discriminator_loss(context, fake_scores, logs)

            logs["d_loss"] = run.update(self.discriminator_role, d_compute)
            self.adversarial.after_discriminator_step(self.D)
            self._lazy(run, self.discriminator_role, self.d_lazy, self.d_steps, contexts, logs)
            self.d_steps += 1
        for context in contexts:  # the last critic's batches: G learns on them
            context.real_scores = [s.detach() for s in context.real_scores]
            context.real_features = [f.detach() for f in context.real_features]
        self.D.requires_grad_(False)
        try:
            pending = iter(contexts)

            def g_compute() -> Tensor:
                context = next(pending)
                if self.fresh_fakes:
                    context.latent = sample_latent(self.G, context.real.shape[0], run.device)
                    context.fake = self.make_fake(run, context.latent, context.condition)
                scores = self.score(context.fake, context.condition)
                context.fake_scores, context.fake_features = scores
                return self.generator_loss(context, logs)

            logs["g_loss"] = run.update(self.generator_role, g_compute)
            self._lazy(run, self.generator_role, self.g_lazy, self.g_steps, contexts, logs)
            self.g_steps += 1
        finally:
            self.D.requires_grad_(True)
        if self.augment is not None:  # D's scores of the step's reals, once the step is done
            for scores in observed:
                logs.update(self.augment.observe(scores))
        return logs

    def _lazy(self, run, role: str, terms, count: int, contexts: list, logs: dict) -> None:
        """Each lazy term due at this update count: its own step on the update's last batch."""
        for name, term in terms:
            if count % term.every == 0:
                compute = lambda term=term, context=contexts[-1]: term(context)
                logs[name] = run.update(role, compute, scale=term.weight * term.every)

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps, "g_steps": self.g_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        self.g_steps = int(state.get("g_steps", 0))


def _add(terms, context: Context, logs: dict, loss: Tensor, extra) -> Tensor:
    """``loss`` plus each weighted term (logged by its role), plus the subclass's ``extra``."""
    for role, term in terms:
        value = term(context)
        logs[role] = value.detach()
        loss = loss + term.weight * value
    added = extra(context, logs)
    return loss if added is None else loss + added
