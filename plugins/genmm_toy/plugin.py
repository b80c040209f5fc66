"""Hook implementations of the toy plugin."""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm_toy.data import Grid, Ring
from genmm_toy.metrics import ModeCoverage
from genmm_toy.models import MLPDiscriminator, MLPGenerator
from genmm_toy.writers import ScatterWriter


@genmm.hookimpl
def genmm_register_datasets(register):
    register("toy.ring", Ring, about="ring of 8 Gaussians, radius 2, std 0.02")
    register("toy.grid", Grid, about="5x5 grid of Gaussians, spacing 2, std 0.05")


@genmm.hookimpl
def genmm_register_models(register):
    register("toy.mlp_generator", MLPGenerator, paper="Goodfellow et al. 2014")
    register("toy.mlp_discriminator", MLPDiscriminator, paper="Goodfellow et al. 2014")


@genmm.hookimpl
def genmm_register_metrics(register):
    register("toy.modes", ModeCoverage, paper="Srivastava et al. 2017; Lin et al. 2018")


@genmm.hookimpl
def genmm_register_writers(register):
    register("toy.scatter", ScatterWriter)


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
