"""A real outside plugin package, installed the way its author would, used through the CLI."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import env_for, pip_install

PACKAGE = Path(__file__).resolve().parents[1] / "outside_plugin"
RECIPE = PACKAGE / "genmm_swissroll" / "recipes" / "swissroll.yaml"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``pip install`` the package into its own folder, put on PYTHONPATH for subprocesses."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    source = build / "genmm-swissroll"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    return pip_install(source, target, build)


def test_outside_plugin_is_listed(cli, site):
    result = cli("plugins", env=env_for(site))
    assert result.returncode == 0, result.stderr
    assert "swissroll 1.2.0  (genmm-swissroll (entry point genmm_swissroll.plugin))" in (
        result.stdout
    )
    assert "dataset  swissroll.points" in result.stdout
    assert "model    swissroll.generator  — an MLP, as wide as the table" in result.stdout
    assert "writer   swissroll.csv" in result.stdout
    shipped = cli("recipes", env=env_for(site))
    assert shipped.returncode == 0, shipped.stderr
    assert "swissroll" in shipped.stdout and "outside plugin" in shipped.stdout


def test_outside_plugin_recipe_found_by_name_with_defaults_filled(cli, site):
    result = cli("run", "swissroll", "--dry-run", env=env_for(site))
    assert result.returncode == 0, result.stderr
    assert "size: 4096" in result.stdout  # the dataset's default, filled in
    assert "noise: 0.05" in result.stdout


def test_outside_plugin_trains_evaluates_and_generates(cli, site, tmp_path):
    out = tmp_path / "run"
    result = cli("run", str(RECIPE), "--out", str(out), env=env_for(site))
    assert result.returncode == 0, result.stderr
    assert (out / "finished.txt").read_text() == "completed at step 400\n"
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [line["eval"] for line in lines if "eval" in line]
    assert len(evals) == 4  # eval.every=100 over 400 steps, through the plugin's metric
    sys.path.insert(0, str(site))
    try:
        from genmm_swissroll.plugin import SwissRoll
    finally:
        sys.path.remove(str(site))
    held_out = torch.stack(
        [item["real"] for item in SwissRoll(extra_columns=1, seed=1).held_out_set()]
    )
    assert held_out.shape == (410, 3)
    expected = float(held_out[:, :2].norm(dim=1).mean())  # the metric, by hand
    assert abs(evals[-1]["swissroll.data_radius"] - expected) < 1e-6
    assert all(0 < e["swissroll.nearest"] < 1.0 for e in evals)
    logged = [line for line in lines if "d_loss" in line]
    assert logged[-1]["step"] == 400 and logged[-1]["phase"] == "gan"
    rows = (out / "samples" / "step-000400.csv").read_text().splitlines()
    assert rows[0] == "x,y,noise0"  # the columns of the data description
    assert len(rows) == 257 and len(rows[1].split(",")) == 3
    generated = tmp_path / "g.csv"
    made = cli(
        "generate", str(out), "--n", "5", "-o", str(generated), "--scale", "2", env=env_for(site)
    )
    assert made.returncode == 0, made.stderr
    # rebuilt without the data: the widths come from the checkpoint's description
    rows = generated.read_text().splitlines()
    assert rows[0] == "x,y,noise0" and len(rows) == 6 and len(rows[1].split(",")) == 3
    plain = tmp_path / "plain.csv"
    assert (
        cli("generate", str(out), "--n", "5", "-o", str(plain), env=env_for(site)).returncode == 0
    )
    doubled = [[float(v) for v in row.split(",")] for row in rows[1:]]
    single = [[float(v) for v in row.split(",")] for row in plain.read_text().splitlines()[1:]]
    assert all(abs(d - 2 * s) < 1e-4 for a, b in zip(doubled, single) for d, s in zip(a, b))
    typo = cli("generate", str(out), "--scael", "2", env=env_for(site))
    assert typo.returncode == 2 and "did you mean 'scale'" in typo.stderr
    evaluated = cli("eval", str(out), env=env_for(site))
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["step"] == 400


def test_without_the_plugin_its_recipe_names_what_is_missing(cli):
    result = cli("run", str(RECIPE), "--dry-run")
    assert result.returncode == 2
    assert "unknown dataset 'swissroll.points'" in result.stderr
