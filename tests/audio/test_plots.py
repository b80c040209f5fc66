"""The matplotlib pictures: spectrogram and learning-curve figures, and the writer's png."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from genmm_audio import plots, writers
from genmm_audio.frontend import MelFrontend, mel_filterbank
from genmm_audio.plots import (
    PlotsUnavailable,
    draw_learning_curves,
    draw_spectrograms,
    learning_curve_figure,
    mel_ticks,
    spectrogram_figure,
)
from genmm_audio.writers import WavWriter

PANELS = [
    ("input: log-mel of the recording", torch.linspace(-6, 1, 80 * 30).reshape(80, 30)),
    ("output: log-mel of the vocoded audio", torch.zeros(80, 25) - 2),
]
CURVES = {
    "melgan": [(1.0, {"mel_l1": 1.2, "stoi": 0.6}), (2.0, {"mel_l1": 0.9}), (3.0, {"stoi": 0.8})],
    "hifigan": [(1.5, {"mel_l1": 1.0, "stoi": 0.7}), (3.0, {"mel_l1": 0.7, "stoi": 0.85})],
}
FIGURES = [("mel_l1", "log10-mel L1 (decades)", False), ("stoi", "STOI (0-1)", True)]


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Imports of matplotlib (and any of its modules already loaded) fail, as when missing."""
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_spectrogram_figure_has_titled_panels_axes_in_seconds_and_hz_and_a_colour_bar():
    figure = draw_spectrograms(PANELS, sample_rate=22050, hop=256, title="a chirp")
    panels, colour_bar = figure.axes[:2], figure.axes[2:]
    assert len(figure.axes) == 3 and len(colour_bar) == 1
    assert [axis.get_title() for axis in panels] == [name for name, _ in PANELS]
    assert panels[-1].get_xlabel() == "time (s)"
    assert all(axis.get_ylabel() == "frequency (Hz)" for axis in panels)
    assert colour_bar[0].get_ylabel() == "log10 magnitude"
    assert figure.get_suptitle() == "a chirp"
    # one colour scale for both panels, 5 decades below the loudest bin
    assert [axis.images[0].get_clim() for axis in panels] == [(-4.0, 1.0)] * 2
    # time runs to frames * hop / rate seconds
    assert panels[0].images[0].get_extent()[:2] == pytest.approx([0.0, 30 * 256 / 22050])


def test_frequency_ticks_sit_on_the_mel_bins_centres():
    """Each tick's Hz label matches the filterbank's peak frequencies at its bin position."""
    for rate, n_mels, fmin, fmax in [(22050, 80, 0.0, None), (16000, 40, 80.0, 7600.0)]:
        basis = mel_filterbank(rate, 1024, n_mels, fmin, fmax)
        peaks = basis.argmax(dim=1).double().numpy() * rate / 1024  # (n_mels,) Hz
        positions, labels = mel_ticks(n_mels, rate, fmin, fmax)
        assert len(positions) >= 4 and all(-0.5 <= p <= n_mels - 0.5 for p in positions)
        for position, label in zip(positions, labels):
            assert np.interp(position, np.arange(n_mels), peaks) == pytest.approx(
                float(label), abs=30.0
            )


def test_spectrogram_png_opens(tmp_path):
    path = spectrogram_figure(PANELS, tmp_path / "a" / "spec.png", sample_rate=22050, hop=256)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] == 800 and 400 <= image.size[1] <= 700


def test_learning_curves_have_a_subplot_per_figure_a_legend_and_the_baseline():
    baseline = {"mel_l1": 1.5, "stoi": 0.5}
    figure = draw_learning_curves(CURVES, baseline, FIGURES, title="vocoders")
    assert len(figure.axes) == 2 and figure.get_suptitle() == "vocoders"
    for axis, (key, label, higher) in zip(figure.axes, FIGURES):
        assert axis.get_title() == f"{key} ({'higher' if higher else 'lower'} is better)"
        assert axis.get_xlabel() == "training time (min)" and axis.get_ylabel() == label
        legend = axis.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == [
            "melgan",
            "hifigan",
            "Griffin-Lim (32 iterations)",
        ]
        melgan, hifigan, griffin_lim = axis.get_lines()
        assert melgan.get_marker() == "o" and griffin_lim.get_linestyle() == "--"
        assert list(griffin_lim.get_ydata()) == [baseline[key]] * 2
    # points lacking a figure are skipped: melgan has mel_l1 at 1 and 2 min, stoi at 1 and 3
    mel_l1, stoi = (axis.get_lines()[0] for axis in figure.axes)
    assert list(mel_l1.get_xdata()) == [1.0, 2.0] and list(stoi.get_xdata()) == [1.0, 3.0]
    assert mel_l1.get_color() == stoi.get_color()  # a design keeps its colour


def test_learning_curve_png_opens(tmp_path):
    path = learning_curve_figure(CURVES, {}, FIGURES[:1], tmp_path / "curves.png", title="t")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] >= 400 and image.size[1] >= 300


def test_the_writer_draws_on_its_front_ends_axes(tmp_path, chirp, monkeypatch):
    calls = []
    monkeypatch.setattr(
        writers, "spectrogram_figure", lambda panels, path, **axes: calls.append(axes) or path
    )
    description = {"sample_rate": 16000, "n_mels": 40, "hop": 200, "win": 800, "fmin": 80.0}
    writer = WavWriter(description=description)
    audio = torch.from_numpy(chirp(0.5, 16000))[None]
    writer.write([audio], tmp_path / "out", conditions=[torch.zeros(40, 40)])
    assert calls[0]["sample_rate"] == 16000 and calls[0]["hop"] == 200
    assert calls[0]["fmin"] == 80.0 and calls[0]["fmax"] is None


def test_without_matplotlib_the_writer_writes_wavs_and_warns_once(
    tmp_path, chirp, no_matplotlib, caplog
):
    with pytest.raises(PlotsUnavailable, match=r"pip install 'genmm\[plots\]'"):
        plots.new_figure(1.0, 1.0)
    assert issubclass(PlotsUnavailable, ImportError)
    frontend = MelFrontend()
    audio = torch.from_numpy(chirp(0.3, 22050))[None]
    writer = WavWriter()
    with caplog.at_level(logging.WARNING, logger="genmm_audio.writers"):
        first = writer.write([audio, audio], tmp_path / "a", 22050, frontend)
        second = writer.write([audio], tmp_path / "b", 22050, frontend)
    assert [p.name for p in first + second] == ["a-0.wav", "a-1.wav", "b.wav"]
    assert soundfile.read(str(second[0]))[1] == 22050
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "genmm[plots]" in warnings[0].getMessage()
