"""Speech with its phonemes, for the text-to-mel model, and the same speech for its vocoder.

``audio.tts_corpus`` renders the built-in corpus (:func:`genmm_audio.corpus.render_corpus`,
several espeak-ng voices) and reads it as a :class:`TTSDataset`; ``audio.tts`` reads a folder
already rendered (or any LJSpeech-layout folder whose ``wavs/<id>.phonemes.tsv`` give each
phoneme's start sample, as the renderer writes them).

One dataset serves every phase of a text-to-speech recipe: a batch holds what a vocoder
phase trains on, ``real`` (random waveform segments) and ``condition`` (their log-mels), as
:class:`genmm_audio.data.SpeechDataset` makes them, beside what the acoustic phase trains on,
the whole utterances padded to the batch's longest:

=================== ================== ==================================================
key                 shape              what
=================== ================== ==================================================
``phonemes``        (B, L) long        phoneme ids (:class:`genmm_audio.text.PhonemeVocabulary`)
``phoneme_lengths`` (B,) long          phonemes per utterance
``durations``       (B, L) long        mel frames per phoneme; they sum to ``mel_lengths``
``pitch``           (B, L)             log-F0 averaged over each phoneme's frames, normalised
``energy``          (B, L)             frame L2 norm of the STFT magnitude averaged over
                                       each phoneme, normalised
``mel``             (B, n_mels, T)     the log10-mel (padded with the floor, -5)
``mel_lengths``     (B,) long          frames per utterance
``speaker``         (B,) long          index into the description's ``voices``
=================== ================== ==================================================

Durations come from the phoneme start samples (:func:`durations_from_starts`): a phoneme's
first frame is its start divided by the hop, rounded, the first phoneme starts at frame 0 and
the last ends at the last frame, so they sum exactly to the mel's frame count. Pitch follows
FastSpeech 2 (Ren et al. 2021, sec. 2.3) and its phoneme-level variant (Łańcucki, FastPitch,
2021): YIN F0 (:func:`genmm_audio.measures.f0_track`) per frame, unvoiced frames filled by
linear interpolation, the log averaged per phoneme; energy is FastSpeech 2's L2 norm of each
STFT frame, averaged per phoneme. Both are normalised by the training utterances' mean and
deviation, which the description keeps with their range (the model's quantisation bins).

The description adds to the front end's settings the phoneme vocabulary (``phonemes``), the
voices (``voices``, one speaker each), and the pitch and energy statistics: ``genmm generate``
rebuilds the model and reads text without the data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile
import torch

from genmm.errors import DataError
from genmm_audio.data import HELD_OUT, SpeechDataset, list_audio, rendered_corpus
from genmm_audio.measures import f0_track
from genmm_audio.text import PhonemeVocabulary

log = logging.getLogger(__name__)

#: the log10-mel value of padding (the front end's floor, 1e-5)
MEL_PAD = -5.0


def read_phoneme_table(path: Path) -> tuple[list[int], list[str]]:
    """``<start sample>\\t<phoneme>`` lines -> (starts, names); DataError naming the line."""
    starts, names = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip().lstrip("-").isdigit() or not fields[1]:
            raise DataError(f"{path}:{number}: expected '<start sample><TAB><phoneme>'")
        starts.append(int(fields[0]))
        names.append(fields[1])
    if not names:
        raise DataError(f"{path}: no phonemes")
    return starts, names


def read_transcripts(root: Path) -> dict[str, str]:
    """id -> the text as written (metadata.csv's second field: what a user would type, read
    through the same normalisation as ``genmm generate --text``)."""
    metadata = Path(root) / "metadata.csv"
    if not metadata.exists():
        return {}
    rows = [line.split("|") for line in metadata.read_text(encoding="utf-8").splitlines()]
    return {row[0]: row[1] for row in rows if len(row) > 1}


def durations_from_starts(starts: list[int] | np.ndarray, hop: int, frames: int) -> np.ndarray:
    """Frames per phoneme from start samples: boundaries ``round(start / hop)``, kept
    non-decreasing inside ``[0, frames]``, the first at 0 and the end at ``frames``; the result
    sums to ``frames`` exactly (zero-length phonemes stay, as the corpus has them)."""
    boundaries = np.rint(np.asarray(starts, dtype=np.float64) / hop).astype(np.int64)
    boundaries = np.clip(np.maximum.accumulate(boundaries), 0, frames)
    boundaries[0] = 0
    return np.diff(np.append(boundaries, frames))


def phoneme_average(values: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """The mean of frame ``values`` over each phoneme's frames (NaN for a zero-length one)."""
    ends = np.cumsum(durations)
    sums = np.add.reduceat(np.append(values, 0.0), np.append(0, ends[:-1]).clip(max=len(values)))
    return np.where(durations > 0, sums / np.maximum(durations, 1), np.nan)


