"""Speech data for the vocoder: any LJSpeech-layout folder or folder of wav/flac files.

Items are what ``core.gan`` trains a vocoder on: ``{"real": (1, segment) waveform,
"condition": (n_mels, segment / hop) log-mel}``. As in the MelGAN reference training
(Kumar et al. 2019, sec. 4), files are peak-normalised to 0.95, a random ``segment`` of 8,192
samples is cut per item and scaled by a random gain in [0.3, 1.0]. Files at another sample
rate are resampled (windowed sinc, :func:`genmm_audio.frontend.resample`), channels are mixed
down to mono, and the last ``held_out`` utterances are kept for evaluation.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile
import torch

from genmm.errors import DataError
from genmm_audio.frontend import MelFrontend, resample

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
#: the held-out fraction by default: 8 of the built-in corpus's 300 utterances
HELD_OUT = 0.027
#: the front end's settings in a description
FRONTEND_KEYS = ("sample_rate", "n_fft", "hop", "win", "n_mels", "fmin", "fmax")


def held_out_count(fraction: float, total: int) -> int:
    """Utterances held out of ``total``: ``fraction * total`` rounded half up, at least one
    when ``fraction > 0``."""
    if not (isinstance(fraction, (int, float)) and 0.0 <= fraction < 1.0):
        raise ValueError(
            f"held_out is a fraction in [0, 1) (e.g. {HELD_OUT}: 8 of 300 utterances), "
            f"got {fraction!r}"
        )
    if fraction == 0:
        return 0
    return max(1, math.floor(fraction * total + 0.5))


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


#: leading bytes of files that are often misnamed audio, and what they are
NOT_AUDIO = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
)


def what_it_is(path: Path) -> str:
    """What a file that libsndfile refused holds, from its first bytes, for the error."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    for magic, name in NOT_AUDIO:
        if head.startswith(magic):
            return f"it is {name}"
    if head[4:8] == b"ftyp":
        return "it is an MP4/MOV container (a video?)"
    if not head:
        return "the file is empty"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE" or head[:4] == b"fLaC":
        return "its header is right but its data is damaged or in an encoding libsndfile lacks"
    return "its header is neither RIFF/WAVE nor fLaC"


def load_audio(path: Path, sample_rate: int) -> torch.Tensor:
    """A file as mono float32 at ``sample_rate``: ``(T,)``. Raises DataError naming the file."""
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile's errors are RuntimeError / LibsndfileError
        if not path.is_file():
            raise DataError(f"{path}: cannot read audio ({error})")
        # libsndfile's own words mislead here ("File does not exist ... (possibly a pipe?)")
        raise DataError(
            f"{path}: cannot decode audio: {what_it_is(path)}; expected a WAV (RIFF/WAVE) "
            "or FLAC file that libsndfile reads"
        )
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
        held_out: float = HELD_OUT,
        random_gain: bool = True,
        bad_files: Literal["error", "skip"] = "error",
        max_files: int | None = None,
    ) -> None:
        if bad_files not in ("error", "skip"):
            raise ValueError("bad_files must be 'error' or 'skip'")
        if segment % hop:
            raise ValueError(f"segment ({segment}) must be a multiple of hop ({hop})")
        held_out_count(held_out, 1)  # a bad fraction fails before any file is read
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: speech folder does not exist")
        self.sample_rate, self.segment, self.hop = sample_rate, segment, hop
        self.random_gain = random_gain
        self.held_out = float(held_out)
        self.settings = {
            "sample_rate": sample_rate,
            "n_fft": n_fft,
            "hop": hop,
            "win": win,
            "n_mels": n_mels,
            "fmin": float(fmin),
            "fmax": None if fmax is None else float(fmax),
        }
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
        count = held_out_count(held_out, len(self.audio))
        if len(self.audio) <= count:
            raise DataError(
                f"{self.root}: {len(self.audio)} usable files, need more than the "
                f"{count} held out (held_out={held_out})"
            )
        self.train_count = len(self.audio) - count
        self.held_out_ids = self.ids[self.train_count :]

    def __len__(self) -> int:
        return self.train_count

    def describe(self) -> dict[str, Any]:
        """Plain data: the front end's settings (what the generator, the metrics and the writer
        need, with or without the data), the segment and the split's sizes."""
        return {
            **self.settings,
            "segment": self.segment,
            "random_gain": self.random_gain,
            "held_out": self.held_out,
            "utterances": len(self.audio),
            "train_utterances": self.train_count,
            "held_out_utterances": len(self.held_out_ids),
        }

    def held_out_set(self, max_seconds: float | None = None) -> HeldOutSet:
        """The held-out utterances, whole (or their first ``max_seconds``), as a map-style
        dataset of training-format items (see :class:`HeldOutSet`)."""
        return HeldOutSet(self.audio[self.train_count :], self.held_out_ids, self, max_seconds)

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


