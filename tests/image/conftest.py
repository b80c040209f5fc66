"""Fixtures of the image tests: a stand-in for the genmm Run that image trainers step on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from genmm.testing import MiniRun


@pytest.fixture
def stub_run() -> Callable[..., MiniRun]:
    """``stub_run(G, D, losses, images, **phase_keys)``: a :class:`MiniRun` over batches from
    ``images()`` (``batch_size``, ``optimizers``, ``clip_grad_norm``… as the phase keys);
    step it with ``run.step_once(trainer)``, as the loop does."""

    def make(G, D, losses, images: Callable[[], torch.Tensor], **keys: Any) -> MiniRun:
        keys.setdefault("batch_size", int(images().shape[0]))
        return MiniRun(
            {"generator": G, "discriminator": D},
            losses,
            lambda: {"real": images()},
            phase_name="t",
            **keys,
        )

    return make
