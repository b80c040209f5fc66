"""Faults: damaged checkpoints and the fallback, a full disk mid-write, a second Ctrl-C, kill -9."""

from __future__ import annotations

import errno
import importlib.util
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genmm
from genmm import recipe as recipes
from genmm.errors import CheckpointError
from genmm.training import checkpoint
from genmm.training.loop import Loop
from genmm.training.run import Run

ROOT = Path(__file__).resolve().parents[2]


def train(path: Path, manager, out: Path, overrides=(), resume: Path | None = None) -> Run:
    resolved = recipes.resolve(path, list(overrides))
    resolved["out"] = str(out)
    recipes.validate(resolved, manager.registry, str(path))
    run = Run(resolved, manager, recipe_file=str(path), out=out)
    loop = Loop(run)
    if resume is not None:
        loop.resume_from(checkpoint.find(resume))
    assert loop.fit() == "completed"
    return run


def damage(file: Path, how: str) -> None:
    data = file.read_bytes()
    if how == "truncated":
        file.write_bytes(data[: len(data) // 2])
    else:  # the same size, some bytes in the middle flipped
        middle = len(data) // 2
        file.write_bytes(
            data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 8]) + data[middle + 8 :]
        )


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------ damaged checkpoints
@pytest.mark.parametrize("how", ["truncated", "corrupt"])
@pytest.mark.parametrize("part", ["model.safetensors", "state.pt", "meta.json", "recipe.yaml"])
def test_damaged_file_is_named_and_resume_falls_back(
    tiny_recipe, manager, tmp_path, caplog, part, how
):
    path = tiny_recipe(steps=4, every=2)
    run = train(path, manager, tmp_path / "run")
    newest = run.checkpoints / "step-000004"
    original = {k: v.clone() for k, v in load_file(str(newest / "model.safetensors")).items()}
    damage(newest / part, how)
    with pytest.raises(CheckpointError) as error:
        checkpoint.verify(newest)
    assert str(newest / part) in str(error.value)
    with caplog.at_level(logging.WARNING, logger="genmm.training.checkpoint"):
        assert checkpoint.find(run.out) == run.checkpoints / "step-000002"
    warning = caplog.text
    assert "skipped checkpoint step-000004" in warning and str(newest / part) in warning
    assert "using step-000002" in warning and "nothing was deleted" in warning
    assert (newest / part).exists()  # the damaged folder is untouched
    before = (newest / part).read_bytes()

    resumed = genmm.train(resume=run.out, manager=manager)  # the library call the CLI makes
    assert resumed.status == "completed" and resumed.step == 4
    again = load_file(str(run.checkpoints / "step-000004" / "model.safetensors"))
    assert all(torch.equal(original[k], again[k]) for k in original)
    kept = run.checkpoints / "damaged-step-000004"  # replaced, but kept: nothing deleted
    assert (kept / part).read_bytes() == before
    assert checkpoint.find(run.out) == run.checkpoints / "step-000004"


def test_no_whole_checkpoint_names_every_damaged_file(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=4, every=2), manager, tmp_path / "run")
    files = [run.checkpoints / "step-000004" / "state.pt"]
    files.append(run.checkpoints / "step-000002" / "model.safetensors")
    for file in files:
        damage(file, "truncated")
    with pytest.raises(CheckpointError, match="no complete checkpoint") as error:
        checkpoint.find(run.out)
    assert all(str(file) in str(error.value) for file in files)
    assert all(file.exists() for file in files)


def test_cli_resume_falls_back_and_says_so(cli, tiny_recipe, tmp_path):
    path = tiny_recipe(steps=4, every=2)
    assert cli("run", str(path), "--max-steps", "4").returncode == 0
    run = tmp_path / "run"
    damage(run / "checkpoints" / "step-000004" / "model.safetensors", "truncated")
    result = cli("run", "--resume", str(run), "phases.gan.max_steps=6")
    assert result.returncode == 0, result.stderr
    assert "skipped checkpoint step-000004" in result.stderr
    assert "model.safetensors" in result.stderr and "truncated" in result.stderr
    assert "using step-000002" in result.stderr and "resuming from" in result.stderr
    assert "done: 6 steps" in result.stdout
    assert (run / "checkpoints" / "damaged-step-000004").is_dir()


