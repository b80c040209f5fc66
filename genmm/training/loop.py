"""The training loop: phases in order, logging, evaluation, samples, checkpoints, signals."""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import time
from pathlib import Path
from typing import Any

from genmm.errors import CheckpointError, RecipeError, TrainingError
from genmm.recipe import PHASE_KEYS
from genmm.training import checkpoint, distributed
from genmm.training.data import BatchStream
from genmm.training.optim import NonFiniteLoss, Optimization
from genmm.training.run import Run, seed_everything
from genmm.training.trainer import Trainer

log = logging.getLogger(__name__)

MAX_ROLLBACKS = 3
CADENCES = ("eval", "samples", "checkpoint")  # recipe sections with an `every`


def phase_length(spec: dict[str, Any], stream: BatchStream, cap: int | None) -> int:
    """Steps of a phase: ``max_steps``, or ``epochs`` x batches per epoch; capped by ``cap``."""
    steps = spec.get("max_steps")
    steps = spec["epochs"] * stream.steps_per_epoch if steps is None else steps
    return min(steps, cap) if cap is not None else steps


def restore(run: Run, folder: Path, state: dict[str, Any]) -> None:
    """Put the running phase back as a checkpoint saved it (weights, states, data, randomness)."""
    run.load_weights(folder)
    run.trainer.load_state_dict(state["phase_state"].get("trainer", {}))
    run.optimization.load_state_dict(state["phase_state"].get("optimization", {}))
    assert run.stream is not None
    run.stream.load_state_dict(state["stream"])
    ranks = state.get("rng_ranks")  # per rank; another count: docs/architecture.md#scale
    if run.distributed and ranks and len(ranks) == run.world_size:
        checkpoint.set_rng_state(ranks[run.rank])
    elif run.distributed and run.rank:
        seed_everything(int(run.recipe["seed"]) + 1_000_003 * run.rank + run.step)
    else:
        checkpoint.set_rng_state(state["rng"])


