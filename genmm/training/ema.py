"""Exponential moving average of a model's weights (e.g. the generator, Karras et al.)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * model`` after each update."""

    def __init__(self, model: nn.Module, decay: float = 0.999, start: int = 0) -> None:
        self.decay = decay
        self.start = start
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = 0.0 if step < self.start else self.decay
        shadows = list(self.shadow.parameters())
        if shadows:  # one fused kernel per dtype/device instead of one per tensor
            torch._foreach_lerp_(shadows, [p.detach() for p in model.parameters()], 1.0 - decay)
        for shadow, live in zip(self.shadow.buffers(), model.buffers()):
            shadow.copy_(live)
