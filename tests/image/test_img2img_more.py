"""CycleGAN, SRGAN and image completion: the networks (shapes, parameter counts at the papers'
settings), the history pool, the completion network touching only the hole, the data sets and
their errors, the metrics' baselines, the trainers on the core's path, and each recipe made
tiny through the real CLI with ``genmm generate --direction``, the x4 output and ``--mask``."""

from __future__ import annotations

import functools
import json
import math
import re
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import genmm
from genmm import recipe as recipes
from genmm.errors import DataError, RecipeError
from genmm.losses import LSGANLoss, NonSaturatingLoss
from genmm.testing import MiniRun
from genmm_image.data import Shapes, to_float
from genmm_image.img2img.cyclegan import HistoryPool, ResNetGenerator, paper_blocks
from genmm_image.img2img.data import (
    MaskedImages,
    SketchPairs,
    SRPairs,
    TwoDomains,
    UnpairedFolder,
    draw_masks,
    fill_hole,
)
from genmm_image.img2img.inpaint import (
    CompletionNetwork,
    GlobalLocalDiscriminator,
    hole_centres,
    local_patches,
)
from genmm_image.img2img.losses import MSEReconstruction
from genmm_image.img2img.metrics import (
    CycleMetrics,
    InpaintMetrics,
    PairedMetrics,
    SRMetrics,
    diffusion_fill,
    hole_psnr,
)
from genmm_image.img2img.patchgan import PatchGANDiscriminator
from genmm_image.img2img.registrations import register_metrics
from genmm_image.img2img.srgan import SRGANDiscriminator, SRResNet
from genmm_image.img2img.trainer import CycleGANTrainer, InpaintTrainer

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def save(path: Path, width: int, height: int, colour=(200, 40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), colour).save(path)
    return path


# ====================================================================== networks
def test_cyclegan_networks_shapes_and_paper_counts():
    # the authors' resnet_9blocks at 256x256 and their instance-norm 70x70 PatchGAN
    assert paper_blocks(256) == 9 and paper_blocks(128) == 6
    assert count(ResNetGenerator(3, 3, image_size=256)) == 11_378_179
    assert ResNetGenerator(3, 3, image_size=128).blocks == 6
    D = PatchGANDiscriminator(3, 3, conditional=False, norm="instance")
    assert count(D) == 2_764_737 and not D.conditional
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    G = ResNetGenerator(1, 3, image_size=16, width=4, blocks=2)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    y = G(x)
    assert y.shape == (2, 3, 16, 16) and y.abs().max() <= 1
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 2
    assert PatchGANDiscriminator(width=4, conditional=False, norm="instance")(
        torch.randn(2, 3, 64, 64)
    ).shape == (2, 1, 6, 6)


