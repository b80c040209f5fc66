"""Image plugin benchmarks; one JSON line per figure.

    python benchmarks/bench_image.py speed             # DCGAN 64x64, batch 64, one D+G step
    python benchmarks/bench_image.py dcgan [--steps N] # dcgan_digits: FD vs the real floor
    python benchmarks/bench_image.py cgan [--steps N]  # cgan_digits: accuracy of asked labels
    python benchmarks/bench_image.py augment-speed     # StyleGAN2 step with / without ADA
    python benchmarks/bench_image.py augment-grid      # docs/plugins/image_augment.png

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

``augment-speed`` times the ``image.stylegan2`` step of ``recipes/stylegan2_shapes.yaml`` (its
models and losses built from the recipe, its batch of 32 at 32x32) with the recipe's ADA
(``image.ada``, bgc, at ``--p``, default 0.5: the cost hardly depends on p once p > 0) and
without, interleaved step by step (``benchmarks/harness.py``, ``--repeats``, default 7): the
main step (D and G updates, no lazy term) and the step with the lazy R1 pass, whose
augmentation is differentiated twice; then the overhead amortised over R1's interval of 16
(target: at most 15 %). ``augment-grid`` draws real shapes and augmented copies of them: a row
of originals, rows of ADA at p = 0.2, 0.5, 1.0 and a row of DiffAugment
(color,translation,cutout), into ``--out`` (default ``docs/plugins/image_augment.png``).
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


def stylegan2_recipe() -> dict:
    from genmm import recipe as recipes

    return recipes.resolve(ROOT / "recipes" / "stylegan2_shapes.yaml")


def augment_speed(args: argparse.Namespace) -> None:
    import copy

    from genmm.plugins import get_manager
    from genmm.testing import MiniRun
    from genmm_image.stylegan2.trainer import StyleGAN2Trainer

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import emit, interleaved, report

    torch.set_num_threads(args.threads)
    recipe = stylegan2_recipe()
    registry = get_manager().registry
    size, batch = recipe["data"]["size"], recipe["phases"]["gan"]["batch_size"]
    description = {"image_size": size, "channels": 3, "num_classes": 5, "conditional": False}
    phase = recipe["phases"]["gan"]
    trainer_keys = ("style_mixing", "ema_kimg", "ema_rampup")

    def build(augmented: bool):
        torch.manual_seed(0)
        models = {
            role: registry.build("models", spec, description=description)
            for role, spec in recipe["models"].items()
        }
        losses = {
            role: registry.build("losses", spec, description=description)
            for role, spec in recipe["losses"].items()
        }
        if augmented:
            models["augment"].p.fill_(args.p)
        real = torch.rand(batch, 3, size, size) * 2 - 1
        run = MiniRun(
            models,
            losses,
            lambda: {"real": real},
            batch_size=batch,
            optimizers=copy.deepcopy(phase["optimizers"]),
            phase_name="bench",
        )
        keys = {key: phase[key] for key in trainer_keys}
        trainer = StyleGAN2Trainer(augment="augment" if augmented else None, **keys)
        trainer.setup(run)
        return trainer, run

    def step(trainer, run, d_steps: int):
        def call() -> None:  # d_steps 0: the lazy R1 pass is due; 1: it is not
            trainer.d_steps, trainer.g_steps = d_steps, 1  # no path-length pass in either
            run.step_once(trainer)

        return call

    pairs = {"ada": build(True), "plain": build(False)}
    common = {"recipe": "stylegan2_shapes", "batch": batch, "resolution": size, "p": args.p}
    common["threads"] = torch.get_num_threads()
    medians = {}
    for label, d_steps in (("D+G step, no lazy term", 1), ("D+G step with lazy R1", 0)):
        calls = {name: step(*pair, d_steps) for name, pair in pairs.items()}
        stats = interleaved(calls, repeats=args.repeats, warmup=1)
        medians[d_steps] = stats
        overhead = stats["ada"]["median"] / stats["plain"]["median"] - 1
        report(
            f"StyleGAN2 {label} (s), ADA bgc vs none",
            stats,
            "ada",
            "plain",
            target=round(1 / 1.15, 3),
            overhead=round(overhead, 3),
            **common,
        )
    every = recipe["losses"]["r1"]["every"]

    def amortised(name: str, statistic: str) -> float:
        main, r1 = medians[1][name][statistic], medians[0][name][statistic]
        return ((every - 1) * main + r1) / every

    for statistic in ("median", "min"):
        overhead = amortised("ada", statistic) / amortised("plain", statistic) - 1
        emit(
            figure=f"ADA overhead on the StyleGAN2 step, R1 every {every} amortised ({statistic})",
            value=round(overhead, 3),
            target="<= 0.15",
            met=overhead <= 0.15,
            repeats=args.repeats,
            **common,
        )


def augment_grid(args: argparse.Namespace) -> None:
    from genmm_image.augment import AdaptiveAugment, DiffAugment
    from genmm_image.data import Shapes
    from genmm_image.writers import make_grid, save_image

    torch.manual_seed(args.seed)
    shapes = Shapes(size=32, count=64, rotation=True, held_out=0.0, seed=args.seed)
    originals = shapes.images[:8].float() / 127.5 - 1
    rows = [originals]
    for p in (0.2, 0.5, 1.0):
        rows.append(AdaptiveAugment(p=p)(originals))
    rows.append(DiffAugment()(originals))
    images = torch.cat(rows).clamp(-1, 1)
    images = images.repeat_interleave(3, dim=2).repeat_interleave(3, dim=3)  # 3x, for people
    out = save_image(make_grid(images, nrow=8, padding=2, pad_value=255), Path(args.out))
    print(json.dumps({"figure": "augmentation grid", "path": str(out), "rows": 5}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "dcgan", "cgan", "augment-speed", "augment-grid"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="augment-speed: 7 by default")
    parser.add_argument("--train-threads", type=int, default=1, help="dcgan/cgan training")
    parser.add_argument("--evaluate-only", action="store_true", help="reuse an earlier run")
    parser.add_argument("--skip-paper", action="store_true", help="speed: ngf=64 only")
    parser.add_argument("--steps", type=int, default=None, help="cap training (default: recipe)")
    parser.add_argument("--p", type=float, default=0.5, help="augment-speed: ADA's p")
    parser.add_argument("--seed", type=int, default=0, help="augment-grid")
    parser.add_argument("--out", default=str(ROOT / "docs" / "plugins" / "image_augment.png"))
    args = parser.parse_args()
    if args.what == "augment-speed" and "--repeats" not in sys.argv:
        args.repeats = 7  # the harness's interleaved repeats
    modes = {"speed": speed, "dcgan": quality_dcgan, "cgan": quality_cgan}
    modes.update({"augment-speed": augment_speed, "augment-grid": augment_grid})
    modes[args.what](args)


if __name__ == "__main__":
    main()
