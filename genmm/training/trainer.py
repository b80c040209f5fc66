"""The base of every registered trainer: the algorithm one recipe phase runs.

The loop calls ``setup(run)`` once per phase, then ``train_step(run)`` until the phase's step
budget is spent; each update goes through ``run.update(role, lambda: loss)``. The core owns the
phase keys, optimisation, schedules, EMA, logging, checkpoints; a trainer's own constructor
arguments are its algorithm's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genmm.surface import TrainerRun


class Trainer:
    """Subclasses implement :meth:`setup` and :meth:`train_step`."""

    def setup(self, run: TrainerRun) -> None:
        """Take models and losses from ``run``; declare optimised roles with ``add_optimizer``."""

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        """One step; returns named figures (tensors or floats) to log."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The algorithm's own counters for a resume (tensors and plain python values only);
        optimisers, schedules and EMA copies are saved by the core."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