def test_srgan_networks_shapes_and_paper_counts():
    G, D = SRResNet(3), SRGANDiscriminator(3, image_size=96)
    assert count(G) == 1_549_462 and count(D) == 23_565_505
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in G.modules()) == 2 and G.factor == 4
    assert len(G.body) == 16 + 2  # 16 residual blocks, then conv + BN before the long skip
    convolutions = [m for m in D.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convolutions] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convolutions] == [1, 2] * 4
    assert D.classifier[1].in_features == 512 * 6 * 6 and D.classifier[1].out_features == 1024
    small = SRResNet(3, blocks=2, width=8)
    assert small(torch.randn(2, 3, 6, 5)).shape == (2, 3, 24, 20)  # x4, any size
    assert SRGANDiscriminator(3, 32, width=4)(torch.randn(2, 3, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="x4"):
        SRResNet(description={"channels": 3, "factor": 4}, upsamplings=1)


def test_inpainting_networks_counts_and_the_hole():
    C = CompletionNetwork(3)
    assert count(C) == 6_072_131
    dilated = [m.dilation[0] for m in C.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [d for d in dilated if d > 1] == [2, 4, 8, 16] and len(dilated) == 15
    assert count(GlobalLocalDiscriminator(3, 256)) == 45_063_681
    torch.manual_seed(0)
    C = CompletionNetwork(3, width=8).eval()
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 4:14, 6:20] = 1
    mask[1, :, 20:30, 18:28] = 1
    with torch.no_grad():
        out = C(torch.cat([image * (1 - mask), mask], 1))
        assert out.shape == (2, 3, 32, 32)
        assert torch.equal(out * (1 - mask), image * (1 - mask))  # outside: the input exactly
        assert (out - image).abs().mul(mask).amax() > 0  # inside: the network's completion
        scribbled = image + mask * torch.randn_like(image)  # what is in the hole is never seen
        again = C(torch.cat([scribbled * (1 - mask), mask], 1))
        assert torch.allclose(again * mask, out * mask)
    assert hole_centres(mask).tolist() == [[9, 13], [25, 23]]
    patches = local_patches(image, mask, 16)
    assert patches.shape == (2, 3, 16, 16)
    assert torch.equal(patches[1], image[1, :, 16:32, 15:31])  # shifted to lie inside
    D = GlobalLocalDiscriminator(3, 32, width=4)
    assert D.local_size == 16 and D(out, torch.cat([image, mask], 1)).shape == (2, 1)


def test_residual_completion_network_starts_from_the_diffusion_fill():
    assert count(CompletionNetwork(3, residual=True)) == 6_072_131  # the same layers
    torch.manual_seed(0)
    C = CompletionNetwork(3, width=8, residual=True)
    last = [m for m in C.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert not last.weight.any() and not last.bias.any()  # the correction starts at zero
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 4:14, 6:20] = 1
    mask[1, :, 20:30, 18:28] = 1
    filled = diffusion_fill(image, mask)
    condition = fill_hole(image, mask, "diffusion", [0.0, 0.0, 0.0])
    assert torch.equal(condition, torch.cat([filled, mask], 1))
    for mode in ("train", "eval"):  # batch statistics or running ones: still no correction
        out = C.train(mode == "train")(condition)
        assert torch.equal(out * mask, filled * mask)  # inside: the diffusion fill exactly
        assert torch.equal(out * (1 - mask), image * (1 - mask))  # outside: the input exactly
    C.train()
    out = C(condition)
    ((out - image) ** 2).mean().backward()
    assert last.weight.grad.abs().sum() > 0  # the correction learns from the first step
    with torch.no_grad():
        last.bias.fill_(20.0)  # a saturated correction: the fill moved all the way toward 1
        pushed = C(condition)
        assert pushed.abs().max() <= 1 and torch.allclose(pushed * mask, mask.expand_as(pushed))
        assert torch.equal(pushed * (1 - mask), image * (1 - mask))
        last.bias.fill_(-0.5)  # a partial one: the share tanh(-0.5) of the way toward -1
        share = math.tanh(-0.5)
        moved = C(condition)
        expected = filled + share * (1 + filled)
        assert torch.allclose(moved * mask, expected * mask, atol=1e-6)


# ====================================================================== the history pool
def test_history_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = HistoryPool(size=3)
    first = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert torch.equal(pool.query(first), first)  # until full: the new images themselves
    assert len(pool.images) == 3
    swapped = 0
    for step in range(400):
        new = torch.full((1, 1, 2, 2), 100.0 + step)
        before = [image.clone() for image in pool.images]
        returned = pool.query(new)
        if torch.equal(returned, new):
            assert all(torch.equal(a, b) for a, b in zip(before, pool.images))  # untouched
        else:
            swapped += 1
            assert any(torch.equal(returned, image) for image in before)  # a stored one
            assert any(torch.equal(new, image) for image in pool.images)  # the new is stored
        assert len(pool.images) == 3
    assert 0.4 < swapped / 400 < 0.6
    assert torch.equal(HistoryPool(0).query(first), first)
    state = pool.state_dict()
    restored = HistoryPool(3)
    restored.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(restored.images, pool.images))


# ====================================================================== data
def test_two_domains_are_unpaired_in_training_and_paired_held_out():
    train = TwoDomains(size=16, shapes=40, digits=False, held_out=0.25)
    held_out = train.held_out_set()
    assert len(train.inputs) + len(train.images) == 30 and not train.paired
    assert held_out.paired and torch.equal(held_out.input_labels, held_out.labels)
    batch = train.get_batch([0, 1, 2])
    assert batch["real"].shape == batch["condition"].shape == (3, 3, 16, 16)
    # B is outlined in dark ink (every channel dark); A's flat colours are never dark
    darkest = lambda images: images.amax(1).float().amin()  # noqa: E731
    assert darkest(held_out.images) < 40 < darkest(held_out.inputs)
    assert TwoDomains(**train.arguments).inputs.equal(train.inputs)  # deterministic
    assert train.describe()["task"] == "unpaired"


