"""Kill -9 fault benchmark: a real training run killed N times, resumed each time.

    python benchmarks/bench_faults.py                       # recipes/toy_ring.yaml, 20 kills
    python benchmarks/bench_faults.py --kills 5 --every 4   # fewer, another interval
    python benchmarks/bench_faults.py allreduce             # the gradient all-reduce, timed

Through the real CLI, every phase capped at ``--steps`` (by default enough steps for every
kill), a checkpoint every ``--every`` steps: (a) an uninterrupted run; (b) the same run killed
with SIGKILL ``--kills`` times and continued each time with ``genmm run --resume``. The kills
take turns among four moments, two of them random and two found deterministically inside a
checkpoint write by a small fault plugin (``GENMM_FAULT=<where>:<step>``, written next to the
runs), which stops the write of that step's checkpoint there, writes a marker file and sleeps
until the kill lands:

* ``weights``  half of ``model.safetensors`` written into the hidden temporary folder;
* ``publish``  the folder renamed into place, ``last`` not yet switched to it;
* ``random``   a seeded random step, then a random fraction of a step later;
* ``state``    ``state.pt`` half written.

After each kill: every ``step-*`` folder left must verify (sizes and checksums), the resume
must start from a whole checkpoint and train past it, and the steps lost (the last logged step
before the kill minus the step resumed from) must be at most one checkpoint interval. At the
end the weights of (a) and (b) must be equal tensor for tensor, byte for byte. Prints one JSON
line per figure.

``allreduce``: two gloo processes on CPU (``torch.multiprocessing``, a local TCP rendezvous)
hold the generator and the discriminator of a DCGAN recipe (``--recipe``, by default
``recipes/dcgan_shapes.yaml``: the models it names at its data's size), with the gradients of
one real backward pass. Interleaved by ``benchmarks/harness.py`` (warm-up, at least 7
repeats), each repeat averages both networks' gradients ``--rounds`` times: with
``genmm.training.distributed.average_gradients`` (one flattened all-reduce per optimiser and
dtype, what a training step does) and with one ``all_reduce`` per parameter (written here, the
naive way). Both must give the same averaged gradients. Prints one JSON line: the median and
minimum of each, their ratio, the parameter and tensor counts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLACES = ("weights", "publish", "random", "state")
QUIET = ["eval.every=0", "samples.every=0", "runtime.progress=false", "runtime.log_every=1"]
QUIET += ["runtime.threads=1"]

FAULT_PLUGIN = '''
"""Stops the checkpoint of one step inside its write: GENMM_FAULT=<where>:<step> (where:
weights, state or publish), writes GENMM_FAULT_MARK and sleeps until it is killed; with
where=random, only writes the mark when that step ends, and training goes on."""
import os
import time
from pathlib import Path

import genmm
from genmm.training import checkpoint

WHERE, _, STEP = os.environ.get("GENMM_FAULT", "").partition(":")
NAME = f"step-{int(STEP):06d}" if STEP else None


def hang(what):
    Path(os.environ["GENMM_FAULT_MARK"]).write_text(what, encoding="utf-8")
    while True:
        time.sleep(1)


def ours(file):
    return NAME is not None and Path(file).parent.name.startswith(f".tmp-{NAME}-")


def halfway(write, where):
    def wrapper(file, *args, **kwargs):
        write(file, *args, **kwargs)
        if WHERE == where and ours(file):
            data = Path(file).read_bytes()
            Path(file).write_bytes(data[: len(data) // 2])
            hang(f"{where} {file}")
    return wrapper


def before_last(point_last):
    def wrapper(folder, name):
        if WHERE == "publish" and name == NAME:
            hang(f"publish {folder / name}")
        point_last(folder, name)
    return wrapper


@genmm.hookimpl
def genmm_step_end(run, step, logs):
    if WHERE == "random" and step == int(STEP):
        Path(os.environ["GENMM_FAULT_MARK"]).write_text("random", encoding="utf-8")


if WHERE:
    checkpoint.write_weights = halfway(checkpoint.write_weights, "weights")
    checkpoint.write_state = halfway(checkpoint.write_state, "state")
    checkpoint.point_last = before_last(checkpoint.point_last)
'''


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "genmm.cli", *arguments]


def new_records(metrics: Path, offset: int) -> list[dict[str, Any]]:
    """The metrics lines written after ``offset`` (a torn last line, from a kill, is skipped)."""
    try:
        with open(metrics, "rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def logged_step(metrics: Path, offset: int) -> int:
    return max((r.get("step", 0) for r in new_records(metrics, offset) if "step" in r), default=0)


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def resumed_step(out: Path) -> int:
    from genmm.training import checkpoint

    return int(checkpoint.verify(checkpoint.find(out))["step"])


def check_folders(out: Path) -> list[str]:
    """Problems of the ``step-*`` folders left in a run: each must verify."""
    from genmm.errors import CheckpointError
    from genmm.training import checkpoint

    problems = []
    for folder in checkpoint.step_folders(out / "checkpoints"):
        try:
            checkpoint.verify(folder)
        except CheckpointError as error:
            problems.append(str(error))
    return problems


def equal_weights(a: Path, b: Path) -> tuple[bool, bool]:
    """(every tensor equal byte for byte, the two files equal byte for byte)."""
    from safetensors.torch import load_file

    left, right = load_file(str(a)), load_file(str(b))
    same = left.keys() == right.keys() and all(
        left[k].dtype == right[k].dtype
        and left[k].shape == right[k].shape
        and left[k].numpy().tobytes() == right[k].numpy().tobytes()
        for k in left
    )
    return same, a.read_bytes() == b.read_bytes()


def wait_for(process: subprocess.Popen, ready, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def run_faults(
    recipe: str | Path = ROOT / "recipes" / "toy_ring.yaml",
    kills: int = 20,
    every: int = 5,
    steps: int | None = None,
    seed: int = 0,
    work: Path | None = None,
    timeout: float = 300,
) -> dict[str, Any]:
    """Kill a run ``kills`` times and resume it each time; the figures as a dict."""
    # room for every kill to move on by up to 2 intervals, and for the random ones to overshoot
    steps = steps or 2 * (kills + 1) * every + 50
    temporary = None
    if work is None:
        temporary = tempfile.TemporaryDirectory(prefix="bench_faults-")
        work = Path(temporary.name)
    work.mkdir(parents=True, exist_ok=True)
    plugin = work / "faults.py"
    plugin.write_text(FAULT_PLUGIN, encoding="utf-8")
    settings = ["--max-steps", str(steps), "--plugin", str(plugin), *QUIET]
    settings += [f"checkpoint.every={every}", "checkpoint.keep=3"]
    straight, faulty = work / "straight", work / "faulty"
    started = time.perf_counter()
    done = subprocess.run(
        cli("run", str(recipe), "--out", str(straight), *settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the uninterrupted run failed: {done.stderr[-2000:]}")
    rng = random.Random(seed)
    metrics, mark = faulty / "metrics.jsonl", work / "fault.mark"
    kills_log: list[dict[str, Any]] = []
    start = 0
    for number in range(kills):
        place = PLACES[number % len(PLACES)]
        first_checkpoint = (start // every + 1) * every
        target = first_checkpoint + every * rng.randint(0, 1)
        if place == "random":
            target = start + rng.randint(1, 2 * every)
        if target >= steps - every:  # no room left before the end: stop killing
            break
        env = {**os.environ, "GENMM_FAULT": f"{place}:{target}", "GENMM_FAULT_MARK": str(mark)}
        mark.unlink(missing_ok=True)
        arguments = ["run", "--resume", str(faulty)] if number else ["run", str(recipe)]
        offset = size(metrics)
        process = subprocess.Popen(
            cli(*arguments, "--out", str(faulty), *settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        landed = wait_for(process, mark.exists, timeout)
        if place == "random":  # a random moment a little after that step
            time.sleep(rng.uniform(0.0, 0.02))
        record: dict[str, Any] = {"kill": number + 1, "place": place, "at_step": target}
        record["resumed_from"] = start
        if not landed or process.poll() is not None:
            process.kill()
            _, stderr = process.communicate()
            record.update(ok=False, error=f"the run ended before the kill: {stderr[-1500:]}")
            kills_log.append(record)
            break
        process.send_signal(signal.SIGKILL)
        process.communicate()
        killed_at = logged_step(metrics, offset)
        problems = check_folders(faulty)
        try:
            start_next = resumed_step(faulty)
        except Exception as error:  # a resume that cannot start is the failure measured
            record.update(ok=False, killed_at=killed_at, error=str(error), problems=problems)
            kills_log.append(record)
            break
        lost = killed_at - start_next
        trained = killed_at > start  # the resume that was killed had loaded and trained
        record.update(killed_at=killed_at, next_resume=start_next, steps_lost=lost)
        record.update(ok=trained and not problems and 0 <= lost <= every, problems=problems)
        kills_log.append(record)
        start = start_next
    final = subprocess.run(
        cli("run", "--resume", str(faulty), "--out", str(faulty), *settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    weights_equal = file_equal = False
    if final.returncode == 0:
        last = "checkpoints/last/model.safetensors"
        weights_equal, file_equal = equal_weights(straight / last, faulty / last)
    survived = sum(1 for r in kills_log if r.get("ok"))
    lost = [r["steps_lost"] for r in kills_log if "steps_lost" in r]
    figures = {
        "recipe": Path(recipe).stem,
        "kills": kills,
        "kills_done": len(kills_log),
        "kills_survived": survived,
        "places": {p: sum(1 for r in kills_log if r["place"] == p) for p in PLACES},
        "steps": steps,
        "checkpoint_interval": every,
        "steps_lost_max": max(lost, default=0),
        "steps_lost_mean": round(sum(lost) / len(lost), 3) if lost else 0.0,
        "final_resume_ok": final.returncode == 0,
        "final_error": final.stderr[-1500:] if final.returncode else None,
        "weights_equal": weights_equal,
        "safetensors_file_equal": file_equal,
        "leftover_hidden": sorted(
            p.name for p in (faulty / "checkpoints").iterdir() if p.name.startswith(".")
        ),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "log": kills_log,
    }
    if temporary is not None:
        temporary.cleanup()
    return figures


# ====================================================================== all-reduce timing
def dcgan_networks(recipe: str) -> tuple[Any, Any, dict[str, Any]]:
    """The generator and discriminator ``recipe`` names, built through the registry at its
    data's image size and channels (the data itself is not made)."""
    import yaml

    sys.path.insert(0, str(ROOT / "plugins"))
    from genmm.plugins import get_manager

    registry = get_manager().registry
    spec = yaml.safe_load(Path(recipe).read_text(encoding="utf-8"))
    data = dict(spec["data"])
    parameters = registry.get("datasets", data["name"]).signature.parameters
    default_channels = parameters["channels"].default if "channels" in parameters else 3
    description = {
        "image_size": int(data.get("size", parameters["size"].default)),
        "channels": int(data.get("channels", default_channels)),
        "num_classes": 0,
    }
    built = [
        registry.build("models", dict(spec["models"][role]), description=description)
        for role in ("generator", "discriminator")
    ]
    return built[0], built[1], description


