"""``t2i.images``: images from sentences, as png grids.

``genmm generate RUN --text 'a big green triangle above a small blue circle' -o out.png
[--n 8] [--attention]`` tokenises the sentence with the vocabulary stored in the checkpoint's
data description (a word outside it becomes ``<unk>``, with a warning naming it; an empty text
is an error), encodes it with the run's trained text encoder and writes ``n`` images of it in
one grid. ``--attention`` also writes ``out_attention.png`` beside it: for each image, the
DAMSM word-region attention (Xu et al. 2018, eq. 9: where the image encoder finds each word)
of every word, drawn over the image with matplotlib (the ``plots`` extra). Sample dumps during
training write a grid with one row per caption of the description's ``sample_captions``
(held-out captions) and the captions in a ``.txt`` beside it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.errors import DataError
from genmm.training import sample_latent
from genmm.writers import Writer, output_path
from genmm_t2i.data import Tokenizer, words_of

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

log = logging.getLogger(__name__)


def to_uint8(images: Tensor) -> Tensor:
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def grid(images: Tensor, per_row: int = 0, padding: int = 2) -> Tensor:
    """float images (N, 3, H, W) in [-1, 1] -> uint8 (H', W', 3)."""
    count, _, height, width = images.shape
    per_row = per_row or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / per_row))
    canvas = torch.full(
        (3, rows * (height + padding) + padding, per_row * (width + padding) + padding),
        255,
        dtype=torch.uint8,
    )
    pixels = to_uint8(images)
    for index in range(count):
        row, column = divmod(index, per_row)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        canvas[:, top : top + height, left : left + width] = pixels[index]
    return canvas.permute(1, 2, 0).contiguous()


def save_png(picture: Tensor, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.numpy()).save(path)
    return path


def encode_sentences(run: Run, sentences: list[str], warn: bool = True) -> dict[str, Tensor]:
    """Sentences -> the run's text encoder features (inside ``run.evaluating()``)."""
    tokenizer = Tokenizer.from_description(run.description)
    rows = []
    for sentence in sentences:
        if not words_of(sentence or ""):
            raise DataError(
                f"--text {sentence!r}: the caption is empty; give a sentence such as "
                "'a big green triangle above a small blue circle'"
            )
        tokens, unknown = tokenizer.encode(sentence)
        if unknown and warn:
            log.warning(
                "words not in the vocabulary, read as <unk>: %s (the vocabulary: %s)",
                ", ".join(repr(w) for w in unknown),
                " ".join(tokenizer.vocabulary[2:]),
            )
        rows.append(tokens)
    encoder = run.models["text_encoder"]
    return encoder(run.to_device(torch.stack(rows)))


def repeat_text(text: dict[str, Tensor], n: int) -> dict[str, Tensor]:
    return {k: v.repeat_interleave(n, 0) for k, v in text.items()}


def sample_images(run: Run, n: int, text: dict[str, Tensor]) -> Tensor:
    """``n`` images (B, 3, S, S) of ``text`` from the sampling generator: the last stage's of a
    multi-stage generator (AttnGAN's ``images``)."""
    samples = run.sample(n, condition=text)
    unpack = getattr(run.sampling_model(), "images", None)
    return unpack(samples) if callable(unpack) else samples


