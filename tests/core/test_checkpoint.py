"""Checkpoints: exact resume, atomic writes, damaged files, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genmm import recipe as recipes
from genmm.errors import CheckpointError
from genmm.training import checkpoint
from genmm.training.loop import Loop
from genmm.training.run import Run


def train(
    path: Path,
    manager,
    out: Path,
    overrides=(),
    resume: Path | None = None,
    max_steps: int | None = None,
) -> Run:
    resolved = recipes.resolve(path, list(overrides))
    resolved["out"] = str(out)
    recipes.validate(resolved, manager.registry, str(path))
    run = Run(resolved, manager, recipe_file=str(path), out=out)
    trainer = Loop(run, max_steps=max_steps)
    if resume is not None:
        trainer.resume_from(checkpoint.find(resume))
    assert trainer.fit() == "completed"
    return run


def weights(run: Run) -> dict[str, torch.Tensor]:
    return {
        f"{role}.{k}": v.clone()
        for role, m in run.weight_modules().items()
        for k, v in m.state_dict().items()
    }


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["phases.gan.ema=0.9", "phases.gan.n_critic=2", "losses.adversarial.name=core.wgan_gp"],
        ["runtime.precision=bf16"],
    ],
)
def test_resume_equals_uninterrupted(tiny_recipe, manager, tmp_path, extra):
    path = tiny_recipe(steps=12, every=6)
    whole = train(path, manager, tmp_path / "whole", extra)
    half = train(path, manager, tmp_path / "half", [*extra, "phases.gan.max_steps=6"])
    assert half.step == 6
    resumed = train(path, manager, tmp_path / "half", extra, resume=tmp_path / "half")
    assert resumed.step == 12
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and the same random stream afterwards
    assert torch.equal(torch.get_rng_state(), torch.get_rng_state())


def test_max_steps_cap_then_resume_continues_the_phase(tiny_recipe, manager, tmp_path):
    path = tiny_recipe(steps=10, every=100)
    whole = train(path, manager, tmp_path / "whole")
    capped = train(path, manager, tmp_path / "capped", max_steps=4)
    assert capped.step == 4
    resumed = train(path, manager, tmp_path / "capped", resume=tmp_path / "capped")
    assert resumed.step == 10
    for key, value in weights(whole).items():
        assert torch.equal(value, weights(resumed)[key]), key


def test_checkpoint_layout_and_keep(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=12, every=2), manager, tmp_path / "run", ["checkpoint.keep=2"])
    folders = sorted(p.name for p in run.checkpoints.iterdir() if not p.name.startswith("."))
    assert folders == ["last", "step-000010", "step-000012"]
    last = (run.checkpoints / "last").resolve()
    assert last.name == "step-000012"
    for part in ("model.safetensors", "state.pt", "meta.json", "recipe.yaml"):
        assert (last / part).is_file()
    state = torch.load(last / "state.pt", weights_only=True)
    assert state["step"] == 12 and state["phase_name"] == "gan"


def test_kill_between_write_and_rename_keeps_previous(tiny_recipe, manager, tmp_path, monkeypatch):
    run = train(tiny_recipe(steps=4, every=4), manager, tmp_path / "run")
    before = checkpoint.find(run.out)
    assert before.name == "step-000004"

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between writing and renaming")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(
            run.checkpoints,
            "step-000008",
            run.weight_modules(),
            {"x": 1},
            {"step": 8},
            run.recipe_text(),
            keep=3,
        )
    monkeypatch.undo()
    leftovers = [p.name for p in run.checkpoints.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers  # the half-made one is there, but hidden and ignored
    assert checkpoint.find(run.out) == before
    rebuilt = Run.from_checkpoint(run.out, manager, build_data=False)
    assert rebuilt.step == 4


def test_truncated_weights_name_the_file(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=2, every=2), manager, tmp_path / "run")
    folder = checkpoint.find(run.out)
    file = folder / "model.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(CheckpointError) as error:
        Run.from_checkpoint(run.out, manager, build_data=False)
    assert str(file) in str(error.value) and "truncated" in str(error.value)


def test_truncated_description_names_the_file(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=2, every=2), manager, tmp_path / "run")
    file = checkpoint.find(run.out) / "description.json"
    file.write_text(file.read_text()[:-1] + ',"cut', encoding="utf-8")
    with pytest.raises(CheckpointError) as error:
        Run.from_checkpoint(run.out, manager, build_data=False)
    assert str(file) in str(error.value) and "data description" in str(error.value)


def test_truncated_state_names_the_file(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=2, every=2), manager, tmp_path / "run")
    file = checkpoint.find(run.out) / "state.pt"
    file.write_bytes(file.read_bytes()[:100])
    with pytest.raises(CheckpointError) as error:
        train(tiny_recipe(steps=4, every=2), manager, tmp_path / "run", resume=run.out)
    assert str(file) in str(error.value)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        checkpoint.find(tmp_path)
    with pytest.raises(CheckpointError, match="no such run"):
        checkpoint.find(tmp_path / "nope")


def test_fresh_run_never_overwrites_a_run(cli, tiny_recipe, tmp_path):
    path = tiny_recipe(steps=2, every=2)
    assert cli("run", str(path)).returncode == 0
    stamp = (tmp_path / "run" / "checkpoints" / "last" / "state.pt").stat().st_mtime_ns
    again = cli("run", str(path))
    assert again.returncode == 2
    assert "already holds checkpoints" in again.stderr and "--resume" in again.stderr
    assert (tmp_path / "run" / "checkpoints" / "last" / "state.pt").stat().st_mtime_ns == stamp


def test_sigterm_saves_a_checkpoint_and_exits(tiny_recipe, tmp_path):
    path = tiny_recipe(steps=1_000_000, every=0)
    process = subprocess.Popen(
        [sys.executable, "-m", "genmm.cli", "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (metrics.exists() and metrics.stat().st_size > 200):
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "SIGTERM: stopped at step" in stderr and "--resume" in stderr
    folder = checkpoint.find(tmp_path / "run")
    state = torch.load(folder / "state.pt", weights_only=True)
    assert state["step"] > 0 and folder.name == f"step-{state['step']:06d}"


def test_a_description_that_is_not_plain_data_is_refused():
    import torch

    from genmm.errors import RecipeError
    from genmm.training.run import describe

    class Tensorish:
        def describe(self):
            return {"centres": torch.zeros(2)}

    with pytest.raises(RecipeError, match=r"key 'data'.*'toy.x'.describe\(\) must return plain"):
        describe(Tensorish(), "toy.x")
    assert describe(object(), "toy.y") == {}
