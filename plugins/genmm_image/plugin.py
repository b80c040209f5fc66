"""Hook implementations of the image plugin."""

from __future__ import annotations

import genmm
from genmm_image import advanced
from genmm_image.data import Digits, Folder, Shapes
from genmm_image.writers import ImageGridWriter


@genmm.hookimpl
def genmm_register_datasets(register):
    register("image.digits", Digits, about="scikit-learn's 1,797 real 8x8 digits, upsampled")
    register("image.shapes", Shapes, about="procedural shapes at any resolution, all attributes")
    register("image.folder", Folder, about="your own images (png/jpg/webp), recursive")
    advanced.register_datasets(register)


@genmm.hookimpl
def genmm_register_models(register):
    advanced.register_models(register)


@genmm.hookimpl
def genmm_register_losses(register):
    advanced.register_losses(register)


@genmm.hookimpl
def genmm_register_trainers(register):
    advanced.register_trainers(register)


@genmm.hookimpl
def genmm_register_metrics(register):
    advanced.register_metrics(register)


@genmm.hookimpl
def genmm_register_writers(register):
    register("image.grid", ImageGridWriter, about="PNG grid; generate --n 64 [--label 7]")
    advanced.register_writers(register)
