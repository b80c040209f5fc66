"""Nothing genmm reads can run code: every call that deserialises (torch.load, pickle, YAML,
numpy) or turns text into code (eval, exec, imports) in genmm/ and plugins/ is found by parsing
the source, and each is safe or allowed here by name with the reason. A recipe can only name
registered components, never a Python path."""

from __future__ import annotations

import ast
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from genmm import recipe as recipes
from genmm.errors import DataError, RecipeError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "genmm").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])

#: (file, function) of calls allowed although they look unsafe, with the reason
ALLOWED = {
    # eval of the plugin's own annotation strings (``"int | None"`` under `from __future__
    # import annotations`) in the namespace of the plugin's module, to read a factory's
    # signature; recipe data never reaches it
    ("genmm/registry.py", "_hints", "eval"),
    # one-off plugin files the user names with ``--plugin FILE.py``: importing them is the point
    ("genmm/plugins.py", "load_file", "importlib.util.spec_from_file_location"),
}
#: calls that deserialise or import, by their dotted name
WATCHED = {
    "torch.load",
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "yaml.load",
    "yaml.load_all",
    "yaml.unsafe_load",
    "yaml.unsafe_load_all",
    "yaml.full_load",
    "yaml.full_load_all",
    "np.load",
    "numpy.load",
    "marshal.loads",
    "marshal.load",
    "shelve.open",
    "dill.load",
    "dill.loads",
    "joblib.load",
    "cloudpickle.load",
    "cloudpickle.loads",
    "eval",
    "exec",
    "compile",
    "__import__",
    "importlib.import_module",
    "importlib.__import__",
    "importlib.util.spec_from_file_location",
}


def dotted(node: ast.AST) -> str:
    """``torch.load`` for the expression ``torch.load``; '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


class Finder(ast.NodeVisitor):
    """Watched calls and pickle.Unpickler subclasses, each with its innermost function or
    class (``<module>`` at the top)."""

    def __init__(self, file: str) -> None:
        self.file, self.scope = file, ["<module>"]
        self.found: list[tuple[str, str, str, ast.AST]] = []

    def scoped(self, node: ast.AST) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = scoped

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if any(dotted(base) == "pickle.Unpickler" for base in node.bases):
            self.found.append((self.file, node.name, "pickle.Unpickler", node))
        self.scoped(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """``from pickle import loads`` would hide a call from the scan: refused as such."""
        for alias in node.names:
            if f"{node.module}.{alias.name}" in WATCHED:
                self.found.append((self.file, self.scope[-1], f"{node.module}.{alias.name}", node))

    def visit_Call(self, node: ast.Call) -> None:
        if dotted(node.func) in WATCHED:
            self.found.append((self.file, self.scope[-1], dotted(node.func), node))
        self.generic_visit(node)


def calls() -> list[tuple[str, str, str, ast.AST]]:
    """Every watched call in genmm/ and plugins/: (file, function, name, node)."""
    found = []
    for source in SOURCES:
        finder = Finder(source.relative_to(ROOT).as_posix())
        finder.visit(ast.parse(source.read_text(encoding="utf-8"), str(source)))
        found += finder.found
    return found


def keyword(node: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def problem(file: str, function: str, name: str, node: ast.AST) -> str | None:
    """Why a watched call is unsafe, or None."""
    if name == "torch.load":
        return (
            None
            if is_true(keyword(node, "weights_only"))
            else "torch.load without weights_only=True"
        )
    if name in ("np.load", "numpy.load"):
        return "np.load(allow_pickle=True)" if is_true(keyword(node, "allow_pickle")) else None
    if name == "pickle.Unpickler":
        # the text plugin's restricted unpickler is the only one; its find_class is tested below
        expected = ("plugins/genmm_text/oracle_params.py", "NumpyOnlyUnpickler")
        return None if (file, function) == expected else "a pickle.Unpickler subclass"
    if name in ("yaml.load", "yaml.load_all"):
        loader = dotted(keyword(node, "Loader") or ast.Constant(None))
        safe = {"yaml.SafeLoader", "yaml.CSafeLoader"}
        if loader in safe or (file, loader) == ("genmm/recipe.py", "Loader"):
            return None  # recipe.Loader derives from SafeLoader: tested below
        return f"{name} with Loader={loader or 'nothing'}"
    return f"{name}(...)"


def test_every_deserialising_or_importing_call_is_safe_or_allowed():
    found = calls()
    assert any(name == "torch.load" for _, _, name, _ in found)  # the scan sees real calls
    unsafe = [
        f"{file}:{node.lineno} in {function}: {why}"
        for file, function, name, node in found
        if (why := problem(file, function, name, node)) and (file, function, name) not in ALLOWED
    ]
    assert not unsafe, "\n".join(unsafe)


def test_the_scan_finds_unsafe_calls():
    snippet = """
