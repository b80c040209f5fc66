"""Video data: determinism by seed, shapes and ranges, held-out split, folders of clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genmm.errors import DataError
from genmm_video.data import MovingDigits, MovingShapes, VideoFolder
from genmm_video.writers import write_mp4


def test_moving_shapes_deterministic_by_seed():
    first = MovingShapes(count=12, frames=8, size=16, seed=3).get_batch(list(range(6)))
    again = MovingShapes(count=12, frames=8, size=16, seed=3).get_batch(list(range(6)))
    other = MovingShapes(count=12, frames=8, size=16, seed=4).get_batch(list(range(6)))
    assert torch.equal(first["real"], again["real"])
    assert not torch.equal(first["real"], other["real"])


def test_moving_shapes_items_labels_and_description():
    data = MovingShapes(count=40, frames=16, size=32, held_out=0.25, conditional=True)
    batch = data.get_batch([0, 1, 2])
    assert batch["real"].shape == (3, 3, 16, 32, 32)
    assert batch["real"].min() >= -1 and batch["real"].max() <= 1
    assert batch["real"].max() > 0  # a shape is drawn
    assert batch["condition"].tolist() == data.item_labels()[:3].tolist()
    assert len(data) == 30 and len(data.held_out_set()) == 10
    assert set(data.indices.tolist()).isdisjoint(data.held_out_set().indices.tolist())
    held = data.held_out_set()[0]
    assert held["real"].shape == (3, 16, 32, 32) and held["condition"].dim() == 0
    about = data.describe()
    assert about["frames"] == 16 and about["size"] == 32 and about["channels"] == 3
    assert about["num_classes"] == 6
    assert about["class_names"] == ["right", "left", "bezier", "bounce", "rotate", "scale"]


def test_motion_moves_the_shape_right():
    data = MovingShapes(count=30, frames=16, size=32, motions=["right"], held_out=0.0)
    clip = data.get_batch([0])["real"][0]  # (C, T, H, W)
    mass = (clip.amax(0) > 0).float()  # (T, H, W)
    columns = torch.arange(32).float()
    centre = (mass.sum(1) * columns).sum(1) / mass.sum((1, 2))
    assert centre[-1] - centre[0] > 5  # pixels to the right


def test_bad_arguments_are_named():
    with pytest.raises(DataError, match="unknown motion 'sideways'"):
        MovingShapes(count=4, motions=["sideways"])


def test_moving_digits_are_real_digits():
    pytest.importorskip("sklearn")
    data = MovingDigits(count=10, frames=8, size=16, seed=1)
    clips = data.get_batch([0, 1])["real"]
    assert clips.shape == (2, 1, 8, 16, 16)
    assert torch.equal(
        clips, MovingDigits(count=10, frames=8, size=16, seed=1).get_batch([0, 1])["real"]
    )


def _write_clip(path: Path, frames: int, size: int = 24) -> Path:
    clip = torch.zeros(3, frames, size, size, dtype=torch.uint8)
    for t in range(frames):
        clip[:, t, 4:12, t % size : t % size + 4] = 200
    return write_mp4(clip, path)


def test_folder_reads_clips_with_stride(tmp_path: Path):
    pytest.importorskip("av")
    for index in range(3):
        _write_clip(tmp_path / "clips" / f"c{index}.mp4", frames=20)
    data = VideoFolder(str(tmp_path / "clips"), frames=8, size=16, frame_stride=2, held_out=0.0)
    assert len(data) == 3
    assert data.get_batch([0, 1])["real"].shape == (2, 3, 8, 16, 16)


def test_folder_names_corrupt_and_short_clips(tmp_path: Path):
    pytest.importorskip("av")
    folder = tmp_path / "clips"
    _write_clip(folder / "good.mp4", frames=20)
    _write_clip(folder / "short.mp4", frames=5)
    (folder / "broken.mp4").write_bytes(b"this is not a video at all" * 10)
    with pytest.raises(DataError, match="broken.mp4: cannot decode"):
        VideoFolder(str(folder), frames=16, size=16, held_out=0.0)
    (folder / "broken.mp4").unlink()
    with pytest.raises(DataError, match="short.mp4: too short: 5 frames"):
        VideoFolder(str(folder), frames=16, size=16, held_out=0.0)
    (folder / "broken.mp4").write_bytes(b"junk" * 50)
    data = VideoFolder(str(folder), frames=16, size=16, held_out=0.0, skip_bad=True)
    assert len(data) == 1 and data.describe()["skipped"] == 2
