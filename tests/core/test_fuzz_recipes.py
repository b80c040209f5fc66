"""Property-based fuzzing of the recipe loader, the ``base:`` merger, overrides and validation.

The guarantee (docs/recipes.md): any recipe text, any ``base:`` chain, any override gives a
valid recipe or a :class:`~genmm.errors.GenmmError` naming the file and key — never another
exception and never a hang. Each example runs under a wall-clock alarm as well as hypothesis's
deadline, so a hang fails the test instead of stalling the suite. The regression tests at the
end are the bugs this fuzzing found, one example each.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genmm import recipe as recipes
from genmm.errors import GenmmError, RecipeError
from genmm.plugins import get_manager

ROOT = Path(__file__).resolve().parents[2]
#: a few shipped recipes of different shapes to mutate (YAML only: nothing is built)
SEEDS = ["toy_ring", "toy_grid", "dcgan_digits", "seqgan_oracle", "speech"]

FUZZ = settings(
    deadline=2000,  # ms per example: a loaded 2-core machine, yet far from a hang
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,  # no .hypothesis folder in the repository
    derandomize=True,  # the same examples every run: a failure reproduces
)
#: seconds one example may take before it counts as a hang
HANG = 10


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


@contextlib.contextmanager
def no_hang(seconds: int = HANG):
    """Fail with TimeoutError when the block runs longer than ``seconds`` (SIGALRM)."""

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"hung for more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def registry():
    return get_manager().registry


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict[str, Any]]:
    """A few shipped recipes, resolved (bases merged, defaults filled)."""
    return {name: recipes.resolve(ROOT / "recipes" / f"{name}.yaml") for name in SEEDS}


# ---------------------------------------------------------------------------- strategies
#: characters that make YAML interesting: indicators, quotes, tags, anchors, line breaks
YAML_ALPHABET = string.ascii_letters[:8] + string.digits[:4] + " \t\n-:?,[]{}&*!|>'\"%@`#~.=_\\"
yaml_text = st.text(alphabet=YAML_ALPHABET, max_size=120) | st.text(max_size=60)
#: scalars of every type YAML text can hold
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["core.gan", "toy.ring", "adam", "cosine", "~", "1e-3", "os.system"])
)
keys = st.text(string.ascii_lowercase + "_.", min_size=1, max_size=8) | st.sampled_from(
    [*recipes.TOP_LEVEL, *recipes.PHASE_KEYS, "name", "lr", "trainer", "n_critc", "optimizer"]
)
#: plain YAML data; mapping keys are mostly strings, sometimes numbers, booleans or null
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(keys | st.integers(-3, 3) | st.booleans() | st.none(), inner, max_size=4)
    ),
    max_leaves=12,
)
mappings = st.dictionaries(keys, values, max_size=5)


def yaml_of(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=None, allow_unicode=True, sort_keys=False)


def load_or_error(path: Path) -> dict[str, Any] | None:
    """``recipes.load(path)``, or None after checking the error is typed and names the file."""
    try:
        with no_hang():
            loaded = recipes.load(path)
    except RecipeError as error:
        assert error.file, error
        return None
    assert isinstance(loaded, dict)
    return loaded


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    """The key paths of every mapping inside ``node`` (the places a mutation can reach)."""
    found = [prefix] if isinstance(node, dict) else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    return found


def at(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


# ------------------------------------------------------------------------------ the loader
@fuzz(150)
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_fail_typed(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "recipe.yaml"
    path.write_bytes(data)
    load_or_error(path)


@fuzz(250)
@given(text=yaml_text)
def test_any_text_loads_or_fails_typed(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("text") / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_or_error(path)
    if loaded is not None:
        recipes.dump(loaded)  # what a run writes as its recipe.yaml


@fuzz(150)
@given(document=mappings, text=yaml_text)
def test_any_yaml_document_loads_back(tmp_path_factory, document, text):
    """A YAML mapping loads to the mapping it is (no base, nothing lost); with random text
    spliced in, it loads or fails typed."""
    folder = tmp_path_factory.mktemp("doc")
    document.pop("base", None)
    (folder / "plain.yaml").write_text(yaml_of(document), encoding="utf-8")
    assert load_or_error(folder / "plain.yaml") == recipes.parse(yaml_of(document))
    lines = yaml_of(document).splitlines() or [""]
    where = len(text) % len(lines)
    (folder / "spliced.yaml").write_text("\n".join([*lines[:where], text, *lines[where:]]))
    load_or_error(folder / "spliced.yaml")


#: what one file's ``base:`` may name: another file of the chain (by index, also through
#: '../'), a missing file, a folder, a shared base, or junk
base_names = st.one_of(
    st.integers(0, 3),
    st.sampled_from(["missing.yaml", ".", "", "sub", "base/adversarial.yaml", "x\x00y"]),
    st.sampled_from([None, 3, [1], {"a": 1}]),
    st.text(max_size=10),
)


@fuzz(100)
@given(
    chain=st.lists(
        st.tuples(st.lists(base_names, max_size=3), st.booleans(), mappings),
        min_size=1,
        max_size=4,
    )
)
def test_base_chains_with_cycles_and_missing_files(tmp_path_factory, chain):
    """Files ``r0.yaml`` .. ``rN.yaml`` naming each other (cycles included), missing files and
    junk as bases: the chain loads, or fails typed; a chain of well-formed files naming only
    each other fails exactly when it has a cycle reachable from the first."""
    folder = tmp_path_factory.mktemp("chain")
    (folder / "sub").mkdir()
    graph: dict[int, list[int]] = {}
    clean = True
    for index, (bases, dotted, content) in enumerate(chain):
        named = []
        for base in bases:
            if isinstance(base, int):
                base = base % len(chain)
                graph.setdefault(index, []).append(base)
                named.append(f"../{folder.name}/r{base}.yaml" if dotted else f"r{base}.yaml")
            else:
                clean = False
                named.append(base)
        content = {k: v for k, v in content.items() if k != "base"}
        text = yaml_of({"base": named, **content}) if named else yaml_of(content)
        (folder / f"r{index}.yaml").write_text(text, encoding="utf-8")
    loaded = load_or_error(folder / "r0.yaml")
    if clean:
        assert (loaded is None) == has_cycle(graph, 0), (graph, loaded)


def has_cycle(graph: dict[int, list[int]], start: int) -> bool:
    def visit(node: int, stack: tuple[int, ...]) -> bool:
        if node in stack:
            return True
        return any(visit(child, (*stack, node)) for child in graph.get(node, []))

    return visit(start, ())


# ------------------------------------------------------------------------------ the merger
@fuzz(150)
@given(base=mappings, over=mappings)
def test_merge(base, over):
    """Never raises, never changes its inputs; keys only the base has are kept, a scalar or
    list the recipe gives wins, and merging with nothing gives the same mapping."""
    before = copy.deepcopy((base, over))
    merged = recipes.merge(base, over)
    assert (base, over) == before
    for key, value in base.items():
        if key not in over:
            assert merged[key] == value
    for key, value in over.items():
        if value is not None and not isinstance(value, dict):
            assert merged[key] == value
        if isinstance(value, dict) and not isinstance(base.get(key), dict):
            assert merged[key] == value
    assert recipes.merge(base, {}) == base and recipes.merge({}, over) == over
    scramble(merged)  # the result shares nothing with the inputs
    assert (base, over) == before


def scramble(node: Any) -> None:
    """Empty every mapping and list inside ``node``."""
    children = list(node.values()) if isinstance(node, dict) else node
    if isinstance(node, (dict, list)):
        for child in children:
            scramble(child)
        node.clear()


# ---------------------------------------------------------------------------- overrides
@fuzz(250)
@given(text=st.text(max_size=40) | st.builds("{}={}".format, keys, yaml_text))
def test_parse_override(text):
    try:
        with no_hang():
            parts, _ = recipes.parse_override(text)
    except RecipeError as error:
        assert isinstance(error.key, str)
        return
    assert parts and all(parts) and "=" in text


#: a value written as an override: YAML flow text of plain data, or raw text
override_values = values.map(
    lambda v: yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix("...")
) | yaml_text.map(lambda t: t.replace("\n", " "))


@fuzz(250)
@given(data=st.data(), which=st.sampled_from(SEEDS))
def test_overrides_then_validation(shipped, registry, data, which):
    """Overrides of random key paths (existing or not) with random values, then validation:
    a valid recipe or a RecipeError naming the file and the key."""
    recipe = shipped[which]
    overrides = []
    for _ in range(data.draw(st.integers(1, 3), label="count")):
        path = list(data.draw(st.sampled_from(paths_of(recipe)), label="path"))
        path = [str(part) for part in path]
        path.append(data.draw(st.sampled_from(list(at(recipe, tuple(path))) or ["x"]) | keys))
        overrides.append(".".join(path) + "=" + data.draw(override_values, label="value"))
    check_resolved(registry, overrides, lambda: recipes.apply_overrides(recipe, overrides, "r.y"))


def check_resolved(registry: Any, label: Any, make: Any) -> None:
    """``make()`` then validate: a valid recipe (which ``--dry-run`` can then print) or a
    typed error naming the file and key."""
    try:
        with no_hang():
            resolved = make()
            recipes.validate(resolved, registry, "r.yaml")
    except RecipeError as error:
        assert error.file in ("r.yaml", "r.y") and error.key, (label, error)
        return
    except GenmmError as error:  # any other typed error is allowed, never an untyped one
        assert str(error), label
        return
    recipes.dump(recipes.with_defaults(resolved, registry))


# ----------------------------------------------------------------------------- validation
@fuzz(300)
@given(data=st.data(), which=st.sampled_from(SEEDS))
def test_validate_mutated_recipes(shipped, registry, data, which):
    """A shipped recipe with keys set, added or deleted at random places, checked against
    the real registry."""
    recipe = copy.deepcopy(shipped[which])
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        path = data.draw(st.sampled_from(paths_of(recipe)), label="path")
        node = at(recipe, path)
        existing = list(node)
        key = data.draw(st.sampled_from(existing) | keys if existing else keys, label="key")
        if existing and data.draw(st.booleans(), label="delete"):
            node.pop(key, None)
        else:
            node[key] = data.draw(values, label="value")
    check_resolved(registry, recipe, lambda: recipe)


@fuzz(100)
@given(recipe=st.dictionaries(keys | st.integers(), values, max_size=8))
def test_validate_any_mapping(registry, recipe):
    check_resolved(registry, recipe, lambda: recipes.merge(recipes.DEFAULTS, recipe))


# ---------------------------------------------------------- regressions found by the fuzzing
@pytest.mark.parametrize(
    "text, problem",
    [
        ("a: " + "[" * 3000 + "]" * 3000, "nested deeper than"),  # was RecursionError
        ("a: " + "[" * 100 + "]" * 100, "nested deeper than"),  # parsed, then too deep to merge
        ("a: &x [*x]", "holds itself"),  # was RecursionError in merge and validation
        ("seed: 2020-13-45", "month must be in 1..12"),  # was ValueError
        ("seed: !!int abc", "cannot read the value 'abc'"),  # was ValueError
        ("seed: !!bool maybe", "cannot read the value 'maybe'"),  # was KeyError
        ("seed: !!timestamp x", "cannot read the value 'x'"),  # was AttributeError
        ("seed: " + "1" * 5000, "cannot read the value"),  # was ValueError (int digits limit)
        ("seed: 0x" + "f" * 2000, "more than 1000 bits"),  # parsed, but could not be printed
    ],
)
def test_malformed_values_name_the_file_and_line(tmp_path, text, problem):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError, match=problem) as caught:
        recipes.load(path)
    assert caught.value.file == str(path)


def test_recursive_alias_across_a_base(tmp_path):
    (tmp_path / "b.yaml").write_text("a: &y {b: *y}\n")
    (tmp_path / "r.yaml").write_text("base: b.yaml\na: &x {b: *x}\n")
    with pytest.raises(RecipeError, match="holds itself"):
        recipes.load(tmp_path / "r.yaml")


@pytest.mark.parametrize(
    "base, problem",
    [
        ('"a\\0b"', "embedded null byte"),  # was ValueError
        ("a" * 5000, "File name too long"),  # was OSError from Path.exists
        ("sub", "not a regular file"),
        ("/dev/zero", "not a regular file"),  # would have read forever
    ],
)
def test_bad_base_names(tmp_path, base, problem):
    (tmp_path / "sub").mkdir()
    (tmp_path / "r.yaml").write_text(f"base: {base}\n")
    with pytest.raises(RecipeError, match=problem):
        recipes.load(tmp_path / "r.yaml")


def test_base_cycle_through_dot_dot(tmp_path):
    """``base: ../<folder>/r.yaml`` is the same file: a cycle, not a RecursionError."""
    (tmp_path / "r.yaml").write_text(f"base: ../{tmp_path.name}/r.yaml\n")
    with pytest.raises(RecipeError, match="'base:' cycle"):
        recipes.load(tmp_path / "r.yaml")


def test_long_base_chain(tmp_path):
    for index in range(40):
        (tmp_path / f"r{index}.yaml").write_text(f"base: r{index + 1}.yaml\n")
    (tmp_path / "r40.yaml").write_text("seed: 1\n")
    with pytest.raises(RecipeError, match="chain longer than 32"):
        recipes.load(tmp_path / "r0.yaml")
    assert recipes.load(tmp_path / "r20.yaml") == {"seed": 1}


@pytest.mark.parametrize(
    "edit, key",
    [
        ({1: 2}, "1"),  # was TypeError in the did-you-mean
        ({"runtime": {3: 1}}, "runtime.3"),
        ({"data": {"name": [1]}}, "data.name"),  # was TypeError: unhashable
        ({"data": {"name": 1}}, "data.name"),
        ({"writer": {"name": None}}, "writer.name"),
        ({"phases": {"gan": {"trainer": [1]}}}, "phases.gan.trainer"),
        ({"phases": {"gan": {3: 1}}}, "phases.gan.3"),
        ({"phases": {"gan": {"optimizers": {"generator": {3: 1}}}}}, "phases.gan.optimizers"),
        (
            {"phases": {"gan": {"optimizers": {"generator": {"name": [1]}}}}},
            "phases.gan.optimizers.generator.name",
        ),
        ({"models": {None: {"name": "toy.mlp_generator"}}}, "models.None"),
    ],
)
def test_keys_and_names_that_are_not_strings(shipped, registry, edit, key):
    with pytest.raises(RecipeError) as caught:
        recipes.validate(recipes.merge(shipped["toy_ring"], edit), registry, "r.yaml")
    assert caught.value.key.startswith(key) and caught.value.file == "r.yaml"


def test_deep_or_recursive_override_values():
    with pytest.raises(RecipeError, match="holds itself"):
        recipes.parse_override("seed=&x [*x]")
    parts, value = recipes.parse_override("seed=" + "[" * 3000)  # not YAML: kept as text
    assert parts == ["seed"] and isinstance(value, str)