def test_generate_falls_back_in_a_run_folder_but_not_for_a_named_checkpoint(
    tiny_recipe, manager, tmp_path, caplog
):
    run = train(tiny_recipe(steps=4, every=2), manager, tmp_path / "run")
    newest = run.checkpoints / "step-000004"
    damage(newest / "model.safetensors", "corrupt")
    with caplog.at_level(logging.WARNING):
        rebuilt = Run.from_checkpoint(run.out, manager, build_data=False)
    assert rebuilt.step == 2 and "skipped checkpoint step-000004" in caplog.text
    with pytest.raises(CheckpointError, match="sha256") as error:
        Run.from_checkpoint(newest, manager, build_data=False)
    assert str(newest / "model.safetensors") in str(error.value)


def test_a_checkpoint_is_checked_against_its_files_table(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=2, every=2), manager, tmp_path / "run")
    folder = run.checkpoints / "step-000002"
    assert checkpoint.verify(folder)["step"] == 2
    weights = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(weights[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        checkpoint.verify(folder)
    (folder / "model.safetensors").write_bytes(weights)
    meta = json.loads((folder / "meta.json").read_text())
    del meta["files"]  # checkpoints without checksums are no longer written nor read
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="meta.json: no table of files"):
        checkpoint.verify(folder)


def test_what_a_killed_writer_left_is_tidied(tiny_recipe, manager, tmp_path):
    run = train(tiny_recipe(steps=4, every=2), manager, tmp_path / "run")
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead = subprocess.run(command, capture_output=True, text=True).stdout.strip()  # exited
    folder = run.checkpoints
    (folder / f".tmp-step-000006-{dead}").mkdir()
    (folder / f".tmp-step-000006-{dead}" / "model.safetensors").write_bytes(b"half")
    os.rename(folder / "step-000002", folder / f".old-step-000002-{dead}")
    os.symlink("step-000002", folder / f".last-{dead}")
    checkpoint.sweep(folder)
    assert hidden(folder) == []
    assert checkpoint.verify(folder / "step-000002")["step"] == 2  # put back


def test_a_kill_while_pruning_leaves_no_half_deleted_checkpoint(
    tiny_recipe, manager, tmp_path, monkeypatch
):
    run = train(tiny_recipe(steps=6, every=2), manager, tmp_path / "run")
    folder = run.checkpoints
    assert [p.name for p in checkpoint.step_folders(folder)] != []

    def killed_half_way(path, *args, **kwargs):  # one file deleted, then the process dies
        next(Path(path).iterdir()).unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.shutil, "rmtree", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.prune(folder, keep=1)
    monkeypatch.undo()
    for step in checkpoint.step_folders(folder):
        checkpoint.verify(step)  # every step-* folder left is whole
    (leftover,) = hidden(folder)
    assert leftover.startswith(".del-step-000002-")
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead = subprocess.run(command, capture_output=True, text=True).stdout.strip()
    os.rename(folder / leftover, folder / leftover.replace(str(os.getpid()), dead))
    checkpoint.sweep(folder)  # the next save's sweep removes it
    assert hidden(folder) == []


# ------------------------------------------------------------------ a full disk
def full_disk_after(calls: int, writer):
    """``writer`` (save_file or torch.save) that, from call number ``calls`` on, writes half of
    the file and raises ENOSPC, as a write to a full disk does."""
    count = {"n": 0}

    def write(what, file, *args, **kwargs):
        count["n"] += 1
        if count["n"] < calls:
            return writer(what, file, *args, **kwargs)
        writer(what, file, *args, **kwargs)
        data = Path(file).read_bytes()
        Path(file).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(file))

    return write


