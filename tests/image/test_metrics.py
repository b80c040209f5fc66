"""Image metric maths against hand-computed values: Fréchet distance of two Gaussians, KID and
improved precision / recall on constructed cases, and the class figures of ``image.classes``
with a hand-made classifier and generator."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import genmm_image.metrics as image_metrics
from genmm.metrics import frechet_distance, gaussian_statistics, kernel_inception_distance
from genmm_image.metrics import ClassMetrics, Features, FrechetDistance, precision_recall


def test_frechet_distance_of_two_gaussians_is_the_closed_form():
    """N(m1, C1), N(m2, C2) with C1 = diag(1, 4), C2 = diag(4, 1), m1 = 0, m2 = (1, 2):
    ||m1 - m2||^2 + Tr(C1) + Tr(C2) - 2 Tr((C1 C2)^1/2) = 5 + 5 + 5 - 2 (2 + 2) = 7."""
    m1, m2 = torch.zeros(2), torch.tensor([1.0, 2.0])
    c1, c2 = torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([4.0, 1.0]))
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(7.0, abs=1e-9)
    # the same pair turned by any rotation R (R C R^T, R m): the distance does not change
    angle = 0.7
    R = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    assert frechet_distance(R @ m1, R @ c1 @ R.T, R @ m2, R @ c2 @ R.T) == pytest.approx(7.0)
    # covariances that do not commute: C1 = I, C2 = [[2, 1], [1, 2]] (eigenvalues 3 and 1):
    # Tr(I) + Tr(C2) - 2 Tr(C2^1/2) = 2 + 4 - 2 (sqrt 3 + 1) = 4 - 2 sqrt 3
    c3 = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    assert frechet_distance(m1, torch.eye(2), m1, c3) == pytest.approx(4 - 2 * math.sqrt(3))
    assert frechet_distance(m2, c3, m2, c3) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_from_samples_approaches_the_closed_form():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(200_000, 2, generator=generator, dtype=torch.float64) * torch.tensor([1, 2])
    b = torch.randn(200_000, 2, generator=generator, dtype=torch.float64) * torch.tensor([2, 1])
    b = b + torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert frechet_distance(*gaussian_statistics(a), *gaussian_statistics(b)) == pytest.approx(
        7.0, abs=0.1
    )


def test_kid_of_two_point_masses_is_the_kernel_distance():
    """Every x is a = (1, 1), every y is b = (0, 0); k(u, v) = (u.v / d + 1)^3 with d = 2:
    k(a, a) = 8, k(b, b) = 1, k(a, b) = 1, so MMD^2 = 8 + 1 - 2 = 7 exactly."""
    x, y = torch.ones(50, 2), torch.zeros(40, 2)
    assert kernel_inception_distance(x, y, subsets=3, subset_size=30) == pytest.approx(7.0)
    generator = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 500, 8, generator=generator)
    same = kernel_inception_distance(a, b, subsets=4, subset_size=500)
    shifted = kernel_inception_distance(a, b + 1.0, subsets=4, subset_size=500)
    assert abs(same) < 0.2 < shifted  # unbiased: near 0 for one distribution


def test_precision_and_recall_on_a_constructed_case():
    """Real: 20 points at x = 0..19 on a line; k = 3, so the radius of a real point is 2
    (3 at the ends). Fake: 10 points at x = 0.5..9.5 on the same line (radius 2, 3 at the
    ends) and 10 far away at y = 1000. Precision: the 10 near fakes are inside, 10/20 = 0.5.
    Recall: reals at x = 0..12 lie within 3 of x = 9.5 or 2 of a nearer fake: 13/20 = 0.65."""
    real = torch.stack([torch.arange(20.0), torch.zeros(20)], 1)
    near = torch.stack([torch.arange(10.0) + 0.5, torch.zeros(10)], 1)
    far = torch.stack([torch.arange(10.0), torch.full((10,), 1000.0)], 1)
    precision, recall = precision_recall(real, torch.cat([near, far]), k=3)
    assert precision == pytest.approx(0.5)
    assert recall == pytest.approx(0.65)
    assert precision_recall(real, real.clone(), k=3) == (1.0, 1.0)


# ---------------------------------------------------------------- metrics on a hand-made world
CLASSES = 5
LEVELS = torch.linspace(-1, 1, CLASSES)  # images of class c are flat at LEVELS[c]


class LevelClassifier(nn.Module):
    """Reads the class from an image's mean level; features: the flattened image."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("levels", LEVELS.clone())

    def features(self, images):
        return images.flatten(1)

    def forward(self, images):
        mean = images.flatten(1).mean(1, keepdim=True)
        return -((mean - self.levels) ** 2)


