"""The :class:`Run`: everything one experiment has, built from a resolved recipe."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genmm import recipe as recipes
from genmm.errors import CheckpointError, RecipeError
from genmm.plugins import PluginManager
from genmm.trainer import checkpoint, distributed
from genmm.trainer.data import BatchStream
from genmm.trainer.ema import EMA
from genmm.trainer.gan import generate, sample_latent

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Run:
    """A recipe made real: data, models, losses, metrics, writer, the run folder and counters.

    Plugins meet it in every lifecycle hook and in their trainers, metrics and writers.
    """

    def __init__(
        self,
        recipe: dict[str, Any],
        manager: PluginManager,
        *,
        recipe_file: str | None = None,
        out: str | Path | None = None,
        build_data: bool = True,
    ) -> None:
        self.recipe = recipe
        self.recipe_file = recipe_file
        self.manager = manager
        self.registry = manager.registry
        self.hook = manager.hook
        self.out = Path(out or recipe.get("out") or "runs/run")
        settings = recipe["trainer"]
        self.distributed = distributed.initialise()
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.is_main = self.rank == 0
        if self.distributed and settings["device"] == "auto":
            self.device = distributed.local_device()
        else:
            self.device = pick_device(settings["device"])
        if settings.get("threads"):  # 0: torch's default (one per core)
            torch.set_num_threads(settings["threads"])
        precision = settings["precision"]
        self.bf16 = precision == "bf16" or (precision == "auto" and self.device.type == "cuda")
        self.step = 0
        self.phase_name = ""
        self.phase: Any = None
        self.stream: BatchStream | None = None
        self.ema: dict[str, EMA] = {}
        self.stop_requested: str | None = None
        self.generate_seed: int | None = None
        self._tensorboard: Any = None
        seed_everything(int(recipe["seed"]))
        file = recipe_file
        self.dataset = None
        if build_data:
            self.dataset = self.registry.build(
                "datasets", recipe["data"], file=file, key="data", seed=recipe["seed"]
            )
        self.models: dict[str, nn.Module] = {}
        for role, spec in recipe.get("models", {}).items():
            model = self.registry.build(
                "models", spec, file=file, key=f"models.{role}", dataset=self.dataset
            )
            if not isinstance(model, nn.Module):
                raise RecipeError(
                    f"'{spec['name']}' did not build an nn.Module", file=file, key=f"models.{role}"
                )
            self.models[role] = model.to(self.device)
            if self.distributed:
                distributed.broadcast_module(self.models[role])
        self.losses: dict[str, Any] = {}
        for role, spec in recipe.get("losses", {}).items():
            self.losses[role] = self.registry.build("losses", spec, file=file, key=f"losses.{role}")
        self.metrics = []
        for index, spec in enumerate(recipe["eval"].get("metrics", [])):
            spec = {"name": spec} if isinstance(spec, str) else spec
            self.metrics.append(
                self.registry.build("metrics", spec, file=file, key=f"eval.metrics[{index}]")
            )
        if self.distributed:  # each process draws its own noise from here on
            seed_everything(int(recipe["seed"]) + 1_000_003 * self.rank)
        self.writer = None
        if "writer" in recipe:
            self.writer = self.registry.build("writers", recipe["writer"], file=file, key="writer")

    # ----------------------------------------------------------------- models
    def model(self, role: str) -> nn.Module:
        if role not in self.models:
            from genmm.registry import closest

            raise RecipeError(
                f"phase '{self.phase_name}' needs a model '{role}'"
                f"{closest(role, tuple(self.models))}",
                file=self.recipe_file,
                key=f"models.{role}",
            )
        return self.models[role]

    def add_ema(self, role: str, decay: float, start: int = 0) -> EMA:
        if role not in self.ema:
            self.ema[role] = EMA(self.models[role], decay, start)
        else:
            self.ema[role].decay, self.ema[role].start = decay, start
        return self.ema[role]

    def update_ema(self, role: str) -> None:
        if role in self.ema:
            self.ema[role].update(self.models[role], self.step)

    def sampling_model(self, role: str = "generator") -> nn.Module:
        """The EMA copy when the run keeps one, else the live model."""
        return self.ema[role].shadow if role in self.ema else self.model(role)

    @contextlib.contextmanager
    def evaluating(self, seed: int | None = None) -> Iterator[None]:
        """Eval mode, no gradients and a private random stream: training is left untouched."""
        states = {role: model.training for role, model in self.models.items()}
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(self.recipe["seed"] if seed is None else seed)
            for model in self.models.values():
                model.eval()
            try:
                yield
            finally:
                for role, model in self.models.items():
                    model.train(states[role])

    def sample(self, n: int, condition: Any = None, role: str = "generator") -> torch.Tensor:
        """``n`` samples from the generator (call inside :meth:`evaluating`)."""
        generator = self.sampling_model(role)
        if condition is None and callable(getattr(generator, "sample_condition", None)):
            condition = generator.sample_condition(n, self.device)
        latent = sample_latent(generator, n, self.device)
        return generate(generator, latent, self.to_device(condition))

    # ----------------------------------------------------------------- data
    def next_batch(self) -> Any:
        assert self.stream is not None, "next_batch() is only available inside a phase"
        return self.stream.next()

    def to_device(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(self.device, non_blocking=True)
        if isinstance(value, dict):
            return {k: self.to_device(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.to_device(v) for v in value)
        return value

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ----------------------------------------------------------------- files
    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.out / "samples"

    def recipe_text(self) -> str:
        recipe = dict(self.recipe)
        recipe["versions"] = {
            name: info.version for name, info in self.manager.infos.items() if not info.error
        }
        return recipes.dump(recipe)

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Append a line to ``metrics.jsonl`` and, when installed, to TensorBoard events."""
        if not self.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        record = {"time": round(time.time(), 3), **record}
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        board = self.tensorboard()
        if board is not None and "step" in record:
            scalars = dict(record.get("eval", {}))
            scalars = {f"eval/{k}": v for k, v in scalars.items()}
            scalars.update(
                {
                    f"train/{k}": v
                    for k, v in record.items()
                    if k not in ("time", "step", "phase_step", "eval")
                    and isinstance(v, (int, float))
                    and not isinstance(v, bool)
                }
            )
            for key, value in scalars.items():
                board.add_scalar(key, value, record["step"])

    def tensorboard(self) -> Any:
        if self._tensorboard is None:
            self._tensorboard = False
            if importlib.util.find_spec("tensorboard") is not None:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(log_dir=str(self.out))
        return self._tensorboard or None

    def close(self) -> None:
        if self._tensorboard:
            self._tensorboard.close()
        self._tensorboard = None

    # ----------------------------------------------------------------- checkpoints
    def weight_modules(self) -> dict[str, nn.Module]:
        modules = dict(self.models)
        modules.update({f"ema.{role}": ema.shadow for role, ema in self.ema.items()})
        return modules

    def load_weights(self, folder: Path) -> None:
        grouped = checkpoint.load_weights(folder)
        for prefix, module in self.weight_modules().items():
            if prefix not in grouped:
                raise CheckpointError(f"{folder / checkpoint.WEIGHTS}: no weights for '{prefix}'")
            try:
                module.load_state_dict(grouped[prefix])
            except RuntimeError as error:
                first = str(error).splitlines()[0]
                raise CheckpointError(
                    f"{folder / checkpoint.WEIGHTS}: weights for '{prefix}' do "
                    f"not match the recipe's model: {first}"
                )
        for prefix in grouped:
            if prefix.startswith("ema.") and prefix not in self.weight_modules():
                role = prefix[4:]
                if role in self.models:
                    self.add_ema(role, 0.999).shadow.load_state_dict(grouped[prefix])

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        manager: PluginManager,
        build_data: bool = True,
        overrides: list[str] | tuple[str, ...] = (),
    ):
        """Rebuild a run from a checkpoint's stored recipe and load its weights (eval mode)."""

        folder = checkpoint.find(path)
        stored = recipes.parse((folder / checkpoint.RECIPE).read_text(encoding="utf-8"))
        stored.pop("versions", None)
        stored = recipes.apply_overrides(stored, list(overrides), str(folder / checkpoint.RECIPE))
        recipes.validate(stored, manager.registry, str(folder / checkpoint.RECIPE))
        run_folder = folder.parent.parent
        run = cls(
            stored,
            manager,
            recipe_file=str(folder / checkpoint.RECIPE),
            out=run_folder,
            build_data=build_data,
        )
        run.load_weights(folder)
        meta = checkpoint.load_meta(folder)
        run.step = int(meta.get("step", 0))
        run.checkpoint_folder = folder
        for model in run.models.values():
            model.eval()
        return run
