"""``t2i.attributes``: do generated images show what their held-out captions ask for?

An attribute classifier (:class:`AttributeClassifier`, a small CNN trained on procedural
``t2i.captioned_shapes`` scenes) reads every object of an image by the position it stands
at, and its reading is compared with the caption the image was generated from.

**The label set.** A scene of the data generator holds one to three shapes, each with a
colour (red, green, blue, yellow, purple, orange), a shape (circle, square, triangle) and a
size (small, big), laid out by one of three patterns: one object near the middle; two objects
side by side or one above the other ("X to the left of Y", ...); three objects, the first in
the middle and the other two on two different sides of it ("X above Y and Z to the right of
it"). Every object therefore stands in one of five *position slots*, and no two objects of a
scene share one:

    centre   the only object of a one-object scene, or the middle one of three
    left     the left one of a side-by-side pair, or an object to the left of the middle one
    right    likewise on the right
    top      the upper one of a vertical pair, or an object above the middle one
    bottom   likewise below

The classifier predicts, for each of the five slots, whether it is occupied (2 classes) and
the colour (6), shape (3) and size (2) of the object in it: 5 x 13 logits. The slot of each
object follows from the caption alone (:func:`caption_slots` parses the data's grammar:
"a small red circle to the left of a big blue square" puts the red circle in ``left`` and
the blue square in ``right``), so the classifier's training labels come from the first
caption of each training scene and the targets of a generated image from the caption it was
drawn from, by the same parser. A caption that leaves out the sizes asks for no size.

**The figures.** For each asked object: *position* is right when its slot is read as
occupied; *colour*, *shape* and *size* are right when the slot is read as occupied and the
attribute read there is the asked one (an attribute read at the wrong place does not count).

* ``t2i.attribute_accuracy``: the share of asked attributes (position, colour, shape and, where
  the caption gives it, size, of every asked object) read right on generated images, one per
  held-out caption (the first caption of each held-out scene; ``samples`` of them);
* ``t2i.attribute_accuracy_real``: the same on the real held-out images of those captions:
  what the classifier manages on real data, the ceiling of a generator;
* ``t2i.colour_accuracy``, ``t2i.shape_accuracy``, ``t2i.size_accuracy``,
  ``t2i.position_accuracy``: each attribute alone (generated images);
* ``t2i.scene_accuracy``: images with every asked attribute right and no object read in a slot
  the caption leaves empty;
* ``t2i.fd_attributes``: the Fréchet distance (Heusel et al. 2017) between the classifier's
  penultimate features (128-d) of the generated images and of the real held-out images;
  ``t2i.fd_attributes_floor``: the same distance from as many real images of an independent
  draw of held-out scenes (the data set rebuilt with ``seed + 1``: other scenes of the same
  kind, each holding a held-out colour-shape pair) to the held-out ones: real against real,
  the floor a perfect generator would sit at. (The training split is not the floor here: its
  scenes never hold the held-out pairs, so it differs from the held-out set by design.)

**The classifier** sees images at ``classifier_size`` (32 by default; larger images are
resized with antialiasing), stride-2 4 x 4 convolutions (batch norm, ReLU; 32, 64, 64 maps at
``classifier_width`` 16) down to 4 x 4, flattened (the slots are places, so no pooling), a
linear layer to 128 features with ReLU (the features of the Fréchet distance) and a linear
layer to the 5 x 13 logits. It is trained on ``classifier_scenes`` (6,000) scenes drawn afresh
with every colour-shape pair (the recipe's data arguments, no held-out pairs, seed
``seed + 7919``: a judge must know a green triangle to recognise one, while the generator
never sees one), by Adam (peak 3e-3, one-cycle) on the sum of the four cross-entropies,
``classifier_steps`` (1,500) steps of ``classifier_batch`` (32), through the core's
optimisation path; deterministic from the seed, cached per data set and settings under
``$GENMM_CACHE/t2i-attributes`` as ``image.fd``'s feature network is (the hash of its weights
goes with every figure into ``<run>/t2i_metrics.jsonl``).
"""

