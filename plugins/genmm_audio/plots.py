"""Pictures for people: log-mel spectrograms and learning curves, drawn with matplotlib (Agg).

matplotlib is the optional ``plots`` extra (``pip install 'genmm[plots]'``) and is imported only
inside the functions here; without it they raise :class:`PlotsUnavailable` (an ``ImportError``)
saying so. Figures are built on matplotlib's ``Figure`` with an explicit Agg canvas, never
through ``pyplot``, so drawing one neither opens a window nor touches a caller's own figures.

* :func:`spectrogram_figure`: log10-mels ``(n_mels, N)`` one per row, time in seconds, the mel
  bins labelled by their centre frequency in Hz (Slaney mel scale), one shared colour scale.
* :func:`learning_curve_figure`: quality figures against training minutes, one subplot per
  figure, one line per design, the non-learned baseline as a dashed line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from genmm_audio.frontend import hz_to_mel, mel_to_hz

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'genmm[plots]'"
DYNAMIC_RANGE = 5.0  # decades of log10 magnitude shown below the maximum (100 dB)
# tick candidates for the frequency axis, in Hz; those inside the mel range are used
FREQUENCY_TICKS = (0, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000)


class PlotsUnavailable(ImportError):
    """matplotlib, the ``plots`` extra, is not installed."""


def new_figure(width: float, height: float) -> Figure:
    """An empty matplotlib Figure on an Agg canvas; :class:`PlotsUnavailable` without it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise PlotsUnavailable(f"drawing plots needs matplotlib: {INSTALL_HINT} ({error})")
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


# ----------------------------------------------------------------------------- spectrograms


def mel_ticks(
    n_mels: int, sample_rate: int, fmin: float, fmax: float | None
) -> tuple[list[float], list[str]]:
    """Positions (fractional mel-bin indices) and Hz labels for a log-mel's frequency axis.

    Bin ``i``'s centre lies at ``mel(fmin) + (i + 1) * step`` mels, ``step`` being the mel range
    over ``n_mels + 1`` (the filterbank's triangle edges), so a frequency ``f`` sits at index
    ``(mel(f) - mel(fmin)) / step - 1``.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    low, high = float(hz_to_mel(fmin)), float(hz_to_mel(fmax))
    step = (high - low) / (n_mels + 1)
    positions, labels = [], []
    for frequency in FREQUENCY_TICKS:
        index = (float(hz_to_mel(frequency)) - low) / step - 1
        if -0.5 <= index <= n_mels - 0.5:
            positions.append(index)
            labels.append(f"{frequency:g}")
    if len(positions) < 3:  # a narrow band: label a few bin centres instead
        indices = np.linspace(0, n_mels - 1, min(n_mels, 5)).round().astype(int)
        centres = mel_to_hz(torch.tensor(low + (indices + 1) * step))
        positions = [float(i) for i in indices]
        labels = [f"{float(c):.0f}" for c in centres]
    return positions, labels


def as_log_mel(mel: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(mel, Tensor):
        mel = mel.detach().float().cpu().numpy()
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.ndim != 2:
        raise ValueError(f"a log-mel panel must be (n_mels, frames), got shape {mel.shape}")
    return mel


def draw_spectrograms(
    panels: list[tuple[str, Tensor]],
    *,
    sample_rate: int,
    hop: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    title: str | None = None,
) -> Figure:
    """The Figure :func:`spectrogram_figure` saves: one axes per panel, then the colour bar."""
    if not panels:
        raise ValueError("spectrogram_figure needs at least one panel")
    mels = [(name, as_log_mel(mel)) for name, mel in panels]
    high = max(float(np.nanmax(mel)) for _, mel in mels)
    low = max(min(float(np.nanmin(mel)) for _, mel in mels), high - DYNAMIC_RANGE)
    seconds_per_frame = hop / sample_rate
    figure = new_figure(8.0, 0.8 + 2.2 * len(mels))
    axes = figure.subplots(len(mels), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    for axis, (name, mel) in zip(axes, mels):
        n_mels, frames = mel.shape
        image = axis.imshow(
            mel,
            origin="lower",  # low frequencies at the bottom
            aspect="auto",
            interpolation="nearest",
            cmap="viridis",
            vmin=low,
            vmax=high,
            extent=(0.0, frames * seconds_per_frame, -0.5, n_mels - 0.5),
        )
        positions, labels = mel_ticks(n_mels, sample_rate, fmin, fmax)
        axis.set_yticks(positions, labels)
        axis.set_ylabel("frequency (Hz)")
        axis.set_title(name)
    axes[-1].set_xlabel("time (s)")
    figure.colorbar(image, ax=list(axes), label="log10 magnitude")
    if title:
        figure.suptitle(title)
    return figure


def spectrogram_figure(
    panels: list[tuple[str, Tensor]],
    path: str | Path,
    *,
    sample_rate: int,
    hop: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    title: str | None = None,
) -> Path:
    """A png of log10-mels ``(n_mels, N)``, one titled row each: time in seconds
    (``frames * hop / sample_rate``), frequency in Hz at the Slaney mel bins' centres, one colour
    scale for all panels spanning at most 5 decades (100 dB) below the loudest bin."""
    figure = draw_spectrograms(
        panels, sample_rate=sample_rate, hop=hop, fmin=fmin, fmax=fmax, title=title
    )
    return save(figure, path)


# ----------------------------------------------------------------------------- learning curves


def draw_learning_curves(
    curves: dict[str, list[tuple[float, dict[str, float]]]],
    baseline: dict[str, float],
    figures: list[tuple[str, str, bool]],
    *,
    title: str,
    baseline_label: str = "Griffin-Lim (32 iterations)",
) -> Figure:
    """The Figure :func:`learning_curve_figure` saves: one axes per entry of ``figures``."""
    if not figures:
        raise ValueError("learning_curve_figure needs at least one figure to draw")
    columns = min(2, len(figures))
    rows = math.ceil(len(figures) / columns)
    figure = new_figure(5.0 * columns, 0.6 + 3.4 * rows)
    grid = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for axis in grid[len(figures) :]:
        axis.remove()
    for axis, (key, label, higher_is_better) in zip(grid, figures):
        for number, (design, points) in enumerate(curves.items()):
            kept = [(minutes, values[key]) for minutes, values in points if key in values]
            if kept:  # a design keeps its colour in every subplot
                minutes, values = zip(*kept)
                axis.plot(minutes, values, marker="o", color=f"C{number % 10}", label=design)
        if key in baseline:
            axis.axhline(baseline[key], linestyle="--", color="grey", label=baseline_label)
        direction = "higher" if higher_is_better else "lower"
        axis.set_title(f"{key} ({direction} is better)")
        axis.set_xlabel("training time (min)")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
        else:
            axis.text(0.5, 0.5, "no points", ha="center", va="center", transform=axis.transAxes)
    figure.suptitle(title)
    return figure


def learning_curve_figure(
    curves: dict[str, list[tuple[float, dict[str, float]]]],
    baseline: dict[str, float],
    figures: list[tuple[str, str, bool]],
    path: str | Path,
    *,
    title: str,
    baseline_label: str = "Griffin-Lim (32 iterations)",
) -> Path:
    """A png of quality against training time: ``curves[design]`` is a list of ``(minutes,
    {figure: value})``; ``figures`` lists ``(figure key, axis label with unit,
    higher_is_better)``, one subplot each, with ``baseline[key]`` (when given) as a dashed
    line. Points lacking a figure are left out of that subplot."""
    drawn = draw_learning_curves(
        curves, baseline, figures, title=title, baseline_label=baseline_label
    )
    return save(drawn, path)