def test_unpaired_folder_reads_two_domains_and_names_bad_folders(tmp_path):
    root = tmp_path / "horses2zebras"
    for index in range(3):
        save(root / "trainA" / f"a{index}.png", 40, 30)
    for index in range(5):
        save(root / "trainB" / "sub" / f"b{index}.jpg", 20, 20, (10, 10, 200))
    data = UnpairedFolder(str(root), size=16, held_out=0.0)
    assert data.inputs.shape == (3, 3, 16, 16) and data.images.shape == (5, 3, 16, 16)
    assert len(data) == 5 and data.get_batch([4])["condition"].shape == (1, 3, 16, 16)
    empty = tmp_path / "empty"
    save(empty / "trainA" / "a.png", 8, 8)
    (empty / "trainB").mkdir()
    with pytest.raises(DataError, match=r"empty/trainB' holds no images"):
        UnpairedFolder(str(empty), size=8)
    (root / "trainA" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png: cannot decode"):
        UnpairedFolder(str(root), size=16)
    with pytest.warns(UserWarning, match="broken.png"):
        assert len(UnpairedFolder(str(root), size=16, strict=False, held_out=0.0).inputs) == 3
    with pytest.raises(DataError, match="no trainA/"):
        UnpairedFolder(str(tmp_path), size=8)


def test_sr_pairs_are_antialiased_bicubic_x4_and_name_small_files(tmp_path):
    data = SRPairs(size=16, shapes=6, digits=False, held_out=0.0)
    assert data.images.shape == (6, 3, 16, 16) and data.inputs.shape == (6, 3, 4, 4)
    low = F.interpolate(to_float(data.images), scale_factor=0.25, mode="bicubic", antialias=True)
    assert (to_float(data.inputs) - low.clamp(-1, 1)).abs().max() < 2.5 / 255
    assert data.describe()["factor"] == 4 and data.describe()["task"] == "super-resolution"
    save(tmp_path / "hr" / "big.png", 40, 36)
    save(tmp_path / "hr" / "small.png", 30, 12)
    with pytest.raises(DataError, match=r"small.png is 30x12, smaller than the 32x32"):
        SRPairs(size=32, root=str(tmp_path / "hr"))
    folder = SRPairs(size=12, root=str(tmp_path / "hr"), held_out=0.0)
    assert folder.images.shape == (2, 3, 12, 12) and folder.inputs.shape == (2, 3, 3, 3)


def test_masked_images_keep_the_mask_apart_and_fill_only_the_hole():
    torch.manual_seed(0)
    data = MaskedImages(size=16, shapes=12, digits=False, held_out=0.25)
    held_out = data.held_out_set()
    assert held_out.mean_pixel == data.mean_pixel  # the training set's mean, in every split
    masks = held_out.masks.float()
    assert masks.shape == (3, 1, 16, 16) and set(masks.unique().tolist()) <= {0.0, 1.0}
    batch = held_out.get_batch([0, 1, 2])
    condition, real = batch["condition"], batch["real"]
    assert condition.shape == (3, 4, 16, 16) and torch.equal(condition[:, 3:], masks)
    assert torch.equal(condition[:, :3] * (1 - masks), real * (1 - masks))
    mean = torch.tensor(data.mean_pixel).view(1, 3, 1, 1).expand_as(real)
    assert torch.allclose(
        condition[:, :3][masks.expand_as(real) > 0], mean[masks.expand_as(real) > 0]
    )
    assert torch.equal(held_out.get_batch([0])["condition"], held_out.get_batch([0])["condition"])
    first, second = data.get_batch([0, 1]), data.get_batch([0, 1])  # fresh training masks
    assert not torch.equal(first["condition"][:, 3], second["condition"][:, 3])
    for kind in ("rectangles", "free_form"):
        drawn = draw_masks(64, 32, kind, (0.25, 0.5), torch.Generator().manual_seed(1))
        share = drawn.mean((1, 2, 3))
        assert (share > 0).all() and 0.03 < float(share.mean()) < 0.4, kind


def test_masked_images_fill_diffusion_puts_the_diffusion_fill_in_the_hole():
    torch.manual_seed(0)
    data = MaskedImages(size=16, shapes=12, digits=False, held_out=0.25, fill="diffusion")
    assert data.describe()["fill"] == "diffusion"  # for generate, which has no data
    assert MaskedImages(size=16, shapes=12, digits=False).describe()["fill"] == "mean"
    held_out = data.held_out_set()
    assert held_out.arguments["fill"] == "diffusion"
    masks, real = held_out.masks.float(), held_out.all_images()
    expected = diffusion_fill(real, masks)
    for condition in (held_out.get_batch([0, 1, 2])["condition"], held_out.all_inputs()):
        assert torch.equal(condition[:, 3:], masks)
        assert torch.equal(condition[:, :3] * (1 - masks), real * (1 - masks))
        assert torch.allclose(condition[:, :3], expected, atol=1e-6, rtol=0)
    batch = data.get_batch([0, 1])  # a training batch, its masks fresh
    drawn = batch["condition"][:, 3:]
    filled = diffusion_fill(batch["real"], drawn)
    assert torch.allclose(batch["condition"][:, :3], filled, atol=1e-6, rtol=0)
    with pytest.raises(DataError, match="fill must be mean or diffusion"):
        MaskedImages(size=16, shapes=12, digits=False, fill="nearest")


def test_masked_images_refuse_a_bad_fill_in_the_recipe(manager):
    path = RECIPES / "inpaint_shapes.yaml"
    resolved = recipes.resolve(path, ["data.fill=nearest"])
    with pytest.raises(RecipeError, match=r"data\.fill.*'mean', 'diffusion'") as refused:
        recipes.validate(resolved, manager.registry, str(path))
    assert refused.value.key == "data.fill"
    recipes.validate(recipes.resolve(path, []), manager.registry, str(path))  # as shipped


# ====================================================================== metrics
def test_diffusion_fill_and_hole_psnr():
    ramp = torch.linspace(-1, 1, 24).view(1, 1, 1, 24).expand(1, 3, 24, 24).contiguous()
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., 6:18, 8:16] = 1
    filled = diffusion_fill(ramp, mask, smoothing=300)
    assert torch.equal(filled * (1 - mask), ramp * (1 - mask))
    assert float(hole_psnr(filled, ramp, mask)) > 35  # a linear ramp is harmonic: refilled
    flat = torch.zeros(1, 3, 24, 24)
    # [-1, 1] -> [0, 1]: an error of 0.5 in the hole only is PSNR 10 log10(1 / 0.25) = 6.02 dB
    assert math.isclose(float(hole_psnr(flat + mask, flat, mask)), 6.0206, abs_tol=1e-3)
    # pooled over images: one exact hole and one with error 0.5 (of the same size) give
    # MSE 0.125, 9.03 dB, where the per-image PSNRs are unbounded and 6.02 dB
    pair, masks = torch.zeros(2, 3, 24, 24), mask.expand(2, 1, 24, 24)
    wrong = pair + torch.stack([torch.zeros_like(mask[0]), mask[0]])
    assert float(hole_psnr(wrong, pair, masks)[0]) > 150
    assert math.isclose(float(hole_psnr(wrong, pair, masks, pooled=True)), 9.0309, abs_tol=1e-3)


