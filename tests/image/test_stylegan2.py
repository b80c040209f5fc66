"""StyleGAN2 (Karras et al. 2020): parameter counts, shapes, modulation maths, truncation,
style mixing, lazy R1 / path length schedule through the core's path, EMA ramp, resume, and
the recipe through the real CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import genmm
from genmm.errors import RecipeError
from genmm.losses import NonSaturatingLoss, R1Penalty
from genmm_image.stylegan2.discriminator import StyleGAN2Discriminator, minibatch_stddev
from genmm_image.stylegan2.generator import StyleGAN2Generator
from genmm_image.stylegan2.layers import ModulatedConv2d, blur, upsample
from genmm_image.stylegan2.losses import PathLengthPenalty
from genmm_image.stylegan2.trainer import StyleGAN2Trainer
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
    with torch.no_grad():
        images = G(torch.randn(5, 16), truncation=0.0, noise_mode="const")
        mean_image = G.synthesis(G.mapping.w_avg.expand(1, G.num_ws, -1), "const")
    assert torch.allclose(images, mean_image.expand_as(images), atol=1e-5)
    with torch.no_grad():
        assert (G(torch.randn(5, 16)).std(0) > 1e-4).any()
        # the options are arguments of the call: nothing is left set on the generator
        for name, parameter in G.named_parameters():
            if name.endswith("noise.strength"):  # 0 at initialisation: make the noise show
                parameter.fill_(0.1)
        z = torch.randn(2, 16)
        assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
        assert torch.equal(G(z, noise_mode="none"), G(z, noise_mode="none"))
        assert not torch.equal(G(z), G(z))  # the default draws fresh noise
    with pytest.raises(ValueError, match="noise_mode"):
        G(torch.randn(1, 16), noise_mode="loud")


def test_style_mixing_takes_the_later_layers_from_the_second_latent():
    torch.manual_seed(0)
    G = StyleGAN2Generator(resolution=16, channels=3, **TINY)
    a, b = G.styles(torch.randn(3, 16)), G.styles(torch.randn(3, 16))
    mixed = G.mix(a, b, 2)
    assert torch.equal(mixed[:, :2], a[:, :2]) and torch.equal(mixed[:, 2:], b[:, 2:])
    with torch.no_grad():
        images = G.synthesis(mixed, "const")
        za, zb = torch.randn(3, 16), torch.randn(3, 16)
        through_forward = G(za, noise_mode="const", mix=zb, crossover=2)
        by_hand = G.synthesis(G.mix(G.styles(za), G.styles(zb), 2), "const")
        matrix = mixing_matrix(G, 3, 2, 0.7, "cpu")
    assert torch.isfinite(images).all() and images.shape == (3, 3, 16, 16)
    assert torch.allclose(through_forward, by_hand, atol=1e-6)
    assert matrix.shape == (16, 3, 16, 16) and torch.isfinite(matrix).all()
    with pytest.raises(ValueError, match="crossover"):
        G(za, mix=zb, crossover=G.num_ws)


def random_images(batch: int = 8, resolution: int = 16) -> torch.Tensor:
    return torch.rand(batch, 3, resolution, resolution) * 2 - 1


def tiny_pair(resolution: int = 16):
    G = StyleGAN2Generator(resolution=resolution, channels=3, **TINY)
    D = StyleGAN2Discriminator(resolution=resolution, channels=3, channel_base=128, channel_max=16)
    return G, D


def test_lazy_r1_and_path_length_schedule_and_adjusted_optimisers(stub_run):
    """R1 (core.r1, every 3) and path length (image.path_length, every 2) are lazy terms of the
    core's GAN step: their own updates at D / G update 0, 3, 6 and 0, 2, 4, 6, each network's
    Adam corrected by c = k / (k + 1) (StyleGAN2 appendix B)."""
    torch.manual_seed(0)
    G, D = tiny_pair()
    path_length = PathLengthPenalty(every=2)
    losses = {
        "adversarial": NonSaturatingLoss(),
        "r1": R1Penalty(gamma=1.0, every=3),
        "path_length": path_length,
    }
    run = stub_run(G, D, losses, random_images)
    trainer = StyleGAN2Trainer(ema_kimg=0.01, ema_rampup=0.5)
    trainer.setup(run)
    assert trainer.path_length is path_length and path_length.style_mixing == 0.9
    d_group = run.optimization.optimizers["discriminator"].param_groups[0]
    g_group = run.optimization.optimizers["generator"].param_groups[0]
    assert d_group["lr"] == pytest.approx(0.0025 * 3 / 4)
    assert d_group["betas"] == pytest.approx((0.0, 0.99 ** (3 / 4)))
    assert d_group["eps"] == 1e-8
    assert g_group["lr"] == pytest.approx(0.0025 * 2 / 3)
    assert g_group["betas"] == pytest.approx((0.0, 0.99 ** (2 / 3)))
    logs = [run.step_once(trainer) for _ in range(7)]
    assert [i for i, log in enumerate(logs) if "r1" in log] == [0, 3, 6]
    assert [i for i, log in enumerate(logs) if "path_length" in log] == [0, 2, 4, 6]
    # each lazy term is its own update: D steps 7 + 3, G steps 7 + 4
    assert run.optimization.updates == {"generator": 11, "discriminator": 10}
    assert all(math.isfinite(float(v)) for log in logs for v in log.values())
    assert float(path_length.pl_mean) > 0  # the running length moved off zero
    assert float(logs[-1]["pl_mean"]) > 0
    assert trainer.images_seen == 7 * 8
    # EMA half-life ramps with the images seen: min(10 img, 0.5 * 56 img) = 10 images
    assert trainer.ema_beta(8) == pytest.approx(0.5 ** (8 / 10))
    state = trainer.state_dict()
    assert (state["d_steps"], state["g_steps"], state["images_seen"]) == (7, 7, 56)
    G2, D2 = tiny_pair()
    fresh_loss = PathLengthPenalty(every=2)
    fresh_run = stub_run(
        G2, D2, {"adversarial": NonSaturatingLoss(), "path_length": fresh_loss}, random_images
    )
    fresh = StyleGAN2Trainer()
    fresh.setup(fresh_run)
    fresh.load_state_dict(state)
    assert (fresh.d_steps, fresh.g_steps, fresh.images_seen) == (7, 7, 56)
    assert torch.equal(fresh_loss.pl_mean, path_length.pl_mean)


def test_path_length_penalty_is_the_squared_deviation_of_the_jacobian_norm():
    """With a synthesis that is linear in ws (image = A ws), J_w^T y = A^T y exactly: check
    the length, the running mean's update and the returned penalty by hand."""
    torch.manual_seed(0)

    class Linear(torch.nn.Module):
        z_dim, num_ws = 3, 2

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones([]))

        def styles(self, z, update_w_avg=False):
            return z[:, None].expand(-1, 2, -1) * self.scale

        def mix(self, ws, other, cutoff):
            raise AssertionError("no mixing asked")

        def synthesis(self, ws):  # (n, 2, 3) -> (n, 1, 2, 2): every pixel 2 * sum of ws
            return (2 * ws.sum((1, 2)))[:, None, None, None].expand(-1, 1, 2, 2)

    class Ctx:
        generator, real = Linear(), torch.zeros(8, 1, 2, 2)

    loss = PathLengthPenalty(decay=0.5, batch_shrink=2)
    torch.manual_seed(1)
    penalty = loss(Ctx)
    torch.manual_seed(1)
    torch.randn(4, 3)  # the latents (the linear synthesis does not depend on them)
    y = torch.randn(4, 1, 2, 2) / 2  # / sqrt(H W)
    # d(sum image * y)/d ws[i, l, k] = 2 * sum_pixels y_i; length: sqrt(mean_l sum_k g^2)
    lengths = (2 * y.sum((1, 2, 3))).abs() * math.sqrt(3)
    mean = 0.5 * lengths.mean()  # lerp from 0 by decay 0.5
    assert float(loss.pl_mean) == pytest.approx(float(mean), rel=1e-5)
    assert float(penalty) == pytest.approx(float(((lengths - mean) ** 2).mean()), rel=1e-5)


