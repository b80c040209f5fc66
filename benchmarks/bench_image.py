"""Image plugin benchmarks; one JSON line per figure.

    python benchmarks/bench_image.py speed             # DCGAN 64x64, batch 64, one D+G step
    python benchmarks/bench_image.py dcgan [--steps N] # dcgan_digits: FD vs the real floor
    python benchmarks/bench_image.py cgan [--steps N]  # cgan_digits: accuracy of asked labels

``speed`` times the real ``core.gan`` step (one D update on real and fake, one G update,
non-saturating loss, Adam) on 2 threads: a warm-up, then the median of ``--repeats`` steps,
for the pytorch/examples configuration (ngf = ndf = 64, 4x4 kernels; 1.36 s on this CPU)
and the paper's widths (5x5 kernels, 1024 maps at 4x4).

``dcgan`` and ``cgan`` train the shipped recipe at its default length through the real CLI
(``genmm run``; a run folder under ``runs/``), then evaluate the last checkpoint in process:
``dcgan`` gives the Fréchet distance of 2,000 samples to the held-out digits on the data
set's feature network, the floor (real training images to held-out, as many as generated),
their ratio (target <= 3) and the number of classes the samples cover (target 10); ``cgan``
the share of samples the classifier reads as their asked label (target >= 0.9).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


class BenchRun:
    """The parts of a genmm Run that ``core.gan`` touches, on random batches."""

    def __init__(self, G, D, losses, batch: int, size: int) -> None:
        self.models = {"generator": G, "discriminator": D}
        self.losses = losses
        self.device = torch.device("cpu")
        self.recipe_file, self.phase_name, self.step = None, "bench", 0
        self.distributed = False
        self.batch, self.size = batch, size
        self.real = torch.rand(batch, 3, size, size) * 2 - 1

    def model(self, role):
        return self.models[role]

    def next_batch(self):
        return {"real": self.real}

    def to_device(self, value):
        return value

    def autocast(self):
        return contextlib.nullcontext()

    def update_ema(self, role):
        pass


def speed(args: argparse.Namespace) -> None:
    from genmm.losses import NonSaturatingLoss
    from genmm.trainer.gan import GANTrainer
    from genmm_image.dcgan import DCGANDiscriminator, DCGANGenerator

    torch.set_num_threads(args.threads)
    configurations = {
        "pytorch/examples widths (ngf=ndf=64, k4)": dict(width=64, kernel_size=4),
        "paper widths (1024 at 4x4, k5)": dict(width=128, kernel_size=5),
    }
    for label, widths in configurations.items():
        torch.manual_seed(0)
        G = DCGANGenerator(image_size=64, channels=3, **widths)
        D = DCGANDiscriminator(image_size=64, channels=3, **widths)
        run = BenchRun(G, D, {"adversarial": NonSaturatingLoss()}, args.batch, 64)
        trainer = GANTrainer()
        trainer.setup(run)
        for _ in range(args.warmup):
            trainer.train_step(run)
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            trainer.train_step(run)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(
            json.dumps(
                {
                    "figure": f"DCGAN 64x64 D+G step (s), {label}",
                    "value": round(median, 3),
                    "images_per_s": round(args.batch / median, 1),
                    "batch": args.batch,
                    "threads": torch.get_num_threads(),
                    "G_parameters": sum(p.numel() for p in G.parameters()),
                    "D_parameters": sum(p.numel() for p in D.parameters()),
                    "repeats": args.repeats,
                    "target_s": 1.1 if widths["kernel_size"] == 4 else None,
                }
            ),
            flush=True,
        )


def train(recipe: str, out: Path, steps: int | None) -> float:
    """``genmm run recipes/RECIPE --out OUT`` (a fresh folder) -> wall seconds."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "genmm.cli", "run", str(ROOT / "recipes" / recipe)]
    command += ["--out", str(out), "trainer.progress=false", "eval.every=0"]
    if steps is not None:
        command += ["--max-steps", str(steps)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def evaluate(out: Path, metric: str, options: dict) -> tuple[dict, int]:
    from genmm.plugins import get_manager
    from genmm.trainer.run import Run

    run = Run.from_checkpoint(out, get_manager())
    factory = run.manager.registry.get("metrics", metric)
    with run.evaluating(seed=0):
        figures = factory(**options)(run)
    return figures, run.step


def quality_dcgan(args: argparse.Namespace) -> None:
    out = ROOT / "runs" / "bench_dcgan_digits"
    seconds = train("dcgan_digits.yaml", out, args.steps)
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
    seconds = train("cgan_digits.yaml", out, args.steps)
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
    parser.add_argument("--steps", type=int, default=None, help="cap training (default: recipe)")
    args = parser.parse_args()
    {"speed": speed, "dcgan": quality_dcgan, "cgan": quality_cgan}[args.what](args)


if __name__ == "__main__":
    main()
