"""Atomic, verified checkpoints: layout, atomicity and faults in docs/architecture.md."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from genmm.errors import CheckpointError

log = logging.getLogger(__name__)

WEIGHTS, STATE, META, RECIPE = "model.safetensors", "state.pt", "meta.json", "recipe.yaml"
DESCRIPTION = "description.json"  # the dataset's plain-data description
REQUIRED = (WEIGHTS, STATE, META, RECIPE)
WHAT = {WEIGHTS: "weights", STATE: "training state", RECIPE: "recipe"}  # for error messages
WHAT[DESCRIPTION] = "data description"
HIDDEN = (".tmp-", ".old-", ".last-", ".del-")  # a save's scratch names, suffixed with its pid
MB = 1024 * 1024
DAMAGED = "the file is damaged or truncated"
DISK_FULL = ("no space left", "os error 28", "quota exceeded")  # as open, safetensors, torch say
SKIPPED = "skipped checkpoint %s: %s; using %s, the newest whole checkpoint (nothing was deleted)"


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
    python, numpy = state["python"], state["numpy"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    keys = numpy["keys"].numpy().astype(np.uint32)
    rest = (numpy["position"], numpy["has_gauss"], numpy["cached"])
    np.random.set_state((numpy["kind"], keys, *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def flatten_weights(modules: dict[str, torch.nn.Module]) -> tuple[dict[str, torch.Tensor], dict]:
    """One flat tensor table; tensors sharing storage (tied weights) are stored once."""
    tensors, aliases, seen = {}, {}, {}
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
    sweep(folder)
    final, temporary = folder / name, folder / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    tensors, aliases = flatten_weights(modules)
    texts = {RECIPE: recipe_text, DESCRIPTION: json.dumps(description or {})}
    sizes = {WEIGHTS: sum(t.numel() * t.element_size() + 128 for t in tensors.values())}
    sizes |= {STATE: tensor_bytes(state) + 4096, META: 1024}  # estimates, for errors
    sizes |= {part: len(text.encode("utf-8")) for part, text in texts.items()}
    writing = final
    try:
        temporary.mkdir()
        writing = temporary / WEIGHTS
        write_weights(writing, tensors, aliases)
        writing = temporary / STATE
        write_state(writing, state)
        for part, text in texts.items():
            writing = temporary / part
            writing.write_text(text, encoding="utf-8")
        written = [temporary / part for part in (WEIGHTS, STATE, *texts)]
        files = {f.name: {"bytes": f.stat().st_size, "sha256": digest(f)} for f in written}
        writing = temporary / META
        writing.write_text(json.dumps({**meta, "files": files}, indent=2), encoding="utf-8")
        for writing in temporary.iterdir():
            with open(writing, "rb") as handle:
                os.fsync(handle.fileno())
        writing = final
        publish(temporary, final)
    except (OSError, SafetensorError, RuntimeError) as error:  # what the writers raise
        shutil.rmtree(temporary, ignore_errors=True)
        raise CheckpointError(write_failure(final, writing, error, sizes)) from error
    try:
        point_last(folder, name)
    except OSError as error:
        raise CheckpointError(
            f"{folder / 'last'}: cannot point it at {name} ({error}); {final} is complete, and "
            "`last` still names the previous checkpoint"
        ) from error
    prune(folder, keep)
    return final


def write_weights(file: Path, tensors: dict[str, torch.Tensor], aliases: dict[str, str]) -> None:
    save_file(tensors, str(file), metadata={"aliases": json.dumps(aliases)})


def write_state(file: Path, state: dict[str, Any]) -> None:
    torch.save(state, file)


def publish(temporary: Path, final: Path) -> None:
    """Rename the written folder into place, replacing a whole one there; a damaged one is kept."""
    trash = final.parent / f".old-{final.name}-{os.getpid()}"
    if final.exists():
        try:
            verify(final)
        except CheckpointError as problem:
            aside = unused(final.parent / f"damaged-{final.name}")
            os.rename(final, aside)
            log.warning("%s was damaged (%s); kept it as %s", final.name, problem, aside.name)
        else:
            os.rename(final, trash)
    try:
        os.rename(temporary, final)
    except BaseException:
        if trash.exists():
            os.rename(trash, final)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    sync_folder(final.parent)


def point_last(folder: Path, name: str) -> None:
    """Switch ``folder/last`` to ``name`` atomically (a new link renamed over the old)."""
    link = folder / f".last-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(name, link)
    os.replace(link, folder / "last")
    sync_folder(folder)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening folders)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def unused(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


def digest(file: Path) -> str:
    with open(file, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def tensor_bytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size() + 64
    if isinstance(value, dict):
        value = list(value.values())
    return sum(map(tensor_bytes, value)) if isinstance(value, (list, tuple)) else 16


def write_failure(final: Path, file: Path, error: BaseException, sizes: dict[str, int]) -> str:
    """The message of a failed write: what, where, the space needed and what survived."""
    parts = ", ".join(f"{part} {size / MB:.2f}" for part, size in sizes.items())
    try:
        free = f"{shutil.disk_usage(final.parent).free / MB:.1f} MB free there"
    except OSError:
        free = "free space unknown"
    previous = latest(final.parent)
    kept = f"the previous checkpoint {previous.name} is intact" if previous else "none is kept"
    full = getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    if full or any(words in str(error).lower() for words in DISK_FULL):
        cause = "no space left on device"
    elif isinstance(error, OSError) and error.strerror:
        cause = error.strerror
    else:
        cause = f"{type(error).__name__}: {error}"
    return (
        f"{file}: cannot write checkpoint {final.name}: {cause}; it needs about "
        f"{sum(sizes.values()) / MB:.1f} MB ({parts} MB), {free}. Nothing of it was kept and "
        f"`last` is unchanged; {kept}. Free some space (or lower checkpoint.keep) and continue "
        "with --resume"
    )


def sweep(folder: Path) -> None:
    """Tidy what killed writers left: scratch removed, a moved-aside checkpoint put back."""
    for path in folder.iterdir():
        prefix = next((p for p in HIDDEN if path.name.startswith(p)), None)
        if prefix is None:
            continue
        stem, _, pid = path.name[len(prefix) :].rpartition("-")
        if not pid.isdigit() or int(pid) == os.getpid() or alive(int(pid)):
            continue
        if prefix == ".old-" and stem and not (folder / stem).exists():
            os.rename(path, folder / stem)
            log.warning("put back %s, moved aside by a writer that was killed", stem)
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but is not ours
        pass
    return True


def complete(folder: Path) -> bool:
    """Every file is there (a cheap test; :func:`verify` checks that each is whole)."""
    return all((folder / part).is_file() for part in REQUIRED)


def checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    return sorted((p for p in step_folders(folder) if complete(p)), key=lambda p: p.name)


def step_folders(folder: Path) -> list[Path]:
    return [p for p in folder.glob("step-*") if p.is_dir() and not p.is_symlink()]


def prune(folder: Path, keep: int) -> None:
    last = latest(folder)
    for old in checkpoints(folder)[:-keep] if keep > 0 else []:
        if last is None or old.resolve() != last.resolve():
            # hidden first: a kill mid-delete leaves scratch for sweep, not a half checkpoint
            doomed = folder / f".del-{old.name}-{os.getpid()}"
            os.rename(old, doomed)
            shutil.rmtree(doomed, ignore_errors=True)


def latest(folder: Path) -> Path | None:
    """``last`` when it points at a complete checkpoint, else the newest complete one."""
    link = folder / "last"
    if link.exists() and complete(link.resolve()):
        return link.resolve()
    found = checkpoints(folder)
    return found[-1] if found else None


def find(path: str | os.PathLike[str]) -> Path:
    """A whole checkpoint from a run, checkpoints or checkpoint folder (docs/architecture.md)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run or checkpoint")
    if any((path / part).exists() for part in (WEIGHTS, STATE, META)):
        verify(path)
        return path
    for folder in (path / "checkpoints", path):
        link = folder / "last"
        named = link.resolve() if link.is_symlink() else None
        tried = sorted(step_folders(folder), key=lambda p: (p.resolve() == named, p.name))
        skipped: list[tuple[str, CheckpointError]] = []
        for candidate in reversed(tried):  # what ``last`` names, then newest first
            try:
                verify(candidate)
            except CheckpointError as problem:
                skipped.append((candidate.name, problem))
                continue
            for name, problem in skipped:
                log.warning(SKIPPED, name, problem, candidate.name)
            return candidate
        if skipped:
            reasons = "; ".join(str(problem) for _, problem in skipped)
            raise CheckpointError(
                f"{folder}: no complete checkpoint, every one is damaged: {reasons}"
            )
    raise CheckpointError(f"{path}: no complete checkpoint found (expected checkpoints/step-*/)")


