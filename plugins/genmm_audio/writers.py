"""``audio.wav``: waveforms as wav (soundfile) plus a png of the input and output log-mels.

The png (:func:`genmm_audio.plots.spectrogram_figure`) needs matplotlib, the ``plots`` extra;
without it the wav files are still written and one warning names the extra.

``genmm generate runs/speech --wav in.wav -o out.wav`` resynthesises a recording through the
vocoder (its log-mel, then the generator); ``--mel file.npy`` vocodes a saved log-mel
(``(n_mels, N)`` or ``(1, n_mels, N)``, log10 magnitude as the front end computes it).
The front end (sample rate, mel settings) is rebuilt from the data's ``description``, which the
checkpoint keeps: ``genmm generate`` builds no data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    ) -> list[Path]:
        """``--wav FILE``: resynthesise a recording; ``--mel FILE.npy``: vocode a log-mel."""
        if (wav is None) == (mel is None):
            raise DataError("genmm generate for a vocoder needs exactly one of --wav or --mel")
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
