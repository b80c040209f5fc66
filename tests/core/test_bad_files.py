"""The bad-file matrix: every dataset that reads the user's files, in every plugin, against
four faults, built through the registry the way a recipe builds ``data:``.

Faults (one bad file among good ones, so the error must come from the bad file):

* ``corrupt``: random bytes under the right extension;
* ``empty``: an empty folder (an empty file, for the oracle's parameter file);
* ``shape``: a file of the wrong shape, rate or content for the dataset (a pair of two sizes,
  an image smaller than the high-resolution crop, a clip or a wav shorter than asked, an empty
  text file or caption, a malformed phoneme table); where the dataset converts such a file by
  design (any mode and size of image is converted and resized), the cell says so and the test
  checks that the file is used;
* ``disguised``: a file that is not what its extension says (a png that is really a wav, a wav
  that is really a png, ...).

Each refused cell is a one-line :class:`genmm.errors.DataError` naming the file (or the
folder) and saying what was expected. Datasets with a skip option (``strict: false``,
``bad_files: skip``, ``skip_bad: true``) skip the corrupt file instead and count it. The table
in ``docs/architecture.md`` ("Bad input files") is this matrix.
"""

from __future__ import annotations

import logging
import random
import shutil
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genmm.errors import DataError

RATE = 8000  # audio: 0.1 s files at 8 kHz
AUDIO = {"sample_rate": RATE, "segment": 256, "n_fft": 256, "hop": 64, "win": 256, "n_mels": 16}
SENTENCES = "The cat sat on the mat. A dog ran to the park. Birds sing in the trees at dawn.\n"


# ---------------------------------------------------------------------------- tiny files
def random_bytes(size: int = 512) -> bytes:
    """Bytes no decoder takes, and no UTF-8 (fixed, so every run sees the same file)."""
    return b"\x00\xfe\x13" + random.Random(19).randbytes(size)


def write_png(path: Path, size: tuple[int, int] = (8, 8), mode: str = "RGB") -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(path.name)).integers(0, 256, (size[1], size[0], 3))
    Image.fromarray(pixels.astype(np.uint8)).convert(mode).save(path)
    return path


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_wav(path: Path, seconds: float = 0.1, rate: int = RATE) -> Path:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)
    return path


def wav_bytes() -> bytes:
    """A minimal real wav: RIFF header and 100 silent 16-bit samples."""
    data = b"\x00\x00" * 100
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


def write_gif(path: Path, frames: int = 4, size: int = 8) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.new("RGB", (size, size), (40 * t, 100, 200 - 40 * t)) for t in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=125, loop=0)
    return path


