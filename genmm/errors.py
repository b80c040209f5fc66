"""Typed errors that carry *where*: the file, the recipe key path or the item."""

from __future__ import annotations


class GenmmError(Exception):
    """Base of every error genmm raises on purpose; the CLI prints it in one line."""


class RecipeError(GenmmError):
    """A recipe is malformed: names the recipe file and the key path."""

    def __init__(self, message: str, file: str | None = None, key: str | None = None):
        self.file, self.key = file, key
        where = ", ".join(part for part in (file, f"key '{key}'" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class PluginError(GenmmError):
    """A plugin failed to load, misspelled a hook or registered a name twice."""


class DataError(GenmmError):
    """A dataset or one of its items is unusable: names the file or item."""


class CheckpointError(GenmmError):
    """A checkpoint is missing, truncated or does not match the recipe: names the file."""


class TrainingError(GenmmError):
    """Training cannot go on, e.g. a non-finite loss: names the step and the loss."""
