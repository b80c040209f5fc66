"""The :class:`Run`: what a recipe builds, and the state the loop owns while it trains."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from genmm import recipe as recipes
from genmm.errors import CheckpointError, RecipeError
from genmm.registry import closest
from genmm.training import checkpoint, distributed
from genmm.training.data import BatchStream
from genmm.training.ema import EMA
from genmm.training.optim import Optimization

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from genmm.plugins import PluginManager

NOT_SCALARS = ("time", "step", "phase_step")  # of a metrics record, for TensorBoard


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def sample_latent(generator: nn.Module, n: int, device: torch.device | str) -> Any:
    """The generator's latent for ``n`` samples (``None`` when it takes no noise)."""
    custom = getattr(generator, "sample_latent", None)
    if callable(custom):
        return custom(n, device)
    latent_dim = getattr(generator, "latent_dim", 0)
    return torch.randn(n, latent_dim, device=device) if latent_dim else None


def generate(generator: nn.Module, latent: Any, condition: Any = None, **options: Any) -> Any:
    """``G(z, condition, **options)``, leaving out whichever of z and condition is ``None``."""
    return generator(*[x for x in (latent, condition) if x is not None], **options)


def describe(dataset: Any, name: str) -> dict[str, Any]:
    """The dataset's ``describe()``, checked to be plain (JSON) data."""
    description = dataset.describe() if callable(getattr(dataset, "describe", None)) else {}
    try:
        json.dumps(description)
    except (TypeError, ValueError) as error:
        raise RecipeError(f"'{name}'.describe() must return plain data (JSON): {error}", key="data")
    return description


def _missing(run: Any, message: str, section: str, role: str) -> RecipeError:
    near = closest(role, tuple(getattr(run, section)))
    return RecipeError(message + near, run.recipe_file, f"{section}.{role}")


