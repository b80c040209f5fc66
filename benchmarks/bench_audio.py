"""Audio-plugin benchmarks: one JSON line per figure.

    python benchmarks/bench_audio.py synthesis     # kHz of a 10 s mel, ngf 32, weight norm folded
    python benchmarks/bench_audio.py step          # one MelGAN G+D step, batch 4 x 8,192 samples
    python benchmarks/bench_audio.py memory        # peak RSS of a training step at batch 16
    python benchmarks/bench_audio.py quality       # recipes/speech.yaml, then model vs Griffin-Lim
    python benchmarks/bench_audio.py all           # synthesis, step and memory

References on this kind of 2-core CPU (FACTS.md): the official melgan-neurips generator
synthesises 120 kHz with weight norm folded; its training step at batch 4 x 8,192 takes 4.5 s.

``step`` is the paper's step (Kumar et al. 2019, sec. 3) through the core's path (``core.gan``
on a ``MiniRun``): a discriminator step on the hinge loss of three scales, then a generator
step on hinge + 10 x feature matching, Adam 1e-4, betas (0.5, 0.9). ``memory`` runs one
such step at batch 16 in a fresh process and reports ``resource.getrusage(RUSAGE_SELF)
.ru_maxrss`` (peak resident set size, which includes the ~0.4 GB of the torch import) and the
growth over the RSS before the step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

from genmm.losses import FeatureMatchingLoss, HingeLoss  # noqa: E402
from genmm.testing import MiniRun  # noqa: E402
from genmm.training import GANTrainer  # noqa: E402
from genmm_audio.discriminator import MultiScaleDiscriminator  # noqa: E402
from genmm_audio.generator import MelGANGenerator, fold_weight_norm  # noqa: E402


def emit(**figure) -> None:
    figure["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine
    print(json.dumps(figure), flush=True)


def synthesis(seconds: float = 10.0, repeats: int = 5, ngf: int = 32) -> None:
    """Vocode a ``seconds``-long mel with the folded generator; best and median of ``repeats``
    (wall clock), plus the single-thread rate per CPU-second, which other processes on a
    shared machine disturb much less."""
    torch.manual_seed(0)
    frames = round(seconds * 22050 / 256)  # 861 frames for 10 s
    mel = torch.randn(1, 80, frames) - 2.0  # (1, 80, N): log10 mel values of speech
    generator = fold_weight_norm(MelGANGenerator(ngf=ngf))
    times = []
    with torch.inference_mode():
        generator(mel)  # warm-up (oneDNN primitive creation)
        for _ in range(repeats):
            started = time.perf_counter()
            audio = generator(mel)  # (1, 1, N * 256)
            times.append(time.perf_counter() - started)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        generator(mel)
        cpu = []
        for _ in range(3):
            started = time.process_time()
            generator(mel)
            cpu.append(time.process_time() - started)
        torch.set_num_threads(threads)
    samples = audio.shape[-1]
    emit(
        figure="synthesis_khz_per_cpu_second_1thread",
        value=round(samples / min(cpu) / 1000, 1),
        unit="kHz",
        ngf=ngf,
        note="process time of one thread; two idle cores would give up to twice this",
    )
    for name, value in (("best", min(times)), ("median", statistics.median(times))):
        emit(
            figure=f"synthesis_khz_{name}",
            value=round(samples / value / 1000, 1),
            unit="kHz",
            real_time_factor=round(samples / 22050 / value, 2),
            audio_seconds=round(samples / 22050, 2),
            ngf=ngf,
            threads=torch.get_num_threads(),
            target=">= 180 kHz",
        )


def gan_step(batch: int, segment: int = 8192, ngf: int = 32, ndf: int = 16):
    """Models, optimisers and one step function of the paper's training loop, through the
    core's path (``core.gan`` on a :class:`genmm.testing.MiniRun`), as ``genmm run`` steps."""
    torch.manual_seed(0)
    generator, discriminator = MelGANGenerator(ngf=ngf), MultiScaleDiscriminator(ndf=ndf)
    real = 0.3 * torch.randn(batch, 1, segment)  # (B, 1, T)
    mel = torch.randn(batch, 80, segment // 256) - 2.0  # (B, 80, T / 256)
    melgan = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]}
    run = MiniRun(
        {"generator": generator, "discriminator": discriminator},
        {"adversarial": HingeLoss(), "feature_matching": FeatureMatchingLoss(weight=10.0)},
        lambda: {"real": real, "condition": mel},
        batch_size=batch,
        optimizers={"generator": melgan, "discriminator": melgan},
    )
    trainer = GANTrainer()
    trainer.setup(run)
    return lambda: run.step_once(trainer)


