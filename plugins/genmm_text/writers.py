"""Text output: one generated sentence per line (``.txt``).

The run's tokenizer (``tokenizer.json`` in the run folder, written when training starts)
decodes ids; runs without one (the oracle) write token ids separated by spaces.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from genmm.errors import DataError
from genmm.writers import Writer, default_output
from genmm_text.tokenizer import FILE_NAME, TextTokenizer

if TYPE_CHECKING:
    from genmm.training.run import Run


def run_tokenizer(run: Run) -> TextTokenizer | None:
    """The run's tokenizer: the dataset's, else ``tokenizer.json`` in the run folder."""
    tokenizer = getattr(run.dataset, "tokenizer", None)
    if tokenizer is not None:
        return tokenizer
    path = Path(run.out) / FILE_NAME
    return TextTokenizer.load(path) if path.exists() else None


def decode(tokens: torch.Tensor, tokenizer: TextTokenizer | None) -> list[str]:
    if tokenizer is None:
        return [" ".join(str(t) for t in row) for row in tokens.tolist()]
    return [tokenizer.decode(row) for row in tokens.tolist()]


class TextWriter(Writer):
    """Sentences as UTF-8 text, one per line; ``genmm generate`` takes ``--prompt``,
    ``--temperature``, ``--top-k`` and ``--length``."""

    suffix = ".txt"

    def __init__(self, temperature: float = 1.0, top_k: int | None = None) -> None:
        self.temperature = temperature
        self.top_k = top_k
        self.tokenizer: TextTokenizer | None = None

    def write(self, samples, path: Path) -> list[Path]:
        path = Path(path)
        if path.suffix.lower() != ".txt":
            path = path.with_suffix(".txt") if path.suffix else path / "generated.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = samples if isinstance(samples, list) else decode(samples, self.tokenizer)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [path]

    def sentences(
        self,
        run: Run,
        n: int,
        prompt: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        length: int | None = None,
    ) -> list[str]:
        generator = run.sampling_model("generator")
        tokenizer = run_tokenizer(run)
        prefix = None
        if prompt:
            if tokenizer is None:
                try:
                    ids = [int(t) for t in prompt.split()]
                except ValueError:
                    raise DataError("this run has no tokenizer: give the prompt as token ids")
            else:
                ids = tokenizer.encode(prompt)
            prefix = torch.tensor(ids, dtype=torch.long)
        temperature = self.temperature if temperature is None else temperature
        if temperature <= 0:
            raise DataError("--temperature must be positive")
        tokens = generator.sample(
            n,
            length=length,
            temperature=temperature,
            top_k=self.top_k if top_k is None else top_k,
            prefix=prefix,
        )
        return decode(tokens.cpu(), tokenizer)

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
        return self.write(lines, out or default_output(run, self.suffix))
