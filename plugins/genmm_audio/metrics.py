"""Vocoder quality on held-out utterances, always beside the Griffin-Lim baseline.

For each held-out utterance the reference log-mel is vocoded by the (folded) generator and by
Griffin-Lim (32 iterations from the non-negative least-squares inverse mel); both are compared
with the reference audio:

* ``mel_l1``: mean absolute difference of log10 mels (the MelGAN paper's reconstruction error);
* ``mrstft``: multi-resolution STFT distance (Yamamoto et al. 2020, eq. 6);
* ``stoi``: short-time objective intelligibility (Taal et al. 2011, ``pystoi``), when installed;
* ``pesq``: wide-band PESQ (ITU-T P.862.2, ``pesq``) at 16 kHz, when installed;
* ``mcd``: mel-cepstral distortion in dB (Kubichek 1993) over the reference's non-silent
  frames, from warped cepstra of the periodogram (:mod:`genmm_audio.measures`, not SPTK's mcep);
* ``f0``: ``f0_rmse`` (Hz) and ``f0_rmse_cents`` over frames voiced in both, and ``vuv_error``
  (fraction of frames whose voicing differs), by YIN (de Cheveigné & Kawahara 2002);
* ``mrstft_off``: the multi-resolution STFT distance at resolutions neither the training loss
  nor Griffin-Lim's analysis uses (``measures.OFF_RESOLUTIONS``);
* ``synthesis_khz`` / ``real_time_factor``: generator speed on this machine.

Griffin-Lim figures carry the suffix ``_griffin_lim`` and are computed once per metric and
held-out set. A figure that is NaN for an utterance (an F0 RMSE with no frame voiced in both)
is left out of that figure's average, and a figure that is NaN for every utterance is left out.
The utterances are the first ``utterances`` items of the data's ``held_out_set(max_seconds)``
(whole held-out utterances, cut to ``max_seconds``); the front end that scores them is built
from the data's ``description``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from genmm.errors import DataError
from genmm.metrics import Metric
from genmm_audio.data import frontend_from_description
from genmm_audio.frontend import resample
from genmm_audio.generator import fold_weight_norm
from genmm_audio.losses import mrstft_distance
from genmm_audio.measures import f0_figures, mel_cepstral_distortion, mrstft_off_distance

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run

log = logging.getLogger(__name__)

MEASURES = ("mel_l1", "mrstft", "stoi", "pesq", "mcd", "f0", "mrstft_off", "speed")
Measure = Literal["mel_l1", "mrstft", "stoi", "pesq", "mcd", "f0", "mrstft_off", "speed"]


def held_out_items(run: Run, count: int, max_seconds: float | None, who: str):
    """The first ``count`` items of the live data's ``held_out_set(max_seconds)``."""
    dataset = run.dataset
    if dataset is None or not callable(getattr(dataset, "held_out_set", None)):
        raise DataError(f"{who} needs speech data with held-out utterances (audio.speech)")
    held = dataset.held_out_set(max_seconds)
    if len(held) == 0:
        raise DataError(f"{who} needs held-out utterances: set data.held_out above 0")
    ids = list(getattr(held, "ids", range(len(held))))
    chosen = range(min(count, len(held)))
    return [ids[i] for i in chosen], [held[i] for i in chosen]


def stoi_score(reference: torch.Tensor, estimate: torch.Tensor, rate: int) -> float | None:
    try:
        from pystoi import stoi
    except ImportError:
        return None
    return float(stoi(reference.numpy(), estimate.numpy(), rate, extended=False))


def pesq_score(reference: torch.Tensor, estimate: torch.Tensor, rate: int) -> float | None:
    try:
        from pesq import pesq
    except ImportError:
        return None
    reference16 = resample(reference.double(), rate, 16000).numpy()
    estimate16 = resample(estimate.double(), rate, 16000).numpy()
    try:
        return float(pesq(16000, reference16, estimate16, "wb"))
    except Exception as error:  # pesq raises on silent or too short signals
        log.warning("pesq failed: %s", error)
        return None


def score(frontend, reference: torch.Tensor, estimate: torch.Tensor, measures) -> dict[str, float]:
    """Figures of one utterance: ``reference`` and ``estimate`` are ``(1, T)``."""
    length = min(reference.shape[-1], estimate.shape[-1])
    reference, estimate = reference[..., :length], estimate[..., :length]
    figures: dict[str, float] = {}
    if "mel_l1" in measures:
        figures["mel_l1"] = float(
            (frontend(reference[None]) - frontend(estimate[None])).abs().mean()
        )
    if "mrstft" in measures:
        figures["mrstft"] = float(mrstft_distance(reference[None], estimate[None]))
    rate = frontend.sample_rate
    if "stoi" in measures:
        value = stoi_score(reference[0], estimate[0], rate)
        if value is not None:
            figures["stoi"] = value
    if "pesq" in measures:
        value = pesq_score(reference[0], estimate[0], rate)
        if value is not None:
            figures["pesq"] = value
    if "mcd" in measures:
        figures["mcd"] = mel_cepstral_distortion(reference[0], estimate[0], rate)
    if "f0" in measures:
        figures.update(f0_figures(reference[0], estimate[0], rate))
    if "mrstft_off" in measures:
        figures["mrstft_off"] = mrstft_off_distance(reference[0], estimate[0])
    return figures


