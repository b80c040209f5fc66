"""genmm: train and run generative adversarial networks from YAML recipes, through plugins.

A plugin author needs ``import genmm`` and ``@genmm.hookimpl``; see docs/writing-plugins.md.
"""

from __future__ import annotations

from genmm import losses, metrics, trainer, writers
from genmm.errors import (
    CheckpointError,
    DataError,
    GenmmError,
    PluginError,
    RecipeError,
    TrainingError,
)
from genmm.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DataError",
    "GenmmError",
    "PluginError",
    "RecipeError",
    "TrainingError",
    "hookimpl",
    "losses",
    "metrics",
    "trainer",
    "writers",
    "__version__",
]
