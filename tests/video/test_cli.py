"""Clips written and read back; a tiny MoCoGAN run through the real CLI; generate from the
checkpoint alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from genmm_video.writers import ClipWriter, strip, tile

av = pytest.importorskip("av")


def decode(path: Path) -> list:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_mp4_decodes_back_to_16_frames(tmp_path: Path):
    clips = torch.rand(2, 3, 16, 32, 32) * 2 - 1
    written = ClipWriter().write(clips, tmp_path / "sample.mp4")
    frames = decode(tmp_path / "sample.mp4")
    assert len(frames) == 16
    assert frames[0].shape == tile(torch.zeros(2, 3, 16, 32, 32, dtype=torch.uint8)).shape[2:] + (
        3,
    )
    assert tmp_path / "sample.png" in written
    assert Image.open(tmp_path / "sample.png").size == (16 * 33 + 1, 2 * 33 + 1)


def test_gif_writing(tmp_path: Path):
    clips = torch.rand(1, 1, 16, 16, 16) * 2 - 1
    path = ClipWriter(format="gif").write(clips, tmp_path / "sample")[1]
    assert path.suffix == ".gif"
    image = Image.open(path)
    assert image.n_frames == 16


def test_strip_rows_and_columns():
    clips = torch.zeros(3, 3, 8, 10, 10, dtype=torch.uint8)
    assert strip(clips, frames=4).shape == (3 * 11 + 1, 4 * 11 + 1, 3)


def run_cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """The real CLI, run from ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "genmm.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=timeout,
    )


def test_tiny_run_writes_clips_and_generates_without_data(tmp_path: Path, tiny_mocogan):
    recipe = tiny_mocogan(steps=2)
    done = run_cli("run", str(recipe), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "run"
    assert len(decode(run / "samples" / "step-000002.mp4")) == 16
    assert (run / "samples" / "step-000002.png").exists()

    clips = tmp_path / "clips"
    done = run_cli(
        "generate", str(run), "--n", "2", "-o", str(clips), "--action", "1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frames = decode(clips / "clip_000.mp4")
    assert len(frames) == 16 and frames[0].shape == (16, 16, 3)
    assert (clips / "clip_001.mp4").exists() and (clips / "frames.png").exists()

    done = run_cli(
        "generate",
        str(run),
        "--n",
        "2",
        "-o",
        str(tmp_path / "g"),
        "--swap",
        "--format",
        "gif",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert Image.open(tmp_path / "g" / "swap.gif").n_frames == 16

    done = run_cli("generate", str(run), "--n", "2", "--action", "9", cwd=tmp_path)
    assert done.returncode != 0 and "action must lie in [0, 6)" in done.stderr


def test_shipped_recipes_load(manager):
    from genmm.api import resolve

    for name in ("video_mocogan", "video_tgan"):
        resolved, _ = resolve(name, [], manager=manager)
        assert resolved["writer"]["name"] == "video.clips"
