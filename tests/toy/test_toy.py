"""The toy plugin's parts against hand-computed values: mixtures, the mode metric, the models and
the scatter writer."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image

from genmm.errors import DataError
from genmm.losses import NonSaturatingLoss
from genmm.testing import MiniRun
from genmm.training import GANTrainer
from genmm_toy.data import Grid, Ring, grid_centres, ring_centres
from genmm_toy.metrics import ModeCoverage, mode_statistics
from genmm_toy.models import MLPDiscriminator, MLPGenerator
from genmm_toy.writers import ScatterWriter


def test_ring_centres_lie_on_the_circle_45_degrees_apart() -> None:
    centres = ring_centres(8, 2.0)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(centres[0], torch.tensor([2.0, 0.0]))
    assert torch.allclose(centres[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    assert torch.allclose(centres[1], torch.tensor([math.sqrt(2), math.sqrt(2)]))


def test_grid_centres_are_the_5x5_lattice() -> None:
    centres = grid_centres(5, 2.0)
    assert centres.shape == (25, 2)
    assert set(centres[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert torch.equal(centres.mean(0), torch.zeros(2))


def test_mixtures_are_deterministic_from_the_seed_and_near_their_modes() -> None:
    first, again, other = Ring(size=4000, seed=3), Ring(size=4000, seed=3), Ring(size=4000, seed=4)
    assert torch.equal(first.points, again.points)
    assert not torch.equal(first.points, other.points)
    # every real point is within 5 sigma of a mode, and each mode holds about 1/8 of them
    stats = mode_statistics(first.points, first.centres, 5 * first.std / 3, min_count=400)
    assert stats == {"modes": 8.0, "high_quality": 100.0}
    grid = Grid(size=5000, seed=0)
    assert mode_statistics(grid.points, grid.centres, grid.std, min_count=100)["modes"] == 25.0


def test_mode_statistics_by_hand() -> None:
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    std = 1.0  # high quality: within 3
    points = torch.tensor(
        [
            [0.5, 0.0],  # mode 0, good
            [0.0, 2.9],  # mode 0, good
            [-1.0, 1.0],  # mode 0, good
            [10.0, 2.0],  # mode 1, good
            [5.0, 5.0],  # far from all: not good
            [0.0, 6.5],  # nearest mode 2 at 3.5: not good
        ]
    )
    # mode 0 has 3 good points, mode 1 has 1, mode 2 none; 4 of 6 points good
    assert mode_statistics(points, centres, std, min_count=1) == {
        "modes": 2.0,
        "high_quality": pytest.approx(400 / 6),
    }
    assert mode_statistics(points, centres, std, min_count=2)["modes"] == 1.0


def test_models_shapes_and_parameter_counts() -> None:
    generator = MLPGenerator(latent_dim=2, hidden=256, depth=3)
    # 2*256+256 + 2 * (256*256+256) + 256*2+2
    assert sum(p.numel() for p in generator.parameters()) == 768 + 2 * 65792 + 514
    assert generator(torch.randn(5, 2)).shape == (5, 2)
    discriminator = MLPDiscriminator(hidden=256, depth=3)
    assert sum(p.numel() for p in discriminator.parameters()) == 768 + 2 * 65792 + 257
    assert discriminator(torch.randn(6, 2)).shape == (6, 1)
    packed = MLPDiscriminator(hidden=16, depth=2, pack=3)
    assert packed(torch.randn(6, 2)).shape == (2, 1)
    with pytest.raises(ValueError, match="multiple of pack=3"):
        packed(torch.randn(5, 2))


def test_scatter_writer_writes_a_png_and_the_points(tmp_path) -> None:
    points = torch.tensor([[0.0, 0.0], [1.5, -2.0]])
    written = ScatterWriter(size=64).write(points, tmp_path / "step-000010")
    png, text = written
    assert png.suffix == ".png" and text.suffix == ".txt"
    with Image.open(png) as image:
        assert image.size == (64, 64)
        # the point at the origin is drawn in the centre, in the generated points' colour
        assert image.convert("RGB").getpixel((32, 32)) == (31, 119, 180)
    rows = [tuple(map(float, line.split())) for line in text.read_text().splitlines()]
    assert rows == [(0.0, 0.0), (1.5, -2.0)]


def test_mixtures_describe_themselves_as_plain_data() -> None:
    ring = Ring(size=100, seed=0).describe()
    assert json.loads(json.dumps(ring)) == ring
    assert ring["shape"] == "ring" and ring["modes"] == 8 and ring["radius"] == 2.0
    assert ring["std"] == 0.02 and ring["size"] == 100 and ring["dimensions"] == 2
    assert ring["centres"][0] == [2.0, 0.0] and len(ring["centres"]) == 8
    grid = Grid(side=3, spacing=1.5, size=10).describe()
    assert (grid["shape"], grid["side"], grid["spacing"], grid["modes"]) == ("grid", 3, 1.5, 9)
    assert grid["centres"][0] == [-1.5, -1.5] and grid["std"] == 0.05


class Fixed(torch.nn.Module):
    """A generator that returns given points, for the metric."""

    latent_dim = 0

    def __init__(self, points: torch.Tensor) -> None:
        super().__init__()
        self.points = points

    def forward(self, *_, **__) -> torch.Tensor:
        return self.points


def test_mode_metric_reads_the_live_data_or_the_description() -> None:
    ring = Ring(size=2000, seed=0)
    # 20 points on each of the first 5 modes, exactly at the centres
    points = ring.centres[:5].repeat_interleave(20, 0)
    run = MiniRun({"generator": Fixed(points)}, {}, lambda: None)
    run.dataset = ring
    assert ModeCoverage(n_samples=100, min_count=20)(run) == {"modes": 5.0, "high_quality": 100.0}
    run.dataset = None  # rebuilt without data: the description's centres and std
    metric = ModeCoverage(n_samples=100, min_count=20, description=ring.describe())
    assert metric(run) == {"modes": 5.0, "high_quality": 100.0}
    with pytest.raises(DataError, match="toy.modes needs a Gaussian mixture"):
        ModeCoverage()(run)


def test_gan_steps_on_the_ring_through_the_core_path() -> None:
    """core.gan on the toy models via MiniRun: the recipe's optimiser specs over the defaults,
    one D and one G update per step, and D learns to tell the ring from a fresh generator."""
    torch.manual_seed(0)
    ring = Ring(size=4096, seed=0)
    batch = lambda: ring.get_batch(torch.randint(len(ring), (128,)).tolist())  # noqa: E731
    run = MiniRun(
        {
            "generator": MLPGenerator(latent_dim=2, hidden=64),
            "discriminator": MLPDiscriminator(hidden=64),
        },
        {"adversarial": NonSaturatingLoss()},
        batch,
        batch_size=128,
        optimizers={"generator": {"lr": 5e-4}, "discriminator": {"lr": 5e-4}},
    )
    trainer = GANTrainer(ema=0.9)
    trainer.setup(run)
    group = run.optimization.optimizers["discriminator"].param_groups[0]
    assert (group["lr"], group["betas"]) == (5e-4, (0.5, 0.999))
    records = [run.step_once(trainer) for _ in range(30)]
    assert run.optimization.updates == {"generator": 30, "discriminator": 30}
    assert float(records[-1]["d_loss"]) < float(records[0]["d_loss"])
    assert "generator" in run.ema and run.step == 30
    samples = run.sample(16)
    assert samples.shape == (16, 2) and torch.isfinite(samples).all()


def test_scatter_writer_draws_the_reference_from_the_live_data(tmp_path) -> None:
    ring = Ring(size=500, seed=0)
    run = MiniRun({"generator": Fixed(torch.zeros(3, 2))}, {}, lambda: None, out=tmp_path)
    run.recipe["samples"] = {"n": 3}
    run.dataset = ring
    writer = ScatterWriter(size=64, reference_points=100)
    (tmp_path / "samples").mkdir()
    with run.evaluating():
        png, text = writer.write_samples(run, tmp_path / "samples" / "step-000001")
    assert torch.equal(writer.reference, ring.points[:100])
    assert png.exists() and len(text.read_text().splitlines()) == 3