class Loop:
    """Drives a :class:`Run` through its phases: steps, logs, evaluations, samples, checkpoints."""

    def __init__(self, run: Run, *, max_steps: int | None = None, progress: Any = None) -> None:
        self.run, self.cap, self.progress = run, max_steps, progress
        self.rollbacks, self.lr_scale = 0, 1.0
        self.resume_state: dict[str, Any] | None = None
        self.resume_folder: Path | None = None
        self.saving = False  # inside a checkpoint write (for the second signal's message)

    def resume_from(self, folder: Path) -> None:
        self.resume_folder = folder
        self.resume_state = checkpoint.load_state(folder)
        checkpoint.load_weights(folder)  # fail early on damaged weights

    def fit(self) -> str:
        run, state = self.run, self.resume_state
        phases = list(run.recipe["phases"].items())
        start_index, start_step = 0, 0
        if state is not None:
            names = [name for name, _ in phases]
            if state["phase_name"] not in names:
                raise CheckpointError(
                    f"{self.resume_folder}: stopped in phase '{state['phase_name']}', "
                    f"which the recipe no longer has ({', '.join(names)})"
                )
            start_index, start_step = names.index(state["phase_name"]), int(state["phase_step"])
            run.step, self.lr_scale = int(state["step"]), float(state.get("lr_scale", 1.0))
        handlers = self._install_signals()
        run.hook.genmm_run_start(run=run)
        status = "failed"
        try:
            for index in range(start_index, len(phases)):
                resume = state if index == start_index else None
                if self._run_phase(index, *phases[index], start_step if resume else 0, resume):
                    status = "interrupted"
                    return status
            status = "completed"
            return status
        except StopNow as stop:
            status = "interrupted"
            self._stopped_now(stop)
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            run.hook.genmm_run_end(run=run, status=status)
            run.close()

    def _run_phase(
        self, index: int, name: str, spec: dict[str, Any], phase_step: int, resume: dict | None
    ) -> bool:
        """Run one phase; True when a signal stopped it."""
        run, at = self.run, f"phases.{name}"
        arguments = {k: v for k, v in spec.items() if k not in PHASE_KEYS}
        arguments["name"] = spec["trainer"]
        phase = run.registry.build("trainers", arguments, file=run.recipe_file, key=at)
        if not isinstance(phase, Trainer):
            message = f"trainer '{spec['trainer']}' did not build a genmm Trainer"
            raise RecipeError(message, run.recipe_file, f"{at}.trainer")
        run.phase_name, run.trainer = name, phase
        batch_size = int(spec.get("batch_size") or 1)
        if batch_size % run.world_size:
            message = f"batch_size {batch_size} (the global batch) does not split over "
            message += f"{run.world_size} processes"
            raise RecipeError(message, run.recipe_file, f"{at}.batch_size")
        data = f"data ({run.recipe['data']['name']})"
        share, seed = batch_size // run.world_size, run.recipe["seed"] + index
        run.stream = BatchStream(run.dataset, share, seed, data, run.rank, run.world_size)
        total = phase_length(spec, run.stream, self.cap)
        options = dict(specs=spec.get("optimizers"), clip_grad_norm=spec.get("clip_grad_norm"))
        options |= dict(device=run.device, precision=run.precision, file=run.recipe_file)
        options |= dict(schedules=spec.get("schedules"), average_gradients=run.distributed, key=at)
        accumulate = int(spec.get("accumulate") or 1)
        run.optimization = Optimization(total_steps=total, accumulate=accumulate, **options)
        phase.setup(run)
        run.optimization.check_roles()
        if resume is not None and self.resume_folder is not None:
            restore(run, self.resume_folder, resume)
        elif self.lr_scale != 1.0:
            run.optimization.scale_learning_rates(self.lr_scale)
        if phase_step >= total:
            return False
        log_every = max(1, run.recipe["runtime"]["log_every"])
        every_eval, every_sample, every_checkpoint = (run.recipe[s]["every"] for s in CADENCES)
        show = self.progress is not None and run.is_main
        task = self.progress.start(name, total, phase_step) if show else None
        started, started_step = time.perf_counter(), phase_step
        while phase_step < total:
            try:
                logs = phase.train_step(run)
            except NonFiniteLoss as error:
                logs = error.logs or {f"{error.role}_loss": error.value}
            floats = {key: float(value) for key, value in logs.items()}
            bad = [key for key, value in floats.items() if not math.isfinite(value)]
            if bad:
                phase_step = self._non_finite(bad, floats)
                continue
            run.optimization.step_schedules()
            for role, ema in run.ema.items():
                ema.update(run.models[role], run.step)
            phase_step += 1
            run.step = step = run.step + 1
            run.hook.genmm_step_end(run=run, step=step, logs=floats)
            if step % log_every == 0 or phase_step == total:
                elapsed = time.perf_counter() - started
                rate = (phase_step - started_step) / elapsed if elapsed > 0 else 0.0
                record = {"step": step, "phase": name, "phase_step": phase_step}
                run.log_metrics({**record, "steps_per_s": round(rate, 3), **floats})
                if task is not None:
                    self.progress.update(task, phase_step, floats)
            if every_eval and step % every_eval == 0:
                self.evaluate()
            if every_sample and step % every_sample == 0:
                self.write_samples()
            saved = bool(every_checkpoint) and step % every_checkpoint == 0
            if saved:
                self.save(index, name, phase, phase_step)
            if distributed.any_flag(run.stop_requested is not None):  # a signal to any process
                run.stop_requested = run.stop_requested or "SIGTERM"
                if not saved:  # the step's own checkpoint is the one to stop on
                    self.save(index, name, phase, phase_step)
                return True
        if task is not None:
            self.progress.finish(task)
        if every_eval and run.step % every_eval:
            self.evaluate()
        if every_sample and run.step % every_sample:
            self.write_samples()
        if not every_checkpoint or run.step % every_checkpoint:
            self.save(index, name, phase, phase_step)
        return False

    def _non_finite(self, bad: list[str], floats: dict[str, float]) -> int:
        run = self.run
        where = ", ".join(f"{key}={floats[key]}" for key in bad)
        problem = f"non-finite loss at step {run.step + 1}"
        failed = f"{problem} of phase '{run.phase_name}': {where}"
        if run.recipe["runtime"]["on_nan"] != "rollback":
            hint = "reload the last checkpoint with lower learning rates"
            raise TrainingError(f"{failed} (set runtime.on_nan=rollback to {hint})")
        folder = checkpoint.latest(run.checkpoints)
        if folder is None:
            raise TrainingError(f"{failed}; no checkpoint to roll back to")
        if self.rollbacks >= MAX_ROLLBACKS:
            raise TrainingError(f"{failed}; {MAX_ROLLBACKS} rollbacks did not help")
        state = checkpoint.load_state(folder)
        if state["phase_name"] != run.phase_name:
            other = f"the last checkpoint {folder} is from another phase"
            raise TrainingError(f"{problem}: {where}; {other}")
        self.rollbacks += 1
        restore(run, folder, state)
        saved_scale = float(state.get("lr_scale", 1.0))
        self.lr_scale = saved_scale * run.recipe["runtime"]["rollback_lr_factor"]
        run.optimization.scale_learning_rates(self.lr_scale / saved_scale)
        run.step = int(state["step"])
        shown = (problem, where, folder.name, self.lr_scale)
        log.warning("%s (%s): rolled back to %s, learning rates x%.3g", *shown)
        record = {"step": run.step, "phase": run.phase_name, "rollback": folder.name}
        run.log_metrics({**record, "lr_scale": self.lr_scale})
        return int(state["phase_step"])

    def evaluate(self) -> dict[str, float]:
        run, results = self.run, {}
        if not run.is_main:
            return results
        for figures in run.hook.genmm_evaluate(run=run, step=run.step):
            results.update(figures or {})
        if results:
            run.log_metrics({"step": run.step, "phase": run.phase_name, "eval": results})
            log.info("step %d: %s", run.step, ", ".join(f"{k}={v:.4g}" for k, v in results.items()))
        return results

    def write_samples(self) -> list[Path]:
        run = self.run
        if run.writer is None or not run.is_main:
            return []
        run.samples_dir.mkdir(parents=True, exist_ok=True)
        with run.evaluating():
            return run.writer.write_samples(run, run.samples_dir / f"step-{run.step:06d}")

    def save(self, index: int, name: str, phase: Trainer, phase_step: int) -> Path:
        run = self.run
        assert run.stream is not None
        phase_state = dict(trainer=phase.state_dict(), optimization=run.optimization.state_dict())
        stream, rng = run.stream.state_dict(), checkpoint.rng_state()
        state = dict(step=run.step, phase_index=index, phase_name=name, phase_step=phase_step)
        state |= dict(phase_state=phase_state, stream=stream, rng=rng, lr_scale=self.lr_scale)
        if run.distributed:
            state["rng_ranks"] = distributed.gather(state["rng"])
            if not run.is_main:
                distributed.barrier()
                return run.checkpoints
        meta = {"step": run.step, "phase": name, "phase_step": phase_step, "time": time.time()}
        meta["recipe_file"] = run.recipe_file
        folder, keep = f"step-{run.step:06d}", run.recipe["checkpoint"]["keep"]
        self.saving = True
        try:
            modules, text = run.weight_modules(), run.recipe_text()
            path = checkpoint.save(
                run.checkpoints, folder, modules, state, meta, text, keep, run.description
            )
        finally:
            self.saving = False
        run.hook.genmm_checkpoint_saved(run=run, path=path)
        distributed.barrier()
        return path

    def _install_signals(self) -> dict[int, Any]:
        """SIGINT, SIGTERM: the first saves after the current step and stops; a second, at once."""
        handlers: dict[int, Any] = {}

        def request_stop(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            if self.run.stop_requested is not None:
                raise StopNow(name)
            self.run.stop_requested = name
            stopping = f"finishing step {self.run.step + 1}, then saving a checkpoint and stopping"
            log.warning("%s: %s (send it again to stop at once, without saving)", name, stopping)

        with contextlib.suppress(ValueError):  # not the main thread
            for signum in (signal.SIGINT, signal.SIGTERM):
                handlers[signum] = signal.signal(signum, request_stop)
        return handlers

    def _stopped_now(self, stop: StopNow) -> None:
        run = self.run
        last = checkpoint.latest(run.checkpoints)
        kept = f"the last checkpoint is {last}" if last else "there is no checkpoint yet"
        where = f"during step {run.step + 1}, without saving"
        if self.saving:
            where = f"while writing the checkpoint of step {run.step} (that write is abandoned)"
        resume = f"; continue with: genmm run --resume {run.out}" if last else ""
        log.error("second %s: stopped at once %s; %s%s", stop.signal_name, where, kept, resume)


class StopNow(KeyboardInterrupt):
    """A second SIGINT or SIGTERM: stop at once, wherever training is, without saving."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"second {signal_name}: stopped at once, without saving")
        self.signal_name = signal_name
