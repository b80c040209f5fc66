"""Speech-vocoder measures the model is not trained on: mel-cepstral distortion, F0 and
voicing errors, and a multi-resolution STFT distance at resolutions off the training loss.

* :func:`mel_cepstrum` / :func:`mel_cepstral_distortion`: the mel-cepstral distortion of
  Kubichek ("Mel-cepstral distance measure for objective speech quality assessment", IEEE
  PACRIM 1993), in dB, as vocoder and TTS papers report it,
  ``(10 / ln 10) * sqrt(2 * sum_{d=1..order} (c_d - c'_d)^2)`` averaged over the frames where
  the reference is not silent. The cepstra are frequency-warped through the first-order
  all-pass ``z~^-1 = (z^-1 - alpha) / (1 - alpha z^-1)`` (Oppenheim & Johnson, "Discrete
  representation of signals", Proc. IEEE 1972; the warping of Fukada et al., "An adaptive
  algorithm for mel-cepstral analysis of speech", ICASSP 1992), with SPTK's all-pass constants.
* :func:`f0_track` / :func:`f0_rmse` / :func:`vuv_error`: YIN (de Cheveigné & Kawahara, "YIN,
  a fundamental frequency estimator for speech and music", JASA 111(4), 2002, sec. II, steps
  2-5) with an energy gate for silence; the F0 RMSE over frames voiced in both signals and the
  fraction of frames whose voiced/unvoiced decision differs.
* :data:`OFF_RESOLUTIONS` / :func:`mrstft_off_distance`: the multi-resolution STFT distance
  (Yamamoto et al. 2020, eq. 6; :func:`genmm_audio.losses.mrstft_distance`) at three
  resolutions that are neither the mel analysis's nor the training loss's.
* :func:`dtw_path` / :func:`aligned_figures`: for speech that is not time-aligned with its
  reference (a text-to-speech model's against the recording of the same sentence), the MCD
  and the F0 figures along the dynamic-time-warping path (Sakoe & Chiba, "Dynamic programming
  algorithm optimization for spoken word recognition", IEEE TASSP 1978, the symmetric steps
  without slope constraint) of the frames' mel-cepstral distances: "MCD with DTW" of TTS papers.

Pure numpy (and torch for the STFT distance); no pyworld, no pysptk.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import Tensor

from genmm_audio.losses import mrstft_distance

Audio = np.ndarray | Tensor

# All-pass constants of the SPTK manual (``mcep``, ``-a``) that approximate the mel scale; rates
# not listed get the least-squares fit of the warped frequency to the mel scale, which is how
# pysptk's ``util.mcepalpha`` computes them (and gives these same figures at 22.05 to 48 kHz).
SPTK_ALPHAS = {
    8000: 0.31,
    10000: 0.35,
    12000: 0.37,
    16000: 0.42,
    22050: 0.455,
    24000: 0.466,
    32000: 0.504,
    44100: 0.544,
    48000: 0.554,
}

# Off-resolution MR-STFT: (n_fft, hop, window), all three different from the mel analysis
# (1024, 256, 1024) and from the training loss's RESOLUTIONS (1024/120/600, 2048/240/1200,
# 512/50/240).
OFF_RESOLUTIONS = [[256, 64, 256], [768, 192, 768], [4096, 1024, 4096]]


def as_signal(audio: Audio) -> np.ndarray:
    """A mono signal as a float64 numpy vector ``(T,)`` (tensors of any shape are flattened)."""
    if isinstance(audio, Tensor):
        audio = audio.detach().cpu().double().numpy()
    return np.asarray(audio, dtype=np.float64).reshape(-1)


def trimmed(reference: Audio, estimate: Audio) -> tuple[np.ndarray, np.ndarray]:
    """Both signals cut to the shorter one's length (they are taken as time-aligned)."""
    reference, estimate = as_signal(reference), as_signal(estimate)
    length = min(reference.size, estimate.size)
    return reference[:length], estimate[:length]


# ----------------------------------------------------------------------------- mel-cepstrum