def test_missing_adversarial_loss_is_a_recipe_error_naming_the_key(stub_run):
    G, D = tiny_pair()
    run = stub_run(G, D, {"r1": R1Penalty()}, random_images)
    with pytest.raises(RecipeError, match="losses.adversarial"):
        StyleGAN2Trainer().setup(run)


def test_a_generator_without_styles_is_a_recipe_error(stub_run):
    from genmm_image.dcgan import DCGANGenerator

    _, D = tiny_pair()
    G = DCGANGenerator(image_size=16, channels=3, width=8)
    run = stub_run(G, D, {"adversarial": NonSaturatingLoss()}, random_images)
    with pytest.raises(RecipeError, match="image.stylegan2_generator"):
        StyleGAN2Trainer().setup(run)


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
    plain = tmp_path / "plain.png"
    result = cli("generate", str(out), "--n", "4", "-o", str(plain), "--noise-mode", "none")
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(plain) as image:
        image.load()
        assert image.size == (2 * 66 + 2, 2 * 66 + 2)
    result = cli("generate", str(out), "--n", "4", "-o", str(plain), "--noise-mode", "loud")
    assert result.returncode != 0 and "noise_mode" in (result.stderr + result.stdout)
    result = cli("generate", str(out), "--n", "4", "-o", str(grid), "--crossover", "99", "--mix")
    assert result.returncode != 0 and "crossover" in (result.stderr + result.stdout)