class ImageWriter(Writer):
    """png grids of images from captions (see the module docstring)."""

    suffix = ".png"

    def __init__(self, per_caption: int = 4, description: dict[str, Any] | None = None) -> None:
        self.per_caption = per_caption
        self.sample_captions = list((description or {}).get("sample_captions", []))

    def write(self, samples: Tensor, path: Path, per_row: int = 0) -> list[Path]:
        path = Path(path)
        return [save_png(grid(samples, per_row), path.with_suffix(".png"))]

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        captions = self.sample_captions[: max(1, run.recipe["samples"]["n"] // self.per_caption)]
        if not captions:
            return []
        text = repeat_text(encode_sentences(run, captions, warn=False), self.per_caption)
        samples = sample_images(run, len(captions) * self.per_caption, text)
        written = self.write(samples, stem, per_row=self.per_caption)
        caption_file = stem.with_suffix(".txt")
        caption_file.write_text("".join(f"{c}\n" for c in captions), encoding="utf-8")
        return written + [caption_file]

    def generate(
        self, run: Run, n: int, out: Path | None, text: str | None = None, attention: bool = False
    ) -> list[Path]:
        """``genmm generate RUN --text "..." [--n N] [-o out.png] [--attention]``."""
        if text is None:
            raise DataError("give the sentence to draw: --text 'a small red circle'")
        path = output_path(run, out, self.suffix)
        with run.evaluating(seed=run.generate_seed):
            features = repeat_text(encode_sentences(run, [str(text)]), n)
            generator = run.sampling_model()
            if attention and callable(getattr(generator, "attention_maps", None)):
                latent = sample_latent(generator, n, run.device)
                images, stages = generator.attention_maps(latent, features)
            else:
                images, stages = sample_images(run, n, features), []
            written = self.write(images, path)
            if attention:
                written.append(self.write_attention(run, images, str(text), path, stages))
        return written

    def write_attention(
        self, run: Run, images: Tensor, text: str, path: Path, stages: list | None = None
    ) -> Path:
        """One labelled png: for each shown image, each attention stage of the generator
        (AttnGAN: a softmax over the words at each sub-region, eq. 2) and the DAMSM
        word-region attention (eq. 9) of every word, drawn over the image."""
        from genmm_t2i.damsm import word_attention

        if "image_encoder" not in run.models:
            raise DataError(
                "--attention needs the run's DAMSM image encoder (models.image_encoder)"
            )
        tokenizer = Tokenizer.from_description(run.description)
        tokens, _ = tokenizer.encode(text)
        count = int((tokens != 0).sum())
        words = [tokenizer.vocabulary[int(i)] for i in tokens[:count]]
        shown = images[: min(4, len(images))]
        features = encode_sentences(run, [text], warn=False)
        regions, _ = run.models["image_encoder"](shown)
        side = regions.shape[-1]
        _, alpha, _ = word_attention(features["words"], regions.flatten(2), features["mask"])
        rows = [(name, maps[: len(shown), :count].cpu()) for name, maps in stages or []]
        rows.append(("DAMSM", alpha[:, 0, :count].reshape(len(shown), count, side, side).cpu()))
        return plot_attention(
            to_uint8(shown), rows, words, text, path.with_name(f"{path.stem}_attention.png")
        )


def plot_attention(
    images: Tensor, rows: list[tuple[str, Tensor]], words: list[str], text: str, path: Path
) -> Path:
    """uint8 images (N, 3, H, W) and named attention maps [(stage, (N, T, r, r))] -> one png:
    a row per image and stage, the image then one panel per word with its map over the image,
    a colour scale per row (the maps of a stage sum to one over words, DAMSM's over regions)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DataError("--attention draws with matplotlib: pip install 'genmm[plots]'")
    count, columns = images.shape[0], len(words) + 1
    lines = [(index, name, maps) for index in range(count) for name, maps in rows]
    figure, axes = plt.subplots(
        len(lines), columns, figsize=(1.5 * columns + 1.5, 1.6 * len(lines) + 0.8), squeeze=False
    )
    height, width = images.shape[-2:]
    for line, (index, name, maps) in enumerate(lines):
        picture = images[index].permute(1, 2, 0).numpy()
        axes[line, 0].imshow(picture)
        axes[line, 0].set_ylabel(f"sample {index}\n{name}", fontsize=7)
        upper, shown = float(maps[index].max()), None
        for column, word in enumerate(words, 1):
            axis = axes[line, column]
            axis.imshow(picture, alpha=0.5)
            shown = axis.imshow(
                maps[index, column - 1].numpy(),
                cmap="inferno",
                alpha=0.6,
                vmin=0.0,
                vmax=upper,
                extent=(-0.5, width - 0.5, height - 0.5, -0.5),
                interpolation="bilinear",
            )
            if line == 0:
                axis.set_title(word, fontsize=9)
        if shown is not None:
            bar = figure.colorbar(shown, ax=axes[line].tolist(), shrink=0.9, pad=0.01)
            bar.ax.tick_params(labelsize=6)
            bar.set_label("weight", fontsize=6)
    axes[0, 0].set_title("image", fontsize=9)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    for axis in axes[-1]:
        axis.set_xlabel("x (pixels)", fontsize=7)
    figure.suptitle(f"word attention over image regions: '{text}'", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