from __future__ import annotations

import hashlib
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
from genmm_t2i.data import COLOURS, RELATIONS, SHAPES, SIZES, CaptionedShapes, words_of
from genmm_t2i.writers import sample_images

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

log = logging.getLogger(__name__)

SLOTS = ("centre", "left", "right", "top", "bottom")
#: relation -> the slot of its subject (the object it is said of)
SIDE = {"to the left of": "left", "to the right of": "right", "above": "top", "below": "bottom"}
OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
#: per slot: occupied (2), colour, shape, size; the logits of a slot in this order
HEADS = {"occupied": 2, "colour": len(COLOURS), "shape": len(SHAPES), "size": len(SIZES)}
ATTRIBUTES = ("colour", "shape", "size")
PER_SLOT = sum(HEADS.values())
IGNORE = -1
CLASSIFIER_SEED_OFFSET = 7919
assert set(SIDE) == set(RELATIONS)


# ====================================================================== captions -> slots
def _noun_phrase(words: list[str], at: int, caption: str) -> tuple[dict[str, str | None], int]:
    """``a|an [size] colour shape`` at ``words[at]`` -> (attributes, index after it)."""
    if at >= len(words) or words[at] not in ("a", "an"):
        raise ValueError(f"caption {caption!r}: expected 'a' or 'an' at word {at + 1}")
    at += 1
    size = None
    if at < len(words) and words[at] in SIZES:
        size, at = words[at], at + 1
    if at + 1 >= len(words) or words[at] not in COLOURS or words[at + 1] not in SHAPES:
        raise ValueError(f"caption {caption!r}: expected '<colour> <shape>' at word {at + 1}")
    return {"colour": words[at], "shape": words[at + 1], "size": size}, at + 2


def _relation(words: list[str], at: int, caption: str) -> tuple[str, int]:
    for relation in RELATIONS:
        parts = relation.split()
        if words[at : at + len(parts)] == parts:
            return relation, at + len(parts)
    raise ValueError(f"caption {caption!r}: expected a relation ({', '.join(RELATIONS)})")


def caption_slots(caption: str) -> dict[str, dict[str, str | None]]:
    """A caption of the ``t2i.captioned_shapes`` grammar -> {slot: {colour, shape, size}}
    (size None where the caption gives none). Other text is a ValueError naming it.

    ``X`` -> X in centre; ``X rel Y`` -> X on rel's side, Y opposite; ``X rel1 Y and Z rel2
    it`` -> Y in centre, X on rel1's side, Z on rel2's."""
    words = words_of(caption)
    first, at = _noun_phrase(words, 0, caption)
    if at == len(words):
        return {"centre": first}
    relation, at = _relation(words, at, caption)
    anchor, at = _noun_phrase(words, at, caption)
    side = SIDE[relation]
    if at == len(words):
        return {side: first, OPPOSITE[side]: anchor}
    if words[at] != "and":
        raise ValueError(f"caption {caption!r}: expected 'and' at word {at + 1}")
    third, at = _noun_phrase(words, at + 1, caption)
    second_relation, at = _relation(words, at, caption)
    second_side = SIDE[second_relation]
    if words[at:] != ["it"] or second_side == side:
        raise ValueError(f"caption {caption!r}: expected '<relation> it' on another side")
    return {"centre": anchor, side: first, second_side: third}


def caption_labels(captions: list[str]) -> Tensor:
    """Captions -> labels (N, 5 slots, 4) long: occupied (0/1), then the colour, shape and
    size index (``IGNORE`` = -1 where the slot is empty or the caption gives no size)."""
    labels = torch.full((len(captions), len(SLOTS), 1 + len(ATTRIBUTES)), IGNORE)
    labels[..., 0] = 0
    tables = {"colour": list(COLOURS), "shape": list(SHAPES), "size": list(SIZES)}
    for row, caption in enumerate(captions):
        for slot, item in caption_slots(caption).items():
            column = SLOTS.index(slot)
            labels[row, column, 0] = 1
            for k, name in enumerate(ATTRIBUTES, 1):
                if item[name] is not None:
                    labels[row, column, k] = tables[name].index(item[name])
    return labels


