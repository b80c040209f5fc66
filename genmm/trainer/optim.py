"""Optimisers and learning-rate schedules named in recipes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from genmm.errors import RecipeError

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter], spec: dict[str, Any], key: str
) -> torch.optim.Optimizer:
    """``{name: adam, lr: 2e-4, betas: [0.5, 0.999]}`` -> a torch optimiser."""
    spec = dict(spec)
    name = spec.pop("name", "adam")
    if name not in OPTIMIZERS:
        from genmm.registry import closest

        raise RecipeError(f"unknown optimizer '{name}'{closest(name, tuple(OPTIMIZERS))}", key=key)
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    try:
        return OPTIMIZERS[name](list(parameters), **spec)
    except TypeError as error:
        raise RecipeError(f"bad optimizer arguments: {error}", key=key)


def build_schedule(
    optimizer: torch.optim.Optimizer, spec: dict[str, Any] | None, total_steps: int, key: str
) -> torch.optim.lr_scheduler.LRScheduler:
    """``{name: constant | linear | cosine | step | exponential, ...}``; stepped once per step."""
    spec = dict(spec or {"name": "constant"})
    name = spec.pop("name", "constant")
    warmup = int(spec.pop("warmup", 0))
    total = max(1, total_steps)
    if name == "constant":
        shape = lambda step: 1.0  # noqa: E731
    elif name == "linear":
        final = float(spec.pop("final", 0.0))
        shape = lambda step: 1.0 - (1.0 - final) * min(step, total) / total  # noqa: E731
    elif name == "cosine":
        final = float(spec.pop("final", 0.0))
        shape = lambda step: (
            final
            + (1 - final)
            * 0.5
            * (  # noqa: E731
                1 + math.cos(math.pi * min(step, total) / total)
            )
        )
    elif name == "step":
        every, gamma = int(spec.pop("every")), float(spec.pop("gamma", 0.1))
        shape = lambda step: gamma ** (step // every)  # noqa: E731
    elif name == "exponential":
        gamma = float(spec.pop("gamma"))
        shape = lambda step: gamma**step  # noqa: E731
    else:
        raise RecipeError(
            f"unknown schedule '{name}' (valid: constant, linear, cosine, step, exponential)",
            key=key,
        )
    if spec:
        raise RecipeError(f"unknown schedule keys {sorted(spec)} for '{name}'", key=key)

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return ramp * shape(step)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
