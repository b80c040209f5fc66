"""Every shipped recipe trains, resumes bit-exactly and generates; one JSON line per recipe.

    python benchmarks/check_resume.py                 # every recipe in recipes/
    python benchmarks/check_resume.py toy_ring news   # some

For each recipe, through the real CLI, with every phase capped at ``--steps`` steps and a
checkpoint after every step: (a) an uninterrupted run; (b) the same run stopped by SIGTERM once
it has logged half of its steps, then ``genmm run --resume``; the final weights of (a) and (b)
must be equal byte for byte. Then ``genmm generate`` from (b)'s checkpoint, without the data,
must write files. The recipes' own data sets are used at their defaults (built on first use).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUIET = ["eval.every=0", "samples.every=0", "checkpoint.every=1", "checkpoint.keep=2"]
QUIET += ["runtime.progress=false", "runtime.log_every=1", "runtime.threads=1"]
#: recipes that need a file genmm does not ship, and the override that gives it
NEEDS = {"seqgan_paper_oracle": ["data.params=../shared/data/seqgan_oracle_params.npz"]}


def command(recipe: Path, out: Path, steps: int, *extra: str) -> list[str]:
    base = [sys.executable, "-m", "genmm.cli", "run", str(recipe), "--out", str(out)]
    return [*base, "--max-steps", str(steps), *QUIET, *NEEDS.get(recipe.stem, []), *extra]


def weights(out: Path) -> str:
    return hashlib.sha256((out / "checkpoints/last/model.safetensors").read_bytes()).hexdigest()


def logged_steps(out: Path) -> int:
    try:
        lines = (out / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    return max((json.loads(line).get("step", 0) for line in lines if '"step"' in line), default=0)


def check(recipe: Path, steps: int, phases: int, folder: Path) -> dict:
    started = time.perf_counter()
    straight, stopped = folder / "straight", folder / "stopped"
    done = subprocess.run(command(recipe, straight, steps), capture_output=True, text=True)
    if done.returncode != 0:
        return {"recipe": recipe.stem, "ok": False, "error": done.stderr[-600:]}
    process = subprocess.Popen(command(recipe, stopped, steps), stderr=subprocess.PIPE, text=True)
    half = max(1, steps * phases // 2)
    while process.poll() is None and logged_steps(stopped) < half:
        time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    process.wait()
    at = logged_steps(stopped)
    resumed = subprocess.run(
        command(recipe, stopped, steps, "--resume", str(stopped)), capture_output=True, text=True
    )
    if resumed.returncode != 0:
        return {"recipe": recipe.stem, "ok": False, "error": resumed.stderr[-600:]}
    generated = folder / "generated"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "genmm.cli",
            "generate",
            str(stopped),
            "--n",
            "2",
            "-o",
            str(generated / "out"),
        ],
        capture_output=True,
        text=True,
    )
    files = (
        sorted(p.name for p in generated.rglob("*") if p.is_file()) if generated.exists() else []
    )
    return {
        "recipe": recipe.stem,
        "steps_per_phase": steps,
        "stopped_at_step": at,
        "bit_exact": weights(straight) == weights(stopped),
        "generated": files,
        "generate_ok": made.returncode == 0 and bool(files),
        "generate_error": None if made.returncode == 0 else made.stderr[-300:],
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*")
    parser.add_argument("--steps", type=int, default=4)
    arguments = parser.parse_args()
    names = arguments.recipes or sorted(p.stem for p in (ROOT / "recipes").glob("*.yaml"))
    os.chdir(ROOT)
    for name in names:
        recipe = ROOT / "recipes" / f"{name}.yaml"
        text = recipe.read_text()
        phases = sum(1 for line in text.splitlines() if line.startswith("    trainer:")) or 1
        with tempfile.TemporaryDirectory(prefix=f"genmm-resume-{name}-") as folder:
            print(json.dumps(check(recipe, arguments.steps, phases, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
