"""Vocoder metrics against hand-computed values, and the wav writer (wav + spectrogram png)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image
from torch import nn

from genmm_audio.data import SpeechDataset
from genmm_audio.frontend import MelFrontend
from genmm_audio.losses import mrstft_distance
from genmm_audio.metrics import VocoderQuality, average, score
from genmm_audio.writers import WavWriter, load_mel


@pytest.fixture
def noise():
    generator = torch.Generator().manual_seed(0)
    return 0.3 * torch.randn(1, 22050, generator=generator)  # (1, T): 1 s of loud noise


def test_identical_signals_score_perfectly(noise):
    figures = score(MelFrontend(), noise, noise.clone(), ["mel_l1", "mrstft", "stoi"])
    assert figures["mel_l1"] == 0.0
    assert figures["mrstft"] == pytest.approx(0.0, abs=1e-6)
    assert figures["stoi"] == pytest.approx(1.0, abs=1e-6)


def test_log_mel_l1_of_a_tenth_is_one(noise):
    # log10 mel of 0.1 x is log10 mel of x minus exactly 1 wherever both are above the floor
    frontend = MelFrontend()
    assert float(frontend(0.1 * noise[None]).min()) > math.log10(frontend.floor) + 0.5
    figures = score(frontend, noise, 0.1 * noise, ["mel_l1"])
    assert figures["mel_l1"] == pytest.approx(1.0, abs=1e-4)


def test_mrstft_distance_of_half_the_signal(noise):
    # spectral convergence || S - S/2 || / || S || = 1/2, log-magnitude L1 = ln 2, each
    # resolution alike: the average is 1/2 + ln 2
    distance = float(mrstft_distance(noise[None], 0.5 * noise[None]))
    assert distance == pytest.approx(0.5 + math.log(2), abs=1e-3)


def test_average_keeps_the_suffix():
    rows = [{"mel_l1": 1.0, "stoi": 0.5}, {"mel_l1": 3.0}]
    assert average(rows, "_griffin_lim") == {"mel_l1_griffin_lim": 2.0, "stoi_griffin_lim": 0.5}


class Replay(nn.Module):
    """A stand-in generator that returns the held-out recordings themselves, in order."""

    def __init__(self, recordings: list[torch.Tensor]) -> None:
        super().__init__()
        self.recordings = recordings
        self.calls = 0

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        audio = self.recordings[self.calls]
        self.calls += 1
        assert mel.shape[-1] * 256 == audio.shape[-1]
        return audio[None]


def test_quality_reports_model_beside_griffin_lim(tone_folder):
    dataset = SpeechDataset(str(tone_folder(count=4)), segment=2048, held_out=0.5)
    held = dataset.held_out_set(max_seconds=0.5)
    recordings = [held[i]["real"] for i in range(2)]
    run = SimpleNamespace(
        dataset=dataset, device="cpu", sampling_model=lambda role="generator": Replay(recordings)
    )
    metric = VocoderQuality(
        ["mel_l1", "mrstft", "stoi", "speed"],
        utterances=2,
        max_seconds=0.5,
        description=dataset.describe(),
    )
    figures = metric(run)
    assert figures["mel_l1"] == 0.0 and figures["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert figures["mrstft"] == pytest.approx(0.0, abs=1e-6)
    assert figures["synthesis_khz"] > 0 and figures["real_time_factor"] > 0
    # Griffin-Lim on the same mels: close, but not perfect
    assert 0 < figures["mel_l1_griffin_lim"] < 1.0
    assert 0 < figures["mrstft_griffin_lim"] and 0.3 < figures["stoi_griffin_lim"] < 1.0
    assert "synthesis_khz_griffin_lim" not in figures
    # the baseline is computed once: a second call reuses it
    run.sampling_model = lambda role="generator": Replay(recordings)
    again = metric(run)
    assert {k: v for k, v in again.items() if "griffin" in k} == {
        k: v for k, v in figures.items() if "griffin" in k
    }
    assert len(metric.cache) == 1
    with pytest.raises(ValueError, match="unknown measures"):
        VocoderQuality(["loudness"])


def test_quality_without_held_out_data_says_so(tone_folder):
    from genmm.errors import DataError

    dataset = SpeechDataset(str(tone_folder(count=3)), segment=2048, held_out=0.0)
    run = SimpleNamespace(dataset=dataset, device="cpu", sampling_model=None)
    with pytest.raises(DataError, match="data.held_out above 0"):
        VocoderQuality(description=dataset.describe())(run)
    assert WavWriter(description=dataset.describe()).write_samples(run, Path("unused")) == []


def test_wav_writer_writes_wav_and_png(tmp_path, chirp):
    frontend = MelFrontend()
    audio = torch.from_numpy(chirp(0.5, 22050))[None]  # (1, T)
    written = WavWriter().write(
        [audio], tmp_path / "out", 22050, frontend, [frontend(audio[None])[0]]
    )
    assert [p.name for p in written] == ["out.wav", "out.png"]
    data, rate = soundfile.read(str(written[0]))
    assert rate == 22050 and data.shape == (11025,)
    assert np.allclose(data, audio[0].numpy(), atol=1e-4)
    with Image.open(written[1]) as image:  # the matplotlib figure of two panels, 8 in wide
        assert image.format == "PNG" and image.size[0] == 800 and 400 <= image.size[1] <= 700


def test_wav_writer_uses_the_described_rate(tmp_path, chirp):
    """Without a front end given, the writer's own, rebuilt from the data's description."""
    writer = WavWriter(description={"sample_rate": 16000, "n_mels": 40, "hop": 200, "win": 800})
    assert writer.frontend.sample_rate == 16000 and writer.frontend.n_mels == 40
    audio = torch.from_numpy(chirp(0.5, 16000))[None]
    written = writer.write([audio], tmp_path / "out", conditions=[torch.zeros(40, 40)])
    data, rate = soundfile.read(str(written[0]))
    assert rate == 16000 and data.shape == (8000,)
    assert written[1].name == "out.png"


def test_mel_file_shapes_are_checked(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((1, 80, 7), np.float32))
    assert load_mel(good, 80).shape == (1, 80, 7)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((40, 7), np.float32))
    with pytest.raises(Exception, match=r"bad.npy: expected a log-mel of shape \(80, frames\)"):
        load_mel(bad, 80)
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(Exception, match="text.npy: cannot read a numpy log-mel"):
        load_mel(tmp_path / "text.npy", 80)
