"""Train and run GANs from YAML recipes, through plugins."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
import yaml

from genmm import recipe as recipes
from genmm.errors import GenmmError, RecipeError
from genmm.registry import KINDS, check_call, singular

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def command(**settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """A typer command whose genmm errors print in one line (``--debug`` shows tracebacks)."""

    def decorate(function: Callable[..., Any]) -> Any:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            debug = kwargs.get("debug") or os.environ.get("GENMM_DEBUG") == "1"
            level = logging.DEBUG if debug else logging.INFO
            logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
            try:
                return function(*args, **kwargs)
            except GenmmError as error:
                if debug:
                    raise
                fail(str(error))
            except KeyboardInterrupt:
                fail("interrupted", 130)

        return app.command(**settings)(guarded)

    return decorate


def manager_for(plugin_files: list[Path] | None):
    from genmm.plugins import get_manager

    return get_manager([str(p) for p in plugin_files or []])


PluginOption = typer.Option(None, "--plugin", help="A one-off plugin file (repeatable).")
DebugOption = typer.Option(False, "--debug", help="Show tracebacks.")
TargetArgument = typer.Argument(..., help="Run folder or checkpoint folder.")


@command()
def run(
    recipe: str | None = typer.Argument(None, help="Recipe YAML (or a shipped recipe's name)."),
    overrides: list[str] | None = typer.Argument(None, help="Dotted overrides: key.path=value"),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved recipe and exit."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (overrides `out`)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Cap every phase."),
    nproc: int = typer.Option(1, "--nproc", min=1, help="Processes on this machine (torchrun)."),
    plugin: list[Path] | None = PluginOption,
    debug: bool = DebugOption,
) -> None:
    """Train a recipe."""
    from genmm.api import resolve, train
    from genmm.training import checkpoint

    if nproc > 1 and "LOCAL_RANK" not in os.environ and not dry_run:
        launch(nproc)
    overrides = list(overrides or [])
    if recipe is not None and "=" in recipe and not Path(recipe).exists():
        overrides.insert(0, recipe)
        recipe = None
    if recipe is None and resume is None:
        fail("give a recipe, or --resume RUN_FOLDER")
    manager = manager_for(plugin)
    if dry_run:
        source = recipe if recipe is not None else checkpoint.find(resume) / checkpoint.RECIPE
        resolved, _ = resolve(source, overrides, manager=manager, out=out or resume)
        typer.echo(recipes.dump(recipes.with_defaults(resolved, manager.registry)), nl=False)
        return
    options = dict(out=out, resume=resume, max_steps=max_steps, progress=True, manager=manager)
    run_ = train(recipe, overrides, **options)
    last = checkpoint.latest(run_.checkpoints)
    if run_.status == "interrupted":
        stopped = f"{run_.stop_requested}: stopped at step {run_.step}, saved {last}"
        typer.echo(f"{stopped}; continue with: genmm run --resume {run_.out}", err=True)
        raise typer.Exit(130 if run_.stop_requested == "SIGINT" else 143)
    typer.echo(f"done: {run_.step} steps, run folder {run_.out}, last checkpoint {last}")


def launch(nproc: int) -> None:
    """Re-run this command as ``torchrun --standalone --nproc-per-node N -m genmm.cli ...``."""
    arguments = [a for a in sys.argv[1:] if not a.startswith("--nproc=")]
    while "--nproc" in arguments:
        index = arguments.index("--nproc")
        del arguments[index : index + 2]
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    os.execv(sys.executable, [sys.executable, *launcher, "-m", "genmm.cli", *arguments])


def parse_extra(arguments: list[str]) -> dict[str, Any]:
    """``--text "Hi" --top-k 40 --mix`` -> {"text": "Hi", "top_k": 40, "mix": True}."""
    options: dict[str, Any] = {}
    index = 0
    while index < len(arguments):
        item = arguments[index]
        if not item.startswith("--"):
            raise RecipeError(f"unexpected argument '{item}' (options look like --name value)")
        name, equals, value = item[2:].partition("=")
        key = name.replace("-", "_")
        index += 1
        if not equals and index < len(arguments) and not arguments[index].startswith("--"):
            value, equals = arguments[index], "="
            index += 1
        options[key] = option_value(value) if equals else True
    return options


def option_value(text: str) -> Any:
    """A number or boolean as such; anything else (a sentence, ``a: b``, ``[x]``) as its text."""
    try:
        parsed = recipes.parse(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(parsed, (dict, list)) or parsed is None else parsed


@command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def generate(
    context: typer.Context,
    target: Path = TargetArgument,
    n: int = typer.Option(16, "--n", help="How many samples."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file or folder."),
    seed: int = typer.Option(0, "--seed", help="Seed of the samples."),
    plugin: list[Path] | None = PluginOption,
    debug: bool = DebugOption,
) -> None:
    """Generate from a trained run; sampling options (--truncation, --label, …) go to its
    writer and on to the generator."""
    from genmm.api import load

    options = parse_extra(list(context.args))
    run_ = load(target, build_data=False, manager=manager_for(plugin))
    if run_.writer is None:
        fail(f"{target}: the recipe has no 'writer', so it cannot generate files")
    signature = inspect.signature(run_.writer.generate)
    parameters = [p for p in signature.parameters.values() if p.name not in ("run", "n", "out")]
    if any(p.kind is p.VAR_KEYWORD for p in parameters):  # passed on to the generator's forward
        forward = inspect.signature(run_.sampling_model().forward).parameters.values()
        parameters = [p for p in parameters if p.kind is not p.VAR_KEYWORD]
        parameters += [p for p in forward if p.default is not p.empty]  # no *args, **kwargs
    accepted = signature.replace(parameters=[p.replace(kind=p.KEYWORD_ONLY) for p in parameters])
    check_call(run_.writer.generate, accepted, options, str(target), "generate")
    run_.generate_seed = seed
    for path in run_.writer.generate(run_, n, output, **options):
        typer.echo(str(path))
        if output is None and run_.writer.suffix == path.suffix == ".txt":  # show text output
            typer.echo(path.read_text(encoding="utf-8"), nl=False)


@command(name="eval")
def evaluate(
    target: Path = TargetArgument,
    overrides: list[str] | None = typer.Argument(None, help="Dotted overrides of the recipe."),
    plugin: list[Path] | None = PluginOption,
    debug: bool = DebugOption,
) -> None:
    """Compute the recipe's metrics on a checkpoint; prints one JSON line."""
    from genmm.api import load

    manager = manager_for(plugin)
    run_ = load(target, overrides=list(overrides or []), manager=manager)
    record = {"checkpoint": str(run_.checkpoint_folder), "step": run_.step}
    for figures in manager.hook.genmm_evaluate(run=run_, step=run_.step):
        record.update(figures or {})
    typer.echo(json.dumps(record))


