"""``image.infogan_grid``: InfoGAN sample grids and latent traversals (Chen et al. 2016, fig. 2).

A traversal grid has one row per value of the categorical code c1 and one column per value of
one continuous code, swept from ``-span`` to ``span`` (the paper sweeps -2 to 2, beyond the
training range [-1, 1]); the other continuous codes are 0 and the noise is fixed per row.

    genmm generate runs/infogan_digits --traverse --code 1 -o c2.png     # the paper's c2
    genmm generate runs/infogan_digits --n 64 -o grid.png                # plain samples
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm_image.writers import ImageGridWriter, image_path

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


def traversal_latents(generator, code: int, steps: int, span: float, device) -> Tensor:
    """(categories * steps, latent_dim): rows = c1, columns = continuous code ``code`` (1-based
    among the continuous codes) from -span to span, noise shared along each row."""
    rows = generator.categories
    noise = torch.randn(rows, 1, generator.noise_dim, device=device).expand(-1, steps, -1)
    category = torch.arange(rows, device=device)[:, None].expand(-1, steps)
    values = torch.linspace(-span, span, steps, device=device)
    continuous = torch.zeros(rows, steps, generator.continuous, device=device)
    continuous[:, :, code - 1] = values
    return generator.compose(
        noise.reshape(rows * steps, -1),
        category.reshape(-1),
        continuous.reshape(rows * steps, -1),
    )


class InfoGANGridWriter(ImageGridWriter):
    """Sample grids plus latent-traversal grids (one per continuous code) for InfoGAN."""

    def __init__(
        self,
        nrow: int = 0,
        padding: int = 2,
        pad_value: int = 0,
        scale: int = 1,
        steps: int = 10,
        span: float = 2.0,
    ) -> None:
        super().__init__(nrow, padding, pad_value, scale)
        self.steps, self.span = steps, span

    def traversal(self, run: Run, code: int, steps: int, span: float) -> Tensor:
        """The traversal grid's images from the (EMA) generator (inside ``run.evaluating()``)."""
        generator = run.sampling_model("generator")
        if not 1 <= code <= generator.continuous:
            raise RecipeError(
                f"--code {code} is out of range: the generator has continuous codes "
                f"1-{generator.continuous} (the paper's c2, c3 are --code 1, 2 here)",
                key="generate.code",
            )
        return generator(traversal_latents(generator, code, steps, span, run.device))

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        written = super().write_samples(run, stem)
        generator = run.sampling_model("generator")
        for code in range(1, generator.continuous + 1):
            images = self.traversal(run, code, self.steps, self.span)
            path = stem.with_name(f"{stem.name}-traverse-c{code}").with_suffix(self.suffix)
            written += self.write(images, path, nrow=self.steps)
        return written

    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        traverse: bool = False,
        code: int = 1,
        steps: int | None = None,
        span: float | None = None,
    ) -> list[Path]:
        """``--traverse [--code 1] [--steps 10] [--span 2]``: c1 per row x code per column."""
        if not traverse:
            return super().generate(run, n, out)
        steps = self.steps if steps is None else steps
        with run.evaluating(seed=run.generate_seed):
            images = self.traversal(run, code, steps, self.span if span is None else span)
        return self.write(images, image_path(run, out, self.suffix), nrow=steps)
