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


def test_planar_folded_melgan_is_the_same_function():
    """fold_weight_norm runs a MelGAN as 2-D height-1 channels-last layers (planar): the same
    output as the live generator, the polyphase upsampling included, for odd ratios too."""
    torch.manual_seed(0)
    for ratios in ([8, 8, 2, 2], [5, 5, 4, 2], [3, 2]):
        generator = MelGANGenerator(ngf=4, ratios=ratios)
        mel = torch.randn(2, 80, 7)
        folded = fold_weight_norm(generator)
        assert folded.planar and not any(isinstance(m, torch.nn.Conv1d) for m in folded.modules())
        with torch.no_grad():
            expected = generator(mel)
            assert torch.allclose(folded(mel), expected, atol=1e-6)
            unplanar = fold_weight_norm(generator, planar=False)
            assert not unplanar.planar and torch.allclose(unplanar(mel), expected, atol=1e-6)
    assert folded(mel).shape == (2, 1, 7 * 6)


def test_planar_melgan_trains_as_the_1d_one():
    """planar: true (the default) runs G and D on (B, C, 1, T) channels-last tensors: the same
    outputs, features, parameters and gradients as planar: false."""
    from genmm_audio.discriminator import MultiScaleDiscriminator

    torch.manual_seed(0)
    flat_g, flat_d = (
        MelGANGenerator(ngf=4, planar=False),
        MultiScaleDiscriminator(ndf=4, planar=False),
    )
    planar_g, planar_d = MelGANGenerator(ngf=4), MultiScaleDiscriminator(ndf=4)
    planar_g.load_state_dict(flat_g.state_dict())
    planar_d.load_state_dict(flat_d.state_dict())
    mel = torch.randn(2, 80, 12)
    results = []
    for g, d in ((flat_g, flat_d), (planar_g, planar_d)):
        audio = g(mel)
        scores, features = d(audio)
        loss = sum(s.mean() for s in scores) + sum(f.abs().mean() for f in features)
        loss.backward()
        grads = [p.grad.clone() for p in (*g.parameters(), *d.parameters())]
        results.append((audio, scores, features, grads))
    (a, s, f, g1), (b, t, h, g2) = results
    assert a.shape == b.shape == (2, 1, 12 * 256) and torch.allclose(a, b, atol=1e-5)
    assert [x.shape for x in s] == [y.shape for y in t] and [x.shape for x in f] == [
        y.shape for y in h
    ]
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(s + f, t + h))
    assert all(torch.allclose(x, y, atol=1e-4, rtol=1e-3) for x, y in zip(g1, g2))
    assert all(x.dim() == 3 for x in s + f)  # (B, C, T') as documented
