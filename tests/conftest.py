"""Shared fixtures: one thread, tiny recipes in tmp_path and a CLI runner in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"

TINY_TOY = """\
description: tiny toy run for tests
seed: {seed}
out: {out}
data: {{name: toy.ring, size: 2048}}
models:
  generator: {{name: toy.mlp_generator, latent_dim: 4, hidden: 32, depth: 2}}
  discriminator: {{name: toy.mlp_discriminator, hidden: 32, depth: 2}}
losses:
  adversarial: {{name: core.nonsaturating}}
phases:
  gan:
    trainer: core.gan
    max_steps: {steps}
    batch_size: 32
eval: {{every: 0, metrics: [toy.modes]}}
samples: {{every: 0, n: 16}}
writer: {{name: toy.scatter, size: 64}}
checkpoint: {{every: {every}, keep: 5}}
runtime: {{progress: false, log_every: 1}}
"""


@pytest.fixture(autouse=True)
def one_thread():
    """Tensor work in the test process runs on one thread: the networks here are tiny, and on a
    busy 2-core machine two OpenMP threads waiting on each other make small ops many times
    slower. (CLI runs in subprocesses choose their own.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_recipe(tmp_path: Path):
    """Write a tiny toy recipe; returns a function (steps, every, seed) -> path."""

    def make(steps: int = 10, every: int = 5, seed: int = 0, name: str = "tiny.yaml") -> Path:
        path = tmp_path / name
        path.write_text(
            TINY_TOY.format(seed=seed, out=tmp_path / "run", steps=steps, every=every),
            encoding="utf-8",
        )
        return path

    return make


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m genmm.cli ARGS`` in a subprocess (the real CLI, as a user runs it)."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "genmm.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def manager():
    from genmm.plugins import get_manager

    return get_manager()


def pip_install(source: Path, target: Path, build: Path) -> Path:
    """``pip install`` a plugin package into its own folder ``target``, as its author would
    (no dependencies, no index); returns ``target`` for PYTHONPATH (see :func:`env_for`)."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "--target", str(target), str(source)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(build)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return target


def env_for(site: Path) -> dict[str, str]:
    """The environment that puts an installed ``site`` folder on the path of subprocesses."""
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": f"{site}{os.pathsep}{path}" if path else str(site)}
