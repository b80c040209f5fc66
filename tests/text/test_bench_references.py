"""The reference architectures rebuilt in ``benchmarks/bench_text.py``: the sizes the authors'
code gives, and rollouts that keep every prefix (the speed figures compare like with like)."""

from __future__ import annotations

import importlib.util
import json
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


def test_quality_on_real_text_reports_every_metric_and_writes_sentences(tmp_path, capsys):
    """``quality --recipe news.yaml``: the recipe's metrics after each phase (the figures after
    ``mle`` are the MLE-only baseline) and ten sentences beside them."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n".join(
            f"The government met on day {i}. Fires burned near town {i % 7}. "
            "Officials met in Sydney."
            for i in range(80)
        )
        + "\n",
        encoding="utf-8",
    )
    tiny = [
        "data.name=text.corpus", f"data.path={corpus}", "data.vocab_size=300",
        "data.max_length=16", "models.generator.vocab_size=300",
        "models.generator.max_length=16", "models.discriminator.vocab_size=300",
        "models.discriminator.max_length=16", "models.generator.embedding_dim=8",
        "models.generator.hidden_dim=8", "phases.mle.epochs=1", "phases.d_pretrain.epochs=1",
        "phases.d_pretrain.negatives=16", "phases.adversarial.max_steps=1",
        "phases.adversarial.rollouts=2", "phases.adversarial.batch_size=4",
        "phases.adversarial.negatives=8", "phases.adversarial.d_steps=1",
        "phases.adversarial.d_epochs=1",
        "eval.metrics=[text.nll_test, {name: text.bleu, n_samples: 8}, "
        "{name: text.self_bleu, n_samples: 8}]",
    ]  # fmt: skip
    out = tmp_path / "news"
    bench_text.bench_quality("cpu", 0, str(out), None, tiny, recipe="news.yaml")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    reported = {r["after"]: r for r in lines if r["figure"] == "text_metrics"}
    assert set(reported) == {"initialisation", "mle", "adversarial"}
    assert not [r for r in lines if r["figure"] == "nll_oracle"]
    for record in reported.values():
        assert record["nll_test"] > 0
        assert all(0 <= record[f"{kind}{n}"] <= 1 for kind in ("bleu", "self_bleu") for n in (2, 5))
        sentences = Path(record["sentences"]).read_text(encoding="utf-8").split("\n")
        assert len(sentences) == 11 and sentences[-1] == ""  # ten lines, each ended
    assert (out / "sentences-mle.txt").exists()
