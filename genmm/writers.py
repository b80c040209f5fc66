"""Writers turn samples into files: sample dumps during training and ``genmm generate``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genmm.trainer.run import Run


class Writer:
    """Base class of registered writers.

    Subclasses implement :meth:`write`. :meth:`generate` is what ``genmm generate`` calls;
    a subclass that takes modality options (``--text``, ``--label``) overrides it and names
    them as keyword arguments: the CLI checks ``--option value`` pairs against its signature.
    """

    #: file name ending of the default output, e.g. ".png"
    suffix: str = ""

    def write(self, samples: Any, path: Path) -> list[Path]:
        """Write ``samples`` to ``path`` (a stem or a file name); return the files written."""
        raise NotImplementedError

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        """The periodic sample dump (called inside ``run.evaluating()``)."""
        samples = run.sample(run.recipe["samples"]["n"])
        return self.write(samples, stem.with_suffix(self.suffix) if self.suffix else stem)

    def generate(self, run: Run, n: int, out: Path | None) -> list[Path]:
        """``genmm generate RUN --n N -o OUT``: new samples from the trained generator."""
        with run.evaluating(seed=run.generate_seed):
            samples = run.sample(n)
        return self.write(samples, out or default_output(run, self.suffix))


def default_output(run: Run, suffix: str) -> Path:
    return run.out / "generated" / f"step-{run.step:06d}{suffix}"
