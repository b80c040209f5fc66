"""pix2pix and the image-to-image pieces: the U-Net and PatchGAN (shapes, skips, parameter
counts at the paper's settings, the paper's test-time mode), PSNR / SSIM against hand-computed
values, the paired data sets and the errors naming files, both trainers on the core's path,
and a tiny recipe through the real CLI: train, then ``genmm generate --input``."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

import genmm
from genmm.errors import DataError, RecipeError
from genmm.losses import NonSaturatingLoss
from genmm.testing import MiniRun
from genmm_image.img2img.data import PairsFolder, SketchPairs
from genmm_image.img2img.losses import L1Reconstruction
from genmm_image.img2img.metrics import gaussian_window, psnr, ssim
from genmm_image.img2img.patchgan import PatchGANDiscriminator, receptive_field
from genmm_image.img2img.trainer import Pix2PixTrainer, SupervisedTrainer
from genmm_image.img2img.unet import UNetGenerator

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ====================================================================== networks
def test_unet_shapes_through_every_block():
    G = UNetGenerator(in_channels=1, out_channels=3, image_size=32, width=8, max_width=32)
    assert G.depth == 5 and G.latent_dim == 0  # log2(32): down to 1x1; dropout is the noise
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    features = G.encode(x)
    assert [tuple(f.shape) for f in features] == [
        (2, 8, 16, 16),
        (2, 16, 8, 8),
        (2, 32, 4, 4),
        (2, 32, 2, 2),
        (2, 32, 1, 1),
    ]
    y = G.decode(features)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1  # tanh
    # each decoder block after the first reads its input concatenated with the skip map
    assert [block[1].in_channels for block in G.up] == [32, 64, 64, 32, 16]
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 3


def test_unet_skips_carry_the_encoder_maps():
    torch.manual_seed(0)
    G = UNetGenerator(image_size=16, width=8, max_width=16, dropout=0.0).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        features = G.encode(x)
        whole = G.decode(features)
        for level in range(G.depth - 1):  # zero one skip map, keep the bottleneck
            cut = [f.clone() for f in features]
            cut[level].zero_()
            assert (G.decode(cut) - whole).abs().max() > 1e-3, f"skip {level} is not used"
    # the finest skip is the short path: the output's gradient reaches e_1 directly
    features = [f.detach().requires_grad_(True) for f in G.encode(x)]
    G.decode(features).sum().backward()
    assert features[0].grad.abs().sum() > 0


def test_parameter_counts_at_the_paper_settings():
    # the authors' unet_256 and 70x70 PatchGAN on 3 + 3 channels, as their code prints them
    assert count(UNetGenerator(3, 3, image_size=256)) == 54_413_955
    D = PatchGANDiscriminator(3, 3)
    assert count(D) == 2_768_705
    assert receptive_field(3) == D.receptive_field == 70 and receptive_field(1) == 16
    assert UNetGenerator(3, 3, image_size=128).depth == 7  # the authors' unet_128


def test_patchgan_scores_patches_of_the_pair():
    torch.manual_seed(0)
    D = PatchGANDiscriminator(in_channels=1, out_channels=3, width=8)
    y, x = torch.randn(2, 3, 64, 64), torch.randn(2, 1, 64, 64)
    scores = D(y, x)
    assert D.conditional and scores.shape == (2, 1, 6, 6)  # S/8 - 2 patches a side
    paper_size = torch.randn(1, 3, 256, 256)
    assert PatchGANDiscriminator(width=8)(paper_size, paper_size).shape == (1, 1, 30, 30)
    assert not torch.allclose(D(y, torch.randn_like(x)), scores)  # it sees the input image


def test_paper_test_mode_normalises_each_image_alone():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    paper = UNetGenerator(image_size=16, width=8, dropout=0.0, inference="paper")
    paper(x)  # one training-mode pass moves the running statistics
    paper.eval()
    with torch.no_grad():  # the authors' test batch of one, whatever the batch
        assert torch.allclose(paper(x)[1:2], paper(x[1:2]), atol=1e-5)
        running = UNetGenerator(image_size=16, width=8, dropout=0.0, inference="running")
        running.load_state_dict(paper.state_dict())
        assert not torch.allclose(running.eval()(x), paper(x), atol=1e-3)
    dropping = UNetGenerator(image_size=16, width=8, inference="paper").eval()
    with torch.no_grad():  # dropout stays on: the generator's noise
        assert not torch.allclose(dropping(x), dropping(x))


# ====================================================================== metrics
def test_psnr_against_hand_computed_values():
    x = torch.full((2, 3, 8, 8), 0.5)
    y = torch.stack([torch.full((3, 8, 8), 0.25), torch.full((3, 8, 8), 0.4)])
    # MSE 0.0625 -> 10 log10(16) = 12.0412 dB; MSE 0.01 -> 20 dB
    assert torch.allclose(psnr(x, y), torch.tensor([12.041199826559248, 20.0], dtype=torch.float64))


def test_ssim_against_hand_computed_values():
    c1, c2 = (0.01 * 1) ** 2, (0.03 * 1) ** 2
    # constant images: no variance, SSIM = (2 a b + C1) / (a^2 + b^2 + C1)
    a, b = 0.5, 0.25
    flat = ssim(torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b))
    assert math.isclose(float(flat), (2 * a * b + c1) / (a * a + b * b + c1), rel_tol=1e-9)
    # one 11x11 window (the image is its size): the weighted moments written out by hand
    torch.manual_seed(0)
    x = torch.rand(1, 1, 11, 11, dtype=torch.float64)
    y = (1 - x) * 0.6 + 0.2 * torch.rand(1, 1, 11, 11, dtype=torch.float64)
    w = gaussian_window().tolist()
    xs, ys = x[0, 0].tolist(), y[0, 0].tolist()
    cells = [(i, j) for i in range(11) for j in range(11)]
    mx = sum(w[i][j] * xs[i][j] for i, j in cells)
    my = sum(w[i][j] * ys[i][j] for i, j in cells)
    vx = sum(w[i][j] * (xs[i][j] - mx) ** 2 for i, j in cells)
    vy = sum(w[i][j] * (ys[i][j] - my) ** 2 for i, j in cells)
    cxy = sum(w[i][j] * (xs[i][j] - mx) * (ys[i][j] - my) for i, j in cells)
    hand = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert hand < 0  # anti-correlated structure
    assert math.isclose(float(ssim(x, y)), hand, rel_tol=1e-9)
    assert w[5][5] == max(max(row) for row in w) and math.isclose(sum(map(sum, w)), 1.0)
    # identical images: 1; RGB is the mean of the channels
    z = torch.rand(2, 3, 16, 16)
    assert torch.allclose(ssim(z, z), torch.ones(2, dtype=torch.float64))
    per_channel = [float(ssim(z[:1, c : c + 1], 1 - z[:1, c : c + 1])) for c in range(3)]
    assert math.isclose(float(ssim(z[:1], 1 - z[:1])), sum(per_channel) / 3, rel_tol=1e-9)


# ====================================================================== data
def test_sketch_pairs_are_deterministic_paired_and_split():
    arguments = dict(size=16, shapes=40, digits=False, held_out=0.25, seed=3)
    train, again = SketchPairs(**arguments), SketchPairs(**arguments)
    held_out = train.held_out_set()
    assert (len(train), len(held_out)) == (30, 10)
    assert torch.equal(train.inputs, again.inputs) and torch.equal(train.images, again.images)
    assert not torch.equal(SketchPairs(**{**arguments, "seed": 4}).inputs, train.inputs)
    whole = SketchPairs(**{**arguments, "split": "all"})  # an item is the same in every split
    assert any(torch.equal(whole.inputs[i], held_out.inputs[0]) for i in range(len(whole)))
    batch = train.get_batch([0, 1])
    assert batch["real"].shape == batch["condition"].shape == (2, 3, 16, 16)
    sketch, target = (batch["condition"] + 1) / 2, (batch["real"] + 1) / 2
    assert (sketch[:, 0] == sketch[:, 1]).all()  # pencil on paper: grey
    assert (sketch < 0.5).any() and sketch.mean() > 0.7  # dark strokes on mostly white
    assert (target.amax(1) - target.amin(1)).max() > 0.3  # the filled object has a colour
    description = train.describe()
    assert description["input_channels"] == 3 and description["num_classes"] == 15


def test_sketch_pairs_take_the_real_digits():
    digits = SketchPairs(size=16, shapes=0, digits=True, held_out=0.05, split="held_out")
    assert len(digits) == round(0.05 * 1797)  # scikit-learn's 1,797 real digits
    assert set(digits.labels.tolist()) == set(range(5, 15))  # "digit 0" ... "digit 9"


def save(path: Path, width: int, height: int, colour=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), colour).save(path)
    return path


def test_pairs_folder_reads_a_b_images_both_ways(tmp_path):
    for index in range(4):
        image = Image.new("RGB", (32, 16), (255, 0, 0))
        image.paste((0, 0, 255), (16, 0, 32, 16))  # A red | B blue
        image.save(tmp_path / f"{index}.png")
    pairs = PairsFolder(str(tmp_path), size=8, held_out=0.0)
    assert pairs.inputs.shape == pairs.images.shape == (4, 3, 8, 8)
    assert pairs.inputs[:, 0].float().mean() > 250 and pairs.images[:, 2].float().mean() > 250
    back = PairsFolder(str(tmp_path), size=8, held_out=0.0, direction="BtoA")
    assert torch.equal(back.inputs, pairs.images)


def test_pairs_folder_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty.*holds no images"):
        PairsFolder(str(empty))
    broken = tmp_path / "broken"
    save(broken / "good.png", 32, 16)
    (broken / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"bad\.png: cannot decode"):
        PairsFolder(str(broken))
    with pytest.warns(UserWarning, match=r"bad\.png"):  # strict: false skips it, named
        assert len(PairsFolder(str(broken), strict=False, held_out=0.0)) == 1
    odd = tmp_path / "odd"
    save(odd / "odd_one.png", 33, 16)
    with pytest.raises(DataError, match=r"odd_one\.png: width 33 is odd"):
        PairsFolder(str(odd))
    separate = tmp_path / "separate"
    save(separate / "A" / "x.png", 16, 16)
    save(separate / "B" / "x.png", 16, 16)
    save(separate / "A" / "y.png", 16, 16)
    save(separate / "B" / "y.jpg", 24, 16)
    with pytest.raises(DataError, match=r"A/y\.png is 16x16 but .*B/y\.jpg is 24x16"):
        PairsFolder(str(separate))
    save(separate / "A" / "z.png", 16, 16)
    (separate / "B" / "y.jpg").unlink()
    with pytest.raises(DataError, match=r"A/y\.png: no partner"):
        PairsFolder(str(separate))


# ====================================================================== trainers
def tiny_pairs() -> tuple[SketchPairs, dict[str, torch.Tensor]]:
    data = SketchPairs(size=16, shapes=16, digits=False, held_out=0.0)
    return data, data.get_batch(list(range(4)))


def test_pix2pix_step_halves_d_and_lowers_the_l1():
    torch.manual_seed(0)
    _, batch = tiny_pairs()
    G = UNetGenerator(image_size=16, width=8, max_width=32)
    D = PatchGANDiscriminator(width=8, layers=1)
    run = MiniRun(
        {"generator": G, "discriminator": D},
        {"adversarial": NonSaturatingLoss(), "l1": L1Reconstruction()},
        lambda: batch,
        batch_size=4,
    )
    trainer = Pix2PixTrainer()
    trainer.setup(run)
    adam = run.optimization.optimizers["generator"]
    assert adam.defaults["lr"] == 2e-4 and adam.defaults["betas"] == (0.5, 0.999)
    logs = [run.step_once(trainer) for _ in range(30)]
    for step in logs:
        assert all(math.isfinite(float(v)) for v in step.values())
        assert math.isclose(float(step["d_loss"]), 0.5 * float(step["d_adversarial"]), rel_tol=1e-5)
        expected = float(step["g_adversarial"]) + 100 * float(step["l1"])
        assert math.isclose(float(step["g_loss"]), expected, rel_tol=1e-4)
    assert float(logs[-1]["l1"]) < 0.93 * float(logs[0]["l1"])


def test_l1_baseline_trains_the_generator_alone():
    torch.manual_seed(0)
    _, batch = tiny_pairs()
    G = UNetGenerator(image_size=16, width=8, max_width=32)
    run = MiniRun({"generator": G}, {"l1": L1Reconstruction()}, lambda: batch, batch_size=4)
    trainer = SupervisedTrainer()
    trainer.setup(run)
    assert list(run.optimization.optimizers) == ["generator"]
    logs = [run.step_once(trainer) for _ in range(30)]
    assert float(logs[-1]["l1"]) < 0.93 * float(logs[0]["l1"])
    assert math.isclose(float(logs[0]["g_loss"]), 100 * float(logs[0]["l1"]), rel_tol=1e-5)


# ====================================================================== the CLI
TINY = [
    "runtime.progress=false",
    "runtime.log_every=1",
    "data.size=16",
    "data.shapes=48",
    "data.digits=false",
    "data.held_out=0.25",
    "models.generator.width=8",
    "models.generator.max_width=32",
    "models.discriminator.width=8",
    "models.discriminator.layers=2",  # 16x16 is too small for the 70x70 PatchGAN's 3
    "phases.pix2pix.batch_size=4",
    "eval.every=30",
    "eval.metrics=[{name: image.psnr_ssim, n_samples: 8, feature_steps: 30}]",
    "samples.every=30",
    "samples.n=4",
    "checkpoint.every=30",
]


@pytest.fixture
def cli(cli, tmp_path):
    return functools.partial(cli, env={"OMP_NUM_THREADS": "1", "GENMM_CACHE": str(tmp_path)})


def test_pix2pix_recipe_trains_and_generate_translates_an_input(cli, tmp_path):
    out = tmp_path / "run"
    recipe = str(RECIPES / "pix2pix_sketch.yaml")
    result = cli("run", recipe, "--out", str(out), "--max-steps", "30", *TINY)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "l1" in line and "g_loss" in line]
    assert len(steps) == 30
    assert all(math.isfinite(line[k]) for line in steps for k in ("d_loss", "g_loss", "l1"))
    first, last = [sum(s["l1"] for s in part) / 5 for part in (steps[:5], steps[-5:])]
    assert last < first, (first, last)
    evaluated = [line["eval"] for line in lines if "eval" in line][-1]
    assert 0 < evaluated["psnr"] < 100 and -1 <= evaluated["ssim"] <= 1
    assert evaluated["fd"] >= 0 and evaluated["fd_floor"] >= 0
    with Image.open(out / "samples" / "step-000030.png") as strip:  # 4 rows of in|out|target
        assert strip.size == (3 * (2 * 16 + 2) + 2, 4 * (2 * 16 + 2) + 2)

    sketch = tmp_path / "sketch.png"
    Image.new("RGB", (40, 30), (245, 245, 245)).save(sketch)
    made = cli("generate", str(out), "--input", str(sketch), "-o", str(tmp_path / "out.png"))
    assert made.returncode == 0, made.stderr
    with Image.open(tmp_path / "out.png") as image:
        image.load()
        assert image.size == (16, 16) and image.mode == "RGB"  # the generator's size

    # a folder in, a folder out (the writer's generate, as the CLI calls it); no --input: refused
    run = genmm.load(out, build_data=False)
    folder = tmp_path / "sketches"
    for name in ("a", "b"):
        save(folder / f"{name}.png", 20, 20, (250, 250, 250))
    written = run.writer.generate(run, 1, tmp_path / "outs", input=str(folder), strip=True)
    assert sorted(p.name for p in written) == ["a.png", "b.png"]
    for path in written:
        with Image.open(path) as image:
            image.load()
            assert image.size == (2 * 18 + 2, 18 + 2)  # input | output, padded
    with pytest.raises(RecipeError, match="--input"):
        run.writer.generate(run, 1, tmp_path / "x.png")


def test_l1_baseline_recipe_trains_through_the_cli(cli, tmp_path):
    out = tmp_path / "l1"
    tiny = [o.replace("phases.pix2pix", "phases.l1") for o in TINY if "discriminator" not in o]
    tiny = [o for o in tiny if not o.startswith(("eval.", "samples."))]
    tiny += ["eval.every=0", "samples.every=0"]
    result = cli(
        "run", str(RECIPES / "pix2pix_sketch_l1.yaml"), "--out", str(out), "--max-steps", "3", *tiny
    )
    assert result.returncode == 0, result.stderr
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in logged if "l1" in line] == [1, 2, 3]
