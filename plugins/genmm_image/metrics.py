"""Image metrics on features of a network trained on the data set itself.

No standard Inception weights can be downloaded here, so the feature network is a small
classifier trained on the recipe's training split (cached per data set and seed; the hash
of its weights is recorded with every figure). On its penultimate features:

* ``image.fd``: Fréchet distance (Heusel et al. 2017) and KID (Bińkowski et al. 2018) between
  generated and held-out images, and improved precision / recall (Kynkäänniemi et al. 2019,
  k-nearest-neighbour manifolds, k = 3). ``inception_weights: path`` runs the same figures
  on a local Inception network (TorchScript) instead.
* ``image.classes``: for a conditional generator, the accuracy of the classifier on samples
  of each asked class; for an unconditional one, how many classes the samples cover and how
  evenly (normalised entropy of the predicted classes).

Each evaluation appends its figures with their provenance (feature network hash, number of
samples, image size) to ``<run>/image_metrics.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm.errors import DataError, RecipeError
from genmm.metrics import Metric, frechet_distance, gaussian_statistics, kernel_inception_distance
from genmm.metrics.cache import cached_network, weights_hash
from genmm.training import Optimization

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

log = logging.getLogger(__name__)

FEATURE_SIZE = 32  # the feature network sees every image at 32x32


# ====================================================================== feature network
class FeatureNetwork(nn.Module):
    """A small convolutional classifier; its 128-d pooled features are the metric space.

    (B, C, H, W) in [-1, 1] -> resized to 32x32 -> 4 conv layers -> global average pool
    -> (B, 128) features -> (B, classes) logits.
    """

    def __init__(self, channels: int, classes: int, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1),
            nn.ReLU(inplace=True),  # (B, w, 32, 32)
            nn.Conv2d(width, 2 * width, 3, 2, 1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),  # (B, 2w, 16, 16)
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1),
            nn.BatchNorm2d(4 * width),
            nn.ReLU(inplace=True),  # (B, 4w, 8, 8)
            nn.Conv2d(4 * width, 4 * width, 3, 2, 1),
            nn.ReLU(inplace=True),  # (B, 4w, 4, 4)
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # (B, 4w)
        )
        self.classifier = nn.Linear(4 * width, classes)

    @staticmethod
    def prepare(images: Tensor) -> Tensor:
        if images.shape[-1] != FEATURE_SIZE or images.shape[-2] != FEATURE_SIZE:
            images = F.interpolate(
                images.float(),  # under bf16 autocast too: no bf16 kernel for antialias
                size=(FEATURE_SIZE, FEATURE_SIZE),
                mode="bilinear",
                align_corners=False,
                antialias=images.shape[-1] > FEATURE_SIZE,
            )
        return images

    def features(self, images: Tensor) -> Tensor:
        return self.body(self.prepare(images))

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.features(images))


def train_feature_network(
    images: Tensor, labels: Tensor, classes: int, steps: int, seed: int
) -> FeatureNetwork:
    """Adam (lr 2e-3, one-cycle schedule), batch 64, ``steps`` steps, with random shifts of up
    to 2 pixels; stepped through the core's optimisation path."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = FeatureNetwork(images.shape[1], classes)
    optimization = Optimization(total_steps=max(1, steps), key="image.features")
    optimizer = optimization.add(
        "features", network.parameters(), default={"name": "adam", "lr": 2e-3}
    )
    # the one-cycle schedule the cached networks were trained with (not among the core's)
    optimization.schedulers["features"] = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, 2e-3, total_steps=max(1, steps)
    )
    network.train()
    with torch.enable_grad():
        for _ in range(steps):
            index = torch.randint(len(images), (min(64, len(images)),), generator=generator)
            batch = network.prepare(images[index])
            shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
            batch = torch.roll(batch, shifts=shift, dims=(2, 3))

            def loss(batch: Tensor = batch, index: Tensor = index) -> Tensor:
                return F.cross_entropy(network(batch), labels[index])

            optimization.update("features", loss)
            optimization.step_schedules()
    return network.eval().requires_grad_(False)


class Features:
    """A feature extractor with its provenance: ``name``, ``hash``, ``classifier`` or None."""

    def __init__(self, module: nn.Module, name: str, kind: str) -> None:
        self.module = module
        self.name = name
        self.kind = kind  # "classifier" (ours) or "inception"
        self.hash = weights_hash(module) if kind == "classifier" else file_hash(name)

    @torch.no_grad()
    def __call__(self, images: Tensor, chunk: int = 500) -> Tensor:
        parts = [self.embed(images[i : i + chunk]) for i in range(0, len(images), chunk)]
        return torch.cat(parts).double()

    def embed(self, images: Tensor) -> Tensor:
        if self.kind == "classifier":
            return self.module.features(images.float())
        return inception_features(self.module, images.float())

    @torch.no_grad()
    def predict(self, images: Tensor, chunk: int = 500) -> Tensor:
        parts = [self.module(images[i : i + chunk].float()) for i in range(0, len(images), chunk)]
        return torch.cat(parts).argmax(1)


