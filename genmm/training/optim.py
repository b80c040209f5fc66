"""The one optimisation path: optimisers, schedules, accumulation, clipping, the distributed
gradient average, mixed precision, lazy regularisation and the non-finite check.

A trainer declares in ``setup`` which roles it updates (``run.add_optimizer(role)``) and, in
``train_step``, hands each update a closure that returns the loss (``run.update(role, fn)``).
Nothing else in genmm or its plugins calls ``backward()`` or ``optimizer.step()``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

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
    """The name of an optimiser or schedule spec (``table``'s first entry when not given)."""
    if not isinstance(spec, dict):
        raise RecipeError(f"expected a mapping {example}", file, key)
    name = spec.get("name", next(iter(table)))
    if name not in table:
        raise RecipeError(f"unknown {kind} '{name}'{closest(name, tuple(table))}", file, key)
    return name


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter], spec: dict[str, Any], key: str
) -> torch.optim.Optimizer:
    """``{name: adam, lr: 2e-4, betas: [0.5, 0.999]}`` -> a torch optimiser."""
    check_optimizer(spec, file=None, key=key)
    spec = dict(spec)
    name = spec.pop("name", "adam")
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    try:
        return OPTIMIZERS[name](list(parameters), **spec)
    except (TypeError, ValueError) as error:
        raise RecipeError(f"bad optimizer arguments: {error}", key=key)


def build_schedule(
    optimizer: torch.optim.Optimizer, spec: dict[str, Any] | None, total_steps: int, key: str
) -> torch.optim.lr_scheduler.LRScheduler:
    """``{name: constant | linear | cosine | step | exponential, ...}``; stepped once per step.
    ``hold: N`` keeps a linear or cosine decay at the full rate for the first N steps and decays
    over the rest (CycleGAN's constant rate, then linear decay to zero)."""
    spec = dict(spec or {"name": "constant"})
    check_schedule(spec, file=None, key=key)
    name, warmup = spec.get("name", "constant"), int(spec.get("warmup", 0))
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

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return ramp * shape(step)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def lazy_adjusted(spec: dict[str, Any], every: int) -> dict[str, Any]:
    """Lazy regularisation every ``every`` steps: lr * c and betas ** c, c = every / (every + 1)
    (Karras et al. 2020, StyleGAN2 appendix B), so the extra steps keep the effective rate."""
    if every <= 1:
        return dict(spec)
    c = every / (every + 1)
    spec = dict(spec)
    spec["lr"] = float(spec.get("lr", 1e-3)) * c
    if "betas" in spec:
        spec["betas"] = [float(beta) ** c for beta in spec["betas"]]
    return spec