def average(rows: list[dict[str, float]], suffix: str = "") -> dict[str, float]:
    """Mean of each figure over the rows that have it, NaN values skipped; a figure with no
    finite value in any row is left out."""
    keys = sorted({key for row in rows for key in row})
    means = {}
    for key in keys:
        values = [row[key] for row in rows if key in row and not math.isnan(row[key])]
        if values:
            means[f"{key}{suffix}"] = float(np.mean(values))
    return means


class VocoderQuality(Metric):
    """``mel_l1``, ``mrstft``, ``stoi``, ``pesq``, ``mcd``, ``f0`` and ``mrstft_off`` of the model
    and of Griffin-Lim, and speed."""

    def __init__(
        self,
        measures: list[Measure] | None = None,
        utterances: int = 8,
        max_seconds: float = 4.0,
        griffin_lim: bool = True,
        griffin_lim_iterations: int = 32,
        description: dict[str, Any] | None = None,
    ) -> None:
        self.measures = list(measures or MEASURES)
        unknown = sorted(set(self.measures) - set(MEASURES))
        if unknown:
            raise ValueError(f"unknown measures {unknown} (valid: {', '.join(MEASURES)})")
        self.utterances = utterances
        self.max_seconds = max_seconds
        self.griffin_lim = griffin_lim
        self.griffin_lim_iterations = griffin_lim_iterations
        self.frontend = frontend_from_description(description)
        self.cache: dict[Any, dict[str, float]] = {}  # Griffin-Lim figures, computed once

    def __call__(self, run: Run) -> dict[str, float]:
        frontend = self.frontend
        ids, items = held_out_items(run, self.utterances, self.max_seconds, "audio.quality")
        generator = fold_weight_norm(run.sampling_model("generator"))
        rows, seconds, samples = [], 0.0, 0
        for item in items:
            audio, mel = item["real"], item["condition"][None]  # (1, T), (1, n_mels, N)
            started = time.perf_counter()
            with torch.inference_mode():
                output = generator(mel.to(run.device)).cpu()[0]  # (1, T)
            seconds += time.perf_counter() - started
            samples += output.shape[-1]
            rows.append(score(frontend, audio, output, self.measures))
        results = average(rows)
        if "speed" in self.measures and seconds > 0:
            results["synthesis_khz"] = samples / seconds / 1000
            results["real_time_factor"] = samples / frontend.sample_rate / seconds
        if self.griffin_lim:
            results.update(self.baseline(ids, items))
        return results

    def baseline(self, ids: list[Any], items: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        """Griffin-Lim figures on the same mels, computed once per held-out set."""
        key = (tuple(ids), tuple(int(item["real"].shape[-1]) for item in items))
        if key not in self.cache:
            frontend = self.frontend
            rows = []
            for item in items:
                audio, mel = item["real"], item["condition"][None]
                output = frontend.griffin_lim(mel, self.griffin_lim_iterations)[0]
                measures = [m for m in self.measures if m != "speed"]
                rows.append(score(frontend, audio, output, measures))
            self.cache[key] = average(rows, "_griffin_lim")
        return dict(self.cache[key])


def single(measure: str, doc: str) -> type[VocoderQuality]:
    class One(VocoderQuality):
        def __init__(
            self,
            utterances: int = 8,
            max_seconds: float = 4.0,
            griffin_lim: bool = True,
            griffin_lim_iterations: int = 32,
            description: dict[str, Any] | None = None,
        ) -> None:
            super().__init__(
                [measure], utterances, max_seconds, griffin_lim, griffin_lim_iterations, description
            )

    One.__doc__ = doc
    One.__name__ = One.__qualname__ = f"Vocoder_{measure}"
    return One


MelL1 = single("mel_l1", "Held-out log-mel L1 of the model and of Griffin-Lim.")
MRSTFTDistance = single("mrstft", "Held-out multi-resolution STFT distance, model and GL.")
STOI = single("stoi", "Held-out STOI (pystoi) of the model and of Griffin-Lim.")
PESQ = single("pesq", "Held-out wide-band PESQ (pesq) of the model and of Griffin-Lim.")
MCD = single("mcd", "Held-out mel-cepstral distortion (dB) of the model and of Griffin-Lim.")
F0 = single("f0", "Held-out F0 RMSE (Hz, cents) and voicing error (YIN), model and GL.")
MRSTFTOff = single("mrstft_off", "Held-out off-resolution MR-STFT distance, model and GL.")
Speed = single("speed", "Synthesis speed (kHz, real-time factor) on held-out mels.")
