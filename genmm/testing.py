""":class:`MiniRun`, a stand-in for :class:`genmm.training.Run` to step a trainer by hand in a
unit test or a benchmark (docs/writing-plugins.md, sections 8 and 13)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from genmm.training.optim import Optimization
from genmm.training.run import Run


class MiniRun(Run):
    """A :class:`Run` of the given models and losses, on one device, without a recipe file, data,
    checkpoints or hooks: every member it shares with ``Run`` is Run's own, so they cannot drift.
    ``make_batch()`` returns each batch, not moved (build it on ``device``); ``optimizers``,
    ``schedules``, ``clip_grad_norm``, ``accumulate`` and ``precision`` are the recipe's keys."""

    def __init__(
        self,
        models: dict[str, nn.Module],
        losses: dict[str, Any],
        make_batch: Callable[[], Any],
        *,
        device: str | torch.device = "cpu",
        phase_name: str = "test",
        batch_size: int = 1,
        description: dict[str, Any] | None = None,
        optimizers: dict[str, dict[str, Any]] | None = None,
        schedules: dict[str, dict[str, Any]] | None = None,
        clip_grad_norm: float | None = None,
        accumulate: int = 1,
        total_steps: int = 1000,
        out: str | Path = "runs/mini",
        precision: str = "fp32",
    ) -> None:
        self.models, self.losses, self.make_batch = models, losses, make_batch
        self.device, self.out = torch.device(device), Path(out)
        self.recipe: dict[str, Any] = {"seed": 0, "phases": {phase_name: {"trainer": "mini"}}}
        self.recipe_file = self.dataset = self.generate_seed = None
        self.description = dict(description or {})
        self.phase_name, self.step, self.ema, self._compiled = phase_name, 0, {}, {}
        self.rank, self.world_size, self.is_main = 0, 1, True
        self.stream = SimpleNamespace(next=make_batch, batch_size=batch_size)  # Run's next_batch
        self.optimization = Optimization(
            specs=optimizers,
            schedules=schedules,
            total_steps=total_steps,
            clip_grad_norm=clip_grad_norm,
            accumulate=accumulate,
            device=self.device,
            precision=precision,
        )

    def step_once(self, trainer: Any) -> dict[str, Any]:
        """One ``train_step`` followed by what the loop does after it: the schedules and EMA."""
        logs = trainer.train_step(self)
        self.optimization.step_schedules()
        for role, ema in self.ema.items():
            ema.update(self.models[role], self.step)
        self.step += 1
        return logs
