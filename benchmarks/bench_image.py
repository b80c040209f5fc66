"""Image plugin benchmarks; one JSON line per figure.

    python benchmarks/bench_image.py speed             # DCGAN 64x64, batch 64, one D+G step
    python benchmarks/bench_image.py dcgan [--steps N] # dcgan_digits: FD vs the real floor
    python benchmarks/bench_image.py cgan [--steps N]  # cgan_digits: accuracy of asked labels
    python benchmarks/bench_image.py augment-speed     # StyleGAN2 step with / without ADA
    python benchmarks/bench_image.py augment-grid      # docs/plugins/image_augment.png
    python benchmarks/bench_image.py quality-table [--recipes a,b] [--max-steps N] [--set K=V]
    python benchmarks/bench_image.py ada-digits [--max-steps N]   # DCGAN on 10 % of the digits

``speed`` times the real ``core.gan`` step (one D update on real and fake, one G update,
non-saturating loss, fused Adam) on 2 threads, interleaved step by step with pytorch/examples'
DCGAN step rebuilt here (its networks at ngf = ndf = 64 with 4x4 kernels, its BCE loop, which
also computes D's weight gradients in the G update) through ``benchmarks/harness.py``: median
and minimum of ``--repeats`` (7) steps each, their ratio (target >= 1.5x), the load average,
and the reference's parameter count against the one pytorch/examples prints; then our paper
widths (5x5 kernels, 1024 maps at 4x4) against the same reference.

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

``quality-table`` trains each image recipe (``--recipes``, default every shipped one:
``QUALITY_RECIPES``) at its defaults through the library call ``genmm.train`` in this process
(``--max-steps`` caps every phase, ``--set KEY=VALUE`` adds recipe overrides; the recipe's own
evaluations and sample dumps are switched off, on ``--train-threads`` threads), then measures
every run on one protocol, the one of ``image.fd``: ``--n-samples`` (2,000) samples against the
held-out images on the data set's feature network: the Fréchet distance, its real-vs-real
floor (as many real training images, a subset fixed by the seed, against the held-out ones),
their ratio, KID (Bińkowski et al. 2018: unbiased MMD^2, cubic polynomial kernel, as
``image.fd``) and its floor, precision / recall (k = 3) and the classes the samples cover (a
class with at least a tenth of its even share, as ``image.classes``; a conditional generator
draws uniform labels), with the process CPU minutes of the training (``time.process_time``:
data set, steps and checkpoints). Into ``--out-dir`` (default ``runs/bench_image_quality``):
``quality.jsonl`` (one line per recipe, also printed), ``quality.md`` (the table) and
``<recipe>.png`` (64 samples). ``ada-digits`` is the same protocol for DCGAN (``dcgan_digits``)
trained on 10 % of the digits (``data.held_out=0.9``: 180 images) with ``image.ada`` (the
recipe keys of docs/plugins/image.md, ``models.augment={name: image.ada}``,
``phases.gan.augment=augment``) and without; both are measured against the digits' usual
held-out fifth and feature network (``held_out: 0.2``, whose held-out images the 10 % never
holds), with the FD of the 180 training images themselves beside them (``ada.jsonl``,
``ada.md``, ``dcgan_digits_ada.png``, ``dcgan_digits_plain.png``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def reference_step(batch: int):
    """One step of pytorch/examples' DCGAN (its networks, BCE on sigmoid outputs, Adam, D's
    weight gradients computed in the G update as its loop does) on the same kind of batch,
    and its networks' parameter counts: timed interleaved with ours."""
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
    counts = {"G": sum(p.numel() for p in G.parameters()),
              "D": sum(p.numel() for p in D.parameters())}  # fmt: skip

    def step() -> None:
        D.zero_grad()
        criterion(D(real).view(-1), ones).backward()
        fake = G(torch.randn(batch, nz, 1, 1))
        criterion(D(fake.detach()).view(-1), zeros).backward()
        d_optimizer.step()
        G.zero_grad()
        criterion(D(fake).view(-1), ones).backward()
        g_optimizer.step()

    return step, counts


