"""``genmm new-plugin``: the package it writes installs with pip, is found through its entry
point, ships its recipe, trains through ``core.gan``, generates and evaluates from the command
line, and its own test passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.conftest import env_for, pip_install

NAME = "blobby"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scaffold")
    made = subprocess.run(
        [sys.executable, "-m", "genmm.cli", "new-plugin", NAME, "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    assert f"created {folder / f'genmm-{NAME}'}" in made.stdout
    return folder / f"genmm-{NAME}"


@pytest.fixture(scope="module")
def site(package, tmp_path_factory) -> Path:
    """``pip install`` the written package into its own folder, as an author would."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    return pip_install(package, target, build)


def test_package_layout(package):
    for part in (
        "pyproject.toml",
        "README.md",
        "recipe.yaml",
        f"genmm_{NAME}/__init__.py",
        f"genmm_{NAME}/plugin.py",
        f"genmm_{NAME}/recipes/{NAME}.yaml",
        f"tests/test_{NAME}.py",
    ):
        assert (package / part).is_file(), part
    pyproject = (package / "pyproject.toml").read_text()
    assert f'{NAME} = "genmm_{NAME}.plugin"' in pyproject
    assert f'genmm_{NAME} = ["recipes/*.yaml"]' in pyproject  # the recipe is package data
    plugin = (package / f"genmm_{NAME}" / "plugin.py").read_text()
    for v2 in ("def describe(self)", "def held_out_set(self)", "description: dict | None = None"):
        assert v2 in plugin
    for v1 in ("backward(", ".step(", "dataset=", "other_split"):
        assert v1 not in plugin
    compile(plugin, "plugin.py", "exec")


def test_installed_plugin_is_listed_with_its_recipe(cli, site):
    listed = cli("plugins", env=env_for(site))
    assert listed.returncode == 0, listed.stderr
    assert f"{NAME} 0.1.0  (genmm-{NAME} (entry point genmm_{NAME}.plugin))" in listed.stdout
    for line in (
        f"dataset  {NAME}.blobs",
        f"model    {NAME}.generator  — an MLP, as wide as the data",
        f"model    {NAME}.discriminator",
        f"metric   {NAME}.nearest",
        f"writer   {NAME}.csv",
    ):
        assert line in listed.stdout, line
    shipped = cli("recipes", env=env_for(site))
    assert shipped.returncode == 0, shipped.stderr
    assert any(line.split()[:1] == [NAME] for line in shipped.stdout.splitlines())
    dry = cli("run", NAME, "--dry-run", env=env_for(site))
    assert dry.returncode == 0, dry.stderr
    assert "spread: 0.1" in dry.stdout and "trainer: core.gan" in dry.stdout  # defaults filled


def test_recipe_trains_generates_and_evaluates_through_the_cli(cli, site, tmp_path):
    out = tmp_path / "run"
    trained = cli(
        "run",
        NAME,
        "--out",
        str(out),
        "--max-steps",
        "12",
        "data.dimensions=3",  # the models' widths follow the data's description
        "phases.gan.batch_size=32",
        "runtime.log_every=4",
        env=env_for(site),
    )
    assert trained.returncode == 0, trained.stderr
    assert "done: 12 steps" in trained.stdout
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "d_loss" in line]
    assert [line["step"] for line in steps] == [4, 8, 12]
    assert all(line["phase"] == "gan" and line["g_loss"] > 0 for line in steps)
    evaluated = [line["eval"] for line in lines if "eval" in line]
    assert len(evaluated) == 1  # at the end of the phase (eval.every=500 > 12)
    figures = evaluated[0]
    assert figures[f"{NAME}.nearest"] > figures[f"{NAME}.data_nearest"] > 0
    last = out / "checkpoints" / "last"
    description = json.loads((last / "description.json").read_text())
    assert description["dimensions"] == 3 and description["clusters"] == 3
    assert len(description["centres"]) == 3 and len(description["centres"][0]) == 3
    weights = load_file(str(last / "model.safetensors"))
    assert weights["generator.net.4.weight"].shape == (3, 64)
    assert weights["discriminator.net.0.weight"].shape == (64, 3)
    samples = sorted((out / "samples").glob("*.csv"))
    assert [p.name for p in samples] == ["step-000012.csv"]
    header, *rows = samples[0].read_text().splitlines()
    assert header == "x0,x1,x2" and len(rows) == 256

    # generate rebuilds the models from the checkpoint's description, without the data
    made = tmp_path / "made.csv"
    result = cli("generate", str(out), "--n", "7", "-o", str(made), env=env_for(site))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(made)
    header, *rows = made.read_text().splitlines()
    values = [[float(v) for v in row.split(",")] for row in rows]
    assert header == "x0,x1,x2" and len(values) == 7 and all(len(v) == 3 for v in values)
    assert len({tuple(v) for v in values}) == 7

    # --temperature reaches the generator's forward: at 0 every sample is G(0)
    cold = tmp_path / "cold.csv"
    result = cli(
        "generate", str(out), "--n", "5", "-o", str(cold), "--temperature", "0", env=env_for(site)
    )
    assert result.returncode == 0, result.stderr
    assert len(set(cold.read_text().splitlines()[1:])) == 1
    typo = cli("generate", str(out), "--temperatur", "0", env=env_for(site))
    assert typo.returncode == 2 and "did you mean 'temperature'" in typo.stderr

    scored = cli("eval", str(out), env=env_for(site))
    assert scored.returncode == 0, scored.stderr
    record = json.loads(scored.stdout)
    assert record["step"] == 12 and record[f"{NAME}.nearest"] == pytest.approx(
        figures[f"{NAME}.nearest"], rel=1e-5
    )


@pytest.mark.slow
def test_the_packages_own_test_passes(package, site):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=package,
        capture_output=True,
        text=True,
        env={**os.environ, **env_for(site)},
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
