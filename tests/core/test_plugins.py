"""The plugin manager: entry points, disabling, one-off files, bad plugins."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from genmm.errors import PluginError
from genmm.plugins import PluginManager


def fresh(files=()) -> PluginManager:
    manager = PluginManager()
    manager.load_default(list(files))
    return manager


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_builtins_load_through_entry_points():
    manager = fresh()
    assert "core" in manager.infos and "toy" in manager.infos
    assert "entry point genmm_toy.plugin" in manager.infos["toy"].source
    registry = manager.registry
    assert "toy.ring" in registry.names("datasets")
    assert "core.gan" in registry.names("trainers")
    assert manager.infos["toy"].registered["models"] == [
        "toy.mlp_generator",
        "toy.mlp_discriminator",
    ]


def test_disable_plugins(monkeypatch):
    monkeypatch.setenv("GENMM_DISABLE_PLUGINS", "toy")
    manager = fresh()
    assert "toy" not in manager.infos and "core" in manager.infos
    monkeypatch.setenv("GENMM_DISABLE_PLUGINS", "all")
    assert list(fresh().infos) == ["core"]


def test_one_off_plugin_file(tmp_path):
    file = write(
        tmp_path / "extra.py",
        """
import genmm
from genmm_toy.models import MLPGenerator

@genmm.hookimpl
def genmm_register_models(register):
    register("extra.gen", MLPGenerator)
""",
    )
    manager = fresh([file])
    assert manager.infos["extra"].source == f"file {file}"
    assert "extra.gen" in manager.registry.names("models")


def test_misspelled_hook_disables_that_plugin_and_the_others_load(tmp_path):
    file = write(
        tmp_path / "typo.py",
        """
import genmm

@genmm.hookimpl
def genmm_register_modles(register):
    pass
""",
    )
    manager = fresh([file])
    assert manager.infos["typo"].error == (
        "'genmm_register_modles' is not a genmm hook (did you mean 'genmm_register_models'?)"
    )
    assert "toy.ring" in manager.registry.names("datasets")  # the others still load


def test_misspelled_hook_argument_is_a_one_line_error(tmp_path):
    file = write(
        tmp_path / "argtypo.py",
        """
import genmm

@genmm.hookimpl
def genmm_register_models(registr):
    pass
""",
    )
    manager = fresh([file])
    error = manager.infos["argtypo"].error
    assert "registr" in error and "\n" not in error
    assert "toy.mlp_generator" in manager.registry.names("models")


def test_factory_parameters_a_recipe_cannot_set_are_refused(tmp_path):
    for parameter, reason in (
        ("name", "registered name"),
        ("dataset", "description"),
        ("descripton", "did you mean the injected 'description'"),
    ):
        file = write(
            tmp_path / f"bad_{parameter}.py",
            f"""
import genmm

class Model:
    def __init__(self, {parameter}=None):
        pass

@genmm.hookimpl
def genmm_register_models(register):
    register("bad.model", Model)
""",
        )
        with pytest.raises(PluginError, match=reason):
            fresh([file]).registry  # noqa: B018 - building the registry checks it


def test_plugin_failing_on_import_is_reported_and_others_load(monkeypatch):
    real = importlib.metadata.entry_points

    def entry_points(group=None, **kwargs):
        found = list(real(group=group, **kwargs))
        broken = importlib.metadata.EntryPoint(
            name="broken", value="genmm_no_such_module_for_tests.plugin", group="genmm"
        )
        return [*found, broken]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    manager = fresh()
    assert "ModuleNotFoundError" in manager.infos["broken"].error
    assert "toy.ring" in manager.registry.names("datasets")


def test_name_registered_twice_names_both_plugins(tmp_path):
    file = write(
        tmp_path / "clash.py",
        """
import genmm

@genmm.hookimpl
def genmm_register_datasets(register):
    register("toy.ring", list)
""",
    )
    manager = fresh([file])
    with pytest.raises(PluginError) as error:
        manager.registry  # noqa: B018
    assert "'toy.ring' is registered twice" in str(error.value)
    assert "'toy'" in str(error.value) and "'clash'" in str(error.value)


def test_register_needs_a_dotted_name(tmp_path):
    file = write(
        tmp_path / "flat.py",
        """
import genmm

@genmm.hookimpl
def genmm_register_metrics(register):
    register("nodot", dict)
""",
    )
    with pytest.raises(PluginError, match="'<plugin>.<thing>'"):
        fresh([file]).registry  # noqa: B018


def test_missing_plugin_file(tmp_path):
    with pytest.raises(PluginError, match="plugin file not found"):
        fresh([tmp_path / "nope.py"])


def test_cli_plugins_lists_sources_and_hooks(cli):
    result = cli("plugins", "--hooks")
    assert result.returncode == 0, result.stderr
    assert "toy 0.1.0" in result.stdout
    assert "dataset  toy.ring" in result.stdout and "dataset  toy.grid" in result.stdout
    assert "hooks: genmm_evaluate" in result.stdout


def test_cli_recipes_lists_shipped_recipes(cli):
    result = cli("recipes")
    assert result.returncode == 0
    assert "toy_ring" in result.stdout and "Goodfellow" in result.stdout
