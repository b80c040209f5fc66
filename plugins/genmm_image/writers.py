"""``image.grid``: PNG grids of generated images (sample dumps and ``genmm generate``).

``genmm generate runs/X --n 64 -o grid.png`` writes one grid; ``--label 7`` asks a
conditional generator for class 7. Subclasses (e.g. StyleGAN2's writer with ``--truncation``
and ``--mix``) override :meth:`ImageGridWriter.generate`, naming their options as its keyword
arguments and passing them on to ``run.sample(n, **options)`` (the generator's forward), and
reuse :meth:`label_condition` and :meth:`write`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm.writers import Writer, output_path
from genmm_image.data import to_uint8

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def make_grid(images: Tensor, nrow: int = 0, padding: int = 2, pad_value: int = 0) -> Tensor:
    """``(N, C, H, W)`` float in ``[-1, 1]`` -> uint8 ``(H', W', 3 or 1)`` grid, ``nrow`` images
    per row (0: a square-ish grid)."""
    images = to_uint8(images.cpu())
    if images.dim() == 3:
        images = images.unsqueeze(1)
    count, channels, height, width = images.shape
    per_row = nrow or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / per_row))
    grid = torch.full(
        (channels, rows * (height + padding) + padding, per_row * (width + padding) + padding),
        pad_value,
        dtype=torch.uint8,
    )
    for index in range(count):
        row, column = divmod(index, per_row)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[:, top : top + height, left : left + width] = images[index]
    return grid.permute(1, 2, 0).contiguous()


def save_image(array: Tensor, path: Path) -> Path:
    """Save a uint8 ``(H, W, C)`` array (C = 1 or 3) with Pillow."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    data = array.numpy()
    image = Image.fromarray(data[:, :, 0], "L") if data.shape[2] == 1 else Image.fromarray(data)
    image.save(path)
    return path


def image_path(run: Run, out: Path | None, suffix: str = ".png") -> Path:
    """``-o grid.png`` as given; a folder (or a name without an image suffix) gets
    ``grid.png`` in it; none: ``<run>/generated/step-N.png``. The folder is created."""
    if out is not None and Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        out = Path(out) / f"grid{suffix}"
    return output_path(run, out, suffix)


class ImageGridWriter(Writer):
    """PNG grid of ``n`` images (``nrow`` per row, 0: square), each scaled up ``scale`` times."""

    suffix = ".png"

    def __init__(self, nrow: int = 0, padding: int = 2, pad_value: int = 0, scale: int = 1):
        if scale < 1 or padding < 0:
            raise ValueError("scale must be >= 1 and padding >= 0")
        self.nrow = nrow
        self.padding = padding
        self.pad_value = pad_value
        self.scale = scale

    # ------------------------------------------------------------------ files
    def write(self, samples: Tensor, path: Path, nrow: int | None = None) -> list[Path]:
        """Write ``(N, C, H, W)`` images in ``[-1, 1]`` as one grid image."""
        path = Path(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            path = path.with_suffix(self.suffix)
        images = samples.detach().float()
        if self.scale > 1:
            images = images.repeat_interleave(self.scale, -1).repeat_interleave(self.scale, -2)
        grid = make_grid(images, self.nrow if nrow is None else nrow, self.padding, self.pad_value)
        return [save_image(grid, path)]

    # ------------------------------------------------------------------ sampling
    @staticmethod
    def num_classes(run: Run) -> int:
        return int(getattr(run.sampling_model("generator"), "num_classes", 0) or 0)

    def label_condition(self, run: Run, n: int, label: int | None) -> Tensor | None:
        """The condition for ``--label``: ``n`` copies of the class, or ``None``."""
        if label is None:
            return None
        classes = self.num_classes(run)
        if not classes:
            raise RecipeError(
                "--label needs a conditional generator; this run's generator takes no labels",
                key="generate.label",
            )
        if not 0 <= label < classes:
            raise RecipeError(
                f"--label {label} is out of range: the generator knows classes 0-{classes - 1}",
                key="generate.label",
            )
        return torch.full((n,), label, dtype=torch.long, device=run.device)

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        """Periodic dump; a conditional generator gets one row per class."""
        n = run.recipe["samples"]["n"]
        classes = self.num_classes(run)
        if classes:
            per_class = max(1, n // classes)
            labels = torch.arange(classes, device=run.device).repeat_interleave(per_class)
            images = run.sample(len(labels), condition=labels)
            return self.write(images, stem.with_suffix(self.suffix), nrow=per_class)
        return self.write(run.sample(n), stem.with_suffix(self.suffix))

    def generate(self, run: Run, n: int, out: Path | None, label: int | None = None) -> list[Path]:
        """``genmm generate RUN --n 64 -o grid.png [--label 7]``."""
        with run.evaluating(seed=run.generate_seed):
            images = run.sample(n, condition=self.label_condition(run, n, label))
        return self.write(images, image_path(run, out, self.suffix))
