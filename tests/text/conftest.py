"""Text-plugin fixtures (tests/conftest.py runs the test process on one thread)."""

from __future__ import annotations

CLI_ENV = {"OMP_NUM_THREADS": "1"}
