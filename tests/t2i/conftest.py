"""Fixtures of the text-to-image plugin's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def manager():
    """The process-wide plugin manager; the t2i plugin loads through its entry point."""
    from genmm.plugins import get_manager

    manager = get_manager()
    assert "t2i" in manager.infos and not manager.infos["t2i"].error
    return manager
