"""Text-plugin benchmarks: one JSON line per figure.

    python benchmarks/bench_text.py speed            # one adversarial G step, B64 N16 V5000 T20
    python benchmarks/bench_text.py sampling         # multinomial vs cumsum + searchsorted
    python benchmarks/bench_text.py quality                   # the recipe's CPU schedule
    python benchmarks/bench_text.py quality --scale paper     # the authors' full schedule
    python benchmarks/bench_text.py quality --budget-s 870    # stop adversarial rounds in time
    python benchmarks/bench_text.py paper-oracle     # NLL of random tokens, own samples
    python benchmarks/bench_text.py d-update         # one D update, this code vs the plain convs
    python benchmarks/bench_text.py quality --recipe seqgan_paper_oracle.yaml --eval-every 5
    python benchmarks/bench_text.py quality --recipe news.yaml --eval-every 5

``quality`` trains ``recipes/seqgan_oracle.yaml`` (or ``--recipe``; through the same
Run/Trainer as ``genmm run``) and reports the oracle NLL (10,000 samples) at the end of each
phase and every ``--eval-every`` adversarial rounds; the paper-oracle recipe gets
``data.params=--params``. On a recipe of real text (``news.yaml``) every metric of its
``eval`` is reported instead (held-out NLL, BLEU, self-BLEU) with ten sentences written beside
them, so the figures after ``mle`` are the MLE-only baseline of the same generator.
``paper-oracle`` loads the authors' oracle (``--params``, by default
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
sys.path[:0] = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "benchmarks")]

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


class ReferenceGenerator(torch.nn.Module):
    """TextGAN-PyTorch's ``LSTMGenerator`` rebuilt (williamSYSU/TextGAN-PyTorch,
    ``models/generator.py``): embedding -> LSTM -> linear -> log-softmax over the vocabulary at
    every position, parameters U(-0.05, 0.05); 333,448 parameters at V 5000, E 32, H 32."""

    def __init__(self, vocab: int = 5000, embedding: int = 32, hidden: int = 32, length: int = 20):
        super().__init__()
        self.vocab, self.hidden, self.length = vocab, hidden, length
        self.embeddings = torch.nn.Embedding(vocab, embedding)
        self.lstm = torch.nn.LSTM(embedding, hidden, batch_first=True)
        self.lstm2out = torch.nn.Linear(hidden, vocab)
        for parameter in self.parameters():
            parameter.data.uniform_(-0.05, 0.05)

    def init_hidden(self, batch: int):
        return torch.zeros(1, batch, self.hidden), torch.zeros(1, batch, self.hidden)

    def forward(self, tokens, hidden):  # (B, T) or (B,) -> (B*T, V) log-probabilities, state
        embedded = self.embeddings(tokens)
        if tokens.dim() == 1:
            embedded = embedded.unsqueeze(1)
        out, hidden = self.lstm(embedded, hidden)
        out = self.lstm2out(out.contiguous().view(-1, self.hidden))
        return torch.log_softmax(out, dim=-1), hidden

    def sample(self, batch: int, start: int = 0):
        samples = torch.zeros(batch, self.length, dtype=torch.long)
        hidden, token = self.init_hidden(batch), torch.full((batch,), start, dtype=torch.long)
        for position in range(self.length):
            out, hidden = self(token, hidden)
            token = torch.multinomial(out.exp(), 1).view(-1)
            samples[:, position] = token
        return samples

    def pg_loss(self, inputs, target, rewards):  # their batchPGLoss: -sum(log p(x_t) Q_t)
        out = self(inputs, self.init_hidden(len(inputs)))[0].view(len(inputs), self.length, -1)
        chosen = (out * torch.nn.functional.one_hot(target, self.vocab).float()).sum(-1)
        return -(chosen * rewards).sum()


class ReferenceDiscriminator(torch.nn.Module):
    """TextGAN-PyTorch's ``SeqGAN_D`` rebuilt (``models/discriminator.py``, the SeqGAN filter
    sizes 1-10, 15, 20): Conv2d over (T, E), ReLU, max-pool over time, a one-layer highway,
    dropout 0.25, two logits; 4,085,282 parameters at V 5000, E 64."""

    def __init__(self, vocab: int = 5000, embedding: int = 64):
        super().__init__()
        from genmm_text.discriminator import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS

        features = sum(PAPER_NUM_FILTERS)
        self.embeddings = torch.nn.Embedding(vocab, embedding)
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv2d(1, n, (f, embedding))
            for f, n in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS)
        )
        self.highway = torch.nn.Linear(features, features)
        self.feature2out = torch.nn.Linear(features, 2)
        self.dropout = torch.nn.Dropout(0.25)
        for parameter in self.parameters():
            parameter.data.uniform_(-0.05, 0.05)

    def forward(self, tokens):  # (B, T) -> (B, 2)
        embedded = self.embeddings(tokens).unsqueeze(1)
        convs = [torch.relu(conv(embedded)).squeeze(3) for conv in self.convs]
        pred = torch.cat([c.amax(dim=2) for c in convs], 1)  # max_pool1d over the whole length
        highway = self.highway(pred)
        gate = torch.sigmoid(highway)
        pred = gate * torch.relu(highway) + (1.0 - gate) * pred
        return self.feature2out(self.dropout(pred))


def reference_rewards(generator, discriminator, sentences, rollouts: int, batched: bool):
    """Q of every prefix. ``batched=False`` is TextGAN-PyTorch's ``ROLLOUT.get_reward``: for
    each rollout and each prefix length, the prefix re-read from the start, the rest drawn one
    token at a time, D run on that batch (N x T calls of each). ``batched=True`` is the same
    networks with our one trick of the rollout: every prefix's N completions drawn as one
    recurrence of N*(T-1)*B lanes from the teacher-forced states, D run once on all of them."""
    batch, length = sentences.shape
    with torch.no_grad():
        if not batched:
            rewards = torch.zeros(rollouts * length, batch)
            index = 0
            for _ in range(rollouts):
                for given in range(1, length + 1):
                    out, hidden = generator(sentences[:, :given], generator.init_hidden(batch))
                    out = out.view(batch, -1, generator.vocab)[:, -1]
                    samples = torch.zeros(batch, length, dtype=torch.long)
                    samples[:, :given] = sentences[:, :given]
                    for position in range(given, length):
                        token = torch.multinomial(out.exp(), 1).view(-1)
                        samples[:, position] = token
                        out, hidden = generator(token, hidden)
                    rewards[index] = torch.softmax(discriminator(samples), -1)[:, 1]
                    index += 1
            # (their view of the (N*T, B) rows as (B, T, N), kept: it is what they compute)
            return rewards.view(batch, length, rollouts).mean(-1)
        width = rollouts * batch
        samples = sentences.repeat((length - 1) * rollouts, 1)  # block g-1: N*B lanes of prefix g
        outs = h = c = None
        for position in range(1, length):
            # the N*B lanes of prefix length `position` join from its teacher-forced state
            out, (h_new, c_new) = generator(sentences[:, :position], generator.init_hidden(batch))
            last = out.view(batch, -1, generator.vocab)[:, -1].repeat(rollouts, 1)
            h_new, c_new = h_new.repeat(1, rollouts, 1), c_new.repeat(1, rollouts, 1)
            outs = last if outs is None else torch.cat([outs, last])
            h = h_new if h is None else torch.cat([h, h_new], dim=1)
            c = c_new if c is None else torch.cat([c, c_new], dim=1)
            token = torch.multinomial(outs.exp(), 1).view(-1)
            samples[: position * width, position] = token
            if position + 1 < length:
                outs, (h, c) = generator(token, (h, c))
        probability = torch.softmax(discriminator(samples), -1)[:, 1]
        rewards = probability.view(length - 1, rollouts, batch).mean(1).T  # (B, T-1)
        final = torch.softmax(discriminator(sentences), -1)[:, 1:]
        return torch.cat([rewards, final], dim=1)


def reference_g_step(batch: int, rollouts: int, vocab: int, length: int, batched: bool):
    """One adversarial G step of TextGAN-PyTorch's SeqGAN (``adv_train_generator``): sample a
    batch, rewards by ``reference_rewards``, their PG loss, plain Adam (lr 0.01) step."""
    torch.manual_seed(0)
    generator = ReferenceGenerator(vocab, 32, 32, length)
    discriminator = ReferenceDiscriminator(vocab).eval()
    optimizer = torch.optim.Adam(generator.parameters(), lr=0.01)

    def step():
        with torch.no_grad():
            target = generator.sample(batch)
        inputs = torch.cat([torch.zeros(batch, 1, dtype=torch.long), target[:, :-1]], dim=1)
        rewards = reference_rewards(generator, discriminator, target, rollouts, batched)
        loss = generator.pg_loss(inputs, target, rewards)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def our_g_step(batch: int, rollouts: int, vocab: int, length: int):
    """One adversarial G step of this plugin: sample, batched rollouts (fused sampler), rewards
    from prefix-shared D windows, the update through the core's optimisation path (clip 5)."""
    from genmm.testing import MiniRun
    from genmm_text.discriminator import CNNDiscriminator
    from genmm_text.generator import LSTMGenerator
    from genmm_text.trainer import G_OPTIMIZER

    torch.manual_seed(0)
    generator = LSTMGenerator(vocab, 32, 32, length)
    rollout_model = LSTMGenerator(vocab, 32, 32, length).requires_grad_(False)
    discriminator = CNNDiscriminator(vocab, max_length=length).eval()
    run = MiniRun({"generator": generator}, {}, lambda: None, clip_grad_norm=5.0)
    run.add_optimizer("generator", default=G_OPTIMIZER)
    parts: dict[str, list[float]] = {"rollout_sampling_s": [], "rollout_rewards_s": []}

    def step():
        tokens = generator.sample(batch)
        started = time.perf_counter()
        completions = rollout_model.rollout(tokens, rollouts)
        rolled = time.perf_counter()
        rewards = discriminator.rollout_rewards(tokens, completions)
        parts["rollout_sampling_s"].append(rolled - started)
        parts["rollout_rewards_s"].append(time.perf_counter() - rolled)
        run.update("generator", lambda x=tokens, q=rewards: -(generator.log_probs(x) * q).sum())

    return step, parts