def warped_frequency(omega: np.ndarray, alpha: float) -> np.ndarray:
    """Phase of the all-pass ``z~^-1`` at ``omega``: ``omega + 2 atan(a sin w / (1 - a cos w))``."""
    return omega + 2 * np.arctan2(alpha * np.sin(omega), 1 - alpha * np.cos(omega))


def mel_alpha(sample_rate: int) -> float:
    """The all-pass constant approximating the mel scale at ``sample_rate``: SPTK's table
    (:data:`SPTK_ALPHAS`: 0.42 at 16 kHz, 0.455 at 22.05 kHz, 0.466 at 24 kHz, 0.544 at
    44.1 kHz), otherwise the alpha in [0, 1) (steps of 0.001) whose normalised warped frequency
    is nearest, in mean square over 1000 points, to the normalised mel scale
    ``log(1 + f / 1000)`` from 0 Hz to Nyquist (the fit of pysptk's ``util.mcepalpha``)."""
    if sample_rate in SPTK_ALPHAS:
        return SPTK_ALPHAS[sample_rate]
    return fitted_alpha(sample_rate)


@lru_cache(maxsize=16)
def fitted_alpha(sample_rate: int, points: int = 1000) -> float:
    """Least-squares fit of the all-pass warping to the mel scale (see :func:`mel_alpha`)."""
    frequency = np.arange(points) * (sample_rate / 2) / points
    mel = np.log1p(frequency / 1000)
    mel = mel / mel[-1]
    omega = np.arange(points) * np.pi / points
    alphas = np.arange(0, 1, 0.001)
    warped = warped_frequency(omega[None, :], alphas[:, None])  # (alphas, points)
    warped = warped / warped[:, -1:]
    return float(round(alphas[np.argmin(((warped - mel) ** 2).mean(axis=1))], 3))


@lru_cache(maxsize=16)
def warping_matrix(bins: int, order: int, alpha: float) -> np.ndarray:
    """``(bins, order + 1)``: log magnitudes on the FFT bins ``omega_k = pi k / (bins - 1)`` to
    the warped cepstrum, ``c~_m = (2 / pi) int_0^pi L(w) cos(m b(w)) b'(w) dw`` (half that for
    ``m = 0``), with ``b`` the warped frequency and ``b'(w) = (1 - a^2) / (1 - 2 a cos w + a^2)``.

    That is the inverse cosine transform of the log spectrum on a uniform *warped* axis
    (``int_0^pi L cos(m b) db``), evaluated on the FFT bins by the change of variable ``b(w)``
    and the trapezoid rule; at ``alpha = 0`` it is exactly twice the real cepstrum
    (``irfft`` of the log magnitude) for ``m >= 1``.
    """
    omega = np.linspace(0.0, np.pi, bins)
    warped = warped_frequency(omega, alpha)
    slope = (1 - alpha**2) / (1 - 2 * alpha * np.cos(omega) + alpha**2)
    weights = np.full(bins, 1.0 / (bins - 1))  # trapezoid: d(omega) / pi, halved at the ends
    weights[[0, -1]] *= 0.5
    quefrency = np.arange(order + 1)
    matrix = (weights * slope)[:, None] * np.cos(warped[:, None] * quefrency[None, :])
    matrix[:, 1:] *= 2  # minimum-phase convention: log|H| = c~_0 + sum_m c~_m cos(m b)
    return matrix


