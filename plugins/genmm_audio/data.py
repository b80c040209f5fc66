"""Speech data for the vocoder: any LJSpeech-layout folder or folder of wav/flac files.

Items are what ``core.gan`` trains a vocoder on: ``{"real": (1, segment) waveform,
"condition": (n_mels, segment / hop) log-mel}``. As in the MelGAN reference training
(Kumar et al. 2019, sec. 4), files are peak-normalised to 0.95, a random ``segment`` of 8,192
samples is cut per item and scaled by a random gain in [0.3, 1.0]. Files at another sample
rate are resampled (windowed sinc, :func:`genmm_audio.frontend.resample`), channels are mixed
down to mono, and the last ``held_out`` utterances are kept for evaluation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch

from genmm.errors import DataError
from genmm_audio.frontend import MelFrontend, resample

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")


def list_audio(root: Path) -> list[tuple[str, Path, str]]:
    """(id, path, text) of an LJSpeech folder (``metadata.csv`` + ``wavs/``) or of every
    wav/flac file under ``root`` (text empty), sorted by id."""
    metadata = root / "metadata.csv"
    if metadata.exists() and (root / "wavs").is_dir():
        rows = []
        for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split("|")
            name = fields[0]
            text = fields[2] if len(fields) > 2 else (fields[1] if len(fields) > 1 else "")
            path = root / "wavs" / f"{name}.wav"
            if not path.exists():
                raise DataError(f"{metadata}:{number}: names '{name}' but {path} does not exist")
            rows.append((name, path, text))
        return rows
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    return [(str(p.relative_to(root).with_suffix("")), p, "") for p in files]


def load_audio(path: Path, sample_rate: int) -> torch.Tensor:
    """A file as mono float32 at ``sample_rate``: ``(T,)``. Raises DataError naming the file."""
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile's errors are RuntimeError / LibsndfileError
        raise DataError(f"{path}: cannot decode audio ({error})")
    audio = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))  # mono mixdown
    if rate != sample_rate and audio.numel():
        audio = resample(audio, rate, sample_rate)
    return audio


class SpeechDataset:
    """An LJSpeech-layout folder or any folder of wav/flac: random segments with their log-mel.

    See the module docstring for how files are read and segments cut."""

    def __init__(
        self,
        root: str = "data/speech",
        sample_rate: int = 22050,
        segment: int = 8192,
        n_fft: int = 1024,
        hop: int = 256,
        win: int = 1024,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float | None = None,
        held_out: int = 8,
        random_gain: bool = True,
        bad_files: str = "error",
        max_files: int | None = None,
    ) -> None:
        if bad_files not in ("error", "skip"):
            raise ValueError("bad_files must be 'error' or 'skip'")
        if segment % hop:
            raise ValueError(f"segment ({segment}) must be a multiple of hop ({hop})")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: speech folder does not exist")
        self.sample_rate, self.segment, self.hop = sample_rate, segment, hop
        self.random_gain = random_gain
        self.frontend = MelFrontend(sample_rate, n_fft, hop, win, n_mels, fmin, fmax)
        entries = list_audio(self.root)
        if max_files is not None:
            entries = entries[:max_files]
        if not entries:
            raise DataError(f"{self.root}: no wav/flac files (nor an LJSpeech metadata.csv)")
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.audio: list[torch.Tensor] = []
        skipped: list[str] = []
        for name, path, text in entries:
            try:
                audio = load_audio(path, sample_rate)
                if audio.numel() == 0:
                    raise DataError(f"{path}: the file holds no samples")
                if audio.numel() < segment:
                    raise DataError(
                        f"{path}: {audio.numel()} samples, shorter than a segment of {segment}"
                    )
            except DataError as error:
                if bad_files == "error":
                    raise DataError(f"{error} (set data.bad_files=skip to skip such files)")
                skipped.append(str(path))
                continue
            peak = audio.abs().max().clamp(min=1e-8)
            self.ids.append(name)
            self.texts.append(text)
            self.audio.append(0.95 * audio / peak)
        self.skipped = skipped
        if skipped:
            log.warning("%s: skipped %d unreadable or too short files", self.root, len(skipped))
        if len(self.audio) <= held_out:
            raise DataError(
                f"{self.root}: {len(self.audio)} usable files, need more than held_out={held_out}"
            )
        self.train_count = len(self.audio) - held_out
        self.held_out_ids = self.ids[self.train_count :]
        self.cache: dict[str, Any] = {}  # metrics keep their baseline figures here

    def __len__(self) -> int:
        return self.train_count

    def _segment(self, index: int) -> torch.Tensor:  # -> (1, segment)
        audio = self.audio[index]
        start = int(torch.randint(audio.numel() - self.segment + 1, ()).item())
        piece = audio[start : start + self.segment]
        if self.random_gain:
            piece = piece * float(torch.empty(()).uniform_(0.3, 1.0))
        return piece.unsqueeze(0)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        real = self._segment(index)
        with torch.no_grad():
            condition = self.frontend(real.unsqueeze(0))[0]  # (n_mels, segment / hop)
        return {"real": real, "condition": condition}

    def get_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        real = torch.stack([self._segment(i) for i in indices])  # (B, 1, segment)
        with torch.no_grad():
            condition = self.frontend(real)  # (B, n_mels, segment / hop)
        return {"real": real, "condition": condition}

    def held_out_audio(self, count: int | None = None, max_seconds: float | None = 4.0):
        """Held-out utterances ``[(id, (1, T))]``, T a multiple of the hop, at most
        ``max_seconds`` long."""
        items = []
        for offset, name in enumerate(self.held_out_ids[:count]):
            audio = self.audio[self.train_count + offset]
            if max_seconds is not None:
                audio = audio[: int(max_seconds * self.sample_rate)]
            audio = audio[: audio.numel() // self.hop * self.hop]
            items.append((name, audio.unsqueeze(0)))
        return items


def espeak_corpus(
    root: str = "data/speech",
    sentences: int = 300,
    voices: list[str] | None = None,
    corpus_seed: int = 0,
    source: str = "auto",
    sample_rate: int = 22050,
    segment: int = 8192,
    n_fft: int = 1024,
    hop: int = 256,
    win: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    held_out: int = 8,
    random_gain: bool = True,
) -> SpeechDataset:
    """The built-in corpus: rendered with espeak-ng into ``root`` on first use, then read."""
    from genmm_audio.corpus import render_corpus

    render_corpus(root, sentences, voices, corpus_seed, source)
    return SpeechDataset(
        root, sample_rate, segment, n_fft, hop, win, n_mels, fmin, fmax, held_out, random_gain
    )


def frontend_from_data(spec: dict[str, Any]) -> MelFrontend:
    """The mel front end a recipe's ``data`` section describes (used when there is no dataset,
    as in ``genmm generate``)."""
    keys = ("sample_rate", "n_fft", "hop", "win", "n_mels", "fmin", "fmax")
    return MelFrontend(**{k: spec[k] for k in keys if k in spec})  # the rest: its own defaults
