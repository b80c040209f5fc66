"""``genmm bench``: the real training loop against a bare PyTorch loop of the same step.

How both sides are timed and what the figures mean: docs/cli.md (``genmm bench``).
"""

from __future__ import annotations

import copy
import os
import resource
import statistics
import tempfile
import time
from typing import Any

import torch
from torch.utils.data import default_collate

from genmm.hookspecs import hookimpl
from genmm.losses import AdversarialLoss
from genmm.plugins import PluginManager
from genmm.training.gan import GANTrainer, unpack
from genmm.training.run import Run, generate, sample_latent

#: what a phase may set for the bare loop to be the same computation
COMPARABLE_KEYS = {"trainer", "max_steps", "epochs", "batch_size", "optimizers", "schedules", "ema"}


class StepClock:
    """A hook plugin: the time of every ``genmm_step_end``."""

    def __init__(self) -> None:
        self.times: list[float] = []

    @hookimpl
    def genmm_step_end(self, run: Run, step: int, logs: dict[str, float]) -> None:
        synchronize(run.device)
        self.times.append(time.perf_counter())


def framework_seconds(recipe: dict[str, Any], manager: PluginManager, steps: int) -> tuple:
    """Seconds from the end of step 1 to the end of the last step, through genmm.train, of the
    first phase alone, ``steps`` long, with nothing written but metrics."""
    from genmm.api import train

    recipe = copy.deepcopy(recipe)
    name, phase = next(iter(recipe["phases"].items()))
    phase.pop("epochs", None)
    recipe["phases"] = {name: {**phase, "max_steps": steps}}
    recipe["eval"]["every"] = recipe["samples"]["every"] = recipe["checkpoint"]["every"] = 0
    recipe["runtime"]["progress"] = False
    clock = StepClock()
    manager.pm.register(clock, name="bench-clock")
    try:
        with tempfile.TemporaryDirectory(prefix="genmm-bench-") as folder:
            run = train(recipe, out=folder, manager=manager)
            run.close()
    finally:
        manager.pm.unregister(name="bench-clock")
    return clock.times[-1] - clock.times[0], run


def bare_seconds(run: Run, steps: int) -> float:
    """The same step as a plain PyTorch loop, on copies of the trained run's models."""
    phase, trainer = next(iter(run.recipe["phases"].values())), run.trainer
    roles = (trainer.generator_role, trainer.discriminator_role)
    G, D = (copy.deepcopy(run.models[role]) for role in roles)
    loss: AdversarialLoss = run.losses[trainer.adversarial_role]
    opt_g, opt_d = (_same_optimizer(run, role, model) for role, model in zip(roles, (G, D)))
    schedules = [
        torch.optim.lr_scheduler.LambdaLR(opt, run.optimization.schedulers[role].lr_lambdas[0])
        for opt, role in zip((opt_g, opt_d), roles)
        if role in (phase.get("schedules") or {})
    ]
    decay = phase.get("ema")
    shadow = [p.detach().clone() for p in G.parameters()] if decay is not None else []
    dataset, batch = run.dataset, int(phase["batch_size"])
    collate = getattr(dataset, "get_batch", None)
    collate = collate or (lambda chosen: default_collate([dataset[i] for i in chosen]))
    order = torch.randperm(len(dataset))
    conditional = getattr(D, "conditional", False)
    started = 0.0
    for step in range(steps):
        if step == 1:
            synchronize(run.device)
            started = time.perf_counter()
        real, condition = unpack(collate(order[(step * batch) % len(dataset) :][:batch].tolist()))
        real, condition = real.to(run.device), run.to_device(condition)
        fake = generate(G, sample_latent(G, real.shape[0], run.device), condition)
        extra = (condition,) if conditional else ()
        d_loss = loss.discriminator_loss([D(real, *extra)], [D(fake.detach(), *extra)])
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        D.requires_grad_(False)
        g_loss = loss.generator_loss([D(fake, *extra)])
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        if shadow:
            with torch.no_grad():
                torch._foreach_lerp_(shadow, [p.detach() for p in G.parameters()], 1 - decay)
        for schedule in schedules:
            schedule.step()
    synchronize(run.device)
    return time.perf_counter() - started


def _same_optimizer(run: Run, role: str, model: torch.nn.Module) -> torch.optim.Optimizer:
    optimizer = run.optimization.optimizers[role]
    return type(optimizer)(model.parameters(), **optimizer.defaults)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark(
    recipe: dict[str, Any],
    manager: PluginManager,
    recipe_file: str | None,
    *,
    steps: int,
    warmup: int,
    repeats: int,
) -> dict[str, Any]:
    """``genmm bench``'s figures: the framework's speed and, where comparable, its overhead."""
    phase_name, phase = next(iter(recipe["phases"].items()))
    trainer = manager.registry.get("trainers", phase["trainer"]).factory
    # a bare loop exists for core.gan with one adversarial loss and the keys above
    one_loss = len(recipe.get("losses", {})) == 1
    bare_too = trainer is GANTrainer and set(phase) <= COMPARABLE_KEYS and one_loss
    _, run = framework_seconds(recipe, manager, warmup + 1)
    if bare_too:
        bare_seconds(run, warmup + 1)
    framework, bare = [], []
    for _ in range(repeats):
        seconds, run = framework_seconds(recipe, manager, steps + 1)
        framework.append(seconds)
        if bare_too:
            bare.append(bare_seconds(run, steps + 1))
    batch_size = int(phase.get("batch_size") or 1)
    seconds = statistics.median(framework)
    result: dict[str, Any] = {
        "recipe": recipe_file,
        "phase": phase_name,
        "device": str(run.device),
        "batch_size": batch_size,
        "steps": steps,
        "repeats": repeats,
        "steps_per_s": round(steps / seconds, 2),
        "samples_per_s": round(steps * batch_size / seconds, 1),
        "seconds_per_step": round(seconds / steps, 6),
        "seconds_per_step_min": round(min(framework) / steps, 6),
        "peak_memory_mb": round(peak_memory_mb(run.device), 1),
        "load_average": round(os.getloadavg()[0], 2),
    }
    if bare_too:
        result["bare_seconds_per_step"] = round(statistics.median(bare) / steps, 6)
        result["bare_seconds_per_step_min"] = round(min(bare) / steps, 6)
        result["overhead_percent"] = round(100 * (seconds / statistics.median(bare) - 1), 2)
        paired = [100 * (f / b - 1) for f, b in zip(framework, bare)]  # each repeat's own
        result["overhead_percent_range"] = [round(min(paired), 2), round(max(paired), 2)]
    else:
        result["overhead_percent"] = None
        result["note"] = "no bare loop for this trainer/loss combination"
    return result
