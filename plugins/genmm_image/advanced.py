"""Registrations of StyleGAN2 and InfoGAN (called from plugin.py's hooks)."""

from __future__ import annotations

from genmm_image.infogan.losses import MutualInformationLoss
from genmm_image.infogan.models import InfoGANDiscriminator, InfoGANGenerator
from genmm_image.infogan.trainer import InfoGANTrainer
from genmm_image.infogan.writer import InfoGANGridWriter
from genmm_image.stylegan2.discriminator import StyleGAN2Discriminator
from genmm_image.stylegan2.generator import StyleGAN2Generator
from genmm_image.stylegan2.losses import PathLengthPenalty
from genmm_image.stylegan2.trainer import StyleGAN2Trainer
from genmm_image.stylegan2.writer import StyleGAN2GridWriter

STYLEGAN2 = "Karras et al. 2020"
INFOGAN = "Chen et al. 2016"


def register_datasets(register) -> None:
    pass


def register_models(register) -> None:
    register("image.stylegan2_generator", StyleGAN2Generator, paper=STYLEGAN2)
    register("image.stylegan2_discriminator", StyleGAN2Discriminator, paper=STYLEGAN2)
    register("image.infogan_generator", InfoGANGenerator, paper=INFOGAN)
    register("image.infogan_discriminator", InfoGANDiscriminator, paper=INFOGAN)


def register_losses(register) -> None:
    register("image.mutual_information", MutualInformationLoss, paper=INFOGAN)
    register("image.path_length", PathLengthPenalty, paper=STYLEGAN2)


def register_trainers(register) -> None:
    register("image.stylegan2", StyleGAN2Trainer, paper=STYLEGAN2)
    register("image.infogan", InfoGANTrainer, paper=INFOGAN)


def register_metrics(register) -> None:
    pass


def register_writers(register) -> None:
    register(
        "image.stylegan2_grid",
        StyleGAN2GridWriter,
        about="PNG grid; generate --n 64 [--truncation 0.7] [--noise-mode const] [--mix] "
        "[--crossover K]",
    )
    register(
        "image.infogan_grid",
        InfoGANGridWriter,
        about="PNG grid and latent traversals; generate [--traverse --code 1]",
    )
