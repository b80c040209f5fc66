"""Recipes: safe-loaded YAML, ``base:`` composition, dotted overrides, validation.

A recipe names components by registry name and gives their arguments; every argument is
checked against its factory's signature before anything is built.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, NoReturn

import yaml

from genmm.errors import RecipeError
from genmm.registry import INJECTED, Registry, check_call, closest, singular, split_spec

#: the top-level sections (docs/recipes.md describes each)
TOP_LEVEL = tuple(
    "base description seed out data models losses phases eval samples writer checkpoint runtime"
    " versions".split()
)
#: keys every phase takes, whatever its trainer: the core's, not the trainer's arguments
PHASE_KEYS = tuple(
    "trainer max_steps epochs batch_size optimizers schedules clip_grad_norm accumulate".split()
)
#: keys of earlier versions, and what replaced them
RENAMED = {"trainer": "runtime", "schedule": "schedules"}
RENAMED |= dict.fromkeys(("optimizer", "g_optimizer", "d_optimizer"), "optimizers")
CHOICES = {
    ("runtime", "on_nan"): ("stop", "rollback"),
    ("runtime", "precision"): ("auto", "fp32", "bf16"),
    ("runtime", "compile"): (False, True, "inductor", "aot_eager", "eager"),
}
#: the core's sections and their defaults; each key takes its default's type (a float: any number)
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "eval": {"every": 0, "metrics": []},
    "samples": {"every": 0, "n": 64},
    "checkpoint": {"every": 1000, "keep": 3},
    "runtime": {
        "device": "auto",
        "precision": "auto",
        "threads": 0,
        "on_nan": "stop",
        "log_every": 10,
        "progress": True,
        "rollback_lr_factor": 0.5,
        "compile": False,
    },
}
SECTION_KEYS = {
    section: {key: (int, float) if type(v) is float else type(v) for key, v in keys.items()}
    for section, keys in DEFAULTS.items()
    if isinstance(keys, dict)
}
SECTION_KEYS["runtime"]["compile"] = (bool, str)  # true / false or a torch.compile backend

#: the largest integer a recipe may hold (a 1000-bit integer has about 300 digits)
MAX_INT_BITS = 1000
#: how deeply a recipe's mappings and lists may nest (real recipes nest 4 or 5 levels)
MAX_DEPTH = 64
#: how long a ``base:`` chain may be
MAX_BASES = 32


class Loader(yaml.SafeLoader):
    """Safe loader that also reads ``1e-3`` (no dot) as a float, as YAML 1.2 does; a scalar it
    cannot build (``2020-13-45``, ``!!int abc``, 5000 digits) is a YAMLError at its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            data = super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            self.refuse(node, str(error))
        if isinstance(data, int) and data.bit_length() > MAX_INT_BITS:
            # Python cannot even print an integer of 4300 digits: refuse it here
            self.refuse(node, f"an integer of more than {MAX_INT_BITS} bits")
        return data

    def refuse(self, node: yaml.Node, problem: str) -> NoReturn:
        value = f" {node.value[:40]!r}" if isinstance(node, yaml.ScalarNode) else ""
        problem = f"cannot read the value{value} as {node.tag}: {problem}"
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse(text: str) -> Any:
    """Safe-load YAML text with :class:`Loader`; every failure is a :class:`yaml.YAMLError`."""
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader derives from SafeLoader
    except RecursionError:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels") from None


