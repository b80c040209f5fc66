"""The SeqGAN paper's own oracle (Yu et al. 2017, sec. 5): loading the authors' parameters
(``.npz`` and their pickle, through an unpickler restricted to numpy arrays), the recurrence
they define, the refusals, the recipe and a CI-scale run on the loaded oracle.

Tests that need the authors' file read it from ``../shared/data/`` (next to the checkout) and
skip, saying so, when it is absent."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import genmm
from genmm import DataError
from genmm import recipe as recipes
from genmm.plugins import get_manager
from genmm_text.data import OracleDataset, PaperOracleDataset
from genmm_text.oracle_params import NAMES, expected_shapes, load_oracle_arrays, load_pickle
from tests.conftest import RECIPES
from tests.text.conftest import CLI_ENV

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NPZ = SHARED / "seqgan_oracle_params.npz"
PKL = SHARED / "seqgan_target_params_py3.pkl"
needs_npz = pytest.mark.skipif(
    not NPZ.is_file(), reason=f"the authors' oracle parameters are not at {NPZ}"
)
needs_both = pytest.mark.skipif(
    not (NPZ.is_file() and PKL.is_file()),
    reason=f"the authors' oracle parameters (.npz and .pkl) are not both in {SHARED}",
)


def small_arrays(vocab: int = 50, embedding: int = 4, hidden: int = 3, seed: int = 0):
    generator = np.random.default_rng(seed)
    return {
        name: generator.standard_normal(shape).astype(np.float32)
        for name, shape in expected_shapes(vocab, embedding, hidden).items()
    }


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def readme_log_probs(arrays: dict[str, np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """The recurrence of ../shared/data/README.md in float64 numpy: (T,) tokens -> (T,) log p."""
    a = {name: value.astype(np.float64) for name, value in arrays.items()}
    h = np.zeros(a["Ui"].shape[0])
    c = np.zeros_like(h)
    x = a["g_embeddings"][0]  # the first input: the embedding of token 0
    out = []
    for token in tokens:
        i = sigmoid(x @ a["Wi"] + h @ a["Ui"] + a["bi"])
        f = sigmoid(x @ a["Wf"] + h @ a["Uf"] + a["bf"])
        o = sigmoid(x @ a["Wog"] + h @ a["Uog"] + a["bog"])
        candidate = np.tanh(x @ a["Wc"] + h @ a["Uc"] + a["bc"])
        c = f * c + i * candidate
        h = o * np.tanh(c)
        logits = h @ a["Wo"] + a["bo"]
        logits = logits - logits.max()
        out.append((logits - np.log(np.exp(logits).sum()))[token])
        x = a["g_embeddings"][token]
    return np.array(out)


# -- the restricted unpickler ---------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_unpickler_loads_a_pickle_of_numpy_arrays(tmp_path, protocol):
    arrays = small_arrays()
    path = tmp_path / "params.pkl"
    path.write_bytes(pickle.dumps([arrays[name] for name in NAMES], protocol=protocol))
    loaded = load_pickle(path)
    assert list(loaded) == list(NAMES)
    for name in NAMES:
        assert loaded[name].dtype == np.float32
        np.testing.assert_array_equal(loaded[name], arrays[name])
    checked = load_oracle_arrays(path, 50, 4, 3)
    np.testing.assert_array_equal(checked["Wo"], arrays["Wo"])


class CallsSystem:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_unpickler_refuses_a_pickle_that_would_call_a_function(tmp_path):
    marker = tmp_path / "it_ran"
    arrays = small_arrays()
    path = tmp_path / "evil.pkl"
    payload = [arrays[name] for name in NAMES[:-1]] + [CallsSystem(marker)]
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataError, match=r"evil\.pkl: refused to unpickle '(posix|os|nt)\.system'"):
        load_oracle_arrays(path, 50, 4, 3)
    assert not marker.exists()  # nothing ran
    objects = tmp_path / "objects.pkl"  # an object array would unpickle arbitrary items
    objects.write_bytes(pickle.dumps([np.array([1, "a"], dtype=object)], protocol=3))
    with pytest.raises(DataError, match=r"objects\.pkl: not a pickle of numpy arrays.*object"):
        load_pickle(objects)


# -- the authors' file ----------------------------------------------------------------------


@needs_both
def test_the_npz_and_the_authors_pickle_hold_identical_parameters():
    from_npz = load_oracle_arrays(NPZ)
    from_pickle = load_oracle_arrays(PKL)
    assert list(from_npz) == list(from_pickle) == list(NAMES)
    for name in NAMES:
        assert from_npz[name].dtype == from_pickle[name].dtype == np.float32
        np.testing.assert_array_equal(from_npz[name], from_pickle[name], err_msg=name)


@needs_npz
def test_loaded_oracle_follows_the_readme_recurrence():
    arrays = load_oracle_arrays(NPZ)
    data = OracleDataset(size=64, held_out=0.0, params=str(NPZ))
    # first-token probabilities from the embedding of token 0, h0 = c0 = 0, by hand
    a = {name: value.astype(np.float64) for name, value in arrays.items()}
    x = a["g_embeddings"][0]
    i, o = sigmoid(x @ a["Wi"] + a["bi"]), sigmoid(x @ a["Wog"] + a["bog"])
    c = i * np.tanh(x @ a["Wc"] + a["bc"])  # f * c0 vanishes
    logits = (o * np.tanh(c)) @ a["Wo"] + a["bo"]
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    first, _ = data.oracle.start(1, torch.device("cpu"))
    probabilities = first.softmax(-1)[0].double().numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-9)
    # and every later step, teacher-forced on the oracle's own training sequences
    ours = data.oracle.log_probs(data.tokens[:4]).double().numpy()
    for row, log_probs in zip(data.tokens[:4].numpy(), ours):
        np.testing.assert_allclose(log_probs, readme_log_probs(arrays, row), atol=1e-4)
    # the training data are samples of this oracle: far likelier than uniform tokens
    own = data.oracle_nll(data.tokens)
    uniform = data.oracle_nll(torch.randint(0, 5000, (64, 20), generator=torch.Generator()))
    assert own < 7.0 < 10.0 < uniform, (own, uniform)


@needs_npz
def test_paper_oracle_dataset_draws_10000_sequences_from_the_authors_oracle():
    data = PaperOracleDataset(params=str(NPZ), size=10000, held_out=0.0)
    assert data.tokens.shape == (10000, 20) and data.vocab_size == 5000
    assert data.describe()["vocab_size"] == 5000 and data.describe()["sequence_length"] == 20


# -- refusals -------------------------------------------------------------------------------


def test_wrong_shape_missing_array_and_missing_file_name_the_array(tmp_path):
    arrays = small_arrays()
    good = tmp_path / "good.npz"
    np.savez(good, **arrays)
    assert load_oracle_arrays(good, 50, 4, 3)["Wi"].shape == (4, 3)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, **{**arrays, "Uf": np.zeros((3, 2), np.float32)})
    with pytest.raises(DataError, match=r"wrong\.npz: array 'Uf' has shape \(3, 2\), expected"):
        load_oracle_arrays(wrong, 50, 4, 3)
    missing = tmp_path / "missing.npz"
    np.savez(missing, **{k: v for k, v in arrays.items() if k != "bo"})
    with pytest.raises(DataError, match=r"missing\.npz: array 'bo' is missing"):
        OracleDataset(vocab_size=50, embedding_dim=4, hidden_dim=3, size=8, params=str(missing))
    with pytest.raises(DataError, match=r"good\.npz: array 'g_embeddings' has shape \(50, 4\)"):
        OracleDataset(size=8, params=str(good))  # the file is not of the default widths
    with pytest.raises(DataError, match=r"nowhere\.npz: no such file.*LantaoYu/SeqGAN"):
        OracleDataset(size=8, params=str(tmp_path / "nowhere.npz"))
    with pytest.raises(DataError, match=r"set data\.params=PATH.*LantaoYu/SeqGAN") as raised:
        PaperOracleDataset()
    assert "\n" not in str(raised.value)


def test_a_small_loaded_oracle_samples_its_own_sequences(tmp_path):
    path = tmp_path / "small.npz"
    np.savez(path, **small_arrays())
    data = OracleDataset(vocab_size=50, embedding_dim=4, hidden_dim=3, length=6, size=40,
                         held_out=0.25, params=str(path))  # fmt: skip
    assert data.tokens.shape == (40, 6) and data.held_out_tokens.shape == (10, 6)
    again = OracleDataset(vocab_size=50, embedding_dim=4, hidden_dim=3, length=6, size=40,
                          held_out=0.25, params=str(path))  # fmt: skip
    assert torch.equal(data.tokens, again.tokens)  # the seed fixes the draw
    arrays = small_arrays()
    expected = readme_log_probs(arrays, data.tokens[0].numpy())
    np.testing.assert_allclose(data.oracle.log_probs(data.tokens[:1])[0].numpy(), expected,
                               atol=1e-5)  # fmt: skip


# -- the recipe -----------------------------------------------------------------------------


def test_paper_oracle_recipe_validates_and_asks_for_the_file(tmp_path, cli):
    path = RECIPES / "seqgan_paper_oracle.yaml"
    manager = get_manager()
    resolved = recipes.resolve(path, [])
    recipes.validate(resolved, manager.registry, str(path))
    assert resolved["data"] == {
        "name": "text.paper_oracle", "params": None, "length": 20, "size": 10000,
        "held_out": 0.1,
    }  # fmt: skip
    phases = resolved["phases"]
    assert phases["mle"]["epochs"] == 120 and phases["d_pretrain"]["epochs"] == 150
    adversarial = phases["adversarial"]
    assert (adversarial["max_steps"], adversarial["rollouts"], adversarial["d_steps"]) == (
        200, 16, 5,
    )  # fmt: skip
    assert (adversarial["d_epochs"], adversarial["negatives"]) == (3, 10000)
    result = cli("run", str(path), "--out", str(tmp_path / "run"), "--max-steps", "1",
                 env=CLI_ENV)  # fmt: skip
    assert result.returncode != 0
    assert "LantaoYu/SeqGAN" in result.stderr and "data.params" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


CI_PAPER_ORACLE = [
    "data.length=8",
    "data.size=256",
    "data.held_out=0.125",
    "models.generator.max_length=8",
    "models.discriminator.max_length=8",
    "models.discriminator.embedding_dim=16",
    "models.discriminator.filter_sizes=[1, 2, 4]",
    "models.discriminator.num_filters=[8, 8, 8]",
    "phases.mle.epochs=null",
    "phases.mle.max_steps=4",
    "phases.d_pretrain.epochs=null",
    "phases.d_pretrain.max_steps=2",
    "phases.d_pretrain.negatives=64",
    "phases.adversarial.max_steps=2",
    "phases.adversarial.batch_size=8",
    "phases.adversarial.rollouts=2",
    "phases.adversarial.d_steps=1",
    "phases.adversarial.d_epochs=1",
    "phases.adversarial.negatives=32",
    "eval.every=4",
    "eval.metrics=[{name: text.nll_oracle, n_samples: 64}]",
    "checkpoint.every=0",
    "samples.every=0",
    "runtime.progress=false",
    "runtime.log_every=0",
]


@needs_npz
def test_ci_scale_run_on_the_loaded_oracle_records_nll_oracle(tmp_path):
    run = genmm.train(
        RECIPES / "seqgan_paper_oracle.yaml",
        [f"data.params={NPZ}", *CI_PAPER_ORACLE],
        out=tmp_path / "run",
        manager=get_manager(),
    )
    assert run.status == "completed"
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert {r["phase"] for r in records if "phase_step" in r} == {
        "mle",
        "d_pretrain",
        "adversarial",
    }
    values = [r["eval"]["nll_oracle"] for r in records if "eval" in r]
    # an almost untrained G: its samples are nearly uniform, which this oracle scores at ~11.4
    assert values and all(9.0 < value < 13.0 for value in values), values
