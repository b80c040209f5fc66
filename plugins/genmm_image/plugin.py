"""Hook implementations of the image plugin."""

from __future__ import annotations

import genmm
from genmm_image import advanced


@genmm.hookimpl
def genmm_register_datasets(register):
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
    advanced.register_writers(register)
