"""Text-plugin fixtures. Small tensor work runs on one thread: on a busy 2-core machine,
two OpenMP threads waiting on each other make tiny ops 10-50x slower."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CLI_ENV = {"OMP_NUM_THREADS": "1"}
