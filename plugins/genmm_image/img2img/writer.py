"""``image.pairs``: what an image-to-image run writes.

* Sample dumps: strips of input | output | target for the first ``samples.n`` held-out pairs,
  one pair per row (png).
* ``genmm generate RUN --input sketch.png -o out.png``: the generator's output for one input
  image; ``--input folder/ -o out/`` translates every image of a folder (recursive) into a
  folder, keeping the names. Inputs are resized on their shorter side to the generator's
  training size and centre-cropped (the output has that size). ``--strip`` writes input |
  output instead of the output alone. ``--n`` is not used: one output per input. The
  writer's ``scale`` enlarges the sample dumps only; generated files keep the model's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genmm.errors import DataError, RecipeError
from genmm.writers import Writer
from genmm_image.data import to_float
from genmm_image.img2img.data import image_files, image_tensor, open_image
from genmm_image.writers import IMAGE_SUFFIXES, make_grid, save_image

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


def as_rgb(images: Tensor) -> Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def strips(*columns: Tensor) -> Tensor:
    """Images (N, C, H, W) of each column, interleaved row by row: input | output | target."""
    columns = tuple(as_rgb(c.detach().float().cpu()) for c in columns)
    return torch.stack(columns, 1).flatten(0, 1)


class PairStripWriter(Writer):
    """PNG strips input | output | target (each image scaled up ``scale`` times)."""

    suffix = ".png"

    def __init__(self, scale: int = 1, padding: int = 2, pad_value: int = 255) -> None:
        if scale < 1 or padding < 0:
            raise ValueError("scale must be >= 1 and padding >= 0")
        self.scale, self.padding, self.pad_value = scale, padding, pad_value

    def write(
        self, samples: Tensor, path: Path, columns: int = 1, scale: int | None = None
    ) -> list[Path]:
        """Images (N, C, H, W) in [-1, 1], ``columns`` per row, as one png, scaled up ``scale``
        times (default: the writer's ``scale``)."""
        scale = self.scale if scale is None else scale
        path = Path(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            path = path.with_suffix(self.suffix)
        images = samples.detach().float().cpu()
        if scale > 1:
            images = images.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
        grid = make_grid(images, columns, self.padding if columns > 1 else 0, self.pad_value)
        return [save_image(grid, path)]

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        held_out = run.dataset.held_out_set()
        if len(held_out) == 0:  # no held-out pairs: the training pairs
            held_out = run.dataset
        count = min(run.recipe["samples"]["n"], len(held_out))
        inputs = held_out.all_inputs()[:count]
        targets = held_out.all_images()[:count]
        outputs = run.sample(count, condition=inputs.to(run.device))
        return self.write(strips(inputs, outputs, targets), stem.with_suffix(self.suffix), 3)

    # ------------------------------------------------------------------ generate
    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        input: str | None = None,  # noqa: A002 - the CLI option --input
        strip: bool = False,
    ) -> list[Path]:
        """``genmm generate RUN --input IMAGE_OR_FOLDER [-o OUT] [--strip]``."""
        if input is None:
            raise RecipeError(
                "image-to-image generation translates images: give --input IMAGE (or a folder)",
                key="generate.input",
            )
        source = Path(str(input))
        if not source.exists():
            raise DataError(f"--input {source}: no such file or folder")
        generator = run.sampling_model("generator")
        size = int(getattr(generator, "image_size", 0) or run.description.get("image_size", 64))
        channels = int(
            getattr(generator, "in_channels", 0) or run.description.get("input_channels", 3)
        )
        mode = "RGB" if channels == 3 else "L"
        if source.is_dir():
            files = image_files(source)
            if not files:
                raise DataError(f"--input {source}: the folder holds no images")
            folder = Path(out) if out is not None else run.out / "generated" / source.name
            targets = [folder / f.relative_to(source).with_suffix(self.suffix) for f in files]
        else:
            files = [source]
            if out is None:
                targets = [run.out / "generated" / f"{source.stem}{self.suffix}"]
            elif Path(out).suffix.lower() in IMAGE_SUFFIXES:
                targets = [Path(out)]
            else:
                targets = [Path(out) / f"{source.stem}{self.suffix}"]
        written: list[Path] = []
        with run.evaluating(seed=run.generate_seed):
            for start in range(0, len(files), 32):
                chunk = files[start : start + 32]
                images = torch.stack(
                    [image_tensor(open_image(f, mode), size, channels) for f in chunk]
                )
                inputs = to_float(images)
                outputs = run.sample(len(inputs), condition=inputs.to(run.device)).float().cpu()
                for index, target in enumerate(targets[start : start + 32]):
                    if strip:
                        row = strips(inputs[index : index + 1], outputs[index : index + 1])
                        written += self.write(row, target, columns=2, scale=1)
                    else:  # the output at the generator's size
                        written += self.write(outputs[index : index + 1], target, scale=1)
        return written
