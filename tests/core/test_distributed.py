"""Data parallelism through torchrun: two gloo processes on CPU train as one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from genmm.training.data import BatchStream

CHECKSUM_PLUGIN = """
import json, os
import genmm
import torch

@genmm.hookimpl
def genmm_run_end(run, status):
    sums = {role: float(sum(p.double().sum() for p in model.parameters()))
            for role, model in run.models.items()}
    path = os.path.join(os.environ["CHECKSUM_DIR"], f"rank{run.rank}.json")
    with open(path, "w") as handle:
        json.dump({"rank": run.rank, "world": run.world_size, "sums": sums,
                   "status": status}, handle)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_stay_in_step_and_rank_zero_writes(tiny_recipe, tmp_path):
    plugin = tmp_path / "checksum.py"
    plugin.write_text(CHECKSUM_PLUGIN, encoding="utf-8")
    sums = tmp_path / "sums"
    sums.mkdir()
    env = {**os.environ, "CHECKSUM_DIR": str(sums), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "genmm.cli",
        "run",
        str(tiny_recipe(steps=8, every=4)),
        "--plugin",
        str(plugin),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((sums / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["status"] == "completed" for r in ranks)
    # gradients are averaged, so both copies of every model are identical after training
    assert ranks[0]["sums"] == ranks[1]["sums"]
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last" / "model.safetensors").is_file()
    steps = [
        json.loads(line)["step"]
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if '"step"' in line
    ]
    assert len(steps) == len(set(steps))  # one writer: no line twice


def test_each_rank_gets_its_own_slice_of_the_global_batch():
    data = list(range(10))
    streams = [BatchStream(data, batch_size=2, seed=0, rank=r, world_size=2) for r in (0, 1)]
    single = BatchStream(data, batch_size=4, seed=0)
    for _ in range(3):
        whole = single.next()
        parts = [s.next() for s in streams]
        assert list(parts[0]) + list(parts[1]) == list(whole)
    assert streams[0].steps_per_epoch == single.steps_per_epoch == 3
