"""The pure-torch front end: filterbank, STFT and its inverses, resampling, Griffin-Lim."""

from __future__ import annotations

import math

import pytest
import torch

from genmm_audio.frontend import (
    MelFrontend,
    hz_to_mel,
    istft,
    mel_filterbank,
    mel_to_hz,
    resample,
    stft,
)


def test_slaney_mel_scale_points():
    # linear below 1 kHz (200/3 Hz per mel), 27 mels per factor 6.4 above
    assert float(hz_to_mel(torch.tensor(1000.0))) == pytest.approx(15.0)
    assert float(hz_to_mel(torch.tensor(500.0))) == pytest.approx(7.5)
    assert float(hz_to_mel(torch.tensor(6400.0))) == pytest.approx(42.0)
    assert float(mel_to_hz(hz_to_mel(torch.tensor(3210.0)))) == pytest.approx(3210.0)


def test_filterbank_hand_checked_case():
    # sr 8 kHz, n_fft 8: bins at 0, 1, 2, 3, 4 kHz; one filter from 0 to 2 kHz.
    # Its centre is mel_to_hz(mel(2000) / 2) = (7.5 + 13.5 ln 2 / ln 6.4) * 200/3 = 836.065 Hz;
    # at 1 kHz the falling edge gives (2000 - 1000) / (2000 - 836.065) = 0.859155, scaled by
    # the Slaney area normalisation 2 / (2000 - 0).
    bank = mel_filterbank(sample_rate=8000, n_fft=8, n_mels=1, fmin=0.0, fmax=2000.0)
    centre = (7.5 + 13.5 * math.log(2) / math.log(6.4)) * 200 / 3
    expected = (2000 - 1000) / (2000 - centre) * 2 / 2000
    assert bank.shape == (1, 5)
    assert float(bank[0, 1]) == pytest.approx(expected, rel=1e-6)
    assert float(bank[0, 1]) == pytest.approx(8.59155e-4, rel=1e-5)
    assert bank[0, [0, 2, 3, 4]].abs().max() < 1e-9  # 2 kHz is the edge (round-off only)


def test_filterbank_paper_settings():
    bank = mel_filterbank()  # 22,050 Hz, n_fft 1024, 80 mels
    assert bank.shape == (80, 513)
    assert (bank >= 0).all() and (bank.sum(1) > 0).all()  # every filter covers some bin
    # unit area in Hz: sum of weights x bin width ~ 1 for filters wider than a few bins
    bin_width = 22050 / 1024
    areas = bank.sum(1) * bin_width
    assert areas[20:].sub(1).abs().max() < 0.05


def test_stft_matches_torch_stft_and_its_inverse():
    torch.manual_seed(0)
    audio = torch.randn(2, 8192)
    window = torch.hann_window(1024)
    ours = stft(audio, 1024, 256, 1024, window, pad=512)
    theirs = torch.stft(
        audio, 1024, 256, 1024, window, center=True, pad_mode="reflect", return_complex=True
    )
    assert torch.allclose(ours, theirs, atol=1e-4)
    back = torch.istft(ours, 1024, 256, 1024, window, center=True, length=8192)
    assert (back - audio).abs().max() < 1e-4


def test_melgan_padding_gives_one_frame_per_hop_and_inverts():
    torch.manual_seed(1)
    audio = torch.randn(3, 8192)
    spectrum = stft(audio)  # reflect pad (1024 - 256) / 2 = 384 each side
    assert spectrum.shape == (3, 513, 32)
    assert (istft(spectrum) - audio).abs().max() < 1e-4
    assert MelFrontend()(audio.unsqueeze(1)).shape == (3, 80, 32)


def test_log_mel_floor():
    mel = MelFrontend()(torch.zeros(1, 1, 2048))
    assert torch.allclose(mel, torch.full_like(mel, -5.0))


def test_resample_sine_and_length():
    rate, new_rate = 16000, 22050
    t = torch.arange(rate) / rate
    sine = torch.sin(2 * math.pi * 440 * t)
    out = resample(sine, rate, new_rate)
    assert out.shape == (22050,)
    expected = torch.sin(2 * math.pi * 440 * torch.arange(new_rate) / new_rate)
    assert (out - expected)[400:-400].abs().max() < 2e-3
    # down-sampling removes what is above the new Nyquist frequency
    high = torch.sin(2 * math.pi * 10000 * torch.arange(44100) / 44100)
    assert resample(high, 44100, 16000)[200:-200].abs().max() < 0.02
    assert resample(sine, 16000, 16000) is sine


def test_griffin_lim_baseline_shape_and_quality():
    torch.manual_seed(0)
    frontend = MelFrontend()
    t = torch.arange(8192) / 22050
    audio = (0.5 * torch.sin(2 * math.pi * 300 * t)).reshape(1, 1, -1)
    mel = frontend(audio)
    rebuilt = frontend.griffin_lim(mel, iterations=8)
    assert rebuilt.shape == (1, 1, 8192)
    assert (frontend(rebuilt) - mel).abs().mean() < 0.3
