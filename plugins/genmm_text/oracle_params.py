"""The oracle LSTM of the SeqGAN paper (Yu et al., AAAI 2017, sec. 5 "synthetic data
experiments"), loaded from the parameters the authors publish with their code
(LantaoYu/SeqGAN ``save/target_params_py3.pkl``), or from the same arrays re-saved as a plain
numpy ``.npz``.

The authors' oracle (their ``target_lstm.py``) is a TensorFlow LSTM with separate gate
matrices multiplied from the right: i = sigmoid(x Wi + h Ui + bi), f = sigmoid(x Wf + h Uf + bf),
o = sigmoid(x Wog + h Uog + bog), c~ = tanh(x Wc + h Uc + bc), c = f c_prev + i c~,
h = o tanh(c), logits = h Wo + bo; h0 = c0 = 0 and the first input is the embedding of the
start token 0. :func:`oracle_generator` maps those arrays onto :class:`LSTMGenerator` (torch's
LSTM computes the same gates, stacked as rows i, f, g, o of ``weight_ih``), so the oracle
samples and scores with the plugin's own recurrence.

The pickle is read by :class:`NumpyOnlyUnpickler`: only numpy's array, scalar and dtype
reconstruction (plain ndarrays, non-object dtypes) may be named in it; any other global is
refused (a :class:`DataError` naming the file and the global) before anything is called.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genmm.errors import DataError
from genmm_text.generator import LSTMGenerator

PUBLISHED = "https://github.com/LantaoYu/SeqGAN (save/target_params_py3.pkl)"
WHERE = f"the authors publish the oracle's parameters at {PUBLISHED}"

# the arrays in the order of the authors' pickled list (their target_lstm.py's params[0..14])
NAMES = (
    "g_embeddings",
    "Wi", "Ui", "bi",
    "Wf", "Uf", "bf",
    "Wog", "Uog", "bog",
    "Wc", "Uc", "bc",
    "Wo", "bo",
)  # fmt: skip


def expected_shapes(vocab_size: int, embedding_dim: int, hidden_dim: int) -> dict[str, tuple]:
    """The shape of every array for a vocabulary V, embedding E and hidden width H."""
    gates = {}
    for gate in ("i", "f", "og", "c"):
        gates[f"W{gate}"] = (embedding_dim, hidden_dim)
        gates[f"U{gate}"] = (hidden_dim, hidden_dim)
        gates[f"b{gate}"] = (hidden_dim,)
    return {
        "g_embeddings": (vocab_size, embedding_dim),
        **gates,
        "Wo": (hidden_dim, vocab_size),
        "bo": (vocab_size,),
    }


def _safe_dtype(*arguments: Any) -> np.dtype:
    """numpy.dtype as the pickle calls it, refusing object dtypes (they would unpickle items)."""
    dtype = np.dtype(*arguments)
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"object dtype {dtype!r}")
    return dtype


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's array reconstruction (whatever module this numpy keeps it in), for plain
    ndarrays of non-object dtypes only."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"array subtype {subtype!r}")
    _safe_dtype(dtype)
    return np.ndarray((0,), np.float32).__reduce__()[0](subtype, shape, dtype)


def _safe_scalar(dtype: Any, *state: Any) -> Any:
    """numpy's scalar reconstruction, for non-object dtypes only."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"scalar of dtype {dtype!r}")
    return np.float32(0).__reduce__()[0](dtype, *state)


def _safe_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """numpy's protocol-5 array reconstruction, from bytes and a non-object dtype only."""
    if not isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)):
        raise pickle.UnpicklingError(f"array buffer of type {type(buffer).__name__}")
    dtype = _safe_dtype(dtype)
    return np.frombuffer(buffer, dtype).reshape(shape, order=order).copy()


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of bytes call it (str -> bytes), nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode of anything but a latin1 str")
    return text.encode("latin1")


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (in lists, tuples or dicts, with numbers and strings) and nothing
    else: the only globals a pickle may name are numpy's array, scalar and dtype reconstruction
    (checked: plain ndarrays, no object dtypes) and the str -> bytes step of protocol 2; any
    other is refused when the pickle names it, before any call."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
        ("numpy.core.multiarray", "scalar"): _safe_scalar,
        ("numpy._core.multiarray", "scalar"): _safe_scalar,
        ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
        ("_codecs", "encode"): _latin1_bytes,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _safe_dtype,
    }

    def __init__(self, file: Any, name: str, **options: Any) -> None:
        super().__init__(file, **options)
        self.name = name

    def find_class(self, module: str, name: str) -> Any:
        allowed = self.ALLOWED.get((module, name))
        if allowed is None:
            raise DataError(
                f"{self.name}: refused to unpickle '{module}.{name}' "
                "(only numpy arrays are read from a pickle)"
            )
        return allowed


