"""The shipped text recipes through the real CLI, tiny, and `genmm generate` on the result."""

from __future__ import annotations

import importlib.util
import json

import pytest

from genmm.training import checkpoint
from tests.conftest import RECIPES
from tests.text.conftest import CLI_ENV

TINY_ORACLE = [
    "data.vocab_size=40",
    "data.length=8",
    "data.size=256",
    "data.held_out=0.125",
    "models.generator.vocab_size=40",
    "models.generator.max_length=8",
    "models.discriminator.vocab_size=40",
    "models.discriminator.max_length=8",
    "phases.mle.batch_size=16",
    "phases.d_pretrain.negatives=64",
    "phases.d_pretrain.batch_size=16",
    "phases.adversarial.batch_size=8",
    "phases.adversarial.rollouts=2",
    "phases.adversarial.negatives=32",
    "phases.adversarial.d_steps=1",
    "phases.adversarial.d_epochs=1",
    "eval.metrics=[{name: text.nll_oracle, n_samples: 64}]",
    "runtime.progress=false",
]


def test_seqgan_oracle_recipe_smoke(tmp_path, cli):
    out = tmp_path / "oracle"
    result = cli(
        "run", str(RECIPES / "seqgan_oracle.yaml"), *TINY_ORACLE, "--out", str(out),
        "--max-steps", "2", env=CLI_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    phases = {r["phase"] for r in records if "phase_step" in r}
    assert phases == {"mle", "d_pretrain", "adversarial"}
    evals = [r["eval"]["nll_oracle"] for r in records if "eval" in r]
    assert evals and all(0 < value < 20 for value in evals)
    written = tmp_path / "ids.txt"
    result = cli("generate", str(out), "--n", "3", "-o", str(written), env=CLI_ENV)
    assert result.returncode == 0, result.stderr
    lines = written.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 8 for line in lines)
    assert all(0 <= int(token) < 40 for line in lines for token in line.split())


def news_data(tmp_path) -> list[str]:
    """The Lee corpus when gensim is installed, else a small text file of the same kind."""
    if importlib.util.find_spec("gensim") is not None:
        return []
    corpus = tmp_path / "corpus.txt"
    lines = [
        f"The government met on day {i}. Fires burned near town {i % 7}. Officials met in Sydney."
        for i in range(80)
    ]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["data.name=text.corpus", f"data.path={corpus}"]


def test_news_recipe_trains_and_generates_text(tmp_path, cli):
    out = tmp_path / "news"
    result = cli(
        "run", str(RECIPES / "news.yaml"), *news_data(tmp_path), "--out", str(out),
        "--max-steps", "2",
        "data.vocab_size=300", "data.max_length=16", "models.generator.vocab_size=300",
        "models.generator.max_length=16", "models.discriminator.vocab_size=300",
        "models.discriminator.max_length=16", "models.generator.embedding_dim=16",
        "models.generator.hidden_dim=16", "phases.adversarial.rollouts=2",
        "phases.adversarial.batch_size=4", "phases.adversarial.negatives=16",
        "phases.adversarial.d_steps=1", "phases.adversarial.d_epochs=1",
        "phases.d_pretrain.negatives=32", "eval.every=0", "samples.n=3",
        "runtime.progress=false", env=CLI_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the tokenizer travels in the checkpoint's data description: generate builds no data
    description = json.loads(
        (checkpoint.latest(out / "checkpoints") / "description.json").read_text()
    )
    assert description["tokenizer"] and description["end_token"] == 1
    assert not (out / "tokenizer.json").exists()
    written = tmp_path / "sentences.txt"
    result = cli(
        "generate", str(out), "--n", "4", "--prompt", "The government", "--temperature", "0.8",
        "--top-k", "40", "-o", str(written), env=CLI_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = written.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all(line.startswith("The government") for line in lines)
    shown = cli("generate", str(out), "--n", "2", env=CLI_ENV)  # no -o: printed as well
    assert shown.returncode == 0, shown.stderr
    printed = shown.stdout.splitlines()
    assert printed[0].endswith(".txt") and len(printed) == 3
    bad = cli("generate", str(out), "--n", "2", "--temprature", "0.5", env=CLI_ENV)
    assert bad.returncode != 0 and "temperature" in bad.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.txt", "Caf\xe9 au lait.\n".encode("latin-1"), "latin1.txt: not UTF-8"),
        ("empty.txt", b"\n\n", "empty.txt: the file is empty"),
    ],
)
def test_bad_corpus_file_is_named_by_the_cli(tmp_path, cli, name, content, message):
    corpus = tmp_path / name
    corpus.write_bytes(content)
    result = cli(
        "run", str(RECIPES / "news.yaml"), "data.name=text.corpus", f"data.path={corpus}",
        "--out", str(tmp_path / "run"), "--max-steps", "1", env=CLI_ENV,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_text_writer_keeps_one_sentence_per_line(tmp_path):
    """A decoded sentence holding a line break (byte-level BPE can emit one) stays one line."""
    from genmm_text.writers import TextWriter

    written = TextWriter().write(["one\ntwo", "three\x0bfour\r\nfive", "six"], tmp_path / "s.txt")
    lines = written[0].read_text(encoding="utf-8").split("\n")
    assert lines == ["one two", "three four five", "six", ""]
