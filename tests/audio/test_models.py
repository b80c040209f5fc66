"""MelGAN generator and multi-scale discriminator: parameter counts, shapes, folding."""

from __future__ import annotations

import pytest
import torch

from genmm.losses import discriminate
from genmm_audio.discriminator import MultiScaleDiscriminator
from genmm_audio.generator import (
    MelGANGenerator,
    PolyphaseUpsample,
    fold_weight_norm,
    synthesize,
)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_generator_parameter_count_at_ngf_32():
    assert count(MelGANGenerator(n_mels=80, ngf=32)) == 4_266_050


def test_generator_shapes():
    generator = MelGANGenerator(ngf=4)
    assert generator.hop == 256 and generator.latent_dim == 0
    out = generator(torch.randn(2, 80, 32))
    assert out.shape == (2, 1, 8192)
    assert out.abs().max() <= 1


def test_discriminator_scores_and_features():
    discriminator = MultiScaleDiscriminator(ndf=4)
    scores, features = discriminate(discriminator, torch.randn(2, 1, 8192))
    assert [tuple(s.shape) for s in scores] == [(2, 1, 32), (2, 1, 16), (2, 1, 8)]
    assert len(features) == 3 * 6  # k15, four strided layers, k5 per scale
    assert features[0].shape == (2, 4, 8192) and features[4].shape == (2, 1024, 32)


def test_discriminator_paper_widths():
    scale = MultiScaleDiscriminator().discriminators[0]
    convs = [m for m in scale.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [16, 64, 256, 1024, 1024, 1024, 1]
    assert [c.kernel_size[0] for c in convs] == [15, 41, 41, 41, 41, 5, 3]
    assert [c.groups for c in convs] == [1, 4, 16, 64, 256, 1, 1]


def test_folded_generator_is_the_same_function():
    torch.manual_seed(0)
    generator = MelGANGenerator(ngf=4)
    mel = torch.randn(1, 80, 10)
    folded = fold_weight_norm(generator)
    assert not any("parametrizations" in name for name, _ in folded.named_parameters())
    assert torch.allclose(folded(mel), generator(mel), atol=1e-6)
    assert torch.allclose(synthesize(generator, mel), generator(mel), atol=1e-6)
    # the live model keeps its weight norm (training and checkpoints are untouched)
    assert any("parametrizations" in name for name, _ in generator.named_parameters())


def test_polyphase_upsampling_is_the_transposed_convolution():
    torch.manual_seed(0)
    for ratio in (8, 2, 3):
        layer = torch.nn.ConvTranspose1d(
            6, 4, 2 * ratio, stride=ratio, padding=ratio // 2 + ratio % 2, output_padding=ratio % 2
        )
        x = torch.randn(2, 6, 9)
        expected = layer(x)  # (2, 4, 9 * ratio)
        assert expected.shape == (2, 4, 9 * ratio)
        assert torch.allclose(PolyphaseUpsample(layer)(x), expected, atol=1e-6)
    folded = fold_weight_norm(MelGANGenerator(ngf=4))
    assert not any(isinstance(m, torch.nn.ConvTranspose1d) for m in folded.modules())
    assert sum(isinstance(m, PolyphaseUpsample) for m in folded.modules()) == 4


def test_generator_takes_its_mels_from_the_description_and_checks_the_hop():
    description = {"n_mels": 64, "hop": 256, "sample_rate": 22050}
    generator = MelGANGenerator(ngf=4, description=description)
    assert generator.n_mels == 64 and generator(torch.randn(1, 64, 5)).shape == (1, 1, 1280)
    assert MelGANGenerator(ngf=4).n_mels == 80  # no description: the paper's 80
    with pytest.raises(ValueError, match="n_mels is 80 but the data's log-mels have 64"):
        MelGANGenerator(n_mels=80, ngf=4, description=description)
    with pytest.raises(ValueError, match=r"upsample by 256 but the data's hop is 200"):
        MelGANGenerator(ngf=4, description={"hop": 200})
    MelGANGenerator(ngf=4, ratios=[5, 5, 4, 2], description={"hop": 200})  # 200: accepted
