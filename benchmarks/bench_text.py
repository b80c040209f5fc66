"""Text-plugin benchmarks: one JSON line per figure.

    python benchmarks/bench_text.py speed            # one adversarial G step, B64 N16 V5000 T20
    python benchmarks/bench_text.py sampling         # multinomial vs cumsum + searchsorted
    python benchmarks/bench_text.py quality                   # the recipe's CPU schedule
    python benchmarks/bench_text.py quality --scale paper     # the authors' full schedule
    python benchmarks/bench_text.py quality --budget-s 870    # stop adversarial rounds in time

``quality`` trains ``recipes/seqgan_oracle.yaml`` (through the same Run/Trainer as
``genmm run``) and reports the oracle NLL (10,000 samples) at the end of each phase and every
``--eval-every`` adversarial rounds. ``--threads`` sets torch's thread count (on a busy 2-core
machine one thread is often faster for the small ops of training).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

SCALES = {
    # the recipe's defaults: the paper's task, widths and adversarial settings, CPU-sized
    # schedule (30 MLE epochs, 3 D epochs, 50 rounds of 1 G step + 2 D epochs on 2,048 negatives)
    "cpu": [],
    # the authors' schedule: 120 MLE epochs, 50 x 3 D epochs, 200 rounds of 1 G + 5 x 3 D epochs
    "paper": [
        "phases.mle.epochs=120",
        "phases.d_pretrain.epochs=150",
        "phases.adversarial.max_steps=200",
        "phases.adversarial.d_steps=5",
        "phases.adversarial.d_epochs=3",
        "phases.adversarial.negatives=10000",
    ],
    # the CI-scale experiment of tests/text/test_training.py (its one copy, read from there
    # only for this scale, so the other figures need no test dependencies)
    "ci": None,
}


def scale_overrides(scale: str) -> list[str]:
    if scale == "ci":
        from tests.text.test_training import CI_SCALE

        return list(CI_SCALE)
    return SCALES[scale]


def emit(**record) -> None:
    record["load_average_1min"] = round(os.getloadavg()[0], 2)
    record["threads"] = torch.get_num_threads()
    print(json.dumps(record), flush=True)


def bench_sampling(repeats: int = 20) -> None:
    from genmm_text.sampling import sample_categorical

    logits = torch.randn(64, 5000)
    for name, draw in (
        ("multinomial", lambda: torch.multinomial(logits.softmax(-1), 1)),
        ("cumsum_searchsorted", lambda: sample_categorical(logits)),
    ):
        draw()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            draw()
            times.append(time.perf_counter() - start)
        emit(figure=f"sample_64x5000_{name}_ms", value=round(statistics.median(times) * 1e3, 3))


def bench_speed(repeats: int, batch: int, rollouts: int, vocab: int, length: int) -> None:
    from genmm.testing import MiniRun
    from genmm_text.discriminator import CNNDiscriminator
    from genmm_text.generator import LSTMGenerator
    from genmm_text.trainer import G_OPTIMIZER

    torch.manual_seed(0)
    generator = LSTMGenerator(vocab, 32, 32, length)
    rollout_model = LSTMGenerator(vocab, 32, 32, length).requires_grad_(False)
    discriminator = CNNDiscriminator(vocab, max_length=length).eval()
    # the update goes through the core's optimisation path, as in training (clip at 5)
    run = MiniRun({"generator": generator}, {}, lambda: None, clip_grad_norm=5.0)
    run.add_optimizer("generator", default=G_OPTIMIZER)
    rows = []
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        cpu_start = time.process_time()
        tokens = generator.sample(batch)
        sampled = time.perf_counter()
        completions = rollout_model.rollout(tokens, rollouts)
        rolled = time.perf_counter()
        rewards = discriminator.rollout_rewards(tokens, completions)
        scored = time.perf_counter()
        run.update("generator", lambda x=tokens, q=rewards: -(generator.log_probs(x) * q).sum())
        end = time.perf_counter()
        if repeat:  # the first is a warm-up
            rows.append(
                (end - start, rolled - sampled, scored - rolled, time.process_time() - cpu_start)
            )
    total, rollout, reward, cpu = (statistics.median(column) for column in zip(*rows))
    setting = {"batch": batch, "rollouts": rollouts, "vocab": vocab, "length": length}
    emit(figure="adversarial_g_step_s", value=round(total, 3), **setting)
    emit(figure="rollout_sampling_s", value=round(rollout, 3), **setting)
    emit(figure="rollout_rewards_s", value=round(reward, 3), **setting)
    emit(figure="adversarial_g_step_cpu_s", value=round(cpu, 3), **setting)


def bench_quality(
    scale: str,
    eval_every: int,
    out: str | None,
    budget_s: float | None,
    extra: list[str],
    resume: str | None = None,
) -> None:
    from genmm import hookimpl
    from genmm import recipe as recipes
    from genmm.plugins import get_manager
    from genmm.training.loop import Loop
    from genmm.training.run import Run

    folder = Path(out or tempfile.mkdtemp(prefix=f"seqgan_{scale}_"))
    overrides = [
        *scale_overrides(scale),
        *extra,
        "runtime.progress=false",
        "runtime.log_every=50",
        "eval.every=0",
        f"out={folder}",
    ]
    path = ROOT / "recipes" / "seqgan_oracle.yaml"
    manager = get_manager()
    resolved = recipes.resolve(path, overrides)
    recipes.validate(resolved, manager.registry, str(path))
    started = time.perf_counter()
    run = Run(resolved, manager, recipe_file=str(path), out=folder)
    trainer = Loop(run)
    phase_started = {"t": time.perf_counter()}

    class Report:
        """Oracle NLL at the end of each phase and every ``eval_every`` adversarial rounds."""

        @staticmethod
        def evaluate(label: str, **extra) -> None:
            with run.evaluating(seed=resolved["seed"] + 7919):
                figures = run.metrics[0](run)
            emit(
                figure="nll_oracle",
                scale=scale,
                after=label,
                value=round(figures["nll_oracle"], 4),
                elapsed_s=round(time.perf_counter() - started, 1),
                **extra,
            )

    original = trainer._run_phase

    def run_phase(index, name, spec, phase_step, resume):
        phase_started["t"] = time.perf_counter()
        stopped = original(index, name, spec, phase_step, resume)
        emit(
            figure="phase_seconds",
            scale=scale,
            phase=name,
            value=round(time.perf_counter() - phase_started["t"], 1),
        )
        if name != "d_pretrain":
            Report.evaluate(name)
        return stopped

    trainer._run_phase = run_phase
    if eval_every:

        class Hook:
            @hookimpl
            def genmm_step_end(self, run, step, logs):
                if run.phase_name == "adversarial" and run.trainer.rounds % eval_every == 0:
                    logs = {k: round(float(v), 4) for k, v in logs.items()}
                    Report.evaluate("adversarial", round=run.trainer.rounds, **logs)

        manager.pm.register(Hook(), name="bench_text_eval")
    if budget_s:

        class Budget:
            """Stop (as on Ctrl-C: the phase ends cleanly) once ``budget_s`` have passed."""

            @hookimpl
            def genmm_step_end(self, run, step, logs):
                if time.perf_counter() - started > budget_s and not run.stop_requested:
                    run.stop_requested = "time budget"
                    emit(figure="stopped_for_budget", scale=scale, phase=run.phase_name, step=step)

        manager.pm.register(Budget(), name="bench_text_budget")
    if resume:  # e.g. the checkpoint at the end of MLE of an earlier run: skip that phase
        trainer.resume_from(Path(resume))
    else:
        Report.evaluate("initialisation")
    trainer.fit()
    emit(figure="total_seconds", scale=scale, value=round(time.perf_counter() - started, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "sampling", "quality"])
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--out", default=None, help="run folder of the quality experiment")
    parser.add_argument("--budget-s", type=float, default=None, help="stop training after this")
    parser.add_argument("--resume", default=None, help="start from this checkpoint folder")
    parser.add_argument("overrides", nargs="*", help="recipe overrides (key.path=value)")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    if arguments.what == "sampling":
        bench_sampling()
    elif arguments.what == "speed":
        bench_speed(arguments.repeats, 64, 16, 5000, 20)
    else:
        bench_quality(
            arguments.scale,
            arguments.eval_every,
            arguments.out,
            arguments.budget_s,
            arguments.overrides,
            arguments.resume,
        )


if __name__ == "__main__":
    main()