@pytest.mark.parametrize("writer", ["model.safetensors", "state.pt"])
def test_full_disk_keeps_the_previous_checkpoint(
    tiny_recipe, manager, tmp_path, monkeypatch, writer
):
    if writer == "model.safetensors":
        monkeypatch.setattr(checkpoint, "save_file", full_disk_after(2, checkpoint.save_file))
    else:
        monkeypatch.setattr(torch, "save", full_disk_after(2, torch.save))
    path = tiny_recipe(steps=4, every=2)
    with pytest.raises(CheckpointError) as error:
        train(path, manager, tmp_path / "run")
    monkeypatch.undo()
    message = str(error.value)
    folder = tmp_path / "run" / "checkpoints"
    assert f".tmp-step-000004-{os.getpid()}/{writer}" in message
    assert "no space left on device" in message and "step-000004" in message
    assert (
        "previous checkpoint step-000002 is intact" in message and "`last` is unchanged" in message
    )
    needed = float(re.search(r"needs about ([\d.]+) MB", message).group(1))
    written = sum(f.stat().st_size for f in (folder / "step-000002").iterdir()) / 2**20
    assert 0.5 * written <= needed <= 2 * written + 0.1, (needed, written)
    assert sorted(p.name for p in folder.iterdir()) == ["last", "step-000002"]
    assert (folder / "last").resolve().name == "step-000002"
    assert checkpoint.verify(folder / "step-000002")["step"] == 2  # checksums as written
    resumed = train(path, manager, tmp_path / "run", resume=tmp_path / "run")
    assert resumed.step == 4


REAL_WRITERS = """
import json, resource, signal, sys
from pathlib import Path
import torch
from genmm.errors import CheckpointError
from genmm.training import checkpoint

folder = Path(sys.argv[1])
small, big = torch.nn.Linear(2, 2), torch.nn.Linear(1000, 1000)  # 4 MB of weights
checkpoint.save(folder, "step-000001", {"g": small}, {"x": 1}, {"step": 1}, "seed: 0", keep=3)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))  # no file over 1 MB
results = []
for name, modules, state in [("step-000002", {"g": big}, {"x": 1}),
                             ("step-000003", {"g": small}, {"big": torch.zeros(500_000)})]:
    try:
        checkpoint.save(folder, name, modules, state, {"step": 2}, "seed: 0", keep=3)
        results.append("saved")
    except CheckpointError as error:
        results.append(str(error))
print(json.dumps(results))
"""


