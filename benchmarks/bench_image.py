"""Image plugin benchmarks; one JSON line per figure.

    python benchmarks/bench_image.py speed             # DCGAN 64x64, batch 64, one D+G step
    python benchmarks/bench_image.py dcgan [--steps N] # dcgan_digits: FD vs the real floor
    python benchmarks/bench_image.py cgan [--steps N]  # cgan_digits: accuracy of asked labels

``speed`` times the real ``core.gan`` step (one D update on real and fake, one G update,
non-saturating loss, fused Adam) on 2 threads: warm-up steps, then the median of
``--repeats`` steps, for the pytorch/examples configuration (ngf = ndf = 64, 4x4 kernels;
its own code takes 1.36 s a step on this CPU when quiet) and the paper's widths (5x5
kernels, 1024 maps at 4x4). pytorch/examples' step is timed in the same process; the ratio
of process CPU times (robust to other jobs on the machine) times 1.36 s estimates ours on a
quiet machine.

``dcgan`` and ``cgan`` train the shipped recipe at its default length through the real CLI
(``genmm run``; a run folder under ``runs/``), then evaluate the last checkpoint in process:
``dcgan`` gives the Fréchet distance of 2,000 samples to the held-out digits on the data
set's feature network, the floor (real training images to held-out, as many as generated),
their ratio (target <= 3) and the number of classes the samples cover (target 10); ``cgan``
the share of samples the classifier reads as their asked label (target >= 0.9).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def reference_step(batch: int):
    """One step of pytorch/examples' DCGAN (its networks, BCE on sigmoid outputs, Adam) on
    the same kind of batch: timed next to ours so that a loaded machine shows as a ratio."""
    from torch import nn

    nz, ngf, ndf = 100, 64, 64

    def up(cin, cout, stride, padding, last=False):
        conv = nn.ConvTranspose2d(cin, cout, 4, stride, padding, bias=False)
        return [conv, nn.Tanh()] if last else [conv, nn.BatchNorm2d(cout), nn.ReLU(True)]

    def down(cin, cout, norm=True):
        layers = [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
        return layers + ([nn.BatchNorm2d(cout)] if norm else []) + [nn.LeakyReLU(0.2, True)]

    G = nn.Sequential(
        *up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4, 2, 1), *up(ngf * 4, ngf * 2, 2, 1),
        *up(ngf * 2, ngf, 2, 1), *up(ngf, 3, 2, 1, last=True),
    )  # fmt: skip
    D = nn.Sequential(
        *down(3, ndf, norm=False), *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4),
        *down(ndf * 4, ndf * 8), nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )  # fmt: skip
    criterion = nn.BCELoss()
    d_optimizer = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    g_optimizer = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, 3, 64, 64) * 2 - 1
    ones, zeros = torch.ones(batch), torch.zeros(batch)

    def step() -> None:
        D.zero_grad()
        criterion(D(real).view(-1), ones).backward()
        fake = G(torch.randn(batch, nz, 1, 1))
        criterion(D(fake.detach()).view(-1), zeros).backward()
        d_optimizer.step()
        G.zero_grad()
        criterion(D(fake).view(-1), ones).backward()
        g_optimizer.step()

    return step


def timed(step, warmup: int, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds of ``repeats`` calls after ``warmup``."""
    for _ in range(warmup):
        step()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def speed(args: argparse.Namespace) -> None:
    from genmm.losses import NonSaturatingLoss
    from genmm.testing import MiniRun
    from genmm.training.gan import GANTrainer
    from genmm_image.dcgan import DCGANDiscriminator, DCGANGenerator

    torch.set_num_threads(args.threads)
    adam = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "fused": True}
    configurations = {
        "pytorch/examples widths (ngf=ndf=64, k4)": dict(width=64, kernel_size=4),
        "paper widths (1024 at 4x4, k5)": dict(width=128, kernel_size=5),
    }
    torch.manual_seed(0)
    reference = reference_step(args.batch)
    for label, widths in configurations.items():
        paper = widths["kernel_size"] == 5
        if paper and args.skip_paper:
            continue
        torch.manual_seed(0)
        G = DCGANGenerator(image_size=64, channels=3, **widths)
        D = DCGANDiscriminator(image_size=64, channels=3, **widths)
        real = torch.rand(args.batch, 3, 64, 64) * 2 - 1
        run = MiniRun(
            {"generator": G, "discriminator": D},
            {"adversarial": NonSaturatingLoss()},
            lambda real=real: {"real": real},
            batch_size=args.batch,
            optimizers={"generator": adam, "discriminator": adam},
            phase_name="bench",
        )
        trainer = GANTrainer()
        trainer.setup(run)
        ours = timed(functools.partial(run.step_once, trainer), args.warmup, args.repeats)
        common = {
            "batch": args.batch,
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "G_parameters": sum(p.numel() for p in G.parameters()),
            "D_parameters": sum(p.numel() for p in D.parameters()),
        }
        median = statistics.median(ours[0])
        figure = {"figure": f"DCGAN 64x64 D+G step (s), {label}", "value": round(median, 3)}
        figure.update(cpu_s=round(statistics.median(ours[1]), 3), **common)
        figure.update(images_per_s=round(args.batch / median, 1), target_s=None if paper else 1.1)
        print(json.dumps(figure), flush=True)
        if paper:
            continue
        theirs = timed(reference, args.warmup, args.repeats)
        ratio = statistics.median(ours[1]) / statistics.median(theirs[1])
        for name, value in (
            ("pytorch/examples DCGAN step, same process (s)", statistics.median(theirs[0])),
            ("ours / pytorch/examples, CPU time", ratio),
            ("ours on a quiet machine (s): ratio x 1.36 s", ratio * 1.36),
        ):
            figure = {"figure": name, "value": round(value, 3), "batch": args.batch}
            print(json.dumps({**figure, "repeats": args.repeats}), flush=True)


