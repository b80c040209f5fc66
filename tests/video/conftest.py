"""Fixtures of the video plugin's tests: the plugin loaded in this process, tiny recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_MOCOGAN = """\
description: tiny MoCoGAN run for tests
base: {base}
out: {out}
data: {{name: video.moving_shapes, count: 48, frames: 16, size: 16, conditional: true}}
models:
  generator: {{name: video.mocogan_generator, width: 8}}
  discriminator: {{name: video.mocogan_discriminator, width: 8}}
losses:
  adversarial: {{name: core.nonsaturating}}
phases:
  gan: {{trainer: video.mocogan, max_steps: {steps}, batch_size: 4, video_batch: 2}}
eval: {{every: 0, metrics: []}}
samples: {{every: {steps}, n: 2}}
writer: {{name: video.clips}}
checkpoint: {{every: {steps}, keep: 1}}
runtime: {{progress: false, log_every: 1, threads: 1}}
"""


@pytest.fixture
def manager():
    """The process-wide plugin manager; the video plugin loads through its entry point."""
    from genmm.plugins import get_manager

    manager = get_manager()
    assert "video" in manager.infos and not manager.infos["video"].error
    return manager


@pytest.fixture
def tiny_mocogan(tmp_path: Path):
    def make(steps: int = 2) -> Path:
        root = Path(__file__).resolve().parents[2]
        path = tmp_path / "tiny_mocogan.yaml"
        path.write_text(
            TINY_MOCOGAN.format(
                base=root / "genmm" / "recipes" / "base" / "adversarial.yaml",
                out=tmp_path / "run",
                steps=steps,
            ),
            encoding="utf-8",
        )
        return path

    return make
