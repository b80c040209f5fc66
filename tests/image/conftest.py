"""Fixtures of the image tests: a stand-in for the genmm Run that image trainers step on."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import torch

from genmm.trainer.ema import EMA


class StubRun:
    """What a trainer touches of a genmm Run, on the CPU; ``images()`` makes each batch."""

    def __init__(self, G, D, losses, images: Callable[[], torch.Tensor]) -> None:
        self.models = {"generator": G, "discriminator": D}
        self.losses, self.images = losses, images
        self.device, self.recipe_file, self.phase_name, self.step = (
            torch.device("cpu"),
            None,
            "t",
            0,
        )
        self.ema: dict[str, EMA] = {}
        self.distributed = False

    def model(self, role):
        return self.models[role]

    def next_batch(self):
        return {"real": self.images()}

    def to_device(self, value):
        return value

    def autocast(self):
        return contextlib.nullcontext()

    def add_ema(self, role, decay, start=0):
        self.ema[role] = EMA(self.models[role], decay, start)
        return self.ema[role]

    def update_ema(self, role):  # a no-op without EMA, as in genmm's Run
        if role in self.ema:
            self.ema[role].update(self.models[role], self.step)


@pytest.fixture
def stub_run():
    """``stub_run(G, D, losses, images)``: a :class:`StubRun` over batches from ``images()``."""
    return StubRun
