"""The base of every registered trainer: the algorithm one recipe phase runs.

The loop calls ``setup(run)`` once per phase, then ``train_step(run)`` until the phase's
step budget is spent. A trainer declares in ``setup`` which roles it updates
(``run.add_optimizer(role, default=...)``) and, in ``train_step``, hands each update to the
core (``run.update(role, lambda: loss)``); it returns the step's figures to log. The core owns
counting, optimisation, schedules, EMA, logging, evaluation, samples, checkpoints and signals.
The recipe keys every phase takes (``trainer``, ``max_steps``/``epochs``, ``batch_size``,
``optimizers``, ``schedules``, ``clip_grad_norm``, ``accumulate``) are the core's, not the
trainer's; a trainer's own constructor arguments are its algorithm's settings.
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