import torch, pickle, yaml, importlib
from pickle import loads
def f(p):
    torch.load(p)
    torch.load(p, weights_only=False)
    pickle.loads(p)
    yaml.load(p, Loader=yaml.Loader)
    yaml.unsafe_load(p)
    eval(p)
    __import__(p)
    importlib.import_module(p)
    torch.load(p, weights_only=True)
    yaml.load(p, Loader=yaml.SafeLoader)
    np.load(p, allow_pickle=False)
"""
    finder = Finder("x.py")
    finder.visit(ast.parse(snippet))
    flagged = [name for file, scope, name, node in finder.found if problem(file, scope, name, node)]
    assert flagged == [
        "pickle.loads",
        "torch.load",
        "torch.load",
        "pickle.loads",
        "yaml.load",
        "yaml.unsafe_load",
        "eval",
        "__import__",
        "importlib.import_module",
    ]


def test_every_allowance_is_still_needed():
    """An allowance whose call is gone is removed, so it cannot cover a new one."""
    seen = {(file, function, name) for file, function, name, _ in calls()}
    assert ALLOWED <= seen, ALLOWED - seen


def test_the_recipe_loader_is_a_safe_loader():
    assert issubclass(recipes.Loader, yaml.SafeLoader)
    assert not issubclass(recipes.Loader, (yaml.FullLoader, yaml.UnsafeLoader))


@pytest.mark.parametrize(
    "text",
    [
        "seed: !!python/object/apply:os.system ['touch {marker}']",
        "seed: !!python/object/new:os.system ['touch {marker}']",
        "seed: !!python/name:os.system",
        "seed: !!python/module:os",
    ],
)
def test_python_tags_are_refused_before_anything_runs(tmp_path, text):
    marker = tmp_path / "ran"
    path = tmp_path / "r.yaml"
    path.write_text(text.format(marker=marker), encoding="utf-8")
    with pytest.raises(RecipeError, match="malformed YAML"):
        recipes.load(path)
    with pytest.raises(RecipeError):  # an override value is YAML too; it stays text
        recipes.validate(
            recipes.resolve(ROOT / "recipes" / "toy_ring.yaml", [text.format(marker=marker)]),
            _registry(),
        )
    assert not marker.exists()


def _registry():
    from genmm.plugins import get_manager

    return get_manager().registry


PYTHON_PATHS = ["os.system", "builtins.eval", "subprocess.run", "genmm.recipe.parse", "__import__"]


@pytest.mark.parametrize("python_path", PYTHON_PATHS)
@pytest.mark.parametrize(
    "edit, where",
    [
        ("data.name", "data.name"),
        ("models.generator.name", "models.generator.name"),
        ("losses.adversarial.name", "losses.adversarial.name"),
        ("writer.name", "writer.name"),
        ("phases.gan.trainer", "phases.gan.trainer"),
        ("phases.gan.optimizers.generator.name", "phases.gan.optimizers.generator"),
        ("eval.metrics", "eval.metrics[0]"),
    ],
)
def test_a_recipe_cannot_name_a_python_path(python_path, edit, where):
    """A component name is looked up among registered components only: a Python path is an
    unknown component, never imported."""
    value = f"[{python_path}]" if edit == "eval.metrics" else python_path
    recipe = recipes.resolve(ROOT / "recipes" / "toy_ring.yaml", [f"{edit}={value}"])
    with pytest.raises(RecipeError, match=rf"unknown \w+ '{python_path}'") as caught:
        recipes.validate(recipe, _registry(), "toy_ring.yaml")
    assert caught.value.key.startswith(where)


def test_the_text_plugins_unpickler_refuses_any_other_global(tmp_path):
    """plugins/genmm_text/oracle_params.py, the one pickle reader: numpy arrays load, a pickle
    naming os.system is refused before it is called."""
    from genmm_text.oracle_params import NumpyOnlyUnpickler

    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros(2)]
    loaded = NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arrays, protocol=2)), "ok.pkl").load()
    assert all(np.array_equal(a, b) for a, b in zip(loaded, arrays))

    class Attack:
        def __reduce__(self):
            import os

            return os.system, (f"touch {tmp_path / 'ran'}",)

    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        data = io.BytesIO(pickle.dumps(Attack(), protocol=protocol))
        with pytest.raises(DataError, match="refused to unpickle '(posix|os|nt).system'"):
            NumpyOnlyUnpickler(data, "bad.pkl").load()
    assert not (tmp_path / "ran").exists()
