"""Recipes: safe-loaded YAML, ``base:`` composition, dotted overrides, validation."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, NoReturn

import yaml

from genmm.errors import RecipeError
from genmm.registry import INJECTED, Registry, check_call, closest, singular, split_spec

TOP_LEVEL = ("base", "description", "seed", "out", "data", "models", "losses", "phases", "eval")
TOP_LEVEL += ("samples", "writer", "checkpoint", "runtime", "versions")
#: keys every phase takes, whatever its trainer: the core's, not the trainer's arguments
PHASE_KEYS = ("trainer", "max_steps", "epochs", "batch_size", "optimizers", "schedules")
PHASE_KEYS += ("clip_grad_norm", "accumulate")
RENAMED = {"trainer": "runtime", "schedule": "schedules"}
RENAMED |= dict.fromkeys(("optimizer", "g_optimizer", "d_optimizer"), "optimizers")
#: the values some keys of ``runtime`` take
CHOICES = {"on_nan": ("stop", "rollback"), "precision": ("auto", "fp32", "bf16")}
CHOICES["compile"] = (False, True, "inductor", "aot_eager", "eager")
#: the core's sections and their defaults; each key takes its default's type (a float: any number)
DEFAULTS: dict[str, Any] = yaml.safe_load("""
seed: 0
eval: {every: 0, metrics: []}
samples: {every: 0, n: 64}
checkpoint: {every: 1000, keep: 3}
runtime: {device: auto, precision: auto, threads: 0, on_nan: stop, log_every: 10, progress: true,
  rollback_lr_factor: 0.5, compile: false}
