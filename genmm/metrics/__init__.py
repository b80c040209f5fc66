"""Modality-free metric maths and the :class:`Metric` base of registered metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genmm.metrics.frechet import frechet_distance, gaussian_statistics, kernel_inception_distance

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


class Metric:
    """A registered metric: ``__call__(run) -> {name: value}``, inside ``run.evaluating()``."""

    def __call__(self, run: Run) -> dict[str, float]:
        raise NotImplementedError


__all__ = ["Metric", "frechet_distance", "gaussian_statistics", "kernel_inception_distance"]
