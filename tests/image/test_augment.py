"""Discriminator augmentation: ADA (Karras et al. 2020, "Training GANs with Limited Data") and
DiffAugment (Zhao et al. 2020). Each transformation is differentiable (twice, for R1) and keeps
shapes; the geometric resampling is upfirdn2d's; ADA is the identity at p = 0; p follows the sign
of D's outputs on reals; the trainer puts every D input through the augmentation; p survives a
resume bit for bit; DCGAN recipes train with it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import genmm
from genmm.errors import RecipeError
from genmm.losses import NonSaturatingLoss, R1Penalty
from genmm.training.gan import GANTrainer
from genmm_image.augment import (
    COLOUR,
    GEOMETRIC,
    SYM6,
    AdaptiveAugment,
    DiffAugment,
    downsample2x_crop,
    rotate2d,
    scale2d,
    translate2d,
    upsample2x,
)
from genmm_image.dcgan import DCGANDiscriminator, DCGANGenerator
from genmm_image.stylegan2.discriminator import StyleGAN2Discriminator
from genmm_image.stylegan2.generator import StyleGAN2Generator
from genmm_image.stylegan2.trainer import StyleGAN2Trainer

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
ALL_OFF = {name: 0.0 for name in GEOMETRIC + COLOUR}


def only(name: str, **keys) -> AdaptiveAugment:
    """ADA with one transformation on, always applied (p = 1)."""
    return AdaptiveAugment(p=1.0, **{**ALL_OFF, name: 1.0}, **keys)


def seeded(module: nn.Module, seed: int = 0):
    """``module`` drawing the same parameters at every call (for gradcheck)."""

    def call(x: torch.Tensor) -> torch.Tensor:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return module(x)

    return call


def smooth_images(batch: int = 2, channels: int = 3, size: int = 32) -> torch.Tensor:
    coarse = torch.rand(batch, channels, 6, 6) * 2 - 1
    return F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)


# ---------------------------------------------------------------------- each transformation
@pytest.mark.parametrize("name", GEOMETRIC + COLOUR)
def test_each_ada_transformation_is_differentiable_and_keeps_shapes(name):
    torch.manual_seed(0)
    augment = only(name)
    x = (torch.rand(1, 3, 6, 6, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    assert torch.autograd.gradcheck(seeded(augment), (x,), fast_mode=True)
    batch = torch.rand(8, 3, 6, 6) * 2 - 1
    out = augment(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert not torch.allclose(out, batch, atol=1e-3)  # it did transform the images
    grey = torch.rand(4, 1, 8, 8, requires_grad=True)
    out = augment(grey)
    assert out.shape == grey.shape
    (gradient,) = torch.autograd.grad(out.square().sum(), grey)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_the_whole_pipeline_is_twice_differentiable_for_r1():
    """R1 differentiates D's gradient with respect to the un-augmented reals."""
    x = (torch.rand(1, 3, 5, 5, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    assert torch.autograd.gradgradcheck(
        seeded(AdaptiveAugment(p=1.0)), (x,), atol=1e-5, fast_mode=True
    )


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_each_diffaugment_policy_is_differentiable_and_keeps_shapes(policy):
    augment = DiffAugment(policy=policy)
    x = (torch.rand(2, 3, 8, 8, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    assert seeded(augment)(x).shape == x.shape
    assert torch.autograd.gradcheck(seeded(augment), (x,), fast_mode=True)
    assert DiffAugment(policy="")(x) is x
    with pytest.raises(ValueError, match="policy"):
        DiffAugment(policy="color,blur")


def test_diffaugment_translation_and_cutout_move_and_blank_whole_pixels():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 8, 8) + 1.0  # no zeros inside an image
    cut = DiffAugment(policy="cutout", cutout_ratio=0.5)(x)
    zeros = (cut == 0).flatten(1).sum(1)
    assert zeros.max() == 16 and zeros.min() >= 4  # a 4x4 square, clipped at the edges
    moved = DiffAugment(policy="translation", translation_ratio=0.125)(x)
    padded = F.pad(x, [1, 1, 1, 1])  # each image: the original moved by at most 1 pixel
    windows = {
        (dy, dx): padded[:, :, 1 + dy : 9 + dy, 1 + dx : 9 + dx]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    }
    shifts = []
    for index in range(x.shape[0]):
        matches = [shift for shift, w in windows.items() if torch.equal(w[index], moved[index])]
        assert matches, index
        shifts.append(matches[0])
    assert len(set(shifts)) > 3


# ---------------------------------------------------------------------- the resampling
def upfirdn2d_reference(x, f, up=1, down=1, padding=(0, 0, 0, 0), flip_filter=False, gain=1.0):
    """upfirdn2d as stylegan2-ada-pytorch's reference implementation writes it: zero insertion,
    padding (negative crops), the separable filter as grouped convolutions, decimation."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch, channels, height, 1, width, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(batch, channels, height * up, width * up)
    x0, x1, y0, y1 = padding
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    f = f * gain**0.5
    f = f if flip_filter else f.flip(0)
    x = F.conv2d(x, f.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    x = F.conv2d(x, f.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
    return x[:, :, ::down, ::down]


def test_up_and_down_sampling_are_upfirdn2d_with_the_sym6_filter():
    taps = torch.tensor(SYM6, dtype=torch.float64)
    taps = taps / taps.sum()
    x = torch.randn(2, 3, 9, 13, dtype=torch.float64)
    expected = upfirdn2d_reference(x, taps, up=2, padding=(6, 5, 6, 5), gain=4)
    assert torch.allclose(upsample2x(x, taps), expected, atol=1e-12)
    y = torch.randn(2, 3, 2 * 9 + 12, 2 * 13 + 12, dtype=torch.float64)
    expected = upfirdn2d_reference(y, taps, down=2, padding=(-1, -1, -1, -1), flip_filter=True)
    assert downsample2x_crop(y, taps, crop=3).shape == (2, 3, 9, 13)
    assert torch.allclose(downsample2x_crop(y, taps, crop=3), expected, atol=1e-12)


def test_geometric_transformations_move_pixels_as_their_matrices_say():
    """An identity round trip (sym6 is orthogonal), an integer shift (exact), x-flip and 90°
    rotations (up to the filter's slight asymmetry on a smooth image)."""
    torch.manual_seed(0)
    x = smooth_images()
    augment = AdaptiveAugment(p=1.0)
    one = torch.ones(2)
    assert torch.allclose(augment.resample(x, scale2d(one, one)), x, atol=1e-5)
    shifted = augment.resample(x, translate2d(2 * one, -3 * one))  # out(u, v) = in(u + 2, v - 3)
    padded = F.pad(x, [8, 8, 8, 8], mode="reflect")
    assert torch.allclose(shifted, padded[:, :, 5:37, 10:42], atol=1e-5)
    assert (augment.resample(x, scale2d(-one, one)) - x.flip(3)).abs().max() < 0.1
    for quarter in range(4):
        rotated = augment.resample(x, rotate2d(one * math.pi / 2 * quarter))
        assert (rotated - torch.rot90(x, quarter, (2, 3))).abs().max() < 0.1


def test_pixel_blitting_at_p_1_gives_flips_and_quarter_turns():
    torch.manual_seed(1)
    x = smooth_images(batch=16)
    flipped = only("xflip")(x)
    seen = set()
    for image, original in zip(flipped, x):
        errors = [(image - original).abs().max(), (image - original.flip(2)).abs().max()]
        assert min(errors) < 0.1
        seen.add(int(errors[1] < errors[0]))
    assert seen == {0, 1}
    turned = only("rotate90")(x)
    quarters = set()
    for image, original in zip(turned, x):
        errors = [(image - torch.rot90(original, k, (1, 2))).abs().max() for k in range(4)]
        assert min(errors) < 0.1
        quarters.add(min(range(4), key=lambda k: errors[k]))
    assert len(quarters) > 2


def test_colour_transformations():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 4, 4) * 2 - 1
    luma = x.mean(1)
    change = only("brightness")(x) - x  # one offset per image, on every pixel and channel
    assert torch.allclose(change, change[:, :1, :1, :1].expand_as(change), atol=1e-6)
    assert change.abs().amax((1, 2, 3)).min() > 0
    centred = only("contrast")(x) / x  # one factor per image
    assert torch.allclose(centred, centred[:, :1, :1, :1].expand_as(centred), atol=1e-4)
    for name in ("hue", "saturation"):  # both leave the luma axis alone
        out = only(name)(x)
        assert torch.allclose(out.mean(1), luma, atol=1e-5) and not torch.allclose(out, x)
    hue = only("hue")(x)  # a rotation about the luma axis keeps the chroma's length
    chroma = (x - luma[:, None]).norm(dim=1)
    assert torch.allclose((hue - hue.mean(1, keepdim=True)).norm(dim=1), chroma, atol=1e-5)
    flipped = only("lumaflip")(x)  # a reflection: the luma negated or kept, chroma kept
    for image, original in zip(flipped, x):
        new, old = image.mean(0), original.mean(0)
        assert torch.allclose(new, old, atol=1e-5) or torch.allclose(new, -old, atol=1e-5)
        assert torch.allclose(image - new, original - old, atol=1e-5)
    grey = torch.rand(8, 1, 4, 4)
    assert torch.equal(only("hue")(grey), grey)  # hue and saturation need colour


# ---------------------------------------------------------------------- p
def test_the_identity_at_p_0_exactly_and_without_drawing_randomness():
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    state = torch.get_rng_state()
    for augment in (AdaptiveAugment(), AdaptiveAugment(p=0.0, target=None)):
        assert augment(x) is x
    assert torch.equal(torch.get_rng_state(), state)
    augment = AdaptiveAugment(p=0.5)
    assert not torch.equal(augment(x), x)


def test_p_rises_when_d_says_real_and_falls_when_it_does_not():
    """Section 3: every 4 batches p moves by sign(r_t - 0.6) x images / 500k, clamped at 0."""
    augment = AdaptiveAugment()
    assert (augment.target, augment.ada_kimg, augment.interval) == (0.6, 500.0, 4)
    step = 4 * 8 / 500_000
    positive, negative = torch.full((8, 1), 2.5), torch.full((8, 1), -0.1)
    for _ in range(3):
        figures = augment.observe([positive])
        assert float(augment.p) == 0.0 and "augment_rt" not in figures  # not measured yet
    figures = augment.observe([positive])
    assert float(figures["augment_p"]) == pytest.approx(step, rel=1e-6)
    assert float(figures["augment_rt"]) == 1.0
    for _ in range(4):  # r_t = 0.75 > 0.6 (7 of 8 positive): up again
        augment.observe([torch.cat([positive[:7], negative[:1]])])
    assert float(augment.p) == pytest.approx(2 * step, rel=1e-6)
    assert float(augment.rt) == 0.75
    for _ in range(4):  # r_t = 0.5 < 0.6: down
        augment.observe([torch.cat([positive[:6], negative[:2]])])
    assert float(augment.p) == pytest.approx(step, rel=1e-5)
    for _ in range(12):  # D calls every real fake: down to 0 and no further
        augment.observe([negative])
    assert float(augment.p) == 0.0 and float(augment.rt) == -1.0
    fixed = AdaptiveAugment(p=0.3, target=None)
    for _ in range(8):
        fixed.observe([positive])
    assert float(fixed.p) == pytest.approx(0.3)
    multi = AdaptiveAugment(interval=1, ada_kimg=1.0)  # several scales: all their signs count
    multi.observe([torch.ones(4, 1), -torch.ones(4, 1, 3, 3)])
    assert float(multi.rt) == pytest.approx((4 - 36) / 40) and float(multi.p) == 0.0


def tiny_dcgan(width: int = 8):
    G = DCGANGenerator(image_size=8, channels=3, width=width, latent_dim=16)
    D = DCGANDiscriminator(image_size=8, channels=3, width=width)
    return G, D


def test_p_rises_when_d_overfits_a_tiny_set_and_falls_when_d_cannot_tell(stub_run):
    """A DCGAN D learning 8 fixed images calls them real (r_t -> 1): p rises. A D that outputs
    0 on everything (its last layer zeroed, not trained) gives r_t = 0 < 0.6: p falls."""
    torch.manual_seed(0)
    images = torch.rand(8, 3, 8, 8) * 2 - 1
    speedy = dict(ada_kimg=0.32, interval=1)  # 8 images / 320 = 0.025 per batch
    G, D = tiny_dcgan(width=16)
    augment = AdaptiveAugment(**speedy)
    quick = {"discriminator": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}}
    run = stub_run(G, D, {"adversarial": NonSaturatingLoss()}, lambda: images, optimizers=quick)
    run.models["augment"] = augment
    trainer = GANTrainer(augment="augment")
    trainer.setup(run)
    ps = [float(run.step_once(trainer)["augment_p"]) for _ in range(12)]
    assert ps[-1] >= 0.2 and float(augment.rt) > 0.6  # up 0.025 a batch nearly every batch
    G, D = tiny_dcgan()
    with torch.no_grad():
        last = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))][-1]
        last.weight.zero_()
        if last.bias is not None:
            last.bias.zero_()
    augment = AdaptiveAugment(p=0.2, **speedy)
    frozen = {"discriminator": {"name": "adam", "lr": 0.0}}
    run = stub_run(G, D, {"adversarial": NonSaturatingLoss()}, lambda: images, optimizers=frozen)
    run.models["augment"] = augment
    trainer = GANTrainer(augment="augment")
    trainer.setup(run)
    ps = [float(run.step_once(trainer)["augment_p"]) for _ in range(10)]
    assert ps[:9] == pytest.approx([0.2 - 0.025 * (i + 1) for i in range(8)] + [0.0], abs=1e-6)
    assert ps[-1] == 0.0 and float(augment.rt) == 0.0


