"""Captioned shapes: deterministic, held-out compositions never trained on, the vocabulary in
the description; the folder data set names the files it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from genmm.errors import DataError
from genmm_t2i.data import CaptionedFolder, CaptionedShapes, Tokenizer, words_of


@pytest.fixture(scope="module")
def shapes():
    return CaptionedShapes(size=16, count=300, held_out=0.2, seed=3)


def pairs_in(caption: str, colours, shape_names) -> set[tuple[str, str]]:
    words = words_of(caption)
    return {(a, b) for a, b in zip(words, words[1:]) if a in colours and b in shape_names}


def test_deterministic_from_the_seed(shapes):
    again = CaptionedShapes(size=16, count=300, held_out=0.2, seed=3)
    assert torch.equal(shapes.images, again.images) and shapes.captions == again.captions
    other = CaptionedShapes(size=16, count=300, held_out=0.2, seed=4)
    assert not torch.equal(shapes.images, other.images)
    torch.manual_seed(0)
    first = shapes.get_batch([0, 1, 2])
    torch.manual_seed(0)
    assert torch.equal(
        first["condition"]["tokens"], shapes.get_batch([0, 1, 2])["condition"]["tokens"]
    )


def test_held_out_combinations_never_in_training(shapes):
    description = shapes.describe()
    held_pairs = {tuple(p.split()) for p in description["held_out_pairs"]}
    colours, names = description["colours"], description["shapes"]
    held = shapes.held_out_set()
    assert len(shapes) == 240 and len(held) == 60
    for scene, captions in zip(shapes.scenes, shapes.captions):
        assert not {(o["colour"], o["shape"]) for o in scene} & held_pairs
        for caption in captions:
            assert not pairs_in(caption, colours, names) & held_pairs, caption
    for scene, captions in zip(held.scenes, held.captions):
        assert {(o["colour"], o["shape"]) for o in scene} & held_pairs
        assert pairs_in(captions[0], colours, names) & held_pairs  # the caption names it
    assert all(c in [h[0] for h in held.captions] for c in description["sample_captions"])


def test_scenes_hold_one_to_three_shapes_and_several_captions(shapes):
    counts = {len(scene) for scene in shapes.scenes}
    assert counts == {1, 2, 3}
    assert all(len(c) >= 2 for c in shapes.captions)
    two = next(i for i, s in enumerate(shapes.scenes) if len(s) == 2)
    assert any(r in shapes.captions[two][0] for r in ("left of", "right of", "above", "below"))


def test_relations_match_the_pixels():
    data = CaptionedShapes(size=32, count=200, objects=(2, 2), held_out=0.0, seed=1)
    for scene, caption in zip(data.scenes[:50], data.captions[:50]):
        subject, anchor = scene[1], scene[0]  # captions[0] is "<subject> <relation> <anchor>"
        text = caption[0]
        if "left of" in text:
            assert subject["x"] < anchor["x"]
        elif "right of" in text:
            assert subject["x"] > anchor["x"]
        elif "above" in text:
            assert subject["y"] < anchor["y"]
        else:
            assert subject["y"] > anchor["y"]
    image = data.images[0].float()
    assert image.max() > 200 and (image.sum(0) == 0).float().mean() > 0.5  # shapes on black


def test_vocabulary_in_the_description_rebuilds_the_tokenizer(shapes):
    description = json.loads(json.dumps(shapes.describe()))  # plain data
    tokenizer = Tokenizer.from_description(description)
    assert description["vocabulary"][:2] == ["<pad>", "<unk>"]
    assert {"circle", "square", "triangle", "red", "small", "big", "above"} <= set(
        description["vocabulary"]
    )
    caption = shapes.captions[5][0]
    tokens, unknown = tokenizer.encode(caption)
    assert unknown == [] and tokenizer.decode(tokens) == caption
    assert torch.equal(tokens, shapes.tokens[5][0])
    tokens, unknown = tokenizer.encode("a shiny red circle")
    assert unknown == ["shiny"] and int(tokens[1]) == 1  # <unk>
    with pytest.raises(ValueError, match="empty caption"):
        tokenizer.encode("  ")


def write_image(path: Path, colour=(255, 0, 0)) -> None:
    Image.new("RGB", (20, 24), colour).save(path)


def test_folder_reads_txt_captions(tmp_path: Path):
    for index in range(5):
        write_image(tmp_path / f"img{index}.png")
        (tmp_path / f"img{index}.txt").write_text(f"a red box number {index}\nred square\n")
    data = CaptionedFolder(str(tmp_path), size=16, held_out=0.2)
    assert len(data) == 4 and len(data.held_out_set()) == 1
    assert data.images.shape == (4, 3, 16, 16) and data.images[0, 0].float().mean() > 250
    assert len(data.captions[0]) == 2 and "box" in data.describe()["vocabulary"]
    assert data[0]["condition"]["tokens"].shape == (18,)


def test_folder_errors_name_the_file(tmp_path: Path):
    write_image(tmp_path / "good.png")
    (tmp_path / "good.txt").write_text("a red square\n")
    write_image(tmp_path / "lonely.png")
    with pytest.raises(DataError, match=r"lonely\.png: no caption"):
        CaptionedFolder(str(tmp_path))
    (tmp_path / "lonely.txt").write_text("   \n")
    with pytest.raises(DataError, match=r"lonely\.txt: the caption is empty"):
        CaptionedFolder(str(tmp_path))
    (tmp_path / "lonely.txt").write_text("a lonely red square\n")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "broken.txt").write_text("a broken image\n")
    with pytest.raises(DataError, match=r"broken\.png: cannot decode"):
        CaptionedFolder(str(tmp_path))


def test_folder_jsonl_captions(tmp_path: Path):
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "b.png", (0, 0, 255))
    captions = tmp_path / "captions.jsonl"
    captions.write_text(
        json.dumps({"image": "a.png", "caption": "a red square"})
        + "\n"
        + json.dumps({"image": "b.png", "captions": ["a blue square", "blue"]})
        + "\n"
    )
    data = CaptionedFolder(str(tmp_path), size=8, captions=str(captions), held_out=0.0)
    assert len(data) == 2 and sorted(len(c) for c in data.captions) == [1, 2]
    captions.write_text(json.dumps({"image": "a.png", "caption": ""}) + "\n")
    with pytest.raises(DataError, match=r"captions\.jsonl, line 1 \(a\.png\): caption 1 is empty"):
        CaptionedFolder(str(tmp_path), captions=str(captions))
    captions.write_text(json.dumps({"image": "a.png", "caption": "red"}) + "\n")
    with pytest.raises(DataError, match=r"b\.png: no caption in"):
        CaptionedFolder(str(tmp_path), captions=str(captions))


def test_plugin_registers_through_its_entry_point(manager):
    assert "t2i.captioned_shapes" in manager.registry.names("datasets")  # fills `registered`
    registered = manager.infos["t2i"].registered
    assert "entry point genmm_t2i.plugin" in manager.infos["t2i"].source
    assert {"t2i.captioned_shapes", "t2i.folder"} <= set(registered["datasets"])
    assert {"t2i.damsm", "t2i.dfgan", "t2i.attngan"} <= set(registered["trainers"])
    assert "t2i.r_precision" in registered["metrics"] and "t2i.images" in registered["writers"]
