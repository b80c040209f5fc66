"""Text-plugin benchmarks: one JSON line per figure.

    python benchmarks/bench_text.py speed            # one adversarial G step, B64 N16 V5000 T20
    python benchmarks/bench_text.py sampling         # multinomial vs cumsum + searchsorted
    python benchmarks/bench_text.py quality                   # the recipe's CPU schedule
    python benchmarks/bench_text.py quality --scale paper     # the authors' full schedule
    python benchmarks/bench_text.py quality --budget-s 870    # stop adversarial rounds in time
    python benchmarks/bench_text.py paper-oracle     # NLL of random tokens, own samples
    python benchmarks/bench_text.py d-update         # one D update, this code vs the plain convs
    python benchmarks/bench_text.py quality --recipe seqgan_paper_oracle.yaml --eval-every 5

``quality`` trains ``recipes/seqgan_oracle.yaml`` (or ``--recipe``; through the same
Run/Trainer as ``genmm run``) and reports the oracle NLL (10,000 samples) at the end of each
phase and every ``--eval-every`` adversarial rounds; the paper-oracle recipe gets
``data.params=--params``. ``paper-oracle`` loads the authors' oracle (``--params``, by default
``../shared/data/seqgan_oracle_params.npz``) and prints the oracle NLL of 10,000 sequences of
uniformly random tokens and of 10,000 of its own samples beside the paper's "random 10.310".
``d-update`` times one discriminator update at the paper's settings (64 real + 64 negatives,
Adam through the core) for this plugin's D against the same network with plain convolutions
(conv1d, ReLU, max over time: the code before the max-pooled convolution), interleaved, with
plain and fused Adam. ``--threads`` sets torch's thread count (on a busy 2-core
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


DEFAULT_PARAMS = ROOT.parent / "shared" / "data" / "seqgan_oracle_params.npz"
PAPER_RANDOM_NLL = 10.310  # the paper's table 1, "random"; the authors' log: MLE 9.07 at epoch 120


def bench_paper_oracle(params: str, count: int = 10000, seed: int = 0) -> None:
    """The oracle NLL (per token) of uniformly random tokens and of the oracle's own samples."""
    from genmm_text.data import OracleDataset
    from genmm_text.generator import LSTMGenerator

    torch.manual_seed(seed)
    started = time.perf_counter()
    data = OracleDataset(size=count, held_out=0.0, seed=seed, params=params)
    loaded_s = time.perf_counter() - started
    uniform = torch.randint(0, data.vocab_size, (count, data.max_length))
    fresh = data.oracle.sample(count)
    untrained = LSTMGenerator().eval().sample(count)  # G at the authors' N(0, 0.1) init
    figures = {
        "uniform_random_tokens": data.oracle_nll(uniform),
        "untrained_generator_samples": data.oracle_nll(untrained),
        "oracle_own_samples": data.oracle_nll(fresh),
        "training_data": data.oracle_nll(data.tokens),
    }
    for name, value in figures.items():
        emit(
            figure="paper_oracle_nll",
            of=name,
            value=round(value, 4),
            sequences=count,
            paper_random=PAPER_RANDOM_NLL,
            params=str(params),
        )
    emit(figure="paper_oracle_load_and_sample_s", value=round(loaded_s, 2), sequences=count)


def bench_d_update(repeats: int, per_repeat: int = 2) -> None:
    """One D update (paper D, batch 64 + 64, Adam 1e-4 through the core), interleaved A B A B:
    the plain convolutions (reference) against :class:`MaxPooledConvolution`, each with plain
    and fused Adam."""
    from genmm.testing import MiniRun
    from genmm_text.discriminator import CNNDiscriminator

    class PlainConvolutions(CNNDiscriminator):
        def pooled(self, tokens):  # the reference: conv1d, ReLU, max over time
            embedded = self.embedding(self.pad(tokens)).transpose(1, 2)  # (B, E, T)
            return torch.cat([c(embedded).relu().amax(dim=2) for c in self.convs], dim=1)

    real = torch.randint(0, 5000, (10000, 20))
    negatives = torch.randint(0, 5000, (10000, 20))

    def make(model_class, adam):
        torch.manual_seed(1)
        discriminator = model_class().train()
        run = MiniRun({"discriminator": discriminator}, {}, lambda: None)
        run.add_optimizer("discriminator", default={"name": "adam", "lr": 1e-4, **adam})
        position = [0]

        def update():
            i = position[0]
            position[0] = (i + 64) % 9984
            run.update(
                "discriminator",
                lambda: discriminator.loss(real[i : i + 64], negatives[i : i + 64])[0],
            )

        return update

    configurations = {
        "plain_convs_adam": make(PlainConvolutions, {}),
        "plain_convs_fused_adam": make(PlainConvolutions, {"fused": True}),
        "max_pooled_adam": make(CNNDiscriminator, {}),
        "max_pooled_fused_adam": make(CNNDiscriminator, {"fused": True}),
    }
    for update in configurations.values():
        update()  # warm-up
    times = {name: [] for name in configurations}
    loads = []
    for _ in range(repeats):
        for name, update in configurations.items():
            start = time.perf_counter()
            for _ in range(per_repeat):
                update()
            times[name].append((time.perf_counter() - start) / per_repeat)
        loads.append(round(os.getloadavg()[0], 2))
    reference = statistics.median(times["plain_convs_adam"])
    for name, values in times.items():
        emit(
            figure="d_update_s",
            code=name,
            median=round(statistics.median(values), 4),
            min=round(min(values), 4),
            speedup_vs_plain_adam=round(reference / statistics.median(values), 2),
            repeats=repeats,
            load_averages=loads,
        )


def bench_quality(
    scale: str,
    eval_every: int,
    out: str | None,
    budget_s: float | None,
    extra: list[str],
    resume: str | None = None,
    recipe: str = "seqgan_oracle.yaml",
    params: str | None = None,
) -> None:
    from genmm import hookimpl
    from genmm import recipe as recipes
    from genmm.plugins import get_manager
    from genmm.training.loop import Loop
    from genmm.training.run import Run

    folder = Path(out or tempfile.mkdtemp(prefix=f"seqgan_{scale}_"))
    paper_oracle = "paper_oracle" in recipe
    overrides = [
        *([f"data.params={params}"] if paper_oracle else scale_overrides(scale)),
        *extra,
        "runtime.progress=false",
        "runtime.log_every=50",
        "eval.every=0",
        f"out={folder}",
    ]
    path = ROOT / "recipes" / recipe
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
    parser.add_argument(
        "what", choices=["speed", "sampling", "quality", "paper-oracle", "d-update"]
    )
    parser.add_argument("--recipe", default="seqgan_oracle.yaml", help="quality: recipes/NAME")
    parser.add_argument(
        "--params", default=str(DEFAULT_PARAMS), help="the authors' oracle (.npz or .pkl)"
    )
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
    elif arguments.what == "paper-oracle":
        bench_paper_oracle(arguments.params)
    elif arguments.what == "d-update":
        bench_d_update(max(7, arguments.repeats))
    else:
        bench_quality(
            arguments.scale,
            arguments.eval_every,
            arguments.out,
            arguments.budget_s,
            arguments.overrides,
            arguments.resume,
            arguments.recipe,
            arguments.params,
        )


if __name__ == "__main__":
    main()