class Run:
    """A recipe made real, and the state of the running phase (plugins: :mod:`genmm.surface`)."""

    def __init__(
        self,
        recipe: dict[str, Any],
        manager: PluginManager,
        *,
        recipe_file: str | None = None,
        out: str | Path | None = None,
        build_data: bool = True,
        description: dict[str, Any] | None = None,
    ) -> None:
        self.recipe, self.recipe_file, self.manager = recipe, recipe_file, manager
        self.registry, self.hook = manager.registry, manager.hook
        self.out = Path(out or recipe.get("out") or "runs/run")
        settings = recipe["runtime"]
        self.distributed = distributed.initialise()
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.is_main = self.rank == 0
        auto, cuda = settings["device"] == "auto", torch.cuda.is_available()
        self.device = torch.device(("cuda" if cuda else "cpu") if auto else settings["device"])
        if auto and self.distributed:
            self.device = distributed.local_device()
        if settings.get("threads"):  # 0: torch's default (one per core)
            torch.set_num_threads(settings["threads"])
        precision, on_cuda = settings["precision"], self.device.type == "cuda"
        self.precision = ("bf16" if on_cuda else "fp32") if precision == "auto" else precision
        if self.precision == "bf16" and not on_cuda and not torch.cpu._is_avx512_bf16_supported():
            why = "this CPU has no native bf16 (AVX512-BF16 or AMX): it is emulated, slower"
            log.warning("runtime.precision=bf16: %s than fp32 (runtime.precision=fp32)", why)
        self.step, self.phase_name, self.trainer, self.ema = 0, "", None, {}
        self.stream: BatchStream | None = None
        self.optimization = Optimization(device=self.device, precision=self.precision)
        self.status = self.stop_requested = self.generate_seed = self.checkpoint_folder = None
        self._tensorboard: Any = None
        seed_everything(int(recipe["seed"]))
        self.dataset = None
        if build_data:
            self.dataset = self._build("datasets", recipe["data"], "data", seed=recipe["seed"])
            description = describe(self.dataset, recipe["data"]["name"])
        self.description: dict[str, Any] = dict(description or {})
        self.models: dict[str, nn.Module] = {}
        for role, spec in recipe.get("models", {}).items():
            model = self._build("models", spec, f"models.{role}")
            if not isinstance(model, nn.Module):
                message = f"'{spec['name']}' did not build an nn.Module"
                raise RecipeError(message, recipe_file, f"models.{role}")
            self.models[role] = model.to(self.device)
            if self.distributed:
                distributed.broadcast_module(self.models[role])
        # runtime.compile: trainers step compiled modules, the rest the plain ones (same weights)
        backend = "inductor" if settings["compile"] is True else settings["compile"]
        to_compile = self.models.items() if backend else ()
        self._compiled = {r: torch.compile(m, backend=backend) for r, m in to_compile}
        losses = recipe.get("losses", {}).items()
        self.losses = {role: self._build("losses", spec, f"losses.{role}") for role, spec in losses}
        self.metrics = []
        for index, spec in enumerate(recipe["eval"].get("metrics", [])):
            spec = {"name": spec} if isinstance(spec, str) else spec
            self.metrics.append(self._build("metrics", spec, f"eval.metrics[{index}]"))
        if self.distributed:  # each process draws its own noise from here on
            seed_everything(int(recipe["seed"]) + 1_000_003 * self.rank)
        self.writer = None
        if "writer" in recipe:
            self.writer = self._build("writers", recipe["writer"], "writer")

    def _build(self, kind: str, spec: Any, key: str, **injected: Any) -> Any:
        """A registered component; datasets get the seed, everything else the description."""
        injected = injected or {"description": self.description}
        return self.registry.build(kind, spec, self.recipe_file, key, **injected)

    def model(self, role: str) -> nn.Module:
        if role not in self.models:
            message = f"phase '{self.phase_name}' needs a model '{role}'"
            raise _missing(self, message, "models", role)
        return self._compiled.get(role, self.models[role])

    def loss(self, role: str, kind: type | tuple[type, ...] | None = None) -> Any:
        value = self.losses.get(role)
        if value is None or (kind is not None and not isinstance(value, kind)):
            wanted = kind.__name__ if isinstance(kind, type) else "loss"
            trainer = self.recipe["phases"][self.phase_name]["trainer"]
            message = f"phase '{self.phase_name}' ({trainer}) needs a {wanted} under losses.{role}"
            raise _missing(self, message, "losses", role)
        return value

    def add_ema(self, role: str, decay: float, start: int = 0) -> EMA:
        if role not in self.ema:
            self.ema[role] = EMA(self.models[role], decay, start)
        self.ema[role].decay, self.ema[role].start = decay, start
        return self.ema[role]

    def sampling_model(self, role: str = "generator") -> nn.Module:
        return self.ema[role].shadow if role in self.ema else self.model(role)

    def add_optimizer(
        self, role: str, *, default: dict | None = None, parameters: Any = None, lazy_every: int = 1
    ) -> torch.optim.Optimizer:
        parameters = self.model(role).parameters() if parameters is None else parameters
        return self.optimization.add(role, parameters, default=default, lazy_every=lazy_every)

    def update(self, role: str, compute: Callable[[], torch.Tensor], *, scale: float = 1.0):
        return self.optimization.update(role, compute, scale=scale)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return self.optimization.autocast()

    @contextlib.contextmanager
    def evaluating(self, seed: int | None = None) -> Iterator[None]:
        states = {model: model.training for model in self.models.values()}
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(self.recipe["seed"] if seed is None else seed)
            for model in states:
                model.eval()
            try:
                yield
            finally:
                for model, training in states.items():
                    model.train(training)

    def sample(self, n: int, condition: Any = None, role: str = "generator", **options: Any) -> Any:
        generator = self.sampling_model(role)
        if condition is None and callable(getattr(generator, "sample_condition", None)):
            condition = generator.sample_condition(n, self.device)
        latent = sample_latent(generator, n, self.device)
        return generate(generator, latent, self.to_device(condition), **options)

    @property
    def batch_size(self) -> int:
        return self.stream.batch_size if self.stream is not None else 0

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

    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.out / "samples"

    def recipe_text(self) -> str:
        versions = {name: i.version for name, i in self.manager.infos.items() if not i.error}
        return recipes.dump({**self.recipe, "versions": versions})

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Append a line to ``metrics.jsonl`` and, when installed, to TensorBoard events."""
        if not self.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        record = {"time": round(time.time(), 3), **record}
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._tensorboard is None:  # the first record: TensorBoard when it is installed
            self._tensorboard = False
            if importlib.util.find_spec("tensorboard") is not None:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(log_dir=str(self.out))
        if self._tensorboard and "step" in record:
            named = {f"train/{k}": v for k, v in record.items() if k not in NOT_SCALARS}
            named |= {f"eval/{k}": v for k, v in record.get("eval", {}).items()}
            for key, value in named.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tensorboard.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if self._tensorboard:
            self._tensorboard.close()
        self._tensorboard = None

    def weight_modules(self) -> dict[str, nn.Module]:
        return {**self.models, **{f"ema.{role}": ema.shadow for role, ema in self.ema.items()}}

    def load_weights(self, folder: Path) -> None:
        grouped, file = checkpoint.load_weights(folder), folder / checkpoint.WEIGHTS
        modules = self.weight_modules()
        for prefix, module in modules.items():
            if prefix not in grouped:
                raise CheckpointError(f"{file}: no weights for '{prefix}'")
            try:
                module.load_state_dict(grouped[prefix])
            except RuntimeError as error:
                first = str(error).splitlines()[0]
                message = f"weights for '{prefix}' do not match the recipe's model: {first}"
                raise CheckpointError(f"{file}: {message}")
        for prefix in grouped.keys() - modules.keys():  # EMA copies the recipe does not ask for
            if prefix.startswith("ema.") and prefix[4:] in self.models:
                self.add_ema(prefix[4:], 0.999).shadow.load_state_dict(grouped[prefix])

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        manager: PluginManager,
        build_data: bool = True,
        overrides: list[str] | tuple[str, ...] = (),
    ) -> Run:
        """Rebuild a run from a checkpoint alone (recipe, description, weights), in eval mode."""
        folder = checkpoint.find(path)
        file, out = str(folder / checkpoint.RECIPE), folder.parent.parent
        stored = recipes.parse((folder / checkpoint.RECIPE).read_text(encoding="utf-8"))
        stored.pop("versions", None)
        stored = recipes.apply_overrides(stored, list(overrides), file)
        recipes.validate(stored, manager.registry, file)
        described = checkpoint.load_description(folder)
        run = cls(
            stored, manager, recipe_file=file, out=out, build_data=build_data, description=described
        )
        run.load_weights(folder)
        run.step = int(checkpoint.load_meta(folder).get("step", 0))
        run.checkpoint_folder = folder
        for model in run.models.values():
            model.eval()
        return run