# each img2img metric, the data set it takes (tiny, procedural) and what its data error says
METRIC_DATA = {
    "image.psnr_ssim": (PairedMetrics, SketchPairs, "paired data"),
    "image.cycle_metrics": (CycleMetrics, TwoDomains, "unpaired data"),
    "image.sr_metrics": (SRMetrics, SRPairs, "super-resolution pairs"),
    "image.inpaint_metrics": (InpaintMetrics, MaskedImages, "masked images"),
}


def test_img2img_metrics_carry_their_registered_names():
    registered = {}
    register_metrics(lambda name, factory, **about: registered.setdefault(name, factory))
    assert set(registered) == set(METRIC_DATA)
    for name, factory in registered.items():
        assert factory is METRIC_DATA[name][0] and factory.registered_name == name


@pytest.mark.parametrize("name", list(METRIC_DATA))
def test_img2img_metrics_refuse_an_empty_held_out_set_naming_the_key(name):
    metric_class, data_class, _ = METRIC_DATA[name]
    data = data_class(size=16, shapes=8, digits=False, held_out=0.0)
    run = types.SimpleNamespace(dataset=data)
    with pytest.raises(DataError, match=rf"^{re.escape(name)} needs held-out .*data\.held_out > 0"):
        metric_class(n_samples=4, fd=False)(run)


