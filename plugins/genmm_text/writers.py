"""Text output: one generated sentence per line (``.txt``).

The writer rebuilds the run's tokenizer from the data description alone (its ``tokenizer``
JSON string, saved by the core with every checkpoint), so ``genmm generate`` decodes as the
training data was encoded without building the data; runs without a tokenizer (the oracle)
write token ids separated by spaces. Sampling options (``prompt``, ``temperature``,
``top_k``, ``length``) are keyword arguments of :meth:`TextWriter.generate`, handed on as
keyword arguments of the generator's ``sample``: nothing is set on the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genmm.errors import DataError
from genmm.writers import Writer, output_path
from genmm_text.tokenizer import TextTokenizer

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


def description_tokenizer(description: dict[str, Any] | None) -> TextTokenizer | None:
    """The tokenizer a data description carries (``None`` for data without one)."""
    text = (description or {}).get("tokenizer")
    return TextTokenizer.from_str(text) if text else None


def decode(tokens: torch.Tensor, tokenizer: TextTokenizer | None) -> list[str]:
    if tokenizer is None:
        return [" ".join(str(t) for t in row) for row in tokens.tolist()]
    return [tokenizer.decode(row) for row in tokens.tolist()]


class TextWriter(Writer):
    """Sentences as UTF-8 text, one per line; ``genmm generate`` takes ``--prompt``,
    ``--temperature``, ``--top-k`` and ``--length``."""

    suffix = ".txt"

    def __init__(
        self,
        temperature: float = 1.0,
        top_k: int | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        self.top_k = top_k
        self.tokenizer = description_tokenizer(description)

    def write(self, samples, path: Path) -> list[Path]:
        path = Path(path)
        if path.suffix.lower() != ".txt":
            path = path.with_suffix(".txt") if path.suffix else path / "generated.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = samples if isinstance(samples, list) else decode(samples, self.tokenizer)
        # one sentence per line: a decoded line break (byte-level BPE can emit one) becomes a space
        lines = [" ".join(line.splitlines()) for line in lines]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [path]

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        """The prompt's ids: the tokenizer's, or the ids themselves for data without one."""
        if self.tokenizer is not None:
            return torch.tensor(self.tokenizer.encode(prompt), dtype=torch.long)
        try:
            return torch.tensor([int(t) for t in prompt.split()], dtype=torch.long)
        except ValueError:
            raise DataError("this run has no tokenizer: give the prompt as token ids")

    def sentences(
        self,
        run: Run,
        n: int,
        prompt: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        length: int | None = None,
    ) -> list[str]:
        """``n`` decoded samples; unset options take the writer's recipe values."""
        temperature = self.temperature if temperature is None else temperature
        if temperature <= 0:
            raise DataError("--temperature must be positive")
        tokens = run.sampling_model("generator").sample(
            n,
            length=length,
            temperature=temperature,
            top_k=self.top_k if top_k is None else top_k,
            prefix=self.encode_prompt(prompt) if prompt else None,
        )
        return decode(tokens.cpu(), self.tokenizer)

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        return self.write(self.sentences(run, run.recipe["samples"]["n"]), stem)

    def generate(
        self,
        run: Run,
        n: int,
        out: Path | None,
        prompt: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        length: int | None = None,
    ) -> list[Path]:
        """``genmm generate RUN --n 5 [--prompt TEXT] [--temperature T] [--top-k K]``."""
        with run.evaluating(seed=run.generate_seed):
            lines = self.sentences(run, n, prompt, temperature, top_k, length)
        return self.write(lines, output_path(run, out, self.suffix))