class HeldOutSet:
    """Held-out utterances: item ``i`` is ``{"real": (1, T), "condition": (n_mels, T / hop)}``,
    the whole peak-normalised utterance (or its first ``max_seconds``) cut to a multiple of the
    hop, and its log-mel; no random segment or gain, so every call gives the same item.
    ``ids[i]`` names item ``i``."""

    def __init__(
        self,
        audio: list[torch.Tensor],
        ids: list[str],
        dataset: SpeechDataset,
        max_seconds: float | None = None,
    ) -> None:
        self.audio, self.ids = audio, list(ids)
        self.frontend, self.hop = dataset.frontend, dataset.hop
        self.limit = None if max_seconds is None else int(max_seconds * dataset.sample_rate)

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"held-out item {index} of {len(self)}")
        audio = self.audio[index]
        if self.limit is not None:
            audio = audio[: self.limit]
        real = audio[: audio.numel() // self.hop * self.hop].unsqueeze(0)  # (1, T)
        with torch.no_grad():
            condition = self.frontend(real.unsqueeze(0))[0]  # (n_mels, T / hop)
        return {"real": real, "condition": condition}


def rendered_corpus(reader: Callable[..., SpeechDataset]) -> Callable[..., SpeechDataset]:
    """A dataset factory for the built-in corpus: rendered with espeak-ng into ``root`` on first
    use (:func:`genmm_audio.corpus.render_corpus`: ``sentences``, ``voices``, ``corpus_seed``,
    ``source``), then read by ``reader`` with the rest of the recipe's keys. Its signature, the
    recipe schema, is the render keys followed by the reader's own."""

    def corpus(
        root: str = "data/speech",
        sentences: int = 300,
        voices: list[str] | None = None,
        corpus_seed: int = 0,
        source: Literal["auto", "news", "generated"] = "auto",
        **reading: Any,
    ) -> SpeechDataset:
        from genmm_audio.corpus import render_corpus

        render_corpus(root, sentences, voices, corpus_seed, source)
        return reader(root, **reading)

    from genmm.registry import signature_of

    own = list(inspect.signature(corpus).parameters.values())[:-1]
    read = [p for p in signature_of(reader).parameters.values() if p.name != "root"]
    corpus.__signature__ = inspect.Signature(own + read)  # type: ignore[attr-defined]
    name = getattr(reader, "__qualname__", "the reader")
    corpus.__doc__ = f"The built-in corpus, rendered into ``root`` on first use, read by {name}."
    return corpus


espeak_corpus = rendered_corpus(SpeechDataset)


def frontend_from_description(description: dict[str, Any] | None) -> MelFrontend:
    """The mel front end a data description (:meth:`SpeechDataset.describe`) names: the same
    with the data or without it (``genmm generate``). Settings it lacks take the paper's
    defaults (22,050 Hz, n_fft 1024, hop 256, window 1024, 80 mels)."""
    description = description or {}
    return MelFrontend(**{k: description[k] for k in FRONTEND_KEYS if k in description})
