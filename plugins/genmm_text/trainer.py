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

The authors' settings are the defaults of each role's optimiser (``run.add_optimizer``; the
recipe's phase key ``optimizers.<role>`` updates them): Adam, G learning rate 0.01, D learning
rate 1e-4. The authors clip G's gradient norm at 5 (MLE and adversarial updates) and never D's;
the core clips every role a phase updates at the phase key ``clip_grad_norm``, so the recipes set
``clip_grad_norm: 5.0`` on the MLE and adversarial phases (D's updates in the adversarial phase
are then clipped at 5 too) and none on D pre-training. Other settings: N = 16 rollouts,
roll-out update rate 0.8, g_steps 1, d_steps 5, 3 epochs on 10,000 negatives.

Every update goes through the core (``run.update(role, closure)``): the closure draws its own
batch, so a phase's ``accumulate`` averages over fresh micro-batches.
"""

from __future__ import annotations

import contextlib
import copy
import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from genmm.training import Trainer

if TYPE_CHECKING:
    from genmm.surface import TrainerRun as Run

G_OPTIMIZER = {"name": "adam", "lr": 0.01}
D_OPTIMIZER = {"name": "adam", "lr": 1e-4}


def real_tokens(run: Run) -> torch.Tensor:
    batch = run.next_batch()
    return run.to_device(batch["real"] if isinstance(batch, dict) else batch)


def full_precision(run: Run) -> contextlib.AbstractContextManager[Any]:
    """Leave the run's autocast (inside an update's closure): sampling and rewards in fp32."""
    return torch.autocast(run.device.type, enabled=False)


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

    def __init__(self, generator: str = "generator") -> None:
        super().__init__()
        self.generator_role = generator

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        run.add_optimizer(self.generator_role, default=G_OPTIMIZER)

    def train_step(self, run: Run) -> dict[str, Any]:
        nll = run.update(self.generator_role, lambda: -self.G.log_probs(real_tokens(run)).mean())
        return {"nll": nll}


class DiscriminatorTraining:
    """Shared D updates on real batches against a pool of fresh negatives from G."""

    def setup_discriminator(self, run: Run, discriminator: str) -> None:
        self.discriminator_role = discriminator
        self.D = run.model(discriminator)
        self.pool = torch.empty(0, dtype=torch.long)
        self.pool_position = 0
        run.add_optimizer(discriminator, default=D_OPTIMIZER)

    def refresh_pool(self, run: Run, generator: nn.Module, count: int) -> None:
        self.pool = draw_samples(generator, count)
        self.pool_position = 0

    def discriminator_step(self, run: Run, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One D update: a real batch against the next negatives of the pool (per micro-batch
        when the phase accumulates). Returns the mean loss and accuracy."""
        accuracies: list[torch.Tensor] = []

        def compute() -> torch.Tensor:
            real = real_tokens(run)
            start = self.pool_position
            fake = self.pool[start : start + batch_size]
            self.pool_position = (start + batch_size) % max(1, len(self.pool))
            loss, accuracy = self.D.loss(real, fake.to(real.device))
            accuracies.append(accuracy.detach())
            return loss

        loss = run.update(self.discriminator_role, compute)
        return loss, torch.stack(accuracies).mean()

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
    ) -> None:
        Trainer.__init__(self)
        if negatives < 1 or refresh_epochs < 1:
            raise ValueError("negatives and refresh_epochs must be >= 1")
        self.generator_role = generator
        self.discriminator_role = discriminator
        self.negatives = negatives
        self.refresh_epochs = refresh_epochs
        self.steps_done = 0

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        self.setup_discriminator(run, self.discriminator_role)
        self.batch_size = run.batch_size
        self.refresh_every = self.refresh_epochs * math.ceil(self.negatives / self.batch_size)

    def train_step(self, run: Run) -> dict[str, Any]:
        if self.steps_done % self.refresh_every == 0:
            self.refresh_pool(run, self.G, self.negatives)
        loss, accuracy = self.discriminator_step(run, self.batch_size)
        self.steps_done += 1
        return {"d_loss": loss, "d_accuracy": accuracy}

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done, **self.pool_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
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
        self.rounds = 0

    def setup(self, run: Run) -> None:
        self.G = run.model(self.generator_role)
        run.add_optimizer(self.generator_role, default=G_OPTIMIZER)
        self.setup_discriminator(run, self.discriminator_role)
        # G_beta: the delayed roll-out copy, kept in this phase's checkpointed state
        self.rollout_model = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.batch_size = run.batch_size

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
        drawn: list[tuple[int, torch.Tensor]] = []

        def compute() -> torch.Tensor:
            with full_precision(run):
                tokens = draw_samples(self.G, self.batch_size)  # (B, T)
                rewards = self.rewards(tokens)  # (B, T)
            drawn.append((tokens.numel(), rewards.mean()))
            log_probs = self.G.log_probs(tokens)  # (B, T)
            # eq. 8 summed over the batch's tokens as in the authors' code (not averaged): with
            # the clip at 5 every update then has the same gradient norm, however small the
            # rewards become as D improves
            return -(log_probs * rewards).sum()

        loss = run.update(self.generator_role, compute)
        return {"g_loss": loss / drawn[0][0], "reward": torch.stack([r for _, r in drawn]).mean()}

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
        return logs

    def state_dict(self) -> dict[str, Any]:
        weights = {k: v.detach().cpu() for k, v in self.rollout_model.state_dict().items()}
        return {"rounds": self.rounds, "rollout_model": weights, **self.pool_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rounds = int(state.get("rounds", 0))
        if "rollout_model" in state:
            self.rollout_model.load_state_dict(state["rollout_model"])
        self.load_pool_state(state, self.D.embedding.weight.device)
