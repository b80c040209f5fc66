"""Mel-cepstral distortion, YIN F0 / voicing errors and the off-resolution MR-STFT distance
against hand-computed values, and their figures in the vocoder-quality metric."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from genmm_audio.data import SpeechDataset
from genmm_audio.losses import RESOLUTIONS
from genmm_audio.measures import (
    OFF_RESOLUTIONS,
    aligned_figures,
    dtw_path,
    f0_rmse,
    f0_track,
    fitted_alpha,
    mel_alpha,
    mel_cepstral_distortion,
    mel_cepstrum,
    mrstft_off_distance,
    spectral_frames,
    vuv_error,
    warped_cepstrum,
    warped_frequency,
)
from genmm_audio.metrics import F0, MCD, MEASURES, MRSTFTOff, VocoderQuality, average

RATE = 22050
DB = 10 / math.log(10)  # natural-log cepstrum to dB in the MCD formula


def harmonic(frequency: float, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Four harmonics of ``frequency`` with amplitudes 0.3 / k."""
    t = np.arange(int(seconds * rate)) / rate
    return sum(0.3 / k * np.sin(2 * math.pi * k * frequency * t) for k in range(1, 5))


@pytest.fixture
def noise() -> np.ndarray:
    return 0.1 * np.random.default_rng(0).standard_normal(RATE)  # 1 s of white noise


def test_all_pass_constants_follow_the_sptk_table():
    assert [mel_alpha(r) for r in (16000, 22050, 24000, 44100)] == [0.42, 0.455, 0.466, 0.544]
    # the least-squares mel fit gives the table's figures where the table took them from it
    assert [fitted_alpha(r) for r in (22050, 24000, 44100, 48000)] == [0.455, 0.466, 0.544, 0.554]
    assert mel_alpha(11025) == fitted_alpha(11025) == 0.357


def test_warped_cepstrum_of_a_constructed_log_spectrum():
    # log|X(w)| = 0.3 + 0.5 cos(b(w)) - 0.2 cos(3 b(w)) on the warped axis b: the warped
    # cepstrum is exactly (0.3, 0.5, 0, -0.2, 0, ...)
    alpha = 0.455
    beta = warped_frequency(np.linspace(0, math.pi, 513), alpha)
    log_magnitude = 0.3 + 0.5 * np.cos(beta) - 0.2 * np.cos(3 * beta)
    cepstrum = warped_cepstrum(log_magnitude[None], 24, alpha)[0]
    expected = np.zeros(25)
    expected[[0, 1, 3]] = [0.3, 0.5, -0.2]
    assert np.allclose(cepstrum, expected, atol=1e-9)
    # their MCD is the RMS dB difference over the warped axis: (20 / ln 10) * 0.5 / sqrt(2)
    other = warped_cepstrum((0.3 - 0.2 * np.cos(3 * beta))[None], 24, alpha)[0]
    distance = DB * math.sqrt(2 * np.sum((cepstrum[1:] - other[1:]) ** 2))
    assert distance == pytest.approx(20 / math.log(10) * 0.5 / math.sqrt(2), abs=1e-8)
    assert distance == pytest.approx(3.0709, abs=1e-4)