class Optimization:
    """Every optimiser of one phase and the single code path that steps them; the arguments
    are the phase keys of the same names (``specs`` is ``optimizers``)."""

    def __init__(
        self,
        *,
        specs: dict[str, dict[str, Any]] | None = None,
        schedules: dict[str, dict[str, Any]] | None = None,
        total_steps: int = 1,
        clip_grad_norm: float | dict[str, float | None] | None = None,
        accumulate: int = 1,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        average_gradients: bool = False,
        key: str = "phases",
        file: str | None = None,
    ) -> None:
        self.specs, self.schedule_specs = specs or {}, schedules or {}
        self.total_steps, self.clip_grad_norm = total_steps, clip_grad_norm
        self.accumulate, self.device = max(1, accumulate), torch.device(device)
        self.precision, self.average = precision, average_gradients
        self.key, self.file = key, file
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.parameters: dict[str, list[torch.nn.Parameter]] = {}
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.updates: dict[str, int] = {}

    def add(
        self,
        role: str,
        parameters: Iterable[torch.nn.Parameter],
        *,
        default: dict[str, Any] | None = None,
        lazy_every: int = 1,
    ) -> torch.optim.Optimizer:
        """The optimiser (and schedule) of ``role``: the recipe's spec over ``default``, the
        learning rate and betas corrected for a lazy regulariser of interval ``lazy_every``."""
        if role in self.optimizers:
            raise RecipeError(f"role '{role}' has two optimisers in one phase", key=self.key)
        base = dict(default or DEFAULT_OPTIMIZER)
        given = self.specs.get(role, {})
        if given.get("name", base.get("name")) != base.get("name"):
            base = {}  # another optimiser: the default's arguments do not carry over
        spec = lazy_adjusted({**base, **given}, lazy_every)
        self.parameters[role] = [p for p in parameters if p.requires_grad]
        optimizer = build_optimizer(self.parameters[role], spec, f"{self.key}.optimizers.{role}")
        self.optimizers[role], schedule = optimizer, self.schedule_specs.get(role)
        if schedule is not None:  # none: a constant rate, nothing to step
            where = f"{self.key}.schedules.{role}"
            self.schedulers[role] = build_schedule(optimizer, schedule, self.total_steps, where)
        if self.precision == "fp16" and self.device.type == "cuda":
            self.scalers[role] = torch.amp.GradScaler("cuda")
        self.updates[role] = 0
        return optimizer

    def check_roles(self) -> None:
        """Every role the recipe gives an optimiser or schedule for is one the trainer updates."""
        clip = self.clip_grad_norm if isinstance(self.clip_grad_norm, dict) else {}
        sections = (("optimizers", self.specs), ("schedules", self.schedule_specs))
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
        """One optimiser step of ``role``: zero_grad, ``accumulate`` calls of ``compute`` (each
        under autocast, each loss scaled by ``scale / accumulate`` and back-propagated), the
        non-finite check, the distributed average, clipping, the step. Returns the mean loss."""
        if role not in self.optimizers:
            wanted = f"run.add_optimizer('{role}') in setup"
            raise RecipeError(f"the trainer updates role '{role}' without {wanted}", key=self.key)
        optimizer, scaler = self.optimizers[role], self.scalers.get(role)
        optimizer.zero_grad(set_to_none=True)
        total, factor = 0.0, scale / self.accumulate
        for _ in range(self.accumulate):
            with self.autocast():
                loss = compute()
            value = float(loss.detach())
            if not math.isfinite(value):
                optimizer.zero_grad(set_to_none=True)
                raise NonFiniteLoss(role, value)
            scaled = loss * factor if factor != 1.0 else loss
            try:
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            except RuntimeError as error:  # torch.compile'd models and a penalty like R1
                if "double backward" not in str(error):
                    raise
                why = f"role '{role}' has a loss that differentiates twice, which {error}"
                raise RecipeError(why + ": set runtime.compile=false", key="runtime.compile")
            total += value
        if self.average:
            distributed.average_gradients(optimizer)
        if scaler is not None:
            scaler.unscale_(optimizer)
        clip = self.clip_grad_norm
        clip = clip.get(role) if isinstance(clip, dict) else clip
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(self.parameters[role], clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        self.updates[role] += 1
        return total / self.accumulate

    def step_schedules(self) -> None:
        """Once per phase step, after the trainer's updates."""
        for scheduler in self.schedulers.values():
            scheduler.step()

    def scale_learning_rates(self, factor: float) -> None:
        """Lower every learning rate (``runtime.on_nan: rollback``)."""
        for role, optimizer in self.optimizers.items():
            if role in self.schedulers:
                scheduler = self.schedulers[role]
                scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
            for group in optimizer.param_groups:
                group["lr"] *= factor

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scalers": {k: v.state_dict() for k, v in self.scalers.items()},
            "updates": dict(self.updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for kind, table in (("optimizers", self.optimizers), ("schedulers", self.schedulers)):
            for role, value in state.get(kind, {}).items():
                if kind == "optimizers" or role in table:  # a constant rate keeps no schedule
                    table[role].load_state_dict(value)
        for role, value in state.get("scalers", {}).items():
            if role in self.scalers:
                self.scalers[role].load_state_dict(value)
        self.updates.update({k: int(v) for k, v in state.get("updates", {}).items()})