def allreduce_worker(rank: int, world: int, port: int, recipe: str, rounds: int, repeats: int):
    import torch
    import torch.distributed as dist

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import interleaved, report

    from genmm.training.distributed import average_gradients

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)  # fmt: skip
    torch.manual_seed(rank)
    generator, discriminator, description = dcgan_networks(recipe)
    z = torch.randn(8, generator.latent_dim)
    discriminator(generator(z)).mean().backward()  # real gradients in both networks
    optimizers = [torch.optim.Adam(m.parameters()) for m in (generator, discriminator)]
    grads = [p.grad for o in optimizers for g in o.param_groups for p in g["params"]]
    original = [g.clone() for g in grads]

    def per_parameter(optimizer) -> None:
        size = float(dist.get_world_size())
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= size

    def flattened() -> None:
        for _ in range(rounds):
            for optimizer in optimizers:  # one all-reduce per optimiser (per dtype)
                average_gradients(optimizer)

    def naive() -> None:
        for _ in range(rounds):
            for optimizer in optimizers:
                per_parameter(optimizer)

    results = []  # the same averages both ways, from the same gradients
    for average in (average_gradients, per_parameter):
        for grad, value in zip(grads, original):
            grad.copy_(value)
        for optimizer in optimizers:
            average(optimizer)
        results.append([grad.clone() for grad in grads])
    same = all(torch.allclose(a, b, rtol=1e-6, atol=1e-9) for a, b in zip(*results))
    dist.barrier()
    stats = interleaved({"flattened": flattened, "per_parameter": naive}, repeats=repeats)
    if rank == 0:
        count = sum(g.numel() for g in grads)
        report(
            "gradient all-reduce, 2 gloo processes, DCGAN G + D",
            stats,
            "flattened",
            "per_parameter",
            benchmark="allreduce",
            recipe=Path(recipe).name,
            image_size=description["image_size"],
            parameters=count,
            tensors=len(grads),
            megabytes=round(count * 4 / 1e6, 2),
            rounds_per_repeat=rounds,
            same_result=same,
        )
    dist.barrier()
    dist.destroy_process_group()


