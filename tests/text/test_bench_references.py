"""The reference architectures rebuilt in ``benchmarks/bench_text.py``: the sizes the authors'
code gives, and rollouts that keep every prefix (the speed figures compare like with like)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("bench_text", ROOT / "benchmarks" / "bench_text.py")
bench_text = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_text)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_reference_sizes_are_textgan_pytorchs():
    # G: 5000*32 + 4*(32*32 + 32*32 + 2*32) + 32*5000 + 5000; D: 5000*64 + sum n*(f*64 + 1)
    # + the one-layer highway 1720^2 + 1720 + the 1720 x 2 output
    assert count(bench_text.ReferenceGenerator()) == 333_448
    assert count(bench_text.ReferenceDiscriminator()) == 4_085_282


class Recorder(torch.nn.Module):
    """A discriminator that keeps what it is shown and says 'real' with probability 1/2."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self.seen.append(tokens.clone())
        return torch.zeros(len(tokens), 2)


@pytest.mark.parametrize("batched", [False, True])
def test_reference_rollouts_keep_every_prefix(batched):
    torch.manual_seed(0)
    batch, rollouts, length = 3, 2, 6
    generator = bench_text.ReferenceGenerator(vocab=50, length=length)
    sentences = generator.sample(batch)
    recorder = Recorder()
    rewards = bench_text.reference_rewards(generator, recorder, sentences, rollouts, batched)
    assert rewards.shape == (batch, length)
    assert torch.allclose(rewards, torch.full_like(rewards, 0.5))
    shown = torch.cat(recorder.seen)
    rows = rollouts * (length - 1) * batch + batch if batched else rollouts * length * batch
    assert len(shown) == rows
    if batched:  # block g-1 holds the N*B completions of prefix g, then x itself
        blocks = shown[:-batch].view(length - 1, rollouts, batch, length)
        for given in range(1, length):
            expected = sentences[:, :given].expand(rollouts, batch, given)
            assert torch.equal(blocks[given - 1, :, :, :given], expected)
        assert torch.equal(shown[-batch:], sentences)
    else:  # one call per rollout and prefix length, in that order
        calls = shown.view(rollouts, length, batch, length)
        for given in range(1, length + 1):
            prefix = sentences[:, :given].expand(rollouts, -1, -1)
            assert torch.equal(calls[:, given - 1, :, :given], prefix)
    # the completions are drawn, not copied: some token after a short prefix differs from x
    assert not torch.equal(shown[:batch, 1:], sentences[:, 1:])
