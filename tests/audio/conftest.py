"""Fixtures of the audio tests: tiny speech folders in tmp_path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile


def tone(seconds: float, rate: int, frequency: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    sweep = frequency * (1 + 0.5 * t / max(seconds, 1e-6))
    return (0.5 * np.sin(2 * math.pi * sweep * t)).astype(np.float32)


@pytest.fixture
def chirp():
    """``chirp(seconds, rate, frequency)``: a rising sine sweep of amplitude 0.5 (float32)."""
    return tone


@pytest.fixture
def tone_folder(tmp_path: Path):
    """A folder of six 1-second chirps at 22,050 Hz (a plain folder of wavs)."""

    def make(count: int = 6, seconds: float = 1.0, rate: int = 22050) -> Path:
        folder = tmp_path / "tones"
        folder.mkdir(exist_ok=True)
        for index in range(count):
            soundfile.write(folder / f"t{index}.wav", tone(seconds, rate, 150 + 40 * index), rate)
        return folder

    return make


@pytest.fixture(scope="session")
def espeak_folder(tmp_path_factory) -> Path:
    """Twelve espeak-ng utterances rendered once per session."""
    from genmm_audio.corpus import render_corpus

    root = tmp_path_factory.mktemp("speech")
    return render_corpus(root, sentences=12, seed=0)
