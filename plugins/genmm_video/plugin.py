"""Hook implementations of the video plugin."""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm_video.data import MovingDigits, MovingShapes, VideoFolder
from genmm_video.metrics import AverageContentDistance, FrechetVideoFeatures, MotionAccuracy
from genmm_video.mocogan import MoCoGANDiscriminator, MoCoGANGenerator, MoCoGANTrainer
from genmm_video.tgan import SVCWassersteinLoss, TGANDiscriminator, TGANGenerator
from genmm_video.writers import ClipWriter

TGAN = "Saito et al., ICCV 2017"
MOCOGAN = "Tulyakov et al., CVPR 2018"


@genmm.hookimpl
def genmm_register_datasets(register):
    register("video.moving_shapes", MovingShapes, about="procedural shape-motion clips")
    register("video.moving_digits", MovingDigits, about="scikit-learn digits moving")
    register("video.folder", VideoFolder, about="the user's clips, decoded with PyAV")


@genmm.hookimpl
def genmm_register_models(register):
    register("video.tgan_generator", TGANGenerator, paper=TGAN)
    register("video.tgan_discriminator", TGANDiscriminator, paper=TGAN)
    register("video.mocogan_generator", MoCoGANGenerator, paper=MOCOGAN)
    register("video.mocogan_discriminator", MoCoGANDiscriminator, paper=MOCOGAN)


@genmm.hookimpl
def genmm_register_losses(register):
    register("video.wgan_svc", SVCWassersteinLoss, paper=f"{TGAN}, singular value clipping")


@genmm.hookimpl
def genmm_register_trainers(register):
    register("video.mocogan", MoCoGANTrainer, paper=MOCOGAN)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("video.frechet", FrechetVideoFeatures, about="Fréchet distance on a motion classifier")
    register("video.motion_accuracy", MotionAccuracy, paper=f"{MOCOGAN}, MCS")
    register("video.acd", AverageContentDistance, paper=f"{MOCOGAN}, ACD")


@genmm.hookimpl
def genmm_register_writers(register):
    register("video.clips", ClipWriter, about="mp4 (H.264, PyAV) / gif clips and png strips")


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