def write_phonemes(wav: Path, table: str = "0\th\n300\ta\n") -> Path:
    path = wav.with_suffix(".phonemes.tsv")
    path.write_text(table, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- the datasets
@dataclass
class Case:
    """One dataset: its recipe ``data:`` spec, how to fill a folder with good files, where a
    bad file goes (``bad``: folder, stem -> path, extension included) and its skip option."""

    spec: Callable[[Path], dict[str, Any]]
    good: Callable[[Path], int]  # writes good files, returns how many items they make
    bad: Callable[[Path, str], Path]
    shape: Callable[[Path], Path | None]  # writes a wrong-shape file; None: converted by design
    skip: dict[str, Any] | None = None  # the recipe option that skips a bad file
    needs: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def images_good(folder: Path, count: int = 2) -> int:
    for index in range(count):
        write_png(folder / f"good{index}.png")
    return count


def image_shape_converted(path: Path) -> None:
    write_png(path, size=(13, 7), mode="LA")  # grey + alpha, not square: converted, resized
    return None


def pairs_good(root: Path) -> int:
    for index in range(2):
        write_png(root / "A" / f"good{index}.png")
        write_png(root / "B" / f"good{index}.png")
    return 2


def pairs_bad(root: Path, name: str) -> Path:
    write_png(root / "B" / f"{Path(name).stem}.png")  # the partner decodes: the A file is bad
    return root / "A" / name


def pairs_shape(root: Path) -> Path:
    write_png(root / "B" / "bad.png", size=(12, 12))
    return write_png(root / "A" / "bad.png", size=(8, 8))  # a pair of two sizes


def unpaired_good(root: Path) -> int:
    images_good(root / "trainA")
    images_good(root / "trainB")
    return 2


def unpaired_shape(root: Path) -> None:
    write_png(root / "trainB" / "bad.png", size=(5, 11), mode="P")
    return None


def sr_shape(root: Path) -> Path:
    return write_png(root / "bad.png", size=(6, 6))  # smaller than the 8x8 HR crop


def speech_good(root: Path) -> int:
    for index in range(2):
        write_wav(root / f"good{index}.wav")
    return 2


def speech_shape(root: Path) -> Path:
    return write_wav(root / "bad.wav", seconds=0.01)  # 80 samples, the segment is 256


def tts_good(root: Path) -> int:
    lines = []
    for index in range(2):
        write_phonemes(write_wav(root / "wavs" / f"good{index}.wav"))
        lines.append(f"good{index}|hello|hello")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 2


def tts_bad(root: Path, name: str) -> Path:
    path = root / "wavs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(root / "metadata.csv", "a", encoding="utf-8") as metadata:
        metadata.write(f"{Path(name).stem}|bad|bad\n")
    write_phonemes(path)
    return path


def tts_shape(root: Path) -> Path:
    wav = tts_bad(root, "bad.wav")
    write_wav(wav)
    return write_phonemes(wav, "0\th\nthree hundred\ta\n")  # a timing that is not a number


def text_good(root: Path) -> int:
    root.mkdir(parents=True, exist_ok=True)
    (root / "good.txt").write_text(SENTENCES * 3, encoding="utf-8")
    return 1


def text_shape(root: Path) -> Path:
    shutil.rmtree(root)
    root.mkdir()
    path = root / "bad.txt"
    path.write_text("   \n\n", encoding="utf-8")  # every .txt empty
    return path


def video_good(root: Path) -> int:
    for index in range(2):
        write_gif(root / f"good{index}.gif")
    return 2


def video_shape(root: Path) -> Path:
    return write_gif(root / "bad.gif", frames=1)  # one frame, two asked


def captioned_good(root: Path) -> int:
    for index in range(2):
        write_png(root / f"good{index}.png").with_suffix(".txt").write_text(
            "a red square\n", encoding="utf-8"
        )
    return 2


def captioned_bad(root: Path, name: str) -> Path:
    path = root / name
    path.with_suffix(".txt").write_text("a blue circle\n", encoding="utf-8")
    return path


def captioned_shape(root: Path) -> Path:
    write_png(root / "bad.png")
    path = root / "bad.txt"
    path.write_text("  \n", encoding="utf-8")  # an empty caption
    return path


def oracle_shape(root: Path) -> Path:
    path = root / "bad.npz"
    root.mkdir(parents=True, exist_ok=True)
    np.savez(path, g_embeddings=np.zeros((3, 3), np.float32))  # vocabulary 3, embedding 3
    return path


def oracle_spec(name: str) -> Callable[[Path], dict[str, Any]]:
    return lambda root: {"name": name, "params": str(root / "bad.npz"), "size": 8}


def in_root(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return root / name


CASES: dict[str, Case] = {
    "image.folder": Case(
        spec=lambda root: {"name": "image.folder", "root": str(root), "size": 8, "strict": True},
        good=images_good,
        bad=in_root,
        shape=lambda root: image_shape_converted(root / "odd.png"),
        skip={"strict": False},
        extra={"suffix": ".png", "disguise": wav_bytes},
    ),
    "image.pairs_folder": Case(
        spec=lambda root: {"name": "image.pairs_folder", "root": str(root), "size": 8},
        good=pairs_good,
        bad=pairs_bad,
        shape=pairs_shape,
        skip={"strict": False},
        extra={"suffix": ".png", "disguise": wav_bytes, "empty_inside": "A"},
    ),
    "image.unpaired_folder": Case(
        spec=lambda root: {"name": "image.unpaired_folder", "root": str(root), "size": 8},
        good=unpaired_good,
        bad=lambda root, name: in_root(root / "trainA", name),
        shape=unpaired_shape,
        skip={"strict": False},
        extra={"suffix": ".jpg", "disguise": wav_bytes, "empty_inside": "trainB"},
    ),
    "image.sr_pairs": Case(
        spec=lambda root: {"name": "image.sr_pairs", "root": str(root), "size": 8, "factor": 2},
        good=images_good,
        bad=in_root,
        shape=sr_shape,
        skip={"strict": False},
        extra={"suffix": ".png", "disguise": lambda: b"plain text, not a picture\n" * 4},
    ),
    "image.masked": Case(
        spec=lambda root: {"name": "image.masked", "root": str(root), "size": 8},
        good=images_good,
        bad=in_root,
        shape=lambda root: image_shape_converted(root / "odd.webp"),
        skip={"strict": False},
        extra={"suffix": ".webp", "disguise": wav_bytes},
    ),
    "audio.speech": Case(
        spec=lambda root: {"name": "audio.speech", "root": str(root), **AUDIO},
        good=speech_good,
        bad=in_root,
        shape=speech_shape,
        skip={"bad_files": "skip"},
        extra={"suffix": ".wav", "disguise": png_bytes},
    ),
    "audio.tts": Case(
        spec=lambda root: {"name": "audio.tts", "root": str(root), **AUDIO},
        good=tts_good,
        bad=tts_bad,
        shape=tts_shape,
        skip={"bad_files": "skip"},
        extra={"suffix": ".wav", "disguise": png_bytes},
    ),
    "text.corpus": Case(
        spec=lambda root: {"name": "text.corpus", "path": str(root), "tokenizer": "char"},
        good=text_good,
        bad=in_root,
        shape=text_shape,
        extra={"suffix": ".txt", "disguise": png_bytes},
    ),
    "text.oracle": Case(  # the user's file of the authors' oracle parameters
        spec=oracle_spec("text.oracle"),
        good=lambda root: 0,
        bad=in_root,
        shape=oracle_shape,
        extra={"suffix": ".npz", "disguise": png_bytes, "empty_file": True},
    ),
    "text.paper_oracle": Case(
        spec=oracle_spec("text.paper_oracle"),
        good=lambda root: 0,
        bad=in_root,
        shape=oracle_shape,
        extra={"suffix": ".npz", "disguise": png_bytes, "empty_file": True},
    ),
    "video.folder": Case(
        spec=lambda root: {"name": "video.folder", "root": str(root), "frames": 2, "size": 8},
        good=video_good,
        bad=in_root,
        shape=video_shape,
        skip={"skip_bad": True},
        needs=("av",),
        extra={"suffix": ".mp4", "disguise": wav_bytes},
    ),
    "t2i.folder": Case(
        spec=lambda root: {"name": "t2i.folder", "root": str(root), "size": 8},
        good=captioned_good,
        bad=captioned_bad,
        shape=captioned_shape,
        extra={"suffix": ".png", "disguise": lambda: b"a caption, not a picture\n" * 4},
    ),
}
FAULTS = ("corrupt", "empty", "shape", "disguised")
IMAGE = "cannot decode image"
#: what each refusal says was wrong or expected, fault by fault (None: the file is converted)
SAYS: dict[str, tuple[str | None, ...]] = {
    "image.folder": (IMAGE, "holds no images", None, IMAGE),
    "image.pairs_folder": (IMAGE, "holds no images", "must be the same size", IMAGE),
    "image.unpaired_folder": (IMAGE, "holds no images", None, IMAGE),
    "image.sr_pairs": (IMAGE, "holds no images", "smaller than the 8x8 high-resolution", IMAGE),
    "image.masked": (IMAGE, "holds no images", None, IMAGE),
    "audio.speech": (
        "neither RIFF/WAVE nor fLaC",
        "no wav/flac files",
        "shorter than a segment of 256",
        "it is a PNG image",
    ),
    "audio.tts": (
        "neither RIFF/WAVE nor fLaC",
        "no wav/flac files",
        "expected '<start sample><TAB><phoneme>'",
        "it is a PNG image",
    ),
    "text.corpus": ("not UTF-8 text", "holds no .txt files", "is empty", "not UTF-8 text"),
    "text.oracle": ("not a zip", "the file is empty", "expected (5000, 32)", "b'\\x89PNG'"),
    "text.paper_oracle": ("not a zip", "the file is empty", "expected (5000, 32)", "b'\\x89PNG'"),
    "video.folder": ("cannot decode video", "holds no clips", "too short", "no video stream"),
    "t2i.folder": ("cannot decode the image", "no images", "caption is empty", "cannot decode"),
}


def build(manager, spec: dict[str, Any]) -> Any:
    """The dataset as ``genmm run`` builds ``data:`` (the recipe's seed injected)."""
    spec = {"held_out": 0.0, **spec}
    return manager.registry.build("datasets", spec, file="recipe.yaml", key="data", seed=0)


def make_fault(case: Case, fault: str, root: Path) -> tuple[Path | None, int]:
    """Lay out the data with ``fault``; returns (the bad file or folder, None when the file is
    converted by design) and the count of good items."""
    if fault == "empty" and case.extra.get("empty_file"):  # a dataset of one file: empty
        bad = case.bad(root, "bad" + case.extra["suffix"])
        bad.write_bytes(b"")
        return bad, 0
    if fault == "empty":
        inside = case.extra.get("empty_inside")
        if inside:  # the layout's sub-folders: the one left empty is named
            case.good(root)
            shutil.rmtree(root / inside)
            (root / inside).mkdir()
            return root / inside, 0
        root.mkdir(parents=True)
        return root, 0
    count = case.good(root)
    if fault == "shape":
        return case.shape(root), count
    bad = case.bad(root, "bad" + case.extra["suffix"])
    payload = random_bytes() if fault == "corrupt" else case.extra["disguise"]()
    bad.write_bytes(payload)
    return bad, count


def needs(case: Case) -> None:
    for module in case.needs:
        pytest.importorskip(module)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("dataset", list(CASES))
def test_bad_file_is_a_one_line_error_naming_it(dataset, fault, manager, tmp_path):
    case = CASES[dataset]
    needs(case)
    root = tmp_path / "user_data"
    bad, count = make_fault(case, fault, root)
    says = SAYS[dataset][FAULTS.index(fault)]
    if bad is None:  # converted by design: the odd file is used like the others
        assert says is None
        data = build(manager, case.spec(root))
        assert len(data) == count + 1
        return
    with pytest.raises(DataError) as caught:
        build(manager, case.spec(root))
    message = str(caught.value)
    assert bad.name in message, message
    assert says in message, message
    assert "\n" not in message, message
    assert len(message) < 400, message


@pytest.mark.parametrize("dataset", [name for name, case in CASES.items() if case.skip])
def test_skip_option_skips_and_counts_the_bad_file(dataset, manager, tmp_path, caplog):
    case = CASES[dataset]
    needs(case)
    root = tmp_path / "user_data"
    bad, count = make_fault(case, "corrupt", root)
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the image datasets also warn once per skipped file
        data = build(manager, {**case.spec(root), **case.skip})
    assert len(data) == count
    assert len(data.skipped) == 1 and bad.name in str(data.skipped[0])
    assert any("skipped 1" in record.getMessage() for record in caplog.records), caplog.text


def test_matrix_covers_every_dataset_that_reads_a_folder(manager):
    """A new dataset that takes the user's folder or file (``root``, ``path``, ``params``)
    joins the matrix."""
    readers = {
        name
        for name in manager.registry.names("datasets")
        if {"root", "path", "params"}
        & set(manager.registry.get("datasets", name).signature.parameters)
    }
    generated = {"audio.espeak_corpus", "audio.tts_corpus"}  # render into root themselves
    assert readers - generated == set(CASES) == set(SAYS)


def test_matrix_table_in_the_docs_lists_every_dataset():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    section = docs.split("## Bad input files", 1)[1].split("\n## ", 1)[0]
    for name in CASES:
        assert f"`{name}`" in section, name


CLI_RECIPE = """\
seed: 0
out: {out}
data: {{name: image.folder, root: {root}, size: 8, strict: true, held_out: 0.0}}
models:
  generator: {{name: image.mlp_generator, latent_dim: 4, hidden: [8]}}
  discriminator: {{name: image.mlp_discriminator, units: [8], pieces: 2}}
losses:
  adversarial: {{name: core.nonsaturating}}
phases:
  gan: {{trainer: core.gan, max_steps: 1, batch_size: 2}}
runtime: {{progress: false, device: cpu}}
"""


def test_cli_prints_the_bad_file_in_one_line_without_a_traceback(cli, tmp_path):
    root = tmp_path / "user_data"
    images_good(root)
    (root / "bad.png").write_bytes(random_bytes())
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(CLI_RECIPE.format(out=tmp_path / "run", root=root), encoding="utf-8")
    done = cli("run", str(recipe), timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "bad.png" in line]
    assert len(lines) == 1 and "cannot decode image" in lines[0], done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_empty_text_files_beside_good_ones_are_skipped_and_counted(manager, tmp_path, caplog):
    root = tmp_path / "user_data"
    text_good(root)
    (root / "blank.txt").write_text("\n  \n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        build(manager, CASES["text.corpus"].spec(root))
    assert any("skipped 1 empty .txt files (blank.txt)" in r.getMessage() for r in caplog.records)