@pytest.mark.parametrize("name", list(METRIC_DATA))
def test_img2img_metrics_check_n_samples_and_the_kind_of_data(name):
    metric_class, data_class, needs = METRIC_DATA[name]
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        metric_class(n_samples=0)
    metric = metric_class(n_samples=4, fd=False)
    unconditional = Shapes(size=16, count=8)
    for dataset in (None, unconditional):
        with pytest.raises(DataError, match=rf"^{re.escape(name)} needs {needs}"):
            metric(types.SimpleNamespace(dataset=dataset))
    data = data_class(size=16, shapes=8, digits=False, held_out=0.25)
    dataset, held_out = metric.held_out_data(types.SimpleNamespace(dataset=data))
    assert dataset is data and held_out.split == "held_out" and len(held_out) == 2


# ====================================================================== trainers
def test_cyclegan_step_batches_exactly_and_steps_both_optimisers():
    torch.manual_seed(0)
    data = TwoDomains(size=16, shapes=8, digits=False, held_out=0.0)
    batch = data.get_batch([0])

    def networks():
        return {
            "generator": ResNetGenerator(3, 3, 16, width=4, blocks=1),
            "generator_ba": ResNetGenerator(3, 3, 16, width=4, blocks=1),
            "discriminator_a": PatchGANDiscriminator(width=4, layers=1, conditional=False,
                                                     norm="instance"),
            "discriminator_b": PatchGANDiscriminator(width=4, layers=1, conditional=False,
                                                     norm="instance"),
        }  # fmt: skip

    schedules = {"generator": {"name": "linear", "hold": 2}}
    run = MiniRun(networks(), {"adversarial": LSGANLoss()}, lambda: batch, total_steps=4,
                  schedules=schedules)  # fmt: skip
    trainer = CycleGANTrainer(pool_size=2)
    trainer.setup(run)
    assert set(run.optimization.optimizers) == {"generator", "discriminator"}
    held = run.optimization.parameters["generator"]
    assert len(held) == len(list(run.models["generator"].parameters())) * 2
    a, b = batch["condition"], batch["real"]
    with torch.no_grad():  # three batched calls give exactly the six separate ones
        images = trainer.translate(a, b)
        G, F_ = run.models["generator"], run.models["generator_ba"]
        assert torch.allclose(images["same_b"], G(b), atol=1e-5)
        assert torch.allclose(images["cycle_a"], F_(G(a)), atol=1e-5)
        assert torch.allclose(images["cycle_b"], G(F_(b)), atol=1e-5)
    rates = []
    for _ in range(4):
        logs = run.step_once(trainer)
        rates.append(run.optimization.optimizers["generator"].param_groups[0]["lr"])
        assert all(math.isfinite(float(v)) for v in logs.values())
        expected = 2 * (logs["g_adversarial_ab"] + logs["g_adversarial_ba"])
        expected += 10 * (logs["cycle_a"] + logs["cycle_b"])
        expected += 5 * (logs["identity_a"] + logs["identity_b"])
        assert math.isclose(float(logs["g_loss"]), float(expected), rel_tol=1e-4)
        assert math.isclose(float(logs["d_loss"]), float(logs["d_a"] + logs["d_b"]), rel_tol=1e-5)
    assert rates == pytest.approx([2e-4, 2e-4, 1e-4, 0.0])  # constant, then linear decay
    assert len(trainer.pool_a.images) == len(trainer.pool_b.images) == 2
    with pytest.raises(RecipeError, match="conditional: false"):
        models = networks()
        models["discriminator_a"] = PatchGANDiscriminator(width=4, layers=1)
        CycleGANTrainer().setup(MiniRun(models, {"adversarial": LSGANLoss()}, lambda: batch))