""")
#: the most bits of an integer, levels of nesting and files of a ``base:`` chain a recipe may have
MAX_INT_BITS, MAX_DEPTH, MAX_BASES = 1000, 64, 32


class Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float; a value it cannot build is a YAMLError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            data = super().construct_object(node, deep=deep)
            if isinstance(data, int) and data.bit_length() > MAX_INT_BITS:  # Python can't print it
                raise ValueError(f"an integer of more than {MAX_INT_BITS} bits")
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            value = f" {node.value[:40]!r}" if isinstance(node, yaml.ScalarNode) else ""
            problem = f"cannot read the value{value} as {node.tag}: {error}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
        return data


# what YAML 1.1 reads as text (1e-3, 1.5e3, ._5); it reads the other floats before this resolver
FLOAT = re.compile(
    r"^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|\.[0-9_]+(?:[eE][-+][0-9]+)?)$"
)
Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT, list("-+0123456789."))


def parse(text: str) -> Any:
    """Safe-load YAML text with :class:`Loader`; every failure is a :class:`yaml.YAMLError`."""
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader derives from SafeLoader
    except RecursionError:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels") from None


def check_shape(data: Any, file: str | None = None, key: str = "") -> None:
    """Refuse data nested too deeply or holding itself (``a: &x [*x]``); shared nodes cost once."""
    heights: dict[int, int | None] = {}  # None while its children are walked

    def height(node: Any, depth: int, where: str) -> int:
        if isinstance(node, dict):
            children = [(f"{where}.{k}" if where else str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            children = [(f"{where}[{i}]", v) for i, v in enumerate(node)]
        else:
            return 0
        if depth >= MAX_DEPTH or depth + (heights.get(id(node)) or 0) > MAX_DEPTH:
            raise RecipeError(f"nested deeper than {MAX_DEPTH} levels", file=file, key=where)
        if id(node) in heights and heights[id(node)] is None:
            raise RecipeError("holds itself (an alias inside its own anchor)", file=file, key=where)
        if id(node) not in heights:
            heights[id(node)] = None
            heights[id(node)] = 1 + max((height(c, depth + 1, at) for at, c in children), default=0)
        return heights[id(node)]

    height(data, 0, key)


def read_yaml(path: Path) -> dict[str, Any]:
    """Safe-load one YAML mapping; malformed YAML names the file and the line."""
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError("recipe file not found", file=str(path))
    except (OSError, UnicodeDecodeError, ValueError) as error:  # ValueError: a NUL in the name
        raise RecipeError(f"cannot read: {error}", file=str(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise RecipeError(f"malformed YAML{line}: {problem}", file=str(path))
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RecipeError(f"expected a mapping at the top, got {type(data).__name__}", str(path))
    check_shape(data, str(path))
    return data


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge into a copy; ``~`` drops a mapping, a new ``name`` replaces the component."""
    result = copy.deepcopy(base)
    for key, value in over.items():
        old = result.get(key)
        if isinstance(old, dict) and value is None:
            del result[key]
        elif isinstance(old, dict) and isinstance(value, dict):
            renamed = "name" in value and value["name"] != old.get("name")
            result[key] = copy.deepcopy(value) if renamed else merge(old, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


#: the core's shared bases (``base: base/adversarial.yaml``), for recipes anywhere
SHARED = Path(__file__).resolve().parent / "recipes"


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name the system refuses (too long, a NUL in it)
        return False


def _real(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError, ValueError):
        return os.path.normpath(path)


def shipped(manager: Any) -> dict[str, Path]:
    """Every recipe the loaded plugins ship (``genmm_recipe_folders``), by file stem."""
    found: dict[str, Path] = {}
    for folder in (f for folders in manager.hook.genmm_recipe_folders() for f in folders or []):
        for path in sorted(Path(folder).glob("*.yaml")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def load(path: str | Path, _stack: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load a recipe and its ``base:`` chain (bases first, this file last)."""
    path = Path(path).absolute()
    problem = None
    if _stack and _real(path) in {_real(p) for p in _stack}:  # 'a/../a/r.yaml' is 'a/r.yaml'
        problem = "'base:' cycle: " + " -> ".join(p.name for p in (*_stack, path))
    elif len(_stack) > MAX_BASES:
        problem = f"'base:' chain longer than {MAX_BASES} files"
    elif _stack and _exists(path) and not path.is_file():  # a folder, /dev/zero, a pipe
        problem = f"base '{path}' is not a regular file"
    if problem:
        raise RecipeError(problem, file=str(_stack[-1]), key="base")
    data = read_yaml(path)
    bases = data.pop("base", None) or []
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise RecipeError("expected a file name or a list of file names", str(path), "base")
    merged: dict[str, Any] = {}
    for base in bases:  # relative to this recipe's folder, else among the shared bases
        local = path.parent / base
        found = local if _exists(local) or not _exists(SHARED / base) else SHARED / base
        merged = merge(merged, load(found, (*_stack, path)))
    return merge(merged, data)


def parse_override(text: str, file: str | None = None) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> ``(["a", "b", "c"], value)``, the value parsed as YAML, else text."""
    if "=" not in text:
        raise RecipeError(f"override '{text}' is not of the form key.path=value", file, text)
    key, _, raw = text.partition("=")
    parts = key.strip().split(".")
    if not all(parts):
        raise RecipeError(f"override '{text}' has an empty key", file=file, key=key)
    try:
        value = parse(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    check_shape(value, file, key.strip())
    return parts, value


def apply_overrides(recipe: dict[str, Any], overrides: list[str], file: str | None) -> dict:
    """Apply ``a.b.c=value`` overrides to a copy; the parent path must exist."""
    recipe = copy.deepcopy(recipe)
    for text in overrides:
        parts, value = parse_override(text, file)
        node: Any = recipe
        for depth, part in enumerate(parts[:-1]):
            path = ".".join(parts[: depth + 1])
            if not isinstance(node, dict):
                raise RecipeError(f"override '{text}': '{path}' is not a mapping", file, path)
            if depth == 0 and part in TOP_LEVEL:
                node.setdefault(part, {})
            if part not in node:
                hint = closest(part, list(node))
                if depth:  # top-level keys are fixed; a new mapping inside a section is given whole
                    inner = parts[depth + 1 :]
                    whole = "".join(f"{{{p}: " for p in inner) + text.partition("=")[2].strip()
                    hint += f"; to add it, give it whole: {path}={whole}{'}' * len(inner)}"
                raise RecipeError(f"override '{text}': no key '{part}'{hint}", file=file, key=path)
            node = node[part]
        if not isinstance(node, dict):
            raise RecipeError(f"override '{text}': parent is not a mapping", file=file, key=text)
        node[parts[-1]] = value
    return recipe


def resolve(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Load, compose and override a recipe, then fill the core's defaults."""
    recipe = apply_overrides(load(path), list(overrides), str(path))
    return merge(DEFAULTS, {key: value for key, value in recipe.items() if key != "versions"})


def validate(recipe: dict[str, Any], registry: Registry, file: str | None = None) -> None:
    """Check every key of a resolved recipe against the registry, building nothing."""
    Checker(registry, file).recipe(recipe)


def components(recipe: dict[str, Any]) -> Any:
    """``(kind, spec, key)`` of every component a resolved recipe names, trainers aside."""
    yield "datasets", recipe["data"], "data"
    for section in ("models", "losses"):
        for role, spec in recipe.get(section, {}).items():
            yield section, spec, f"{section}.{role}"
    for index, metric in enumerate(recipe["eval"].get("metrics", [])):
        spec = {"name": metric} if isinstance(metric, str) else metric
        yield "metrics", spec, f"eval.metrics[{index}]"
    if "writer" in recipe:
        yield "writers", recipe["writer"], "writer"


def did_you_mean(key: str, valid: Any) -> str:
    """Did-you-mean for ``key``, naming the new key when ``key`` is an old one."""
    if key in RENAMED and RENAMED[key] in valid:
        return f" (renamed: use '{RENAMED[key]}')"
    return closest(key, list(valid))


def _is(value: Any, kinds: Any) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


class Checker:
    """Checks one resolved recipe; every problem is a RecipeError naming the file and key."""

    def __init__(self, registry: Registry, file: str | None) -> None:
        self.registry, self.file = registry, file

    def fail(self, message: str, key: str) -> NoReturn:
        raise RecipeError(message, file=self.file, key=key)

    def mapping(self, value: Any, key: str, message: str = "expected a mapping") -> dict[str, Any]:
        """``value``, a mapping whose keys are strings (``1: x`` is refused, not compared)."""
        if not isinstance(value, dict):
            self.fail(message, key)
        for sub in value:
            if not isinstance(sub, str):
                where = f"{key}.{sub}" if key else str(sub)
                self.fail(f"expected a key that is a string, got {sub!r}", where)
        return value

    def name(self, name: Any, kind: str, key: str) -> str:
        if not isinstance(name, str):
            self.fail(f"expected the name of a registered {kind}, got {name!r}", key)
        return name

    def recipe(self, recipe: Any) -> None:
        self.mapping(recipe, "", f"expected a mapping at the top, got {type(recipe).__name__}")
        check_shape(recipe, self.file)
        for key in recipe:
            if key not in TOP_LEVEL:
                self.fail(f"unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL)}", key)
        if not _is(recipe.get("seed"), int):
            self.fail(f"expected an integer, got {recipe.get('seed')!r}", "seed")
        for section in ("eval", "samples", "checkpoint", "runtime"):
            self.section(section, recipe.get(section))
        if "data" not in recipe:
            self.fail("missing required key 'data'", "data")
        message = "expected a mapping of role -> component"
        for section in ("models", "losses"):
            self.mapping(recipe.get(section, {}), section, message)
        for kind, spec, key in components(recipe):
            self.component(kind, spec, key)
        message = "expected at least one phase: {name: {trainer: ...}}"
        if not self.mapping(recipe.get("phases"), "phases", message):
            self.fail(message, "phases")
        for name, phase in recipe["phases"].items():
            self.phase(f"phases.{name}", phase)

    def section(self, section: str, value: Any) -> None:
        """A core section (``eval``, ``runtime``...): known keys, each of its type and choices."""
        defaults = DEFAULTS[section]
        for sub, item in self.mapping(value, section).items():
            key = f"{section}.{sub}"
            if sub not in defaults:
                self.fail(f"unknown key '{sub}'{closest(sub, list(defaults))}", key)
            wanted, shown = type(defaults[sub]), type(defaults[sub]).__name__
            if wanted is float:
                wanted, shown = (int, float), "number"
            elif sub == "compile":  # true / false or a torch.compile backend
                wanted, shown = (bool, str), "true, false or a backend name"
            if not isinstance(item, wanted) or (wanted is int and isinstance(item, bool)):
                self.fail(f"expected {shown}, got {item!r}", key)
            if wanted is int and item < 0:
                self.fail(f"expected a non-negative integer, got {item!r}", key)
            choices = CHOICES.get(sub)
            if choices and item not in choices:
                self.fail(f"expected one of {', '.join(map(str, choices))}, got {item!r}", key)

    def component(self, kind: str, spec: Any, key: str) -> None:
        name, arguments = split_spec(kind, spec, file=self.file, key=key)
        self.name(name, singular(kind), f"{key}.name")
        self.mapping(arguments, key)
        component = self.registry.get(kind, name, file=self.file, key=f"{key}.name")
        check_call(component.factory, component.signature, arguments, self.file, key, name)

    def phase(self, key: str, phase: Any) -> None:
        """The core's phase keys, then the rest as the trainer's arguments."""
        from genmm.training.optim import check_optimizer, check_schedule

        message = "expected a mapping with a 'trainer'"
        if "trainer" not in self.mapping(phase, key, message):
            self.fail(message, key)
        trainer = self.name(phase["trainer"], "trainer", f"{key}.trainer")
        component = self.registry.get("trainers", trainer, file=self.file, key=f"{key}.trainer")
        if (phase.get("max_steps") is None) == (phase.get("epochs") is None):
            self.fail("give exactly one of 'max_steps' or 'epochs'", key)
        for count in ("max_steps", "epochs", "batch_size", "accumulate"):
            value = phase.get(count)
            if value is not None and not (_is(value, int) and value >= 0):
                self.fail(f"expected a non-negative integer, got {value!r}", f"{key}.{count}")
        clip, where = phase.get("clip_grad_norm"), f"{key}.clip_grad_norm"
        norms = self.mapping(clip, where).items() if isinstance(clip, dict) else [("", clip)]
        for role, norm in norms:
            if norm is not None and not (_is(norm, (int, float)) and norm > 0):
                problem = f"expected a positive number or null (or {{role: number}}), got {norm!r}"
                self.fail(problem, f"{where}.{role}" if role else where)
        message = "expected a mapping role -> spec"
        for section, check in (("optimizers", check_optimizer), ("schedules", check_schedule)):
            table = self.mapping(phase.get(section) or {}, f"{key}.{section}", message)
            for role, spec in table.items():
                where = f"{key}.{section}.{role}"
                if isinstance(spec, dict) and "name" in self.mapping(spec, where):
                    self.name(spec["name"], section[:-1], f"{where}.name")
                check(spec, file=self.file, key=where)
        arguments = {k: v for k, v in phase.items() if k not in PHASE_KEYS}
        accepted = component.signature.parameters
        for argument in arguments:
            if argument not in accepted:
                hint = did_you_mean(argument, [*PHASE_KEYS, *accepted])
                self.fail(f"unknown key '{argument}' for '{trainer}'{hint}", f"{key}.{argument}")
        check_call(component.factory, component.signature, arguments, self.file, key, trainer)


def dump(recipe: dict[str, Any]) -> str:
    return yaml.safe_dump(recipe, sort_keys=False, default_flow_style=False)


def with_defaults(recipe: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """The recipe with every component's unstated arguments filled in from its factory."""

    def fill(kind: str, name: str, spec: dict[str, Any], given: dict[str, Any]) -> None:
        for argument, parameter in registry.get(kind, name).signature.parameters.items():
            if argument not in INJECTED and parameter.default is not parameter.empty:  # no *args
                spec.setdefault(argument, given.get(argument, _plain(parameter.default)))

    recipe = copy.deepcopy(recipe)
    metrics = recipe["eval"].get("metrics", [])
    recipe["eval"]["metrics"] = [{"name": m} if isinstance(m, str) else m for m in metrics]
    for kind, spec, _ in components(recipe):  # the dataset gets the run's seed, as in a run
        fill(kind, spec["name"], spec, {"seed": recipe["seed"]} if kind == "datasets" else {})
    for phase in recipe["phases"].values():
        fill("trainers", phase["trainer"], phase, {})
    return recipe


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple) else value
