"""The built-in corpus: espeak-ng renders sentences into an LJSpeech-layout folder."""

from __future__ import annotations

import json

import pytest
import soundfile

from genmm.errors import DataError
from genmm_audio.corpus import generated_sentences, normalise, pick_sentences, render_corpus
from genmm_audio.data import list_audio

pytest.importorskip("espeakng_loader")


def snapshot(root):
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_three_sentences_in_ljspeech_layout(tmp_path):
    root = render_corpus(tmp_path / "speech", sentences=3, seed=0, source="generated")
    rows = (root / "metadata.csv").read_text(encoding="utf-8").splitlines()
    texts = generated_sentences(3, 0)
    assert [row.split("|") for row in rows] == [
        [f"ES000-{i:05d}", text, normalise(text)] for i, text in enumerate(texts)
    ]
    assert json.loads((root / "corpus.json").read_text())["sentences"] == 3
    for index, text in enumerate(texts):
        wav = root / "wavs" / f"ES000-{index:05d}.wav"
        info = soundfile.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert 1.0 < info.duration < 8.0  # a spoken sentence of ~8 words
        audio, _ = soundfile.read(str(wav))
        assert abs(audio).max() > 0.05  # speech, not silence
        table = wav.with_suffix(".phonemes.tsv").read_text().splitlines()
        positions = [int(line.split("\t")[0]) for line in table]
        phonemes = [line.split("\t")[1] for line in table]
        assert len(table) >= len(text.split())  # at least a phoneme per word
        assert positions == sorted(positions) and 0 <= positions[0]
        assert positions[-1] <= info.frames
        assert all(phonemes)
    # the dataset reader sees the layout: ids, paths and the normalised text
    listed = list_audio(root)
    assert [name for name, _, _ in listed] == [f"ES000-{i:05d}" for i in range(3)]
    assert listed[0][2] == normalise(texts[0])


def test_rendering_is_idempotent_and_resumable(tmp_path):
    root = render_corpus(tmp_path / "speech", sentences=3, seed=1, source="generated")
    before = snapshot(root)
    render_corpus(root, sentences=3, seed=1, source="generated")
    assert snapshot(root) == before  # nothing rewritten
    # an interrupted render (no manifest, one file missing) resumes: only that file is made
    (root / "corpus.json").unlink()
    missing = root / "wavs" / "ES001-00001.wav"
    missing.unlink()
    render_corpus(root, sentences=3, seed=1, source="generated")
    after = snapshot(root)
    assert after["ES001-00000.wav"] == before["ES001-00000.wav"]  # untouched
    assert after["ES001-00002.wav"] == before["ES001-00002.wav"]
    # the same utterance again: same phonemes, positions and length within a frame (espeak-ng
    # carries its oscillator and noise state across calls, so the samples differ slightly)
    new_frames = soundfile.info(str(missing)).frames
    assert abs(new_frames - len(before["ES001-00001.wav"][1]) // 2) < 256 + 44
    old_table, new_table = (
        [line.split(b"\t") for line in table[1].splitlines()]
        for table in (before["ES001-00001.phonemes.tsv"], after["ES001-00001.phonemes.tsv"])
    )
    assert [p for _, p in new_table] == [p for _, p in old_table]
    assert all(abs(int(a) - int(b)) < 256 for (a, _), (b, _) in zip(old_table, new_table))
    assert (root / "corpus.json").exists()
    # a file deleted after a finished render is noticed too
    missing.unlink()
    render_corpus(root, sentences=3, seed=1, source="generated")
    assert missing.exists() and soundfile.info(str(missing)).frames > 22050


def test_sentences_are_deterministic_and_sourced():
    assert generated_sentences(5, 3) == generated_sentences(5, 3)
    assert generated_sentences(5, 3) != generated_sentences(5, 4)
    assert len(pick_sentences(4, 0, "generated")) == 4
    with pytest.raises(ValueError):
        pick_sentences(2, 0, "poetry")


def test_unknown_voice_is_named(tmp_path):
    with pytest.raises(DataError, match="no voice 'xx-nothing'"):
        render_corpus(tmp_path / "speech", sentences=1, voices=["xx-nothing"], seed=0)