# pytorch/examples dcgan/main.py at nz 100, ngf = ndf = 64, 3 channels (bias-free convolutions,
# batch-norm weights and biases): the sums of its printed networks
PYTORCH_EXAMPLES_PARAMETERS = {"G": 3576704, "D": 2765568}


def speed(args: argparse.Namespace) -> None:
    """Our ``core.gan`` step and pytorch/examples' DCGAN step (its networks and loop, rebuilt
    in this process: ``reference_step``) interleaved by the harness: the ratio of medians
    (target >= 1.5x), the parameter counts checked against pytorch/examples' printed ones."""
    from harness import emit, interleaved, precision_levers, report, report_levers

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
    reference, reference_counts = reference_step(args.batch)
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
            precision=args.precision,
        )
        trainer = GANTrainer()
        trainer.setup(run)
        counts = {"G": sum(p.numel() for p in G.parameters()),
                  "D": sum(p.numel() for p in D.parameters())}  # fmt: skip
        candidates = {"ours": functools.partial(run.step_once, trainer),
                      "pytorch_examples": reference}  # fmt: skip
        if args.compile and not paper:
            # runtime.compile: inductor, as Run applies it (the steps call torch.compile'd
            # modules; the optimisers hold the same parameters)
            compiled_run = MiniRun(
                {"generator": copy.deepcopy(G), "discriminator": copy.deepcopy(D)},
                {"adversarial": NonSaturatingLoss()},
                lambda real=real: {"real": real},
                batch_size=args.batch,
                optimizers={"generator": adam, "discriminator": adam},
                phase_name="bench",
                precision=args.precision,
            )
            compiled_run._compiled = {
                role: torch.compile(model, backend="inductor")
                for role, model in compiled_run.models.items()
            }
            compiled_trainer = GANTrainer()
            compiled_trainer.setup(compiled_run)
            started = time.perf_counter()
            compiled_run.step_once(compiled_trainer)  # compiles G and D, forward and backward
            emit(figure="dcgan_compile_startup_seconds",
                 value=round(time.perf_counter() - started, 1), backend="inductor")  # fmt: skip
            candidates["ours_compiled"] = functools.partial(
                compiled_run.step_once, compiled_trainer
            )
        candidates = precision_levers(candidates, run, "pytorch_examples")
        stats = interleaved(candidates, repeats=args.repeats, warmup=args.warmup,
                            flops=("ours", "pytorch_examples"))  # fmt: skip
        if "ours_compiled" in stats:
            report("dcgan_step_seconds_compiled", stats, "ours_compiled", "ours",
                   ours_widths=label, batch=args.batch, threads=torch.get_num_threads(),
                   note="runtime.compile: inductor against the same step eager")  # fmt: skip
            report("dcgan_step_seconds_compiled_vs_reference", stats, "ours_compiled",
                   "pytorch_examples", target=1.5, batch=args.batch)  # fmt: skip
        report_levers(
            "dcgan_step_seconds",
            stats,
            "pytorch_examples",
            target=None if paper else 1.5,
            precision=args.precision,
            ours_widths=label,
            batch=args.batch,
            threads=torch.get_num_threads(),
            ours_parameters=counts,
            pytorch_examples_parameters=reference_counts,
        )
        if not paper:
            # pytorch/examples' dcgan prints its networks; these are the counts they add up to
            emit(figure="dcgan_reference_parameters", counts=reference_counts,
                 expected=PYTORCH_EXAMPLES_PARAMETERS,
                 matches=reference_counts == PYTORCH_EXAMPLES_PARAMETERS)  # fmt: skip


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