def test_a_resumed_adaptive_run_continues_with_the_same_p(stub_run):
    """p and the running interval are buffers: the state_dict (safetensors) holds them."""
    augment = AdaptiveAugment(p=0.25, interval=3)
    augment.observe([torch.ones(8, 1)])
    fresh = AdaptiveAugment()
    fresh.load_state_dict(augment.state_dict())
    assert torch.equal(fresh.p, augment.p) and torch.equal(fresh.tally, augment.tally)
    assert "taps" not in augment.state_dict()


# ---------------------------------------------------------------------- in the trainer
class Recording(nn.Module):
    """An augmentation that mirrors images and records what it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []
        self.observed: list[list[torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x)
        return x.flip(3)

    def observe(self, scores):
        self.observed.append(scores)
        return {"recorded": float(len(self.observed))}


def test_every_input_of_d_goes_through_the_augmentation(stub_run):
    """StyleGAN2's step: D's reals and fakes, G's fakes and R1's reals (lazy, every 2 D
    updates) all pass through it; once the step is done it sees D's scores of the reals."""
    torch.manual_seed(0)
    tiny = dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16)
    G = StyleGAN2Generator(resolution=8, channels=3, **tiny)
    D = StyleGAN2Discriminator(resolution=8, channels=3, channel_base=128, channel_max=16)
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    losses = {"adversarial": NonSaturatingLoss(), "r1": R1Penalty(gamma=1.0, every=2)}
    run = stub_run(G, D, losses, lambda: images)
    recording = run.models["augment"] = Recording()
    trainer = StyleGAN2Trainer(augment="augment")
    trainer.setup(run)
    calls = []
    for _ in range(3):
        before = len(recording.inputs)
        logs = run.step_once(trainer)
        calls.append(len(recording.inputs) - before)
        assert "r1" not in logs or math.isfinite(float(logs["r1"]))
    assert calls == [4, 3, 4]  # D real, D fake, (R1 real), G fake
    assert torch.equal(recording.inputs[0], images)  # the reals as they come
    assert recording.inputs[2].requires_grad  # R1's reals: gradients through the augmentation
    assert len(recording.observed) == 3 and logs["recorded"] == 3.0
    assert recording.observed[0][0].shape == (4, 1) and not recording.observed[0][0].requires_grad
    run.models["augment"] = nn.Identity()
    with pytest.raises(RecipeError, match="models.augment"):
        StyleGAN2Trainer(augment="augment").setup(run)


