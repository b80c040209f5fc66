"""A few training steps on a tiny corpus: the generator learns, the discriminator learns; the
``audio.pretrain`` trainer on the core's optimisation path."""

from __future__ import annotations

import json

import pytest
import torch

import genmm
from genmm.errors import RecipeError
from genmm.losses import FeatureMatchingLoss, HingeLoss
from genmm.testing import MiniRun
from genmm.training import checkpoint
from genmm.training.gan import GANTrainer
from genmm_audio.data import SpeechDataset
from genmm_audio.discriminator import MultiScaleDiscriminator
from genmm_audio.generator import MelGANGenerator
from genmm_audio.losses import MelL1Loss, MultiResolutionSTFTLoss
from genmm_audio.trainer import GeneratorPretraining

TINY = """\
seed: 0
out: {out}
data: {{name: audio.speech, root: {root}, segment: 2048, held_out: 0.25}}
models:
  generator: {{name: audio.melgan_generator, ngf: 8}}
  discriminator: {{name: audio.melgan_msd, ndf: 4}}
losses:
  adversarial: {{name: core.hinge}}
  feature_matching: {{name: core.feature_matching, weight: 10}}
  mrstft: {{name: audio.mrstft, weight: 1.0}}
phases:
  pretrain: {{trainer: audio.pretrain, max_steps: {pretrain}, batch_size: 2, losses: [mrstft],
             optimizers: {{generator: {{name: adam, lr: 1.0e-3}}}}}}
  vocoder: {{trainer: core.gan, max_steps: {vocoder}, batch_size: 2,
            losses: [feature_matching, mrstft]}}
eval: {{every: 0, metrics: []}}
samples: {{every: 0, n: 1}}
writer: {{name: audio.wav}}
checkpoint: {{every: 0, keep: 1}}
runtime: {{progress: false, log_every: 1}}
"""


def train(tmp_path, folder, pretrain: int, vocoder: int, overrides=()):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(out=tmp_path / "run", root=folder, pretrain=pretrain,
                                vocoder=vocoder))  # fmt: skip
    run = genmm.train(path, list(overrides), out=tmp_path / "run")
    assert run.status == "completed"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    return run, [record for record in map(json.loads, lines) if "phase_step" in record]


def batches(folder, size: int = 2):
    """A fixed batch of real segments and their log-mels."""
    torch.manual_seed(0)
    dataset = SpeechDataset(str(folder), segment=2048, held_out=0.34)
    batch = dataset.get_batch(list(range(size)))
    return dataset, lambda: batch


def test_generator_steps_lower_feature_matching_loss(tone_folder):
    """MelGAN's generator objective (hinge + 10 x feature matching, eq. 4) against a fixed
    discriminator, through core.gan's generator update: a few Adam steps bring the fake
    features towards the real ones."""
    _, batch = batches(tone_folder(count=3))
    torch.manual_seed(0)
    generator, discriminator = MelGANGenerator(ngf=8), MultiScaleDiscriminator(ndf=4)
    run = MiniRun(
        {"generator": generator, "discriminator": discriminator},
        {"adversarial": HingeLoss(), "feature_matching": FeatureMatchingLoss(weight=10.0)},
        batch,
        batch_size=2,
        optimizers={
            "generator": {"lr": 1e-3, "betas": [0.5, 0.9]},
            "discriminator": {"lr": 0.0},  # a fixed discriminator
        },
    )
    trainer = GANTrainer()
    trainer.setup(run)
    before = [p.detach().clone() for p in discriminator.parameters()]
    losses = [float(run.step_once(trainer)["feature_matching"]) for _ in range(8)]
    assert all(torch.equal(a, b) for a, b in zip(before, discriminator.parameters()))
    assert losses[-1] < 0.97 * losses[0], losses
    assert all(b < a for a, b in zip(losses, losses[1:])), losses  # every step lowers it