def warped_cepstrum(log_magnitude: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """``(frames, bins) -> (frames, order + 1)``: the warped cepstrum of natural-log magnitudes
    on ``bins`` equally spaced frequencies from 0 to Nyquist (see :func:`warping_matrix`)."""
    return log_magnitude @ warping_matrix(log_magnitude.shape[-1], order, float(alpha))


def frames_of(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``(T,) -> (1 + T // hop, n_fft)`` Hann-windowed frames centred on ``0, hop, 2 hop, ...``,
    reflect-padded by ``n_fft // 2`` (zero-padded when the signal is too short to reflect)."""
    pad = n_fft // 2
    mode = "reflect" if signal.size > pad else "constant"
    padded = np.pad(signal, (pad, pad), mode=mode)
    if padded.size < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.size))
    frames = sliding_window_view(padded, n_fft)[::hop][: 1 + signal.size // hop]
    return frames * np.hanning(n_fft + 1)[:-1]  # periodic Hann, as torch.hann_window


def spectral_frames(
    audio: Audio, n_fft: int = 1024, hop: int = 256, floor_db: float = 100.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(log |X|, frame energy)`` of each frame: ``(frames, n_fft // 2 + 1)`` natural-log
    magnitudes of the periodogram and ``(frames,)`` sums of the squared windowed samples.

    The power is floored ``floor_db`` (100) dB below the signal's loudest bin (and at 1e-30),
    so that digital silence does not reach ``log 0`` and a gain change shifts every log
    magnitude by the same amount."""
    frames = frames_of(as_signal(audio), n_fft, hop)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    floor = max(power.max(initial=0.0) * 10 ** (-floor_db / 10), 1e-30)
    return 0.5 * np.log(np.maximum(power, floor)), (frames**2).sum(axis=-1)


def mel_cepstrum(
    audio: Audio,
    sample_rate: int,
    order: int = 24,
    alpha: float | None = None,
    n_fft: int = 1024,
    hop: int = 256,
) -> np.ndarray:
    """``(T,) -> (frames, order + 1)``: the frequency-warped cepstrum of each frame.

    An approximation, plainly: this is the warped cepstrum of the *periodogram*: each Hann
    frame's natural-log magnitude ``log|X|`` (half the log power spectrum), put on the warped
    frequency axis of the all-pass with constant ``alpha`` (:func:`mel_alpha` of the rate when
    not given), then the inverse cosine transform truncated at ``order``. It is **not** SPTK's
    ``mcep`` (Fukada et al. 1992), which fits the mel-cepstral envelope by an iterative
    (Newton-Raphson) minimisation of an unbiased log-spectral criterion; the coefficients have
    the same convention (``log|H(w)| = sum_m c~_m cos(m b(w))``, so ``c~_m`` for ``m >= 1`` is
    twice the symmetric cepstrum) and the same scale, but distortions computed from them are
    not numerically comparable with published SPTK-based MCD figures.
    """
    alpha = mel_alpha(sample_rate) if alpha is None else alpha
    log_magnitude, _ = spectral_frames(audio, n_fft, hop)
    return warped_cepstrum(log_magnitude, order, alpha)


def mel_cepstral_distortion(
    reference: Audio,
    estimate: Audio,
    sample_rate: int,
    order: int = 24,
    alpha: float | None = None,
    n_fft: int = 1024,
    hop: int = 256,
    silence_db: float = 40.0,
) -> float:
    """Mel-cepstral distortion in dB (Kubichek 1993): per frame
    ``(10 / ln 10) * sqrt(2 * sum_{d=1..order} (c_d - c'_d)^2)`` of the :func:`mel_cepstrum`
    of ``reference`` and ``estimate``, averaged over the frames where the reference is not
    silent: frame energy above zero and within ``silence_db`` (40) dB of the reference's
    loudest frame. ``c_0`` (the frame energy) is excluded, so a gain change does not count.

    The signals are taken as already time-aligned (a vocoder's output of the reference's mel):
    both are cut to the shorter one's length and compared frame by frame, with no dynamic time
    warping. With this scaling the figure is the RMS difference, in dB over the warped
    frequency axis, of the two order-``order`` cepstrally smoothed log spectra. NaN when the
    reference has no loud frame (all zeros).
    """
    reference, estimate = trimmed(reference, estimate)
    alpha = mel_alpha(sample_rate) if alpha is None else alpha
    reference_log, energy = spectral_frames(reference, n_fft, hop)
    estimate_log, _ = spectral_frames(estimate, n_fft, hop)
    difference = warped_cepstrum(reference_log - estimate_log, order, alpha)[:, 1:]
    loud = loud_frames(energy, silence_db)
    if not loud.any():
        return math.nan
    per_frame = 10 / math.log(10) * np.sqrt(2 * (difference[loud] ** 2).sum(axis=-1))
    return float(per_frame.mean())


# ----------------------------------------------------------------------------- F0 by YIN


def f0_track(
    audio: Audio,
    sample_rate: int,
    fmin: float = 60.0,
    fmax: float = 500.0,
    hop: int = 256,
    threshold: float = 0.15,
    silence_db: float = 40.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(f0 in Hz, voiced)``, both ``(1 + T // hop,)``, by YIN (de Cheveigné & Kawahara 2002).

    Frames are centred on ``0, hop, 2 hop, ...`` (zero padding at the ends), lags run from
    ``floor(rate / fmax)`` to ``ceil(rate / fmin)``, the integration window ``W`` is two
    longest periods (33 ms at 60 Hz). Per frame:

    2.   difference function ``d(t) = sum_{j<W} (x_j - x_{j+t})^2``, from the energies and the
         FFT cross-correlation (step 1's autocorrelation);
    3.   cumulative mean normalised difference ``d'(t) = d(t) t / sum_{j=1..t} d(j)``,
         ``d'(0) = 1``;
    4.   absolute threshold: the smallest lag that is a local minimum of ``d'`` below
         ``threshold`` (0.15). Where there is none the frame is *unvoiced* (the paper falls back
         on the global minimum; a vocoder measure needs a voicing decision instead);
    5.   parabolic interpolation of the raw ``d`` around that lag (the paper's unbiased choice).

    An energy gate marks silence unvoiced too: a frame is voiced only if its window energy is
    above zero and within ``silence_db`` (40) dB of the signal's loudest frame. Unvoiced frames
    have ``f0 = 0``. Vectorised over frames (numpy FFTs); step 6 (best local estimate) is left
    out.
    """
    signal = as_signal(audio)
    lag_min = max(2, int(math.floor(sample_rate / fmax)))
    lag_max = max(lag_min + 1, int(math.ceil(sample_rate / fmin)))
    window = 2 * lag_max
    lags = lag_max + 2  # d(0 .. lag_max + 1): one beyond the range for the parabola
    length = window + lags
    count = 1 + signal.size // hop
    padded = np.pad(signal, (length // 2, length + hop))
    frames = sliding_window_view(padded, length)[::hop][:count]  # (N, length)

    size = 1 << int(math.ceil(math.log2(length + window)))
    head = np.fft.rfft(frames[:, :window], size, axis=-1)
    whole = np.fft.rfft(frames, size, axis=-1)
    correlation = np.fft.irfft(np.conj(head) * whole, size, axis=-1)[:, :lags]  # r(t), (N, lags)
    cumulative = np.concatenate(
        [np.zeros((count, 1)), np.cumsum(frames**2, axis=-1)], axis=-1
    )  # (N, length + 1)
    shifted = cumulative[:, window : window + lags] - cumulative[:, :lags]  # sum_{j<W} x_{j+t}^2
    energy = shifted[:, :1]
    difference = np.maximum(energy + shifted - 2 * correlation, 0.0)  # d(t), (N, lags)

    running = np.cumsum(difference[:, 1:], axis=-1)  # sum_{j=1..t} d(j)
    normalised = np.ones_like(difference)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = difference[:, 1:] * np.arange(1, lags) / running
    normalised[:, 1:] = np.where(running > 0, ratio, 1.0)  # d'(t)

    middle = normalised[:, lag_min : lag_max + 1]
    minimum = (middle < normalised[:, lag_min - 1 : lag_max]) & (
        middle <= normalised[:, lag_min + 1 : lag_max + 2]
    )
    candidate = minimum & (middle < threshold)
    found = candidate.any(axis=-1)
    lag = lag_min + np.argmax(candidate, axis=-1)  # (N,)

    rows = np.arange(count)
    before, at, after = (difference[rows, lag + k] for k in (-1, 0, 1))
    curvature = before - 2 * at + after
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature > 0, 0.5 * (before - after) / curvature, 0.0)
    period = lag + np.clip(offset, -1.0, 1.0)

    loudness = energy[:, 0]
    loud = (loudness > 0) & (loudness >= loudness.max(initial=0.0) * 10 ** (-silence_db / 10))
    voiced = found & loud
    f0 = np.where(voiced, sample_rate / period, 0.0)
    return f0, voiced


def f0_figures(
    reference: Audio, estimate: Audio, sample_rate: int, **options: float
) -> dict[str, float]:
    """``f0_rmse`` (Hz) and ``f0_rmse_cents`` over the frames voiced in both signals, and
    ``vuv_error`` (fraction of all frames whose voiced/unvoiced decision differs), from one
    :func:`f0_track` of each (``options`` go to it). The signals are cut to the shorter one's
    length and taken as time-aligned. The two RMSEs are NaN when no frame is voiced in both
    (nothing to compare); the metric layer skips NaN when it averages utterances."""
    reference, estimate = trimmed(reference, estimate)
    reference_f0, reference_voiced = f0_track(reference, sample_rate, **options)
    estimate_f0, estimate_voiced = f0_track(estimate, sample_rate, **options)
    return f0_errors(reference_f0, reference_voiced, estimate_f0, estimate_voiced)


def f0_errors(
    reference_f0: np.ndarray,
    reference_voiced: np.ndarray,
    estimate_f0: np.ndarray,
    estimate_voiced: np.ndarray,
    suffix: str = "",
) -> dict[str, float]:
    """``f0_rmse``, ``f0_rmse_cents`` (NaN when no frame is voiced in both) and
    ``vuv_error`` of frame-paired F0 tracks, each name followed by ``suffix``."""
    both = reference_voiced & estimate_voiced
    figures = {"f0_rmse": math.nan, "f0_rmse_cents": math.nan}
    if both.any():
        error = estimate_f0[both] - reference_f0[both]
        cents = 1200 * np.log2(estimate_f0[both] / reference_f0[both])
        figures["f0_rmse"] = float(np.sqrt(np.mean(error**2)))
        figures["f0_rmse_cents"] = float(np.sqrt(np.mean(cents**2)))
    figures["vuv_error"] = float(np.mean(reference_voiced != estimate_voiced))
    return {name + suffix: value for name, value in figures.items()}


def loud_frames(energy: np.ndarray, silence_db: float) -> np.ndarray:
    """Frames with energy above zero and within ``silence_db`` dB of the loudest."""
    return (energy > 0) & (energy >= energy.max(initial=0.0) * 10 ** (-silence_db / 10))


def f0_rmse(
    reference: Audio, estimate: Audio, sample_rate: int, cents: bool = False, **options: float
) -> float:
    """RMS F0 error over the frames voiced in both, in Hz (in cents with ``cents=True``);
    NaN when no frame is voiced in both. See :func:`f0_figures`."""
    figures = f0_figures(reference, estimate, sample_rate, **options)
    return figures["f0_rmse_cents" if cents else "f0_rmse"]


def vuv_error(reference: Audio, estimate: Audio, sample_rate: int, **options: float) -> float:
    """Fraction of frames whose voiced/unvoiced decision differs. See :func:`f0_figures`."""
    return f0_figures(reference, estimate, sample_rate, **options)["vuv_error"]


# ----------------------------------------------------------------------------- off-resolution


def mrstft_off_distance(
    reference: Audio, estimate: Audio, resolutions: list[list[int]] | None = None
) -> float:
    """Multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged over
    resolutions; Yamamoto et al. 2020, eq. 6) at :data:`OFF_RESOLUTIONS`: (256, 64, 256),
    (768, 192, 768), (4096, 1024, 4096).

    Why off-resolution: the ``mrstft`` figure uses the very resolutions the training loss
    optimises (1024/120/600, 2048/240/1200, 512/50/240), and Griffin-Lim iterates towards a
    signal whose STFT at the mel analysis's resolution (1024, 256, 1024) matches its target, so
    each baseline is scored on ground it was fitted to. These three resolutions are neither: a
    short 11.6 ms window (onsets, transients), a 35 ms one on a grid not aligned to the mel
    frames, and a long 186 ms one (5.4 Hz bins: harmonics and pitch) at 22,050 Hz. Resolutions
    whose half FFT size is not shorter than the signal (reflect padding) are skipped; NaN when
    none is left.
    """
    reference, estimate = trimmed(reference, estimate)
    length = reference.size
    usable = [list(r) for r in (resolutions or OFF_RESOLUTIONS) if r[0] // 2 < length]
    if not usable:
        return math.nan
    real = torch.from_numpy(reference).float()[None, None]  # (1, 1, T)
    fake = torch.from_numpy(estimate).float()[None, None]
    return float(mrstft_distance(real, fake, usable))


# ----------------------------------------------------------------------------- DTW-aligned


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The monotonic path from ``(0, 0)`` to ``(N-1, M-1)`` through an ``(N, M)`` cost matrix,
    with steps (1, 0), (0, 1), (1, 1), whose summed cost is least: ``(rows, columns)``.

    Row by row, ``D[i, j] = c[i, j] + min(D[i-1, j], D[i-1, j-1], D[i, j-1])``; the within-row
    term is solved at once: with ``a[j] = c[i, j] + min(D[i-1, j], D[i-1, j-1])`` and ``S`` the
    running sum of row ``i``'s costs, ``D[i, j] = S[j] + min_{k <= j} (a[k] - S[k])``. Ties go
    to the diagonal, then to the row above."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or 0 in cost.shape:
        raise ValueError(f"dtw_path needs a non-empty 2-D cost matrix, got shape {cost.shape}")
    rows, columns = cost.shape
    total = np.empty_like(cost)
    total[0] = np.cumsum(cost[0])
    for i in range(1, rows):
        above = total[i - 1]
        best = np.minimum(above, np.concatenate(([np.inf], above[:-1])))  # from (i-1, j|j-1)
        running = np.cumsum(cost[i])
        total[i] = running + np.minimum.accumulate(cost[i] + best - running)
    i, j, path = rows - 1, columns - 1, [(rows - 1, columns - 1)]
    while i or j:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            steps = (total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
            move = int(np.argmin(steps))
            i, j = (i - 1, j - 1) if move == 0 else (i - 1, j) if move == 1 else (i, j - 1)
        path.append((i, j))
    path.reverse()
    return np.array([p[0] for p in path]), np.array([p[1] for p in path])


def aligned_figures(
    reference: Audio,
    estimate: Audio,
    sample_rate: int,
    order: int = 24,
    n_fft: int = 1024,
    hop: int = 256,
    silence_db: float = 40.0,
    **f0_options: float,
) -> dict[str, float]:
    """MCD, F0 RMSE (Hz and cents) and V/UV error of ``estimate`` against ``reference`` along
    the :func:`dtw_path` of their frames' Kubichek distances (c_1..c_order of
    :func:`mel_cepstrum`, c_0 excluded as in :func:`mel_cepstral_distortion`):
    ``mcd_dtw`` is the mean distance over the path's pairs whose reference frame is not silent
    (the same energy gate), the F0 figures compare each pair's YIN F0 (the same frames: hop
    ``hop``). The signals may differ in length. NaN where nothing is left to compare."""
    reference, estimate = as_signal(reference), as_signal(estimate)
    alpha = mel_alpha(sample_rate)
    reference_log, energy = spectral_frames(reference, n_fft, hop)
    estimate_log, _ = spectral_frames(estimate, n_fft, hop)
    reference_cepstra = warped_cepstrum(reference_log, order, alpha)[:, 1:]
    estimate_cepstra = warped_cepstrum(estimate_log, order, alpha)[:, 1:]
    difference = reference_cepstra[:, None, :] - estimate_cepstra[None, :, :]  # (N, M, order)
    distance = 10 / math.log(10) * np.sqrt(2 * (difference**2).sum(axis=-1))
    rows, columns = dtw_path(distance)
    kept = loud_frames(energy, silence_db)[rows]
    figures = {"mcd_dtw": float(distance[rows, columns][kept].mean()) if kept.any() else math.nan}
    reference_f0, reference_voiced = f0_track(reference, sample_rate, hop=hop, **f0_options)
    estimate_f0, estimate_voiced = f0_track(estimate, sample_rate, hop=hop, **f0_options)
    rows = np.minimum(rows, len(reference_f0) - 1)
    columns = np.minimum(columns, len(estimate_f0) - 1)
    paired = (reference_f0[rows], reference_voiced[rows], estimate_f0[columns])
    return figures | f0_errors(*paired, estimate_voiced[columns], suffix="_dtw")