def test_generator_ema_follows_the_generator_with_the_ramped_half_life(stub_run):
    """The trainer sets the decay from the half-life in images; the core (here MiniRun's
    step_once, as the loop) updates the copy after the step."""
    torch.manual_seed(0)
    G, D = tiny_pair()
    run = stub_run(G, D, {"adversarial": NonSaturatingLoss()}, random_images)
    trainer = StyleGAN2Trainer(ema_kimg=0.016, ema_rampup=None)
    trainer.setup(run)
    before = {k: v.clone() for k, v in run.ema["generator"].shadow.state_dict().items()}
    run.step_once(trainer)
    # half-life 16 images, batch 8: beta = 0.5 ** (8 / 16); shadow = beta shadow + (1-beta) G
    beta = 0.5**0.5
    assert run.ema["generator"].decay == pytest.approx(beta)
    shadow = run.ema["generator"].shadow.state_dict()
    current = G.state_dict()
    key = "synthesis.blocks.1.conv0.conv.weight"
    expected = beta * before[key] + (1 - beta) * current[key]
    assert torch.allclose(shadow[key], expected, atol=1e-6)
    assert not torch.equal(shadow[key], current[key])
    # w_avg moved on the fakes G learned from (and the EMA copies the buffer)
    assert G.mapping.w_avg.abs().sum() > 0
    assert torch.equal(shadow["mapping.w_avg"], G.mapping.w_avg)


RESUME_OVERRIDES = [
    *[o for o in TINY_OVERRIDES if not o.startswith("samples.every")],
    "samples.every=0",
    "data.size=16",
    "losses.r1.every=2",
    "losses.path_length.every=2",
    "phases.gan.max_steps=4",
    "checkpoint.every=2",
    "runtime.log_every=1",
]


def test_resume_equals_an_uninterrupted_run(manager, tmp_path):
    """Weights, EMA, path-length mean and the lazy counters carry over a resume exactly."""
    path = RECIPES / "stylegan2_shapes.yaml"

    def weights(run) -> dict[str, torch.Tensor]:
        modules = run.weight_modules().items()
        return {f"{r}.{k}": v for r, m in modules for k, v in m.state_dict().items()}

    whole = genmm.train(path, RESUME_OVERRIDES, out=tmp_path / "whole", manager=manager)
    half = genmm.train(path, RESUME_OVERRIDES, out=tmp_path / "half", max_steps=2, manager=manager)
    assert half.step == 2 and half.status == "completed"
    resumed = genmm.train(resume=tmp_path / "half", manager=manager)
    assert whole.status == resumed.status == "completed" and resumed.step == 4
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys() and any(k.startswith("ema.generator") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    state_a, state_b = whole.trainer.state_dict(), resumed.trainer.state_dict()
    assert (state_b["d_steps"], state_b["g_steps"], state_b["images_seen"]) == (4, 4, 32)
    assert float(state_a["pl_mean"]) > 0
    assert torch.equal(state_a["pl_mean"], state_b["pl_mean"])
    logged = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").open()]
    assert [r["step"] for r in logged if "r1" in r] == [1, 3]  # D updates 0 and 2
    assert [r["step"] for r in logged if "path_length" in r] == [1, 3]
