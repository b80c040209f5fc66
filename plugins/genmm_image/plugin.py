"""Hook implementations of the image plugin."""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm_image import advanced
from genmm_image.augment import AdaptiveAugment, DiffAugment
from genmm_image.conditional import (
    ConcatDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
)
from genmm_image.data import Digits, Folder, Shapes
from genmm_image.dcgan import DCGANDiscriminator, DCGANGenerator
from genmm_image.img2img import registrations as img2img
from genmm_image.metrics import ClassMetrics, FrechetDistance
from genmm_image.vanilla import MLPDiscriminator, MLPGenerator
from genmm_image.writers import ImageGridWriter


@genmm.hookimpl
def genmm_register_datasets(register):
    register("image.digits", Digits, about="scikit-learn's 1,797 real 8x8 digits, upsampled")
    register("image.shapes", Shapes, about="procedural shapes at any resolution, all attributes")
    register("image.folder", Folder, about="your own images (png/jpg/webp), recursive")
    advanced.register_datasets(register)
    img2img.register_datasets(register)


@genmm.hookimpl
def genmm_register_models(register):
    register("image.mlp_generator", MLPGenerator, paper="Goodfellow et al. 2014")
    register("image.mlp_discriminator", MLPDiscriminator, paper="Goodfellow et al. 2014")
    register("image.dcgan_generator", DCGANGenerator, paper="Radford et al. 2015")
    register("image.dcgan_discriminator", DCGANDiscriminator, paper="Radford et al. 2015")
    register("image.cgan_generator", ConditionalGenerator, paper="Mirza & Osindero 2014")
    register("image.concat_discriminator", ConcatDiscriminator, paper="Mirza & Osindero 2014")
    register(
        "image.projection_discriminator", ProjectionDiscriminator, paper="Miyato & Koyama 2018"
    )
    register("image.ada", AdaptiveAugment, paper="Karras et al. 2020 (ADA), bgc pipeline")
    register("image.diffaugment", DiffAugment, paper="Zhao et al. 2020 (DiffAugment)")
    advanced.register_models(register)
    img2img.register_models(register)


@genmm.hookimpl
def genmm_register_losses(register):
    advanced.register_losses(register)
    img2img.register_losses(register)


@genmm.hookimpl
def genmm_register_trainers(register):
    advanced.register_trainers(register)
    img2img.register_trainers(register)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("image.fd", FrechetDistance, paper="Heusel et al. 2017; Kynkäänniemi et al. 2019")
    register("image.classes", ClassMetrics, about="class accuracy / coverage by a classifier")
    advanced.register_metrics(register)
    img2img.register_metrics(register)


@genmm.hookimpl
def genmm_register_writers(register):
    register("image.grid", ImageGridWriter, about="PNG grid; generate --n 64 [--label 7]")
    advanced.register_writers(register)
    img2img.register_writers(register)


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
