"""``image.stylegan2_grid``: StyleGAN2 sample grids with the truncation trick and style mixing.

* ``--truncation psi``: ``w' = w_avg + psi (w - w_avg)`` (StyleGAN sec. 4.1; psi = 0 gives
  the mean-w image, 1 no truncation; 0.7 the usual trade of variety for quality).
* ``--mix``: a style-mixing matrix (StyleGAN fig. 3): the first row holds source B images,
  the first column source A images, and cell (i, j) takes A_i's styles for the layers before
  ``--crossover`` (coarse: pose, shape) and B_j's for the rest (fine: colour, texture).
  ``--n 64`` gives a 7 x 7 matrix with its headers in an 8 x 8 grid.
* ``--noise const|random|none``: the per-layer noise inputs (default const, as the official
  generate script).

    genmm generate runs/stylegan2_shapes --n 64 -o grid.png --truncation 0.7 --mix
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm_image.writers import ImageGridWriter, output_path

if TYPE_CHECKING:
    from genmm.training.run import Run

NOISE_MODES = ("const", "random", "none")


@contextlib.contextmanager
def sampling(generator, truncation: float, noise: str) -> Iterator[None]:
    """Temporarily set the generator's truncation psi and noise mode."""
    if noise not in NOISE_MODES:
        raise RecipeError(f"--noise must be one of {NOISE_MODES}, got '{noise}'", key="noise")
    saved = generator.truncation, generator.noise_mode
    generator.truncation, generator.noise_mode = truncation, noise
    try:
        yield
    finally:
        generator.truncation, generator.noise_mode = saved


def mixing_matrix(generator, side: int, crossover: int, truncation: float, device) -> Tensor:
    """(side + 1)^2 images: blank corner, B sources along the top, A sources down the left,
    A's styles before ``crossover`` and B's from it on in the cells."""
    ws_a = generator.styles(torch.randn(side, generator.z_dim, device=device), truncation)
    ws_b = generator.styles(torch.randn(side, generator.z_dim, device=device), truncation)
    rows_a = ws_a[:, None].expand(-1, side, -1, -1)  # (A, B, num_ws, w_dim)
    cols_b = ws_b[None].expand(side, -1, -1, -1)
    mixed = torch.cat([rows_a[:, :, :crossover], cols_b[:, :, crossover:]], 2)
    synthesis, mode = generator.synthesis, generator.noise_mode
    images_a = synthesis(ws_a, mode)
    images_b = synthesis(ws_b, mode)
    cells = synthesis(mixed.reshape(side * side, *mixed.shape[2:]), mode)
    blank = torch.full_like(images_a[:1], -1.0)
    rows = [torch.cat([blank, images_b])]
    for i in range(side):
        rows.append(torch.cat([images_a[i : i + 1], cells[i * side : (i + 1) * side]]))
    return torch.cat(rows)


class StyleGAN2GridWriter(ImageGridWriter):
    """PNG grids from a StyleGAN2 generator; sample dumps use ``truncation`` (default 1)."""

    def __init__(
        self,
        nrow: int = 0,
        padding: int = 2,
        pad_value: int = 0,
        scale: int = 1,
        truncation: float = 1.0,
    ) -> None:
        super().__init__(nrow, padding, pad_value, scale)
        self.truncation = truncation

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        generator = run.sampling_model("generator")
        with sampling(generator, self.truncation, "random"):
            return super().write_samples(run, stem)

    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        truncation: float = 1.0,
        mix: bool = False,
        crossover: int | None = None,
        noise: str = "const",
    ) -> list[Path]:
        """``--truncation 0.7 --mix [--crossover K] [--noise const]``."""
        generator = run.sampling_model("generator")
        path = output_path(out, run, self.suffix)
        with run.evaluating(seed=run.generate_seed), sampling(generator, truncation, noise):
            if not mix:
                return self.write(run.sample(n), path)
            side = max(1, math.isqrt(n) - 1)
            cut = generator.num_ws // 2 if crossover is None else crossover
            if not 0 < cut < generator.num_ws:
                raise RecipeError(
                    f"--crossover must be within 1-{generator.num_ws - 1}, got {cut}",
                    key="generate.crossover",
                )
            images = mixing_matrix(generator, side, cut, truncation, run.device)
        return self.write(images, path, nrow=side + 1)
