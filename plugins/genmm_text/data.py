"""Text data: the synthetic oracle of SeqGAN, the user's corpus and the built-in news corpus.

``text.oracle`` (Yu et al. 2017, sec. 5 "synthetic data experiments"): an LSTM with N(0, 1)
parameters (the "oracle", fixed by the seed) generates 10,000 sequences of length 20 over a
vocabulary of 5,000 as the real data; the oracle then scores generated text (NLL_oracle).
``held_out`` (0.1) x ``size`` more sequences, drawn in the same batch as the training ones
(the last rows), are held out. With ``params`` (a path) the oracle is not drawn but loaded:
the authors' published oracle (:mod:`genmm_text.oracle_params`, a ``.npz`` of its 15 arrays or
their own ``target_params_py3.pkl``). ``text.paper_oracle`` is that task as the paper ran it:
the authors' oracle, required, vocabulary 5,000, widths 32, length 20.

``text.corpus``: one document per line of a text file (or of every ``.txt`` in a folder), split
into sentences; a tokenizer (byte-level BPE or characters) is trained on the training split;
each sentence becomes ``max_length`` ids ending in ``</s>`` and padded with ``</s>``; sentences
longer than that are left out. A ``held_out`` fraction of the sentences (0.1) is held out
and feeds ``text.nll_test`` and BLEU.

Every dataset serves its held-out sequences as :meth:`TokenDataset.held_out_set` (items like
the training items, ``{"real": ids}``) and describes itself with :meth:`TokenDataset.describe`
(vocabulary size, sequence length, start and end tokens, the tokenizer's JSON string), which
the core saves with every checkpoint and hands to the models and the writer.

``text.news``: the 300 ABC news articles of the Lee corpus that ship inside gensim's test data,
read in place (never copied).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from genmm.errors import DataError
from genmm_text.generator import LSTMGenerator
from genmm_text.oracle_params import WHERE, load_oracle_arrays, oracle_generator
from genmm_text.tokenizer import TextTokenizer

log = logging.getLogger(__name__)

SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


class Sequences(Dataset):
    """Fixed-length token sequences (N, T); each item is ``{"real": (T,) ids}``."""

    def __init__(self, tokens: torch.Tensor) -> None:
        self.tokens = tokens

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"real": self.tokens[index]}

    def get_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {"real": self.tokens[indices]}


class TokenDataset(Sequences):
    """Training sequences ``tokens`` (N, T) and held-out sequences ``held_out_tokens`` (M, T)
    (served by :meth:`held_out_set`); ``held_out`` is the constructor's fraction."""

    held_out: float
    held_out_tokens: torch.Tensor
    vocab_size: int
    max_length: int
    start_token: int = 0
    end_id: int | None = None
    tokenizer: TextTokenizer | None = None

    def held_out_set(self) -> Sequences:
        """The held-out sequences, as a map-style dataset of the same items as the training set."""
        return Sequences(self.held_out_tokens)

    def describe(self) -> dict[str, Any]:
        """What a model or writer needs without the data: the vocabulary size, the sequence
        length, the start and end tokens and (for a trained tokenizer) the tokenizer itself as
        its JSON string."""
        return {
            "vocab_size": self.vocab_size,
            "sequence_length": self.max_length,
            "start_token": self.start_token,
            "end_token": self.end_id,
            "tokenizer": None if self.tokenizer is None else self.tokenizer.to_str(),
        }

    def words(self, rows: torch.Tensor) -> list[list[str]]:
        """Token lists for BLEU: words of the decoded text, or ids for the oracle."""
        if self.tokenizer is None:
            return [[str(t) for t in row] for row in rows.tolist()]
        return [self.tokenizer.decode(row).split() for row in rows.tolist()]


def check_fraction(held_out: float) -> None:
    if not 0.0 <= held_out < 1.0:
        raise ValueError(f"held_out is a fraction in [0, 1), got {held_out}")


class OracleDataset(TokenDataset):
    """``size`` training sequences sampled from an oracle LSTM and ``held_out`` x ``size``
    more (rounded) as the held-out set: one draw, the held-out sequences its last rows.

    The oracle has N(0, 1) parameters drawn with ``oracle_seed`` (else ``seed``), or, given
    ``params`` (the path of a ``.npz`` or of the authors' ``target_params_py3.pkl``), the
    authors' parameters, whose shapes must match ``vocab_size``, ``embedding_dim`` and
    ``hidden_dim``; the sequences are then drawn with ``seed``."""

    def __init__(
        self,
        vocab_size: int = 5000,
        embedding_dim: int = 32,
        hidden_dim: int = 32,
        length: int = 20,
        size: int = 10000,
        held_out: float = 0.1,
        oracle_seed: int | None = None,
        seed: int = 0,
        params: str | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        check_fraction(held_out)
        self.vocab_size = vocab_size
        self.max_length = length
        self.held_out = held_out
        self.params = params
        held_out_count = int(round(size * held_out))
        total = size + held_out_count
        if params is not None:
            arrays = load_oracle_arrays(params, vocab_size, embedding_dim, hidden_dim)
            self.oracle = oracle_generator(arrays, length)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed if oracle_seed is None or params is not None else oracle_seed)
            if params is None:
                self.oracle = LSTMGenerator(
                    vocab_size, embedding_dim, hidden_dim, length, start_token=0, init_std=1.0
                ).eval()
                self.oracle.requires_grad_(False)
            with torch.no_grad():
                drawn = torch.cat(
                    [self.oracle.sample(min(2000, total - i)) for i in range(0, total, 2000)]
                )
        super().__init__(drawn[:size])
        self.held_out_tokens = drawn[size:]

    @torch.no_grad()
    def oracle_nll(self, tokens: torch.Tensor, batch_size: int = 1000) -> float:
        """Mean per-token negative log-likelihood of ``tokens`` under the oracle."""
        self.oracle.to(tokens.device)
        total = 0.0
        for start in range(0, len(tokens), batch_size):
            chunk = tokens[start : start + batch_size]
            total += float(-self.oracle.log_probs(chunk).sum())
        return total / tokens.numel()