def interpolate_unvoiced(log_f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Unvoiced frames filled by linear interpolation between voiced ones (ends held)."""
    if not voiced.any():
        return np.zeros_like(log_f0)
    frames = np.arange(len(log_f0))
    return np.interp(frames, frames[voiced], log_f0[voiced])


def statistics(values: list[np.ndarray]) -> dict[str, float]:
    joined = np.concatenate(values)
    joined = joined[~np.isnan(joined)]  # zero-length phonemes have no value
    mean, std = float(joined.mean()), float(joined.std()) or 1.0
    normalised = (joined - mean) / std
    low, high = float(normalised.min()), float(normalised.max())
    return {"mean": mean, "std": std, "min": low, "max": high}


class TTSDataset(SpeechDataset):
    """Utterances with their phonemes, durations, pitch, energy, mel and speaker (the table in
    the module docstring), and the vocoder's random segments of the same speech."""

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
        f0_min: float = 60.0,
        f0_max: float = 500.0,
        speaker: str = "default",
        bad_files: Literal["error", "skip"] = "error",
        max_files: int | None = None,
        durations: Literal["timings", "search"] = "timings",
    ) -> None:
        super().__init__(
            root,
            sample_rate,
            segment,
            n_fft,
            hop,
            win,
            n_mels,
            fmin,
            fmax,
            held_out,
            random_gain,
            bad_files=bad_files,
            max_files=max_files,
        )
        from genmm_audio.corpus import corpus_voices

        paths = {name: path for name, path, _ in list_audio(self.root)}
        voices_by_id = corpus_voices(self.root) or {}
        # in the order the corpus speaks them (its first voice is the default one)
        self.voices = list(dict.fromkeys(voices_by_id.get(name, speaker) for name in self.ids))
        self.searched = durations == "search"  # durations by alignment search, in training
        self.transcripts = read_transcripts(self.root) if self.searched else {}
        names_per_item, self.durations, self.mels, self.speakers = [], [], [], []
        log_f0s, energies = [], []
        for index, name in enumerate(self.ids):
            voice = voices_by_id.get(name, speaker)
            if self.searched:
                names = self._transcript_phonemes(index, paths[name], voice)
            else:
                table = paths[name].with_suffix(".phonemes.tsv")
                if not table.exists():
                    raise DataError(
                        f"{table}: no phoneme timings for '{name}' (the text-to-speech data reads "
                        "the per-phoneme start samples the built-in corpus writes beside each "
                        "wav; for a corpus without them set data.durations=search: phonemes "
                        "from metadata.csv's text, durations by alignment search in training)"
                    )
                starts, names = read_phoneme_table(table)
                rate = soundfile.info(str(paths[name])).samplerate
                starts = [s * sample_rate / rate for s in starts]  # to the dataset's rate
            audio = self.audio[index]
            frames = audio.numel() // hop
            if len(names) > frames:
                raise DataError(
                    f"{paths[name]}: {len(names)} phonemes but {frames} mel frames; alignment "
                    "needs at least a frame per phoneme"
                )
            audio = audio[: frames * hop]
            with torch.no_grad():
                magnitude = self.frontend.magnitude(audio.reshape(1, 1, -1))[0]  # (F, N)
                mel = torch.log10(
                    torch.clamp(self.frontend.mel_basis @ magnitude, min=self.frontend.floor)
                )  # (n_mels, N)
            if self.searched:  # placeholders: the trainer's alignment search fills them
                durations = np.zeros(len(names), dtype=np.int64)
            else:
                durations = durations_from_starts(starts, hop, frames)
            f0, voiced = f0_track(audio.numpy(), sample_rate, f0_min, f0_max, hop)
            f0, voiced = f0[:frames], voiced[:frames]
            log_f0 = interpolate_unvoiced(np.log(np.maximum(f0, 1.0)), voiced)
            energy = magnitude.norm(dim=0).numpy().astype(np.float64)  # FastSpeech 2's energy
            names_per_item.append(names)
            self.durations.append(torch.from_numpy(durations))
            self.mels.append(mel)
            self.speakers.append(self.voices.index(voice))
            if self.searched:  # per frame; averaged over the searched durations in training
                log_f0s.append(log_f0)
                energies.append(energy)
            else:
                log_f0s.append(phoneme_average(log_f0, durations))
                energies.append(phoneme_average(energy, durations))
        self.vocabulary = PhonemeVocabulary.build(names_per_item[: self.train_count])
        self.phonemes = [torch.tensor(self.vocabulary.encode(n)) for n in names_per_item]
        self.pitch_stats = statistics(log_f0s[: self.train_count])
        self.energy_stats = statistics(energies[: self.train_count])
        self.pitch = [self._normalise(p, self.pitch_stats) for p in log_f0s]
        self.energy = [self._normalise(e, self.energy_stats) for e in energies]

    def _transcript_phonemes(self, index: int, path: Path, voice: str) -> list[str]:
        """The phonemes espeak-ng reads from the utterance's metadata.csv text."""
        from genmm_audio.text import phonemise
        from genmm_audio.writers import espeak_voice

        text = self.transcripts.get(self.ids[index], "")
        if not text.strip():
            raise DataError(
                f"{path}: no transcript (data.durations=search reads each utterance's text "
                "from the LJSpeech metadata.csv: id|text|normalised text)"
            )
        try:
            return phonemise(text, espeak_voice(voice))
        except DataError as error:
            raise DataError(f"{path}: {error}") from None

    @staticmethod
    def _normalise(values: np.ndarray, stats: dict[str, float]) -> torch.Tensor:
        """z-scores; a zero-length phoneme (NaN) gets the mean, 0."""
        normalised = np.nan_to_num((values - stats["mean"]) / stats["std"], nan=0.0)
        return torch.from_numpy(normalised).float()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "phonemes": list(self.vocabulary.tokens),
            "voices": list(self.voices),
            "pitch": dict(self.pitch_stats),
            "energy": dict(self.energy_stats),
        }

    def utterance(self, index: int) -> dict[str, torch.Tensor]:
        """Utterance ``index`` (held-out ones too, after the training ones), unpadded. With
        ``durations: search`` the pitch and energy are per frame, ``pitch_frames`` and
        ``energy_frames`` (T,), and ``durations`` zeros: the trainer's alignment search gives
        the durations and averages the frames over them."""
        level = "_frames" if self.searched else ""
        return {
            "phonemes": self.phonemes[index],
            "durations": self.durations[index],
            f"pitch{level}": self.pitch[index],
            f"energy{level}": self.energy[index],
            "mel": self.mels[index],
            "speaker": torch.tensor(self.speakers[index]),
        }

    def held_out_utterances(self) -> list[dict[str, torch.Tensor]]:
        return [self.utterance(i) for i in range(self.train_count, len(self.audio))]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {**super().__getitem__(index), **self.utterance(index)}

    def get_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        utterances = pad_utterances([self.utterance(i) for i in indices])
        return {**super().get_batch(indices), **utterances}


def pad_utterances(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Utterances -> one padded batch (the table of the module docstring; ``pitch`` and
    ``energy`` padded to their own longest, phonemes or, with ``durations: search``, frames)."""
    count = len(items)
    lengths = torch.tensor([len(item["phonemes"]) for item in items])
    frames = torch.tensor([item["mel"].shape[-1] for item in items])
    n_mels = items[0]["mel"].shape[0]
    batch = {
        "mel": torch.full((count, n_mels, int(frames.max())), MEL_PAD),
        "phoneme_lengths": lengths,
        "mel_lengths": frames,
        "speaker": torch.stack([item["speaker"] for item in items]),
    }
    for key in [k for k in items[0] if k not in batch]:  # phoneme or frame sequences
        longest = max(len(item[key]) for item in items)
        batch[key] = torch.zeros(count, longest, dtype=items[0][key].dtype)
        for row, item in enumerate(items):
            batch[key][row, : len(item[key])] = item[key]
    for row, item in enumerate(items):
        batch["mel"][row, :, : item["mel"].shape[-1]] = item["mel"]
    return batch


tts_corpus = rendered_corpus(TTSDataset)  # one speaker per voice
