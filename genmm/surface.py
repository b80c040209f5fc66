"""What plugins may use of a run, as Protocols (each member: docs/writing-plugins.md, section 8):
``BuiltRun`` for metrics, writers and hooks, ``TrainerRun`` for trainers."""

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

    recipe: dict[str, Any]
    recipe_file: str | None
    device: torch.device
    out: Path
    dataset: Any
    description: dict[str, Any]
    models: dict[str, nn.Module]
    losses: dict[str, Any]
    step: int
    generate_seed: int | None
    rank: int
    world_size: int
    is_main: bool

    @property
    def samples_dir(self) -> Path: ...

    def model(self, role: str) -> nn.Module: ...

    def sampling_model(self, role: str = "generator") -> nn.Module: ...

    def sample(
        self, n: int, condition: Any = None, role: str = "generator", **options: Any
    ) -> Any: ...

    def evaluating(self, seed: int | None = None) -> contextlib.AbstractContextManager[None]: ...

    def to_device(self, value: Any) -> Any: ...

    def autocast(self) -> contextlib.AbstractContextManager[Any]: ...


@runtime_checkable
class TrainerRun(BuiltRun, Protocol):
    """What a trainer's ``setup`` and ``train_step`` may use."""

    phase_name: str
    ema: dict[str, Any]

    @property
    def batch_size(self) -> int: ...

    def next_batch(self) -> Any: ...

    def loss(self, role: str, kind: type | tuple[type, ...] | None = None) -> Any: ...

    def add_optimizer(
        self, role: str, *, default: dict | None = None, parameters: Any = None, lazy_every: int = 1
    ) -> torch.optim.Optimizer: ...

    def update(
        self, role: str, compute: Callable[[], torch.Tensor], *, scale: float = 1.0
    ) -> Any: ...

    def add_ema(self, role: str, decay: float, start: int = 0) -> Any: ...


def members(protocol: type) -> set[str]:
    """The names a Protocol declares (its own and its bases'), for the drift test and docs."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass is not Protocol and getattr(klass, "_is_protocol", False):
            names |= {n for n in vars(klass) if not n.startswith("_")}
            names |= set(getattr(klass, "__annotations__", {}))
    return names
