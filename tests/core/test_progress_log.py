"""Progress when stderr is not a terminal: plain lines at each phase's start and end, and every
``interval`` seconds between (a fake clock here; no real waits)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from genmm.progress import TrainingProgress, _duration

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_plain_lines_at_start_every_interval_and_end():
    stream, clock = io.StringIO(), Clock()
    with TrainingProgress(stream=stream, interval=30.0, clock=clock) as progress:
        task = progress.start("gan", 1000, 0)
        assert lines(stream) == ["[genmm] gan: start, step 0/1000"]
        for step in range(10, 1001, 10):  # 10 steps a second, an update per 10 steps
            clock.now += 1.0
            progress.update(task, step, {"d_loss": 1.23456, "g_loss": 0.5})
        progress.finish(task)
    written = lines(stream)
    # start, one line per 30 s of the 100 s, done
    assert len(written) == 1 + 3 + 1, written
    assert written[1] == (
        "[genmm] gan: step 300/1000 (30%), 10.0 steps/s, ETA 1m10s, d_loss=1.23 g_loss=0.5"
    )
    assert written[-1] == (
        "[genmm] gan: done, step 1000/1000 in 1m40s, 10.0 steps/s, d_loss=1.23 g_loss=0.5"
    )


def test_a_resumed_phase_counts_speed_from_where_it_resumed():
    stream, clock = io.StringIO(), Clock()
    progress = TrainingProgress(stream=stream, interval=5.0, clock=clock)
    task = progress.start("mle", 200, 100)
    clock.now += 10.0
    progress.update(task, 150, {})
    assert lines(stream) == [
        "[genmm] mle: start, step 100/200",
        "[genmm] mle: step 150/200 (75%), 5.0 steps/s, ETA 10s",
    ]


def test_phases_each_get_their_own_lines():
    stream, clock = io.StringIO(), Clock()
    progress = TrainingProgress(stream=stream, clock=clock)
    for name in ("a", "b"):
        task = progress.start(name, 3, 0)
        clock.now += 2.0
        progress.update(task, 3, {"loss": 2.0})
        progress.finish(task)
    assert [re.sub(r" in .*", "", line) for line in lines(stream)] == [
        "[genmm] a: start, step 0/3",
        "[genmm] a: done, step 3/3",
        "[genmm] b: start, step 0/3",
        "[genmm] b: done, step 3/3",
    ]


def test_disabled_writes_nothing():
    stream = io.StringIO()
    progress = TrainingProgress(enabled=False, stream=stream, clock=Clock())
    progress.finish(progress.start("gan", 3, 0))
    assert stream.getvalue() == ""


def test_a_terminal_gets_the_rich_bar():
    stream = Terminal()
    progress = TrainingProgress(stream=stream, clock=Clock())
    assert progress.progress is not None and not progress.plain
    assert TrainingProgress(stream=io.StringIO()).progress is None


def test_durations():
    assert [_duration(s) for s in (0, 42.4, 185, 7620, -3)] == ["0s", "42s", "3m05s", "2h07m", "0s"]


def test_genmm_run_with_stderr_a_pipe_writes_start_and_end_lines(cli, tmp_path):
    """The real CLI, stderr a pipe (as under nohup or ``| tee``): the lines are in the log."""
    result = cli(
        "run",
        str(ROOT / "recipes" / "toy_ring.yaml"),
        "--max-steps",
        "3",
        "--out",
        str(tmp_path / "run"),
        "phases.gan.batch_size=16",
        "samples.n=16",
        "runtime.device=cpu",
        "runtime.threads=1",
        "runtime.log_every=1",
        env={"OMP_NUM_THREADS": "1"},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "[genmm] gan: start, step 0/3" in result.stderr
    assert re.search(r"\[genmm\] gan: done, step 3/3 in \d+s, [\d.]+ steps/s, \w+=", result.stderr)
