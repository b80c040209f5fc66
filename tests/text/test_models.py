"""SeqGAN models: parameter counts at paper widths, sampling, batched rollouts and rewards."""

from __future__ import annotations

import pytest
import torch

from genmm_text.discriminator import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator
from genmm_text.generator import GPT2Generator, LSTMGenerator
from genmm_text.sampling import block_size, filter_top_k, sample_categorical, sample_projected


def test_discriminator_parameters_at_paper_widths():
    # By hand, vocabulary 5,000, embedding 64, windows k = 1..10, 15, 20 with n_k filters:
    #   embedding                     5000 * 64                                  =   320,000
    #   convolutions  sum n_k (64 k + 1):
    #     k=1: 100 * 65 = 6,500         k=2: 200 * 129 = 25,800   k=3: 200 * 193 = 38,600
    #     k=4: 200 * 257 = 51,400       k=5: 200 * 321 = 64,200   k=6: 100 * 385 = 38,500
    #     k=7: 100 * 449 = 44,900       k=8: 100 * 513 = 51,300   k=9: 100 * 577 = 57,700
    #     k=10: 100 * 641 = 64,100      k=15: 160 * 961 = 153,760 k=20: 160 * 1281 = 204,960
    #                                                                     sum     =   801,720
    #   highway (transform + gate)    2 * (1720 * 1720 + 1720)                   = 5,920,240
    #   output                        1720 * 2 + 2                               =     3,442
    #   total                         320,000 + 801,720 + 5,920,240 + 3,442      = 7,045,402
    model = CNNDiscriminator()  # vocabulary 5000, embedding 64, windows 1-10, 15, 20
    features = sum(PAPER_NUM_FILTERS)
    assert features == 1720
    convolutions = sum(n * (64 * k + 1) for k, n in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS))
    expected = 5000 * 64 + convolutions + 2 * (features * features + features) + features * 2 + 2
    assert expected == 7_045_402
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.dropout.p == 0.25 and model.l2 == 0.2


def test_discriminator_initialisation_is_the_authors():
    torch.manual_seed(0)
    model = CNNDiscriminator()
    embedding = model.embedding.weight
    # U(-1, 1): bounded by 1, standard deviation 1/sqrt(3)
    assert float(embedding.abs().max()) <= 1.0
    assert abs(float(embedding.std()) - 3**-0.5) < 0.01
    for layer in [*model.convs, model.output]:  # truncated N(0, 0.1^2) at two deviations
        assert float(layer.weight.abs().max()) <= 0.2
        assert abs(float(layer.weight.std()) - 0.088) < 0.005  # 0.1 x 0.8796 once truncated
        assert bool((layer.bias == 0.1).all())
    bound = (6 / (1720 + 1720)) ** 0.5  # Glorot-uniform on 1720 -> 1720
    for layer in (model.highway.transform, model.highway.gate):
        assert bound * 0.99 < float(layer.weight.abs().max()) <= bound
        assert float(layer.bias.abs().max()) <= bound


def test_generator_parameters_at_paper_widths():
    model = LSTMGenerator()  # vocabulary 5000, embedding 32, hidden 32
    lstm = 4 * 32 * (32 + 32) + 2 * 4 * 32
    expected = 5000 * 32 + lstm + 32 * 5000 + 5000
    assert sum(p.numel() for p in model.parameters()) == expected == 333_448


def test_generator_shapes_and_prefix():
    torch.manual_seed(0)
    model = LSTMGenerator(vocab_size=50, max_length=12)
    tokens = model.sample(7)
    assert tokens.shape == (7, 12) and tokens.dtype == torch.long
    assert 0 <= int(tokens.min()) and int(tokens.max()) < 50
    assert model(tokens).shape == (7, 12, 50)
    log_probs = model.log_probs(tokens)
    assert log_probs.shape == (7, 12) and bool((log_probs <= 0).all())
    prefix = torch.tensor([3, 4, 5])
    prompted = model.sample(4, prefix=prefix, top_k=5, temperature=0.7)
    assert bool((prompted[:, :3] == prefix).all())


def test_sampling_matches_the_distribution():
    torch.manual_seed(0)
    logits = torch.tensor([[2.0, 0.0, -1.0, 1.0, -30.0]]).repeat(200_000, 1)
    draws = sample_categorical(logits)
    frequencies = torch.bincount(draws, minlength=5).float() / len(draws)
    assert torch.allclose(frequencies, logits[0].softmax(0), atol=4e-3)
    assert int((draws == 4).sum()) == 0  # probability ~1e-14
    top = filter_top_k(logits[:1], 2)
    assert torch.isinf(top).sum() == 3 and int(sample_categorical(top.repeat(1000, 1)).max()) <= 3


