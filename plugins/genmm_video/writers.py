"""``video.clips``: generated clips as mp4 (H.264 through PyAV) or gif (Pillow), and png strips
of their frames.

``genmm generate RUN --n 4 -o clips/`` writes ``clips/clip_000.mp4`` … and ``clips/frames.png``
(one row of frames per clip). Options (keyword arguments of :meth:`ClipWriter.generate`):
``--format gif``; ``--grid`` (one tiled clip, ``grid.mp4``); ``--action K`` (a generator with
action categories makes motion K; passed to its forward); ``--swap`` (MoCoGAN's content x
motion grid, ``swap.mp4``: row i keeps sample i's content, column j takes sample j's motion;
passed to the generator's forward). An ``-o`` with a file suffix writes one tiled clip there.
Sample dumps during training write ``step-N.png`` (the strip) and ``step-N.mp4`` (the grid).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from genmm.errors import DataError
from genmm.writers import Writer
from genmm_video.data import import_av, to_uint8

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

Format = Literal["mp4", "gif"]


def tile(clips: Tensor, per_row: int = 0, padding: int = 2) -> Tensor:
    """uint8 clips (N, C, T, H, W) -> one tiled clip (C, T, H', W'), ``per_row`` per row
    (0: square-ish); H' and W' are even (H.264 needs it)."""
    count, channels, frames, height, width = clips.shape
    per_row = per_row or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / per_row))
    out_h = rows * (height + padding) + padding
    out_w = per_row * (width + padding) + padding
    out_h, out_w = out_h + out_h % 2, out_w + out_w % 2
    grid = torch.zeros(channels, frames, out_h, out_w, dtype=torch.uint8)
    for index in range(count):
        row, column = divmod(index, per_row)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[:, :, top : top + height, left : left + width] = clips[index]
    return grid


def strip(clips: Tensor, frames: int = 16, padding: int = 1) -> Tensor:
    """uint8 clips (N, C, T, H, W) -> an image (H', W', 3): one row per clip, up to ``frames``
    frames (evenly spaced) per row."""
    count, channels, length, height, width = clips.shape
    chosen = torch.linspace(0, length - 1, min(frames, length)).round().long()
    picture = torch.zeros(
        3,
        count * (height + padding) + padding,
        len(chosen) * (width + padding) + padding,
        dtype=torch.uint8,
    )
    for row in range(count):
        for column, frame in enumerate(chosen.tolist()):
            top, left = padding + row * (height + padding), padding + column * (width + padding)
            picture[:, top : top + height, left : left + width] = clips[row, :, frame].expand(
                3, -1, -1
            )
    return picture.permute(1, 2, 0).contiguous()


def save_png(picture: Tensor, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.numpy()).save(path)
    return path


def write_mp4(clip: Tensor, path: Path, fps: int = 8) -> Path:
    """uint8 clip (C, T, H, W) -> H.264 mp4 (yuv420p) through PyAV."""
    av = import_av()
    channels, frames, height, width = clip.shape
    if height % 2 or width % 2:  # yuv420p needs even sides
        clip = torch.nn.functional.pad(clip, (0, width % 2, 0, height % 2))
        height, width = clip.shape[-2:]
    rgb = clip.expand(3, -1, -1, -1).permute(1, 2, 3, 0).contiguous().numpy()  # (T, H, W, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18"}
        for frame in rgb:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_gif(clip: Tensor, path: Path, fps: int = 8) -> Path:
    """uint8 clip (C, T, H, W) -> looping gif (Pillow)."""
    from PIL import Image

    frames = clip.expand(3, -1, -1, -1).permute(1, 2, 3, 0).contiguous().numpy()
    images = [Image.fromarray(frame) for frame in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


class ClipWriter(Writer):
    """mp4/gif clips and png frame strips (see the module docstring)."""

    suffix = ".mp4"

    def __init__(self, format: Format = "mp4", fps: int = 8, strip_frames: int = 16) -> None:
        if format not in ("mp4", "gif"):
            raise ValueError(f"format must be 'mp4' or 'gif', got {format!r}")
        self.format, self.fps, self.strip_frames = format, fps, strip_frames

    def save_clip(self, clip: Tensor, path: Path, format: str) -> Path:
        path = path.with_suffix(f".{format}")
        if format == "gif":
            return write_gif(clip, path, self.fps)
        return write_mp4(clip, path, self.fps)

    def write(self, samples: Tensor, path: Path, format: str | None = None) -> list[Path]:
        """Sample dumps and single-file output: ``path``.png (the strip) and the tiled clip."""
        clips = to_uint8(samples.cpu())
        path = Path(path)
        written = [save_png(strip(clips, self.strip_frames), path.with_suffix(".png"))]
        chosen = format or (path.suffix[1:] if path.suffix in (".mp4", ".gif") else self.format)
        try:
            written.append(self.save_clip(tile(clips), path, chosen))
        except DataError:
            if chosen != "mp4":
                raise
            written.append(self.save_clip(tile(clips), path, "gif"))  # no PyAV: keep a gif
        return written

    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        format: Format | None = None,
        grid: bool = False,
        action: int | None = None,
        swap: bool = False,
    ) -> list[Path]:
        """``genmm generate RUN --n N -o FOLDER [--format gif] [--grid] [--action K]
        [--swap]``."""
        chosen = format or self.format
        if chosen not in ("mp4", "gif"):
            raise DataError(f"--format must be mp4 or gif, got {chosen!r}")
        options: dict[str, Any] = {}
        if action is not None:
            options["action"] = int(action)
        if swap:
            options["swap"] = True
        with run.evaluating(seed=run.generate_seed):
            try:
                samples = run.sample(n, **options)
            except TypeError as error:
                raise DataError(f"this run's generator does not take {sorted(options)}: {error}")
            except ValueError as error:
                raise DataError(str(error))
        clips = to_uint8(samples.cpu())
        folder = Path(out) if out is not None else run.out / "generated" / f"step-{run.step:06d}"
        if folder.suffix in (".mp4", ".gif"):  # a file: one tiled clip there
            per_row = n if swap else 0
            folder.parent.mkdir(parents=True, exist_ok=True)
            clip = self.save_clip(tile(clips, per_row), folder, folder.suffix[1:])
            return [clip, save_png(strip(clips, self.strip_frames), folder.with_suffix(".png"))]
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        if swap:
            written.append(self.save_clip(tile(clips, per_row=n), folder / "swap", chosen))
        elif grid:
            written.append(self.save_clip(tile(clips), folder / "grid", chosen))
        else:
            for index, clip in enumerate(clips):
                written.append(self.save_clip(clip, folder / f"clip_{index:03d}", chosen))
        written.append(save_png(strip(clips, self.strip_frames), folder / "frames.png"))
        return written
