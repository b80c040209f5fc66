from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A moving average of a model: ``shadow = decay * shadow + (1 - decay) * model``."""

    def __init__(self, model: nn.Module, decay: float = 0.999, start: int = 0) -> None:
        self.decay, self.start = decay, start
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self._pairs: tuple[nn.Module, list, list, list] | None = None

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = 0.0 if step < self.start else self.decay
        if self._pairs is None or self._pairs[0] is not model:  # the tensors, listed once
            live = [p.detach() for p in model.parameters()]
            buffers = list(zip(self.shadow.buffers(), model.buffers()))
            self._pairs = (model, list(self.shadow.parameters()), live, buffers)
        _, shadows, live, buffers = self._pairs
        if shadows:  # one fused kernel per dtype/device instead of one per tensor
            torch._foreach_lerp_(shadows, live, 1.0 - decay)
        for shadow, value in buffers:
            shadow.copy_(value)
