"""2-D Gaussian mixtures: the ring of 8 and the 5x5 grid of 25 (Metz et al. 2017, sec. 3.1;
Srivastava et al. 2017 / Lin et al. 2018 for the grid).

Each describes itself (``describe()``) as plain data: its settings, the number of modes, the
std and the centres as lists. The mixtures hold nothing out (every point is a fresh draw from
the same distribution), so they take no ``held_out``."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils.data import Dataset


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * angles.cos(), radius * angles.sin()], 1).float()


def grid_centres(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    offsets = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(offsets, offsets)


class GaussianMixture(Dataset):
    """``size`` points drawn once (from ``seed``) from equal-weight isotropic Gaussians."""

    def __init__(self, centres: torch.Tensor, std: float, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.centres = centres
        self.std = std
        which = torch.randint(len(centres), (size,), generator=generator)
        self.points = centres[which] + std * torch.randn(size, 2, generator=generator)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"real": self.points[index]}

    def get_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {"real": self.points[indices]}

    def describe(self) -> dict[str, Any]:
        """``modes``, ``std``, ``centres`` (``[[x, y], ...]``), ``size``, ``dimensions``."""
        return {
            "modes": len(self.centres),
            "std": float(self.std),
            "centres": [[float(x), float(y)] for x, y in self.centres.tolist()],
            "size": len(self.points),
            "dimensions": 2,
        }


class Ring(GaussianMixture):
    """Ring of ``modes`` Gaussians of radius ``radius`` and std ``std``."""

    def __init__(
        self,
        modes: int = 8,
        radius: float = 2.0,
        std: float = 0.02,
        size: int = 100_000,
        seed: int = 0,
    ) -> None:
        super().__init__(ring_centres(modes, radius), std, size, seed)
        self.radius = radius

    def describe(self) -> dict[str, Any]:
        return {"shape": "ring", "radius": float(self.radius), **super().describe()}


class Grid(GaussianMixture):
    """Grid of ``side`` x ``side`` Gaussians, ``spacing`` apart, std ``std``."""

    def __init__(
        self,
        side: int = 5,
        spacing: float = 2.0,
        std: float = 0.05,
        size: int = 100_000,
        seed: int = 0,
    ) -> None:
        super().__init__(grid_centres(side, spacing), std, size, seed)
        self.side, self.spacing = side, spacing

    def describe(self) -> dict[str, Any]:
        return {
            "shape": "grid",
            "side": self.side,
            "spacing": float(self.spacing),
            **super().describe(),
        }