# ====================================================================== the quality table
QUALITY_RECIPES = (
    "gan_digits",
    "dcgan_digits",
    "dcgan_shapes",
    "cgan_digits",
    "lsgan_shapes",
    "wgan_gp_shapes",
    "infogan_digits",
    "stylegan2_shapes",
)
#: (key of the JSON line, column of the markdown table)
TABLE_COLUMNS = (
    ("recipe", "recipe"),
    ("steps", "steps"),
    ("fd", "FD"),
    ("fd_floor", "floor"),
    ("fd_ratio", "FD / floor"),
    ("kid", "KID"),
    ("kid_floor", "KID floor"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("classes_covered", "classes covered"),
    ("classes", "of"),
    ("cpu_minutes", "CPU min"),
    ("grid", "samples"),
)
QUIET = ("runtime.progress=false", "eval.every=0", "samples.every=0")


def train_for_table(
    recipe: str,
    out: Path,
    max_steps: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    threads: int = 1,
):
    """``genmm.train`` of a shipped recipe (or a recipe file) into a fresh ``out`` on
    ``threads`` threads, its evaluations and sample dumps off -> (run, CPU minutes)."""
    import shutil

    import genmm
    from genmm.plugins import get_manager

    shutil.rmtree(out, ignore_errors=True)
    overrides = [*QUIET, f"runtime.threads={threads}", *overrides]
    manager = get_manager()  # plugins loaded before the clock starts, and what the first
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # Adam imports (torch._dynamo)
    started = time.process_time()
    run = genmm.train(recipe, overrides, out=out, max_steps=max_steps, manager=manager)
    return run, (time.process_time() - started) / 60.0


def quality_figures(
    fake: torch.Tensor,
    reference: torch.Tensor,
    train: torch.Tensor,
    predicted: torch.Tensor,
    classes: int,
    *,
    k: int = 3,
    min_share: float = 0.1,
    kid_subset: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Features of generated images, of the held-out reference and of the real training
    images, and the classes the classifier reads on the generated ones -> the table's figures.
    The floors take as many training images as there are generated ones (a subset fixed by
    ``seed``), as ``image.fd``'s ``floor``; KID's random subsets are drawn from ``seed``."""
    from genmm.metrics import frechet_distance, gaussian_statistics, kernel_inception_distance
    from genmm_image.metrics import precision_recall

    chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    floor_set = train[chosen[: len(fake)]]
    statistics_reference = gaussian_statistics(reference)
    fd = frechet_distance(*gaussian_statistics(fake), *statistics_reference)
    floor = frechet_distance(*gaussian_statistics(floor_set), *statistics_reference)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kid = kernel_inception_distance(fake, reference, subset_size=kid_subset)
        kid_floor = kernel_inception_distance(floor_set, reference, subset_size=kid_subset)
    size = min(len(fake), len(reference))
    precision, recall = precision_recall(reference[:size], fake[:size], k)
    share = torch.bincount(predicted, minlength=classes).double() / max(1, len(predicted))
    return {
        "fd": fd,
        "fd_floor": floor,
        "fd_ratio": fd / floor if floor > 0 else float("inf"),
        "kid": kid,
        "kid_floor": kid_floor,
        "precision": precision,
        "recall": recall,
        "classes_covered": int((share >= min_share / classes).sum()),
        "classes": classes,
    }


def evaluate_for_table(
    run, n_samples: int = 2000, dataset=None, feature_steps: int = 600, seed: int = 0
) -> tuple[dict[str, float], dict]:
    """``n_samples`` samples of a trained run measured against ``dataset`` (default: the run's
    own) -> (figures of :func:`quality_figures`, provenance)."""
    from genmm_image.metrics import feature_network, generated_images, real_features

    dataset = run.dataset if dataset is None else dataset
    features = feature_network(dataset, feature_steps)
    reference = real_features(features, dataset, "held_out")
    train = real_features(features, dataset, "train")
    with run.evaluating(seed=seed):
        images = generated_images(run, n_samples)
    fake, predicted = features(images), features.predict(images)
    figures = quality_figures(fake, reference, train, predicted, dataset.num_classes, seed=seed)
    provenance = {
        "feature_hash": features.hash,
        "n_samples": n_samples,
        "n_reference": len(reference),
        "n_train": len(train),
        "data": dataset.registered_name,
        "image_size": dataset.image_size,
    }
    return figures, provenance


def sample_grid(run, path: Path, n: int = 64, seed: int = 0) -> Path:
    """``n`` samples in an 8-wide png grid, each image enlarged to at least 32 pixels."""
    from genmm_image.writers import make_grid, save_image

    with run.evaluating(seed=seed):
        images = run.sample(n).float().cpu()
    scale = max(1, 32 // images.shape[-1])
    images = images.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    return save_image(make_grid(images, nrow=8, padding=2, pad_value=255), path)


def table_row(name: str, run, figures: dict, provenance: dict, cpu_minutes: float, grid: Path):
    """One JSON line of the table: every column of ``TABLE_COLUMNS`` and the provenance."""
    row = {"recipe": name, "steps": run.step, **figures, "cpu_minutes": cpu_minutes}
    row["grid"] = grid.name
    return {**{key: row[key] for key, _ in TABLE_COLUMNS}, "provenance": provenance}


def markdown_table(rows: list[dict], columns=TABLE_COLUMNS) -> str:
    """The rows as a markdown table; floats to 4 significant figures, grids as images."""

    def cell(key: str, value) -> str:
        if key == "grid":
            return f"![{value}]({value})"
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join(cell(key, row[key]) for key, _ in columns) + " |")
    return "\n".join(lines) + "\n"


def emit_row(row: dict, handle) -> None:
    line = json.dumps(row)
    print(line, flush=True)
    handle.write(line + "\n")
    handle.flush()


def quality_table(args: argparse.Namespace) -> list[dict]:
    names = [r.strip() for r in args.recipes.split(",") if r.strip()] if args.recipes else None
    names = names or list(QUALITY_RECIPES)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(out_dir / "quality.jsonl", "w", encoding="utf-8") as handle:
        for name in names:
            stem = Path(name).stem
            run, minutes = train_for_table(
                name, out_dir / "runs" / stem, args.steps, args.set or [], args.train_threads
            )
            torch.set_num_threads(args.train_threads)
            figures, provenance = evaluate_for_table(run, args.n_samples, None, args.feature_steps)
            grid = sample_grid(run, out_dir / f"{stem}.png")
            row = table_row(stem, run, figures, provenance, minutes, grid)
            emit_row(row, handle)
            rows.append(row)
            run.close()
    (out_dir / "quality.md").write_text(markdown_table(rows), encoding="utf-8")
    return rows


ADA_COLUMNS = (
    ("recipe", "run"),
    ("steps", "steps"),
    ("fd", "FD"),
    ("fd_floor", "floor"),
    ("fd_ratio", "FD / floor"),
    ("fd_train_subset", "FD of the 180 training images"),
    ("kid", "KID"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("classes_covered", "classes covered"),
    ("augment_p", "ADA p at the end"),
    ("cpu_minutes", "CPU min"),
    ("grid", "samples"),
)


def ada_digits(args: argparse.Namespace) -> list[dict]:
    """DCGAN on 10 % of the digits with and without ADA, measured against the usual held-out
    fifth of the digits (see the module docstring)."""
    from genmm.metrics import frechet_distance, gaussian_statistics
    from genmm_image.data import split_indices
    from genmm_image.metrics import feature_network, real_features

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    small = ["data.held_out=0.9", *(args.set or [])]
    arms = {
        "plain": small,
        "ada": [*small, "models.augment={name: image.ada}", "phases.gan.augment=augment"],
    }
    rows = []
    with open(out_dir / "ada.jsonl", "w", encoding="utf-8") as handle:
        for arm, overrides in arms.items():
            run, minutes = train_for_table(
                "dcgan_digits", out_dir / "runs" / f"ada_{arm}", args.steps, overrides,
                args.train_threads,
            )  # fmt: skip
            torch.set_num_threads(args.train_threads)
            data = {**run.recipe["data"], "held_out": 0.2}
            seed = int(run.recipe["seed"])
            reference_data = run.registry.build("datasets", data, seed=seed)
            count = len(reference_data) + len(reference_data.held_out_set())
            trained_on = split_indices(count, run.dataset.arguments["held_out"], seed, "train")
            held = split_indices(count, 0.2, seed, "held_out")
            if set(trained_on.tolist()) & set(held.tolist()):  # one permutation: never
                raise RuntimeError("the 10 % training digits overlap the held-out fifth")
            figures, provenance = evaluate_for_table(
                run, args.n_samples, reference_data, args.feature_steps
            )
            features = feature_network(reference_data, args.feature_steps)
            reference = real_features(features, reference_data, "held_out")
            subset = features(run.dataset.all_images())
            figures["fd_train_subset"] = frechet_distance(
                *gaussian_statistics(subset), *gaussian_statistics(reference)
            )
            augment = run.models.get("augment")
            figures["augment_p"] = float(augment.p) if augment is not None else None
            provenance["n_trained_on"] = len(run.dataset)
            grid = sample_grid(run, out_dir / f"dcgan_digits_{arm}.png")
            row = {"recipe": f"dcgan_digits 10 % {arm}", "steps": run.step, **figures}
            row.update(cpu_minutes=minutes, grid=grid.name)
            row = {**{key: row[key] for key, _ in ADA_COLUMNS}, "provenance": provenance}
            emit_row(row, handle)
            rows.append(row)
            run.close()
        plain, ada = rows
        verdict = {
            "figure": "DCGAN on 10 % of the digits: FD with ADA < FD without (target)",
            "fd_ada": ada["fd"],
            "fd_plain": plain["fd"],
            "met": ada["fd"] < plain["fd"],
            "steps": ada["steps"],
        }
        emit_row(verdict, handle)
    (out_dir / "ada.md").write_text(markdown_table(rows, ADA_COLUMNS), encoding="utf-8")
    return rows


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
    modes = ["speed", "dcgan", "cgan", "augment-speed", "augment-grid", "quality-table"]
    parser.add_argument("what", choices=[*modes, "ada-digits"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="speed, augment-speed: 7 by default")
    parser.add_argument("--train-threads", type=int, default=1, help="training modes")
    parser.add_argument("--evaluate-only", action="store_true", help="reuse an earlier run")
    parser.add_argument("--skip-paper", action="store_true", help="speed: ngf=64 only")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16",
                        help="speed: ours at this precision (bf16: also ours at fp32 and the "
                        "reference at bf16, to attribute the gain)")  # fmt: skip
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="speed: skip the runtime.compile (inductor) candidate")  # fmt: skip
    parser.add_argument(
        "--steps", "--max-steps", type=int, default=None, help="cap training (default: recipe)"
    )
    parser.add_argument("--recipes", default=None, help="quality-table: a,b,... (default: all)")
    parser.add_argument("--set", action="append", help="quality-table/ada-digits: KEY=VALUE")
    parser.add_argument("--n-samples", type=int, default=2000, help="quality-table/ada-digits")
    parser.add_argument("--feature-steps", type=int, default=600, help="the feature network's")
    parser.add_argument("--out-dir", default=str(ROOT / "runs" / "bench_image_quality"))
    parser.add_argument("--p", type=float, default=0.5, help="augment-speed: ADA's p")
    parser.add_argument("--seed", type=int, default=0, help="augment-grid")
    parser.add_argument("--out", default=str(ROOT / "docs" / "plugins" / "image_augment.png"))
    args = parser.parse_args()
    if args.what in ("speed", "augment-speed") and "--repeats" not in sys.argv:
        args.repeats = 7  # the harness's interleaved repeats
    modes = {"speed": speed, "dcgan": quality_dcgan, "cgan": quality_cgan}
    modes.update({"augment-speed": augment_speed, "augment-grid": augment_grid})
    modes.update({"quality-table": quality_table, "ada-digits": ada_digits})
    modes[args.what](args)


if __name__ == "__main__":
    main()