def test_inpaint_phases_train_d_alone_then_jointly():
    torch.manual_seed(0)
    data = MaskedImages(size=32, shapes=8, digits=False, held_out=0.0)
    batch = data.get_batch(list(range(4)))
    G = CompletionNetwork(3, width=4)
    D = GlobalLocalDiscriminator(3, 32, width=4)
    losses = {"adversarial": NonSaturatingLoss(), "mse": MSEReconstruction()}
    run = MiniRun({"generator": G, "discriminator": D}, losses, lambda: batch)
    before = [p.detach().clone() for p in G.parameters()]
    trainer = InpaintTrainer(update_generator=False, losses=["adversarial"])
    trainer.setup(run)
    logs = run.step_once(trainer)
    assert set(logs) >= {"d_loss", "d_adversarial"} and "g_loss" not in logs
    assert all(torch.equal(a, b) for a, b in zip(before, G.parameters()))  # G is fixed
    joint = InpaintTrainer(losses=["mse"])
    run = MiniRun({"generator": G, "discriminator": D}, losses, lambda: batch)
    joint.setup(run)
    logs = run.step_once(joint)
    expected = 4e-4 * float(logs["g_adversarial"]) + float(logs["mse"])
    assert math.isclose(float(logs["g_loss"]), expected, rel_tol=1e-4)


# ====================================================================== the CLI
@pytest.fixture
def cli(cli, tmp_path):
    return functools.partial(cli, env={"OMP_NUM_THREADS": "1", "GENMM_CACHE": str(tmp_path)})


COMMON = ["runtime.progress=false", "runtime.log_every=1", "samples.n=2", "checkpoint.every=0"]


def evaluated(out: Path) -> dict:
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [line["eval"] for line in lines if "eval" in line][-1]


