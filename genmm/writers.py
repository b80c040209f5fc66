"""Writers turn samples into files: sample dumps during training and ``genmm generate``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genmm.surface import BuiltRun as Run


class Writer:
    """Base class of registered writers: subclasses implement :meth:`write` (docs/cli.md)."""

    suffix: str = ""  # file name ending of the default output, e.g. ".png"

    def write(self, samples: Any, path: Path) -> list[Path]:
        """Write ``samples`` to ``path`` (a stem or a file name); return the files written."""
        raise NotImplementedError

    def write_samples(self, run: Run, stem: Path) -> list[Path]:
        """The periodic sample dump (called inside ``run.evaluating()``)."""
        samples = run.sample(run.recipe["samples"]["n"])
        return self.write(samples, stem.with_suffix(self.suffix) if self.suffix else stem)

    def generate(self, run: Run, n: int, out: Path | None, **options: Any) -> list[Path]:
        """``genmm generate RUN --n N -o OUT``; sampling options go to ``run.sample``."""
        with run.evaluating(seed=run.generate_seed):
            samples = run.sample(n, **options)
        return self.write(samples, output_path(run, out, self.suffix))


def output_path(run: Run, out: Path | None, suffix: str) -> Path:
    """``out``, or ``<run>/generated/step-N<suffix>``; its folder is created."""
    path = Path(out) if out is not None else run.out / "generated" / f"step-{run.step:06d}{suffix}"
    (path if not path.suffix and suffix else path.parent).mkdir(parents=True, exist_ok=True)
    return path
