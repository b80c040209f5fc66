"""genmm_text.bleu agrees with NLTK's sentence BLEU (smoothing method 1) to 1e-6."""

from __future__ import annotations

import random

import pytest

from genmm_text.bleu import References, mean_bleu, self_bleu, sentence_bleu

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")


def reference_bleu(references, hypothesis, max_n):
    return nltk_bleu.sentence_bleu(
        references,
        hypothesis,
        weights=(1.0 / max_n,) * max_n,
        smoothing_function=nltk_bleu.SmoothingFunction().method1,
    )


def random_sentences(rng: random.Random, count: int, vocabulary: int = 12) -> list[list[str]]:
    return [
        [f"w{rng.randrange(vocabulary)}" for _ in range(rng.randint(0, 14))] for _ in range(count)
    ]


@pytest.mark.parametrize("max_n", [2, 3, 4, 5])
def test_sentence_bleu_matches_nltk(max_n):
    rng = random.Random(max_n)
    for _ in range(60):
        references = random_sentences(rng, rng.randint(1, 5))
        hypothesis = random_sentences(rng, 1)[0]
        ours = sentence_bleu(references, hypothesis, max_n=max_n)
        assert ours == pytest.approx(reference_bleu(references, hypothesis, max_n), abs=1e-6)


def test_known_example():
    hypothesis = "the cat sat on the mat".split()
    references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    expected = reference_bleu(references, hypothesis, 4)
    assert sentence_bleu(references, hypothesis) == pytest.approx(expected, abs=1e-6)
    assert sentence_bleu([hypothesis], hypothesis) == pytest.approx(1.0)
    assert sentence_bleu(references, ["dog"]) == 0.0  # no unigram match


def test_mean_bleu_and_reference_table():
    rng = random.Random(7)
    references = random_sentences(rng, 30)
    hypotheses = random_sentences(rng, 20)
    expected = sum(reference_bleu(references, h, 3) for h in hypotheses) / len(hypotheses)
    assert mean_bleu(hypotheses, references, max_n=3) == pytest.approx(expected, abs=1e-6)
    table = References(references, max_n=5)
    assert mean_bleu(hypotheses, table, max_n=3) == pytest.approx(expected, abs=1e-6)


def test_self_bleu_matches_leave_one_out():
    rng = random.Random(3)
    sentences = random_sentences(rng, 25, vocabulary=6)
    sentences += [sentences[0][:], sentences[1][:]]  # duplicates exercise the tie handling
    for max_n in (2, 4):
        expected = sum(
            reference_bleu(sentences[:i] + sentences[i + 1 :], s, max_n)
            for i, s in enumerate(sentences)
        ) / len(sentences)
        assert self_bleu(sentences, max_n=max_n) == pytest.approx(expected, abs=1e-6)


def test_bad_input():
    with pytest.raises(ValueError):
        self_bleu([["a"]])
    with pytest.raises(ValueError):
        References([])


@pytest.mark.parametrize("max_n", [2, 3, 4, 5])
def test_sentence_bleu_matches_sacrebleu(max_n):
    """sacreBLEU's sentence BLEU with NLTK method 1's settings: floor smoothing 0.1 for
    zero-match orders, no effective order (hypotheses of at least ``max_n`` words), text
    already split into words."""
    sacrebleu = pytest.importorskip("sacrebleu.metrics")
    metric = sacrebleu.BLEU(
        tokenize="none",
        smooth_method="floor",
        smooth_value=0.1,
        effective_order=False,
        max_ngram_order=max_n,
    )
    rng = random.Random(100 + max_n)
    for _ in range(60):
        references = [r for r in random_sentences(rng, rng.randint(1, 4)) if r] or [["w1"]]
        hypothesis = [f"w{rng.randrange(12)}" for _ in range(rng.randint(max_n, 14))]
        expected = metric.sentence_score(" ".join(hypothesis), [" ".join(r) for r in references])
        ours = sentence_bleu(references, hypothesis, max_n=max_n)
        assert ours == pytest.approx(expected.score / 100, abs=1e-6)
