"""The plugin manager: entry points of group ``genmm``, the core's own plugin, ``--plugin`` files.

Shaped after simonw/llm; see docs/writing-plugins.md and docs/cli.md (GENMM_DISABLE_PLUGINS).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

import genmm
from genmm import hookspecs
from genmm.errors import PluginError
from genmm.registry import KINDS, Registry

log = logging.getLogger(__name__)


@dataclass
class PluginInfo:
    """Where a plugin came from and what it registered."""

    name: str
    source: str
    version: str | None = None
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)


class PluginManager:
    """Loads plugins, checks their hooks and fills a :class:`Registry`."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("genmm")
        self.pm.add_hookspecs(hookspecs)
        self.hook = self.pm.hook
        self.infos: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None

    def add(self, module: ModuleType | object, name: str, source: str, version: str | None):
        """Register a plugin; one whose hooks do not match the contract is left out with its
        error recorded, and the others still load."""
        if name in self.infos or self.pm.get_plugin(name) is not None:
            previous = self.infos[name].source if name in self.infos else "?"
            raise PluginError(f"plugin name '{name}' is taken twice: {previous} and {source}")
        info = self.infos[name] = PluginInfo(name, source, version)
        self._registry = None
        info.error = hook_problem(module)
        if info.error is None:
            try:
                self.pm.register(module, name=name)
                info.hooks = sorted(c.name for c in self.pm.get_hookcallers(module) or [])
            except pluggy.PluginValidationError as error:  # e.g. a misspelt hook argument
                info.error = "; ".join(line.strip() for line in str(error).splitlines() if line)
        if info.error is not None:
            log.warning("plugin '%s' is disabled: %s", name, info.error)

    def load_default(self, extra_files: list[str] | tuple[str, ...] = ()) -> None:
        """Load the core plugin, every entry point of group ``genmm`` and ``extra_files``."""
        disabled = {p.strip() for p in os.environ.get("GENMM_DISABLE_PLUGINS", "").split(",")}
        import genmm.core_plugin as core

        self.add(core, "core", "genmm (built in)", genmm.__version__)
        for entry_point in importlib.metadata.entry_points(group="genmm"):
            if "all" in disabled or entry_point.name in disabled:
                continue
            dist = entry_point.dist
            version = dist.version if dist else None
            source = f"{dist.name if dist else '?'} (entry point {entry_point.value})"
            try:
                module = entry_point.load()
            except Exception as error:  # report by name, keep loading the others
                log.warning("plugin '%s' failed to load: %s", entry_point.name, error)
                problem = f"{type(error).__name__}: {error}"
                self.infos[entry_point.name] = PluginInfo(
                    entry_point.name, source, version, problem
                )
                continue
            self.add(module, entry_point.name, source, version)
        for path in extra_files:
            self.load_file(path)

    def load_file(self, path: str | os.PathLike[str]) -> None:
        """Load a one-off plugin from a Python file (``genmm run --plugin FILE.py``)."""
        file = Path(path)
        if not file.is_file():
            raise PluginError(f"{file}: plugin file not found")
        spec = importlib.util.spec_from_file_location(f"genmm_file_plugin_{file.stem}", file)
        if spec is None or spec.loader is None:
            raise PluginError(f"{file}: cannot be imported as a Python module")
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise PluginError(f"{file}: plugin failed to import: {type(error).__name__}: {error}")
        self.add(module, file.stem, f"file {file}", None)

    @property
    def registry(self) -> Registry:
        """Every component the plugins register, built on first use."""
        if self._registry is not None:
            return self._registry
        registry = Registry()
        for info in self.infos.values():
            info.registered = {}
        for kind in KINDS:
            for implementation in getattr(self.pm.hook, f"genmm_register_{kind}").get_hookimpls():
                plugin_name = implementation.plugin_name

                def register(name: str, factory: Any, _p: str = plugin_name, _k=kind, **about):
                    registry.add(_k, name, factory, _p, **about)
                    self.infos[_p].registered.setdefault(_k, []).append(name)

                try:
                    implementation.function(register=register)
                except PluginError:
                    raise
                except Exception as error:
                    where = f"plugin '{plugin_name}' failed in genmm_register_{kind}"
                    raise PluginError(f"{where}: {type(error).__name__}: {error}") from error
        self._registry = registry
        return registry


def hook_problem(module: object) -> str | None:
    """A function named ``genmm_*`` that is no hook of the contract: its name, with the hook
    it probably means (pluggy would otherwise fail every plugin at start-up)."""
    for attribute in dir(module):
        value = getattr(module, attribute, None)
        if getattr(value, "genmm_impl", None) is None or attribute in hookspecs.HOOK_NAMES:
            continue
        near = difflib.get_close_matches(attribute, hookspecs.HOOK_NAMES, n=1, cutoff=0.6)
        meant = f" (did you mean '{near[0]}'?)" if near else ""
        return f"'{attribute}' is not a genmm hook{meant}"
    return None


_manager: PluginManager | None = None


def get_manager(extra_files: list[str] | tuple[str, ...] = ()) -> PluginManager:
    """The process-wide plugin manager, loaded on first use."""
    global _manager
    if _manager is None:
        manager = PluginManager()
        manager.load_default()
        _manager = manager
    for path in extra_files:
        if Path(path).stem not in _manager.infos:
            _manager.load_file(path)
    return _manager
