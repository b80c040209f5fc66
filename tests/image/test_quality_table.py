"""The quality table of ``benchmarks/bench_image.py``: its code on a tiny run of two recipes,
and its figures on small fixed feature sets against hand-computed values."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from genmm.metrics import frechet_distance, gaussian_statistics

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("bench_image", ROOT / "benchmarks" / "bench_image.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

COLUMNS = [key for key, _ in bench.TABLE_COLUMNS]


def unbiased_mmd(a: torch.Tensor, b: torch.Tensor) -> float:
    """MMD^2 with k(u, v) = (u.v / d + 1)^3, the pairs counted one by one (i != j within a set)."""
    d = a.shape[1]

    def k(u, v):
        return (float(u @ v) / d + 1) ** 3

    m = len(a)
    within_a = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    within_b = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    across = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    return within_a + within_b - 2 * across


def test_figures_on_fixed_feature_sets_match_hand_computed_values():
    """fake x = (1,0), (0,1), (1,1); held-out y = (0,0), (2,0), (0,2); d = 2, so
    k(u, v) = (u.v / 2 + 1)^3. Within x: k = 1, 27/8, 27/8 (mean 31/12); within y: all 1;
    across: x.y is 2 for (1,0).(2,0), (0,1).(0,2), (1,1).(2,0) and (1,1).(0,2) (k = 8) and 0
    for the other five pairs (k = 1): (4 * 8 + 5) / 9 = 37/9.
    KID = 31/12 + 1 - 2 * 37/9 = -167/36 (the unbiased estimate may be negative)."""
    fake = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    reference = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    train = 2 * fake  # the floor's real images: three, so all of them
    predicted = torch.tensor([0] * 60 + [1] * 38 + [2] * 2)  # class 2: 2 % < a tenth of 25 %
    figures = bench.quality_figures(fake, reference, train, predicted, classes=4, k=1)
    assert figures["kid"] == pytest.approx(-167 / 36)
    assert figures["kid"] == pytest.approx(unbiased_mmd(fake.double(), reference.double()))
    assert figures["kid_floor"] == pytest.approx(unbiased_mmd(train.double(), reference.double()))
    expected_fd = frechet_distance(*gaussian_statistics(fake), *gaussian_statistics(reference))
    expected_floor = frechet_distance(*gaussian_statistics(train), *gaussian_statistics(reference))
    assert figures["fd"] == pytest.approx(expected_fd)
    assert figures["fd_floor"] == pytest.approx(expected_floor)
    assert figures["fd_ratio"] == pytest.approx(expected_fd / expected_floor)
    assert figures["classes_covered"] == 2 and figures["classes"] == 4


def test_precision_is_of_the_samples_and_recall_of_the_real_images():
    """k = 1. Samples in a tight cluster at the origin (radii 0.1), real images at the corners
    of a 10-square (radii 10): every sample lies within 10 of the real (0, 0) -> precision 1;
    of the real images only (0, 0) lies within 0.1 of a sample -> recall 1/4."""
    fake = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [0.1, 0.1]])
    reference = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    figures = bench.quality_figures(fake, reference, reference, torch.zeros(4).long(), 1, k=1)
    assert figures["precision"] == pytest.approx(1.0)
    assert figures["recall"] == pytest.approx(0.25)
    assert figures["classes_covered"] == 1


def test_the_table_of_two_tiny_recipes(tmp_path, monkeypatch):
    """Two shipped recipes through the table's own code (``quality_table``), 3 steps each."""
    pytest.importorskip("sklearn")
    from PIL import Image

    monkeypatch.setenv("GENMM_CACHE", str(tmp_path / "cache"))
    args = argparse.Namespace(
        recipes="gan_digits,dcgan_digits",
        steps=3,
        set=["phases.gan.batch_size=8", "checkpoint.every=0"],
        n_samples=48,
        feature_steps=10,
        train_threads=1,
        out_dir=str(tmp_path / "table"),
    )
    rows = bench.quality_table(args)
    out = tmp_path / "table"
    lines = [json.loads(line) for line in (out / "quality.jsonl").read_text().splitlines()]
    assert [line["recipe"] for line in lines] == ["gan_digits", "dcgan_digits"]
    assert lines == json.loads(json.dumps(rows))
    for line in lines:
        assert all(key in line and line[key] is not None for key in COLUMNS)
        assert line["steps"] == 3 and line["classes"] == 10
        assert line["fd_ratio"] == pytest.approx(line["fd"] / line["fd_floor"])
        assert line["fd"] > line["fd_floor"] > 0  # 3 steps: far from the real images
        assert 0 <= line["precision"] <= 1 and 0 <= line["recall"] <= 1
        assert 1 <= line["classes_covered"] <= 10 and line["cpu_minutes"] > 0
        assert line["provenance"]["n_samples"] == 48
        assert line["provenance"]["n_reference"] == 359  # the digits' held-out fifth
        with Image.open(out / line["grid"]) as grid:  # 8 x 8 samples of 32 px (16 px x 2)
            assert grid.size == (8 * 34 + 2, 8 * 34 + 2)
    table = (out / "quality.md").read_text().splitlines()
    assert len(table) == 4 and table[1] == "|" + "---|" * len(COLUMNS)
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in (table[0], *table[2:])]
    assert all(len(row) == len(COLUMNS) for row in cells)
    assert cells[0][4] == "FD / floor"
    for row, line in zip(cells[1:], lines):
        assert row[0] == line["recipe"] and float(row[4]) == pytest.approx(line["fd_ratio"], 1e-3)
        assert row[-1] == f"![{line['grid']}]({line['grid']})"
