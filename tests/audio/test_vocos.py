"""Vocos generator and the HiFi-GAN / UnivNet discriminators: parameter counts at the papers'
widths, shapes, the iSTFT head, learning on a tiny corpus, resume across the phase boundary."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

import genmm
from genmm.testing import MiniRun
from genmm.training import checkpoint
from genmm_audio.data import SpeechDataset
from genmm_audio.discriminator import PeriodResolutionDiscriminator
from genmm_audio.frontend import MelFrontend, stft
from genmm_audio.losses import MelL1Loss, MultiResolutionSTFTLoss
from genmm_audio.trainer import GeneratorPretraining
from genmm_audio.vocos import VocosGenerator

TINY_DISCRIMINATOR = {"period_channels": [4, 8, 8, 8, 8], "resolution_channels": 4}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_at_the_papers_widths():
    # Vocos (dim 512, intermediate 1536, 8 blocks, n_fft 1024): 13.5 M in the paper
    assert count(VocosGenerator(n_mels=80)) == 13_459_970
    assert count(VocosGenerator(n_mels=100)) == 13_459_970 + 20 * 512 * 7
    # HiFi-GAN's multi-period discriminator: 41.1 M (weight-norm g and v counted)
    assert count(PeriodResolutionDiscriminator(resolutions=[])) == 41_105_770


def test_shapes_through_generator_and_discriminators():
    generator = VocosGenerator(dim=32, intermediate_dim=64, num_layers=2)
    mel = torch.randn(2, 80, 24) - 2.0
    audio = generator(mel)
    assert audio.shape == (2, 1, 24 * 256)
    discriminator = PeriodResolutionDiscriminator(**TINY_DISCRIMINATOR)
    scores, features = discriminator(audio)
    # five periods then three resolutions; each period folds T into (T / p, p)
    assert [s.shape[-1] for s in scores[:5]] == [2, 3, 5, 7, 11]
    assert scores[5].shape[-2:] == (6144 // 512 + 1, 2048 // 2 // 8 + 1)  # frames, F / 8
    assert len(scores) == 8 and len(features) == 5 * 5 + 3 * 5
    assert all(torch.isfinite(s).all() for s in scores)


def test_bad_discriminator_arguments_are_named():
    with pytest.raises(ValueError, match=r"each resolution is \[n_fft, hop, window\]"):
        PeriodResolutionDiscriminator(resolutions=[[1024, 256]])
    with pytest.raises(ValueError, match="at least one period or one resolution"):
        PeriodResolutionDiscriminator(periods=[], resolutions=[])


def test_data_description_sets_and_checks_the_analysis():
    description = {"n_mels": 64, "n_fft": 512, "hop": 128, "win": 512, "sample_rate": 16000}
    generator = VocosGenerator(dim=16, intermediate_dim=32, num_layers=1, description=description)
    assert (generator.n_mels, generator.n_fft, generator.hop) == (64, 512, 128)
    assert generator(torch.zeros(1, 64, 10)).shape == (1, 1, 1280)
    with pytest.raises(ValueError, match="hop is 256 but the data's log-mels use 128"):
        VocosGenerator(hop=256, description=description)


def test_istft_head_reconstructs_a_known_signal():
    """With the backbone's output silenced the head emits its bias in every frame; a bias of
    log|X| and angle X of a stationary cosine's STFT frame gives back that cosine."""
    n_fft, hop = 1024, 256
    k = 8  # bin 8: the phase advances by 2 pi k hop / n_fft = 4 pi per frame, frames are equal
    t = torch.arange(64 * hop, dtype=torch.float64)
    signal = 0.2 * torch.cos(2 * math.pi * k * t / n_fft)
    frame = stft(signal[None].float(), n_fft, hop, n_fft)[0, :, 32]  # an interior frame
    generator = VocosGenerator(dim=8, intermediate_dim=8, num_layers=1)
    with torch.no_grad():
        generator.final_norm.weight.zero_()
        generator.head.weight.zero_()
        generator.head.bias.copy_(torch.cat([frame.abs().clamp(min=1e-12).log(), frame.angle()]))
    output = generator(torch.zeros(1, 80, 64))[0, 0].double()
    interior = slice(4 * hop, 60 * hop)
    assert output.shape == signal.shape
    assert torch.allclose(output[interior], signal[interior], atol=1e-4)
    # the magnitude is clipped at max_magnitude (exp of a large log-magnitude stays finite)
    with torch.no_grad():
        generator.head.bias[: n_fft // 2 + 1] = 50.0
    assert generator.spectrum(torch.zeros(1, 80, 4)).abs().max() <= 100.0 + 1e-3


def test_amplitude_prior_starts_at_the_pseudo_inverse_magnitude():
    """FreeV: at initialisation the magnitude is the pseudo-inverse mel of the input."""
    frontend = MelFrontend()
    torch.manual_seed(0)
    audio = 0.3 * torch.randn(1, 1, 32 * 256)
    mel = frontend(audio)
    generator = VocosGenerator(dim=16, intermediate_dim=32, num_layers=1, amplitude_prior=True)
    expected = (torch.linalg.pinv(frontend.mel_basis) @ torch.pow(10.0, mel)).clamp(min=1e-5)
    assert torch.allclose(generator.spectrum(mel).abs(), expected, rtol=1e-4, atol=1e-6)
    # and it learns on top of it: the residual's weights are there, set to zero
    assert (
        generator.head.weight[:513].abs().sum() == 0 and generator.head.weight[513:].abs().sum() > 0
    )


def test_reconstruction_steps_lower_the_loss(tone_folder):
    """audio.pretrain on Vocos: mel L1 (x 45) + MR-STFT fall within a few AdamW steps."""
    torch.manual_seed(0)
    dataset = SpeechDataset(str(tone_folder(count=3)), segment=2048, held_out=0.34)
    batch = dataset.get_batch([0, 1])
    generator = VocosGenerator(dim=32, intermediate_dim=64, num_layers=2)
    losses = {"mel": MelL1Loss(), "mrstft": MultiResolutionSTFTLoss(weight=2.5)}
    run = MiniRun(
        {"generator": generator},
        losses,
        lambda: batch,
        batch_size=2,
        optimizers={"generator": {"name": "adamw", "lr": 2e-3, "betas": [0.8, 0.9]}},
    )
    trainer = GeneratorPretraining(losses=["mel", "mrstft"])
    trainer.setup(run)
    records = [run.step_once(trainer) for _ in range(25)]
    first, last = float(records[0]["g_loss"]), float(records[-1]["g_loss"])
    assert last < 0.7 * first, [float(r["g_loss"]) for r in records]
    assert float(records[-1]["mel"]) < float(records[0]["mel"])


RECIPE_OVERRIDES = [
    "models.generator.dim=16",
    "models.generator.intermediate_dim=32",
    "models.generator.num_layers=1",
    "models.discriminator.period_channels=[4, 4, 4, 4, 4]",
    "models.discriminator.resolution_channels=4",
    "phases.pretrain.max_steps=2",
    "phases.pretrain.batch_size=2",
    "phases.vocoder.max_steps=3",
    "phases.vocoder.batch_size=2",
    "eval.metrics=[]",
    "samples.every=0",
    "checkpoint.every=2",
    "checkpoint.keep=10",
    "runtime.progress=false",
]


def test_resume_across_the_phase_boundary_is_exact(tmp_path, tone_folder):
    """Stopped right at the end of the reconstruction phase, resumed: the adversarial phase
    that follows gives the same weights as an uninterrupted run."""
    shipped = Path(__file__).resolve().parents[2] / "recipes" / "vocoder.yaml"
    recipe = tmp_path / "tiny.yaml"  # the shipped recipe on a folder of tones
    data = f"{{name: audio.speech, root: {tone_folder(count=4)}, segment: 2048, held_out: 0.25}}"
    recipe.write_text(f"base: {shipped}\ndata: {data}\n")
    overrides = RECIPE_OVERRIDES
    whole = genmm.train(recipe, overrides, out=tmp_path / "whole")
    assert whole.status == "completed" and whole.step == 5
    half = genmm.train(recipe, overrides, out=tmp_path / "half")
    for later in sorted((tmp_path / "half" / "checkpoints").glob("step-*"))[1:]:
        shutil.rmtree(later)  # keep only step 2: the end of the pretrain phase
    kept = checkpoint.find(tmp_path / "half")
    assert kept.name == "step-000002" and checkpoint.load_meta(kept)["phase"] == "pretrain"
    resumed = genmm.train(resume=tmp_path / "half")
    assert resumed.step == 5 and resumed.phase_name == "vocoder"
    a = {
        f"{r}.{k}": v for r, m in whole.weight_modules().items() for k, v in m.state_dict().items()
    }
    b = {
        f"{r}.{k}": v
        for r, m in resumed.weight_modules().items()
        for k, v in m.state_dict().items()
    }
    assert a.keys() == b.keys() and any(k.startswith("discriminator.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    del half
