"""genmm: train and run generative adversarial networks from YAML recipes, through plugins.

A plugin author needs ``import genmm`` and ``@genmm.hookimpl``; see docs/writing-plugins.md.
"""

from __future__ import annotations

from genmm import losses, metrics, training, writers
from genmm.api import load, train
from genmm.errors import (
    CheckpointError,
    DataError,
    GenmmError,
    PluginError,
    RecipeError,
    TrainingError,
)
from genmm.hookspecs import hookimpl
from genmm.surface import BuiltRun, TrainerRun

__version__ = "0.1.0"

__all__ = [
    "BuiltRun",
    "CheckpointError",
    "DataError",
    "GenmmError",
    "PluginError",
    "RecipeError",
    "TrainerRun",
    "TrainingError",
    "hookimpl",
    "load",
    "losses",
    "metrics",
    "train",
    "training",
    "writers",
    "__version__",
]
