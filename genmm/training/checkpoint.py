"""Atomic checkpoints: ``model.safetensors`` (weights), ``state.pt`` (everything else,
loadable with ``weights_only=True``), ``meta.json`` and the resolved ``recipe.yaml``.

A checkpoint is written to a hidden temporary folder and renamed into place; ``last`` is
switched only afterwards, so a crash at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genmm.errors import CheckpointError

WEIGHTS, STATE, META, RECIPE = "model.safetensors", "state.pt", "meta.json", "recipe.yaml"
DESCRIPTION = "description.json"  # the dataset's plain-data description


def rng_state() -> dict[str, Any]:
    """Every random stream: python, numpy, torch CPU and CUDA."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    numpy = {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64))}
    numpy.update(position=int(position), has_gauss=int(has_gauss), cached=float(cached))
    state = {"python": random.getstate(), "numpy": numpy, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy = state["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state(
        (numpy["kind"], keys, numpy["position"], numpy["has_gauss"], numpy["cached"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def flatten_weights(modules: dict[str, torch.nn.Module]) -> tuple[dict[str, torch.Tensor], dict]:
    """One flat tensor table; tensors sharing storage (tied weights) are stored once."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for prefix, module in modules.items():
        for key, tensor in module.state_dict().items():
            name = f"{prefix}.{key}"
            storage = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tensor.dtype)
            identity = (*storage, tuple(tensor.shape), tuple(tensor.stride()))
            if tensor.numel() and identity in seen:
                aliases[name] = seen[identity]
                continue
            seen[identity] = name
            tensors[name] = tensor.detach().to("cpu").contiguous().clone()
    return tensors, aliases


def save(
    folder: Path,
    name: str,
    modules: dict[str, torch.nn.Module],
    state: dict[str, Any],
    meta: dict[str, Any],
    recipe_text: str,
    keep: int,
    description: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/name`` atomically, point ``folder/last`` at it, keep the newest ``keep``."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    temporary = folder / f".tmp-{name}-{os.getpid()}"
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir()
    tensors, aliases = flatten_weights(modules)
    save_file(tensors, str(temporary / WEIGHTS), metadata={"aliases": json.dumps(aliases)})
    torch.save(state, temporary / STATE)
    (temporary / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (temporary / RECIPE).write_text(recipe_text, encoding="utf-8")
    (temporary / DESCRIPTION).write_text(json.dumps(description or {}), encoding="utf-8")
    for file in temporary.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    if final.exists():
        trash = folder / f".old-{name}-{os.getpid()}"
        os.rename(final, trash)
        os.rename(temporary, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(temporary, final)
    link = folder / f".last-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(name, link)
    os.replace(link, folder / "last")
    prune(folder, keep)
    return final


def complete(folder: Path) -> bool:
    return all((folder / part).is_file() for part in (WEIGHTS, STATE, META))


def checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.name.startswith("step-") and not p.is_symlink()]
    return sorted((p for p in found if p.is_dir() and complete(p)), key=lambda p: p.name)


def prune(folder: Path, keep: int) -> None:
    if keep <= 0:
        return
    last = latest(folder)
    for old in checkpoints(folder)[:-keep]:
        if last is None or old.resolve() != last.resolve():
            shutil.rmtree(old, ignore_errors=True)


def latest(folder: Path) -> Path | None:
    """``last`` when it points at a complete checkpoint, else the newest complete one."""
    link = folder / "last"
    if link.exists() and complete(link.resolve()):
        return link.resolve()
    found = checkpoints(folder)
    return found[-1] if found else None


def find(path: str | os.PathLike[str]) -> Path:
    """A checkpoint folder from a run folder, a checkpoints folder or a checkpoint folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run or checkpoint")
    if (path / WEIGHTS).exists() or (path / META).exists():
        if not complete(path):
            missing = [p for p in (WEIGHTS, STATE, META) if not (path / p).is_file()]
            raise CheckpointError(f"{path}: incomplete checkpoint, missing {', '.join(missing)}")
        return path
    for candidate in (path / "checkpoints", path):
        found = latest(candidate)
        if found is not None:
            return found
    raise CheckpointError(f"{path}: no complete checkpoint found (expected checkpoints/step-*/)")


def load_weights(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Per-prefix state dicts from ``model.safetensors``; a damaged file is a CheckpointError."""
    file = folder / WEIGHTS
    try:
        tensors = load_file(str(file))
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"{file}: cannot read weights ({error}); the file is damaged or truncated"
        )
    for alias, source in json.loads(metadata.get("aliases", "{}")).items():
        tensors[alias] = tensors[source]
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        prefix, _, key = name.partition(".")
        if prefix == "ema":
            role, _, key = key.partition(".")
            prefix = f"ema.{role}"
        grouped.setdefault(prefix, {})[key] = tensor
    return grouped


def load_state(folder: Path) -> dict[str, Any]:
    file = folder / STATE
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated pickles raise several kinds of error
        raise CheckpointError(
            f"{file}: cannot read training state ({type(error).__name__}: "
            f"{error}); the file is damaged or truncated"
        )


def load_meta(folder: Path) -> dict[str, Any]:
    return _read_json(folder / META, "")


def load_description(folder: Path) -> dict[str, Any]:
    """The dataset description saved with the checkpoint (``{}`` for one written without)."""
    file = folder / DESCRIPTION
    return _read_json(file, " the data description") if file.exists() else {}


def _read_json(file: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{file}: cannot read{what} ({error})")