def flat_images(classes):
    return LEVELS[classes].view(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone()


class Split:
    def __init__(self, labels):
        self.labels = labels
        self.split = "held_out"

    def __len__(self):
        return len(self.labels)

    def all_images(self):
        return flat_images(self.labels)


class World:
    """A data set of flat images with labels, and its held-out part."""

    num_classes = CLASSES
    image_size = 4
    split = "train"
    registered_name = "test.world"

    def __init__(self, held_out):
        self.held_out = held_out

    def held_out_set(self):
        return self.held_out

    def identity(self):
        return "world"


class WrongForTwoClasses(nn.Module):
    """Asked for class 3 or 4 it draws class 0: 3 of 5 classes right."""

    num_classes = CLASSES

    def forward(self, z, label):
        return flat_images(torch.where(label >= 3, torch.zeros_like(label), label))


class TwoClassesOnly(nn.Module):
    """Unconditional: the first half of every batch class 1, the rest class 2."""

    def forward(self, z):
        n = z.shape[0]
        return flat_images(torch.tensor([1] * (n // 2) + [2] * (n - n // 2)))


class FakeRun:
    def __init__(self, generator, dataset, out):
        self.generator, self.dataset, self.out = generator, dataset, out
        self.device, self.step = torch.device("cpu"), 5

    def sampling_model(self, role="generator"):
        return self.generator

    def sample(self, n, condition=None):
        return (
            self.generator(torch.zeros(n, 1), condition)
            if condition is not None
            else self.generator(torch.zeros(n, 1))
        )


@pytest.fixture
def hand_made_classifier(monkeypatch):
    features = Features(LevelClassifier(), "hand-made", "classifier")
    monkeypatch.setattr(image_metrics, "feature_network", lambda dataset, steps=600: features)
    return features


def test_class_accuracy_of_a_conditional_generator(tmp_path, hand_made_classifier):
    heldout = Split(torch.tensor([0, 1, 2, 3, 4, 4]))
    run = FakeRun(WrongForTwoClasses(), World(heldout), tmp_path)
    figures = ClassMetrics(n_samples=100)(run)
    assert figures["class_accuracy"] == pytest.approx(3 / 5)
    assert figures["real_accuracy"] == pytest.approx(1.0)
    line = json.loads((tmp_path / "image_metrics.jsonl").read_text().splitlines()[-1])
    assert line["metric"] == "image.classes" and line["step"] == 5
    assert line["provenance"]["feature_hash"] == hand_made_classifier.hash
    assert line["provenance"]["n_samples"] == 100 and line["provenance"]["image_size"] == 4


def test_class_coverage_of_an_unconditional_generator(tmp_path, hand_made_classifier):
    run = FakeRun(TwoClassesOnly(), World(Split(torch.arange(CLASSES))), tmp_path)
    figures = ClassMetrics(n_samples=100)(run)
    assert figures["classes_covered"] == 2
    assert figures["class_max_share"] == pytest.approx(0.5)
    assert figures["class_entropy"] == pytest.approx(math.log(2) / math.log(CLASSES))


def test_frechet_metric_compares_samples_with_the_held_out_features(tmp_path, hand_made_classifier):
    """Samples of classes {1, 2}; held-out images of every class once. On flattened flat
    images (16 equal features), the held-out levels are -1, -0.5, 0, 0.5, 1 (mean 0,
    variance 0.625 with n - 1 = 4) and the samples' are -0.5, 0 (mean -0.25, variance
    0.125 (n - 1 = 99, 50 + 50 samples): 0.0631...). All 16 features are equal, so the
    covariances are rank one: FD = 16 (mean gap^2) + 16 (sd1 - sd2)^2."""
    image_metrics._REAL_FEATURES.clear()
    run = FakeRun(TwoClassesOnly(), World(Split(torch.arange(CLASSES))), tmp_path)
    figures = FrechetDistance(n_samples=100, precision_recall=False, kid=False)(run)
    var_fake = 100 * 0.0625 / 99  # levels -0.5 and 0, 50 each: population variance 0.0625
    expected = 16 * 0.25**2 + 16 * (math.sqrt(0.625) - math.sqrt(var_fake)) ** 2
    assert figures["fd"] == pytest.approx(expected, rel=1e-6)


class PooledColour(nn.Module):
    """A stand-in for a local Inception file: the mean of each channel as 3 features."""

    def forward(self, images):
        return images.mean(dim=(2, 3))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in 2.13
def test_inception_weights_name_a_local_file(tmp_path):
    from genmm.errors import RecipeError

    with pytest.raises(RecipeError, match="nowhere.pt"):
        FrechetDistance(inception_weights=str(tmp_path / "nowhere.pt"))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a network")
    with pytest.raises(RecipeError, match="garbage.pt"):
        FrechetDistance(inception_weights=str(garbage))
    pickled = tmp_path / "pickled.pt"  # a whole pickled module: refused, never unpickled
    torch.save(PooledColour(), str(pickled))
    with pytest.raises(RecipeError, match="pickled.pt.*not loaded: unpickling can run code"):
        FrechetDistance(inception_weights=str(pickled))
    path = tmp_path / "inception.pt"
    torch.jit.script(PooledColour()).save(str(path))
    metric = FrechetDistance(inception_weights=str(path))
    features = metric.features(dataset=None)
    assert features.kind == "inception" and features.hash == image_metrics.file_hash(str(path))
    # images in [-1, 1] reach the network as 3 channels at 299x299 in [0, 255]
    grey = torch.zeros(2, 1, 8, 8)
    assert torch.allclose(features(grey), torch.full((2, 3), 127.5, dtype=torch.float64))
