"""Scatter plots of 2-D samples as PNG (Pillow), real points in grey behind generated ones."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from genmm.writers import Writer


def scatter(points: torch.Tensor, reference: torch.Tensor | None, size: int, extent: float):
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def pixel(p: torch.Tensor) -> tuple[float, float]:
        return ((float(p[0]) / extent + 1) * size / 2, (1 - float(p[1]) / extent) * size / 2)

    for group, colour in ((reference, (190, 190, 190)), (points, (31, 119, 180))):
        if group is None:
            continue
        for point in group:
            x, y = pixel(point)
            draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=colour)
    return image


class ScatterWriter(Writer):
    """PNG scatter plot of generated points over the real mixture."""

    suffix = ".png"

    def __init__(self, size: int = 512, extent: float = 6.0, reference_points: int = 2000):
        self.size = size
        self.extent = extent
        self.reference_points = reference_points
        self.reference: torch.Tensor | None = None

    def write_samples(self, run, stem: Path) -> list[Path]:
        if run.dataset is not None:
            self.reference = run.dataset.points[: self.reference_points]
        return super().write_samples(run, stem)

    def write(self, samples: torch.Tensor, path: Path) -> list[Path]:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        scatter(samples.detach().cpu(), self.reference, self.size, self.extent).save(path)
        text = path.with_suffix(".txt")
        text.write_text("\n".join(f"{x:.5f} {y:.5f}" for x, y in samples.tolist()) + "\n")
        return [path, text]
