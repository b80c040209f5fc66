"""A stand-in for :class:`genmm.trainer.run.Run` to step a trainer by hand, in a unit test or a
benchmark: the models, the losses and a batch maker, on one device, without a recipe, data,
checkpoints or hooks. ``run.stream.batch_size`` is the ``batch_size`` given (a trainer that
sizes its own draws by the phase's batch reads it there, as from a real Run).

    run = MiniRun({"generator": G, "discriminator": D}, {"adversarial": loss}, make_batch)
    trainer.setup(run)
    logs = trainer.train_step(run)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from genmm.trainer.ema import EMA


class MiniRun:
    """What a trainer's ``setup`` and ``train_step`` use of a Run; ``make_batch()`` returns each
    batch (e.g. ``{"real": images}``). Values are not moved: build them on ``device``."""

    def __init__(
        self,
        models: dict[str, nn.Module],
        losses: dict[str, Any],
        make_batch: Callable[[], Any],
        *,
        device: str | torch.device = "cpu",
        phase_name: str = "test",
        batch_size: int | None = None,
    ) -> None:
        self.models, self.losses, self.make_batch = models, losses, make_batch
        self.device = torch.device(device)
        self.recipe_file: str | None = None
        self.phase_name, self.step = phase_name, 0
        self.ema: dict[str, EMA] = {}
        self.distributed = False
        self.stream = SimpleNamespace(batch_size=batch_size) if batch_size else None

    def model(self, role: str) -> nn.Module:
        return self.models[role]

    def next_batch(self) -> Any:
        return self.make_batch()

    def to_device(self, value: Any) -> Any:
        return value

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def add_ema(self, role: str, decay: float, start: int = 0) -> EMA:
        self.ema[role] = EMA(self.models[role], decay, start)
        return self.ema[role]

    def update_ema(self, role: str) -> None:  # a no-op without EMA, as in Run
        if role in self.ema:
            self.ema[role].update(self.models[role], self.step)
