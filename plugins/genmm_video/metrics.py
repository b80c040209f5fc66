"""Video metrics on a small 3-D CNN trained on the data set's own clips to recognise the motion.

No pretrained video network can be downloaded here, so none of these is "FVD". The motion
classifier (:class:`MotionClassifier`) is trained on the training clips (cached per data set
under ``$GENMM_CACHE/video-features``); the hash of its weights is recorded with every figure
(``<run>/video_metrics.jsonl`` and the log).

* ``video.frechet``: ``fd``, the Fréchet distance (Dowson & Landau 1982) between the
  classifier's features of generated clips and of held-out real clips, with ``fd_floor`` beside
  it: the same distance from as many real *training* clips to the held-out ones.
* ``video.motion_accuracy``: MoCoGAN's motion-control score (MCS, Tulyakov et al. 2018 sec.
  4.1): for a generator with action categories, the share of generated clips the classifier
  recognises as their asked motion (``motion_accuracy``); for one without, how many motions
  the clips cover (``motions_covered``, ``motion_entropy``). ``real_accuracy``: the
  classifier on held-out real clips.
* ``video.acd``: MoCoGAN's average content distance (sec. 4.1, shape motion): each frame is
  the mean colour (0-255) of its shape's pixels, and ACD is the mean pairwise L2 distance of
  those vectors over a clip's frames, averaged over clips; ``acd`` for generated clips,
  ``acd_real`` for held-out real ones. Lower means content kept better.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm.errors import DataError
from genmm.metrics import Metric, frechet_distance, gaussian_statistics
from genmm.metrics.cache import cached_network, weights_hash
from genmm.training import Optimization

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

log = logging.getLogger(__name__)

FEATURE_SIZE = 32  # the classifier sees every clip at 32 x 32


class MotionClassifier(nn.Module):
    """Clips (B, C, T, H, W) in [-1, 1] -> resized to 32 x 32 -> three 3-D convolutions
    (3 x 3 x 3; 32-64-128 channels, stride 2 in space then in time and space, batch norm, ReLU)
    -> global average pool -> (B, 128) features -> (B, classes) logits."""

    def __init__(self, channels: int, classes: int, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(channels, width, 3, (1, 2, 2), 1),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),  # (B, w, T, 16, 16)
            nn.Conv3d(width, 2 * width, 3, 2, 1),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(inplace=True),  # (B, 2w, T/2, 8, 8)
            nn.Conv3d(2 * width, 4 * width, 3, 2, 1),
            nn.BatchNorm3d(4 * width),
            nn.ReLU(inplace=True),  # (B, 4w, T/4, 4, 4)
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(4 * width, classes)

    @staticmethod
    def prepare(clips: Tensor) -> Tensor:
        if clips.shape[-1] != FEATURE_SIZE or clips.shape[-2] != FEATURE_SIZE:
            batch, channels, frames = clips.shape[:3]
            flat = clips.transpose(1, 2).reshape(batch * frames, channels, *clips.shape[-2:])
            flat = F.interpolate(
                flat,
                size=(FEATURE_SIZE, FEATURE_SIZE),
                mode="bilinear",
                align_corners=False,
                antialias=clips.shape[-1] > FEATURE_SIZE,
            )
            clips = flat.view(batch, frames, channels, FEATURE_SIZE, FEATURE_SIZE).transpose(1, 2)
        return clips

    def features(self, clips: Tensor) -> Tensor:
        return self.body(self.prepare(clips))

    def forward(self, clips: Tensor) -> Tensor:
        return self.classifier(self.features(clips))


def train_classifier(
    clips: Tensor, labels: Tensor, classes: int, steps: int, seed: int, batch: int = 32
) -> MotionClassifier:
    """Adam (lr 2e-3, cosine to 0), batch 32, ``steps`` steps, random shifts of up to 2 pixels;
    stepped through the core's optimisation path. ``clips`` are already at 32 x 32."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = MotionClassifier(clips.shape[1], classes)
    optimization = Optimization(
        schedules={"classifier": {"name": "cosine"}},
        total_steps=max(1, steps),
        key="video.classifier",
    )
    optimization.add("classifier", network.parameters(), default={"name": "adam", "lr": 2e-3})
    network.train()
    with torch.enable_grad():
        for _ in range(steps):
            index = torch.randint(len(clips), (min(batch, len(clips)),), generator=generator)
            shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
            chunk = torch.roll(clips[index], shifts=shift, dims=(3, 4))

            def loss(chunk: Tensor = chunk, index: Tensor = index) -> Tensor:
                return F.cross_entropy(network(chunk), labels[index])

            optimization.update("classifier", loss)
            optimization.step_schedules()
    return network.eval().requires_grad_(False)


