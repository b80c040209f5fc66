"""``genmm new-plugin NAME``: a working plugin package with a dataset, models, a recipe and a
test, in the shape docs/writing-plugins.md describes."""

from __future__ import annotations

import re
from pathlib import Path

from genmm.errors import GenmmError

FILES = {
    "pyproject.toml": """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genmm-{name}"
version = "0.1.0"
description = "A genmm plugin"
requires-python = ">=3.11"
dependencies = ["genmm"]

[project.entry-points.genmm]
{name} = "genmm_{name}.plugin"

[tool.setuptools.packages.find]
include = ["genmm_{name}*"]
""",
    "README.md": """# genmm-{name}

A genmm plugin. Install with `pip install -e .`, check with `genmm plugins`, then
`genmm run recipe.yaml`.
""",
    "genmm_{name}/__init__.py": '"""genmm plugin {name}."""\n',
    "genmm_{name}/plugin.py": '''"""Hook implementations of the {name} plugin."""

import torch
from torch import nn

import genmm


class Blobs(torch.utils.data.Dataset):
    """Points around ``centre`` (a stand-in for your data)."""

    def __init__(self, centre: float = 3.0, size: int = 1024, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.points = centre + 0.1 * torch.randn(size, 2, generator=generator)

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return {{"real": self.points[index]}}


class Generator(nn.Module):
    def __init__(self, latent_dim: int = 8, hidden: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)


@genmm.hookimpl
def genmm_register_datasets(register):
    register("{name}.blobs", Blobs)


@genmm.hookimpl
def genmm_register_models(register):
    register("{name}.generator", Generator)
    register("{name}.discriminator", Discriminator)
''',
    "recipe.yaml": """description: the {name} plugin's example
out: runs/{name}
data: {{name: {name}.blobs}}
models:
  generator: {{name: {name}.generator}}
  discriminator: {{name: {name}.discriminator}}
losses:
  adversarial: {{name: core.nonsaturating}}
phases:
  gan: {{trainer: core.gan, max_steps: 300, batch_size: 64}}
""",
    "tests/test_{name}.py": """import subprocess
import sys
from pathlib import Path

RECIPE = Path(__file__).resolve().parent.parent / "recipe.yaml"


def test_plugin_is_listed():
    result = subprocess.run([sys.executable, "-m", "genmm.cli", "plugins"],
                            capture_output=True, text=True, check=True)
    assert "{name}.blobs" in result.stdout


def test_recipe_trains(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "genmm.cli", "run", str(RECIPE), "--out", str(tmp_path / "run"),
         "--max-steps", "20"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").exists()
""",
}


def write_plugin(name: str, directory: Path) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise GenmmError(f"plugin name '{name}': use lower-case letters, digits and '_'")
    folder = Path(directory) / f"genmm-{name}"
    if folder.exists():
        raise GenmmError(f"{folder} already exists; nothing was overwritten")
    for relative, text in FILES.items():
        path = folder / relative.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=name), encoding="utf-8")
    return folder