def train(recipe: str, out: Path, steps: int | None, threads: int, again: bool = True) -> float:
    """``genmm run recipes/RECIPE --out OUT`` (a fresh folder) on ``threads`` threads -> wall
    seconds. One thread by default: at 16x16 the convolutions are small, and on a shared
    2-core machine two threads waiting for each other were 14x slower than one."""
    import os
    import shutil

    if not again and (out / "checkpoints" / "last").exists():
        return float("nan")  # --evaluate-only: the run folder of an earlier call

    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "genmm.cli", "run", str(ROOT / "recipes" / recipe)]
    command += ["--out", str(out), "runtime.progress=false", "eval.every=0"]
    if steps is not None:
        command += ["--max-steps", str(steps)]
    started = time.perf_counter()
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
    return time.perf_counter() - started


def evaluate(out: Path, metric: str, options: dict) -> tuple[dict, int]:
    from genmm.plugins import get_manager
    from genmm.training.run import Run

    run = Run.from_checkpoint(out, get_manager())
    factory = run.manager.registry.get("metrics", metric).factory
    with run.evaluating(seed=0):
        figures = factory(**options)(run)
    return figures, run.step


def quality_dcgan(args: argparse.Namespace) -> None:
    out = ROOT / "runs" / "bench_dcgan_digits"
    seconds = train(
        "dcgan_digits.yaml", out, args.steps, args.train_threads, not args.evaluate_only
    )
    torch.set_num_threads(args.train_threads)
    fd, step = evaluate(out, "image.fd", {"n_samples": 2000, "floor": True})
    classes, _ = evaluate(out, "image.classes", {"n_samples": 2000})
    common = {"recipe": "dcgan_digits", "steps": step, "train_s": round(seconds, 1)}
    ratio = fd["fd"] / fd["fd_floor"]
    for name, value in (
        ("FD to held-out digits", fd["fd"]),
        ("FD floor: real train to held-out", fd["fd_floor"]),
        ("FD / floor (target <= 3)", ratio),
        ("KID", fd["kid"]),
        ("precision", fd["precision"]),
        ("recall", fd["recall"]),
        ("classes covered (target 10)", classes["classes_covered"]),
        ("class entropy (1 = even)", classes["class_entropy"]),
    ):
        print(json.dumps({"figure": name, "value": round(float(value), 4), **common}), flush=True)


def quality_cgan(args: argparse.Namespace) -> None:
    out = ROOT / "runs" / "bench_cgan_digits"
    seconds = train("cgan_digits.yaml", out, args.steps, args.train_threads, not args.evaluate_only)
    torch.set_num_threads(args.train_threads)
    figures, step = evaluate(out, "image.classes", {"n_samples": 2000})
    common = {"recipe": "cgan_digits", "steps": step, "train_s": round(seconds, 1)}
    for name, value in (
        ("class accuracy of asked labels (target >= 0.9)", figures["class_accuracy"]),
        ("classifier accuracy on held-out real digits", figures["real_accuracy"]),
    ):
        print(json.dumps({"figure": name, "value": round(float(value), 4), **common}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "dcgan", "cgan"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-threads", type=int, default=1, help="dcgan/cgan training")
    parser.add_argument("--evaluate-only", action="store_true", help="reuse an earlier run")
    parser.add_argument("--skip-paper", action="store_true", help="speed: ngf=64 only")
    parser.add_argument("--steps", type=int, default=None, help="cap training (default: recipe)")
    args = parser.parse_args()
    {"speed": speed, "dcgan": quality_dcgan, "cgan": quality_cgan}[args.what](args)


if __name__ == "__main__":
    main()
