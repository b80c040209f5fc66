"""A metric's own network (a feature classifier), trained once and kept on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from torch import nn

log = logging.getLogger(__name__)


def weights_hash(module: nn.Module) -> str:
    """A short digest of the weights, naming the network in a metric's record."""
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def cached_network(
    folder: str, key: str, network: nn.Module, train: Callable[[], nn.Module], what: str
) -> tuple[nn.Module, Path]:
    """``network`` with the weights cached under ``key`` or else ``train()``'s, saved atomically;
    in eval mode without gradients, with its cache file. A damaged cache file is trained again."""
    from safetensors.torch import load_file, save_file

    cache = Path(os.environ.get("GENMM_CACHE") or Path.home() / ".cache" / "genmm")
    path = cache / folder / f"{key}.safetensors"
    if path.exists():
        try:
            network.load_state_dict(load_file(path))
            return network.eval().requires_grad_(False), path
        except Exception as error:  # a damaged cache file is rebuilt
            log.warning("rebuilding the %s cache %s: %s", what, path, error)
    started = time.perf_counter()
    network = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, temporary)
    temporary.replace(path)
    log.info("trained the %s in %.1fs -> %s", what, time.perf_counter() - started, path)
    return network.eval().requires_grad_(False), path
