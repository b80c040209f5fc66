"""The core's end-to-end proof, as a benchmark; one JSON line per figure.

    python benchmarks/bench_toy.py            # recipes/toy_ring.yaml at its defaults
    python benchmarks/bench_toy.py toy_grid   # any toy recipe
    python benchmarks/bench_toy.py toy_ring runtime.threads=1   # recipe overrides after the name

Trains the shipped recipe at its default settings through the real CLI (``genmm run``, into a
temporary folder), then prints the last evaluation of ``toy.modes`` (modes covered and the
percentage of high-quality samples, within 3 sigma of a mode), the wall time, and whether the
issue's target holds (ring: 8/8 modes and >= 90 % high quality). About a minute on a quiet
2-core CPU; ``tests/core/test_toy_quality.py`` runs it and checks the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(name: str = "toy_ring", *overrides: str) -> None:
    recipe = ROOT / "recipes" / f"{name}.yaml"
    with tempfile.TemporaryDirectory(prefix="genmm-bench-toy-") as folder:
        out = Path(folder) / name
        command = [sys.executable, "-m", "genmm.cli", "run", str(recipe), "--out", str(out)]
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "runtime.progress=false", *overrides],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{recipe}: genmm run failed: {done.stderr.strip()[-500:]}")
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        final = [r for r in records if "eval" in r][-1]
    figures = {"recipe": name, "step": final["step"], **final["eval"], "wall_s": round(seconds, 1)}
    if name == "toy_ring":
        figures["target_met"] = final["eval"]["modes"] == 8 and final["eval"]["high_quality"] >= 90
    print(json.dumps(figures))


if __name__ == "__main__":
    main(*sys.argv[1:])