# ====================================================================== the classifier
class AttributeClassifier(nn.Module):
    """Images (B, 3, H, W) in [-1, 1] -> resized to ``size`` -> stride-2 4x4 convolutions
    with batch norm and ReLU (2w, 4w, 4w, ... maps) down to 4x4 -> flatten (no pooling: the
    slots are places) -> (B, 128) features -> (B, 5, 13) logits (per slot: occupied 2, colour
    6, shape 3, size 2)."""

    def __init__(self, size: int = 32, width: int = 16, feature_dim: int = 128) -> None:
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"the classifier's size must be a power of two >= 8, got {size}")
        self.size = size
        layers: list[nn.Module] = []
        channels, out, side = 3, 2 * width, size
        while side > 4:  # (B, c, s, s) -> (B, c', s/2, s/2)
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.BatchNorm2d(out), nn.ReLU(True)]
            channels, out, side = out, min(4 * width, 2 * out), side // 2
        layers += [nn.Flatten()]  # (B, c * 16): where an object is stays in the features
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Linear(channels * 16, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, len(SLOTS) * PER_SLOT)

    def prepare(self, images: Tensor) -> Tensor:
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            images = F.interpolate(
                images.float(),
                size=(self.size, self.size),
                mode="bilinear",
                align_corners=False,
                antialias=images.shape[-1] > self.size,
            )
        return images.float()

    def features(self, images: Tensor) -> Tensor:
        return self.embed(self.body(self.prepare(images)))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images)).view(-1, len(SLOTS), PER_SLOT)


def split_logits(logits: Tensor) -> dict[str, Tensor]:
    """(B, 5, 13) -> {head: (B, 5, classes)}."""
    return dict(zip(HEADS, logits.split(list(HEADS.values()), dim=-1)))


def read_attributes(logits: Tensor) -> Tensor:
    """(B, 5, 13) logits -> (B, 5, 4) readings: occupied, colour, shape, size (argmax)."""
    return torch.stack([part.argmax(-1) for part in split_logits(logits).values()], -1)


def attribute_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """The sum of the four cross-entropies; the attribute heads only where a label is given."""
    total = logits.new_zeros(())
    for k, part in enumerate(split_logits(logits).values()):
        target = labels[..., k].flatten()
        if (target != IGNORE).any():
            total = total + F.cross_entropy(part.flatten(0, 1), target, ignore_index=IGNORE)
    return total


