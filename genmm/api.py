"""The library calls the CLI, benchmarks and tests share: :func:`train` and :func:`load`."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genmm import recipe as recipes
from genmm.errors import RecipeError

if TYPE_CHECKING:
    from genmm.plugins import PluginManager
    from genmm.training.run import Run

log = logging.getLogger(__name__)


def resolve(
    recipe: str | Path | dict[str, Any],
    overrides: list[str] | tuple[str, ...] = (),
    *,
    manager: PluginManager,
    out: str | Path | None = None,
) -> tuple[dict[str, Any], str | None]:
    """A recipe (a file, a shipped recipe's name or a mapping) overridden, defaulted and
    validated; with the file it came from."""
    if isinstance(recipe, dict):
        file, recipe = None, recipes.apply_overrides(recipe, list(overrides), None)
        resolved = recipes.merge(recipes.DEFAULTS, recipe)
    else:
        path = find_recipe(str(recipe), manager)
        resolved, file = recipes.resolve(path, overrides), str(path)
    if out is not None:
        resolved["out"] = str(out)
    recipes.validate(resolved, manager.registry, file)
    return resolved, file


def find_recipe(name: str, manager: PluginManager) -> Path:
    """A recipe file: a path, else a recipe a plugin ships (``speech`` or ``speech.yaml``)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = recipes.shipped(manager)
    stem = path.name.removesuffix(".yaml")
    if stem in shipped:
        return shipped[stem]
    known = ", ".join(sorted(shipped)) or "none"
    raise RecipeError(f"recipe file not found (nor among the shipped recipes: {known})", name)


def train(
    recipe: str | Path | dict[str, Any] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    max_steps: int | None = None,
    plugins: list[str] | tuple[str, ...] = (),
    progress: bool = False,
    manager: PluginManager | None = None,
) -> Run:
    """Train a recipe, or continue the run folder ``resume``; returns the finished run (its
    ``status`` "completed" or "interrupted"). See docs/cli.md (``genmm run``)."""
    from genmm.plugins import get_manager
    from genmm.progress import TrainingProgress
    from genmm.training import checkpoint
    from genmm.training.loop import Loop
    from genmm.training.run import Run

    manager = manager or get_manager(list(plugins))
    folder = checkpoint.find(resume) if resume is not None else None  # verified, with fallback
    if folder is not None:
        log.info("resuming from %s", folder)
    elif recipe is None:
        raise RecipeError("give a recipe, or a run folder to resume")
    source = recipe if recipe is not None else folder / checkpoint.RECIPE
    resolved, file = resolve(source, overrides, manager=manager, out=out or resume)
    run_folder = Path(resolved.get("out") or "runs/run")
    if folder is None and checkpoint.latest(run_folder / "checkpoints") is not None:
        message = f"{run_folder} already holds checkpoints; continue it with --resume {run_folder}"
        message += " or choose another --out (nothing was overwritten)"
        raise RecipeError(message, file, "out")
    run = Run(resolved, manager, recipe_file=file, out=run_folder)
    if run.is_main:
        run.out.mkdir(parents=True, exist_ok=True)
        (run.out / "recipe.yaml").write_text(run.recipe_text(), encoding="utf-8")
    show = progress and resolved["runtime"]["progress"] and run.is_main
    with TrainingProgress(enabled=True) if show else contextlib.nullcontext() as bar:
        loop = Loop(run, max_steps=max_steps, progress=bar)
        if folder is not None:
            loop.resume_from(folder)
        run.status = loop.fit()
    return run


def load(
    target: str | Path,
    *,
    build_data: bool = True,
    overrides: list[str] | tuple[str, ...] = (),
    plugins: list[str] | tuple[str, ...] = (),
    manager: PluginManager | None = None,
) -> Run:
    """A trained run rebuilt from its checkpoint alone (recipe, data description, weights)."""
    from genmm.plugins import get_manager
    from genmm.training.run import Run

    manager = manager or get_manager(list(plugins))
    return Run.from_checkpoint(target, manager, build_data=build_data, overrides=overrides)
