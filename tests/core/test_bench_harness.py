"""benchmarks/harness.py, the timing harness of every speed benchmark, on a fake clock."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "harness.py"
spec = importlib.util.spec_from_file_location("harness", PATH)
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_candidates_are_interleaved_after_a_warm_up():
    clock, calls = FakeClock(), []
    durations = {"ours": iter([9.0, 1.0, 2.0, 3.0]), "theirs": iter([9.0, 4.0, 8.0, 6.0])}

    def candidate(name):
        def call():
            calls.append(name)
            clock.now += next(durations[name])

        return call

    stats = harness.interleaved(
        {"ours": candidate("ours"), "theirs": candidate("theirs")}, repeats=3, clock=clock
    )
    # one warm-up call each (its 9 s is not counted), then A B A B A B
    assert calls == ["ours", "theirs"] + ["ours", "theirs"] * 3
    assert stats["ours"]["times"] == [1.0, 2.0, 3.0]
    assert stats["theirs"]["times"] == [4.0, 8.0, 6.0]
    assert (stats["ours"]["median"], stats["ours"]["min"]) == (2.0, 1.0)
    assert (stats["theirs"]["median"], stats["theirs"]["min"]) == (6.0, 4.0)
    assert harness.ratio(stats, "ours", "theirs") == {"speedup_median": 3.0, "speedup_min": 4.0}


def test_report_prints_one_line_with_ratio_target_and_load(capsys, monkeypatch):
    monkeypatch.setattr(harness.os, "getloadavg", lambda: (0.5, 0.4, 0.3))
    stats = {"ours": {"median": 1.0, "min": 0.5, "times": [0.5, 1.0, 1.5]},
             "ref": {"median": 2.0, "min": 2.0, "times": [2.0, 2.0, 3.0]}}  # fmt: skip
    harness.report("step", stats, "ours", "ref", target=1.5)
    line = json.loads(capsys.readouterr().out)
    assert line["figure"] == "step" and line["speedup_median"] == 2.0
    assert line["speedup_min"] == 4.0 and line["repeats"] == 3
    assert line["met"] is True and line["load_average_1min"] == 0.5 and "warning" not in line


def test_a_busy_machine_is_flagged(capsys, monkeypatch):
    monkeypatch.setattr(harness.os, "getloadavg", lambda: (64.0, 1.0, 1.0))
    stats = {name: {"median": 1.0, "min": 1.0, "times": [1.0]} for name in ("a", "b")}
    harness.report("x", stats, "a", "b")
    captured = capsys.readouterr()
    assert "above the" in json.loads(captured.out)["warning"] and "disturbed" in captured.err


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        harness.interleaved({"a": lambda: None}, repeats=0)


def test_flops_are_counted_and_reported_beside_the_times(capsys):
    import torch

    a, b = torch.randn(8, 16, requires_grad=True), torch.randn(16, 4)
    # forward 2*8*16*4 multiply-adds; backward to a: the same product again
    assert harness.gflop(lambda: (a @ b).sum().backward()) == pytest.approx(
        2 * 2 * 8 * 16 * 4 / 1e9
    )
    clock = FakeClock()

    def candidate(n, seconds):
        def call():
            clock.now += seconds
            return torch.randn(n, n) @ torch.randn(n, n)

        return call

    stats = harness.interleaved(
        {"ours": candidate(10, 1.0), "theirs": candidate(20, 4.0)}, repeats=2, clock=clock,
        flops=True,
    )  # fmt: skip
    assert stats["ours"]["gflop"] == pytest.approx(2 * 10**3 / 1e9)
    harness.report("step", stats, "ours", "theirs")
    line = json.loads(capsys.readouterr().out)
    assert line["flop_ratio"] == 8.0 and line["speedup_median"] == 4.0
    assert line["theirs_gflop_per_s"] == pytest.approx(2 * 20**3 / 1e9 / 4.0, abs=0.05)