def check_shape(data: Any, file: str | None = None, key: str = "") -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH` or holding itself (a YAML alias inside
    its own anchor: ``a: &x [*x]``), which every later step would recurse into forever. Each
    distinct node is visited once, so shared aliases cost nothing."""
    heights: dict[int, int] = {}
    open_nodes: set[int] = set()

    def height(node: Any, depth: int, where: str) -> int:
        if isinstance(node, dict):
            children = [(f"{where}.{k}" if where else str(k), v) for k, v in node.items()]
        elif isinstance(node, (list, tuple)):
            children = [(f"{where}[{i}]", v) for i, v in enumerate(node)]
        else:
            return 0
        if depth >= MAX_DEPTH or depth + heights.get(id(node), 0) > MAX_DEPTH:
            raise RecipeError(f"nested deeper than {MAX_DEPTH} levels", file=file, key=where)
        if id(node) in heights:
            return heights[id(node)]
        if id(node) in open_nodes:
            raise RecipeError("holds itself (an alias inside its own anchor)", file=file, key=where)
        open_nodes.add(id(node))
        below = max((height(child, depth + 1, at) for at, child in children), default=0)
        open_nodes.discard(id(node))
        heights[id(node)] = below + 1
        return below + 1

    height(data, 0, key)


def read_yaml(path: Path) -> dict[str, Any]:
    """Safe-load one YAML mapping; malformed YAML names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("recipe file not found", file=str(path))
    except (OSError, UnicodeDecodeError, ValueError) as error:  # ValueError: a NUL in the name
        raise RecipeError(f"cannot read: {error}", file=str(path))
    try:
        data = parse(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise RecipeError(f"malformed YAML{line}: {problem}", file=str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"expected a mapping at the top, got {type(data).__name__}", str(path))
    check_shape(data, str(path))
    return data


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; a value of ``None`` in ``over`` (YAML ``~``) removes the key."""
    result = copy.deepcopy(base)
    for key, value in over.items():
        if value is None and key in result and isinstance(result[key], dict):
            del result[key]
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            # a new component name replaces the base's arguments instead of mixing them
            if "name" in value and value.get("name") != result[key].get("name"):
                result[key] = copy.deepcopy(value)
            else:
                result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


#: the core's shared bases (``base: base/adversarial.yaml``), for recipes anywhere
SHARED = Path(__file__).resolve().parent / "recipes"


def base_path(recipe: Path, base: str) -> Path:
    """A ``base:`` path: relative to the recipe's folder, else among the shared bases."""
    local = recipe.parent / base
    return local if _exists(local) or not _exists(SHARED / base) else SHARED / base


def _exists(path: Path) -> bool:
    """``path.exists()``, false for a name the system refuses (too long, a NUL in it)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def shipped(manager: Any) -> dict[str, Path]:
    """Every recipe the loaded plugins ship (``genmm_recipe_folders``), by file stem."""
    found: dict[str, Path] = {}
    for folders in manager.hook.genmm_recipe_folders():
        for folder in folders or []:
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
    for base in bases:
        merged = merge(merged, load(base_path(path, base), (*_stack, path)))
    return merge(merged, data)


def _real(path: Path) -> str:
    """A path with ``..`` and links resolved, for comparing files."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError, ValueError):
        return os.path.normpath(path)


def parse_override(text: str, file: str | None = None) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> ``(["a", "b", "c"], value)``, the value parsed as YAML (kept as text
    when it is not YAML)."""
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
    """Apply ``a.b.c=value`` overrides (values parsed as YAML); the parent path must exist."""
    recipe = copy.deepcopy(recipe)
    for text in overrides:
        parts, value = parse_override(text, file)
        node: Any = recipe
        for depth, part in enumerate(parts[:-1]):
            path = ".".join(parts[: depth + 1])
            if not isinstance(node, dict):
                raise RecipeError(f"override '{text}': '{path}' is not a mapping", file, path)
            if part not in node and depth == 0 and part in TOP_LEVEL:
                node[part] = {}
            elif part not in node:
                missing = f"no key '{part}'{closest(part, list(node))}{_whole(text, parts, depth)}"
                raise RecipeError(f"override '{text}': {missing}", file=file, key=path)
            node = node[part]
        if not isinstance(node, dict):
            raise RecipeError(f"override '{text}': parent is not a mapping", file=file, key=text)
        node[parts[-1]] = value
    return recipe


def _whole(text: str, parts: list[str], depth: int) -> str:
    """How to add a new mapping inside a section: give it whole (top-level keys are fixed)."""
    if depth == 0:
        return ""
    whole = text.partition("=")[2].strip()
    for inner in reversed(parts[depth + 1 :]):
        whole = f"{{{inner}: {whole}}}"
    return f"; to add it, give it whole: {'.'.join(parts[: depth + 1])}={whole}"


def resolve(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Load, compose and override a recipe, then fill the core's defaults."""
    recipe = apply_overrides(load(path), list(overrides), str(path))
    recipe.pop("versions", None)
    return merge(DEFAULTS, recipe)


def validate(recipe: dict[str, Any], registry: Registry, file: str | None = None) -> None:
    """Check every key of a resolved recipe against the registry, building nothing."""
    Checker(registry, file).recipe(recipe)


def did_you_mean(key: str, valid: Any) -> str:
    """Did-you-mean for ``key``, naming the new key when ``key`` is an old one."""
    if key in RENAMED and RENAMED[key] in valid:
        return f" (renamed: use '{RENAMED[key]}')"
    return closest(key, list(valid))


def _counts(value: Any) -> bool:
    """A non-negative integer (counts, intervals, thread numbers)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class Checker:
    """Checks one resolved recipe; every problem is a RecipeError naming the file and key."""

    def __init__(self, registry: Registry, file: str | None) -> None:
        self.registry, self.file = registry, file

    def fail(self, message: str, key: str) -> NoReturn:
        raise RecipeError(message, file=self.file, key=key)

    def keys(self, mapping: dict[Any, Any], key: str) -> None:
        """The keys of a mapping a recipe names things by (sections, roles, arguments) are
        strings: ``1: x`` or ``~: x`` there is refused, not compared with names."""
        for sub in mapping:
            if not isinstance(sub, str):
                where = f"{key}.{sub}" if key else str(sub)
                self.fail(f"expected a key that is a string, got {sub!r}", where)

    def name(self, name: Any, kind: str, key: str) -> str:
        if not isinstance(name, str):
            self.fail(f"expected the name of a registered {kind}, got {name!r}", key)
        return name

    def recipe(self, recipe: dict[str, Any]) -> None:
        if not isinstance(recipe, dict):
            self.fail(f"expected a mapping at the top, got {type(recipe).__name__}", "")
        check_shape(recipe, self.file)
        self.keys(recipe, "")
        for key in recipe:
            if key not in TOP_LEVEL:
                self.fail(f"unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL)}", key)
        seed = recipe.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            self.fail(f"expected an integer, got {seed!r}", "seed")
        for section, keys in SECTION_KEYS.items():
            self.section(section, recipe.get(section), keys)
        if "data" not in recipe:
            self.fail("missing required key 'data'", "data")
        self.component("datasets", recipe["data"], "data")
        for section in ("models", "losses"):
            value = recipe.get(section, {})
            if not isinstance(value, dict):
                self.fail("expected a mapping of role -> component", section)
            self.keys(value, section)
            for role, spec in value.items():
                self.component(section, spec, f"{section}.{role}")
        phases = recipe.get("phases")
        if not isinstance(phases, dict) or not phases:
            self.fail("expected at least one phase: {name: {trainer: ...}}", "phases")
        self.keys(phases, "phases")
        for name, phase in phases.items():
            self.phase(f"phases.{name}", phase)
        for index, metric in enumerate(recipe["eval"].get("metrics", [])):
            spec = {"name": metric} if isinstance(metric, str) else metric
            self.component("metrics", spec, f"eval.metrics[{index}]")
        if "writer" in recipe:
            self.component("writers", recipe["writer"], "writer")

    def section(self, section: str, value: Any, keys: dict[str, Any]) -> None:
        """A core section (``eval``, ``runtime``...): known keys, each of its type and choices."""
        if not isinstance(value, dict):
            self.fail("expected a mapping", section)
        self.keys(value, section)
        for sub, wanted in keys.items():
            if sub not in value:
                continue
            key, item = f"{section}.{sub}", value[sub]
            if not isinstance(item, wanted) or (isinstance(item, bool) and wanted is int):
                names = wanted.__name__ if isinstance(wanted, type) else "number"
                names = "true, false or a backend name" if sub == "compile" else names
                self.fail(f"expected {names}, got {item!r}", key)
            if wanted is int and item < 0:
                self.fail(f"expected a non-negative integer, got {item!r}", key)
            choices = CHOICES.get((section, sub))
            if choices and item not in choices:
                self.fail(f"expected one of {', '.join(map(str, choices))}, got {item!r}", key)
        for sub in value:
            if sub not in keys:
                self.fail(f"unknown key '{sub}'{closest(sub, list(keys))}", f"{section}.{sub}")

    def component(self, kind: str, spec: Any, key: str) -> None:
        name, arguments = split_spec(kind, spec, file=self.file, key=key)
        self.name(name, singular(kind), f"{key}.name")
        self.keys(arguments, key)
        self.registry.check_arguments(kind, name, arguments, file=self.file, key=key)

    def phase(self, key: str, phase: Any) -> None:
        """The core's phase keys, then the rest as the trainer's arguments."""
        from genmm.training.optim import check_optimizer, check_schedule

        if not isinstance(phase, dict) or "trainer" not in phase:
            self.fail("expected a mapping with a 'trainer'", key)
        self.keys(phase, key)
        trainer = self.name(phase["trainer"], "trainer", f"{key}.trainer")
        component = self.registry.get("trainers", trainer, file=self.file, key=f"{key}.trainer")
        if (phase.get("max_steps") is None) == (phase.get("epochs") is None):
            self.fail("give exactly one of 'max_steps' or 'epochs'", key)
        for count in ("max_steps", "epochs", "batch_size", "accumulate"):
            value = phase.get(count)
            if value is not None and not _counts(value):
                self.fail(f"expected a non-negative integer, got {value!r}", f"{key}.{count}")
        clip = phase.get("clip_grad_norm")
        if isinstance(clip, dict):
            self.keys(clip, f"{key}.clip_grad_norm")
        for role, norm in clip.items() if isinstance(clip, dict) else [(None, clip)]:
            number = isinstance(norm, (int, float)) and not isinstance(norm, bool)
            if norm is not None and not (number and norm > 0):
                where = f"{key}.clip_grad_norm" + (f".{role}" if role else "")
                self.fail(
                    f"expected a positive number or null (or {{role: number}}), got {norm!r}", where
                )
        for section, check in (("optimizers", check_optimizer), ("schedules", check_schedule)):
            table = phase.get(section) or {}
            if not isinstance(table, dict):
                self.fail("expected a mapping role -> spec", f"{key}.{section}")
            self.keys(table, f"{key}.{section}")
            for role, spec in table.items():
                where = f"{key}.{section}.{role}"
                if isinstance(spec, dict):
                    self.keys(spec, where)
                    if "name" in spec:
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
    """The recipe with every component's unstated arguments filled in from its factory's
    signature (what ``genmm run --dry-run`` prints)."""

    def fill(kind: str, spec: Any) -> Any:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        for name, parameter in registry.get(kind, spec["name"]).signature.parameters.items():
            plain = parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            given = name in spec or name in INJECTED or parameter.default is parameter.empty
            if plain and not given:
                spec[name] = _plain(parameter.default)
        return spec

    recipe = copy.deepcopy(recipe)
    data = fill("datasets", recipe["data"])
    if "seed" in data and "seed" not in recipe["data"]:
        data["seed"] = recipe["seed"]  # what the run hands the dataset
    recipe["data"] = data
    for section in ("models", "losses"):
        for role, spec in recipe.get(section, {}).items():
            recipe[section][role] = fill(section, spec)
    recipe["eval"]["metrics"] = [fill("metrics", m) for m in recipe["eval"].get("metrics", [])]
    if "writer" in recipe:
        recipe["writer"] = fill("writers", recipe["writer"])
    for name, phase in recipe["phases"].items():
        filled = fill("trainers", {**phase, "name": phase["trainer"]})
        filled.pop("name")
        recipe["phases"][name] = filled
    return recipe


def _plain(value: Any) -> Any:
    """A default as YAML shows it (tuples as lists)."""
    return [_plain(v) for v in value] if isinstance(value, tuple) else value
