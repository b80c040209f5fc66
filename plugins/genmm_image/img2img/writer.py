"""``image.pairs``: what an image-to-image run writes (pix2pix, CycleGAN, SRGAN, inpainting:
the task is the data's description's ``task``).

* Sample dumps: strips of input | output | target for the first ``samples.n`` held-out pairs,
  one pair per row (png).
* ``genmm generate RUN --input sketch.png -o out.png``: the generator's output for one input
  image; ``--input folder/ -o out/`` translates every image of a folder (recursive) into a
  folder, keeping the names. Inputs are resized on their shorter side to the generator's
  training size and centre-cropped (the output has that size). ``--strip`` writes input |
  output instead of the output alone. ``--n`` is not used: one output per input. The
  writer's ``scale`` enlarges the sample dumps only; generated files keep the model's size.
* CycleGAN (``task: unpaired``): sample rows a | G(a) | F(G(a)) [| the B rendering of the same
  scene] and b | F(b) | G(F(b)) [| a]; ``--direction AtoB`` (default, ``generator``) or
  ``BtoA`` (``generator_ba``); ``--strip``: input | output | cycle reconstruction.
* SRGAN (``task: super-resolution``): rows LR (pixels enlarged) | bicubic | output | HR; the
  input is taken at its own size and the output is ``factor`` times larger; ``--strip``:
  bicubic | output.
* Inpainting (``task: inpainting``): rows input (the hole filled as the data's ``fill`` says:
  the mean pixel or the diffusion fill) | completion | target; ``--mask MASK.png`` (white: the
  hole; the image's size) is required, both resized to the network's size as the input, the
  hole filled as in training (the description's ``fill`` and ``mean_pixel``); ``--strip``:
  input | completion.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genmm.errors import DataError, RecipeError
from genmm.writers import Writer
from genmm_image.data import to_float
from genmm_image.img2img.data import (
    fill_hole,
    image_files,
    image_tensor,
    open_image,
    upsample_bicubic,
)
from genmm_image.img2img.metrics import translate
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
        task = run.description.get("task")
        path = stem.with_suffix(self.suffix)
        if task == "unpaired":  # a | G(a) | F(G(a)) [| b of the same scene], then b | F(b) | ...
            count = min(count, len(held_out.inputs), len(held_out.images))
            a, b = held_out.all_inputs()[:count], held_out.all_images()[:count]
            fake_b, fake_a = translate(run, a), translate(run, b, role="generator_ba")
            rows_a = [a, fake_b, translate(run, fake_b, role="generator_ba")]
            rows_b = [b, fake_a, translate(run, fake_a)]
            if getattr(held_out, "paired", False):
                rows_a, rows_b = rows_a + [b], rows_b + [a]
            grid = torch.cat([strips(*rows_a), strips(*rows_b)])
            return self.write(grid, path, len(rows_a))
        inputs = held_out.all_inputs()[:count]
        targets = held_out.all_images()[:count]
        outputs = translate(run, inputs).clamp(-1, 1)
        if task == "super-resolution":  # LR (pixels enlarged) | bicubic | output | target
            factor = int(run.description["factor"])
            low = inputs.repeat_interleave(factor, -1).repeat_interleave(factor, -2)
            bicubic = upsample_bicubic(inputs, factor)
            return self.write(strips(low, bicubic, outputs, targets), path, 4)
        if task == "inpainting":  # the input (hole filled as in training) | completion | target
            channels = targets.shape[1]
            return self.write(strips(inputs[:, :channels], outputs, targets), path, 3)
        return self.write(strips(inputs, outputs, targets), path, 3)

    # ------------------------------------------------------------------ generate
    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        input: str | None = None,  # noqa: A002 - the CLI option --input
        strip: bool = False,
        direction: str | None = None,
        mask: str | None = None,
    ) -> list[Path]:
        """``genmm generate RUN --input IMAGE_OR_FOLDER [-o OUT] [--strip]``; for CycleGAN
        ``--direction AtoB|BtoA``, for inpainting ``--mask MASK.png``."""
        if input is None:
            raise RecipeError(
                "image-to-image generation translates images: give --input IMAGE (or a folder)",
                key="generate.input",
            )
        source = Path(str(input))
        if not source.exists():
            raise DataError(f"--input {source}: no such file or folder")
        task = run.description.get("task")
        role = self._role(task, direction)
        if mask is not None and task != "inpainting":
            raise RecipeError("--mask is for an inpainting run (image.masked data)", key="mask")
        if task == "inpainting" and mask is None:
            raise RecipeError(
                "an inpainting run completes a hole: give --mask MASK.png (white in the hole)",
                key="generate.mask",
            )
        generator = run.sampling_model(role)
        size = int(getattr(generator, "image_size", 0) or run.description.get("image_size", 64))
        channels = int(run.description.get("channels", 3))
        if task not in ("super-resolution", "inpainting"):
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
        hole = None if mask is None else self._mask(Path(str(mask)), size)
        written: list[Path] = []
        with run.evaluating(seed=run.generate_seed):
            for file, target in zip(files, targets):
                image = open_image(file, mode)
                if task == "super-resolution":  # any size: the output is factor x larger
                    width, height = image.size
                    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
                    tensor = pixels.view(height, width, channels).permute(2, 0, 1).clone()
                    condition = to_float(tensor[None])
                else:
                    if hole is not None and image.size != hole[1]:
                        raise DataError(
                            f"--mask {mask} is {hole[1][0]}x{hole[1][1]} but --input {file} "
                            f"is {image.size[0]}x{image.size[1]}: a mask must be the image's size"
                        )
                    condition = to_float(image_tensor(image, size, channels)[None])
                shown = condition
                if task == "inpainting":  # the hole filled as training filled it
                    fill = run.description.get("fill", "mean")  # runs from before the option
                    mean = run.description["mean_pixel"]
                    condition = fill_hole(condition, hole[0][None], fill, mean)
                    shown = condition[:, :channels]
                output = run.sample(1, condition=condition.to(run.device), role=role)
                output = output.float().cpu().clamp(-1, 1)
                if strip:
                    if task == "unpaired":  # input | output | cycle reconstruction
                        back = "generator_ba" if role == "generator" else "generator"
                        again = run.sample(1, condition=output.to(run.device), role=back)
                        row = strips(shown, output, again.float().cpu())
                    elif task == "super-resolution":  # bicubic | output
                        factor = int(run.description["factor"])
                        row = strips(upsample_bicubic(condition, factor), output)
                    else:
                        row = strips(shown, output)
                    written += self.write(row, target, columns=len(row), scale=1)
                else:  # the output at the generator's size
                    written += self.write(output, target, scale=1)
        return written

    @staticmethod
    def _role(task: str | None, direction: str | None) -> str:
        """The generator of ``--direction`` (CycleGAN: AtoB ``generator``, BtoA
        ``generator_ba``); other runs have one generator and take no direction."""
        if direction is None:
            return "generator"
        if task != "unpaired":
            raise RecipeError(
                "--direction is for a CycleGAN run (two generators); this run has one",
                key="direction",
            )
        if direction not in ("AtoB", "BtoA"):
            raise RecipeError(
                f"--direction must be AtoB or BtoA, got {direction!r}", key="direction"
            )
        return "generator" if direction == "AtoB" else "generator_ba"

    @staticmethod
    def _mask(path: Path, size: int) -> tuple[Tensor, tuple[int, int]]:
        """The hole of a mask image (white or any bright pixel: the hole) at the generator's
        size, (1, S, S) in {0, 1}, and the mask's own size."""
        if not path.is_file():
            raise DataError(f"--mask {path}: no such file")
        image = open_image(path, "L")
        hole = (image_tensor(image, size, 1).float() > 127).float()
        if hole.sum() == 0:
            raise DataError(f"--mask {path}: no pixel is white: the mask marks no hole")
        return hole, image.size
