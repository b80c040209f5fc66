"""``audio.speech``: folders of wav/flac, resampling, mixdown, held-out split, bad files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile
import torch

from genmm.errors import DataError
from genmm_audio.data import SpeechDataset, load_audio


def write(path, data, rate=22050):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), data, rate)
    return path


def test_batches_conditions_and_held_out_split(tone_folder):
    dataset = SpeechDataset(str(tone_folder(count=6)), segment=2048, held_out=0.34)
    assert len(dataset) == 4 and dataset.held_out_ids == ["t4", "t5"]  # 0.34 x 6 = 2.04 -> 2
    batch = dataset.get_batch([0, 1, 2])
    assert batch["real"].shape == (3, 1, 2048)
    assert batch["condition"].shape == (3, 80, 8)  # 2048 / hop 256
    assert batch["real"].abs().max() <= 0.95 + 1e-6  # peak-normalised, then gain in [0.3, 1]
    item = dataset[0]
    assert item["real"].shape == (1, 2048) and item["condition"].shape == (80, 8)
    # the held-out set: whole utterances in the items' format, the same on every call
    held = dataset.held_out_set()
    assert len(held) == 2 and held.ids == ["t4", "t5"]
    first = held[0]
    assert set(first) == {"real", "condition"}
    assert first["real"].shape == (1, 22016)  # 1 s cut to a multiple of the hop
    assert first["condition"].shape == (80, 86)  # 22,016 / 256
    assert torch.equal(held[0]["real"], first["real"])  # no random segment, no random gain
    assert first["real"].abs().max() == pytest.approx(0.95, abs=1e-6)  # peak-normalised
    assert torch.equal(first["condition"], dataset.frontend(first["real"][None])[0])
    short = dataset.held_out_set(max_seconds=0.5)
    assert short[1]["real"].shape == (1, 11008)  # 0.5 s cut to a multiple of the hop
    assert torch.equal(short[1]["real"], held[1]["real"][:, :11008])
    with pytest.raises(IndexError):
        held[2]


def test_held_out_is_a_fraction_rounded_half_up():
    from genmm_audio.data import HELD_OUT, held_out_count

    assert held_out_count(HELD_OUT, 300) == 8  # the built-in corpus: 8 of 300, as before
    assert held_out_count(0.04, 200) == 8
    assert held_out_count(0.25, 6) == 2  # 1.5 rounds up
    assert held_out_count(0.01, 6) == 1  # a positive fraction holds at least one out
    assert held_out_count(0.0, 6) == 0
    for bad in (1.0, -0.1, 8):
        with pytest.raises(ValueError, match=r"held_out is a fraction in \[0, 1\)"):
            held_out_count(bad, 10)


def test_describe_is_the_front_end_and_the_split(tone_folder):
    import json

    from genmm_audio.data import frontend_from_description

    dataset = SpeechDataset(str(tone_folder(count=5)), segment=2048, held_out=0.2, n_mels=64)
    description = dataset.describe()
    assert json.loads(json.dumps(description)) == description  # plain data
    assert description == {
        "sample_rate": 22050,
        "n_fft": 1024,
        "hop": 256,
        "win": 1024,
        "n_mels": 64,
        "fmin": 0.0,
        "fmax": None,
        "segment": 2048,
        "random_gain": True,
        "held_out": 0.2,
        "utterances": 5,
        "train_utterances": 4,
        "held_out_utterances": 1,
    }
    # the front end rebuilt from the description alone is the data's
    rebuilt = frontend_from_description(description)
    audio = dataset.held_out_set()[0]["real"][None]
    assert torch.equal(rebuilt(audio), dataset.frontend(audio))
    assert rebuilt.n_mels == 64 and rebuilt.sample_rate == 22050


def test_no_held_out_data(tone_folder):
    dataset = SpeechDataset(str(tone_folder(count=3)), segment=2048, held_out=0.0)
    assert len(dataset) == 3 and len(dataset.held_out_set()) == 0


def test_other_sample_rate_is_resampled(tmp_path, chirp):
    folder = tmp_path / "mixed"
    for index in range(3):
        write(folder / f"a{index}.wav", chirp(1.0, 22050))
    write(folder / "b16k.flac", chirp(1.0, 16000), rate=16000)
    dataset = SpeechDataset(str(folder), segment=2048, held_out=0.25, random_gain=False)
    resampled = dataset.audio[dataset.ids.index("b16k")]
    assert resampled.numel() == 22050  # 16,000 samples at 16 kHz -> 1 s at 22,050 Hz
    # the same chirp rendered at 22,050 Hz directly: the resampled one matches it closely
    direct = torch.from_numpy(chirp(1.0, 22050))
    direct = 0.95 * direct / direct.abs().max()
    inner = slice(500, -500)  # away from the edges, where the sinc filter sees zeros
    assert (resampled[inner] - direct[inner]).abs().max() < 0.02


def test_stereo_is_mixed_down(tmp_path, chirp):
    left = chirp(0.5, 22050)
    stereo = np.stack([left, 0.5 * left], axis=1)  # (T, 2)
    path = write(tmp_path / "stereo.wav", stereo)
    audio = load_audio(path, 22050)
    assert audio.shape == (11025,)
    assert np.allclose(audio.numpy(), 0.75 * left, atol=1e-4)  # 16-bit wav round-off


@pytest.fixture
def bad_folder(tone_folder, chirp):
    folder = tone_folder(count=4)
    (folder / "garbage.wav").write_bytes(b"RIFF this is not a wav file at all" * 10)
    soundfile.write(str(folder / "empty.wav"), np.zeros(0, np.float32), 22050)
    soundfile.write(str(folder / "short.wav"), chirp(0.05, 22050), 22050)  # 1,102 samples
    return folder


@pytest.mark.parametrize(
    "name, message",
    [
        ("garbage.wav", "cannot decode audio"),
        ("empty.wav", "holds no samples"),
        ("short.wav", "1102 samples, shorter than a segment of 2048"),
    ],
)
def test_bad_file_is_named_in_the_error(bad_folder, name, message):
    for other in {"garbage.wav", "empty.wav", "short.wav"} - {name}:
        (bad_folder / other).unlink()
    with pytest.raises(DataError) as error:
        SpeechDataset(str(bad_folder), segment=2048, held_out=0.25)
    assert str(bad_folder / name) in str(error.value)
    assert message in str(error.value) and "bad_files=skip" in str(error.value)


def test_bad_files_are_skipped_with_a_count(bad_folder, caplog):
    with caplog.at_level(logging.WARNING):
        dataset = SpeechDataset(str(bad_folder), segment=2048, held_out=0.25, bad_files="skip")
    assert sorted(p.rsplit("/", 1)[-1] for p in dataset.skipped) == [
        "empty.wav",
        "garbage.wav",
        "short.wav",
    ]
    assert "skipped 3 unreadable or too short files" in caplog.text
    assert len(dataset) == 3 and "garbage" not in dataset.ids  # 0.25 x 4 usable files -> 1


def test_empty_and_missing_folders_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no wav/flac files") as error:
        SpeechDataset(str(tmp_path / "empty"))
    assert str(tmp_path / "empty") in str(error.value)
    with pytest.raises(DataError, match="does not exist"):
        SpeechDataset(str(tmp_path / "nowhere"))


def test_ljspeech_metadata_naming_a_missing_wav(tmp_path, chirp):
    root = tmp_path / "lj"
    write(root / "wavs" / "LJ001.wav", chirp(1.0, 22050))
    (root / "metadata.csv").write_text("LJ001|Hi.|hi.\nLJ002|Gone.|gone.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"metadata.csv:2: names 'LJ002'"):
        SpeechDataset(str(root))


def test_too_few_files_for_the_held_out_split(tone_folder):
    with pytest.raises(DataError, match=r"1 usable files, need more than the 1 held out"):
        SpeechDataset(str(tone_folder(count=1)), segment=2048)  # the default holds one out
    with pytest.raises(ValueError, match="held_out is a fraction"):
        SpeechDataset(str(tone_folder(count=3)), segment=2048, held_out=8)  # a count: refused


def test_espeak_corpus_reads_texts(espeak_folder):
    dataset = SpeechDataset(str(espeak_folder), held_out=1 / 6)
    assert len(dataset) == 10 and all(dataset.texts)  # 12 utterances, 2 held out
    assert dataset.get_batch([0, 1])["real"].shape == (2, 1, 8192)