def bench_speed(repeats: int, batch: int, rollouts: int, vocab: int, length: int) -> None:
    """Ours, TextGAN-PyTorch's algorithm and the same with batched rollouts, interleaved."""
    from harness import interleaved, report

    ours, parts = our_g_step(batch, rollouts, vocab, length)
    candidates = {
        "ours": ours,
        "reference": reference_g_step(batch, rollouts, vocab, length, batched=False),
        "reference_batched": reference_g_step(batch, rollouts, vocab, length, batched=True),
    }
    stats = interleaved(candidates, repeats=repeats, flops=True)
    setting = {"batch": batch, "rollouts": rollouts, "vocab": vocab, "length": length}
    setting["threads"] = torch.get_num_threads()
    report("seqgan_adversarial_g_step", stats, "ours", "reference", target=20.0, **setting)
    report("seqgan_adversarial_g_step_vs_batched", stats, "ours", "reference_batched", **setting)
    report("seqgan_batched_rollouts_alone", stats, "reference_batched", "reference", **setting)
    for name, values in parts.items():
        emit(figure=name, value=round(statistics.median(values[1:]), 3), **setting)


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

    def make(model_class, adam, precision="fp32"):
        torch.manual_seed(1)
        discriminator = model_class().train()
        run = MiniRun({"discriminator": discriminator}, {}, lambda: None, precision=precision)
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
        "max_pooled_fused_adam_bf16": make(CNNDiscriminator, {"fused": True}, "bf16"),
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
            figures: dict = {}
            with run.evaluating(seed=resolved["seed"] + 7919):
                for metric in run.metrics:
                    figures.update(metric(run))
            elapsed = round(time.perf_counter() - started, 1)
            if "nll_oracle" in figures:  # the oracle recipes: one figure, as the authors log it
                value = round(figures.pop("nll_oracle"), 4)
                emit(figure="nll_oracle", scale=scale, after=label, value=value,
                     elapsed_s=elapsed, **extra)  # fmt: skip
            if figures:  # real text (news.yaml): every metric, and ten sentences beside them
                figures = {key: round(float(value), 4) for key, value in figures.items()}
                written = run.writer.generate(run, 10, folder / f"sentences-{label}.txt")
                emit(figure="text_metrics", recipe=recipe, after=label, elapsed_s=elapsed,
                     sentences=str(written[0]), **figures, **extra)  # fmt: skip

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
    parser.add_argument("--repeats", type=int, default=7)
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
