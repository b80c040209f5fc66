"""StyleGAN2 (Karras et al. 2020): parameter counts, shapes, modulation maths, truncation,
style mixing, lazy R1 / path length schedule, EMA ramp, and the recipe through the real CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from genmm.losses import NonSaturatingLoss, R1Penalty
from genmm_image.stylegan2.discriminator import StyleGAN2Discriminator, minibatch_stddev
from genmm_image.stylegan2.generator import StyleGAN2Generator
from genmm_image.stylegan2.layers import ModulatedConv2d, blur, upsample
from genmm_image.stylegan2.trainer import StyleGAN2Trainer, lazy_adjusted
from genmm_image.stylegan2.writer import mixing_matrix

RECIPES = Path(__file__).resolve().parents[2] / "recipes"

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_generator_parameters_at_the_official_cifar_widths():
    """z = w = 512, 2 mapping layers, 512 channels at 4-32 (channel_base 32768, max 512).

    mapping 2 x (512*512 + 512)                               =    525,312
    const 512*4*4                                             =      8,192
    7 style layers (4: conv1; 8, 16, 32: conv0 + conv1), each
      3x3 weight 512*512*9 + affine 512*512+512 + bias 512 + noise strength 1
                                                = 2,622,465 ->  18,357,255
    4 tRGB, each affine 512*512+512 + 1x1 weight 3*512 + bias 3
                                                  = 264,195 ->   1,056,780
    total                                                     = 19,947,539 (~20 M)
    """
    G = StyleGAN2Generator(resolution=32, channels=3, mapping_layers=2)
    assert count(G.mapping) == 525_312
    assert count(G) == 19_947_539
    assert G.num_ws == 8


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_shapes(resolution):
    G = StyleGAN2Generator(resolution=resolution, channels=3, **TINY)
    D = StyleGAN2Discriminator(resolution=resolution, channels=3, channel_base=128, channel_max=16)
    images = G(torch.randn(4, 16))
    assert images.shape == (4, 3, resolution, resolution)
    assert G.num_ws == 2 * int(math.log2(resolution)) - 2
    assert D(images).shape == (4, 1)


@pytest.mark.parametrize("up", [False, True])
def test_modulated_conv_grouped_equals_batched_and_demodulation_removes_style_scale(up):
    torch.manual_seed(0)
    conv = ModulatedConv2d(8, 6, 3, 16, up=up)
    x, w = torch.randn(4, 8, 5, 5), torch.randn(4, 16)
    batched = conv(x, w)
    conv.fused = True
    assert torch.allclose(conv(x, w), batched, atol=1e-5)
    assert batched.shape == (4, 6, 10 if up else 5, 10 if up else 5)
    # demodulation (eq. 3) makes the output invariant to a per-sample scale of the styles
    with torch.no_grad():
        conv.affine.bias.mul_(3.0)
        conv.affine.weight.mul_(3.0)
    assert torch.allclose(conv(x, w), batched, atol=1e-4)


def test_blur_and_upsample_filters():
    ones = torch.ones(1, 1, 6, 6)
    assert torch.allclose(blur(ones, (0, 0)), torch.ones(1, 1, 3, 3))  # [1,3,3,1]/8 sums to 1
    impulse = torch.zeros(1, 1, 7, 7)
    impulse[0, 0, 3, 3] = 64.0
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    assert torch.allclose(blur(impulse, (0, 0))[0, 0], taps[:, None] * taps[None, :])
    assert upsample(torch.ones(1, 2, 3, 3)).shape == (1, 2, 6, 6)


def test_minibatch_stddev_matches_hand_computation():
    x = torch.randn(8, 4, 2, 2)
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (8, 5, 2, 2)
    # sample 0 is grouped with samples 2, 4, 6 (groups are strided by batch / group_size)
    group = x[[0, 2, 4, 6]]
    expected = (group.var(0, unbiased=False) + 1e-8).sqrt().mean()
    assert torch.allclose(out[0, 4], expected.expand(2, 2), atol=1e-6)


def test_truncation_zero_gives_the_mean_w_image():
    torch.manual_seed(0)
    G = StyleGAN2Generator(resolution=16, channels=3, **TINY)
    G.mapping(torch.randn(64, 16), update_w_avg=True)
    assert G.mapping.w_avg.abs().sum() > 0
    G.truncation, G.noise_mode = 0.0, "const"
    with torch.no_grad():
        images = G(torch.randn(5, 16))
        mean_image = G.synthesis(G.mapping.w_avg.expand(1, G.num_ws, -1), "const")
    assert torch.allclose(images, mean_image.expand_as(images), atol=1e-5)
    G.truncation = 1.0
    with torch.no_grad():
        assert (G(torch.randn(5, 16)).std(0) > 1e-4).any()


def test_style_mixing_takes_the_later_layers_from_the_second_latent():
    torch.manual_seed(0)
    G = StyleGAN2Generator(resolution=16, channels=3, **TINY)
    a, b = G.styles(torch.randn(3, 16)), G.styles(torch.randn(3, 16))
    mixed = G.mix(a, b, 2)
    assert torch.equal(mixed[:, :2], a[:, :2]) and torch.equal(mixed[:, 2:], b[:, 2:])
    with torch.no_grad():
        images = G.synthesis(mixed)
        matrix = mixing_matrix(G, 3, 2, 0.7, "cpu")
    assert torch.isfinite(images).all() and images.shape == (3, 3, 16, 16)
    assert matrix.shape == (16, 3, 16, 16) and torch.isfinite(matrix).all()


def random_images(batch: int = 8, resolution: int = 16) -> torch.Tensor:
    return torch.rand(batch, 3, resolution, resolution) * 2 - 1


def test_lazy_r1_and_path_length_schedule_and_adjusted_optimisers(stub_run):
    torch.manual_seed(0)
    G = StyleGAN2Generator(resolution=16, channels=3, **TINY)
    D = StyleGAN2Discriminator(resolution=16, channels=3, channel_base=128, channel_max=16)
    losses = {"adversarial": NonSaturatingLoss(), "r1": R1Penalty(gamma=1.0, every=3)}
    run = stub_run(G, D, losses, random_images)
    trainer = StyleGAN2Trainer(pl_every=2, ema_kimg=0.01, ema_rampup=0.5)
    trainer.setup(run)
    d_group = trainer.optimizers["discriminator"].param_groups[0]
    g_group = trainer.optimizers["generator"].param_groups[0]
    assert d_group["lr"] == pytest.approx(0.0025 * 3 / 4)
    assert d_group["betas"] == pytest.approx((0.0, 0.99 ** (3 / 4)))
    assert g_group["lr"] == pytest.approx(0.0025 * 2 / 3)
    logs = []
    for _ in range(7):
        logs.append(trainer.train_step(run))
        run.step += 1
    assert [i for i, log in enumerate(logs) if "r1" in log] == [0, 3, 6]
    assert [i for i, log in enumerate(logs) if "pl_penalty" in log] == [0, 2, 4, 6]
    assert trainer.r1_steps == [0, 3, 6]
    assert all(math.isfinite(float(v)) for log in logs for v in log.values())
    assert float(trainer.pl_mean) > 0  # the running length moved off zero
    assert trainer.images_seen == 7 * 8
    # EMA half-life ramps with the images seen: min(10 img, 0.5 * 56 img) = 10 images
    assert trainer.ema_beta(8) == pytest.approx(0.5 ** (8 / 10))
    state = trainer.extra_state()
    fresh = StyleGAN2Trainer()
    fresh.load_extra_state(state)
    assert (fresh.d_steps, fresh.g_steps, fresh.images_seen) == (7, 7, 56)


def test_missing_adversarial_loss_is_a_recipe_error_naming_the_trainer(stub_run):
    from genmm.errors import RecipeError

    G = StyleGAN2Generator(resolution=16, channels=3, **TINY)
    D = StyleGAN2Discriminator(resolution=16, channels=3, channel_base=128, channel_max=16)
    run = stub_run(G, D, {"r1": R1Penalty()}, random_images)
    with pytest.raises(RecipeError, match="image.stylegan2 needs an adversarial loss"):
        StyleGAN2Trainer().setup(run)


def test_lazy_adjustment_formula():
    spec = lazy_adjusted({"lr": 0.0025, "betas": [0.0, 0.99]}, 16)
    assert spec["lr"] == pytest.approx(0.0025 * 16 / 17)
    assert spec["betas"][1] == pytest.approx(0.99 ** (16 / 17))
    assert lazy_adjusted({"lr": 1.0}, 1) == {"lr": 1.0}


TINY_OVERRIDES = [
    "data.count=64",
    "models.generator.z_dim=16",
    "models.generator.w_dim=16",
    "models.generator.channel_base=128",
    "models.generator.channel_max=16",
    "models.discriminator.channel_base=128",
    "models.discriminator.channel_max=16",
    "phases.gan.batch_size=8",
    "eval.every=0",
    "samples.every=2",
    "samples.n=16",
    "runtime.progress=false",
]


def test_recipe_smoke_through_the_cli(tmp_path, cli):
    from PIL import Image

    out = tmp_path / "run"
    recipe = str(RECIPES / "stylegan2_shapes.yaml")
    result = cli("run", recipe, "--out", str(out), "--max-steps", "2", *TINY_OVERRIDES)
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(out / "samples" / "step-000002.png") as image:
        assert image.size == (4 * 66 + 2, 4 * 66 + 2)  # 4 x 4 grid of 32*2 px, padding 2
    grid = tmp_path / "grid.png"
    result = cli("generate", str(out), "--n", "64", "-o", str(grid), "--truncation", "0.7", "--mix")
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(grid) as image:
        image.load()
        assert image.size == (8 * 66 + 2, 8 * 66 + 2)  # 7 x 7 mixing matrix plus headers
    result = cli("generate", str(out), "--n", "4", "-o", str(grid), "--crossover", "99", "--mix")
    assert result.returncode != 0 and "crossover" in (result.stderr + result.stdout)


def test_generator_ema_follows_the_generator_with_the_ramped_half_life(stub_run):
    torch.manual_seed(0)
    G = StyleGAN2Generator(resolution=16, channels=3, **TINY)
    D = StyleGAN2Discriminator(resolution=16, channels=3, channel_base=128, channel_max=16)
    run = stub_run(G, D, {"adversarial": NonSaturatingLoss()}, random_images)
    trainer = StyleGAN2Trainer(pl_weight=0.0, ema_kimg=0.016, ema_rampup=None)
    trainer.setup(run)
    before = {k: v.clone() for k, v in run.ema["generator"].shadow.state_dict().items()}
    trainer.train_step(run)
    # half-life 16 images, batch 8: beta = 0.5 ** (8 / 16); shadow = beta shadow + (1-beta) G
    beta = 0.5**0.5
    assert run.ema["generator"].decay == pytest.approx(beta)
    shadow = run.ema["generator"].shadow.state_dict()
    current = G.state_dict()
    key = "synthesis.blocks.1.conv0.conv.weight"
    expected = beta * before[key] + (1 - beta) * current[key]
    assert torch.allclose(shadow[key], expected, atol=1e-6)
    assert not torch.equal(shadow[key], current[key])


RESUME_OVERRIDES = [
    *[o for o in TINY_OVERRIDES if not o.startswith("samples.every")],
    "samples.every=0",
    "data.size=16",
    "models.generator.resolution=16",
    "models.discriminator.resolution=16",
    "losses.r1.every=2",
    "phases.gan.pl_every=2",
    "phases.gan.max_steps=4",
    "checkpoint.every=2",
]


def test_resume_equals_an_uninterrupted_run(manager, tmp_path):
    """Weights, EMA, path-length mean and the lazy counters carry over a resume exactly."""
    from genmm import recipe as recipes
    from genmm.training import checkpoint
    from genmm.training.loop import Loop
    from genmm.training.run import Run

    path = RECIPES / "stylegan2_shapes.yaml"

    def train(out: Path, max_steps: int | None = None, resume: bool = False) -> Run:
        resolved = recipes.resolve(path, RESUME_OVERRIDES)
        resolved["out"] = str(out)
        recipes.validate(resolved, manager.registry, str(path))
        run = Run(resolved, manager, recipe_file=str(path), out=out)
        trainer = Loop(run, max_steps=max_steps)
        if resume:
            trainer.resume_from(checkpoint.find(out))
        assert trainer.fit() == "completed"
        return run

    whole = train(tmp_path / "whole")
    half = train(tmp_path / "half", max_steps=2)
    assert half.step == 2
    resumed = train(tmp_path / "half", resume=True)
    assert resumed.step == 4
    a = {
        f"{r}.{k}": v for r, m in whole.weight_modules().items() for k, v in m.state_dict().items()
    }
    b = {
        f"{r}.{k}": v
        for r, m in resumed.weight_modules().items()
        for k, v in m.state_dict().items()
    }
    assert a.keys() == b.keys() and any(k.startswith("ema.generator") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    state_a, state_b = whole.phase.extra_state(), resumed.phase.extra_state()
    assert (state_b["d_steps"], state_b["g_steps"], state_b["images_seen"]) == (4, 4, 32)
    assert float(state_a["pl_mean"]) > 0
    assert torch.equal(state_a["pl_mean"], state_b["pl_mean"])
    assert whole.phase.r1_steps == [0, 2]
