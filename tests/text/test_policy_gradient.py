"""The policy-gradient update of ``text.seqgan_adversarial`` (eq. 8 of Yu et al. 2017, as the
authors' code): the loss is -sum Q log G over the batch's tokens, and its gradient is clipped
at norm 5 (the phase key ``clip_grad_norm``, applied by the core's update path), so every update
takes the same step however small the rewards."""

from __future__ import annotations

import torch

from genmm.testing import MiniRun
from genmm_text.discriminator import CNNDiscriminator
from genmm_text.generator import LSTMGenerator
from genmm_text.trainer import SeqGANTrainer

VOCAB, LENGTH, BATCH = 20, 6, 64


def make_phase(clip: float | None) -> tuple[SeqGANTrainer, LSTMGenerator, MiniRun]:
    torch.manual_seed(0)
    generator = LSTMGenerator(vocab_size=VOCAB, max_length=LENGTH, embedding_dim=8, hidden_dim=8)
    discriminator = CNNDiscriminator(
        vocab_size=VOCAB, max_length=LENGTH, filter_sizes=[1, 2], num_filters=[4, 4]
    )
    run = MiniRun(
        {"generator": generator, "discriminator": discriminator},
        {},
        lambda: {"real": torch.randint(1, VOCAB, (BATCH, LENGTH))},
        batch_size=BATCH,
        optimizers={"generator": {"name": "sgd", "lr": 1.0}},
        clip_grad_norm=clip,
    )
    phase = SeqGANTrainer(rollouts=2, d_steps=0)
    phase.setup(run)
    return phase, generator, run


def update(clip: float | None, rewards: torch.Tensor) -> torch.Tensor:
    """The parameter change of one G step with the given (B, T) rewards (SGD, rate 1)."""
    phase, generator, run = make_phase(clip)
    phase.rewards = lambda tokens: rewards  # type: ignore[method-assign]
    before = torch.cat([p.detach().flatten().clone() for p in generator.parameters()])
    torch.manual_seed(1)
    logs = phase.generator_step(run)
    assert float(logs["reward"]) == float(rewards.mean())
    return torch.cat([p.detach().flatten() for p in generator.parameters()]) - before


def test_loss_is_summed_over_tokens():
    rewards = torch.rand(BATCH, LENGTH)
    step = update(None, rewards)
    # the same tokens (same seed) and the gradient of -sum Q log G, by hand
    _, reference, _ = make_phase(clip=None)
    torch.manual_seed(1)
    tokens = reference.sample(BATCH)
    (-(reference.log_probs(tokens) * rewards).sum()).backward()
    gradient = torch.cat(  # parameters without a gradient (torch's frozen second bias) stay
        [
            (torch.zeros_like(p) if p.grad is None else p.grad).flatten()
            for p in reference.parameters()
        ]
    )
    assert torch.allclose(step, -gradient, atol=1e-5)
    assert float(step.norm()) > 5.0  # summed, the unclipped step is long


def test_clipped_step_has_norm_five_whatever_the_reward_scale():
    rewards = torch.rand(BATCH, LENGTH)
    for scale in (1.0, 0.5):  # D's rewards halved: the clipped step stays as long
        assert float(update(None, rewards * scale).norm()) > 5.0
        assert abs(float(update(5.0, rewards * scale).norm()) - 5.0) < 1e-3


def test_optimisers_default_to_the_authors_and_take_the_recipe_keys():
    """Adam 0.01 for G and 1e-4 for D unless the phase's ``optimizers`` say otherwise; the
    policy-gradient and D updates go through the core (no optimiser is stepped elsewhere)."""
    torch.manual_seed(0)
    generator = LSTMGenerator(vocab_size=VOCAB, max_length=LENGTH, embedding_dim=8, hidden_dim=8)
    discriminator = CNNDiscriminator(
        vocab_size=VOCAB, max_length=LENGTH, filter_sizes=[1, 2], num_filters=[4, 4]
    )
    models = {"generator": generator, "discriminator": discriminator}
    batch = lambda: {"real": torch.randint(1, VOCAB, (8, LENGTH))}  # noqa: E731
    run = MiniRun(models, {}, batch, batch_size=8)
    phase = SeqGANTrainer(rollouts=2, d_steps=1, d_epochs=1, negatives=16)
    phase.setup(run)
    g, d = (run.optimization.optimizers[role] for role in ("generator", "discriminator"))
    assert isinstance(g, torch.optim.Adam) and g.param_groups[0]["lr"] == 0.01
    assert isinstance(d, torch.optim.Adam) and d.param_groups[0]["lr"] == 1e-4
    logs = run.step_once(phase)
    assert set(logs) == {"g_loss", "reward", "d_loss", "d_accuracy"}
    # one G update and ceil(16 / 8) x 1 epoch D updates, all through run.update
    assert run.optimization.updates == {"generator": 1, "discriminator": 2}
    other = MiniRun(models, {}, batch, batch_size=8, optimizers={"discriminator": {"lr": 1e-3}})
    SeqGANTrainer().setup(other)
    d = other.optimization.optimizers["discriminator"]
    assert isinstance(d, torch.optim.Adam) and d.param_groups[0]["lr"] == 1e-3
