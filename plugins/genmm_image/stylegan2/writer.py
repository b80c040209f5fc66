"""``image.stylegan2_grid``: StyleGAN2 sample grids with the truncation trick and style mixing.

Every option is a keyword argument of the generator's forward, passed on by
``run.sample(n, **options)`` (no state is set on the generator):

* ``--truncation psi``: ``w' = w_avg + psi (w - w_avg)`` (StyleGAN sec. 4.1; psi = 0 gives
  the mean-w image, 1 no truncation; 0.7 the usual trade of variety for quality).
* ``--noise-mode const|random|none``: the per-layer noise inputs (default const, as the
  official generate script).
* ``--mix``: a style-mixing matrix (StyleGAN fig. 3): the first row holds source B images,
  the first column source A images, and cell (i, j) takes A_i's styles for the layers before
  ``--crossover`` (coarse: pose, shape) and B_j's for the rest (fine: colour, texture), i.e.
  ``G(z_a, mix=z_b, crossover=K)``. ``--n 64`` gives a 7 x 7 matrix with its headers in an
  8 x 8 grid.

    genmm generate runs/stylegan2_shapes --n 64 -o grid.png --truncation 0.7 --mix
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm_image.writers import ImageGridWriter, image_path

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


def mixing_matrix(
    generator, side: int, crossover: int, truncation: float, device, noise_mode: str = "const"
) -> Tensor:
    """(side + 1)^2 images: blank corner, B sources along the top, A sources down the left,
    A's styles before ``crossover`` and B's from it on in the cells."""
    z_a = torch.randn(side, generator.z_dim, device=device)
    z_b = torch.randn(side, generator.z_dim, device=device)
    options = {"truncation": truncation, "noise_mode": noise_mode}
    images_a = generator(z_a, **options)
    images_b = generator(z_b, **options)
    rows_a = z_a[:, None].expand(-1, side, -1).reshape(side * side, -1)  # A_i for each B_j
    cols_b = z_b[None].expand(side, -1, -1).reshape(side * side, -1)
    cells = generator(rows_a, mix=cols_b, crossover=crossover, **options)
    blank = torch.full_like(images_a[:1], -1.0)
    rows = [torch.cat([blank, images_b])]
    for i in range(side):
        rows.append(torch.cat([images_a[i : i + 1], cells[i * side : (i + 1) * side]]))
    return torch.cat(rows)


class StyleGAN2GridWriter(ImageGridWriter):
    """PNG grids from a StyleGAN2 generator; sample dumps use ``truncation`` (default 1) and
    fresh noise."""

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
        images = run.sample(
            run.recipe["samples"]["n"], truncation=self.truncation, noise_mode="random"
        )
        return self.write(images, stem.with_suffix(self.suffix))

    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        truncation: float = 1.0,
        noise_mode: Literal["const", "random", "none"] = "const",
        mix: bool = False,
        crossover: int | None = None,
    ) -> list[Path]:
        """``--truncation 0.7 [--noise-mode const] [--mix [--crossover K]]``."""
        path = image_path(run, out, self.suffix)
        options = {"truncation": truncation, "noise_mode": noise_mode}
        with run.evaluating(seed=run.generate_seed):
            if not mix:
                return self.write(run.sample(n, **options), path)
            generator = run.sampling_model("generator")
            side = max(1, math.isqrt(n) - 1)
            cut = generator.num_ws // 2 if crossover is None else crossover
            if not 0 < cut < generator.num_ws:
                raise RecipeError(
                    f"--crossover must be within 1-{generator.num_ws - 1}, got {cut}",
                    key="generate.crossover",
                )
            images = mixing_matrix(generator, side, cut, truncation, run.device, noise_mode)
        return self.write(images, path, nrow=side + 1)