def train_attribute_classifier(
    images: Tensor,
    labels: Tensor,
    size: int,
    steps: int,
    seed: int,
    batch: int = 32,
    width: int = 16,
    lr: float = 3e-3,
) -> AttributeClassifier:
    """Adam (peak lr 3e-3, one-cycle schedule, as ``image.fd``'s network), ``steps`` steps of
    ``batch`` (images, labels), stepped through the core's optimisation path."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = AttributeClassifier(size, width)
    images = network.prepare(images)  # resized once
    optimization = Optimization(total_steps=max(1, steps), key="t2i.attributes")
    optimizer = optimization.add(
        "attributes", network.parameters(), default={"name": "adam", "lr": lr}
    )
    optimization.schedulers["attributes"] = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, lr, total_steps=max(1, steps)
    )
    network.train()
    with torch.enable_grad():
        for _ in range(steps):
            index = torch.randint(len(images), (min(batch, len(images)),), generator=generator)

            def loss(index: Tensor = index) -> Tensor:
                return attribute_loss(network(images[index]), labels[index])

            optimization.update("attributes", loss)
            optimization.step_schedules()
    return network.eval().requires_grad_(False)


class Reader:
    """The trained classifier with its provenance: ``features`` and ``read`` in chunks."""

    def __init__(self, module: AttributeClassifier, path: str) -> None:
        self.module, self.path, self.hash = module, path, weights_hash(module)

    @torch.no_grad()
    def features(self, images: Tensor, chunk: int = 500) -> Tensor:
        parts = [self.module.features(images[i : i + chunk]) for i in range(0, len(images), chunk)]
        return torch.cat(parts).double()

    @torch.no_grad()
    def read(self, images: Tensor, chunk: int = 500) -> Tensor:
        parts = [self.module(images[i : i + chunk]) for i in range(0, len(images), chunk)]
        return read_attributes(torch.cat(parts))


def classifier_scenes(dataset: Any, count: int) -> CaptionedShapes:
    """The classifier's training scenes: ``dataset``'s kind of scene with every colour-shape
    pair, drawn afresh (seed + 7919)."""
    arguments = dataset.arguments
    return CaptionedShapes(
        size=int(arguments["size"]),
        count=count,
        objects=tuple(arguments["objects"]),
        held_out=0.0,
        held_out_pairs=[],
        max_words=int(arguments["max_words"]),
        sample_captions=0,
        seed=int(arguments["seed"]) + CLASSIFIER_SEED_OFFSET,
    )


_READERS: dict[str, Reader] = {}


def attribute_reader(
    dataset: Any,
    size: int = 32,
    scenes: int = 6000,
    steps: int = 1500,
    width: int = 16,
    batch: int = 32,
) -> Reader:
    """The attribute classifier of ``dataset``'s kind of scene, from memory, the disk cache
    (``$GENMM_CACHE/t2i-attributes``) or trained now (``image.fd``'s pattern)."""
    if not isinstance(dataset, CaptionedShapes):
        raise DataError(
            "t2i.attributes needs t2i.captioned_shapes data (its scenes and their grammar); "
            f"this run's data is {getattr(dataset, 'registered_name', type(dataset).__name__)}"
        )
    arguments = dataset.arguments
    key = {
        "size": arguments["size"],
        "objects": list(arguments["objects"]),
        "seed": arguments["seed"],
        "classifier_size": size,
        "scenes": scenes,
        "steps": steps,
        "width": width,
        "batch": batch,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"attributes-{digest}-s{steps}"
    if name in _READERS:
        return _READERS[name]

    def train() -> nn.Module:
        images, _, captions = classifier_scenes(dataset, scenes).fixed_pairs()
        seed = int(arguments["seed"]) + CLASSIFIER_SEED_OFFSET
        labels = caption_labels(captions)
        return train_attribute_classifier(images, labels, size, steps, seed, batch, width)

    network, path = cached_network(
        "t2i-attributes", name, AttributeClassifier(size, width), train, "attribute classifier"
    )
    _READERS[name] = Reader(network, str(path))
    return _READERS[name]


# ====================================================================== scoring
def attribute_scores(readings: Tensor, labels: Tensor) -> dict[str, float]:
    """Readings and caption labels, both (N, 5, 4) (occupied, colour, shape, size) -> the
    accuracies of the module docstring: ``attribute`` (all asked attributes pooled),
    ``position``, ``colour``, ``shape``, ``size`` and ``scene``."""
    asked = labels[..., 0] == 1  # (N, 5) slots the caption fills
    seen = readings[..., 0] == 1
    hits = {"position": seen[asked]}
    for k, name in enumerate(ATTRIBUTES, 1):
        given = asked & (labels[..., k] != IGNORE)
        hits[name] = (seen & (readings[..., k] == labels[..., k]))[given]
    pooled = torch.cat([h.double() for h in hits.values()])
    scores = {name: float(h.double().mean()) if h.numel() else math.nan for name, h in hits.items()}
    scores["attribute"] = float(pooled.mean()) if pooled.numel() else math.nan
    right = (readings[..., 0] == labels[..., 0]).all(1)  # no missing and no extra object
    for k in range(1, 1 + len(ATTRIBUTES)):
        given = asked & (labels[..., k] != IGNORE)
        right &= ((readings[..., k] == labels[..., k]) | ~given).all(1)
    scores["scene"] = float(right.double().mean())
    return scores


def record(run: Run, figures: dict[str, float], provenance: dict[str, Any]) -> None:
    """Append figures and their provenance to ``<run>/t2i_metrics.jsonl``."""
    line = {"step": run.step, "metric": "t2i.attributes", **figures, "provenance": provenance}
    try:
        run.out.mkdir(parents=True, exist_ok=True)
        with open(run.out / "t2i_metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as error:  # a read-only run folder must not stop an evaluation
        log.warning("could not record the t2i metrics provenance: %s", error)


def floor_set(dataset: CaptionedShapes) -> CaptionedShapes:
    """Held-out scenes of an independent draw: the same data arguments with ``seed + 1``."""
    held = dataset.held_out_set()
    return CaptionedShapes(**{**held.arguments, "seed": int(held.arguments["seed"]) + 1,
                              "split": "held_out"})  # fmt: skip


class AttributeAccuracy(Metric):
    """Attribute accuracy and the Fréchet distance on the attribute classifier's features (see
    the module docstring), on ``samples`` held-out captions (the first of each scene)."""

    def __init__(
        self,
        samples: int = 1000,
        classifier_size: int = 32,
        classifier_scenes: int = 6000,
        classifier_steps: int = 1500,
        classifier_width: int = 16,
        classifier_batch: int = 32,
    ) -> None:
        if samples < 2 or classifier_scenes < 1 or classifier_steps < 1:
            raise ValueError("need samples >= 2, classifier_scenes >= 1, classifier_steps >= 1")
        self.samples, self.size = samples, classifier_size
        self.scenes, self.steps = classifier_scenes, classifier_steps
        self.width, self.batch = classifier_width, classifier_batch

    def __call__(self, run: Run) -> dict[str, float]:
        dataset = run.dataset
        reader = attribute_reader(
            dataset, self.size, self.scenes, self.steps, self.width, self.batch
        )
        held = dataset.held_out_set()
        if len(held) < 2:
            raise DataError("t2i.attributes needs at least 2 held-out scenes (data.held_out)")
        images, tokens, captions = held.fixed_pairs(self.samples)
        labels = caption_labels(captions)
        fake = []
        for part in torch.arange(len(tokens)).split(64):
            text = run.models["text_encoder"](run.to_device(tokens[part]))
            fake.append(sample_images(run, len(part), text).float().cpu())
        fake_images = torch.cat(fake)
        generated = attribute_scores(reader.read(fake_images), labels)
        real = attribute_scores(reader.read(images), labels)
        reference = reader.features(images)
        other = floor_set(dataset)
        floor_images = other.fixed_pairs(len(images))[0]
        figures = {
            "t2i.attribute_accuracy": generated["attribute"],
            "t2i.attribute_accuracy_real": real["attribute"],
            **{f"t2i.{name}_accuracy": generated[name] for name in (*ATTRIBUTES, "position")},
            "t2i.scene_accuracy": generated["scene"],
            "t2i.scene_accuracy_real": real["scene"],
            "t2i.fd_attributes": frechet_distance(
                *gaussian_statistics(reader.features(fake_images)),
                *gaussian_statistics(reference),
            ),
            "t2i.fd_attributes_floor": frechet_distance(
                *gaussian_statistics(reader.features(floor_images)),
                *gaussian_statistics(reference),
            ),
        }
        provenance = {
            "classifier_hash": reader.hash,
            "samples": len(images),
            "floor_samples": len(floor_images),
            "classifier_size": self.size,
            "image_size": int(fake_images.shape[-1]),
        }
        record(run, figures, provenance)
        log.info("t2i.attributes at step %d: %s (%s)", run.step, figures, provenance)
        return figures
