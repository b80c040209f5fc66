"""A stand-in for :class:`genmm.training.Run` to step a trainer by hand, in a unit test or a
benchmark: the models, the losses and a batch maker, on one device, without a recipe file,
data, checkpoints or hooks. It satisfies :class:`genmm.surface.TrainerRun` and steps through
the same :class:`genmm.training.Optimization` as a real run.

    run = MiniRun({"generator": G, "discriminator": D}, {"adversarial": loss}, make_batch,
                  batch_size=32)
    trainer.setup(run)
    logs = run.step_once(trainer)        # train_step, schedules and EMA, as the loop does
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genmm.training.ema import EMA
from genmm.training.optim import Optimization
from genmm.training.run import Run


class MiniRun:
    """``make_batch()`` returns each batch (e.g. ``{"real": images}``); values are not moved, so
    build them on ``device``. ``optimizers``/``schedules``/``clip_grad_norm``/``accumulate``
    are the phase keys of the same names."""

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
    ) -> None:
        self.models, self.losses, self.make_batch = models, losses, make_batch
        self.device = torch.device(device)
        self.recipe: dict[str, Any] = {"seed": 0, "phases": {phase_name: {"trainer": "mini"}}}
        self.recipe_file: str | None = None
        self.out = Path(out)
        self.dataset: Any = None
        self.description = dict(description or {})
        self.phase_name, self.step = phase_name, 0
        self.generate_seed: int | None = None
        self.rank, self.world_size, self.is_main = 0, 1, True
        self.ema: dict[str, EMA] = {}
        self._compiled: dict[str, nn.Module] = {}  # runtime.compile is Run's
        self._batch_size = batch_size
        self.optimization = Optimization(
            specs=optimizers,
            schedules=schedules,
            total_steps=total_steps,
            clip_grad_norm=clip_grad_norm,
            accumulate=accumulate,
            device=self.device,
        )

    # the members shared with Run are Run's own functions, so the two cannot drift
    model = Run.model
    loss = Run.loss
    sampling_model = Run.sampling_model
    sample = Run.sample
    to_device = Run.to_device
    add_optimizer = Run.add_optimizer
    update = Run.update
    autocast = Run.autocast
    add_ema = Run.add_ema
    evaluating = Run.evaluating

    @property
    def samples_dir(self) -> Path:
        return self.out / "samples"

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def next_batch(self) -> Any:
        return self.make_batch()

    def step_once(self, trainer: Any) -> dict[str, Any]:
        """One ``train_step`` followed by what the loop does after it: the schedules and EMA."""
        logs = trainer.train_step(self)
        self.optimization.step_schedules()
        for role, ema in self.ema.items():
            ema.update(self.models[role], self.step)
        self.step += 1
        return logs
