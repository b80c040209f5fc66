"""Image data sets: the user's folder (corrupt and empty inputs), digits' fixed split and
labels, shapes' determinism from the seed and their attribute labels."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from genmm.errors import DataError
from genmm_image.data import Digits, Folder, Shapes, render_scene


def write_png(path, colour, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pictures"
    write_png(root / "cats" / "a.png", (255, 0, 0))
    write_png(root / "cats" / "deep" / "b.png", (250, 0, 0))
    write_png(root / "dogs" / "c.png", (0, 0, 255))
    Image.new("RGB", (9, 9), (0, 255, 0)).save(root / "dogs" / "d.jpg")
    return root


def test_folder_reads_resizes_and_labels_from_sub_folders(folder):
    data = Folder(str(folder), size=8, labels=True, held_out=0.0, conditional=True)
    assert len(data) == 4 and data.images.shape == (4, 3, 8, 8)
    assert data.class_names == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1, 1]  # files sorted: cats/a, cats/deep/b, dogs/...
    batch = data.get_batch([0, 2])
    assert batch["real"].shape == (2, 3, 8, 8) and batch["condition"].tolist() == [0, 1]
    assert batch["real"][0, 0].min() == 1.0 and batch["real"][0, 2].max() == -1.0  # red


def test_folder_warns_about_and_skips_a_file_that_does_not_decode(folder):
    bad = folder / "dogs" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not an image")
    with pytest.warns(UserWarning, match="broken.png"):
        data = Folder(str(folder), size=8, held_out=0.0)
    assert len(data) == 4
    assert all(path.name != "broken.png" for path in data.files)


def test_folder_strict_names_the_corrupt_file(folder):
    bad = folder / "cats" / "zero.jpg"
    bad.write_bytes(b"")
    with pytest.raises(DataError, match="zero.jpg"):
        Folder(str(folder), size=8, strict=True)


def test_empty_or_missing_folder_is_an_error_naming_it(tmp_path):
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="nothing_here"):
        Folder(str(empty))
    with pytest.raises(DataError, match="missing"):
        Folder(str(tmp_path / "missing"))
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="x.png"), pytest.raises(DataError, match="only_bad"):
        Folder(str(only_bad))


def test_digits_split_is_fixed_by_the_seed_and_keeps_labels():
    train = Digits(size=16, seed=3)
    heldout = Digits(size=16, seed=3, split="held_out")
    again = Digits(size=16, seed=3)
    other = Digits(size=16, seed=4, split="held_out")
    assert len(train) + len(heldout) == 1797 and len(heldout) == round(1797 * 0.2)
    assert torch.equal(train.images, again.images) and torch.equal(train.labels, again.labels)
    assert not torch.equal(heldout.labels, other.labels)
    assert train.images.shape[1:] == (1, 16, 16) and train.images.dtype == torch.uint8
    assert set(train.labels.tolist()) == set(range(10)) == set(heldout.labels.tolist())
    # the held-out images are not in the training split
    train_rows = {bytes(x.numpy()) for x in train.images}
    assert sum(bytes(x.numpy()) in train_rows for x in heldout.images) < 5  # (rare duplicates)
    assert torch.equal(train.held_out_set().images, heldout.images)
    assert torch.equal(train.held_out_set().labels, heldout.labels)
    assert train.held_out_set() is train.held_out_set()  # built once
    # the same item format as the training items
    assert set(train.held_out_set()[0]) == set(train[0]) == {"real"}
    assert Digits(size=8, held_out=0.5).held_out_set().__len__() == round(1797 * 0.5)
    conditional = Digits(size=8, conditional=True)
    item = conditional[0]
    assert item["real"].shape == (1, 8, 8) and int(item["condition"]) == int(conditional.labels[0])
    assert -1.0 <= item["real"].min() and item["real"].max() <= 1.0
    assert "condition" not in Digits(size=8)[0]


def test_digits_look_like_their_label():
    """sklearn's 8x8 digits at size 8 are the originals scaled to [0, 255]: a 0 has a hole
    in the middle and ink around it."""
    data = Digits(size=8, held_out=0.0)
    zero = data.images[(data.labels == 0).nonzero()[0, 0], 0].float()
    assert zero[3:5, 3:5].mean() < zero[1:7, 1:7].mean()


def test_shapes_are_deterministic_from_the_seed_with_attribute_labels():
    first = Shapes(size=16, count=40, seed=7, held_out=0.0)
    second = Shapes(size=16, count=40, seed=7, held_out=0.0)
    third = Shapes(size=16, count=40, seed=8, held_out=0.0)
    assert torch.equal(first.images, second.images)
    assert not torch.equal(first.images, third.images)
    assert first.images.shape == (40, 3, 16, 16)
    assert set(first.attributes) == {"shape", "colour", "scale", "x", "y", "angle"}
    assert torch.equal(first.labels, first.attributes["shape"])
    assert first.class_names == ["circle", "square", "triangle", "cross", "ring"]
    by_colour = Shapes(size=16, count=40, seed=7, held_out=0.0, label="colour")
    assert torch.equal(by_colour.labels, first.attributes["colour"])
    assert len(first.captions()) == 40 and first.captions()[0].startswith("a ")
    train = Shapes(size=8, count=50, seed=1)
    heldout = Shapes(size=8, count=50, seed=1, split="held_out")
    assert len(train) == 45 and len(heldout) == 5
    assert torch.equal(train.held_out_set().images, heldout.images)
    with pytest.raises(DataError, match="hexagon"):
        Shapes(shapes=["circle", "hexagon"])


def test_rendered_scene_puts_the_colour_where_the_shape_is():
    red_circle = {"shape": "circle", "colour": "red", "scale": 0.25, "x": 0.5, "y": 0.5}
    image = render_scene(red_circle, size=32)
    assert image.shape == (3, 32, 32)
    assert torch.allclose(image[:, 16, 16], torch.tensor([0.90, 0.10, 0.10]))
    assert image[:, 1, 1].abs().max() == 0  # background
    ring = render_scene({**red_circle, "shape": "ring"}, size=32)
    assert ring[:, 16, 16].abs().max() == 0  # a ring is hollow


def test_description_is_plain_data_with_the_facts_models_are_built_from():
    import json

    digits = Digits(size=16, conditional=True)
    description = digits.describe()
    assert json.loads(json.dumps(description)) == description  # JSON, as checkpoints keep it
    assert description["image_size"] == 16 and description["channels"] == 1
    assert description["num_classes"] == 10
    assert description["class_names"] == [str(d) for d in range(10)]
    assert description["conditional"] is True and description["held_out"] == 0.2
    shapes = Shapes(size=8, count=20, label="colour", colours=["red", "blue"], held_out=0.0)
    assert shapes.describe()["class_names"] == ["red", "blue"]
    assert (shapes.describe()["channels"], shapes.describe()["image_size"]) == (3, 8)


def test_held_out_must_be_a_fraction():
    with pytest.raises(DataError, match="held_out"):
        Digits(size=8, held_out=1.0)
