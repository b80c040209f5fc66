"""``genmm bench``: the framework's loop against a bare PyTorch loop of the same models.

Both loops run the same first phase with the same models, optimisers and loss; they alternate
``repeats`` times and the median is reported. Overhead is ``framework / bare - 1``.
"""

from __future__ import annotations

import copy
import resource
import statistics
import tempfile
import time
from typing import Any

import torch

from genmm.plugins import PluginManager
from genmm.training.gan import GANTrainer, generate, sample_latent, unpack
from genmm.training.loop import Loop
from genmm.training.optim import build_schedule
from genmm.training.run import Run


def _quiet(recipe: dict[str, Any], out: str) -> dict[str, Any]:
    recipe = copy.deepcopy(recipe)
    recipe["out"] = out
    first = next(iter(recipe["phases"]))
    recipe["phases"] = {first: recipe["phases"][first]}
    recipe["eval"]["every"] = 0
    recipe["samples"]["every"] = 0
    recipe["checkpoint"]["every"] = 0
    recipe["runtime"]["progress"] = False
    return recipe


def framework_seconds(run: Run, steps: int) -> float:
    """Time ``steps`` steps through the real loop (hooks, logging, NaN checks); no saving."""
    trainer = Loop(run, max_steps=steps)
    phase_name, spec = next(iter(run.recipe["phases"].items()))
    trainer.save = lambda *args, **kwargs: None  # type: ignore[method-assign]
    synchronize(run.device)
    started = time.perf_counter()
    trainer._run_phase(0, phase_name, spec, 0, None)
    synchronize(run.device)
    return time.perf_counter() - started


def bare_seconds(run: Run, steps: int, batch_size: int) -> float:
    """The same G/D alternation (and EMA, LR schedules) as a plain PyTorch loop."""
    phase = next(iter(run.recipe["phases"].values()))
    G, D = run.models["generator"], run.models["discriminator"]
    loss = run.losses["adversarial"]
    specs = phase.get("optimizers", {})

    def adam(model: torch.nn.Module, role: str) -> torch.optim.Optimizer:
        spec = {"lr": 2e-4, "betas": [0.5, 0.999], **specs.get(role, {})}
        return torch.optim.Adam(model.parameters(), lr=spec["lr"], betas=tuple(spec["betas"]))

    opt_g, opt_d = adam(G, "generator"), adam(D, "discriminator")
    schedules = phase.get("schedules") or {}
    lr_steps = [
        build_schedule(opt, schedules[role], steps, key="bench")
        for opt, role in ((opt_g, "generator"), (opt_d, "discriminator"))
        if role in schedules
    ]
    decay = phase.get("ema")
    shadow = [p.detach().clone() for p in G.parameters()] if decay is not None else []
    dataset = run.dataset
    size = len(dataset)
    fetch = getattr(dataset, "get_batch", None)
    synchronize(run.device)
    started = time.perf_counter()
    for _ in range(steps):
        indices = torch.randint(size, (batch_size,)).tolist()
        batch = (
            fetch(indices)
            if fetch
            else torch.utils.data.default_collate([dataset[i] for i in indices])
        )
        real, condition = unpack(batch)
        real = real.to(run.device)
        condition = run.to_device(condition)
        fake = generate(G, sample_latent(G, real.shape[0], run.device), condition)
        opt_d.zero_grad(set_to_none=True)
        d_real = D(real, condition) if getattr(D, "conditional", False) else D(real)
        d_fake = (
            D(fake.detach(), condition) if getattr(D, "conditional", False) else D(fake.detach())
        )
        loss.d_term(d_real, d_fake).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        d_fake = D(fake, condition) if getattr(D, "conditional", False) else D(fake)
        loss.g_term(d_fake).backward()
        opt_g.step()
        if shadow:
            with torch.no_grad():
                torch._foreach_lerp_(shadow, [p.detach() for p in G.parameters()], 1 - decay)
        for schedule in lr_steps:
            schedule.step()
    synchronize(run.device)
    return time.perf_counter() - started


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
    recipe_file: str,
    *,
    steps: int,
    warmup: int,
    repeats: int,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="genmm-bench-") as folder:
        recipe = _quiet(recipe, folder)
        run = Run(recipe, manager, recipe_file=recipe_file, out=folder)
        phase_name, spec = next(iter(recipe["phases"].items()))
        batch_size = int(spec.get("batch_size") or 1)
        comparable = (
            isinstance(run.registry.get("trainers", spec["trainer"]).factory, type)
            and issubclass(run.registry.get("trainers", spec["trainer"]).factory, GANTrainer)
            and (
                not {
                    k
                    for k in spec
                    if k
                    not in (
                        "trainer",
                        "max_steps",
                        "epochs",
                        "batch_size",
                        "optimizers",
                        "schedules",
                        "ema",
                    )
                }
            )
            and len(run.losses) == 1
        )
        framework_seconds(run, warmup)
        if comparable:
            bare_seconds(run, warmup, batch_size)
        framework, bare = [], []
        for _ in range(repeats):
            framework.append(framework_seconds(run, steps))
            if comparable:
                bare.append(bare_seconds(run, steps, batch_size))
        seconds = statistics.median(framework)
        result: dict[str, Any] = {
            "recipe": recipe_file,
            "phase": phase_name,
            "device": str(run.device),
            "batch_size": batch_size,
            "steps": steps,
            "steps_per_s": round(steps / seconds, 2),
            "samples_per_s": round(steps * batch_size / seconds, 1),
            "seconds_per_step": round(seconds / steps, 6),
            "peak_memory_mb": round(peak_memory_mb(run.device), 1),
        }
        if comparable:
            bare_median = statistics.median(bare)
            result["bare_seconds_per_step"] = round(bare_median / steps, 6)
            result["overhead_percent"] = round(100 * (seconds / bare_median - 1), 2)
        else:
            result["overhead_percent"] = None
            result["note"] = "no bare loop for this trainer/loss combination"
        return result