class Features:
    """The trained classifier with its provenance (``hash``, ``path``)."""

    def __init__(self, module: MotionClassifier, path: str) -> None:
        self.module, self.path, self.hash = module, path, weights_hash(module)

    @torch.no_grad()
    def __call__(self, clips: Tensor, chunk: int = 128) -> Tensor:
        parts = [
            self.module.features(clips[i : i + chunk].float()) for i in range(0, len(clips), chunk)
        ]
        return torch.cat(parts).double()

    @torch.no_grad()
    def predict(self, clips: Tensor, chunk: int = 128) -> Tensor:
        parts = [self.module(clips[i : i + chunk].float()) for i in range(0, len(clips), chunk)]
        return torch.cat(parts).argmax(1)


_NETWORKS: dict[str, Features] = {}


def small_clips(dataset: Any, limit: int | None = None) -> Tensor:
    """A part's clips at the classifier's 32 x 32 (in chunks, so 64 x 64 sets stay small)."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    parts = []
    for start in range(0, count, 128):
        positions = list(range(start, min(count, start + 128)))
        parts.append(MotionClassifier.prepare(dataset.get_batch(positions)["real"]))
    return torch.cat(parts)


def motion_classifier(dataset: Any, steps: int = 400) -> Features:
    """The classifier of ``dataset`` (trained on its training clips), from memory, the disk
    cache or trained now (a minute or so on two cores)."""
    if dataset is None:
        raise DataError("video metrics need the run's data (this run was loaded without it)")
    if not hasattr(dataset, "identity") or not dataset.num_classes:
        raise DataError("video metrics need a labelled video.* data set (moving shapes/digits)")
    key = f"{dataset.registered_name.replace('.', '-')}-{dataset.identity()}-s{steps}"
    if key in _NETWORKS:
        return _NETWORKS[key]
    network, path = cached_network(
        "video-features",
        key,
        MotionClassifier(dataset.channels, dataset.num_classes),
        lambda: train_classifier(
            small_clips(dataset),
            dataset.item_labels(),
            dataset.num_classes,
            steps,
            seed=int(dataset.arguments.get("seed", 0)),
        ),
        "motion classifier",
    )
    _NETWORKS[key] = Features(network, str(path))
    return _NETWORKS[key]


def generated_clips(run: Run, n: int, condition: Tensor | None = None, chunk: int = 64) -> Tensor:
    """``n`` samples (in chunks) as CPU float clips at 32 x 32."""
    parts = []
    for start in range(0, n, chunk):
        part = None if condition is None else condition[start : start + chunk].to(run.device)
        size = min(chunk, n - start)
        clips = run.sample(size, condition=part).float().cpu()
        parts.append(MotionClassifier.prepare(clips))
    return torch.cat(parts)


def record(run: Run, metric: str, figures: dict[str, float], provenance: dict[str, Any]) -> None:
    """Append figures and their provenance to ``<run>/video_metrics.jsonl``."""
    line = {"step": run.step, "metric": metric, **figures, "provenance": provenance}
    try:
        run.out.mkdir(parents=True, exist_ok=True)
        with open(run.out / "video_metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as error:  # a read-only run folder must not stop an evaluation
        log.warning("could not record video metrics provenance: %s", error)
    log.info("%s at step %d: %s (%s)", metric, run.step, figures, provenance)


def average_content_distance(clips: Tensor, threshold: float = 0.15) -> float:
    """MoCoGAN's ACD for shape clips (B, C, T, H, W) in [-1, 1]: per frame the mean colour in
    0-255 of its foreground (pixels brighter than ``threshold`` of full scale on any channel;
    the whole frame when none is), then the mean pairwise L2 distance over the frames."""
    values = (clips.float().clamp(-1, 1) + 1) * 127.5  # (B, C, T, H, W)
    foreground = (values.amax(1, keepdim=True) > threshold * 255).float()  # (B, 1, T, H, W)
    count = foreground.sum((3, 4))  # (B, 1, T)
    mean_fg = (values * foreground).sum((3, 4)) / count.clamp_min(1)
    mean_all = values.mean((3, 4))
    colours = torch.where(count > 0, mean_fg, mean_all).transpose(1, 2)  # (B, T, C)
    distances = torch.cdist(colours.double(), colours.double())  # (B, T, T)
    frames = colours.shape[1]
    if frames < 2:
        return 0.0
    pairs = distances.sum((1, 2)) / (frames * (frames - 1))
    return float(pairs.mean())


class _VideoMetric(Metric):
    def __init__(self, n_samples: int, classifier_steps: int) -> None:
        self.n_samples = n_samples
        self.classifier_steps = classifier_steps

    def provenance(self, run: Run, features: Features, **extra: Any) -> dict[str, Any]:
        return {
            "feature_network": "motion classifier (3-D CNN trained on the data's clips)",
            "feature_hash": features.hash,
            "n_samples": self.n_samples,
            "frames": int(run.dataset.frames),
            "size": int(run.dataset.size),
            **extra,
        }


class FrechetVideoFeatures(_VideoMetric):
    """``fd`` of ``n_samples`` generated clips to the held-out clips on the motion classifier's
    features, and ``fd_floor``: real training clips (as many) to the same held-out clips."""

    def __init__(self, n_samples: int = 500, classifier_steps: int = 400) -> None:
        super().__init__(n_samples, classifier_steps)

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = run.dataset
        features = motion_classifier(dataset, self.classifier_steps)
        held_out = dataset.held_out_set()
        if len(held_out) < 2:
            raise DataError("video.frechet needs held-out clips (held_out > 0)")
        reference = features(small_clips(held_out))
        fake = features(generated_clips(run, self.n_samples))
        train = features(small_clips(dataset, self.n_samples))
        figures = {
            "fd": frechet_distance(*gaussian_statistics(fake), *gaussian_statistics(reference)),
            "fd_floor": frechet_distance(
                *gaussian_statistics(train), *gaussian_statistics(reference)
            ),
        }
        record(
            run, "video.frechet", figures, self.provenance(run, features, n_reference=len(held_out))
        )
        return figures


class MotionAccuracy(_VideoMetric):
    """MCS: the motion classifier on generated clips (see the module docstring)."""

    def __init__(self, n_samples: int = 600, min_share: float = 0.1, classifier_steps: int = 400):
        super().__init__(n_samples, classifier_steps)
        self.min_share = min_share

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = run.dataset
        features = motion_classifier(dataset, self.classifier_steps)
        classes = dataset.num_classes
        figures: dict[str, float] = {}
        held_out = dataset.held_out_set()
        if len(held_out):
            predicted = features.predict(small_clips(held_out))
            figures["real_accuracy"] = float((predicted == held_out.item_labels()).double().mean())
        generator = run.sampling_model("generator")
        if getattr(generator, "categories", 0):
            per_class = max(1, self.n_samples // classes)
            labels = torch.arange(classes).repeat_interleave(per_class)
            predicted = features.predict(generated_clips(run, len(labels), condition=labels))
            figures["motion_accuracy"] = float((predicted == labels).double().mean())
        else:
            predicted = features.predict(generated_clips(run, self.n_samples))
            share = torch.bincount(predicted, minlength=classes).double() / len(predicted)
            figures["motions_covered"] = float((share >= self.min_share / classes).sum())
            positive = share[share > 0]
            figures["motion_entropy"] = abs(
                float(-(positive * positive.log()).sum() / math.log(classes))
            )
        record(
            run, "video.motion_accuracy", figures, self.provenance(run, features, classes=classes)
        )
        return figures


class AverageContentDistance(Metric):
    """``acd`` of ``n_samples`` generated clips and ``acd_real`` of held-out real clips."""

    def __init__(self, n_samples: int = 256, threshold: float = 0.15) -> None:
        self.n_samples = n_samples
        self.threshold = threshold

    def __call__(self, run: Run) -> dict[str, float]:
        parts = []
        for start in range(0, self.n_samples, 64):
            parts.append(
                average_content_distance(
                    run.sample(min(64, self.n_samples - start)).float().cpu(), self.threshold
                )
                * min(64, self.n_samples - start)
            )
        figures = {"acd": sum(parts) / self.n_samples}
        if run.dataset is not None:
            held_out = run.dataset.held_out_set()
            reference = held_out if len(held_out) else run.dataset
            count = min(self.n_samples, len(reference))
            clips = reference.get_batch(list(range(count)))["real"]
            figures["acd_real"] = average_content_distance(clips, self.threshold)
        record(
            run, "video.acd", figures, {"n_samples": self.n_samples, "threshold": self.threshold}
        )
        return figures
