"""Hook implementations: a dataset, a critic, a metric, a writer and a run-end hook."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

import genmm
from genmm.metrics import Metric
from genmm.writers import Writer


class SwissRoll(torch.utils.data.Dataset):
    """Points on a 2-D swiss roll, scaled to about [-2, 2]."""

    def __init__(self, size: int = 4096, noise: float = 0.05, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        t = 1.5 * math.pi * (1 + 2 * torch.rand(size, generator=generator))
        points = torch.stack([t * t.cos(), t * t.sin()], 1) / 7.5
        self.points = points + noise * torch.randn(size, 2, generator=generator)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"real": self.points[index]}


class Critic(nn.Module):
    """A small MLP critic (no sigmoid: for WGAN-GP)."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MeanRadius(Metric):
    """Mean distance from the origin of generated points, beside the data's, and the mean
    distance from a generated point to its nearest data point."""

    def __init__(self, n_samples: int = 512) -> None:
        self.n_samples = n_samples

    def __call__(self, run) -> dict[str, float]:
        points = run.sample(self.n_samples)
        data = run.dataset.points
        return {
            "swissroll.radius": float(points.norm(dim=1).mean()),
            "swissroll.data_radius": float(data.norm(dim=1).mean()),
            "swissroll.nearest": float(torch.cdist(points, data).min(1).values.mean()),
        }


class CSVWriter(Writer):
    """Samples as ``x,y`` lines."""

    suffix = ".csv"

    def write(self, samples: torch.Tensor, path: Path) -> list[Path]:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{x:.5f},{y:.5f}\n" for x, y in samples.tolist()))
        return [path]

    def generate(self, run, n: int, out: Path | None, scale: float = 1.0) -> list[Path]:
        """``genmm generate RUN --n N -o out.csv --scale 2``."""
        with run.evaluating(seed=run.generate_seed):
            samples = run.sample(n) * scale
        return self.write(samples, out or run.out / "generated.csv")


@genmm.hookimpl
def genmm_register_datasets(register):
    register("swissroll.points", SwissRoll)


@genmm.hookimpl
def genmm_register_models(register):
    register("swissroll.critic", Critic)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("swissroll.radius", MeanRadius)


@genmm.hookimpl
def genmm_register_writers(register):
    register("swissroll.csv", CSVWriter)


@genmm.hookimpl
def genmm_run_end(run, status):
    (run.out / "finished.txt").write_text(f"{status} at step {run.step}\n")