def test_pretrain_on_the_core_path(tone_folder):
    """audio.pretrain: MelGAN's Adam by default, the recipe's spec over it, the weighted sum
    of its losses as g_loss, and the loss falls."""
    _, batch = batches(tone_folder(count=3))
    torch.manual_seed(0)
    generator = MelGANGenerator(ngf=8)
    mrstft, mel = MultiResolutionSTFTLoss(weight=2.5), MelL1Loss(weight=20.0)
    losses = {"mrstft": mrstft, "mel": mel, "adversarial": HingeLoss()}
    run = MiniRun({"generator": generator}, losses, batch, batch_size=2)
    trainer = GeneratorPretraining(losses=["mrstft", "mel"])
    trainer.setup(run)
    group = run.optimization.optimizers["generator"].param_groups[0]
    assert (group["lr"], group["betas"]) == (1e-4, (0.5, 0.9))  # MelGAN's, the default
    run = MiniRun(
        {"generator": generator},
        losses,
        batch,
        batch_size=2,
        optimizers={"generator": {"lr": 1e-3}},
        schedules={"generator": {"name": "linear", "final": 0.5}},
        total_steps=10,
    )
    trainer.setup(run)
    optimizer = run.optimization.optimizers["generator"]
    assert optimizer.param_groups[0]["betas"] == (0.5, 0.9)  # the default's betas are kept
    records = [run.step_once(trainer) for _ in range(10)]
    for record in records:
        total = 2.5 * float(record["mrstft"]) + 20.0 * float(record["mel"])
        assert float(record["g_loss"]) == pytest.approx(total, rel=1e-5)
    assert float(records[-1]["g_loss"]) < 0.9 * float(records[0]["g_loss"])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)  # the schedule ran
    assert trainer.state_dict() == {"steps": 10}


def test_pretrain_lazy_term_is_its_own_step_every_n(tone_folder):
    _, batch = batches(tone_folder(count=3))
    torch.manual_seed(0)
    losses = {"mrstft": MultiResolutionSTFTLoss(), "mel": MelL1Loss(weight=2.0, every=3)}
    run = MiniRun({"generator": MelGANGenerator(ngf=4)}, losses, batch, batch_size=2)
    trainer = GeneratorPretraining(losses=["mrstft", "mel"])
    trainer.setup(run)
    # lazy regularisation: the learning rate corrected by c = 3 / 4 (Karras et al. 2020)
    assert run.optimization.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(
        1e-4 * 0.75
    )
    records = [run.step_once(trainer) for _ in range(6)]
    assert ["mel" in r for r in records] == [True, False, False, True, False, False]
    assert all("mrstft" in r and "g_loss" in r for r in records)
    assert run.optimization.updates["generator"] == 6 + 2


def test_pretrain_names_a_missing_or_wrong_loss(tone_folder):
    _, batch = batches(tone_folder(count=3))
    losses = {"mrstft": MultiResolutionSTFTLoss(), "adversarial": HingeLoss()}
    run = MiniRun({"generator": MelGANGenerator(ngf=4)}, losses, batch, batch_size=2)
    with pytest.raises(RecipeError, match=r"losses\.mel") as error:
        GeneratorPretraining(losses=["mrstft", "mel"]).setup(run)
    assert error.value.key == "losses.mel"
    with pytest.raises(RecipeError, match="adversarial is not a generator term"):
        GeneratorPretraining(losses=["adversarial"]).setup(run)


def test_pretrain_then_adversarial_phase_learn(tmp_path, tone_folder):
    run, records = train(tmp_path, tone_folder(count=4), pretrain=12, vocoder=4)
    pretrain = [r for r in records if r["phase"] == "pretrain"]
    vocoder = [r for r in records if r["phase"] == "vocoder"]
    assert len(pretrain) == 12 and len(vocoder) == 4
    # the MR-STFT loss falls while the generator trains alone
    first = sum(r["mrstft"] for r in pretrain[:3]) / 3
    last = sum(r["mrstft"] for r in pretrain[-3:]) / 3
    assert last < 0.95 * first, [r["mrstft"] for r in pretrain]
    # the adversarial phase logs the MelGAN terms; hinge on 3 scales starts at 2 per scale
    assert {"d_adversarial", "g_adversarial", "feature_matching", "mrstft"} <= set(vocoder[0])
    assert all(torch.isfinite(torch.tensor(r["g_loss"])) for r in vocoder)
    assert vocoder[-1]["d_adversarial"] < vocoder[0]["d_adversarial"] <= 6.0 + 1e-3
    # the checkpoint keeps the data's description: the front end without the data
    saved = checkpoint.load_description(checkpoint.find(tmp_path / "run"))
    assert saved == run.dataset.describe()
    assert (saved["sample_rate"], saved["hop"], saved["n_mels"]) == (22050, 256, 80)


def test_old_optimizer_key_is_refused_with_the_new_one(tmp_path, tone_folder):
    path = tmp_path / "old.yaml"
    text = TINY.format(out=tmp_path / "run", root=tone_folder(count=4), pretrain=1, vocoder=1)
    path.write_text(text.replace("optimizers: {generator: {name: adam, lr: 1.0e-3}}",
                                 "optimizer: {name: adam, lr: 1.0e-3}"))  # fmt: skip
    with pytest.raises(RecipeError, match="renamed: use 'optimizers'") as error:
        genmm.train(path)
    assert error.value.key == "phases.pretrain.optimizer"
