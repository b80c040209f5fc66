"""One ``test_hook_<name>`` per hook (datasette's rule), each through a one-off plugin file; and
docs/writing-plugins.md documents every hook's exact signature and every member of the run's
plugin surface."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import genmm
from genmm import recipe as recipes
from genmm.plugins import PluginManager

DOCS = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"

RECORDER = '''
import genmm
import torch
from torch import nn

CALLS = []


class Doubler(nn.Module):
    """A registered model."""

    def __init__(self, description: dict | None = None, latent_dim: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.width = description["width"]
        self.net = nn.Linear(latent_dim, self.width)

    def forward(self, z):
        return self.net(z) * 2


class Points(torch.utils.data.Dataset):
    def __init__(self, size: int = 64, seed: int = 0):
        self.points = torch.randn(size, 2, generator=torch.Generator().manual_seed(seed))

    def describe(self):
        return {"width": 2}

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return {"real": self.points[index]}


class Mean(genmm.metrics.Metric):
    def __call__(self, run):
        return {"rec.mean": float(run.sample(8).mean())}


class Zero(genmm.losses.Loss):
    role = "generator"

    def __call__(self, context):
        CALLS.append(("loss", context.fake.shape[0]))
        return context.fake.sum() * 0


class Plain(genmm.training.GANTrainer):
    """A registered trainer."""


class Text(genmm.writers.Writer):
    suffix = ".txt"

    def write(self, samples, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(samples.tolist()))
        return [path]


@genmm.hookimpl
def genmm_register_datasets(register):
    register("rec.points", Points)


@genmm.hookimpl
def genmm_register_models(register):
    register("rec.doubler", Doubler, paper="none")


@genmm.hookimpl
def genmm_register_losses(register):
    register("rec.zero", Zero)


@genmm.hookimpl
def genmm_register_trainers(register):
    register("rec.plain", Plain)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("rec.mean", Mean)


@genmm.hookimpl
def genmm_register_writers(register):
    register("rec.text", Text)


@genmm.hookimpl
def genmm_run_start(run):
    CALLS.append(("run_start", run.step))


@genmm.hookimpl
def genmm_step_end(run, step, logs):
    CALLS.append(("step_end", step, sorted(logs)))


@genmm.hookimpl
def genmm_evaluate(run, step):
    CALLS.append(("evaluate", step))
    return {"rec.step": float(step)}


@genmm.hookimpl
def genmm_checkpoint_saved(run, path):
    CALLS.append(("checkpoint_saved", path.name))


@genmm.hookimpl
def genmm_run_end(run, status):
    CALLS.append(("run_end", status))
'''

RECIPE = """
seed: 0
data: {name: rec.points}
models:
  generator: {name: rec.doubler}
  discriminator: {name: toy.mlp_discriminator, hidden: 8, depth: 1}
losses:
  adversarial: {name: core.hinge}
  extra: {name: rec.zero}
phases:
  first: {trainer: rec.plain, max_steps: 4, batch_size: 8}
eval: {every: 2, metrics: [rec.mean]}
samples: {every: 4, n: 3}
writer: {name: rec.text}
checkpoint: {every: 2, keep: 2}
runtime: {progress: false}
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hooks")
    (folder / "recorder.py").write_text(RECORDER)
    (folder / "recipe.yaml").write_text(RECIPE)
    manager = PluginManager()
    manager.load_default([folder / "recorder.py"])
    run = genmm.train(folder / "recipe.yaml", manager=manager, out=folder / "run")
    calls = sys.modules["genmm_file_plugin_recorder"].CALLS
    return manager, run, run.status, calls


def test_hook_genmm_register_datasets(recorded):
    manager, run, *_ = recorded
    assert manager.registry.get("datasets", "rec.points").plugin == "recorder"
    assert len(run.dataset) == 64


def test_hook_genmm_register_models(recorded):
    manager, run, *_ = recorded
    component = manager.registry.get("models", "rec.doubler")
    assert component.about == {"paper": "none"} and component.describe() == "A registered model."
    assert type(run.models["generator"]).__name__ == "Doubler"
    assert run.models["generator"].width == 2  # from the dataset's description, injected
    saved = run.out / "checkpoints" / "last" / "description.json"
    assert json.loads(saved.read_text()) == {"width": 2} == run.description


def test_hook_genmm_register_losses(recorded):
    *_, calls = recorded
    assert ("loss", 8) in calls  # the extra generator term ran in every step


def test_hook_genmm_register_trainers(recorded):
    manager, run, status, _ = recorded
    assert type(run.trainer).__name__ == "Plain" and status == "completed"
    assert run.trainer.g_steps == 4 and run.trainer.d_steps == 4


def test_hook_genmm_register_metrics(recorded):
    _, run, *_ = recorded
    lines = [json.loads(line) for line in (run.out / "metrics.jsonl").read_text().splitlines()]
    evals = [line["eval"] for line in lines if "eval" in line]
    assert len(evals) == 2 and all("rec.mean" in e for e in evals)


