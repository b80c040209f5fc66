"""``genmm new-plugin NAME``: a working plugin package in the shape docs/writing-plugins.md
describes (contract v2): a dataset that describes itself and holds data out, a generator and a
discriminator whose widths come from that description, a metric on the held-out data, a CSV
writer whose sampling option reaches the generator's forward, a recipe shipped through
``genmm_recipe_folders`` (package data) that trains through ``core.gan``, and a test."""

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

[tool.setuptools.package-data]
genmm_{name} = ["recipes/*.yaml"]
""",
    "README.md": """# genmm-{name}

A genmm plugin (see genmm's docs/writing-plugins.md). It registers:

- `{name}.blobs`, a dataset: points around a few random centres, a fraction `held_out` of them
  held out; it describes itself (`describe()`: dimensions, clusters, centres);
- `{name}.generator` and `{name}.discriminator`, MLPs whose widths come from that description
  (so `genmm generate` rebuilds them from a checkpoint, without the data);
- `{name}.nearest`, a metric on the held-out points;
- `{name}.csv`, a writer of CSV rows; `genmm generate RUN --temperature 0.5` reaches the
  generator's `forward`;
- the recipe `{name}` (`genmm_{name}/recipes/{name}.yaml`), shipped through
  `genmm_recipe_folders`, which trains through `core.gan`.

Install and try it:

    pip install -e .
    genmm plugins                       # lists {name} and what it registered
    genmm recipes                       # lists the recipe {name}
    genmm run {name} --max-steps 50     # a quick try (runs/{name})
    genmm generate runs/{name} --n 8 -o eight.csv --temperature 0.5
    genmm eval runs/{name}
    python -m pytest tests

Without installing: `genmm run recipe.yaml --plugin genmm_{name}/plugin.py`.
""",
    "recipe.yaml": """# The shipped recipe, to try the plugin without installing it:
#   genmm run recipe.yaml --plugin genmm_{name}/plugin.py
base: genmm_{name}/recipes/{name}.yaml
""",
    "genmm_{name}/__init__.py": '"""genmm plugin {name}."""\n',
    "genmm_{name}/recipes/{name}.yaml": """\
description: a GAN on Gaussian blobs, from the {name} plugin
base: base/adversarial.yaml        # the core's shared base (genmm/recipes/base)
seed: 0
out: runs/{name}                   # relative to the working directory
data: {{name: {name}.blobs, clusters: 3, dimensions: 2, held_out: 0.1}}
models:
  generator: {{name: {name}.generator, latent_dim: 8, hidden: 64}}
  discriminator: {{name: {name}.discriminator, hidden: 64}}
losses:
  adversarial: {{name: core.nonsaturating}}
phases:
  gan:
    trainer: core.gan
    max_steps: 2000
    batch_size: 128
    optimizers:
      generator: {{name: adam, lr: 2.0e-4, betas: [0.5, 0.999]}}
      discriminator: {{name: adam, lr: 2.0e-4, betas: [0.5, 0.999]}}
eval: {{every: 500, metrics: [{name}.nearest]}}
samples: {{every: 500, n: 256}}
writer: {{name: {name}.csv}}
checkpoint: {{every: 500, keep: 2}}
""",
    "genmm_{name}/plugin.py": '''\
"""Hook implementations of the {name} plugin: a dataset that describes itself, a generator and
a discriminator sized from that description, a metric, a writer and a shipped recipe.

Everything is in this one file, so it also loads as ``genmm run ... --plugin plugin.py``."""

from __future__ import annotations

from pathlib import Path

import genmm
import torch
from genmm.metrics import Metric
from genmm.writers import Writer
from torch import nn


class Rows(torch.utils.data.Dataset):
    """A table of points, one item ``{{"real": row}}`` per row."""

    def __init__(self, rows: torch.Tensor) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {{"real": self.rows[index]}}

    def get_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {{"real": self.rows[indices]}}  # one indexing per batch instead of a collate


class Blobs(Rows):
    """``size`` points around ``clusters`` random centres in ``dimensions`` dimensions (a
    stand-in for your data); the last ``held_out`` fraction is held out of training."""

    def __init__(
        self,
        clusters: int = 3,
        dimensions: int = 2,
        spread: float = 0.1,
        size: int = 2048,
        held_out: float = 0.1,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= held_out < 1.0:
            raise ValueError(f"held_out must be a fraction in [0, 1), got {{held_out}}")
        if clusters < 1 or dimensions < 1:
            raise ValueError("clusters and dimensions must be >= 1")
        generator = torch.Generator().manual_seed(seed)
        self.centres = 2.0 * torch.randn(clusters, dimensions, generator=generator)
        which = torch.randint(clusters, (size,), generator=generator)
        points = self.centres[which] + spread * torch.randn(size, dimensions, generator=generator)
        cut = size - round(size * held_out)
        super().__init__(points[:cut])
        self.held_out_rows = points[cut:]

    def describe(self) -> dict:
        """Plain data saved with every checkpoint: what the models need to be rebuilt."""
        return {{
            "dimensions": self.centres.shape[1],
            "clusters": self.centres.shape[0],
            "centres": self.centres.tolist(),
        }}

    def held_out_set(self) -> Rows:
        """The held-out points, in the same item format as the training points."""
        return Rows(self.held_out_rows)


def width(description: dict | None) -> int:
    if not description or "dimensions" not in description:
        raise ValueError("needs the data description's 'dimensions' (a {name}.blobs dataset)")
    return int(description["dimensions"])


class Generator(nn.Module):
    """An MLP from ``latent_dim`` noise to one point (its width from the data description)."""

    def __init__(
        self, description: dict | None = None, latent_dim: int = 8, hidden: int = 64
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim  # core.gan draws z ~ N(0, I) of this size
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, width(description)),
        )

    def forward(self, z: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """``temperature`` (a sampling option: ``genmm generate RUN --temperature 0.5``) scales
        the noise; training uses 1."""
        return self.net(z * temperature)  # (B, latent_dim) -> (B, dimensions)


class Discriminator(nn.Module):
    """An MLP from one point to one logit (its width from the data description)."""

    def __init__(self, description: dict | None = None, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width(description), hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Nearest(Metric):
    """Mean distance from a generated point to its nearest held-out point; beside it, the same
    from training points, the figure a perfect generator would reach."""

    def __init__(self, n_samples: int = 512) -> None:
        self.n_samples = n_samples

    def __call__(self, run) -> dict[str, float]:
        held_out = run.dataset.held_out_set()
        data = torch.stack([held_out[i]["real"] for i in range(len(held_out))]).to(run.device)
        if len(data) == 0:
            raise ValueError("{name}.nearest needs held-out data (data.held_out > 0)")
        samples = run.sample(self.n_samples).float()
        train = run.dataset.rows[: len(data)].to(run.device)
        return {{
            "{name}.nearest": float(torch.cdist(samples, data).min(1).values.mean()),
            "{name}.data_nearest": float(torch.cdist(train, data).min(1).values.mean()),
        }}


class CSVWriter(Writer):
    """Samples as CSV rows under a header ``x0,x1,...``.

    It keeps the base class's ``generate(run, n, out, **options)``, which passes every option
    on to ``run.sample(n, **options)`` and so to the generator's ``forward``: the command line
    checks ``--temperature`` (and reports a typo) against that ``forward``."""

    suffix = ".csv"

    def __init__(self, description: dict | None = None, decimals: int = 5) -> None:
        self.header = [f"x{{i}}" for i in range(width(description))]
        self.decimals = decimals

    def write(self, samples: torch.Tensor, path: Path) -> list[Path]:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [",".join(f"{{v:.{{self.decimals}}f}}" for v in row) for row in samples.tolist()]
        path.write_text("\\n".join([",".join(self.header), *rows]) + "\\n", encoding="utf-8")
        return [path]


@genmm.hookimpl
def genmm_register_datasets(register):
    register("{name}.blobs", Blobs)


@genmm.hookimpl
def genmm_register_models(register):
    register("{name}.generator", Generator, about="an MLP, as wide as the data")
    register("{name}.discriminator", Discriminator)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("{name}.nearest", Nearest)


@genmm.hookimpl
def genmm_register_writers(register):
    register("{name}.csv", CSVWriter)


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
''',
    "tests/test_{name}.py": '''\
"""The {name} plugin, installed, used the way a user does: through the genmm command line."""

import json
import subprocess
import sys

from genmm_{name}.plugin import Blobs


def genmm(*args):
    return subprocess.run(
        [sys.executable, "-m", "genmm.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_plugin_and_its_recipe_are_listed():
    listed = genmm("plugins")
    assert listed.returncode == 0, listed.stderr
    assert "{name}.blobs" in listed.stdout and "{name}.csv" in listed.stdout
    shipped = genmm("recipes").stdout.splitlines()
    assert any(line.split()[0] == "{name}" for line in shipped if line.strip())


def test_dataset_describes_itself_and_holds_out_a_fraction():
    data = Blobs(clusters=4, dimensions=3, size=1000, held_out=0.2)
    assert len(data) == 800 and len(data.held_out_set()) == 200
    assert data.held_out_set()[0]["real"].shape == data[0]["real"].shape == (3,)
    description = data.describe()
    assert json.loads(json.dumps(description)) == description
    assert description["dimensions"] == 3 and len(description["centres"]) == 4


def test_recipe_trains_evaluates_and_generates(tmp_path):
    run = tmp_path / "run"
    trained = genmm("run", "{name}", "--out", str(run), "--max-steps", "20")
    assert trained.returncode == 0, trained.stderr
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["eval"]["{name}.nearest"] > 0  # the metric ran at the end of the phase
    description = json.loads((run / "checkpoints" / "last" / "description.json").read_text())
    assert description["dimensions"] == 2
    out = tmp_path / "eight.csv"
    made = genmm("generate", str(run), "--n", "8", "-o", str(out), "--temperature", "0.5")
    assert made.returncode == 0, made.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "x0,x1" and len(rows) == 9
    assert all(len([float(v) for v in row.split(",")]) == 2 for row in rows[1:])
    typo = genmm("generate", str(run), "--temperatur", "0.5")
    assert typo.returncode == 2 and "did you mean 'temperature'" in typo.stderr
''',
}


def write_plugin(name: str, directory: Path) -> Path:
    """Write ``directory/genmm-<name>/``; an existing folder is never overwritten."""
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
