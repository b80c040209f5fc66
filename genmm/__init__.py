"""genmm: train and run GANs from YAML recipes, through plugins (docs/writing-plugins.md)."""

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

__all__ = ["BuiltRun", "TrainerRun", "hookimpl", "load", "train", "__version__"]
__all__ += ["losses", "metrics", "training", "writers"]
__all__ += ["CheckpointError", "DataError", "GenmmError", "PluginError", "RecipeError"]
__all__ += ["TrainingError"]
