"""``audio.wav``: waveforms as wav (soundfile) plus a png of the input and output log-mels.

The png (:func:`genmm_audio.plots.spectrogram_figure`) needs matplotlib, the ``plots`` extra;
without it the wav files are still written and one warning names the extra.

``genmm generate runs/vocoder --wav in.wav -o out.wav`` resynthesises a recording through the
vocoder (its log-mel, then the generator); ``--mel file.npy`` vocodes a saved log-mel
(``(n_mels, N)`` or ``(1, n_mels, N)``, log10 magnitude as the front end computes it).
The front end (sample rate, mel settings) is rebuilt from the data's ``description``, which the
checkpoint keeps: ``genmm generate`` builds no data.

A text-to-speech run (a ``models.acoustic`` text-to-mel model, e.g. ``recipes/speech.yaml``) also
reads text: ``--text 'Good morning.' -o hello.wav`` (``--voice NAME``, ``--speed 2`` twice as
fast, ``--spectrogram`` for a png beside the wav), ``--text-file lines.txt -o out_dir/`` (one
wav per non-empty line, ``001.wav``, ...), ``--list-voices``. The mel goes through the run's
vocoder (``models.generator``) or, when the run has none or ``--vocoder griffin_lim`` is
given, through Griffin-Lim; a log line says which.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import soundfile
import torch

from genmm.errors import DataError
from genmm.writers import Writer, output_path
from genmm_audio.data import frontend_from_description, load_audio
from genmm_audio.frontend import MelFrontend
from genmm_audio.generator import fold_weight_norm
from genmm_audio.plots import PlotsUnavailable, spectrogram_figure

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

log = logging.getLogger(__name__)

INPUT_TITLE = "input: log-mel given to the vocoder"
OUTPUT_TITLE = "output: log-mel of the vocoded audio"


class WavWriter(Writer):
    """wav files of vocoded speech and a png of input (top) and output (bottom) log-mels."""

    suffix = ".wav"

    def __init__(
        self,
        png: bool = True,
        utterances: int = 2,
        max_seconds: float = 4.0,
        description: dict[str, Any] | None = None,
    ) -> None:
        self.png = png
        self.utterances = utterances
        self.max_seconds = max_seconds
        self.frontend = frontend_from_description(description)
        self.plots_missing = False  # set (with one warning) when matplotlib is not installed

    def write(
        self,
        samples: Any,
        path: Path,
        sample_rate: int | None = None,
        frontend=None,
        conditions: list[torch.Tensor] | None = None,
    ) -> list[Path]:
        """``samples``: ``(B, 1, T)`` or a list of ``(1, T)``; one wav per item (``path`` itself
        when there is one, else ``<stem>-<i>.wav``) at ``sample_rate`` (default: the data's),
        each with a png of ``conditions[i]`` over the output's log-mel by ``frontend``
        (default: the data's)."""
        frontend = self.frontend if frontend is None else frontend
        sample_rate = frontend.sample_rate if sample_rate is None else sample_rate
        path = Path(path)
        if path.suffix.lower() != ".wav":
            path = path.with_suffix(".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        items = list(samples)
        written = []
        for index, audio in enumerate(items):
            target = path if len(items) == 1 else path.with_name(f"{path.stem}-{index}.wav")
            data = audio.detach().float().cpu().reshape(-1).clamp(-1, 1).numpy()
            soundfile.write(str(target), data, sample_rate, subtype="PCM_16")
            written.append(target)
            if self.png and not self.plots_missing:
                output_mel = frontend(audio.detach().float().cpu().reshape(1, 1, -1))[0]
                panels = [(OUTPUT_TITLE, output_mel)]
                if conditions is not None:
                    panels.insert(0, (INPUT_TITLE, conditions[index]))
                png = self.spectrogram(panels, target.with_suffix(".png"), frontend)
                if png is not None:
                    written.append(png)
        return written

    def spectrogram(
        self, panels: list[tuple[str, torch.Tensor]], path: Path, frontend: MelFrontend
    ) -> Path | None:
        """The png of ``panels`` on ``frontend``'s time and frequency axes; None (after one
        warning) when matplotlib is missing."""
        try:
            return spectrogram_figure(
                panels,
                path,
                sample_rate=frontend.sample_rate,
                hop=frontend.hop,
                fmin=frontend.fmin,
                fmax=frontend.fmax,
                title=f"{path.stem}: {frontend.n_mels} mels, {frontend.sample_rate} Hz",
            )
        except PlotsUnavailable as error:
            self.plots_missing = True
            log.warning("audio.wav: wav files only, no spectrogram png: %s", error)
            return None

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        """Vocode the first held-out utterances (called inside ``run.evaluating()``); nothing
        when the data holds none out."""
        dataset = run.dataset
        if dataset is None or not callable(getattr(dataset, "held_out_set", None)):
            return []
        held = dataset.held_out_set(self.max_seconds)
        if len(held) == 0:
            return []
        generator = fold_weight_norm(run.sampling_model("generator"))
        outputs, conditions = [], []
        for index in range(min(self.utterances, len(held))):
            mel = held[index]["condition"]  # (n_mels, N)
            with torch.inference_mode():
                outputs.append(generator(mel[None].to(run.device)).cpu()[0])
            conditions.append(mel)
        return self.write(outputs, stem.with_suffix(".wav"), conditions=conditions)

    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        wav: str | None = None,
        mel: str | None = None,
        text: str | None = None,
        text_file: str | None = None,
        voice: str | None = None,
        speed: float = 1.0,
        list_voices: bool = False,
        spectrogram: bool = False,
        vocoder: Literal["auto", "model", "griffin_lim"] = "auto",
    ) -> list[Path]:
        """``--wav FILE``: resynthesise a recording; ``--mel FILE.npy``: vocode a log-mel;
        ``--text`` / ``--text-file`` / ``--list-voices``: text to speech (module docstring)."""
        if list_voices:
            return write_voices(run, out)
        if text is not None or text_file is not None:
            if wav is not None or mel is not None:
                raise DataError("give --text (or --text-file) or --wav or --mel, not several")
            return speak(self, run, out, text, text_file, voice, speed, spectrogram, vocoder)
        if (wav is None) == (mel is None):
            raise DataError(
                "genmm generate for a vocoder needs exactly one of --wav or --mel (a "
                "text-to-speech run also takes --text or --text-file)"
            )
        frontend = self.frontend
        if wav is not None:
            audio = load_audio(Path(wav), frontend.sample_rate)
            if audio.numel() < frontend.n_fft:
                raise DataError(f"{wav}: too short to vocode ({audio.numel()} samples)")
            audio = audio[: audio.numel() // frontend.hop * frontend.hop]
            condition = frontend(audio.reshape(1, 1, -1))  # (1, n_mels, N)
        else:
            condition = load_mel(Path(mel), frontend.n_mels)
        generator = fold_weight_norm(run.sampling_model("generator"))
        with run.evaluating(seed=run.generate_seed), torch.inference_mode():
            output = generator(condition.to(run.device)).cpu()  # (1, 1, N * hop)
        return self.write(output, output_path(run, out, self.suffix), conditions=[condition[0]])


def load_mel(path: Path, n_mels: int) -> torch.Tensor:
    """A ``.npy`` log-mel as ``(1, n_mels, N)``; DataError naming the file when it is not one."""
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as error:
        raise DataError(f"{path}: cannot read a numpy log-mel ({error})")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[0] != n_mels:
        raise DataError(
            f"{path}: expected a log-mel of shape ({n_mels}, frames), got {array.shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]


# ----------------------------------------------------------------------------- text to speech


def _voices(run: Run) -> list[str]:
    return list((run.description or {}).get("voices") or ["default"])


def _acoustic(run: Run) -> torch.nn.Module:
    if "acoustic" not in run.models:
        raise DataError(
            "this run has no text-to-mel model (models.acoustic): --text needs a text-to-speech "
            "run, e.g. genmm run speech"
        )
    return run.sampling_model("acoustic")


def espeak_voice(voice: str) -> str:
    """The espeak-ng voice that reads text for a speaker (a user corpus's 'default': en-us)."""
    return "en-us" if voice == "default" else voice


def text_to_mel(
    run: Run, text: str, voice: str | None = None, speed: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``text`` -> (log-mel ``(n_mels, T)``, frames per phoneme ``(L,)``) by the run's acoustic
    model (inside ``run.evaluating()``); DataError for empty or unpronounceable text, an
    unknown voice or a speed that is not positive."""
    from genmm_audio.text import PhonemeVocabulary, phonemise

    model = _acoustic(run)
    voices = _voices(run)
    voice = voices[0] if voice is None else str(voice)
    if voice not in voices:
        raise DataError(f"unknown voice '{voice}' (this run has: {', '.join(voices)})")
    if not (isinstance(speed, (int, float)) and speed > 0):
        raise DataError(f"--speed must be a positive number (1.0: as trained), got {speed!r}")
    if not isinstance(text, str):
        raise DataError("--text needs a sentence in quotes: --text 'Good morning.'")
    vocabulary = PhonemeVocabulary.from_description(run.description)
    ids = vocabulary.encode(phonemise(text, espeak_voice(voice)), warn=True)
    phonemes = torch.tensor([ids], device=run.device)
    speaker = torch.tensor([voices.index(voice)], device=run.device)
    with torch.inference_mode():
        outputs = model(phonemes, speaker=speaker, speed=float(speed))
    return outputs["mel"][0].float().cpu(), outputs["durations"][0].cpu()


class _Speaker:
    """Mel -> waveform by the run's vocoder or Griffin-Lim."""

    def __init__(self, run: Run, frontend: MelFrontend, vocoder: str) -> None:
        self.frontend = frontend
        use_model = vocoder == "model" or (vocoder == "auto" and "generator" in run.models)
        if use_model:
            self.generator = fold_weight_norm(run.sampling_model("generator")).to(run.device)
            self.name = f"the run's vocoder ({run.recipe['models']['generator']['name']})"
        else:
            self.generator = None
            self.name = "Griffin-Lim (32 iterations; the run has no vocoder)"
            if "generator" in run.models:
                self.name = "Griffin-Lim (32 iterations, as asked)"
        self.device = run.device
        log.info("text to speech: mel by models.acoustic, waveform by %s", self.name)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:  # (n_mels, T) -> (T * hop,)
        with torch.inference_mode():
            if self.generator is None:
                frames = mel.shape[-1]  # Griffin-Lim's STFT needs a few frames: pad, then cut
                padded = torch.nn.functional.pad(mel, (0, max(0, 4 - frames)), value=-5.0)
                audio = self.frontend.griffin_lim(padded[None]).reshape(-1)
                return audio[: frames * self.frontend.hop]
            return self.generator(mel[None].to(self.device)).float().cpu().reshape(-1)


def _speak_lines(text: str | None, text_file: str | None) -> list[str]:
    if text_file is None:
        return [text if isinstance(text, str) else ("" if text is None else text)]
    path = Path(text_file)
    if not path.is_file():
        raise DataError(f"{path}: no such text file")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise DataError(f"{path}: the text file has no lines to say")
    return lines


def speak(
    writer: WavWriter,
    run: Run,
    out: Path | None,
    text: str | None,
    text_file: str | None,
    voice: str | None,
    speed: float,
    spectrogram: bool,
    vocoder: str,
) -> list[Path]:
    """Text -> wav file(s) (and pngs when ``spectrogram``); see the module docstring."""
    lines = _speak_lines(text, text_file)
    if text_file is not None:
        folder = Path(out) if out is not None else output_path(run, None, "")
        if folder.suffix.lower() == ".wav":
            raise DataError(f"--text-file writes one wav per line: -o names a folder, not {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        targets = [folder / f"{index:03d}.wav" for index in range(1, len(lines) + 1)]
    else:
        target = output_path(run, out, writer.suffix)
        targets = [target if target.suffix.lower() == ".wav" else target.with_suffix(".wav")]
    frontend = writer.frontend
    speaker = None
    written = []
    with run.evaluating(seed=run.generate_seed):
        for line, target in zip(lines, targets):
            mel, durations = text_to_mel(run, line, voice, speed)
            speaker = speaker or _Speaker(run, frontend, vocoder)
            audio = speaker(mel)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = audio.clamp(-1, 1).numpy()
            soundfile.write(str(target), data, frontend.sample_rate, subtype="PCM_16")
            written.append(target)
            log.info(
                "%s: %d phonemes, %d frames (%.2f s)",
                target.name,
                len(durations),
                int(durations.sum()),
                data.size / frontend.sample_rate,
            )
            if spectrogram:
                output_mel = frontend(audio.reshape(1, 1, -1))[0]
                panels = [
                    ("acoustic model: predicted log-mel", mel),
                    (f"log-mel of the audio by {speaker.name}", output_mel),
                ]
                png = writer.spectrogram(panels, target.with_suffix(".png"), frontend)
                if png is not None:
                    written.append(png)
    return written


def write_voices(run: Run, out: Path | None) -> list[Path]:
    """The run's voices, one a line, into ``out`` (default ``<run>/generated/voices.txt``)."""
    _acoustic(run)
    path = Path(out) if out is not None else run.out / "generated" / "voices.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    voices = _voices(run)
    path.write_text("".join(f"{voice}\n" for voice in voices), encoding="utf-8")
    log.info("voices: %s", ", ".join(voices))
    return [path]
