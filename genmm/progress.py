"""A rich progress bar for the training loop: step, steps/s, ETA and the last losses."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingProgress:
    """One bar per phase; refreshed at most ``rate`` times a second."""

    def __init__(self, enabled: bool = True, rate: float = 5.0) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self.interval = 1.0 / rate
        self.last = 0.0
        self.started: dict[Any, tuple[float, int]] = {}
        self.totals: dict[Any, int] = {}

    def __enter__(self) -> TrainingProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def start(self, name: str, total: int, completed: int) -> Any:
        task = self.progress.add_task(name, total=total, completed=completed, speed="", losses="")
        self.started[task] = (time.perf_counter(), completed)
        self.totals[task] = total
        return task

    def update(self, task: Any, completed: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        if now - self.last < self.interval:
            return
        self.last = now
        began, first = self.started[task]
        speed = (completed - first) / max(now - began, 1e-9)
        losses = " ".join(f"{k}={v:.3g}" for k, v in list(logs.items())[:4])
        self.progress.update(task, completed=completed, speed=f"{speed:.1f} it/s", losses=losses)

    def finish(self, task: Any) -> None:
        self.progress.update(task, completed=self.totals[task])