def run_allreduce(arguments: list[str]) -> None:
    import socket

    import torch.multiprocessing

    parser = argparse.ArgumentParser(prog="bench_faults.py allreduce")
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "dcgan_shapes.yaml"))
    parser.add_argument("--rounds", type=int, default=10, help="averages per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args(arguments)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torch.multiprocessing.spawn(
        allreduce_worker,
        args=(2, port, options.recipe, options.rounds, options.repeats),
        nprocs=2,
    )


def main() -> None:
    if sys.argv[1:2] == ["allreduce"]:
        run_allreduce(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes" / "toy_ring.yaml"))
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--every", type=int, default=5, help="checkpoint interval (steps)")
    parser.add_argument("--steps", type=int, default=None, help="default: room for every kill")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="keep the runs here")
    options = parser.parse_args()
    figures = run_faults(
        options.recipe, options.kills, options.every, options.steps, options.seed, options.work
    )
    common = {"benchmark": "faults", "recipe": figures["recipe"]}
    for key in ("kills_survived", "steps_lost_max", "steps_lost_mean", "checkpoint_interval"):
        value = figures[key]
        extra = {"of": figures["kills"]} if key == "kills_survived" else {}
        print(json.dumps({**common, "figure": key, "value": value, **extra}))
    for key in (
        "weights_equal",
        "safetensors_file_equal",
        "final_resume_ok",
        "places",
        "leftover_hidden",
    ):
        print(json.dumps({**common, "figure": key, "value": figures[key]}))
    timing = {"value": figures["seconds"], "load_average": figures["load_average"]}
    print(json.dumps({**common, "figure": "seconds", **timing}))
    for record in figures["log"]:
        print(json.dumps({**common, "figure": "kill", **record}))


if __name__ == "__main__":
    main()
