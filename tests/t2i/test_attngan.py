"""AttnGAN: the generator's word attention, conditioning augmentation, and a step of the
multi-stage game with the DAMSM and KL terms on the core's path."""

from __future__ import annotations

import pytest
import torch

from genmm.testing import MiniRun
from genmm_t2i.attngan import (
    AttnGANDiscriminators,
    AttnGANGenerator,
    AttnGANTrainer,
    ConditioningAugmentation,
    MatchingBCELoss,
    WordAttention,
    kl_divergence,
)
from genmm_t2i.damsm import ImageEncoder
from genmm_t2i.data import CaptionedShapes
from genmm_t2i.text_encoder import TextEncoder


def test_word_attention_sums_to_one_over_words_padding_masked():
    torch.manual_seed(0)
    attention = WordAttention(image_dim=6, text_dim=10)
    hidden, words = torch.randn(2, 6, 4, 4), torch.randn(2, 10, 5)
    mask = torch.tensor([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    contexts, maps = attention(hidden, words, mask)
    assert contexts.shape == (2, 6, 4, 4) and maps.shape == (2, 5, 4, 4)
    assert torch.allclose(maps.sum(1), torch.ones(2, 4, 4), atol=1e-6)
    assert maps[0, 2:].abs().max() == 0  # padding gets no attention
    source = attention.project(words)  # by hand at sub-region (1, 2) of sample 0
    weights = torch.softmax(hidden[0, :, 1, 2] @ source[0][:, :2], 0)
    assert torch.allclose(maps[0, :2, 1, 2], weights, atol=1e-6)
    assert torch.allclose(contexts[0, :, 1, 2], source[0][:, :2] @ weights, atol=1e-5)


def test_conditioning_augmentation_and_kl():
    augment = ConditioningAugmentation(text_dim=256, condition_dim=100)
    code, mu, logvar = augment(torch.randn(4, 256))
    assert code.shape == mu.shape == logvar.shape == (4, 100)
    assert float(kl_divergence(torch.zeros(3, 5), torch.zeros(3, 5))) == 0.0
    mu, logvar = torch.full((1, 2), 1.0), torch.zeros(1, 2)
    assert float(kl_divergence(mu, logvar)) == pytest.approx(0.5)  # (mu^2) / 2 per element


def test_generator_stages_and_discriminators():
    generator = AttnGANGenerator(stages=2, gf=8, latent_dim=10, text_dim=12, condition_dim=6,
                                 size=32)  # fmt: skip
    assert generator.sizes == [16, 32]
    text = {"sentence": torch.randn(3, 12), "words": torch.randn(3, 12, 4),
            "mask": torch.zeros(3, 4, dtype=torch.bool)}  # fmt: skip
    packed = generator(torch.randn(3, 10), text)
    images = generator.unpack(packed)
    assert [tuple(i.shape) for i in images] == [(3, 3, 16, 16), (3, 3, 32, 32)]
    last, maps = generator.attention_maps(torch.randn(3, 10), text)
    assert last.shape == (3, 3, 32, 32) and maps[0][1].shape == (3, 4, 16, 16)
    discriminators = AttnGANDiscriminators(stages=2, ndf=4, text_dim=12, size=32)
    scores, features = discriminators(packed, text)
    assert len(scores) == 4 and all(s.shape == (3, 1) for s in scores)
    real_scores, _ = discriminators(torch.randn(3, 3, 32, 32), text)  # resized per stage
    assert len(real_scores) == 4
    with pytest.raises(ValueError, match="power of two"):
        AttnGANGenerator(stages=3, size=48)


def test_attngan_steps_through_the_core():
    torch.manual_seed(0)
    data = CaptionedShapes(size=16, count=24, held_out=0.0, seed=1)
    description = data.describe()
    models = {
        "text_encoder": TextEncoder(embedding_dim=8, hidden_per_direction=8,
                                    description=description),
        "image_encoder": ImageEncoder(feature_dim=16, width=4, input_size=16),
        "generator": AttnGANGenerator(stages=2, gf=4, latent_dim=8, text_dim=16,
                                      condition_dim=4, description=description),
        "discriminator": AttnGANDiscriminators(stages=2, ndf=4, text_dim=16,
                                               description=description),
    }  # fmt: skip
    run = MiniRun(models, {"adversarial": MatchingBCELoss()},
                  lambda: data.get_batch(list(range(8))), batch_size=8)  # fmt: skip
    trainer = AttnGANTrainer()
    trainer.setup(run)
    before = [p.clone() for p in models["text_encoder"].parameters()]
    logs = [run.step_once(trainer) for _ in range(2)]
    for key in ("d_adversarial", "d_mismatch", "g_adversarial", "g_damsm", "g_kl", "g_loss"):
        assert torch.isfinite(torch.as_tensor(logs[-1][key])), key
    assert float(logs[-1]["g_damsm"]) > 0
    assert all(torch.equal(a, b) for a, b in zip(before, models["text_encoder"].parameters()))
    assert "generator" in run.ema  # the generator's moving average (0.999)
