"""A phase: one named stage of a recipe, driven by a registered trainer.

A trainer factory returns a :class:`Phase`. The core loop calls ``setup(run)`` once, then
``train_step(run)`` until the phase's step budget is spent; it owns counting, logging,
evaluation, samples, checkpoints and signals. A phase draws batches with ``run.next_batch()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from genmm.trainer import distributed
from genmm.trainer.optim import build_optimizer, build_schedule

if TYPE_CHECKING:
    from genmm.trainer.run import Run


class Phase:
    """Base class of every trainer. Subclasses implement :meth:`setup` and :meth:`train_step`."""

    def __init__(self) -> None:
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.total_steps = 0

    def setup(self, run: Run) -> None:
        """Build optimisers and anything else the phase needs; models are in ``run.models``."""

    def train_step(self, run: Run) -> dict[str, Any]:
        """One optimisation step; returns named losses (tensors or floats)."""
        raise NotImplementedError

    def make_optimizer(
        self,
        run: Run,
        role: str,
        parameters: Any,
        spec: dict[str, Any],
        schedule: dict[str, Any] | None = None,
    ) -> torch.optim.Optimizer:
        """Build, keep and return the optimiser (and its schedule) for ``role``."""
        optimizer = build_optimizer(parameters, spec, key=f"phases.{run.phase_name}.optimizers")
        if run.distributed:
            optimizer.register_step_pre_hook(distributed.average_gradients)
        self.optimizers[role] = optimizer
        self.schedulers[role] = build_schedule(
            optimizer, schedule, self.total_steps, key=f"phases.{run.phase_name}.schedules"
        )
        return optimizer

    def step_schedules(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def scale_learning_rates(self, factor: float) -> None:
        """Lower every learning rate (used by ``trainer.on_nan: rollback``)."""
        for role, optimizer in self.optimizers.items():
            scheduler = self.schedulers.get(role)
            if scheduler is not None:
                scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
            for group in optimizer.param_groups:
                group["lr"] *= factor

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.get("optimizers", {}).items():
            self.optimizers[key].load_state_dict(value)
        for key, value in state.get("schedulers", {}).items():
            self.schedulers[key].load_state_dict(value)
        self.load_extra_state(state.get("extra", {}))

    def extra_state(self) -> dict[str, Any]:
        """Counters a subclass needs after a resume (tensors and plain python values only)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass
