"""SeqGAN training as three recipe phases (Yu et al., AAAI 2017, algorithm 1 and sec. 5).

- ``text.mle``: pre-train G_theta by maximum likelihood (teacher forcing) on the real data.
- ``text.discriminator_pretrain``: pre-train D_phi on real data against negatives drawn from
  G; the negatives are drawn afresh every ``refresh_epochs`` passes over them (paper: 10,000
  negatives, 3 epochs each, 50 times).
- ``text.seqgan_adversarial``: one step is one adversarial round of algorithm 1: ``g_steps``
  policy-gradient updates of G (eq. 8) with rewards from ``rollouts`` Monte Carlo completions
  by the roll-out policy G_beta (eq. 4), then G_beta <- ``rollout_update_rate`` G_beta +
  (1 - rate) G_theta, then ``d_steps`` times: draw ``negatives`` fresh samples and train D for
  ``d_epochs`` epochs (eq. 5).

Defaults are the authors' settings: Adam, G learning rate 0.01 with gradient norm clipped at
5, D learning rate 1e-4, N = 16 rollouts, roll-out update rate 0.8, g_steps 1, d_steps 5,
3 epochs on 10,000 negatives.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from genmm.training import Trainer

if TYPE_CHECKING:
    from genmm.training.run import Run

G_OPTIMIZER = {"name": "adam", "lr": 0.01}
D_OPTIMIZER = {"name": "adam", "lr": 1e-4}


def real_tokens(run: Run) -> torch.Tensor:
    batch = run.next_batch()
    return run.to_device(batch["real"] if isinstance(batch, dict) else batch)


@torch.no_grad()
def draw_samples(generator: nn.Module, n: int, chunk: int = 2000) -> torch.Tensor:
    """``n`` sequences from G in eval mode (no dropout), in chunks: (n, T)."""
    training = generator.training
    generator.eval()
    try:
        return torch.cat([generator.sample(min(chunk, n - i)) for i in range(0, n, chunk)])
    finally:
        generator.train(training)


class MLETrainer(Trainer):
    """Maximum-likelihood pre-training of the generator (teacher forcing)."""

    def __init__(
        self,
        generator: str = "generator",
        optimizer: dict[str, Any] | None = None,
        schedule: dict[str, Any] | None = None,
        clip_grad_norm: float | None = 5.0,
    ) -> None:
        super().__init__()
        self.generator_role = generator
        self.optimizer_spec = {**G_OPTIMIZER, **(optimizer or {})}
        self.schedule_spec = schedule
        self.clip_grad_norm = clip_grad_norm

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        self.make_optimizer(
            run, self.generator_role, self.G.parameters(), self.optimizer_spec, self.schedule_spec
        )

    def train_step(self, run: Run) -> dict[str, Any]:
        tokens = real_tokens(run)  # (B, T)
        optimizer = self.optimizers[self.generator_role]
        with run.autocast():
            nll = -self.G.log_probs(tokens).mean()
        optimizer.zero_grad(set_to_none=True)
        nll.backward()
        if self.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.G.parameters(), self.clip_grad_norm)
        optimizer.step()
        self.step_schedules()
        return {"nll": nll.detach()}


class DiscriminatorTraining:
    """Shared D updates on real batches against a pool of fresh negatives from G."""

    def setup_discriminator(self, run: Run, discriminator: str, spec: dict[str, Any]) -> None:
        self.D = run.model(discriminator)
        self.pool = torch.empty(0, dtype=torch.long)
        self.pool_position = 0
        self.make_optimizer(run, discriminator, self.D.parameters(), spec)  # type: ignore[attr-defined]
        self.d_optimizer = self.optimizers[discriminator]  # type: ignore[attr-defined]

    def refresh_pool(self, run: Run, generator: nn.Module, count: int) -> None:
        self.pool = draw_samples(generator, count)
        self.pool_position = 0

    def discriminator_step(self, run: Run, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One D update: a real batch against the next negatives of the pool."""
        real = real_tokens(run)
        start = self.pool_position
        fake = self.pool[start : start + batch_size]
        self.pool_position = (start + batch_size) % max(1, len(self.pool))
        with run.autocast():
            loss, accuracy = self.D.loss(real, fake.to(real.device))
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.d_optimizer.step()
        return loss.detach(), accuracy.detach()

    def pool_state(self) -> dict[str, Any]:
        return {"pool": self.pool.cpu(), "pool_position": self.pool_position}

    def load_pool_state(self, state: dict[str, Any], device: torch.device) -> None:
        if "pool" in state:
            self.pool = state["pool"].to(device)
            self.pool_position = int(state["pool_position"])


class DiscriminatorPretrainer(DiscriminatorTraining, Trainer):
    """D pre-training on real data against negatives from G, drawn afresh every
    ``refresh_epochs`` epochs over them."""

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        negatives: int = 10000,
        refresh_epochs: int = 3,
        optimizer: dict[str, Any] | None = None,
    ) -> None:
        Trainer.__init__(self)
        if negatives < 1 or refresh_epochs < 1:
            raise ValueError("negatives and refresh_epochs must be >= 1")
        self.generator_role = generator
        self.discriminator_role = discriminator
        self.negatives = negatives
        self.refresh_epochs = refresh_epochs
        self.optimizer_spec = {**D_OPTIMIZER, **(optimizer or {})}
        self.steps_done = 0

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        self.setup_discriminator(run, self.discriminator_role, self.optimizer_spec)
        assert run.stream is not None
        self.batch_size = run.stream.batch_size
        self.refresh_every = self.refresh_epochs * math.ceil(self.negatives / self.batch_size)

    def train_step(self, run: Run) -> dict[str, Any]:
        if self.steps_done % self.refresh_every == 0:
            self.refresh_pool(run, self.G, self.negatives)
        loss, accuracy = self.discriminator_step(run, self.batch_size)
        self.steps_done += 1
        self.step_schedules()
        return {"d_loss": loss, "d_accuracy": accuracy}

    def extra_state(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done, **self.pool_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state.get("steps_done", 0))
        self.load_pool_state(state, self.D.embedding.weight.device)