def verify(folder: Path) -> dict[str, Any]:
    """The metadata once every file is there, of its size and sha256; else a CheckpointError."""
    missing = [part for part in REQUIRED if not (folder / part).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: incomplete checkpoint, missing {', '.join(missing)}")
    meta = load_meta(folder)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{folder / META}: not a mapping; the metadata file is damaged")
    files = meta.get("files")
    if not isinstance(files, dict):
        raise CheckpointError(
            f"{folder / META}: no table of files (damaged, or written before checksums)"
        )
    recorded = [(folder / part, what, files[part]) for part, what in WHAT.items() if part in files]
    for file, what, expected in recorded:
        size = file.stat().st_size if file.is_file() else None
        if size != expected.get("bytes"):
            found = "missing" if size is None else f"{size} bytes"
            raise CheckpointError(
                f"{file}: {found} where {expected.get('bytes')} were written; the {what} file is "
                "truncated or damaged"
            )
    for file, what, expected in recorded:
        if digest(file) != expected.get("sha256"):
            raise CheckpointError(
                f"{file}: its sha256 differs from the one meta.json recorded; the {what} file is "
                "damaged"
            )
    return meta


def load_weights(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Per-prefix state dicts from ``model.safetensors``; a damaged file is a CheckpointError."""
    file = folder / WEIGHTS
    try:
        with safe_open(str(file), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            aliases = json.loads((handle.metadata() or {}).get("aliases", "{}"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{file}: cannot read weights ({error}); {DAMAGED}")
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for name in [*tensors, *aliases]:
        prefix, _, key = name.partition(".")
        if prefix == "ema":
            role, _, key = key.partition(".")
            prefix = f"ema.{role}"
        grouped.setdefault(prefix, {})[key] = tensors[aliases.get(name, name)]
    return grouped


def load_state(folder: Path) -> dict[str, Any]:
    try:
        return torch.load(folder / STATE, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated pickles raise several kinds of error
        why = f"{type(error).__name__}: {error}"
        raise CheckpointError(f"{folder / STATE}: cannot read training state ({why}); {DAMAGED}")


def load_meta(folder: Path) -> dict[str, Any]:
    return read_json(folder / META, "the metadata")


def load_description(folder: Path) -> dict[str, Any]:
    """The dataset description saved with the checkpoint (``{}`` for one written without)."""
    file = folder / DESCRIPTION
    return read_json(file, "the data description") if file.exists() else {}


def read_json(file: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{file}: cannot read {what} ({error}); the file is damaged")