def file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


_NETWORKS: dict[str, Features] = {}


def feature_network(dataset: Any, steps: int = 600) -> Features:
    """The classifier of ``dataset`` (trained on its training split), from memory, the disk
    cache (``$GENMM_CACHE/image-features``) or trained now (seconds)."""
    if dataset is None:
        raise DataError("image metrics need the run's data (this run was loaded without it)")
    if not hasattr(dataset, "identity"):
        raise DataError("image metrics need an image.* data set (with labels and splits)")
    key = f"{dataset.registered_name.replace('.', '-')}-{dataset.identity()}-s{steps}"
    if key in _NETWORKS:
        return _NETWORKS[key]
    train = dataset if dataset.split == "train" else dataset.other_split("train")
    network, path = cached_network(
        "image-features",
        key,
        FeatureNetwork(train.channels, max(2, train.num_classes)),
        lambda: train_feature_network(
            train.all_images(),
            train.labels,
            max(2, train.num_classes),
            steps,
            seed=int(dataset.arguments.get("seed", 0)),
        ),
        "image feature network",
    )
    _NETWORKS[key] = Features(network, str(path), "classifier")
    return _NETWORKS[key]


# ====================================================================== inception
def load_inception(path: str) -> Features:
    """A local Inception network as a TorchScript file (e.g. the FID network of NVlabs). A
    pickled ``nn.Module`` is refused: unpickling runs code, and a recipe must never run code.
    Errors name the file."""
    if path in _NETWORKS:
        return _NETWORKS[path]
    file = Path(path)
    if not file.is_file():
        raise RecipeError(f"inception_weights: file '{file}' does not exist")
    try:
        module = torch.jit.load(str(file), map_location="cpu")
    except Exception as error:
        raise RecipeError(
            f"inception_weights: '{file}' does not load as TorchScript "
            f"({str(error).splitlines()[0]}); save the network with torch.jit.save (a pickled "
            "module is not loaded: unpickling can run code)"
        )
    module.eval()
    _NETWORKS[path] = Features(module, str(file), "inception")
    return _NETWORKS[path]


def inception_features(module: nn.Module, images: Tensor) -> Tensor:
    """Images in [-1, 1] -> 3 channels at 299x299 in [0, 255] -> the network's features."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    images = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
    images = (images.clamp(-1, 1) + 1) * 127.5
    try:
        output = module(images, return_features=True)
    except (TypeError, RuntimeError):
        output = module(images)
    if isinstance(output, (list, tuple)):
        output = output[0]
    return output.flatten(1)


# ====================================================================== maths
def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, eq. 1-2): a sample is inside a
    manifold when it lies within the k-th nearest-neighbour radius of some of its points."""

    def radii(points: Tensor) -> Tensor:
        distances = torch.cdist(points, points)
        return distances.kthvalue(k + 1, dim=1).values  # k+1: the point itself is at 0

    def inside(points: Tensor, manifold: Tensor) -> float:
        radius = radii(manifold)
        hits = [
            (torch.cdist(points[i : i + 1000], manifold) <= radius).any(1)
            for i in range(0, len(points), 1000)
        ]
        return float(torch.cat(hits).double().mean())

    real, fake = real.double(), fake.double()
    return inside(fake, real), inside(real, fake)


def generated_images(run: Run, n: int, condition: Tensor | None = None, chunk: int = 500):
    """``n`` samples (in chunks) as CPU float images."""
    parts = []
    for start in range(0, n, chunk):
        part = None if condition is None else condition[start : start + chunk]
        size = min(chunk, n - start)
        parts.append(run.sample(size, condition=part).float().cpu())
    return torch.cat(parts)