def test_ada_refuses_images_it_cannot_colour():
    with pytest.raises(ValueError, match="grey"):
        AdaptiveAugment(description={"channels": 4})
    with pytest.raises(ValueError, match=r"\(B, 1 or 3, H, W\)"):
        AdaptiveAugment(p=0.5)(torch.rand(2, 2, 8, 8))


# ---------------------------------------------------------------------- recipes, resume
TINY_DIGITS = [
    "data.size=8",
    "models.generator.width=8",
    "models.discriminator.width=8",
    "phases.gan.batch_size=16",
    "eval.every=0",
    "samples.every=0",
    "runtime.progress=false",
    "runtime.log_every=1",
]
ADA = [
    "models.augment={name: image.ada, p: 0.5, ada_kimg: 0.32, interval: 2}",
    "phases.gan.augment=augment",
]


def weights(run) -> dict[str, torch.Tensor]:
    modules = run.weight_modules().items()
    return {f"{r}.{k}": v for r, m in modules for k, v in m.state_dict().items()}


def logged(folder: Path) -> dict[int, dict]:
    return {r["step"]: r for r in map(json.loads, (folder / "metrics.jsonl").open()) if "step" in r}


def test_p_survives_a_resume_bit_for_bit(manager, tmp_path):
    """dcgan_digits with ADA through the real loop: 6 steps, against 3 + a resume of 3. p moves
    by 2 x 16 / 320 = 0.1 after batches 2, 4 and 6, so the checkpoint at step 3 falls inside an
    interval. p, the interval's tally, every weight and the losses after the resume match."""
    path = RECIPES / "dcgan_digits.yaml"
    keys = [*TINY_DIGITS, *ADA, "phases.gan.max_steps=6", "checkpoint.every=3"]
    whole = genmm.train(path, keys, out=tmp_path / "whole", manager=manager)
    half = genmm.train(path, keys, out=tmp_path / "half", max_steps=3, manager=manager)
    assert float(half.models["augment"].tally[3]) == 1.0  # one batch into the interval
    resumed = genmm.train(resume=tmp_path / "half", manager=manager)
    assert whole.status == resumed.status == "completed" and resumed.step == 6
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys() and "augment.p" in a and "augment.tally" in a
    for key in a:
        assert torch.equal(a[key], b[key]), key
    p = float(whole.models["augment"].p)
    assert min(abs(p - value) for value in (0.2, 0.4, 0.6, 0.8)) < 1e-6  # three moves of 0.1
    first, second = logged(tmp_path / "whole"), logged(tmp_path / "half")
    for step in (4, 5, 6):
        for key in ("d_loss", "g_loss", "augment_p", "augment_rt"):
            assert first[step][key] == second[step][key], (step, key)
    assert first[3]["augment_p"] == second[3]["augment_p"] != 0.5


