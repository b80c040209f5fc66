"""Deterministic, resumable batches: epoch ``e``'s order is drawn from ``seed + e``."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import default_collate

from genmm.errors import DataError


class BatchStream:
    """Endless batches of ``batch_size`` items, shuffled per epoch, resumable by position."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        seed: int,
        name: str = "data",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        try:
            size = len(dataset)
        except TypeError:
            raise DataError(f"{name}: the dataset has no length (a map-style dataset is expected)")
        if size == 0:
            raise DataError(f"{name}: the dataset is empty")
        self.dataset, self.size, self.batch_size, self.seed = dataset, size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.index, self._order = 0, 0, None
        collate = getattr(dataset, "collate", None)
        self.collate = collate if callable(collate) else default_collate

    @property
    def steps_per_epoch(self) -> int:
        return max(1, -(-self.size // (self.batch_size * self.world_size)))

    def next(self) -> Any:
        """The next batch; under data parallelism, this process's slice of the global batch."""
        wanted, indices = self.batch_size * self.world_size, []
        while len(indices) < wanted:  # at an epoch's end, fill the batch from the next epoch
            if self._order is None:
                generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
                self._order = torch.randperm(self.size, generator=generator)
            taken = self._order[self.index : self.index + wanted - len(indices)].tolist()
            indices += taken
            self.index += len(taken)
            if self.index >= self.size:
                self.epoch, self.index, self._order = self.epoch + 1, 0, None
        indices = indices[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        getitem = getattr(self.dataset, "get_batch", None)
        if callable(getitem):
            return getitem(indices)
        return self.collate([self.dataset[i] for i in indices])

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index, self._order = int(state["epoch"]), int(state["index"]), None
