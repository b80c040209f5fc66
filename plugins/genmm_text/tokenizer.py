"""Tokenizers trained on the user's corpus with ``tokenizers`` (byte-level BPE or characters).

Ids 0 and 1 are the special tokens ``<s>`` (the generator's start token, never emitted) and
``</s>`` (end of sentence, also the padding of fixed-length sequences). The trained tokenizer
travels as its JSON string (:meth:`TextTokenizer.to_str`) in the dataset's description, which
the core saves with every checkpoint, so generation decodes the same way without the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

START, END, UNKNOWN = "<s>", "</s>", "<unk>"


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` with the start/end conventions of this plugin."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.start_id = tokenizer.token_to_id(START)
        self.end_id = tokenizer.token_to_id(END)
        if self.start_id != 0 or self.end_id != 1:
            raise ValueError(f"a genmm text tokenizer has {START}=0 and {END}=1")

    @classmethod
    def train(cls, texts: Iterable[str], kind: str = "bpe", vocab_size: int = 5000):
        """Byte-level BPE (``kind="bpe"``) of at most ``vocab_size`` tokens, or characters."""
        texts = list(texts)
        if kind == "bpe":
            tokenizer = Tokenizer(models.BPE())
            tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tokenizer.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(
                vocab_size=vocab_size,
                special_tokens=[START, END],
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            )
            tokenizer.train_from_iterator(texts, trainer)
        elif kind == "char":
            characters = sorted({character for text in texts for character in text})
            vocabulary = {START: 0, END: 1, UNKNOWN: 2}
            vocabulary.update({c: i + 3 for i, c in enumerate(characters)})
            tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token=UNKNOWN))
            tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
            tokenizer.decoder = decoders.Fuse()
        else:
            raise ValueError(f"unknown tokenizer '{kind}' (valid: bpe, char)")
        return cls(tokenizer)

    @classmethod
    def load(cls, path: str | Path) -> TextTokenizer:
        return cls(Tokenizer.from_file(str(path)))

    @classmethod
    def from_str(cls, text: str) -> TextTokenizer:
        """The tokenizer of :meth:`to_str`'s JSON string (a data description's ``tokenizer``)."""
        return cls(Tokenizer.from_str(text))

    def to_str(self) -> str:
        """The whole tokenizer as a JSON string (``tokenizers``' ``Tokenizer.to_str()``)."""
        return self.tokenizer.to_str()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(path))
        return path

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` up to the first ``</s>``; ids outside the vocabulary are dropped."""
        kept = []
        for token in ids:
            token = int(token)
            if token == self.end_id:
                break
            if 0 <= token < self.vocab_size and token != self.start_id:
                kept.append(token)
        return self.tokenizer.decode(kept).strip()