def test_at_p_0_a_run_with_ada_is_the_run_without(manager, tmp_path):
    path = RECIPES / "dcgan_digits.yaml"
    keys = [*TINY_DIGITS, "phases.gan.max_steps=2", "checkpoint.every=2"]
    plain = genmm.train(path, keys, out=tmp_path / "plain", manager=manager)
    fixed = ["models.augment={name: image.ada, p: 0.0, target: null}", "phases.gan.augment=augment"]
    augmented = genmm.train(path, [*keys, *fixed], out=tmp_path / "ada", manager=manager)
    a, b = weights(plain), weights(augmented)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_dcgan_shapes_trains_with_diffaugment(manager, tmp_path):
    from PIL import Image

    keys = [
        "data.size=8",
        "data.count=64",
        "models.generator.width=8",
        "models.discriminator.width=8",
        "phases.gan.batch_size=16",
        "phases.gan.max_steps=2",
        "eval.every=0",
        "samples.every=2",
        "samples.n=16",
        "runtime.progress=false",
        "runtime.log_every=1",
        "models.augment={name: image.diffaugment}",
        "phases.gan.augment=augment",
    ]
    out = tmp_path / "run"
    run = genmm.train(RECIPES / "dcgan_shapes.yaml", keys, out=out, manager=manager)
    assert run.status == "completed" and isinstance(run.models["augment"], DiffAugment)
    with Image.open(out / "samples" / "step-000002.png") as image:
        image.load()
    records = logged(out)
    assert all(math.isfinite(records[s][k]) for s in (1, 2) for k in ("d_loss", "g_loss"))
