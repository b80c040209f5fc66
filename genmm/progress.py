"""Progress of the training loop: a rich bar on a terminal, plain lines elsewhere (docs/cli.md)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import rich.progress
from rich.console import Console

#: seconds between two plain lines when stderr is not a terminal
PLAIN_INTERVAL = 30.0
#: losses shown per line (the first ones the trainer logs)
SHOWN_LOSSES = 4


@dataclass
class Phase:
    name: str
    total: int
    began: float
    first: int
    completed: int
    logs: dict[str, float] = field(default_factory=dict)

    def speed(self, now: float) -> float:
        """Steps per second since the phase started (or resumed)."""
        return (self.completed - self.first) / max(now - self.began, 1e-9)


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
        self.interval, self.last = interval if self.plain else 1.0 / rate, 0.0
        self.phases: dict[Any, Phase] = {}
        self.progress: rich.progress.Progress | None = None
        if not self.plain:
            console = Console(stderr=True) if stream is None else Console(file=stream)
            text = rich.progress.TextColumn
            columns = [text("[bold]{task.description}"), rich.progress.BarColumn()]
            columns += [rich.progress.MofNCompleteColumn(), text("{task.fields[speed]}")]
            columns += [rich.progress.TimeElapsedColumn(), text("ETA")]
            columns += [rich.progress.TimeRemainingColumn(), text("{task.fields[losses]}")]
            self.progress = rich.progress.Progress(*columns, console=console, disable=not enabled)

    def __enter__(self) -> TrainingProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, name: str, total: int, completed: int) -> Any:
        """A phase begins (or resumes at ``completed``); returns its task."""
        self.last = self.clock()
        if self.progress is not None:
            task = self.progress.add_task(
                name, total=total, completed=completed, speed="", losses=""
            )
        else:
            task = len(self.phases)
            self.write(f"{name}: start, step {completed}/{total}")
        self.phases[task] = Phase(name, total, self.last, completed, completed)
        return task

    def update(self, task: Any, completed: int, logs: dict[str, float]) -> None:
        """``completed`` steps of the phase done; ``logs`` the last step's losses."""
        now, phase = self.clock(), self.phases[task]
        phase.completed, phase.logs = completed, dict(logs)
        if now - self.last < self.interval:
            return
        self.last = now
        if self.progress is None:
            self.write(self.line(phase, now))
        else:
            speed = f"{phase.speed(now):.1f} it/s"
            self.progress.update(task, completed=completed, speed=speed, losses=_losses(logs))

    def finish(self, task: Any) -> None:
        phase = self.phases[task]
        phase.completed = phase.total
        if self.progress is not None:
            self.progress.update(task, completed=phase.total)
        else:
            self.write(self.line(phase, self.clock(), done=True))

    def line(self, phase: Phase, now: float, done: bool = False) -> str:
        """``gan: step 1230/6000 (20%), 41.0 steps/s, ETA 1m56s, d_loss=1.21 g_loss=0.734``, or
        ``gan: done, step 6000/6000 in 2m26s, 41.1 steps/s, d_loss=1.19 g_loss=0.802``."""
        speed, steps = phase.speed(now), f"step {phase.completed}/{phase.total}"
        if done:
            parts = [f"{phase.name}: done, {steps} in {_duration(now - phase.began)}"]
            parts.append(f"{speed:.1f} steps/s")
        else:
            share = f" ({100 * phase.completed // phase.total}%)" if phase.total else ""
            eta = _duration((phase.total - phase.completed) / speed) if speed > 0 else "?"
            parts = [f"{phase.name}: {steps}{share}", f"{speed:.1f} steps/s", f"ETA {eta}"]
        return ", ".join(parts + ([_losses(phase.logs)] if phase.logs else []))

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
