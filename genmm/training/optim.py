"""The one optimisation path: every ``backward()`` and optimiser step of genmm and its plugins."""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from genmm.errors import RecipeError, TrainingError
from genmm.registry import closest
from genmm.training import distributed

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
#: each schedule and its own keys (every schedule also takes ``warmup``)
SCHEDULES = {"constant": (), "linear": ("final", "hold"), "cosine": ("final", "hold")}
SCHEDULES |= {"step": ("every", "gamma"), "exponential": ("gamma",)}
DEFAULT_OPTIMIZER = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
KEPT = ("optimizers", "schedulers", "scalers")  # what a checkpoint keeps of each role
#: the gradient scaler of a role without one (all but fp16 on CUDA): it only steps
UNSCALED = torch.amp.GradScaler("cpu", enabled=False)


class NonFiniteLoss(TrainingError):
    """A loss handed to :meth:`Optimization.update` is NaN or infinite (nothing was stepped)."""

    def __init__(self, role: str, value: float) -> None:
        self.role, self.value = role, value
        self.logs: dict[str, Any] = {}  # a trainer may add the step's figures so far
        super().__init__(f"{role}: {value}")


def check_optimizer(spec: Any, *, file: str | None, key: str) -> None:
    """An optimiser spec's name and arguments, checked against the torch class (builds nothing)."""
    name = _spec_name(spec, OPTIMIZERS, "optimizer", "{name: adam, lr: ...}", file, key)
    valid = [p for p in inspect.signature(OPTIMIZERS[name]).parameters if p != "params"]
    for argument in spec:
        if argument != "name" and argument not in valid:
            message = f"unknown key '{argument}' for optimizer '{name}'{closest(argument, valid)}"
            raise RecipeError(message, file, f"{key}.{argument}")


def check_schedule(spec: Any, *, file: str | None, key: str) -> None:
    name = _spec_name(spec, SCHEDULES, "schedule", "{name: cosine, ...}", file, key)
    valid = {"name", "warmup", *SCHEDULES[name]}
    for argument in spec:
        if argument not in valid:
            shown = ", ".join(sorted(valid))
            message = f"unknown key '{argument}' for schedule '{name}' (valid: {shown})"
            raise RecipeError(message, file, f"{key}.{argument}")


def _spec_name(spec: Any, table: dict, kind: str, example: str, file: str | None, key: str) -> str:
    if not isinstance(spec, dict):
        raise RecipeError(f"expected a mapping {example}", file, key)
    name = spec.get("name", next(iter(table)))
    if name not in table:
        raise RecipeError(f"unknown {kind} '{name}'{closest(name, tuple(table))}", file, key)
    return name


def build_optimizer(parameters: Iterable, spec: dict[str, Any], key: str) -> torch.optim.Optimizer:
    """``{name: adam, lr: 2e-4, betas: [0.5, 0.999]}`` -> a torch optimiser."""
    check_optimizer(spec, file=None, key=key)
    arguments = {k: tuple(v) if k == "betas" else v for k, v in spec.items() if k != "name"}
    try:
        return OPTIMIZERS[spec.get("name", "adam")](list(parameters), **arguments)
    except (TypeError, ValueError) as error:
        raise RecipeError(f"bad optimizer arguments: {error}", key=key)


def build_schedule(optimizer: Any, spec: dict | None, total_steps: int, key: str) -> LRScheduler:
    """A schedule (see docs/recipes.md) as a factor of the rate, stepped once per step."""
    spec = dict(spec or {"name": "constant"})
    check_schedule(spec, file=None, key=key)
    name, warmup = spec.get("name", "constant"), max(1, int(spec.get("warmup", 0)))
    total, final = max(1, total_steps), float(spec.get("final", 0.0))
    hold = min(int(spec.get("hold", 0)), total - 1)

    def shape(step: int) -> float:
        progress = min(max(step - hold, 0), total - hold) / (total - hold)
        if name == "linear":
            return 1.0 - (1.0 - final) * progress
        if name == "cosine":
            return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))
        if name == "step":
            return float(spec.get("gamma", 0.1)) ** (step // int(spec["every"]))
        return float(spec["gamma"]) ** step if name == "exponential" else 1.0

    return LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * shape(step))


def lazy_adjusted(spec: dict[str, Any], every: int) -> dict[str, Any]:
    """Lazy regularisation every ``every`` steps: lr * c, betas ** c, c = every / (every + 1)."""
    if every <= 1:
        return dict(spec)
    c = every / (every + 1)
    spec = dict(spec, lr=float(spec.get("lr", 1e-3)) * c)
    if "betas" in spec:
        spec["betas"] = [float(beta) ** c for beta in spec["betas"]]
    return spec


