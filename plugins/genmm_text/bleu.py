"""BLEU (Papineni et al. 2002, "BLEU: a method for automatic evaluation of machine translation",
ACL) for any sequences of hashable tokens, and self-BLEU (Zhu et al. 2018, "Texygen", SIGIR).

Sentence BLEU here is NLTK's ``sentence_bleu`` with ``SmoothingFunction().method1`` (Chen &
Cherry 2014, method 1: an ``epsilon`` count for n-gram orders without a match): modified
n-gram precisions clipped by the largest count in any one reference, the brevity penalty
against the reference length closest to the hypothesis (the shorter on a tie), uniform
weights ``1/max_n``, and 0 when not even one unigram matches.

For many hypotheses against one fixed reference set (generated text against held-out text,
the text-GAN convention), :class:`References` counts the references' n-grams once, so each
hypothesis costs only its own n-grams. :func:`self_bleu` scores each sentence against all the
others (a diversity measure: lower is more diverse) in one pass over the counts.

Pure Python, no torch: the text plugin's ``text.bleu`` and ``text.self_bleu`` metrics
(:mod:`genmm_text.metrics`) use it; other plugins may import ``genmm_text.bleu`` directly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

Tokens = Sequence[Hashable]


def ngram_counts(tokens: Tokens, n: int) -> Counter:
    """Counts of the n-grams (tuples) of ``tokens``."""
    tokens = tuple(tokens)
    return Counter(tokens[i : i + n] for i in range(len(tokens) - n + 1))


def closest_length(lengths: Sequence[int], hypothesis_length: int) -> int:
    """The reference length closest to the hypothesis length (the shorter on a tie)."""
    return min(lengths, key=lambda length: (abs(length - hypothesis_length), length))


def brevity_penalty(reference_length: int, hypothesis_length: int) -> float:
    if hypothesis_length > reference_length:
        return 1.0
    if hypothesis_length == 0:
        return 0.0
    return math.exp(1 - reference_length / hypothesis_length)


def combine(
    matches: Sequence[int],
    totals: Sequence[int],
    hypothesis_length: int,
    reference_length: int,
    epsilon: float = 0.1,
) -> float:
    """BLEU from per-order clipped matches and hypothesis n-gram totals (smoothing method 1)."""
    if not matches or matches[0] == 0:
        return 0.0
    weight = 1.0 / len(matches)
    log_sum = []
    for match, total in zip(matches, totals):
        denominator = max(1, total)
        precision = (match if match > 0 else epsilon) / denominator
        log_sum.append(weight * math.log(precision))
    return brevity_penalty(reference_length, hypothesis_length) * math.exp(math.fsum(log_sum))


class References:
    """A fixed reference set: per n-gram order, the largest count in any one reference."""

    def __init__(self, references: Sequence[Tokens], max_n: int = 4) -> None:
        if not references:
            raise ValueError("BLEU needs at least one reference")
        self.max_n = max_n
        self.lengths = sorted({len(reference) for reference in references})
        self.max_counts: list[dict[tuple, int]] = []
        for n in range(1, max_n + 1):
            table: dict[tuple, int] = {}
            for reference in references:
                for ngram, count in ngram_counts(reference, n).items():
                    if count > table.get(ngram, 0):
                        table[ngram] = count
            self.max_counts.append(table)

    def bleu(self, hypothesis: Tokens, max_n: int | None = None, epsilon: float = 0.1) -> float:
        """Sentence BLEU-``max_n`` of one hypothesis against every reference."""
        max_n = max_n or self.max_n
        if max_n > self.max_n:
            raise ValueError(f"references were counted up to order {self.max_n}, not {max_n}")
        matches, totals = [], []
        for n in range(1, max_n + 1):
            counts = ngram_counts(hypothesis, n)
            table = self.max_counts[n - 1]
            matches.append(sum(min(c, table.get(g, 0)) for g, c in counts.items()))
            totals.append(sum(counts.values()))
        length = len(hypothesis)
        return combine(matches, totals, length, closest_length(self.lengths, length), epsilon)


def sentence_bleu(
    references: Sequence[Tokens], hypothesis: Tokens, max_n: int = 4, epsilon: float = 0.1
) -> float:
    """BLEU-``max_n`` of one hypothesis (NLTK ``sentence_bleu``, smoothing method 1)."""
    return References(references, max_n).bleu(hypothesis, max_n, epsilon)


def mean_bleu(
    hypotheses: Sequence[Tokens],
    references: Sequence[Tokens] | References,
    max_n: int = 4,
    epsilon: float = 0.1,
) -> float:
    """Mean sentence BLEU of each hypothesis against the whole reference set."""
    if not hypotheses:
        raise ValueError("BLEU needs at least one hypothesis")
    table = references if isinstance(references, References) else References(references, max_n)
    return math.fsum(table.bleu(h, max_n, epsilon) for h in hypotheses) / len(hypotheses)


def self_bleu(sentences: Sequence[Tokens], max_n: int = 4, epsilon: float = 0.1) -> float:
    """Mean BLEU-``max_n`` of each sentence against all the other sentences."""
    if len(sentences) < 2:
        raise ValueError("self-BLEU needs at least two sentences")
    sentence_counts = [[ngram_counts(s, n) for n in range(1, max_n + 1)] for s in sentences]
    # per order and n-gram: the two largest counts over sentences (ties kept)
    top: list[dict[tuple, list[int]]] = [{} for _ in range(max_n)]
    for counts in sentence_counts:
        for order, table in enumerate(counts):
            best = top[order]
            for ngram, count in table.items():
                pair = best.setdefault(ngram, [0, 0])
                if count > pair[0]:
                    pair[0], pair[1] = count, pair[0]
                elif count > pair[1]:
                    pair[1] = count
    lengths = Counter(len(s) for s in sentences)
    scores = []
    for sentence, counts in zip(sentences, sentence_counts):
        matches, totals = [], []
        for order, table in enumerate(counts):
            best = top[order]
            match = 0
            for ngram, count in table.items():
                first, second = best[ngram]
                others = second if count == first else first
                match += min(count, others)
            matches.append(match)
            totals.append(sum(table.values()))
        length = len(sentence)
        lengths[length] -= 1
        others_lengths = [value for value, number in lengths.items() if number > 0]
        lengths[length] += 1
        scores.append(
            combine(matches, totals, length, closest_length(others_lengths, length), epsilon)
        )
    return math.fsum(scores) / len(scores)


__all__ = [
    "References",
    "brevity_penalty",
    "mean_bleu",
    "ngram_counts",
    "self_bleu",
    "sentence_bleu",
]
