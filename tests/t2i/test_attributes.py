"""``t2i.attributes``: the caption parser against the data generator, the scoring by hand, the
classifier after a short training, and the Fréchet distance's floor against noise."""

from __future__ import annotations

import json

import pytest
import torch

from genmm_t2i import attributes as A
from genmm_t2i.data import CaptionedShapes

SHORT = dict(size=32, scenes=1500, steps=400, width=16, batch=32)  # the classifier, ~15 s


def test_caption_slots_by_hand():
    assert A.caption_slots("a small red circle") == {
        "centre": {"colour": "red", "shape": "circle", "size": "small"}
    }
    assert A.caption_slots("a blue square to the left of an orange triangle") == {
        "left": {"colour": "blue", "shape": "square", "size": None},
        "right": {"colour": "orange", "shape": "triangle", "size": None},
    }
    assert A.caption_slots("a big green triangle below a small yellow square") == {
        "bottom": {"colour": "green", "shape": "triangle", "size": "big"},
        "top": {"colour": "yellow", "shape": "square", "size": "small"},
    }
    three = A.caption_slots(
        "a big red square above a big green square and a small blue square to the left of it"
    )
    assert three == {
        "centre": {"colour": "green", "shape": "square", "size": "big"},
        "top": {"colour": "red", "shape": "square", "size": "big"},
        "left": {"colour": "blue", "shape": "square", "size": "small"},
    }
    for bad in ("a red", "a red circle near a blue square", "red circle", "a red circle and"):
        with pytest.raises(ValueError, match="caption"):
            A.caption_slots(bad)


def test_the_slots_of_every_caption_match_the_drawn_scene():
    """For the generator's scenes: all four captions of a scene give the same slots (sizes
    aside), and the slots are where the objects were drawn."""
    data = CaptionedShapes(size=16, count=300, held_out=0.0, held_out_pairs=[], seed=3)
    for scene, captions in zip(data.scenes, data.captions):
        labels = A.caption_labels(captions)
        assert (labels[..., :3] == labels[:1, :, :3]).all()  # occupied, colour, shape
        slots = A.caption_slots(captions[0])
        assert len(slots) == len(scene)
        keys = ("colour", "shape", "size")
        placed = {  # the drawn objects each caption object may be (a scene may repeat one)
            slot: [o for o in scene if all(o[k] == item[k] for k in keys)]
            for slot, item in slots.items()
        }
        assert all(placed.values())
        if len(scene) == 1:
            assert set(slots) == {"centre"}
        elif "left" in slots and len(scene) == 2:
            assert min(o["x"] for o in placed["left"]) < max(o["x"] for o in placed["right"])
        elif "top" in slots and len(scene) == 2:
            assert min(o["y"] for o in placed["top"]) < max(o["y"] for o in placed["bottom"])
        else:
            assert "centre" in slots and len(scene) == 3
            centre = scene[0]  # the generator puts the middle object first
            assert (centre["colour"], centre["shape"]) == (
                slots["centre"]["colour"],
                slots["centre"]["shape"],
            )
            side = {"left": ("x", -1), "right": ("x", 1), "top": ("y", -1), "bottom": ("y", 1)}
            for slot in set(slots) - {"centre"}:
                axis, sign = side[slot]
                assert any(sign * (o[axis] - centre[axis]) > 0.2 for o in placed[slot])


def test_attribute_scores_of_a_hand_made_reading():
    """Two captions. Scene 0 asks for a red circle (size not given) in the centre: read right.
    Scene 1 asks for a big blue square on the left and a small green triangle on the right:
    the left one is read blue, circle, big (shape wrong), the right slot is read empty (its
    position, colour, shape and size all wrong), and an extra object is read at the top."""
    labels = A.caption_labels(
        ["a red circle", "a big blue square to the left of a small green triangle"]
    )
    readings = torch.zeros(2, 5, 4, dtype=torch.long)
    readings[0, 0] = torch.tensor([1, 0, 0, 1])  # centre: red circle (size unasked)
    readings[1, 1] = torch.tensor([1, 2, 0, 1])  # left: blue circle big
    readings[1, 2] = torch.tensor([0, 1, 2, 0])  # right: empty (its attributes do not count)
    readings[1, 3] = torch.tensor([1, 0, 0, 0])  # top: an object the caption does not ask for
    scores = A.attribute_scores(readings, labels)
    # position: 2 of 3 objects; colour 2/3; shape 1/3; size: asked twice, right once
    assert scores["position"] == pytest.approx(2 / 3)
    assert scores["colour"] == pytest.approx(2 / 3)
    assert scores["shape"] == pytest.approx(1 / 3)
    assert scores["size"] == pytest.approx(1 / 2)
    assert scores["attribute"] == pytest.approx((2 + 2 + 1 + 1) / (3 + 3 + 3 + 2))
    assert scores["scene"] == pytest.approx(1 / 2)
    readings[1] = torch.tensor([[0, 0, 0, 0], [1, 2, 1, 1], [1, 1, 2, 0], [0, 0, 0, 0], [0] * 4])
    assert A.attribute_scores(readings, labels)["attribute"] == 1.0  # all right, no extra
    assert A.attribute_scores(readings, labels)["scene"] == 1.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Scenes at 32², and the classifier after its short training (cached in a temporary
    $GENMM_CACHE: the metric below finds it there)."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENMM_CACHE", str(cache))
        torch.set_num_threads(1)
        data = CaptionedShapes(size=32, count=2000, held_out=0.1, seed=0)
        reader = A.attribute_reader(data, **SHORT)
        yield data, reader, cache