@dataclass(kw_only=True, eq=False)
class Optimization:
    """Every optimiser of one phase and the single code path that steps them; the arguments
    are the phase keys of the same names (``specs`` is ``optimizers``)."""

    specs: dict[str, dict[str, Any]] | None = None
    schedules: dict[str, dict[str, Any]] | None = None
    total_steps: int = 1
    clip_grad_norm: float | dict[str, float | None] | None = None
    accumulate: int = 1
    device: torch.device | str = "cpu"
    precision: str = "fp32"
    average_gradients: bool = False
    key: str = "phases"
    file: str | None = None

    def __post_init__(self) -> None:
        self.specs, self.schedules = self.specs or {}, self.schedules or {}
        self.accumulate, self.device = max(1, self.accumulate), torch.device(self.device)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, LRScheduler] = {}
        self.parameters: dict[str, list[torch.nn.Parameter]] = {}
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.updates: dict[str, int] = {}

    def add(
        self, role: str, parameters: Iterable, *, default: dict | None = None, lazy_every: int = 1
    ) -> torch.optim.Optimizer:
        """The optimiser (and schedule) of ``role``: the recipe's spec over ``default``."""
        if role in self.optimizers:
            raise RecipeError(f"role '{role}' has two optimisers in one phase", key=self.key)
        base, given = dict(default or DEFAULT_OPTIMIZER), self.specs.get(role, {})
        if given.get("name", base.get("name")) != base.get("name"):
            base = {}  # another optimiser: the default's arguments do not carry over
        spec = lazy_adjusted({**base, **given}, lazy_every)
        self.parameters[role] = [p for p in parameters if p.requires_grad]
        where = f"{self.key}.optimizers.{role}"
        self.optimizers[role] = optimizer = build_optimizer(self.parameters[role], spec, where)
        schedule, where = self.schedules.get(role), f"{self.key}.schedules.{role}"
        if schedule is not None:  # none: a constant rate, nothing to step
            self.schedulers[role] = build_schedule(optimizer, schedule, self.total_steps, where)
        if self.precision == "fp16" and self.device.type == "cuda":
            self.scalers[role] = torch.amp.GradScaler("cuda")
        self.updates[role] = 0
        return optimizer

    def check_roles(self) -> None:
        """Every role the recipe gives an optimiser or schedule for is one the trainer updates."""
        clip = self.clip_grad_norm if isinstance(self.clip_grad_norm, dict) else {}
        sections = (("optimizers", self.specs), ("schedules", self.schedules))
        for section, given in (*sections, ("clip_grad_norm", clip)):
            for role in given:
                if role not in self.optimizers:
                    near = closest(role, tuple(self.optimizers))
                    message = f"this phase updates no role '{role}'{near}"
                    raise RecipeError(message, self.file, f"{self.key}.{section}.{role}")

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if self.precision == "fp16" and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def update(self, role: str, compute: Callable[[], Tensor], *, scale: float = 1.0) -> float:
        """One optimiser step of ``role`` (docs/writing-plugins.md, section 9); the mean loss."""
        if role not in self.optimizers:
            wanted = f"run.add_optimizer('{role}') in setup"
            raise RecipeError(f"the trainer updates role '{role}' without {wanted}", key=self.key)
        optimizer, scaler = self.optimizers[role], self.scalers.get(role, UNSCALED)
        optimizer.zero_grad(set_to_none=True)
        total, factor = 0.0, scale / self.accumulate
        for _ in range(self.accumulate):
            with self.autocast():
                loss = compute()
            value = float(loss.detach())
            if not math.isfinite(value):
                optimizer.zero_grad(set_to_none=True)
                raise NonFiniteLoss(role, value)
            try:
                scaler.scale(loss * factor if factor != 1.0 else loss).backward()
            except RuntimeError as error:  # torch.compile'd models and a penalty like R1
                if "double backward" not in str(error):
                    raise
                why = f"role '{role}' has a loss that differentiates twice, which {error}"
                raise RecipeError(why + ": set runtime.compile=false", key="runtime.compile")
            total += value
        if self.average_gradients:
            distributed.average_gradients(optimizer)
        scaler.unscale_(optimizer)
        clip = self.clip_grad_norm
        clip = clip.get(role) if isinstance(clip, dict) else clip
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(self.parameters[role], clip)
        scaler.step(optimizer)
        scaler.update()
        self.updates[role] += 1
        return total / self.accumulate

    def step_schedules(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def scale_learning_rates(self, factor: float) -> None:
        """Lower every learning rate (``runtime.on_nan: rollback``)."""
        for scheduler in self.schedulers.values():
            scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] *= factor

    def state_dict(self) -> dict[str, Any]:
        state = {kind: {k: v.state_dict() for k, v in getattr(self, kind).items()} for kind in KEPT}
        return {**state, "updates": dict(self.updates)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for kind in KEPT:
            table = getattr(self, kind)
            for role, value in state.get(kind, {}).items():
                if kind == "optimizers" or role in table:  # a constant rate, fp32: none kept
                    table[role].load_state_dict(value)
        self.updates.update({k: int(v) for k, v in state.get("updates", {}).items()})
