"""Progress of the training loop: step, steps/s, ETA and the last losses.

On a terminal, a rich bar per phase. When stderr is not a terminal (``nohup``, CI, ``| tee``,
a log file) a bar would show nothing until the run ends, so plain lines are written instead:
one at each phase's start and end, and one every ``interval`` seconds (30) in between::

    [genmm] gan: start, step 0/6000
    [genmm] gan: step 1230/6000 (20%), 41.0 steps/s, ETA 1m56s, d_loss=1.21 g_loss=0.734
    [genmm] gan: done, step 6000/6000 in 2m26s, 41.1 steps/s, d_loss=1.19 g_loss=0.802
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: seconds between two plain lines when stderr is not a terminal
PLAIN_INTERVAL = 30.0
#: losses shown per line (the first ones the trainer logs)
SHOWN_LOSSES = 4


class TrainingProgress:
    """One bar per phase on a terminal, refreshed at most ``rate`` times a second; plain lines
    every ``interval`` seconds elsewhere. ``stream`` (stderr) and ``clock`` are for tests."""

    def __init__(
        self,
        enabled: bool = True,
        rate: float = 5.0,
        *,
        stream: TextIO | None = None,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled, self.plain, self.clock = enabled, not _is_terminal(self.stream), clock
        self.interval, self.plain_interval, self.last = 1.0 / rate, interval, 0.0
        self.started: dict[Any, tuple[float, int]] = {}
        self.totals: dict[Any, int] = {}
        self.names: dict[Any, str] = {}
        self.state: dict[Any, tuple[int, dict[str, float]]] = {}
        self.progress: Progress | None = None
        if not self.plain:
            console = Console(stderr=True) if stream is None else Console(file=stream)
            columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
            columns += [TextColumn("{task.fields[speed]}"), TimeElapsedColumn(), TextColumn("ETA")]
            columns += [TimeRemainingColumn(), TextColumn("{task.fields[losses]}")]
            self.progress = Progress(
                *columns, console=console, disable=not enabled, transient=False
            )

    def __enter__(self) -> TrainingProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, name: str, total: int, completed: int) -> Any:
        """A phase begins (or resumes at ``completed``); returns its task."""
        now = self.clock()
        if self.progress is not None:
            task = self.progress.add_task(
                name, total=total, completed=completed, speed="", losses=""
            )
        else:
            task = len(self.names)
            self.last = now
            self.write(f"{name}: start, step {completed}/{total}")
        self.started[task], self.totals[task] = (now, completed), total
        self.names[task], self.state[task] = name, (completed, {})
        return task

    def update(self, task: Any, completed: int, logs: dict[str, float]) -> None:
        """``completed`` steps of the phase done; ``logs`` the last step's losses."""
        now = self.clock()
        self.state[task] = (completed, dict(logs))
        if self.progress is None:
            if now - self.last >= self.plain_interval:
                self.last = now
                self.write(self.line(task, now))
            return
        if now - self.last < self.interval:
            return
        self.last = now
        speed = f"{self.speed(task, completed, now):.1f} it/s"
        self.progress.update(task, completed=completed, speed=speed, losses=_losses(logs))

    def finish(self, task: Any) -> None:
        """The phase ran to its end."""
        total = self.totals[task]
        if self.progress is not None:
            self.progress.update(task, completed=total)
            return
        now, (began, _) = self.clock(), self.started[task]
        logs = self.state[task][1]
        done = f"{self.names[task]}: done, step {total}/{total} in {_duration(now - began)}"
        parts = [done, f"{self.speed(task, total, now):.1f} steps/s"]
        self.write(", ".join(parts + ([_losses(logs)] if logs else [])))

    def speed(self, task: Any, completed: int, now: float) -> float:
        """Steps per second since the phase started (or resumed)."""
        began, first = self.started[task]
        return (completed - first) / max(now - began, 1e-9)

    def line(self, task: Any, now: float) -> str:
        """``gan: step 1230/6000 (20%), 41.0 steps/s, ETA 1m56s, d_loss=1.21 g_loss=0.734``"""
        (completed, logs), total = self.state[task], self.totals[task]
        speed = self.speed(task, completed, now)
        share = f" ({100 * completed // total}%)" if total else ""
        eta = _duration((total - completed) / speed) if speed > 0 else "?"
        parts = [f"{self.names[task]}: step {completed}/{total}{share}", f"{speed:.1f} steps/s"]
        parts.append(f"ETA {eta}")
        return ", ".join(parts + ([_losses(logs)] if logs else []))

    def write(self, line: str) -> None:
        if self.enabled:
            self.stream.write(f"[genmm] {line}\n")
            self.stream.flush()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _losses(logs: dict[str, float]) -> str:
    return " ".join(f"{key}={value:.3g}" for key, value in list(logs.items())[:SHOWN_LOSSES])


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