def load_pickle(path: Path) -> dict[str, np.ndarray]:
    """The authors' pickled list of 15 arrays, read with :class:`NumpyOnlyUnpickler`."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error}")
    try:
        # encoding latin1: the file was written by an old numpy (array bytes as str)
        loaded = NumpyOnlyUnpickler(io.BytesIO(data), str(path), encoding="latin1").load()
    except DataError:
        raise
    except Exception as error:  # a truncated or foreign file: pickle raises many kinds
        raise DataError(f"{path}: not a pickle of numpy arrays ({type(error).__name__}: {error})")
    if isinstance(loaded, dict):
        return {str(k): v for k, v in loaded.items()}
    if not isinstance(loaded, (list, tuple)) or len(loaded) != len(NAMES):
        count = len(loaded) if isinstance(loaded, (list, tuple)) else type(loaded).__name__
        raise DataError(
            f"{path}: expected a list of {len(NAMES)} arrays ({', '.join(NAMES)}), got {count}"
        )
    return dict(zip(NAMES, loaded))


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head.startswith(b"PK"):  # numpy would try it as a pickle and say so, misleadingly
        what = "the file is empty" if not head else f"it starts with {head!r}, not a zip's PK"
        raise DataError(
            f"{path}: not a numpy .npz archive ({what}); expected the oracle's arrays saved "
            "with numpy.savez"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a numpy .npz archive of plain arrays ({error})")


def load_oracle_arrays(
    path: str | Path, vocab_size: int = 5000, embedding_dim: int = 32, hidden_dim: int = 32
) -> dict[str, np.ndarray]:
    """The 15 float32 arrays of the oracle from ``path`` (``.npz`` or the authors' ``.pkl``),
    each checked for its name and its shape; a problem is a one-line DataError naming the file
    and the array."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file ({WHERE})")
    arrays = load_pickle(path) if path.suffix in (".pkl", ".pickle") else load_npz(path)
    shapes = expected_shapes(vocab_size, embedding_dim, hidden_dim)
    checked = {}
    for name, shape in shapes.items():
        if name not in arrays:
            raise DataError(
                f"{path}: array '{name}' is missing (it holds {', '.join(sorted(arrays))})"
            )
        array = arrays[name]
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            kind = getattr(array, "dtype", type(array).__name__)
            raise DataError(f"{path}: array '{name}' is not a float array ({kind})")
        if tuple(array.shape) != shape:
            raise DataError(
                f"{path}: array '{name}' has shape {tuple(array.shape)}, expected {shape} "
                f"(vocabulary {vocab_size}, embedding {embedding_dim}, hidden {hidden_dim})"
            )
        checked[name] = np.ascontiguousarray(array, dtype=np.float32)
    extra = sorted(set(arrays) - set(shapes))
    if extra:
        raise DataError(f"{path}: unexpected array '{extra[0]}' (expected {', '.join(NAMES)})")
    return checked


def oracle_generator(arrays: dict[str, np.ndarray], length: int = 20) -> LSTMGenerator:
    """An :class:`LSTMGenerator` computing the authors' recurrence with ``arrays`` (start
    token 0, frozen, in eval mode)."""
    vocab_size, embedding_dim = arrays["g_embeddings"].shape
    hidden_dim = arrays["Ui"].shape[0]
    model = LSTMGenerator(vocab_size, embedding_dim, hidden_dim, length, start_token=0)

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(arrays[name])

    with torch.no_grad():
        model.embedding.weight.copy_(tensor("g_embeddings"))
        # torch's LSTM: rows [i; f; g; o] of weight_ih (4H, E) and weight_hh (4H, H), x W^T
        order = ("i", "f", "c", "og")
        model.lstm.weight_ih_l0.copy_(torch.cat([tensor(f"W{g}").t() for g in order]))
        model.lstm.weight_hh_l0.copy_(torch.cat([tensor(f"U{g}").t() for g in order]))
        model.lstm.bias_ih_l0.copy_(torch.cat([tensor(f"b{g}") for g in order]))
        model.lstm.bias_hh_l0.zero_()
        model.output.weight.copy_(tensor("Wo").t())
        model.output.bias.copy_(tensor("bo"))
    return model.eval().requires_grad_(False)