def test_real_writers_that_fail_are_a_checkpoint_error(tmp_path):
    """safetensors and torch.save fail with their own errors (a file-size limit here, as a full
    disk would); each is a CheckpointError naming the file, and leaves nothing behind."""
    script = tmp_path / "writers.py"
    script.write_text(REAL_WRITERS, encoding="utf-8")
    folder = tmp_path / "checkpoints"
    done = subprocess.run(
        [sys.executable, str(script), str(folder)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    weights, state = json.loads(done.stdout)
    assert "model.safetensors: cannot write checkpoint step-000002" in weights
    assert "state.pt: cannot write checkpoint step-000003" in state
    assert "needs about 3.8 MB" in weights and "needs about 1.9 MB" in state
    assert all("previous checkpoint step-000001 is intact" in m for m in (weights, state))
    assert sorted(p.name for p in folder.iterdir()) == ["last", "step-000001"]


# ------------------------------------------------------------------ signals
SLEEPY_PLUGIN = '''
import os
import time
from pathlib import Path

import torch
from torch import nn

import genmm
from genmm.training import Trainer


class Points(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, index):
        return {"x": torch.full((2,), float(index) / 64)}


class Sleepy(Trainer):
    """Quick steps, but step SLEEPY_STEP naps for SLEEPY_SECONDS, marking its start and end."""

    def setup(self, run):
        self.model = run.model("model")
        run.add_optimizer("model", default={"name": "sgd", "lr": 0.01})

    def train_step(self, run):
        batch = run.to_device(run.next_batch())
        step, marks = run.step + 1, Path(os.environ["SLEEPY_MARKS"])
        if step == int(os.environ["SLEEPY_STEP"]):
            (marks / "started").write_text(str(step))
            end = time.monotonic() + float(os.environ["SLEEPY_SECONDS"])
            while time.monotonic() < end:
                time.sleep(0.02)
            (marks / "finished").write_text(str(step))
        return {"loss": run.update("model", lambda: self.model(batch["x"]).pow(2).mean())}


@genmm.hookimpl
def genmm_register_datasets(register):
    register("sleepy.points", Points)


@genmm.hookimpl
def genmm_register_models(register):
    register("sleepy.linear", lambda: nn.Linear(2, 1))


@genmm.hookimpl
def genmm_register_trainers(register):
    register("sleepy.trainer", Sleepy)
'''

SLEEPY_RECIPE = """
seed: 0
out: {out}
data: {{name: sleepy.points}}
models:
  model: {{name: sleepy.linear}}
phases:
  fit: {{trainer: sleepy.trainer, max_steps: 100000, batch_size: 8}}
checkpoint: {{every: 1, keep: 10}}
runtime: {{progress: false, device: cpu, log_every: 1}}
"""


def start_sleepy(tmp_path: Path, seconds: float) -> tuple[subprocess.Popen, Path]:
    plugin, recipe, marks = tmp_path / "sleepy.py", tmp_path / "sleepy.yaml", tmp_path / "marks"
    plugin.write_text(SLEEPY_PLUGIN, encoding="utf-8")
    recipe.write_text(SLEEPY_RECIPE.format(out=tmp_path / "run"), encoding="utf-8")
    marks.mkdir()
    env = {**os.environ, "SLEEPY_MARKS": str(marks), "SLEEPY_STEP": "4"}
    env["SLEEPY_SECONDS"] = str(seconds)
    command = [sys.executable, "-m", "genmm.cli", "run", str(recipe), "--plugin", str(plugin)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 120
    while not (marks / "started").exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the long step never started"
        time.sleep(0.02)
    return process, marks


def test_second_sigint_stops_at_once_without_saving(tmp_path):
    process, marks = start_sleepy(tmp_path, seconds=120)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert process.poll() is None  # the first one waits for the step to finish
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 10, "the second SIGINT did not stop at once"
    assert process.returncode == 130, stderr
    assert "send it again to stop at once" in stderr
    assert "second SIGINT: stopped at once during step 4, without saving" in stderr
    assert "genmm run --resume" in stderr and "Traceback" not in stderr
    assert not (marks / "finished").exists()
    folder = tmp_path / "run" / "checkpoints"
    steps = sorted(p.name for p in checkpoint.step_folders(folder))
    assert steps == ["step-000001", "step-000002", "step-000003"]
    assert all(checkpoint.verify(folder / name) for name in steps)
    assert (folder / "last").resolve().name == "step-000003" and hidden(folder) == []


def test_first_sigint_lets_the_long_step_finish_and_saves(tmp_path):
    process, marks = start_sleepy(tmp_path, seconds=3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert (marks / "finished").exists()
    assert "SIGINT: stopped at step 4" in stderr
    folder = tmp_path / "run" / "checkpoints"
    assert (folder / "last").resolve().name == "step-000004"
    assert checkpoint.verify(folder / "step-000004")["step"] == 4


# ------------------------------------------------------------------ kill -9
spec = importlib.util.spec_from_file_location(
    "bench_faults", ROOT / "benchmarks" / "bench_faults.py"
)
bench_faults = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_faults)


def test_kill_nine_three_times_then_resume_equals_an_uninterrupted_run(tiny_recipe, tmp_path):
    figures = bench_faults.run_faults(
        tiny_recipe(steps=1000, every=2), kills=3, every=2, work=tmp_path / "faults"
    )
    assert figures["kills_done"] == 3, figures["log"]
    assert figures["kills_survived"] == 3, figures["log"]
    assert figures["places"] == {"weights": 1, "publish": 1, "random": 1, "state": 0}
    assert 0 < figures["steps_lost_max"] <= figures["checkpoint_interval"] == 2
    assert figures["final_resume_ok"], figures["final_error"]
    assert figures["weights_equal"] and figures["safetensors_file_equal"]
    assert figures["leftover_hidden"] == []