class SeqGANTrainer(DiscriminatorTraining, Trainer):
    """Adversarial rounds: policy-gradient G updates with Monte Carlo rollout rewards, then
    D updates on fresh negatives (algorithm 1). One phase step is one round."""

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        rollouts: int = 16,
        rollout_update_rate: float = 0.8,
        g_steps: int = 1,
        d_steps: int = 5,
        d_epochs: int = 3,
        negatives: int = 10000,
        clip_grad_norm: float | None = 5.0,
        g_optimizer: dict[str, Any] | None = None,
        d_optimizer: dict[str, Any] | None = None,
    ) -> None:
        Trainer.__init__(self)
        if rollouts < 1 or g_steps < 0 or d_steps < 0 or d_epochs < 0 or negatives < 1:
            raise ValueError("rollouts and negatives must be >= 1; step counts >= 0")
        if not 0.0 <= rollout_update_rate <= 1.0:
            raise ValueError("rollout_update_rate must lie in [0, 1]")
        self.generator_role = generator
        self.discriminator_role = discriminator
        self.rollouts = rollouts
        self.rollout_update_rate = rollout_update_rate
        self.g_steps = g_steps
        self.d_steps = d_steps
        self.d_epochs = d_epochs
        self.negatives = negatives
        self.clip_grad_norm = clip_grad_norm
        self.g_spec = {**G_OPTIMIZER, **(g_optimizer or {})}
        self.d_spec = {**D_OPTIMIZER, **(d_optimizer or {})}
        self.rounds = 0

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        self.make_optimizer(run, self.generator_role, self.G.parameters(), self.g_spec)
        self.setup_discriminator(run, self.discriminator_role, self.d_spec)
        # G_beta: the delayed roll-out copy, kept in this phase's checkpointed state
        self.rollout_model = copy.deepcopy(self.G).eval().requires_grad_(False)
        assert run.stream is not None
        self.batch_size = run.stream.batch_size

    def rewards(self, tokens: torch.Tensor) -> torch.Tensor:
        """Q(Y_{1:t-1}, y_t) for every position (B, T), eq. 4, in [0, 1]."""
        training = self.D.training
        self.D.eval()
        try:
            with torch.no_grad():
                completions = self.rollout_model.rollout(tokens, self.rollouts)
                return self.D.rollout_rewards(tokens, completions)
        finally:
            self.D.train(training)

    def generator_step(self, run: Run) -> dict[str, torch.Tensor]:
        """One policy-gradient update (eq. 8): maximise sum_t Q_t log G(y_t | Y_{1:t-1})."""
        tokens = draw_samples(self.G, self.batch_size)  # (B, T)
        rewards = self.rewards(tokens)  # (B, T)
        optimizer = self.optimizers[self.generator_role]
        with run.autocast():
            log_probs = self.G.log_probs(tokens)  # (B, T)
            # eq. 8 summed over the batch's tokens as in the authors' code (not averaged): with
            # the clip at 5 every update then has the same gradient norm, however small the
            # rewards become as D improves
            loss = -(log_probs * rewards).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.G.parameters(), self.clip_grad_norm)
        optimizer.step()
        return {"g_loss": loss.detach() / tokens.numel(), "reward": rewards.mean()}

    @torch.no_grad()
    def update_rollout(self) -> None:
        """G_beta <- rate * G_beta + (1 - rate) * G_theta (the authors' delayed copy)."""
        rate = self.rollout_update_rate
        for slow, fast in zip(self.rollout_model.parameters(), self.G.parameters()):
            slow.mul_(rate).add_(fast.detach(), alpha=1.0 - rate)
        for slow, fast in zip(self.rollout_model.buffers(), self.G.buffers()):
            slow.copy_(fast)

    def train_step(self, run: Run) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        for _ in range(self.g_steps):
            logs = self.generator_step(run)
        self.update_rollout()
        updates = math.ceil(self.negatives / self.batch_size) * self.d_epochs
        d_loss = d_accuracy = None
        for _ in range(self.d_steps):
            self.refresh_pool(run, self.G, self.negatives)
            for _ in range(updates):
                d_loss, d_accuracy = self.discriminator_step(run, self.batch_size)
        if d_loss is not None:
            logs.update(d_loss=d_loss, d_accuracy=d_accuracy)
        self.rounds += 1
        self.step_schedules()
        return logs

    def extra_state(self) -> dict[str, Any]:
        weights = {k: v.detach().cpu() for k, v in self.rollout_model.state_dict().items()}
        return {"rounds": self.rounds, "rollout_model": weights, **self.pool_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.rounds = int(state.get("rounds", 0))
        if "rollout_model" in state:
            self.rollout_model.load_state_dict(state["rollout_model"])
        self.load_pool_state(state, self.D.embedding.weight.device)
