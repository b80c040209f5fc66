"""Fixtures of the image tests: a stand-in for the genmm Run that image trainers step on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from genmm.testing import MiniRun


@pytest.fixture
def stub_run() -> Callable[..., MiniRun]:
    """``stub_run(G, D, losses, images)``: a :class:`MiniRun` over batches from ``images()``."""

    def make(G, D, losses, images: Callable[[], torch.Tensor]) -> MiniRun:
        return MiniRun(
            {"generator": G, "discriminator": D}, losses, lambda: {"real": images()}, phase_name="t"
        )

    return make
