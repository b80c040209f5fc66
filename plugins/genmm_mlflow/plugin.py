"""MLflow tracking for every genmm run, built only on the lifecycle hooks.

Active when ``MLFLOW_TRACKING_URI`` is set (MLflow's own variable; ``GENMM_MLFLOW=0`` turns it
off) and ``mlflow`` is installed (``pip install 'genmm[mlflow]'``). The process of rank 0 logs:

* ``genmm_run_start``: an MLflow run in the experiment ``MLFLOW_EXPERIMENT_NAME`` (by default
  the recipe's file stem) named after the run folder; the resolved recipe as params
  (``models.generator.name``, ...) and the recipe file as an artifact. Its id is kept in
  ``<out>/mlflow_run_id``, so ``genmm run --resume`` continues the same MLflow run.
* ``genmm_step_end``: the step's losses every ``runtime.log_every`` steps.
* ``genmm_evaluate`` (a hook wrapper: it sees every plugin's figures): ``eval/<name>``.
* ``genmm_checkpoint_saved``: the checkpoint folder under ``checkpoints/<step-…>``
  (``GENMM_MLFLOW_CHECKPOINTS=0`` skips them) and the sample folders written since.
* ``genmm_run_end``: the last samples; the MLflow run ends FINISHED, KILLED or FAILED.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import genmm

log = logging.getLogger(__name__)
RUN_ID_FILE = "mlflow_run_id"
STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
MAX_PARAM = 6000  # MLflow's limit on a param's value


def wanted() -> bool:
    return bool(os.environ.get("MLFLOW_TRACKING_URI")) and os.environ.get("GENMM_MLFLOW") != "0"


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [2]}`` -> ``{"a.b": "1", "c": "[2]"}`` (params are strings)."""
    if isinstance(tree, dict) and tree:
        flat: dict[str, str] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: str(tree)[:MAX_PARAM]} if prefix else {}


class Tracker:
    """One MLflow run per genmm run (by its output folder)."""

    def __init__(self) -> None:
        self.client: Any = None
        self.run_id: str | None = None
        self.logged_samples: set[str] = set()

    def start(self, run: Any) -> None:
        self.run_id, self.logged_samples = None, set()
        if not (run.is_main and wanted()):
            return
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            log.warning(
                "MLFLOW_TRACKING_URI is set but mlflow is not installed: no MLflow "
                "logging (pip install 'genmm[mlflow]')"
            )
            return
        self.client = client = MlflowClient()
        saved = Path(run.out) / RUN_ID_FILE
        if saved.is_file():  # a resumed run continues its MLflow run
            self.run_id = saved.read_text(encoding="utf-8").strip()
            client.update_run(self.run_id, status="RUNNING")
            log.info("MLflow: continuing run %s", self.run_id)
            return
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or (
            Path(run.recipe_file).stem if run.recipe_file else "genmm"
        )
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        tags = {"genmm.out": str(Path(run.out).resolve()), "genmm.recipe": str(run.recipe_file)}
        created = client.create_run(experiment_id, run_name=Path(run.out).name, tags=tags)
        self.run_id = created.info.run_id
        Path(run.out).mkdir(parents=True, exist_ok=True)
        saved.write_text(self.run_id, encoding="utf-8")
        from mlflow.entities import Param

        params = [Param(key, value) for key, value in flatten(run.recipe).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
            client.log_batch(self.run_id, params=params[start : start + 100])
        if run.recipe_file and Path(run.recipe_file).is_file():
            client.log_artifact(self.run_id, str(run.recipe_file), "recipe")
        log.info("MLflow: run %s in experiment %r", self.run_id, name)

    def checkpoint(self, run: Any, path: Path) -> None:
        if os.environ.get("GENMM_MLFLOW_CHECKPOINTS") != "0":
            self.client.log_artifacts(self.run_id, str(path), f"checkpoints/{Path(path).name}")
        self.samples(run)

    def end(self, run: Any, status: str) -> None:
        try:
            self.samples(run)
        finally:
            self.client.set_terminated(self.run_id, status=STATUS.get(status, "FINISHED"))
            self.run_id = None

    def metrics(self, figures: dict[str, Any], step: int, prefix: str = "") -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [
            Metric(f"{prefix}{key}", float(value), now, step)
            for key, value in figures.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
        for start in range(0, len(rows), 1000):
            self.client.log_batch(self.run_id, metrics=rows[start : start + 1000])

    def samples(self, run: Any) -> None:
        """Sample folders (or files) written since the last call, as ``samples/<name>``."""
        folder = Path(run.samples_dir)
        if not folder.is_dir():
            return
        for item in sorted(folder.iterdir()):
            if item.name in self.logged_samples:
                continue
            self.logged_samples.add(item.name)
            if item.is_dir():
                self.client.log_artifacts(self.run_id, str(item), f"samples/{item.name}")
            else:
                self.client.log_artifact(self.run_id, str(item), "samples")


tracker = Tracker()


# ---------------------------------------------------------------------- the hooks
@genmm.hookimpl
def genmm_run_start(run: Any) -> None:
    tracker.start(run)


@genmm.hookimpl
def genmm_step_end(run: Any, step: int, logs: dict[str, float]) -> None:
    if tracker.run_id is not None and step % max(1, run.recipe["runtime"]["log_every"]) == 0:
        tracker.metrics(logs, step)


@genmm.hookimpl(wrapper=True)
def genmm_evaluate(run: Any, step: int):
    results = yield  # every plugin's figures
    if tracker.run_id is not None:
        figures: dict[str, float] = {}
        for part in results:
            figures.update(part or {})
        tracker.metrics(figures, step, prefix="eval/")
    return results


@genmm.hookimpl
def genmm_checkpoint_saved(run: Any, path: Path) -> None:
    if tracker.run_id is not None:
        tracker.checkpoint(run, path)


@genmm.hookimpl
def genmm_run_end(run: Any, status: str) -> None:
    if tracker.run_id is not None:
        tracker.end(run, status)
