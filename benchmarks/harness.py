"""The timing harness every speed benchmark uses: ours and the reference interleaved.

``interleaved({"ours": f, "reference": g}, repeats=7)`` warms each callable up, then calls them
in turn (A B A B ...) ``repeats`` times, so a change in the machine's load touches both alike,
and returns the median and minimum wall time of each, the ratio of medians and minima, and
the 1-minute load average (with a warning when it is above the core count: the figures are
then not to be trusted). No reference time is ever written down: a ratio measured in the same
run is the only figure that holds from one machine to the next.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Collection
from typing import Any


def emit(**figure: Any) -> None:
    """Print one figure as a JSON line, with the machine's load beside it."""
    figure.setdefault("load_average_1min", round(os.getloadavg()[0], 2))
    print(json.dumps(figure), flush=True)


def load_warning() -> str | None:
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores:
        return f"load average {load:.2f} is above the {cores} cores: timings are disturbed"
    return None


def interleaved(
    candidates: dict[str, Callable[[], Any]],
    *,
    repeats: int = 7,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    flops: bool | Collection[str] = False,
) -> dict[str, dict[str, float]]:
    """Wall time of each candidate, called in turn ``repeats`` times after ``warmup`` calls
    each: ``{name: {"median": s, "min": s, "times": [...]}}``. With ``flops`` (true, or the
    names to count: a torch.compile'd candidate is better left out), one extra call of each is
    counted by :func:`gflop` (``"gflop"``): a ratio of times beside a ratio of work says whether
    a speed-up is less work or faster work."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    counted = candidates if flops is True else (flops or ())
    work = {name: gflop(candidates[name]) for name in counted}
    for function in candidates.values():
        for _ in range(warmup):
            function()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            started = clock()
            function()
            times[name].append(clock() - started)
    stats = {
        name: {"median": statistics.median(values), "min": min(values), "times": values}
        for name, values in times.items()
    }
    for name, value in work.items():
        stats[name]["gflop"] = value
    return stats


def gflop(function: Callable[[], Any]) -> float:
    """The floating-point operations of one call of ``function``, in 10^9, as
    ``torch.utils.flop_counter`` counts them (matrix products and convolutions, forward and
    backward: the work that bounds a step on a CPU)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops() / 1e9


def precision_levers(
    candidates: dict[str, Callable[[], Any]], run: Any, reference: str
) -> dict[str, Callable[[], Any]]:
    """With ``run`` (ours: a Run or MiniRun) at bf16, add ``ours_fp32`` (the same run with its
    autocast off) and ``<reference>_bf16`` (the reference under the same CPU bf16 autocast), so
    that :func:`report_levers` can attribute a speed-up to the precision or to the rest."""
    if run.optimization.precision != "bf16":
        return candidates
    import torch

    def ours_fp32() -> Any:
        run.optimization.precision = "fp32"
        try:
            return candidates["ours"]()
        finally:
            run.optimization.precision = "bf16"

    def reference_bf16(function: Callable[[], Any] = candidates[reference]) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return function()

    return {**candidates, "ours_fp32": ours_fp32, f"{reference}_bf16": reference_bf16}


def report_levers(
    figure: str, stats: dict, reference: str, target: float | None, **extra: Any
) -> None:
    """``figure``: ours as the recipe runs it against the reference as its authors run it (the
    target); with the bf16 candidates of :func:`precision_levers`, also ``figure_same_precision``
    (against the reference at bf16) and ``figure_fp32`` (ours at fp32 against the reference)."""
    report(figure, stats, "ours", reference, target, **extra)
    if "ours_fp32" in stats:
        report(f"{figure}_same_precision", stats, "ours", f"{reference}_bf16", **extra)
        report(f"{figure}_fp32", stats, "ours_fp32", reference, **extra)


def ratio(stats: dict[str, dict[str, float]], ours: str, reference: str) -> dict[str, float]:
    """How many times faster ``ours`` is than ``reference``, by medians and by minima."""
    return {
        "speedup_median": stats[reference]["median"] / stats[ours]["median"],
        "speedup_min": stats[reference]["min"] / stats[ours]["min"],
    }


def report(
    figure: str,
    stats: dict[str, dict[str, float]],
    ours: str,
    reference: str,
    target: float | None = None,
    **extra: Any,
) -> None:
    """One JSON line: both candidates' median and minimum, the ratios, the target, the load."""
    speedups = ratio(stats, ours, reference)
    line: dict[str, Any] = {"figure": figure}
    for name in (ours, reference):
        line[f"{name}_median_s"] = round(stats[name]["median"], 4)
        line[f"{name}_min_s"] = round(stats[name]["min"], 4)
    line.update({key: round(value, 3) for key, value in speedups.items()})
    if "gflop" in stats[ours] and "gflop" in stats[reference]:
        for name in (ours, reference):
            line[f"{name}_gflop"] = round(stats[name]["gflop"], 2)
            line[f"{name}_gflop_per_s"] = round(stats[name]["gflop"] / stats[name]["median"], 1)
        line["flop_ratio"] = round(stats[reference]["gflop"] / max(stats[ours]["gflop"], 1e-12), 3)
    line["repeats"] = len(stats[ours]["times"])
    if target is not None:
        line["target"] = f">= {target}x"
        line["met"] = speedups["speedup_median"] >= target
    warning = load_warning()
    if warning:
        line["warning"] = warning
        print(warning, file=sys.stderr)
    emit(**line, **extra)
