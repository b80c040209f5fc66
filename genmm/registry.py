"""Named components, each a factory whose signature is its recipe schema."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genmm.errors import PluginError, RecipeError

KINDS: tuple[str, ...] = ("datasets", "models", "losses", "trainers", "metrics", "writers")


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
        target = self.factory.__init__ if inspect.isclass(self.factory) else self.factory
        signature = inspect.signature(target)
        parameters = [p for p in signature.parameters.values() if p.name != "self"]
        return signature.replace(parameters=parameters)

    def describe(self) -> str:
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` or, when nothing is close, the list of valid names."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if matches:
        return " (did you mean " + " or ".join(f"'{m}'" for m in matches) + "?)"
    shown = ", ".join(sorted(choices)[:12]) if choices else "none"
    return f" (valid: {shown})"


class Registry:
    """All components of all kinds, keyed by kind then name."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}

    def add(
        self, kind: str, name: str, factory: Callable[..., Any], plugin: str, **about: Any
    ) -> None:
        if kind not in self.components:
            raise PluginError(f"unknown component kind '{kind}'{closest(kind, KINDS)}")
        if not isinstance(name, str) or "." not in name:
            raise PluginError(
                f"plugin '{plugin}' registered {kind[:-1]} {name!r}: "
                "names must look like '<plugin>.<thing>'"
            )
        if not callable(factory):
            raise PluginError(f"plugin '{plugin}' registered {name!r} with a non-callable factory")
        existing = self.components[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"{kind[:-1]} '{name}' is registered twice: by plugin '{existing.plugin}' "
                f"and by plugin '{plugin}'"
            )
        self.components[kind][name] = Component(name, kind, factory, plugin, dict(about))

    def get(self, kind: str, name: str, *, file: str | None = None, key: str | None = None):
        table = self.components[kind]
        if name not in table:
            raise RecipeError(
                f"unknown {kind[:-1]} '{name}'{closest(name, tuple(table))}", file=file, key=key
            )
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def check_arguments(
        self, kind: str, name: str, arguments: dict[str, Any], *, file: str | None, key: str
    ) -> Component:
        """Check recipe arguments against the factory signature, building nothing."""
        component = self.get(kind, name, file=file, key=f"{key}.name" if key else "name")
        check_call(
            component.factory, component.signature, arguments, file=file, key=key, label=name
        )
        return component

    def build(
        self,
        kind: str,
        spec: dict[str, Any],
        *,
        file: str | None = None,
        key: str = "",
        **extra: Any,
    ) -> Any:
        """Build ``spec = {name: ..., **arguments}``; ``extra`` are passed when accepted."""
        if not isinstance(spec, dict) or "name" not in spec:
            raise RecipeError(
                f"expected a mapping with a 'name' of a registered {kind[:-1]}", file=file, key=key
            )
        arguments = {k: v for k, v in spec.items() if k != "name"}
        component = self.check_arguments(kind, spec["name"], arguments, file=file, key=key)
        accepted = component.signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        for extra_name, value in extra.items():
            if (extra_name in accepted or takes_any) and extra_name not in arguments:
                arguments[extra_name] = value
        try:
            return component.factory(**arguments)
        except (TypeError, ValueError) as error:
            raise RecipeError(f"building '{spec['name']}' failed: {error}", file=file, key=key)


INJECTED = {"dataset", "run"}


def check_call(
    factory: Callable[..., Any],
    signature: inspect.Signature,
    arguments: dict[str, Any],
    *,
    file: str | None,
    key: str,
    skip: frozenset[str] = frozenset(),
    label: str | None = None,
) -> None:
    """Unknown keys, missing required arguments and wrong scalar types raise RecipeError; the
    message calls the component ``label`` (its registered name) or the factory's own name."""
    label = label or _name(factory)
    parameters = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    valid = [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    prefix = f"{key}." if key else ""
    for argument, value in arguments.items():
        if argument not in parameters and not takes_any:
            raise RecipeError(
                f"unknown key '{argument}' for '{label}'{closest(argument, valid)}",
                file=file,
                key=prefix + argument,
            )
        if argument in parameters:
            _check_type(parameters[argument], value, file=file, key=prefix + argument)
    for name, parameter in parameters.items():
        if name in skip or name in INJECTED:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty and name not in arguments:
            raise RecipeError(
                f"missing required argument '{name}' for '{label}'",
                file=file,
                key=prefix + name,
            )


def _name(factory: Callable[..., Any]) -> str:
    return getattr(factory, "__qualname__", getattr(factory, "__name__", repr(factory)))


_SCALARS = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_type(parameter: inspect.Parameter, value: Any, *, file: str | None, key: str) -> None:
    """Check a value against a plain scalar annotation (int, float, bool, str, X | None)."""
    annotation = parameter.annotation
    if annotation is parameter.empty:
        if parameter.default is not parameter.empty and parameter.default is not None:
            annotation = type(parameter.default).__name__
        else:
            return
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", str(annotation))
    options = [part.strip() for part in annotation.split("|")]
    if value is None and "None" in options:
        return
    allowed: list[type] = []
    for option in options:
        if option not in _SCALARS:
            return  # a type we do not check (lists, mappings, tensors, unions of those)
        allowed.extend(_SCALARS[option])
    if isinstance(value, bool) and bool not in allowed:
        ok = False
    else:
        ok = isinstance(value, tuple(allowed))
    if not ok:
        raise RecipeError(
            f"expected {annotation}, got {type(value).__name__} {value!r}", file=file, key=key
        )