def test_unwarped_cepstrum_is_twice_the_real_cepstrum(noise):
    # alpha = 0: c~_0 = irfft(log|X|)[0], c~_m = 2 irfft(log|X|)[m]
    cepstrum = mel_cepstrum(noise, RATE, order=24, alpha=0.0)
    log_magnitude, _ = spectral_frames(noise)
    real = np.fft.irfft(log_magnitude, 1024, axis=-1)
    assert cepstrum.shape == (1 + RATE // 256, 25)
    assert np.allclose(cepstrum[:, 0], real[:, 0], atol=1e-12)
    assert np.allclose(cepstrum[:, 1:], 2 * real[:, 1:25], atol=1e-12)


def test_mcd_of_a_signal_with_itself_is_zero(noise):
    assert mel_cepstral_distortion(noise, noise.copy(), RATE) == 0.0


def test_mcd_ignores_a_gain_change(noise):
    # a gain only moves c0, which the distortion leaves out
    other = noise + 0.05 * np.random.default_rng(1).standard_normal(noise.size)
    distance = mel_cepstral_distortion(noise, other, RATE)
    assert distance > 1.0
    assert mel_cepstral_distortion(noise, 0.25 * noise, RATE) == pytest.approx(0.0, abs=1e-6)
    assert mel_cepstral_distortion(noise, 3.0 * other, RATE) == pytest.approx(distance, abs=1e-6)


def test_mcd_is_the_formula_on_the_mel_cepstra(noise):
    # filtered noise: loud in every frame, so every frame counts
    estimate = np.convolve(noise, [1.0, 0.6, -0.3], mode="same")
    reference_cepstrum = mel_cepstrum(noise, RATE)
    estimate_cepstrum = mel_cepstrum(estimate, RATE)
    difference = reference_cepstrum[:, 1:] - estimate_cepstrum[:, 1:]  # c0 excluded
    by_hand = np.mean(10 / np.log(10) * np.sqrt(2 * np.sum(difference**2, axis=1)))
    assert mel_cepstral_distortion(noise, estimate, RATE) == pytest.approx(by_hand, rel=1e-9)
    # frames where the reference is silent (more than 40 dB down) do not count
    quiet = noise.copy()
    quiet[RATE // 2 :] *= 1e-3  # -60 dB
    # frame i's Hann window spans samples 256 i - 512 .. 256 i + 511; the loud half ends at
    # 11025: frame 44 still holds 273 loud samples on its rising edge (-13 dB of a loud frame),
    # frame 45 only 17 (-72.5 dB) beside the -60 dB rest, so frames 0-44 count
    loud_frames = slice(0, 45)
    partial = mel_cepstral_distortion(quiet, estimate, RATE)
    reference_cepstrum = mel_cepstrum(quiet, RATE)
    difference = reference_cepstrum[loud_frames, 1:] - estimate_cepstrum[loud_frames, 1:]
    by_hand = np.mean(DB * np.sqrt(2 * np.sum(difference**2, axis=1)))
    assert partial == pytest.approx(by_hand, rel=1e-9)


def test_mcd_grows_with_the_noise_level():
    rng = np.random.default_rng(2)
    reference = harmonic(150.0) + 0.003 * rng.standard_normal(RATE)
    distances = [
        mel_cepstral_distortion(reference, reference + level * rng.standard_normal(RATE), RATE)
        for level in (0.01, 0.03, 0.1, 0.3)
    ]
    assert distances[0] > 0.5
    assert all(a < b for a, b in zip(distances, distances[1:]))


@pytest.mark.parametrize("frequency", [150.0, 220.0])
def test_yin_finds_the_f0_of_a_harmonic_tone_and_silence_unvoiced(frequency):
    audio = np.concatenate([harmonic(frequency, 0.5), np.zeros(RATE // 2)])
    f0, voiced = f0_track(audio, RATE)
    assert f0.shape == voiced.shape == (1 + audio.size // 256,)
    margin = 3  # frames reach about 2.2 hops either side of their centre
    tone = slice(margin, (RATE // 2) // 256 - margin)
    silence = slice((RATE // 2) // 256 + margin, None)
    assert voiced[tone].all()
    assert np.abs(f0[tone] / frequency - 1).max() < 0.01
    assert not voiced[silence].any() and (f0[silence] == 0).all()


def test_f0_rmse_of_200_against_210_hz_is_10_hz():
    reference, estimate = harmonic(200.0), harmonic(210.0)
    assert f0_rmse(reference, estimate, RATE) == pytest.approx(10.0, abs=0.5)
    cents = 1200 * math.log2(210 / 200)  # 84.5 cents
    assert f0_rmse(reference, estimate, RATE, cents=True) == pytest.approx(cents, abs=5.0)


def test_vuv_error_of_a_half_silenced_tone_is_a_half():
    reference = harmonic(200.0)
    estimate = reference.copy()
    estimate[RATE // 2 :] = 0
    frames = 1 + RATE // 256
    assert vuv_error(reference, estimate, RATE) == pytest.approx(0.5, abs=2 / frames)
    # nothing voiced in both: no F0 error to report
    assert math.isnan(f0_rmse(reference, np.zeros(RATE), RATE))


def test_dtw_path_on_a_hand_worked_matrix():
    # the cheap cells run (0,0) (1,0) (2,1) (2,2): one vertical step, then diagonals
    cost = np.array([[0.0, 5.0, 9.0], [0.0, 5.0, 9.0], [9.0, 0.0, 0.0]])
    rows, columns = dtw_path(cost)
    assert rows.tolist() == [0, 1, 2, 2] and columns.tolist() == [0, 0, 1, 2]
    assert cost[rows, columns].sum() == 0.0
    assert [r.tolist() for r in dtw_path(np.ones((1, 3)))] == [[0, 0, 0], [0, 1, 2]]
    with pytest.raises(ValueError, match="non-empty 2-D"):
        dtw_path(np.ones((0, 3)))


def test_dtw_path_is_the_cheapest_against_brute_force():
    rng = np.random.default_rng(3)
    cost = rng.random((5, 4))

    def best(i, j):  # the least summed cost of a path ending at (i, j), by recursion
        if i == 0 and j == 0:
            return cost[0, 0]
        before = [best(a, b) for a, b in ((i - 1, j - 1), (i - 1, j), (i, j - 1)) if a >= 0 <= b]
        return cost[i, j] + min(before)

    rows, columns = dtw_path(cost)
    assert cost[rows, columns].sum() == pytest.approx(best(4, 3))
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(columns) >= 0)
    assert np.all(np.diff(rows) + np.diff(columns) >= 1)


def test_aligned_figures_undo_a_change_of_timing():
    # the same two tones, the first half as long again in the estimate: frame by frame the
    # signals disagree where the second tone begins, along the warping path they match
    reference = np.concatenate([harmonic(150.0, 0.4), harmonic(250.0, 0.4)])
    estimate = np.concatenate([harmonic(150.0, 0.6), harmonic(250.0, 0.4)])
    figures = aligned_figures(reference, estimate, RATE)
    assert figures["mcd_dtw"] < 0.25 * mel_cepstral_distortion(reference, estimate, RATE)
    assert figures["f0_rmse_dtw"] < 3.0 and figures["vuv_error_dtw"] < 0.05
    assert aligned_figures(reference, reference, RATE)["mcd_dtw"] == pytest.approx(0.0, abs=1e-9)
    shifted = aligned_figures(harmonic(200.0), harmonic(210.0), RATE)
    assert shifted["f0_rmse_dtw"] == pytest.approx(10.0, abs=0.5)


def test_average_skips_nan():
    rows = [{"f0_rmse": math.nan, "vuv_error": 0.5}, {"f0_rmse": 4.0, "vuv_error": 0.1}]
    assert average(rows) == {"f0_rmse": 4.0, "vuv_error": pytest.approx(0.3)}
    assert average([{"f0_rmse": math.nan, "mcd": 2.0}], "_griffin_lim") == {"mcd_griffin_lim": 2.0}


def test_off_resolutions_are_off_the_training_and_mel_ones():
    assert len(OFF_RESOLUTIONS) == 3
    for resolution in OFF_RESOLUTIONS:
        assert resolution not in RESOLUTIONS and resolution != [1024, 256, 1024]


def test_mrstft_off_distance(noise):
    assert mrstft_off_distance(noise, noise.copy()) == pytest.approx(0.0, abs=1e-6)
    # as for the training resolutions: || S - S/2 || / || S || = 1/2 and ln 2 at each one
    assert mrstft_off_distance(noise, 0.5 * noise) == pytest.approx(0.5 + math.log(2), abs=1e-3)
    other = 0.1 * np.random.default_rng(3).standard_normal(RATE)
    assert mrstft_off_distance(noise, other) > 0.5


class Replay(nn.Module):
    """A stand-in generator that returns the held-out recordings themselves, in order."""

    def __init__(self, recordings: list[torch.Tensor]) -> None:
        super().__init__()
        self.recordings, self.calls = recordings, 0

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.recordings[self.calls - 1][None]


def test_quality_reports_the_new_figures_beside_griffin_lim(tone_folder):
    assert {"mcd", "f0", "mrstft_off"} <= set(MEASURES)
    assert [MCD().measures, F0().measures, MRSTFTOff().measures] == [
        ["mcd"],
        ["f0"],
        ["mrstft_off"],
    ]
    dataset = SpeechDataset(str(tone_folder(count=4)), segment=2048, held_out=0.5)
    held = dataset.held_out_set(max_seconds=0.5)
    recordings = [held[i]["real"] for i in range(2)]
    run = SimpleNamespace(
        dataset=dataset, device="cpu", sampling_model=lambda role="generator": Replay(recordings)
    )
    metric = VocoderQuality(
        ["mcd", "f0", "mrstft_off"],
        utterances=2,
        max_seconds=0.5,
        griffin_lim_iterations=8,
        description=dataset.describe(),
    )
    figures = metric(run)
    names = ["mcd", "f0_rmse", "vuv_error", "mrstft_off"]
    for name in names + [f"{name}_griffin_lim" for name in names]:
        assert math.isfinite(figures[name]), name
    # the replayed recordings are the references: no distortion at all
    assert figures["mcd"] == 0.0 and figures["f0_rmse"] == 0.0 and figures["vuv_error"] == 0.0
    assert figures["mrstft_off"] == pytest.approx(0.0, abs=1e-6)
    assert figures["mcd_griffin_lim"] > 0 and figures["mrstft_off_griffin_lim"] > 0
    assert 0 <= figures["vuv_error_griffin_lim"] <= 1
