"""Text data: tokenizer round-trips, corpus reading and its errors, the oracle and the news."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from genmm import DataError
from genmm_text.data import CorpusDataset, NewsDataset, OracleDataset, split_sentences
from genmm_text.tokenizer import TextTokenizer

TEXT = (
    "The government said on Monday that it would act. Officials met in Sydney! "
    "Was the plan approved? Nobody knew.\n"
    "Fires burned near the coast. Café owners closed early, naïvely hoping for rain.\n"
)


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_tokenizer_round_trip(tmp_path, kind):
    sentences = split_sentences(TEXT.replace("\n", " "))
    tokenizer = TextTokenizer.train(sentences, kind, vocab_size=400)
    assert tokenizer.start_id == 0 and tokenizer.end_id == 1
    for sentence in sentences:
        ids = tokenizer.encode(sentence)
        assert tokenizer.decode(ids) == sentence
        assert tokenizer.decode(ids + [1, 57, 3]) == sentence  # stops at </s>
    saved = TextTokenizer.load(tokenizer.save(tmp_path / "tokenizer.json"))
    assert saved.encode(sentences[-1]) == tokenizer.encode(sentences[-1])
    assert saved.decode(tokenizer.encode(sentences[-1])) == sentences[-1]


def test_sentence_splitting():
    assert split_sentences("It rained. Then it stopped! Did it? Yes.") == [
        "It rained.",
        "Then it stopped!",
        "Did it?",
        "Yes.",
    ]
    assert split_sentences("Mr. smith and e.g. this stay together.") == [
        "Mr. smith and e.g. this stay together."
    ]


def test_corpus_file_and_folder(tmp_path):
    file = tmp_path / "news.txt"
    file.write_text(TEXT * 5, encoding="utf-8")
    data = CorpusDataset(str(file), vocab_size=300, max_length=24, held_out=0.2, min_tokens=1)
    held_out = data.held_out_set()
    assert data.tokens.shape[1] == 24 and len(data) > 0 and len(held_out) > 0
    assert held_out[0]["real"].shape == data[0]["real"].shape == (24,)  # the same items
    assert data.held_out == 0.2
    assert bool((data.tokens[:, -1] == data.end_id).all())  # every row ends in </s>
    assert data.vocab_size <= 300
    row = data.tokens[0]
    assert data.tokenizer.decode(row) in split_sentences(TEXT.replace("\n", " "))
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    (folder / "b.txt").write_text(TEXT, encoding="utf-8")
    chars = CorpusDataset(str(folder), tokenizer="char", max_length=80, held_out=0.0)
    assert len(chars) == 12 and len(chars.held_out_set()) == 0
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\)"):
        CorpusDataset(str(folder), held_out=1.0)


def test_description_rebuilds_the_tokenizer(tmp_path):
    """describe() is plain JSON with everything needed to decode without the data."""
    file = tmp_path / "news.txt"
    file.write_text(TEXT * 5, encoding="utf-8")
    data = CorpusDataset(str(file), vocab_size=300, max_length=24, min_tokens=1)
    description = json.loads(json.dumps(data.describe()))
    assert description["vocab_size"] == data.vocab_size <= 300
    assert description["sequence_length"] == 24
    assert (description["start_token"], description["end_token"]) == (0, 1)
    rebuilt = TextTokenizer.from_str(description["tokenizer"])
    assert rebuilt.vocab_size == data.vocab_size
    row = data.tokens[0].tolist()
    assert rebuilt.decode(row) == data.tokenizer.decode(row) != ""
    oracle = OracleDataset(vocab_size=30, length=6, size=50, held_out=0.2).describe()
    assert oracle == {
        "vocab_size": 30,
        "sequence_length": 6,
        "start_token": 0,
        "end_token": None,
        "tokenizer": None,
    }


def test_empty_and_non_utf8_files_name_the_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.txt.*empty"):
        CorpusDataset(str(empty))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Caf\xe9 au lait. Tr\xe8s bien.\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin1.txt: not UTF-8"):
        CorpusDataset(str(latin))
    folder = tmp_path / "nothing"
    folder.mkdir()
    with pytest.raises(DataError, match="nothing: the folder holds no .txt"):
        CorpusDataset(str(folder))
    with pytest.raises(DataError, match="missing.txt: no such file"):
        CorpusDataset(str(tmp_path / "missing.txt"))
    long = tmp_path / "long.txt"
    long.write_text("word " * 200 + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="long.txt: no sentence"):
        CorpusDataset(str(long), max_length=8)


def test_oracle_is_fixed_by_its_seed():
    a = OracleDataset(vocab_size=30, length=6, size=50, held_out=0.2, seed=3)
    b = OracleDataset(vocab_size=30, length=6, size=50, held_out=0.2, seed=3)
    c = OracleDataset(vocab_size=30, length=6, size=50, held_out=0.2, seed=4)
    assert torch.equal(a.tokens, b.tokens) and not torch.equal(a.tokens, c.tokens)
    held_out = a.held_out_set()
    assert a.tokens.shape == (50, 6) and len(held_out) == 10  # 0.2 x size, drawn with them
    assert held_out[3]["real"].shape == (6,)
    rows = held_out.get_batch(list(range(10)))["real"]
    # one draw of size x (1 + held_out) sequences: training first, the held-out rows last
    whole = OracleDataset(vocab_size=30, length=6, size=60, held_out=0.0, seed=3)
    assert torch.equal(whole.tokens[:50], a.tokens) and torch.equal(whole.tokens[50:], rows)
    assert len(whole.held_out_set()) == 0
    own = a.oracle_nll(rows)
    uniform = torch.randint(30, (200, 6))
    assert 0 < own < a.oracle_nll(uniform)  # the oracle prefers its own text


@pytest.mark.skipif(importlib.util.find_spec("gensim") is None, reason="gensim not installed")
def test_news_reads_the_lee_corpus_in_place():
    data = NewsDataset(vocab_size=2000, max_length=40)
    assert len(data) > 1000 and len(data.held_out_set()) > 100
    assert data.vocab_size <= 2000
    assert "lee_background.cor" in str(data.path)


def test_news_without_gensim_says_how_to_install(monkeypatch):
    import genmm_text.data as data

    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"genmm\[data\].*text.corpus"):
        data.lee_corpus_path()
