"""Named components, each a factory whose signature is its recipe schema (docs/recipes.md)."""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from genmm.errors import PluginError, RecipeError

KINDS: tuple[str, ...] = ("datasets", "models", "losses", "trainers", "metrics", "writers")
#: what the core hands factories itself; a recipe never sets these
INJECTED = ("description",)
#: names a factory may not take: set by nobody, or the old injections a rebuilt model cannot get
REFUSED = {
    "name": "it is the component's registered name in a recipe",
    "dataset": "factories get the plain-data `description` (the same with or without the data)",
    "run": "factories are built before the run; metrics and writers get it when called",
}


def singular(kind: str) -> str:
    """``losses`` -> ``loss``, ``models`` -> ``model``."""
    return kind[:-2] if kind.endswith("ses") else kind[:-1]


@dataclass
class Component:
    """One registered factory, the plugin that registered it and free-text facts about it."""

    name: str
    kind: str
    factory: Callable[..., Any]
    plugin: str
    about: dict[str, Any] = field(default_factory=dict)

    @property
    def signature(self) -> inspect.Signature:
        return signature_of(self.factory)

    def describe(self) -> str:
        return (inspect.getdoc(self.factory) or "").partition("\n")[0]


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` or, when nothing is close, the list of valid names."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if matches:
        return " (did you mean " + " or ".join(f"'{m}'" for m in matches) + "?)"
    return f" (valid: {', '.join(sorted(choices)[:12]) if choices else 'none'})"


class Registry:
    """All components of all kinds, keyed by kind then name."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}

    def add(self, kind: str, name: str, factory: Callable, plugin: str, **about: Any) -> None:
        by = f"plugin '{plugin}' registered"
        if kind not in self.components:
            raise PluginError(f"unknown component kind '{kind}'{closest(kind, KINDS)}")
        if not isinstance(name, str) or "." not in name:
            problem = "names must look like '<plugin>.<thing>'"
            raise PluginError(f"{by} {singular(kind)} {name!r}: {problem}")
        if not callable(factory):
            raise PluginError(f"{by} {name!r} with a non-callable factory")
        try:
            parameters = list(signature_of(factory).parameters)
        except (TypeError, ValueError):  # a builtin without a signature: nothing to check
            parameters = []
        for parameter in parameters:  # one a recipe can never set, or a misspelt injected name
            near = difflib.get_close_matches(parameter, INJECTED, n=1, cutoff=0.75)
            if parameter in REFUSED or (near and parameter not in INJECTED):
                problem = REFUSED.get(parameter) or f"did you mean the injected '{near[0]}'?"
                raise PluginError(f"{by} '{name}' with a parameter '{parameter}': {problem}")
        existing = self.components[kind].get(name)
        if existing is not None:
            twice = f"by plugin '{existing.plugin}' and by plugin '{plugin}'"
            raise PluginError(f"{singular(kind)} '{name}' is registered twice: {twice}")
        self.components[kind][name] = Component(name, kind, factory, plugin, dict(about))

    def get(self, kind: str, name: str, *, file: str | None = None, key: str | None = None):
        table = self.components[kind]
        if name not in table:
            message = f"unknown {singular(kind)} '{name}'{closest(name, tuple(table))}"
            raise RecipeError(message, file, key)
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def build(self, kind: str, spec: dict, file: str | None = None, key: str = "", **extra: Any):
        """Build ``{name: ..., **arguments}``, adding the ``extra`` arguments the factory takes."""
        name, arguments = split_spec(kind, spec, file=file, key=key)
        component = self.get(kind, name, file=file, key=f"{key}.name" if key else "name")
        accepted = component.signature.parameters
        extra = {k: v for k, v in extra.items() if k in accepted or takes_any(accepted)}
        try:
            return component.factory(**(extra | arguments))
        except (TypeError, ValueError) as error:  # the factory's own error names the file and key
            raise RecipeError(f"building '{name}' failed: {error}", file, key)


def split_spec(kind: str, spec: Any, *, file: str | None, key: str) -> tuple[str, dict[str, Any]]:
    """``{name: ..., **arguments}`` -> ``(name, arguments)``; a RecipeError without a name."""
    if not isinstance(spec, dict) or "name" not in spec:
        message = f"expected a mapping with a 'name' of a registered {singular(kind)}"
        raise RecipeError(message, file, key)
    return spec["name"], {k: v for k, v in spec.items() if k != "name"}


def takes_any(parameters: Any) -> bool:
    """Whether a signature's parameters include ``**kwargs``."""
    return any(p.kind is p.VAR_KEYWORD for p in parameters.values())


@functools.cache
def signature_of(factory: Callable[..., Any]) -> inspect.Signature:
    """The factory's parameters (a class's ``__init__`` without ``self``), annotations resolved."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    signature = inspect.signature(factory)  # a class without its own __init__ takes nothing
    hints = _hints(target) if target is not object.__init__ else {}
    parameters = [p for p in signature.parameters.values() if p.name != "self"]
    return signature.replace(
        parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in parameters]
    )


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:  # a name only imported under TYPE_CHECKING: resolve what resolves
        namespace, resolved = getattr(target, "__globals__", {}), {}
        for name, annotation in getattr(target, "__annotations__", {}).items():
            with contextlib.suppress(Exception):
                text = isinstance(annotation, str)
                resolved[name] = eval(annotation, namespace) if text else annotation  # noqa: S307
        return resolved


def check_call(
    factory: Callable[..., Any],
    signature: inspect.Signature,
    arguments: dict[str, Any],
    file: str | None,
    key: str,
    label: str | None = None,
) -> None:
    """Refuse unknown keys, missing required arguments and values of the wrong type."""
    label = label or getattr(factory, "__qualname__", getattr(factory, "__name__", repr(factory)))
    parameters, prefix = signature.parameters, f"{key}." if key else ""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    settable = [n for n, p in parameters.items() if p.kind not in variadic and n not in INJECTED]
    for argument, value in arguments.items():
        where = prefix + argument
        if argument in INJECTED:
            message = f"'{argument}' is handed to '{label}' by genmm; a recipe does not set it"
            raise RecipeError(message, file, where)
        if argument not in parameters and not takes_any(parameters):
            message = f"unknown key '{argument}' for '{label}'{closest(argument, settable)}"
            raise RecipeError(message, file, where)
        parameter = parameters.get(argument)
        if parameter is not None:
            annotation = parameter.annotation
            if annotation is parameter.empty and parameter.default not in (parameter.empty, None):
                annotation = type(parameter.default)  # unannotated: the default's type
            problem = type_problem(annotation, value, where)
            if problem is not None:
                raise RecipeError(problem[1], file, problem[0])
    for name in settable:
        if parameters[name].default is inspect.Parameter.empty and name not in arguments:
            message = f"missing required argument '{name}' for '{label}'"
            raise RecipeError(message, file, prefix + name)


def _show(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def type_problem(annotation: Any, value: Any, key: str) -> tuple[str, str] | None:
    """``(key, message)`` when plain YAML ``value`` does not fit ``annotation``, else None."""
    if annotation is inspect.Parameter.empty or annotation is Any or isinstance(annotation, str):
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    wrong = (key, f"expected {_show(annotation)}, got {type(value).__name__} {value!r}")
    if origin in (Union, types.UnionType):
        problems = [type_problem(option, value, key) for option in args]
        if any(p is None for p in problems):
            return None
        deeper = [p for p in problems if p[0] != key]  # the one option that fits but for an item
        return deeper[0] if len(deeper) == 1 else wrong
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return None
        return key, f"expected one of {', '.join(repr(a) for a in args)}, got {value!r}"
    if annotation in (int, float, bool, str, type(None)):
        kinds = (int, float) if annotation is float else annotation
        fits = isinstance(value, kinds) and (annotation is bool or not isinstance(value, bool))
        return None if fits else wrong
    container = origin or annotation
    if container in (list, Sequence, tuple):
        if not isinstance(value, (list, tuple)):
            return wrong
        if container is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                return key, f"expected {len(args)} items ({_show(annotation)}), got {value!r}"
        elif args:  # list[X], tuple[X, ...]
            args = (args[0],) * len(value)
        checks = [(inner, item, f"{key}[{i}]") for i, (inner, item) in enumerate(zip(args, value))]
    elif container in (dict, Mapping):
        if not isinstance(value, dict):
            return wrong
        checks = [(a, x, f"{key}.{k}") for k, v in value.items() for a, x in zip(args, (k, v))]
    else:
        return None  # a type YAML cannot hold (a module, a tensor): not checked
    problems = (type_problem(inner, item, where) for inner, item, where in checks)
    return next((p for p in problems if p is not None), None)
