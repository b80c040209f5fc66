"""The typed plugin surface: Run and MiniRun both satisfy the Protocols, member for member."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from genmm.surface import BuiltRun, TrainerRun, members
from genmm.testing import MiniRun
from genmm.training.run import Run


def test_protocols_name_what_plugins_may_use():
    assert {"recipe", "device", "description", "models", "losses", "sample", "evaluating"} <= (
        members(BuiltRun)
    )
    assert members(BuiltRun) < members(TrainerRun)
    assert {"add_optimizer", "update", "next_batch", "batch_size", "loss", "add_ema"} <= (
        members(TrainerRun) - members(BuiltRun)
    )


def test_run_and_minirun_have_every_member_with_the_same_signature(tiny_recipe, manager):
    from genmm import recipe as recipes

    path = tiny_recipe()
    resolved = recipes.resolve(path)
    recipes.validate(resolved, manager.registry, str(path))
    run = Run(resolved, manager, recipe_file=str(path))
    mini = MiniRun({"generator": nn.Linear(2, 2)}, {}, lambda: {"real": torch.zeros(1, 2)})
    for name in sorted(members(TrainerRun)):
        for candidate in (run, mini):
            assert hasattr(candidate, name), f"{type(candidate).__name__} lacks '{name}'"
        declared = getattr(TrainerRun, name, None)
        if callable(declared) and not isinstance(declared, property):
            wanted = shape(declared)
            for candidate in (Run, MiniRun):
                assert shape(getattr(candidate, name)) == wanted, (
                    f"{candidate.__name__}.{name} drifted from TrainerRun.{name}"
                )
    assert isinstance(run, TrainerRun) and isinstance(mini, TrainerRun)


def shape(function) -> list[tuple]:
    """Parameter names, kinds and defaults (annotations are documentation)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
