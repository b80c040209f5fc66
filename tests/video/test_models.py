"""Shapes through every network, singular value clipping, MoCoGAN's trainer on the core path."""

from __future__ import annotations

import pytest
import torch

from genmm.losses import NonSaturatingLoss
from genmm.testing import MiniRun
from genmm_video.mocogan import (
    MoCoGANDiscriminator,
    MoCoGANGenerator,
    MoCoGANTrainer,
    pack,
    unpack,
)
from genmm_video.tgan import (
    SVCWassersteinLoss,
    TGANDiscriminator,
    TGANGenerator,
    clip_singular_values,
)


@pytest.mark.parametrize("size", [32, 64])
def test_tgan_shapes(size):
    generator = TGANGenerator(size=size, width=64)
    discriminator = TGANDiscriminator(size=size, width=8)
    clips = generator(generator.sample_latent(2, "cpu"))
    assert clips.shape == (2, 3, 16, size, size)
    assert clips.abs().max() <= 1
    assert generator.temporal(torch.zeros(2, 100)).shape == (2, 16, 100)
    assert discriminator(clips).shape == (2, 1)


def test_tgan_paper_parameter_counts():
    # the authors' widths at 64x64: the generator (temporal + image) and the 3-D critic
    generator, discriminator = TGANGenerator(), TGANDiscriminator()
    assert (
        sum(p.numel() for p in generator.temporal.parameters()) == 826_468
    )  # 100-512-256-128-128-100, kernels 1 and 4
    assert sum(p.numel() for p in discriminator.parameters()) == 11_033_281


@pytest.mark.parametrize("size", [32, 64])
def test_mocogan_shapes(size):
    generator = MoCoGANGenerator(size=size, categories=6, width=8)
    discriminator = MoCoGANDiscriminator(size=size, categories=6, width=8)
    latent = generator.sample_latent(3, "cpu")
    clips = generator(latent, torch.tensor([0, 1, 2]))
    assert clips.shape == (3, 3, 16, size, size)
    scores, features = discriminator(clips)
    assert scores[0].shape == (3, 1, 4, 4)
    assert scores[1].shape[:2] == (3, 1) and features[0].shape == (3, 6)
    assert generator(latent, swap=True).shape == (9, 3, 16, size, size)
    frames = generator.frames_at(latent, torch.tensor([0, 1, 2]), torch.tensor([0, 5, 15]))
    clips_same = generator(latent, torch.tensor([0, 1, 2]))
    generator.eval()
    assert torch.allclose(
        generator.frames_at(latent, torch.tensor([0, 1, 2]), torch.tensor([0, 5, 15])),
        generator(latent, torch.tensor([0, 1, 2]))[torch.arange(3), :, torch.tensor([0, 5, 15])],
        atol=1e-5,
    )
    assert frames.shape == (3, 3, size, size) and clips_same.shape == clips.shape


def test_mocogan_paper_sizes_and_content_motion_swap():
    generator = MoCoGANGenerator(categories=6)  # the authors' 64x64, ngf 64
    assert generator.latent_dim == 50 + 10 * 17
    assert generator.image[0].in_channels == 50 + 6 + 10
    generator.eval()
    latent = generator.sample_latent(2, "cpu")
    with torch.no_grad():
        grid = generator(latent, torch.tensor([1, 4]), swap=True)  # (4, ...): i*2 + j
        action = generator(latent, action=3)
    # same content and motion codes as the plain clips on the diagonal
    with torch.no_grad():
        plain = generator(latent, torch.tensor([1, 4]))
    assert torch.allclose(grid[0], plain[0], atol=1e-5) and torch.allclose(
        grid[3], plain[1], atol=1e-5
    )
    assert action.shape == plain.shape
    with pytest.raises(ValueError, match="action must lie"):
        generator(latent, action=6)


def test_pack_round_trip():
    videos, images = torch.randn(2, 3, 4, 8, 8), torch.randn(5, 3, 8, 8)
    back_videos, back_images = unpack(pack(videos, images), 2, 4)
    assert torch.equal(back_videos, videos) and torch.equal(back_images, images)


def test_singular_value_clipping_bounds_every_singular_value():
    torch.manual_seed(0)
    discriminator = TGANDiscriminator(size=32, width=8)
    with torch.no_grad():
        for parameter in discriminator.parameters():
            parameter.mul_(5)
        discriminator.train()(torch.randn(4, 3, 16, 32, 32))  # fill the running variances
    clip_singular_values(discriminator)
    checked = 0
    for module in discriminator.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            sigma = (module.running_var + module.eps).sqrt()
            assert (module.weight <= sigma + 1e-6).all() and (
                module.weight >= 0.01 * sigma - 1e-6
            ).all()
        elif isinstance(module, torch.nn.Conv3d):
            values = torch.linalg.svdvals(module.weight.reshape(module.weight.shape[0], -1))
            assert values.max() <= 1 + 1e-4
            checked += 1
    assert checked == 5


def test_svc_loss_clips_every_fifth_update():
    discriminator = TGANDiscriminator(size=32, width=8)
    with torch.no_grad():
        for parameter in discriminator.parameters():
            parameter.mul_(5)
    loss = SVCWassersteinLoss(clip_every=5)
    first = discriminator.net[0].weight
    for _ in range(4):
        loss.after_discriminator_step(discriminator)
    assert torch.linalg.svdvals(first.reshape(first.shape[0], -1)).max() > 1
    loss.after_discriminator_step(discriminator)
    assert torch.linalg.svdvals(first.reshape(first.shape[0], -1)).max() <= 1 + 1e-4


def test_mocogan_trainer_steps_through_the_core_path():
    torch.manual_seed(0)
    generator = MoCoGANGenerator(size=16, categories=3, width=8)
    discriminator = MoCoGANDiscriminator(size=16, categories=3, width=8)

    def batch():
        return {"real": torch.rand(4, 3, 16, 16, 16) * 2 - 1, "condition": torch.randint(3, (4,))}

    run = MiniRun(
        {"generator": generator, "discriminator": discriminator},
        {"adversarial": NonSaturatingLoss()},
        batch,
        batch_size=4,
        description={"conditional": True, "num_classes": 3},
    )
    trainer = MoCoGANTrainer(video_batch=2)
    trainer.setup(run)
    adam = run.optimization.optimizers["generator"]
    assert adam.defaults["weight_decay"] == 1e-5 and adam.defaults["lr"] == 2e-4
    before = [p.detach().clone() for p in generator.parameters()]
    logs = run.step_once(trainer)
    assert {"d_loss", "g_loss", "d_category", "g_category"} <= set(logs)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, generator.parameters()))