def test_two_level_and_projected_sampling_match_the_distribution():
    """Vocabularies of 256+ tokens search per-block sums first (5000 = 50 blocks of 100)."""
    assert block_size(5000) == 100 and block_size(300) == 20 and block_size(60) == 1
    torch.manual_seed(0)
    logits = torch.randn(1, 300) * 2
    logits[0, 7] = 6.0  # a heavy token inside a block
    logits[0, 20:40] = float("-inf")  # a whole zero-weight block
    logits[0, 299] = float("-inf")  # a zero-weight last token
    draws = sample_categorical(logits.repeat(300_000, 1))
    frequencies = torch.bincount(draws, minlength=300).float() / len(draws)
    assert torch.allclose(frequencies, logits[0].softmax(0), atol=3e-3)
    assert int(frequencies[20:40].sum()) == 0 and int((draws == 299).sum()) == 0
    hidden, weight, bias = torch.randn(1000, 8), torch.randn(300, 8), torch.randn(300)
    projected = sample_projected(hidden.repeat(200, 1), weight, bias, chunk_rows=128)
    expected = (hidden @ weight.T + bias).softmax(1).mean(0)  # mixture over the 1000 rows
    frequencies = torch.bincount(projected, minlength=300).float() / len(projected)
    assert projected.shape == (200_000,) and torch.allclose(frequencies, expected, atol=3e-3)


def test_rollout_shapes_prefixes_and_reward_range():
    torch.manual_seed(0)
    generator = LSTMGenerator(vocab_size=60, max_length=10)
    discriminator = CNNDiscriminator(vocab_size=60, max_length=10).eval()
    tokens = generator.sample(5)
    with torch.no_grad():
        completions = generator.rollout(tokens, 4)
        rewards = discriminator.rollout_rewards(tokens, completions)
    assert completions.shape == (9, 4, 5, 10)
    for given in range(1, 10):  # completions keep the given prefix
        block = completions[given - 1]
        assert bool((block[..., :given] == tokens[None, :, :given]).all())
    assert int(completions.max()) < 60
    assert rewards.shape == (5, 10)
    assert bool(((rewards >= 0) & (rewards <= 1)).all())
    with torch.no_grad():  # the shared-prefix evaluation equals scoring every completion
        direct = discriminator.real_probability(completions.reshape(-1, 10)).view(9, 4, 5)
        assert torch.allclose(rewards[:, :9], direct.mean(1).T, atol=1e-5)
        assert torch.allclose(rewards[:, 9], discriminator.real_probability(tokens), atol=1e-6)


def test_batched_rollout_follows_the_policy():
    """A prefix's completions follow G: their first drawn token matches G's next-token law."""
    torch.manual_seed(1)
    generator = LSTMGenerator(vocab_size=6, max_length=4, init_std=1.0)
    tokens = generator.sample(1)
    with torch.no_grad():
        completions = generator.rollout(tokens, 20_000)  # (3, N, 1, 4)
        expected = generator(tokens)[0, 2].softmax(0)  # law of x_3 given x_1, x_2
    frequencies = torch.bincount(completions[1, :, 0, 2], minlength=6).float() / 20_000
    assert torch.allclose(frequencies, expected, atol=0.015)


def test_gpt2_generator():
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = GPT2Generator(vocab_size=40, max_length=8, n_embd=16, n_layer=1, n_head=2)
    tokens = model.eval().sample(3)
    assert tokens.shape == (3, 8)
    assert model(tokens).shape == (3, 8, 40)
    with torch.no_grad():
        completions = model.rollout(tokens, 2)
    assert completions.shape == (7, 2, 3, 8)
    assert bool((completions[3][..., :4] == tokens[None, :, :4]).all())


def test_vocabulary_smaller_than_the_data_is_an_error():
    description = {"vocab_size": 120, "sequence_length": 10, "start_token": 0}
    with pytest.raises(ValueError, match="vocab_size 100.*120 tokens"):
        LSTMGenerator(vocab_size=100, description=description)
    with pytest.raises(ValueError, match="vocab_size 100"):
        CNNDiscriminator(vocab_size=100, description=description)
    LSTMGenerator(vocab_size=120, description=description)  # as large: fine
    LSTMGenerator(vocab_size=100)  # no description (a model built in code): not checked


def test_rollouts_are_batched_and_never_use_multinomial(monkeypatch):
    """The rollout recurrence takes O(T) batched steps whatever B and N are, and categorical
    draws never take torch.multinomial's slow path."""

    def refuse(*args, **kwargs):
        raise AssertionError("torch.multinomial was called")

    monkeypatch.setattr(torch, "multinomial", refuse)
    monkeypatch.setattr(torch.Tensor, "multinomial", refuse, raising=False)
    torch.manual_seed(0)
    generator = LSTMGenerator(vocab_size=300, max_length=10)
    calls = []
    cell = generator._cell
    monkeypatch.setattr(generator, "_cell", lambda *a: calls.append(a[0].shape[0]) or cell(*a))
    tokens = generator.sample(6)
    assert calls == [6] * 10  # one batched step per position
    calls.clear()
    with torch.no_grad():
        completions = generator.rollout(tokens, 8)
    # 1 start + 9 teacher-forced steps on B rows, then 8 steps on t*N*B lanes (t = 1..8)
    assert calls == [6] * 10 + [t * 8 * 6 for t in range(1, 9)]
    assert completions.shape == (9, 8, 6, 10)
    generator.sample(3, temperature=0.7, top_k=5)  # the general path, also multinomial-free