def opened(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        return image.size


def test_cyclegan_recipe_and_generate_with_a_direction(cli, tmp_path):
    out = tmp_path / "cyclegan"
    tiny = [
        *COMMON, "data.size=16", "data.shapes=24", "data.digits=false", "data.held_out=0.25",
        "models.generator.width=4", "models.generator.blocks=1", "models.generator_ba.width=4",
        "models.generator_ba.blocks=1", "models.discriminator_a.width=4",
        "models.discriminator_a.layers=1", "models.discriminator_b.width=4",
        "models.discriminator_b.layers=1", "phases.cyclegan.schedules.generator.hold=1",
        "phases.cyclegan.schedules.discriminator.hold=1", "eval.every=3", "samples.every=3",
        "eval.metrics=[{name: image.cycle_metrics, n_samples: 4, feature_steps: 5, "
        "classifier_steps: 5}]",
    ]  # fmt: skip
    result = cli("run", str(RECIPES / "cyclegan_shapes.yaml"), "--out", str(out),
                 "--max-steps", "3", *tiny)  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = evaluated(out)
    assert 0 <= figures["share_ab"] <= 1 and 0 < figures["cycle_psnr_a"] < 100
    assert figures["fd_ab"] >= 0 and "psnr_untranslated" in figures
    assert opened(out / "samples" / "step-000003.png") == (4 * 34 + 2, 4 * 34 + 2)
    image = save(tmp_path / "img.png", 30, 20, (240, 240, 240))
    made = cli("generate", str(out), "--input", str(image), "--direction", "BtoA",
               "-o", str(tmp_path / "a.png"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert opened(tmp_path / "a.png") == (16, 16)
    run = genmm.load(out, build_data=False)  # the writer's checks, as the CLI calls them
    with pytest.raises(RecipeError, match="AtoB or BtoA"):
        run.writer.generate(run, 1, tmp_path / "x.png", input=str(image), direction="sideways")
    with pytest.raises(RecipeError, match="--mask is for an inpainting run"):
        run.writer.generate(run, 1, tmp_path / "x.png", input=str(image), mask=str(image))


def test_srgan_recipe_and_generate_four_times_larger(cli, tmp_path):
    out = tmp_path / "srgan"
    tiny = [
        *COMMON, "data.size=16", "data.shapes=16", "data.digits=false", "data.held_out=0.25",
        "models.generator.blocks=1", "models.generator.width=8", "models.discriminator.width=4",
        "models.discriminator.dense=16", "losses.features.steps=5", "phases.srresnet.max_steps=2",
        "phases.gan.max_steps=2", "eval.every=4", "samples.every=4",
        "eval.metrics=[{name: image.sr_metrics, n_samples: 4, feature_steps: 5}]",
    ]  # fmt: skip
    result = cli("run", str(RECIPES / "srgan_digits.yaml"), "--out", str(out), *tiny)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["phase"] for line in lines if "g_loss" in line] == ["srresnet"] * 2 + ["gan"] * 2
    assert all(
        "features" in line for line in lines if line.get("phase") == "gan" and "g_loss" in line
    )
    figures = evaluated(out)
    assert {"psnr", "psnr_bicubic", "fd", "fd_bicubic", "fd_floor"} <= set(figures)
    assert opened(out / "samples" / "step-000004.png") == (4 * 34 + 2, 2 * 34 + 2)
    small = save(tmp_path / "small.png", 7, 5)
    made = cli("generate", str(out), "--input", str(small), "-o", str(tmp_path / "big.png"))
    assert made.returncode == 0, made.stderr
    assert opened(tmp_path / "big.png") == (28, 20)


def test_inpaint_recipe_and_generate_with_a_mask(cli, tmp_path):
    out = tmp_path / "inpaint"
    tiny = [
        *COMMON, "data.size=32", "data.shapes=16", "data.digits=false", "data.held_out=0.25",
        "models.generator.width=4", "models.discriminator.width=4",
        "models.discriminator.features=16", "phases.completion.max_steps=2",
        "phases.discriminator.max_steps=1", "phases.joint.max_steps=2", "phases.joint.batch_size=2",
        "phases.completion.batch_size=2", "phases.discriminator.batch_size=2",
        "eval.every=5", "samples.every=5",
        "eval.metrics=[{name: image.inpaint_metrics, n_samples: 4, feature_steps: 5}]",
    ]  # fmt: skip
    result = cli("run", str(RECIPES / "inpaint_shapes.yaml"), "--out", str(out), *tiny)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    phases = [line["phase"] for line in lines if "d_loss" in line or "g_loss" in line]
    assert phases == ["completion"] * 2 + ["discriminator"] + ["joint"] * 2
    figures = evaluated(out)
    assert figures["outside_change"] == 0.0 and figures["psnr_hole_fill"] > 0
    assert 0 < figures["psnr_hole"] < 200 and figures["psnr_hole_median"] > 0  # pooled, finite
    image = tmp_path / "img.png"
    Image.new("RGB", (32, 32), (30, 200, 30)).save(image)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (8, 8, 20, 20))
    mask.save(tmp_path / "mask.png")
    made = cli("generate", str(out), "--input", str(image), "--mask", str(tmp_path / "mask.png"),
               "-o", str(tmp_path / "filled.png"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert opened(tmp_path / "filled.png") == (32, 32)
    with Image.open(tmp_path / "filled.png") as filled:  # outside the hole: the input
        assert filled.getpixel((2, 2)) == (30, 200, 30) and filled.getpixel((30, 25)) == (
            30,
            200,
            30,
        )
        for inside in ((14, 14), (9, 9)):  # a flat image's diffusion fill is its colour, and
            pixel = filled.getpixel(inside)  # 4 steps have barely moved the correction from 0
            assert max(abs(got - want) for got, want in zip(pixel, (30, 200, 30))) <= 4, pixel
    Image.new("L", (16, 32), 255).save(tmp_path / "narrow.png")
    run = genmm.load(out, build_data=False)
    assert run.description["fill"] == "diffusion"  # the shipped recipe's: generate fills so too
    with pytest.raises(DataError, match="narrow.png is 16x32 but --input .*img.png is 32x32"):
        run.writer.generate(run, 1, tmp_path / "x.png", input=str(image),
                            mask=str(tmp_path / "narrow.png"))  # fmt: skip
    with pytest.raises(RecipeError, match="give --mask"):
        run.writer.generate(run, 1, tmp_path / "x.png", input=str(image))
    with pytest.raises(RecipeError, match="--direction is for a CycleGAN run"):
        run.writer.generate(run, 1, tmp_path / "x.png", input=str(image), mask=str(image),
                            direction="BtoA")  # fmt: skip