def test_the_classifier_reads_held_out_scenes(trained):
    """After 400 steps the classifier reads real held-out scenes (each holding a colour-shape
    pair no generator trains on) nearly as well as a full training does (1,500 steps: 1.0)."""
    data, reader, cache = trained
    images, _, captions = data.held_out_set().fixed_pairs()
    scores = A.attribute_scores(reader.read(images), A.caption_labels(captions))
    assert scores["position"] >= 0.97 and scores["colour"] >= 0.95 and scores["size"] >= 0.85
    assert scores["shape"] >= 0.6  # chance 1/3: the slowest to learn
    assert scores["attribute"] >= 0.88
    files = list((cache / "t2i-attributes").glob("*.safetensors"))
    assert len(files) == 1 and A.attribute_reader(data, **SHORT) is reader  # cached
    A._READERS.clear()
    assert A.attribute_reader(data, **SHORT).hash == reader.hash  # the same weights, from disk


class CaptionRun:
    """A stand-in run whose 'generator' draws, for each caption, ``draw(tokens)``."""

    def __init__(self, dataset, draw, out):
        self.dataset, self.draw, self.out = dataset, draw, out
        self.step, self.device = 7, torch.device("cpu")
        self.models = {"text_encoder": lambda tokens: {"tokens": tokens}}

    def to_device(self, value):
        return value

    def sampling_model(self, role="generator"):
        return self

    def sample(self, n, condition=None):
        return self.draw(condition["tokens"])


def test_the_metric_on_noise_and_on_copies_of_the_real_images(trained, tmp_path):
    data, reader, _ = trained
    held = data.held_out_set()
    images, tokens, _ = held.fixed_pairs()
    metric = A.AttributeAccuracy(
        samples=1000,
        classifier_size=32,
        classifier_scenes=SHORT["scenes"],
        classifier_steps=SHORT["steps"],
        classifier_width=SHORT["width"],
        classifier_batch=SHORT["batch"],
    )
    noise = torch.Generator().manual_seed(0)

    def draw_noise(asked):
        return torch.rand(len(asked), 3, 32, 32, generator=noise) * 2 - 1

    drawn = [0]

    def draw_copies(asked):  # the real held-out image of each caption, asked in order
        start = drawn[0]
        drawn[0] += len(asked)
        assert torch.equal(asked, tokens[start : drawn[0]])
        return images[start : drawn[0]]

    figures = metric(CaptionRun(data, draw_noise, tmp_path))
    assert figures["t2i.fd_attributes_floor"] < figures["t2i.fd_attributes"] / 10
    assert figures["t2i.attribute_accuracy"] < 0.6 < 0.88 <= figures["t2i.attribute_accuracy_real"]
    copies = metric(CaptionRun(data, draw_copies, tmp_path))
    assert copies["t2i.attribute_accuracy"] == pytest.approx(copies["t2i.attribute_accuracy_real"])
    assert copies["t2i.fd_attributes"] == pytest.approx(0.0, abs=1e-6)
    assert copies["t2i.fd_attributes_floor"] == figures["t2i.fd_attributes_floor"]
    line = json.loads((tmp_path / "t2i_metrics.jsonl").read_text().splitlines()[-1])
    assert line["metric"] == "t2i.attributes" and line["step"] == 7
    assert line["provenance"]["classifier_hash"] == reader.hash
    assert line["provenance"]["samples"] == len(held) == 200
