"""Registrations of StyleGAN2 and InfoGAN (called from plugin.py's hooks)."""

from __future__ import annotations


def register_datasets(register) -> None:
    pass


def register_models(register) -> None:
    pass


def register_losses(register) -> None:
    pass


def register_trainers(register) -> None:
    pass


def register_metrics(register) -> None:
    pass


def register_writers(register) -> None:
    pass
