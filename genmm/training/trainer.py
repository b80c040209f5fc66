"""The base of every registered trainer, the algorithm of one recipe phase (see
docs/writing-plugins.md, section 9)."""

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
        """The algorithm's own counters for a resume (optimisers, schedules, EMA: the core's)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
