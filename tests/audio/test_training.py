"""A few training steps on a tiny corpus: the generator learns, the discriminator learns."""

from __future__ import annotations

import json

import torch

from genmm import recipe as recipes
from genmm.losses import Context, FeatureMatchingLoss, HingeLoss, discriminate
from genmm.plugins import PluginManager
from genmm.training.loop import Loop
from genmm.training.run import Run
from genmm_audio.data import SpeechDataset
from genmm_audio.discriminator import MultiScaleDiscriminator
from genmm_audio.generator import MelGANGenerator

TINY = """\
seed: 0
out: {out}
data: {{name: audio.speech, root: {root}, segment: 2048, held_out: 1}}
models:
  generator: {{name: audio.melgan_generator, ngf: 8}}
  discriminator: {{name: audio.melgan_msd, ndf: 4}}
losses:
  adversarial: {{name: core.hinge}}
  feature_matching: {{name: core.feature_matching, weight: 10}}
  mrstft: {{name: audio.mrstft, weight: 1.0}}
phases:
  pretrain: {{trainer: audio.pretrain, max_steps: {pretrain}, batch_size: 2, losses: [mrstft],
             optimizer: {{name: adam, lr: 1.0e-3}}}}
  vocoder: {{trainer: core.gan, max_steps: {vocoder}, batch_size: 2}}
eval: {{every: 0, metrics: []}}
samples: {{every: 0, n: 1}}
writer: {{name: audio.wav}}
checkpoint: {{every: 0, keep: 1}}
runtime: {{progress: false, log_every: 1}}
"""


def train(tmp_path, folder, pretrain: int, vocoder: int) -> list[dict]:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(out=tmp_path / "run", root=folder, pretrain=pretrain,
                                vocoder=vocoder))  # fmt: skip
    manager = PluginManager()
    manager.load_default([])
    resolved = recipes.resolve(path, [])
    recipes.validate(resolved, manager.registry, str(path))
    run = Run(resolved, manager, recipe_file=str(path), out=tmp_path / "run")
    assert Loop(run).fit() == "completed"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if "phase_step" in record]


def test_generator_steps_lower_feature_matching_loss(tone_folder):
    """MelGAN's generator objective (hinge + 10 x feature matching, eq. 4) against a fixed
    discriminator: a few Adam steps bring the fake features towards the real ones."""
    torch.manual_seed(0)
    dataset = SpeechDataset(str(tone_folder(count=3)), segment=2048, held_out=1)
    batch = dataset.get_batch([0, 1])
    generator, discriminator = MelGANGenerator(ngf=8), MultiScaleDiscriminator(ndf=4)
    discriminator.requires_grad_(False)
    hinge, matching = HingeLoss(), FeatureMatchingLoss(weight=10.0)
    optimizer = torch.optim.Adam(generator.parameters(), 1e-3, betas=(0.5, 0.9))
    real_scores, real_features = discriminate(discriminator, batch["real"])
    losses = []
    for _ in range(8):
        fake = generator(batch["condition"])
        context = Context(generator, discriminator, batch["real"], fake, batch["condition"])
        context.real_scores, context.real_features = real_scores, real_features
        context.fake_scores, context.fake_features = discriminate(discriminator, fake)
        value = matching(context)
        loss = hinge.generator_loss(context.fake_scores) + matching.weight * value
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(value.detach()))
    assert losses[-1] < 0.97 * losses[0], losses
    assert all(b < a for a, b in zip(losses, losses[1:])), losses  # every step lowers it


def test_pretrain_then_adversarial_phase_learn(tmp_path, tone_folder):
    records = train(tmp_path, tone_folder(count=4), pretrain=12, vocoder=4)
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
