"""Mode coverage and high-quality samples for Gaussian mixtures (Srivastava et al. 2017,
VEEGAN sec. 5.1; Lin et al. 2018, PacGAN sec. 5): a sample is high quality when it lies within
3 standard deviations of its nearest mode; a mode is covered when it holds at least
``min_count`` high-quality samples of ``n_samples``.

The modes and their std come from the live data (``run.dataset``) when the run has it, else
from the data's description (its ``centres`` and ``std``)."""

from __future__ import annotations

from typing import Any

import torch

from genmm.errors import DataError
from genmm.metrics import Metric


def mode_statistics(
    points: torch.Tensor, centres: torch.Tensor, std: float, min_count: int
) -> dict[str, float]:
    distances = torch.cdist(points.float(), centres.float())  # (N, modes)
    nearest, which = distances.min(1)
    good = nearest <= 3 * std
    counts = torch.bincount(which[good], minlength=len(centres))
    return {
        "modes": float((counts >= min_count).sum()),
        "high_quality": float(good.float().mean() * 100),
    }


class ModeCoverage(Metric):
    """``modes`` covered and percentage of ``high_quality`` samples."""

    def __init__(
        self,
        n_samples: int = 2500,
        min_count: int = 20,
        description: dict[str, Any] | None = None,
    ) -> None:
        self.n_samples = n_samples
        self.min_count = min_count
        self.description = dict(description or {})

    def __call__(self, run) -> dict[str, float]:
        dataset = run.dataset
        if dataset is not None and hasattr(dataset, "centres"):
            centres, std = dataset.centres, dataset.std
        elif "centres" in self.description:
            centres = torch.tensor(self.description["centres"])
            std = float(self.description["std"])
        else:
            raise DataError("toy.modes needs a Gaussian mixture (toy.ring, toy.grid)")
        points = run.sample(self.n_samples).cpu()
        return mode_statistics(points, centres, std, self.min_count)