def training_step(batch: int = 4, repeats: int = 3) -> None:
    step = gan_step(batch)
    step()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    emit(
        figure="train_step_seconds",
        value=round(statistics.median(times), 3),
        best=round(min(times), 3),
        unit="s",
        batch=batch,
        segment=8192,
        threads=torch.get_num_threads(),
        target="<= 3.5 s",
    )


def memory(batch: int = 16) -> None:
    """Run one step at ``batch`` in a fresh process (so the peak is this step's alone)."""
    code = (
        "import resource, sys, json; sys.argv = ['x']; "
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench_audio as b; "
        f"step = b.gan_step({batch}); "
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; step(); "
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "print(json.dumps([before, after]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    before, after = json.loads(output.strip().splitlines()[-1])
    emit(
        figure="train_peak_rss_mb",
        value=round(after / 1024, 1),
        step_growth_mb=round((after - before) / 1024, 1),
        unit="MB",
        batch=batch,
        segment=8192,
        method="resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh process, one G+D step",
    )


def quality(out: str, overrides: list[str], limit: float) -> None:
    """Train recipes/speech.yaml with its defaults (plus ``overrides``), then ``genmm eval``.
    A run still going after ``limit`` seconds is stopped with SIGTERM (genmm saves a checkpoint
    and stops) and the last checkpoint is evaluated."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "genmm.cli", "run", str(ROOT / "recipes" / "speech.yaml")]
    process = subprocess.Popen([*command, "--out", out, "runtime.progress=false", *overrides])
    try:
        process.wait(timeout=limit)
        stopped = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait()
        stopped = True
    emit(
        figure="train_wall_seconds",
        value=round(time.perf_counter() - started, 1),
        unit="s",
        stopped_at_limit=stopped,
        limit_s=limit,
    )
    result = subprocess.run(
        [sys.executable, "-m", "genmm.cli", "eval", out], capture_output=True, text=True, check=True
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    emit(figure="trained_steps", value=figures.get("step"), checkpoint=figures.get("checkpoint"))
    for key in ("mel_l1", "mrstft", "stoi", "pesq"):
        if key in figures:
            model, baseline = figures[key], figures.get(f"{key}_griffin_lim")
            better = None if baseline is None else (model > baseline if key in ("stoi", "pesq")
                                                    else model < baseline)  # fmt: skip
            emit(figure=f"heldout_{key}", model=model, griffin_lim_32=baseline, model_better=better)
    emit(figure="synthesis_khz_eval", value=figures.get("synthesis_khz"), unit="kHz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["synthesis", "step", "memory", "quality", "all"])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 cores here)")
    parser.add_argument("--out", default="runs/speech_quality", help="quality: the run folder")
    parser.add_argument("--limit", type=float, default=900.0, help="quality: training seconds")
    parser.add_argument("overrides", nargs="*", help="quality: recipe overrides (k.p=v)")
    args = parser.parse_intermixed_args()  # overrides may follow the options
    torch.set_num_threads(args.threads)
    if args.what in ("synthesis", "all"):
        synthesis()
    if args.what in ("step", "all"):
        training_step()
    if args.what in ("memory", "all"):
        memory()
    if args.what == "quality":
        quality(args.out, args.overrides, args.limit)
    emit(figure="max_rss_this_process_mb", value=round(resource_mb(), 1), unit="MB")


def resource_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
