"""Hook implementations: a dataset that describes its columns, a generator and a critic whose
widths come from that description, a metric, a writer, a shipped recipe and a run-end hook."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

import genmm
from genmm.metrics import Metric
from genmm.writers import Writer, output_path


class SwissRoll(torch.utils.data.Dataset):
    """Points on a 2-D swiss roll, scaled to about [-2, 2], plus ``extra_columns`` of noise
    (a table of ``2 + extra_columns`` columns); the last ``held_out`` fraction is held out."""

    def __init__(
        self,
        size: int = 4096,
        noise: float = 0.05,
        extra_columns: int = 0,
        held_out: float = 0.1,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= held_out < 1.0:
            raise ValueError(f"held_out must be a fraction in [0, 1), got {held_out}")
        generator = torch.Generator().manual_seed(seed)
        t = 1.5 * math.pi * (1 + 2 * torch.rand(size, generator=generator))
        points = torch.stack([t * t.cos(), t * t.sin()], 1) / 7.5
        points = points + noise * torch.randn(size, 2, generator=generator)
        extra = 0.5 * torch.randn(size, extra_columns, generator=generator)
        table = torch.cat([points, extra], 1)
        cut = size - int(round(size * held_out))
        self.points, self.held_out_points = table[:cut], table[cut:]
        self.columns = ["x", "y"] + [f"noise{i}" for i in range(extra_columns)]

    def describe(self) -> dict:
        """Plain data saved with every checkpoint: what a model needs to be rebuilt."""
        return {"columns": self.columns}

    def held_out_set(self) -> list[dict[str, torch.Tensor]]:
        """The held-out rows, as items of the same form as the training items."""
        return [{"real": row} for row in self.held_out_points]

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"real": self.points[index]}


def width(description: dict | None) -> int:
    if not description or "columns" not in description:
        raise ValueError("needs the data description's 'columns' (a swissroll.points dataset)")
    return len(description["columns"])


class Generator(nn.Module):
    """An MLP from ``latent_dim`` noise to one row of the table (its width from the data)."""

    def __init__(
        self, description: dict | None = None, latent_dim: int = 4, hidden: int = 64
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, width(description)),
        )

    def forward(self, z: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return self.net(z) * scale  # (B, latent_dim) -> (B, columns)


class Critic(nn.Module):
    """A small MLP critic over one row (no sigmoid: for WGAN-GP too)."""

    def __init__(self, description: dict | None = None, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width(description), hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MeanRadius(Metric):
    """Mean distance from the origin of generated (x, y), beside the held-out data's, and the
    mean distance from a generated point to its nearest held-out point."""

    def __init__(self, n_samples: int = 512) -> None:
        self.n_samples = n_samples

    def __call__(self, run) -> dict[str, float]:
        points = run.sample(self.n_samples)[:, :2]
        data = torch.stack([item["real"] for item in run.dataset.held_out_set()])[:, :2]
        return {
            "swissroll.radius": float(points.norm(dim=1).mean()),
            "swissroll.data_radius": float(data.norm(dim=1).mean()),
            "swissroll.nearest": float(torch.cdist(points, data).min(1).values.mean()),
        }


class CSVWriter(Writer):
    """Samples as CSV rows under a header of the data's column names."""

    suffix = ".csv"

    def __init__(self, description: dict | None = None) -> None:
        self.columns = (description or {}).get("columns", [])

    def write(self, samples: torch.Tensor, path: Path) -> list[Path]:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(",".join(f"{v:.5f}" for v in row) + "\n" for row in samples.tolist())
        path.write_text(",".join(self.columns) + "\n" + rows)
        return [path]

    def generate(self, run, n: int, out: Path | None, scale: float = 1.0) -> list[Path]:
        """``genmm generate RUN --n N -o out.csv --scale 2`` (``scale`` reaches the generator)."""
        with run.evaluating(seed=run.generate_seed):
            samples = run.sample(n, scale=scale)
        return self.write(samples, output_path(run, out, self.suffix))


@genmm.hookimpl
def genmm_register_datasets(register):
    register("swissroll.points", SwissRoll)


@genmm.hookimpl
def genmm_register_models(register):
    register("swissroll.generator", Generator, about="an MLP, as wide as the table")
    register("swissroll.critic", Critic)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("swissroll.radius", MeanRadius)


@genmm.hookimpl
def genmm_register_writers(register):
    register("swissroll.csv", CSVWriter)


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]


@genmm.hookimpl
def genmm_run_end(run, status):
    if run.is_main:  # hooks run on every process under data parallelism
        (run.out / "finished.txt").write_text(f"{status} at step {run.step}\n")
