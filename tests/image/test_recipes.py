"""Every image recipe of this plugin through the real CLI, made tiny by overrides: it trains
two steps and writes a png that decodes; ``genmm generate`` writes grids, ``--label`` for the
conditional run."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from PIL import Image

RECIPES = Path(__file__).resolve().parents[2] / "recipes"

COMMON = [
    "runtime.progress=false",
    "eval.every=0",
    "samples.every=2",
    "checkpoint.every=2",
    "phases.gan.batch_size=16",
]
DIGITS_8 = ["data.size=8"]  # the models take image size and channels from the data
SHAPES_8 = [*DIGITS_8, "data.count=64"]
SMALL_DCGAN = ["models.generator.width=8", "models.discriminator.width=8"]

TINY = {
    "gan_digits": [
        *DIGITS_8,
        "models.generator.hidden=[32,32]",
        "models.discriminator.units=[16,16]",
        "samples.n=16",
    ],
    "dcgan_digits": [*DIGITS_8, *SMALL_DCGAN, "samples.n=16"],
    "cgan_digits": [*DIGITS_8, *SMALL_DCGAN, "samples.n=20"],
    "dcgan_shapes": [*SHAPES_8, *SMALL_DCGAN, "samples.n=16"],
    "wgan_gp_shapes": [*SHAPES_8, *SMALL_DCGAN, "samples.n=16", "phases.gan.n_critic=2"],
    "lsgan_shapes": [*SHAPES_8, *SMALL_DCGAN, "samples.n=16"],
}


@pytest.fixture
def cli(cli):
    """The real CLI on one thread: tiny convolutions gain nothing from a second one, and on a
    shared machine two threads waiting for each other make each step many times slower."""
    return functools.partial(cli, env={"OMP_NUM_THREADS": "1"})


def check_png(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        image.load()
        return image.size


def train_tiny(cli, name: str, out: Path, *extra: str) -> None:
    """``genmm run recipes/NAME.yaml`` made tiny, two steps; it must succeed."""
    command = ["run", str(RECIPES / f"{name}.yaml"), "--out", str(out), "--max-steps", "2"]
    result = cli(*command, *COMMON, *TINY[name], *extra)
    assert result.returncode == 0, result.stderr
    assert "done: 2 steps" in result.stdout


@pytest.mark.parametrize("name", ["gan_digits", "dcgan_shapes", "wgan_gp_shapes", "lsgan_shapes"])
def test_recipe_trains_tiny_and_writes_a_png(cli, tmp_path, name):
    out = tmp_path / name
    train_tiny(cli, name, out)
    # 16 samples of 8x8 in a 4x4 grid, scaled (scale 4 for the MLP recipe, else 2), padding 2
    scale = 4 if name == "gan_digits" else 2
    assert check_png(out / "samples" / "step-000002.png") == (4 * (8 * scale + 2) + 2,) * 2
    assert (out / "checkpoints" / "step-000002" / "model.safetensors").is_file()


def test_dcgan_digits_trains_tiny_and_generates_a_grid(cli, tmp_path):
    out = tmp_path / "dcgan"
    train_tiny(cli, "dcgan_digits", out)
    check_png(out / "samples" / "step-000002.png")
    grid = tmp_path / "grid.png"
    made = cli("generate", str(out), "--n", "16", "-o", str(grid))
    assert made.returncode == 0, made.stderr
    assert check_png(grid) == (4 * (16 + 2) + 2,) * 2  # 16 images of 8x8, scale 2
    with Image.open(grid) as image:
        assert image.mode == "L"  # one channel: grey
    refused = cli("generate", str(out), "--n", "4", "--label", "7")
    assert refused.returncode != 0
    assert "conditional" in refused.stderr and "Traceback" not in refused.stderr


def test_cgan_digits_trains_tiny_and_generates_an_asked_label(cli, tmp_path):
    out = tmp_path / "cgan"
    train_tiny(cli, "cgan_digits", out)
    # the sample dump: one row per class, 2 per class -> 10 rows of 2
    assert check_png(out / "samples" / "step-000002.png") == (2 * 18 + 2, 10 * 18 + 2)
    seven = tmp_path / "seven.png"
    made = cli("generate", str(out), "--n", "16", "--label", "7", "-o", str(seven))
    assert made.returncode == 0, made.stderr
    assert check_png(seven) == (4 * 18 + 2,) * 2
    wrong = cli("generate", str(out), "--n", "4", "--label", "12")
    assert wrong.returncode != 0 and "--label 12" in wrong.stderr


def test_mode_collapse_remedies_train_through_the_cli(cli, tmp_path):
    """Minibatch std in D and feature matching on D's features, switched on by overrides."""
    out = tmp_path / "remedies"
    train_tiny(
        cli,
        "dcgan_shapes",
        out,
        "runtime.log_every=1",
        "models.discriminator.minibatch_std=true",
        "models.discriminator.features=true",
        "losses.feature_matching={name: core.feature_matching, weight: 1.0, statistic: mean}",
    )
    logged = (out / "metrics.jsonl").read_text()
    assert '"feature_matching"' in logged
    check_png(out / "samples" / "step-000002.png")


def test_cgan_digits_with_the_concatenation_discriminator(cli, tmp_path):
    """Mirza & Osindero's D (one-hot label maps on the image) and their loss, by overrides."""
    out = tmp_path / "concat"
    train_tiny(
        cli,
        "cgan_digits",
        out,
        "models.discriminator.name=image.concat_discriminator",
        "losses.adversarial.name=core.nonsaturating",
    )
    assert "image.concat_discriminator" in (out / "recipe.yaml").read_text()
    check_png(out / "samples" / "step-000002.png")


def test_an_empty_image_folder_fails_in_the_cli_naming_it(cli, tmp_path):
    empty = tmp_path / "my_empty_pictures"
    empty.mkdir()
    result = cli(
        "run",
        str(RECIPES / "dcgan_digits.yaml"),
        "--out",
        str(tmp_path / "run"),
        f"data={{name: image.folder, root: {empty}, size: 16, channels: 1}}",
    )
    assert result.returncode != 0
    assert "my_empty_pictures" in result.stderr and "Traceback" not in result.stderr
