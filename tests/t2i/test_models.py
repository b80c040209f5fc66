"""The text encoder's padding mask, DAMSM's attention and loss, DF-GAN's networks and MA-GP."""

from __future__ import annotations

import math

import pytest
import torch

from genmm.testing import MiniRun
from genmm_t2i.damsm import DAMSMTrainer, ImageEncoder, damsm_loss, same_captions, word_attention
from genmm_t2i.data import CaptionedShapes
from genmm_t2i.dfgan import (
    DFGANDiscriminator,
    DFGANGenerator,
    MatchingAwareGradientPenalty,
    MatchingHingeLoss,
)
from genmm_t2i.text_encoder import TextEncoder


def test_text_encoder_masks_padding():
    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=20).eval()
    tokens = torch.tensor([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 10, 11]])
    out = encoder(tokens)
    assert out["words"].shape == (2, 256, 6) and out["sentence"].shape == (2, 256)
    assert out["mask"].tolist()[0] == [False, False, False, True, True, True]
    assert out["words"][0, :, 3:].abs().max() == 0  # nothing at padding
    longer = encoder(torch.cat([tokens, torch.zeros(2, 4, dtype=torch.long)], 1))
    assert torch.allclose(longer["sentence"], out["sentence"], atol=1e-6)  # padding is ignored
    assert torch.allclose(longer["words"][:, :, :6], out["words"], atol=1e-6)
    # the backward direction's last state is at the first word: padding does not reach it
    other = encoder(torch.tensor([[3, 4, 5, 0, 0, 0], [3, 4, 5, 1, 1, 1]]))
    assert not torch.allclose(other["sentence"][0], other["sentence"][1])
    assert sum(p.numel() for p in TextEncoder(vocab_size=23).parameters()) == (
        23 * 300 + 2 * 4 * 128 * (300 + 128 + 2)
    )


def test_attention_sums_to_one_over_words_with_padding_masked():
    torch.manual_seed(1)
    words = torch.randn(3, 8, 5)  # 3 captions, D 8, 5 words
    regions = torch.randn(2, 8, 16)  # 2 images, 16 regions
    mask = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], dtype=torch.bool)
    normalised, attention, contexts = word_attention(words, regions, mask, gamma1=4.0)
    assert normalised.shape == (2, 3, 5, 16) and contexts.shape == (2, 3, 5, 8)
    sums = normalised.sum(2)  # over words
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-6)
    assert normalised[:, 0, 3:].abs().max() == 0 and normalised[:, 2, 1:].abs().max() == 0
    assert torch.allclose(normalised[:, 2, 0], torch.ones(2, 16))  # one word takes it all
    assert torch.allclose(attention.sum(3), torch.ones(2, 3, 5), atol=1e-6)  # over regions
    # eq. 8-9 by hand for image 1, caption 0, word 2
    s = regions[1].t() @ words[0][:, :3]  # (16 regions, 3 words)
    s_bar = torch.softmax(s, dim=1)
    alpha = torch.softmax(4.0 * s_bar[:, 2], dim=0)
    assert torch.allclose(attention[1, 0, 2], alpha, atol=1e-6)
    assert torch.allclose(contexts[1, 0, 2], regions[1] @ alpha, atol=1e-5)


def test_same_captions_are_not_mismatches():
    tokens = torch.tensor([[1, 2, 0], [1, 2, 0], [3, 0, 0]])
    assert same_captions(tokens).tolist() == [
        [False, True, False],
        [True, False, False],
        [False, False, False],
    ]


def test_damsm_loss_falls_on_a_tiny_set():
    torch.manual_seed(0)
    data = CaptionedShapes(size=16, count=16, held_out=0.0, seed=2)
    description = data.describe()
    models = {
        "text_encoder": TextEncoder(
            embedding_dim=32, hidden_per_direction=32, description=description
        ),
        "image_encoder": ImageEncoder(feature_dim=64, width=8, input_size=16),
    }
    run = MiniRun(
        models,
        {},
        lambda: data.get_batch(list(range(16))),
        batch_size=16,
        optimizers={"damsm": {"lr": 2e-3}},
    )
    trainer = DAMSMTrainer()
    trainer.setup(run)
    losses = [float(run.step_once(trainer)["damsm_loss"]) for _ in range(40)]
    assert losses[0] > 0.8 * 4 * math.log(16)  # about chance at the start
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0], losses[::5]


def test_damsm_loss_is_low_for_matching_features():
    torch.manual_seed(0)
    sentence = torch.randn(4, 8)
    text = {
        "words": sentence[:, :, None].repeat(1, 1, 3),
        "sentence": sentence,
        "mask": torch.zeros(4, 3, dtype=torch.bool),
    }
    matched = damsm_loss(text, sentence[:, :, None, None].repeat(1, 1, 2, 2), sentence)
    shuffled = damsm_loss(
        text, sentence.roll(1, 0)[:, :, None, None].repeat(1, 1, 2, 2), sentence.roll(1, 0)
    )
    assert matched["total"] < 0.1 < shuffled["total"]


def test_dfgan_shapes_and_identity_affine():
    description = {"image_size": 32}
    generator = DFGANGenerator(description=description)
    discriminator = DFGANDiscriminator(description=description)
    text = {"sentence": torch.randn(3, 256)}
    images = generator(torch.randn(3, 100), text)
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1
    scores, features = discriminator(images, text)
    assert scores.shape == (3, 1) and features[0].shape == (3, 256, 4, 4)
    assert [b.conv1.out_channels for b in generator.blocks] == [128, 64, 32]
    affine = generator.blocks[0].fuse1.affine0
    x = torch.randn(3, 256, 8, 8)
    assert torch.allclose(affine(x, torch.randn(3, 356)), x)  # starts as the identity
    with pytest.raises(ValueError, match="power of two"):
        DFGANGenerator(size=48)


class LinearCritic(torch.nn.Module):
    """D(x, e) = w·x + u·e: its gradient norm is sqrt(|w|^2 + |u|^2) everywhere."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((3 * 4 * 4,), 0.1))
        self.u = torch.nn.Parameter(torch.full((5,), 0.2))

    def forward(self, x, text):
        return (x.flatten(1) @ self.w + text["sentence"] @ self.u)[:, None], []


def test_ma_gp_by_hand():
    from genmm.losses import Context

    critic = LinearCritic()
    condition = {"text": {"sentence": torch.randn(2, 5)}}
    context = Context(None, critic, torch.randn(2, 3, 4, 4), None, condition)
    penalty = MatchingAwareGradientPenalty()(context)
    norm = math.sqrt(48 * 0.01 + 5 * 0.04)
    assert float(penalty.detach()) == pytest.approx(2.0 * norm**6, rel=1e-5)
    penalty.backward()
    assert critic.w.grad is not None and critic.w.grad.abs().sum() > 0  # it trains D


def test_matching_hinge_terms():
    loss = MatchingHingeLoss()
    real, fake = torch.tensor([[0.5], [2.0]]), torch.tensor([[0.0], [-2.0]])
    assert float(loss.d_term(real, fake)) == pytest.approx(0.25 + 0.5 * 0.5)
    assert float(loss.g_term(fake)) == pytest.approx(1.0)
    keep = torch.tensor([1.0, 0.0])  # the second pair has the same caption: not a mismatch
    assert float(loss.mismatch_term([torch.tensor([[1.0], [5.0]])], keep)) == pytest.approx(1.0)