def test_hook_genmm_register_writers(recorded):
    _, run, *_ = recorded
    written = run.samples_dir / "step-000004.txt"
    assert len(json.loads(written.read_text())) == 3


def test_hook_genmm_run_start(recorded):
    *_, calls = recorded
    assert calls[0] == ("run_start", 0)


def test_hook_genmm_step_end(recorded):
    *_, calls = recorded
    steps = [c for c in calls if c[0] == "step_end"]
    assert [c[1] for c in steps] == [1, 2, 3, 4]
    assert "d_loss" in steps[0][2] and "g_loss" in steps[0][2] and "extra" in steps[0][2]


def test_hook_genmm_evaluate(recorded):
    _, run, _, calls = recorded
    assert [c for c in calls if c[0] == "evaluate"] == [("evaluate", 2), ("evaluate", 4)]
    lines = [json.loads(line) for line in (run.out / "metrics.jsonl").read_text().splitlines()]
    assert [line["eval"]["rec.step"] for line in lines if "eval" in line] == [2.0, 4.0]


def test_hook_genmm_checkpoint_saved(recorded):
    *_, calls = recorded
    saved = [c[1] for c in calls if c[0] == "checkpoint_saved"]
    assert saved == ["step-000002", "step-000004"]


def test_hook_genmm_run_end(recorded):
    *_, calls = recorded
    assert calls[-1] == ("run_end", "completed")


SHIPPED = """
description: a recipe shipped by a one-off plugin file
base: base/adversarial.yaml
data: {name: toy.ring, size: 512}
models:
  generator: {name: toy.mlp_generator, latent_dim: 2, hidden: 8, depth: 1}
  discriminator: {name: toy.mlp_discriminator, hidden: 8, depth: 1}
losses:
  adversarial: {name: core.nonsaturating}
phases:
  gan: {trainer: core.gan, max_steps: 3, batch_size: 8}
"""

SHIPPER = """
from pathlib import Path

import genmm


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "shipped"]
"""


def test_hook_genmm_recipe_folders(cli, tmp_path):
    (tmp_path / "shipped").mkdir()
    (tmp_path / "shipped" / "ring_by_hook.yaml").write_text(SHIPPED)
    (tmp_path / "shipped" / "notes.txt").write_text("not a recipe")
    plugin = tmp_path / "shipper.py"
    plugin.write_text(SHIPPER)
    manager = PluginManager()
    manager.load_default([plugin])
    shipped = recipes.shipped(manager)
    assert shipped["ring_by_hook"] == tmp_path / "shipped" / "ring_by_hook.yaml"
    assert "notes" not in shipped and "toy_ring" in shipped  # the toy plugin's own, too
    listed = cli("recipes", "--plugin", str(plugin), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("ring_by_hook "))
    assert line.split(None, 1)[1] == "a recipe shipped by a one-off plugin file"
    found = cli("run", "ring_by_hook", "--dry-run", "--plugin", str(plugin), cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    resolved = recipes.parse(found.stdout)  # `base: base/adversarial.yaml` resolved to the core's
    assert resolved["description"] == "a recipe shipped by a one-off plugin file"
    assert resolved["data"]["size"] == 512 and resolved["data"]["modes"] == 8  # defaults filled
    missing = cli("run", "ring_by_hook", "--dry-run", cwd=tmp_path)  # without the plugin
    assert missing.returncode == 2
    assert "recipe file not found" in missing.stderr and "toy_ring" in missing.stderr


def test_every_hook_has_a_test():
    from genmm.hookspecs import HOOK_NAMES

    here = Path(__file__).read_text()
    missing = [name for name in HOOK_NAMES if f"def test_hook_{name}(" not in here]
    assert not missing and len(HOOK_NAMES) == 12


def test_every_hook_documented_with_its_signature():
    import inspect

    from genmm import hookspecs

    docs = DOCS.read_text()
    for name in hookspecs.HOOK_NAMES:
        parameters = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"{name}({parameters})" in docs, f"{name}({parameters}) is not in the docs"


def test_every_member_of_the_plugin_surface_is_documented():
    """A row of the docs' tables per member of BuiltRun and TrainerRun (and MiniRun's own)."""
    from genmm.surface import BuiltRun, TrainerRun, members

    docs = DOCS.read_text()
    undocumented = [name for name in sorted(members(TrainerRun)) if f"| `{name}" not in docs]
    assert not undocumented, f"not in docs/writing-plugins.md: {undocumented}"
    built = docs.split("`BuiltRun`:", 1)[1].split("`TrainerRun` adds:", 1)[0]
    for name in members(BuiltRun):
        assert f"| `{name}" in built, f"{name} is documented outside the BuiltRun table"
    for name in ("MiniRun", "step_once", "genmm_recipe_folders()"):
        assert name in docs
