"""What plugins may use of a run, as Protocols: the whole surface, documented member by member
in docs/writing-plugins.md. :class:`genmm.training.Run` and :class:`genmm.testing.MiniRun`
both satisfy them (a test fails when either drifts).

* :class:`BuiltRun` — what a recipe builds: seen by metrics and writers (and by every
  lifecycle hook).
* :class:`TrainerRun` — that plus the state the loop owns while a phase runs: seen by
  trainers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class BuiltRun(Protocol):
    """A recipe made real."""

    #: the resolved recipe (plain data)
    recipe: dict[str, Any]
    #: the recipe file it came from, for error messages (``None`` when built in code)
    recipe_file: str | None
    #: where models and batches live
    device: torch.device
    #: the run folder
    out: Path
    #: the live dataset, or ``None`` when the run was rebuilt without data (generate)
    dataset: Any
    #: the dataset's plain-data description; the same with or without the data
    description: dict[str, Any]
    #: role -> model, as the recipe's ``models`` names them
    models: dict[str, nn.Module]
    #: role -> loss, as the recipe's ``losses`` names them
    losses: dict[str, Any]
    #: the global step
    step: int
    #: the seed ``genmm generate --seed`` asks for (``None`` in training)
    generate_seed: int | None
    #: under data parallelism: this process's rank, the process count, and whether this is
    #: rank 0 (hooks run on every process; write files only where ``is_main``)
    rank: int
    world_size: int
    is_main: bool

    @property
    def samples_dir(self) -> Path: ...

    def model(self, role: str) -> nn.Module:
        """``models[role]``, or a RecipeError naming the missing role."""
        ...

    def sampling_model(self, role: str = "generator") -> nn.Module:
        """The EMA copy of ``role`` when the run keeps one, else the live model."""
        ...

    def sample(self, n: int, condition: Any = None, role: str = "generator", **options: Any) -> Any:
        """``n`` samples; ``options`` are the generator's keyword sampling arguments."""
        ...

    def evaluating(self, seed: int | None = None) -> contextlib.AbstractContextManager[None]:
        """Eval mode, no gradients, a private random stream seeded by ``seed``."""
        ...

    def to_device(self, value: Any) -> Any:
        """Tensors (inside dicts, lists, tuples) moved to ``device``."""
        ...

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The run's mixed precision (bf16/fp16 autocast, or nothing)."""
        ...


@runtime_checkable
class TrainerRun(BuiltRun, Protocol):
    """What a trainer's ``setup`` and ``train_step`` may use."""

    #: the running phase's name in the recipe
    phase_name: str
    #: role -> moving average of that model (see :meth:`add_ema`)
    ema: dict[str, Any]

    @property
    def batch_size(self) -> int:
        """This process's share of the phase's global ``batch_size``."""
        ...

    def next_batch(self) -> Any:
        """The next batch of this process's slice of the data (not yet on the device)."""
        ...

    def loss(self, role: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """``losses[role]``, or a RecipeError naming the key when missing or not of ``kind``."""
        ...

    def add_optimizer(
        self,
        role: str,
        *,
        default: dict[str, Any] | None = None,
        parameters: Any = None,
        lazy_every: int = 1,
    ) -> torch.optim.Optimizer:
        """Declare (in ``setup``) that the phase updates ``role``; the recipe's
        ``optimizers.<role>`` updates ``default``."""
        ...

    def update(self, role: str, compute: Callable[[], torch.Tensor], *, scale: float = 1.0) -> Any:
        """One optimiser step of ``role`` on the loss ``compute()`` returns; the mean loss."""
        ...

    def add_ema(self, role: str, decay: float, start: int = 0) -> Any:
        """Keep a moving average of ``role``'s weights; the core updates it after each step."""
        ...


def members(protocol: type) -> set[str]:
    """The names a Protocol declares (its own and its bases'), for the drift test and docs."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (Protocol, object) or not getattr(klass, "_is_protocol", False):
            continue
        names |= {n for n in vars(klass) if not n.startswith("_")}
        names |= set(getattr(klass, "__annotations__", {}))
    return names