@command()
def plugins(
    hooks: bool = typer.Option(False, "--hooks", help="Also list each plugin's hooks."),
    plugin: list[Path] | None = PluginOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    debug: bool = DebugOption,
) -> None:
    """Every loaded plugin: where it came from, its version and what it registered."""
    manager = manager_for(plugin)
    registry = manager.registry  # fills each plugin's `registered`
    rows = []
    for info in manager.infos.values():
        row = {"name": info.name, "source": info.source, "version": info.version}
        row |= {"registered": info.registered} | ({"error": info.error} if info.error else {})
        rows.append(row | ({"hooks": info.hooks} if hooks else {}))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        version = f" {row['version']}" if row["version"] else ""
        typer.echo(f"{row['name']}{version}  ({row['source']})")
        if "error" in row:
            typer.echo(f"  FAILED TO LOAD: {row['error']}")
        for kind in KINDS:
            for name in row["registered"].get(kind, []):
                about = "; ".join(map(str, registry.components[kind][name].about.values()))
                typer.echo(f"  {singular(kind):<8} {name}" + (f"  — {about}" if about else ""))
        if row.get("hooks"):
            typer.echo(f"  hooks: {', '.join(row['hooks'])}")


@command(name="recipes")
def list_recipes(plugin: list[Path] | None = PluginOption, debug: bool = DebugOption) -> None:
    """The recipes the loaded plugins ship, one line each (`genmm run NAME` runs one)."""
    for name, path in recipes.shipped(manager_for(plugin)).items():
        typer.echo(f"{name:<22} {recipes.read_yaml(path).get('description', '')}")


@command(name="new-plugin")
def new_plugin(
    name: str = typer.Argument(..., help="Plugin name, e.g. 'mygan' (package genmm_mygan)."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to create the package."),
    debug: bool = DebugOption,
) -> None:
    """Write a working plugin package skeleton with its test."""
    from genmm.scaffold import write_plugin

    folder = write_plugin(name, directory)
    typer.echo(f"created {folder}; install it with: pip install -e {folder}")


@command()
def bench(
    recipe: str = typer.Argument(..., help="Recipe YAML."),
    overrides: list[str] | None = typer.Argument(None, help="Dotted overrides."),
    steps: int = typer.Option(200, "--steps", help="Measured steps per repeat."),
    warmup: int = typer.Option(20, "--warmup", help="Unmeasured steps first."),
    repeats: int = typer.Option(7, "--repeats", help="Alternating repeats (median)."),
    plugin: list[Path] | None = PluginOption,
    debug: bool = DebugOption,
) -> None:
    """Steps/s, samples/s, peak memory and framework overhead against a bare loop, as JSON."""
    from genmm.api import resolve
    from genmm.bench import benchmark

    manager = manager_for(plugin)
    resolved, file = resolve(recipe, list(overrides or []), manager=manager)
    result = benchmark(resolved, manager, file, steps=steps, warmup=warmup, repeats=repeats)
    typer.echo(json.dumps(result))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