class PaperOracleDataset(OracleDataset):
    """The synthetic task of the SeqGAN paper on the authors' own oracle: ``params`` is the
    path of their ``target_params_py3.pkl`` (published at LantaoYu/SeqGAN, ``save/``) or of
    the same 15 arrays as a ``.npz``; vocabulary 5,000, embedding and hidden widths 32,
    sequences of ``length`` 20; ``size`` (10,000, as in the authors' code) training sequences
    sampled from it, ``held_out`` x ``size`` more held out."""

    def __init__(
        self,
        params: str | None = None,
        length: int = 20,
        size: int = 10000,
        held_out: float = 0.1,
        seed: int = 0,
    ) -> None:
        if params is None:
            raise DataError(
                f"text.paper_oracle needs the authors' oracle: set data.params=PATH ({WHERE}; "
                "genmm's CI keeps the same arrays at ../shared/data/seqgan_oracle_params.npz)"
            )
        super().__init__(5000, 32, 32, length, size, held_out, seed=seed, params=params)


def split_sentences(document: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(document.strip()) if s.strip()]


def read_documents(path: Path) -> list[str]:
    """Non-empty lines of a UTF-8 file, or of every ``.txt`` file in a folder (sorted)."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise DataError(f"{path}: the folder holds no .txt files")
    documents, empty = [], []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise DataError(
                f"{file}: not UTF-8 text (byte {error.start}: {error.reason}); "
                "save the corpus as UTF-8"
            )
        except OSError as error:
            raise DataError(f"{file}: cannot read: {error}")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines and not path.is_dir():
            raise DataError(f"{file}: the file is empty (expected one document per line)")
        if not lines:
            empty.append(file.name)
        documents.extend(lines)
    shown = ", ".join(empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
    if not documents:
        raise DataError(
            f"{path}: every .txt file in the folder is empty ({shown}); "
            "expected one document per line"
        )
    if empty:
        log.warning("%s: skipped %d empty .txt files (%s)", path, len(empty), shown)
    return documents


class CorpusDataset(TokenDataset):
    """Sentences of the user's text, tokenized to ``max_length`` ids with a trained tokenizer."""

    def __init__(
        self,
        path: str,
        tokenizer: str = "bpe",
        vocab_size: int = 5000,
        max_length: int = 32,
        held_out: float = 0.1,
        min_tokens: int = 3,
        seed: int = 0,
    ) -> None:
        check_fraction(held_out)
        self.path = Path(path).expanduser()
        self.max_length = max_length
        self.held_out = held_out
        sentences = [s for d in read_documents(self.path) for s in split_sentences(d)]
        order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(seed))
        sentences = [sentences[i] for i in order.tolist()]
        test_count = int(round(len(sentences) * held_out)) if len(sentences) > 1 else 0
        train_sentences, test_sentences = sentences[test_count:], sentences[:test_count]
        self.tokenizer = TextTokenizer.train(train_sentences, tokenizer, vocab_size)
        self.vocab_size = self.tokenizer.vocab_size
        self.end_id = self.tokenizer.end_id
        self.start_token = self.tokenizer.start_id
        super().__init__(self.encode(train_sentences, min_tokens))
        self.held_out_tokens = self.encode(test_sentences, min_tokens)
        if len(self.tokens) == 0:
            raise DataError(
                f"{self.path}: no sentence of {min_tokens} to {max_length - 1} tokens "
                f"(raise data.max_length)"
            )
        log.info(
            "%s: %d training and %d held-out sentences, vocabulary %d",
            self.path,
            len(self.tokens),
            len(self.held_out_tokens),
            self.vocab_size,
        )

    def encode(self, sentences: list[str], min_tokens: int) -> torch.Tensor:
        """Sentences -> (N, max_length): ids, ``</s>``, then ``</s>`` padding."""
        rows = []
        for sentence in sentences:
            ids = self.tokenizer.encode(sentence)
            if min_tokens <= len(ids) <= self.max_length - 1:
                rows.append(ids + [self.end_id] * (self.max_length - len(ids)))
        if not rows:
            return torch.empty(0, self.max_length, dtype=torch.long)
        return torch.tensor(rows, dtype=torch.long)


def lee_corpus_path() -> Path:
    """gensim's ``test/test_data/lee_background.cor``, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise DataError(
            "text.news reads the Lee news corpus that ships with gensim, which is not "
            "installed: pip install 'genmm[data]' (or gensim), or use data.name=text.corpus "
            "with data.path=YOUR_FILE.txt"
        )
    path = Path(spec.origin).parent / "test" / "test_data" / "lee_background.cor"
    if not path.exists():
        raise DataError(f"{path}: gensim is installed but its Lee corpus file is missing")
    return path


class NewsDataset(CorpusDataset):
    """The 300 ABC news articles of the Lee corpus (gensim's test data), read in place."""

    def __init__(
        self,
        tokenizer: str = "bpe",
        vocab_size: int = 5000,
        max_length: int = 32,
        held_out: float = 0.1,
        min_tokens: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__(
            str(lee_corpus_path()), tokenizer, vocab_size, max_length, held_out, min_tokens, seed
        )