def record(run: Run, metric: str, figures: dict[str, float], provenance: dict[str, Any]):
    """Append figures and their provenance to ``<run>/image_metrics.jsonl``."""
    line = {"step": run.step, "metric": metric, **figures, "provenance": provenance}
    try:
        run.out.mkdir(parents=True, exist_ok=True)
        with open(run.out / "image_metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as error:  # a read-only run folder must not stop an evaluation
        log.warning("could not record image metrics provenance: %s", error)
    log.info("%s at step %d: %s (%s)", metric, run.step, figures, provenance)


_REAL_FEATURES: dict[tuple[str, str, str], Tensor] = {}


def reference_set(dataset: Any, split: str) -> Any:
    """The part of ``dataset`` a metric compares with: ``held_out`` (its ``held_out_set()``),
    ``train`` or ``all``."""
    if split == "held_out":
        return dataset.held_out_set()
    return dataset if dataset.split == split else dataset.other_split(split)


def real_features(features: Features, dataset: Any, split: str) -> Tensor:
    key = (features.hash, dataset.identity(), split)
    if key not in _REAL_FEATURES:
        _REAL_FEATURES[key] = features(reference_set(dataset, split).all_images())
    return _REAL_FEATURES[key]


# ====================================================================== metrics
class FrechetDistance(Metric):
    """``fd``, ``kid`` and (optionally) ``precision`` / ``recall`` of ``n_samples`` generated
    images against the held-out set, on the data set's own feature network (or on a local
    Inception network with ``inception_weights``). ``floor: true`` adds ``fd_floor``: the same
    distance from the real training images (as many as generated) to the held-out ones."""

    def __init__(
        self,
        n_samples: int = 2000,
        reference: Literal["held_out", "train", "all"] = "held_out",
        kid: bool = True,
        precision_recall: bool = True,
        k: int = 3,
        floor: bool = False,
        feature_steps: int = 600,
        inception_weights: str | None = None,
    ) -> None:
        if reference not in ("held_out", "train", "all"):
            raise ValueError("reference must be 'held_out', 'train' or 'all'")
        if inception_weights is not None:
            load_inception(inception_weights)  # fail while building, naming the file
        self.n_samples = n_samples
        self.reference = reference
        self.kid = kid
        self.precision_recall = precision_recall
        self.k = k
        self.floor = floor
        self.feature_steps = feature_steps
        self.inception_weights = inception_weights

    def features(self, dataset: Any) -> Features:
        if self.inception_weights is not None:
            return load_inception(self.inception_weights)
        return feature_network(dataset, self.feature_steps)

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = run.dataset
        features = self.features(dataset)
        reference = real_features(features, dataset, self.reference)
        fake = features(generated_images(run, self.n_samples))
        fd = frechet_distance(*gaussian_statistics(fake), *gaussian_statistics(reference))
        figures = {"fd": fd}
        if self.kid:
            figures["kid"] = kernel_inception_distance(fake, reference, subset_size=1000)
        if self.precision_recall:
            size = min(len(fake), len(reference))
            figures["precision"], figures["recall"] = precision_recall(
                reference[:size], fake[:size], self.k
            )
        if self.floor:
            train = real_features(features, dataset, "train")
            train = train[torch.randperm(len(train))[: self.n_samples]]
            figures["fd_floor"] = frechet_distance(
                *gaussian_statistics(train), *gaussian_statistics(reference)
            )
        record(
            run,
            "image.fd",
            figures,
            {
                "feature_network": features.kind,
                "feature_hash": features.hash,
                "n_samples": self.n_samples,
                "reference": self.reference,
                "n_reference": len(reference),
                "image_size": int(dataset.image_size),
            },
        )
        return figures


class ClassMetrics(Metric):
    """Class figures by the data set's classifier. Conditional generator: ``class_accuracy``
    (samples classified as their asked label, ``n_samples`` spread evenly over the classes).
    Unconditional: ``classes_covered`` (classes given at least ``min_share`` of their even
    share of the samples), ``class_entropy`` (1 = even) and ``class_max_share``. Both report
    ``real_accuracy``, the classifier's accuracy on held-out real images."""

    def __init__(self, n_samples: int = 1000, min_share: float = 0.1, feature_steps: int = 600):
        self.n_samples = n_samples
        self.min_share = min_share
        self.feature_steps = feature_steps

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = run.dataset
        features = feature_network(dataset, self.feature_steps)
        classes = dataset.num_classes
        held_out = dataset.held_out_set()
        figures: dict[str, float] = {}
        if len(held_out):
            predicted = features.predict(held_out.all_images())
            figures["real_accuracy"] = float((predicted == held_out.labels).double().mean())
        generator = run.sampling_model("generator")
        if getattr(generator, "num_classes", 0):
            per_class = max(1, self.n_samples // classes)
            labels = torch.arange(classes).repeat_interleave(per_class).to(run.device)
            images = generated_images(run, len(labels), condition=labels)
            predicted = features.predict(images)
            figures["class_accuracy"] = float((predicted == labels.cpu()).double().mean())
        else:
            predicted = features.predict(generated_images(run, self.n_samples))
            counts = torch.bincount(predicted, minlength=classes).double()
            share = counts / counts.sum()
            even = 1.0 / classes
            figures["classes_covered"] = float((share >= self.min_share * even).sum())
            entropy = -(share[share > 0] * share[share > 0].log()).sum()
            figures["class_entropy"] = abs(float(entropy / math.log(classes)))
            figures["class_max_share"] = float(share.max())
        record(
            run,
            "image.classes",
            figures,
            {
                "feature_network": "classifier",
                "feature_hash": features.hash,
                "n_samples": self.n_samples,
                "classes": classes,
                "image_size": int(dataset.image_size),
            },
        )
        return figures


def fd_floor(features: Features, dataset: Any, reference: Tensor, n: int, seed: int = 0) -> float:
    """The real-vs-real floor of a Fréchet distance: ``n`` real training images (a subset
    fixed by ``seed``, whatever the model drew before) against the ``reference`` features."""
    train = real_features(features, dataset, "train")
    train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]]
    return frechet_distance(*gaussian_statistics(train), *gaussian_statistics(reference))
