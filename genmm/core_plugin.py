"""The core's own plugin, loaded like any other: the loss zoo, ``core.gan``, recipe metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genmm.hookspecs import Register, hookimpl
from genmm.losses import ADVERSARIAL, REGULARISERS
from genmm.training.gan import GANTrainer

if TYPE_CHECKING:
    from genmm.training.run import Run


@hookimpl
def genmm_register_losses(register: Register) -> None:
    for name, factory in {**ADVERSARIAL, **REGULARISERS}.items():
        register(name, factory)


@hookimpl
def genmm_register_trainers(register: Register) -> None:
    register("core.gan", GANTrainer, paper="Goodfellow et al. 2014, algorithm 1")


@hookimpl
def genmm_evaluate(run: Run, step: int) -> dict[str, float]:
    """The recipe's ``eval.metrics``, each on a private random stream."""
    results: dict[str, float] = {}
    for metric in run.metrics:
        with run.evaluating(seed=run.recipe["seed"] + 7919):
            results.update({k: float(v) for k, v in metric(run).items()})
    return results
