"""The genmm plugin contract: every hook a plugin may implement (docs/writing-plugins.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from genmm.training.run import Run

hookspec = pluggy.HookspecMarker("genmm")
hookimpl = pluggy.HookimplMarker("genmm")

Register = Callable[..., None]


@hookspec
def genmm_register_datasets(register: Register) -> None:
    """Register dataset factories: ``register("toy.ring", RingDataset)``."""


@hookspec
def genmm_register_models(register: Register) -> None:
    """Register model factories (``nn.Module`` classes or functions returning one)."""


@hookspec
def genmm_register_losses(register: Register) -> None:
    """Register loss factories (subclasses of :class:`genmm.losses.Loss`)."""


@hookspec
def genmm_register_trainers(register: Register) -> None:
    """Register trainer factories: phases (subclasses of :class:`genmm.training.Trainer`)."""


@hookspec
def genmm_register_metrics(register: Register) -> None:
    """Register metric factories (subclasses of :class:`genmm.metrics.Metric`)."""


@hookspec
def genmm_register_writers(register: Register) -> None:
    """Register writer factories (subclasses of :class:`genmm.writers.Writer`)."""


@hookspec
def genmm_recipe_folders() -> list[Path]:
    """Folders of recipes (``*.yaml``) the plugin ships, found by file stem."""


@hookspec
def genmm_run_start(run: Run) -> None:
    """Called once when a run (or a resumed run) starts, after models are built."""


@hookspec
def genmm_step_end(run: Run, step: int, logs: dict[str, float]) -> None:
    """Called after every optimisation step with the global step and the step's losses."""


@hookspec
def genmm_evaluate(run: Run, step: int) -> dict[str, float]:
    """Called every ``eval.every`` steps; return figures to log (merged over plugins)."""


@hookspec
def genmm_checkpoint_saved(run: Run, path: Path) -> None:
    """Called after a checkpoint folder is complete and ``last`` points at it."""


@hookspec
def genmm_run_end(run: Run, status: str) -> None:
    """Called once when a run ends; ``status`` is "completed", "interrupted" or "failed"."""


HOOK_NAMES: tuple[str, ...] = tuple(name for name in list(globals()) if name.startswith("genmm_"))
