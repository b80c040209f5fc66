"""Text metrics: the oracle NLL of SeqGAN (Yu et al. 2017, sec. 5), the generator's NLL on
held-out text, BLEU-n against held-out text and self-BLEU (Zhu et al. 2018, Texygen).

``text.nll_oracle`` is the paper's measure: the oracle's mean per-token negative
log-likelihood of ``n_samples`` (10,000) sequences drawn from G. BLEU and self-BLEU use the
plugin's :mod:`genmm_text.bleu` (NLTK sentence BLEU with smoothing method 1), on words of
the decoded text (or token ids for the oracle). Held-out text is the live dataset's
``held_out_set()``; the end token comes from the run's data description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from genmm.errors import DataError
from genmm.metrics import Metric
from genmm_text.bleu import References, mean_bleu, self_bleu
from genmm_text.trainer import draw_samples

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


def text_dataset(run: Run, metric: str) -> Any:
    if run.dataset is None or not callable(getattr(run.dataset, "words", None)):
        raise DataError(f"{metric} needs a text dataset (data.name: text.*)")
    return run.dataset


def held_out_tokens(run: Run, metric: str, limit: int | None = None) -> torch.Tensor:
    """The held-out sequences (M, T) of ``held_out_set()``, the first ``limit`` of them."""
    held_out = text_dataset(run, metric).held_out_set()
    count = len(held_out) if limit is None else min(limit, len(held_out))
    if count == 0:
        raise DataError(f"{metric}: the data has no held-out sequences (data.held_out is 0)")
    indices = list(range(count))
    if callable(getattr(held_out, "get_batch", None)):
        return held_out.get_batch(indices)["real"]
    return torch.stack([held_out[i]["real"] for i in indices])


class OracleNLL(Metric):
    """``nll_oracle``: the oracle's per-token NLL of ``n_samples`` sequences from G."""

    def __init__(self, n_samples: int = 10000, generator: str = "generator") -> None:
        self.n_samples = n_samples
        self.generator = generator

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = text_dataset(run, "text.nll_oracle")
        if not hasattr(dataset, "oracle_nll"):
            raise DataError("text.nll_oracle needs data.name: text.oracle")
        samples = draw_samples(run.sampling_model(self.generator), self.n_samples)
        return {"nll_oracle": dataset.oracle_nll(samples)}


class TestNLL(Metric):
    """``nll_test``: G's per-token NLL of the held-out sequences (up to their first ``</s>``)."""

    def __init__(self, batch_size: int = 500, generator: str = "generator") -> None:
        self.batch_size = batch_size
        self.generator = generator

    def __call__(self, run: Run) -> dict[str, float]:
        held_out = held_out_tokens(run, "text.nll_test")
        end = run.description.get("end_token")
        model = run.sampling_model(self.generator)
        total, count = 0.0, 0
        for start in range(0, len(held_out), self.batch_size):
            tokens = held_out[start : start + self.batch_size].to(run.device)
            log_probs = model.log_probs(tokens)  # (B, T)
            mask = torch.ones_like(log_probs, dtype=torch.bool)
            if end is not None:  # count up to and including the first </s>
                ended = (tokens == end).long().cumsum(1)
                mask = (ended - (tokens == end).long()) == 0
            total += float(-(log_probs * mask).sum())
            count += int(mask.sum())
        return {"nll_test": total / count}


class BLEU(Metric):
    """``bleu<n>`` for each n in ``orders``: mean sentence BLEU of ``n_samples`` generated
    sentences against the held-out set."""

    def __init__(
        self,
        orders: list[int] | None = None,
        n_samples: int = 200,
        max_references: int = 2000,
        generator: str = "generator",
    ) -> None:
        self.orders = list(orders or [2, 3, 4, 5])
        self.n_samples = n_samples
        self.max_references = max_references
        self.generator = generator

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = text_dataset(run, "text.bleu")
        held_out = held_out_tokens(run, "text.bleu", self.max_references)
        references = References(dataset.words(held_out), max(self.orders))
        samples = dataset.words(draw_samples(run.sampling_model(self.generator), self.n_samples))
        return {f"bleu{n}": mean_bleu(samples, references, max_n=n) for n in self.orders}


class SelfBLEU(Metric):
    """``self_bleu<n>``: mean BLEU of each of ``n_samples`` generated sentences against the
    others (lower is more diverse)."""

    def __init__(
        self, orders: list[int] | None = None, n_samples: int = 200, generator: str = "generator"
    ) -> None:
        self.orders = list(orders or [2, 3, 4, 5])
        self.n_samples = max(2, n_samples)
        self.generator = generator

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = text_dataset(run, "text.self_bleu")
        samples = dataset.words(draw_samples(run.sampling_model(self.generator), self.n_samples))
        return {f"self_bleu{n}": self_bleu(samples, max_n=n) for n in self.orders}
