"""Recipes: composition, overrides and every kind of bad recipe as a one-line typed error."""

from __future__ import annotations

from pathlib import Path

import pytest

from genmm import recipe as recipes
from genmm.errors import RecipeError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check(recipe_path: Path, manager, overrides=()):
    resolved = recipes.resolve(recipe_path, list(overrides))
    recipes.validate(resolved, manager.registry, str(recipe_path))
    return resolved


def test_tiny_recipe_validates(tiny_recipe, manager):
    resolved = check(tiny_recipe(), manager)
    assert resolved["phases"]["gan"]["trainer"] == "core.gan"
    assert resolved["runtime"]["on_nan"] == "stop"  # core default filled in


def test_base_is_merged_first_and_relative(tmp_path, manager, tiny_recipe):
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    write(base_dir / "common.yaml", "seed: 7\ncheckpoint: {every: 3, keep: 9}\n")
    text = tiny_recipe().read_text().replace("seed: 0\n", "")
    recipe = write(tmp_path / "child.yaml", "base: base/common.yaml\n" + text)
    resolved = check(recipe, manager)
    assert resolved["seed"] == 7
    assert resolved["checkpoint"] == {"every": 5, "keep": 5}  # the child wins


def test_base_list_in_order(tmp_path):
    write(tmp_path / "a.yaml", "seed: 1\nout: a\n")
    write(tmp_path / "b.yaml", "seed: 2\n")
    recipe = write(tmp_path / "c.yaml", "base: [a.yaml, b.yaml]\n")
    loaded = recipes.load(recipe)
    assert loaded == {"seed": 2, "out": "a"}


def test_overrides_are_yaml_and_reach_phases_by_name(tiny_recipe, manager):
    resolved = check(
        tiny_recipe(),
        manager,
        [
            "phases.gan.max_steps=200",
            "seed=3",
            "models.generator.hidden=8",
            "phases.gan.optimizers={generator: {lr: 0.001}}",
        ],
    )
    assert resolved["phases"]["gan"]["max_steps"] == 200
    assert resolved["seed"] == 3
    assert resolved["models"]["generator"]["hidden"] == 8
    assert resolved["phases"]["gan"]["optimizers"]["generator"]["lr"] == 0.001


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (
            ("toy.mlp_generator", "toy.mlp_generatr"),
            [
                "models.generator.name",
                "unknown model 'toy.mlp_generatr'",
                "did you mean",
                "'toy.mlp_generator'",
            ],
        ),
        (
            ("hidden: 32, depth: 2}", "hiden: 32, depth: 2}"),
            ["models.generator.hiden", "unknown key 'hiden'", "did you mean 'hidden'"],
        ),
        (
            ("latent_dim: 4", "latent_dim: four"),
            ["models.generator.latent_dim", "expected int", "'four'"],
        ),
        (("max_steps: 10", "max_steps: -3"), ["phases.gan.max_steps", "non-negative integer"]),
        (
            ("runtime: {progress: false", "runtime: {threads: -1, progress: false"),
            ["runtime.threads", "non-negative integer", "-1"],
        ),
        (
            ("runtime: {progress: false", "runtime: {progres: false"),
            ["runtime.progres", "did you mean 'progress'"],
        ),
        (("seed: 0", "sed: 0"), ["unknown top-level key 'sed'", "did you mean 'seed'"]),
        (
            ("core.nonsaturating", "core.nonsaturatin"),
            ["losses.adversarial.name", "'core.nonsaturating'"],
        ),
        (("trainer: core.gan", "trainer: core.gna"), ["phases.gan.trainer", "'core.gan'"]),
        (("runtime: {", "trainer: {"), ["unknown top-level key 'trainer'", "use 'runtime'"]),
        (
            ("batch_size: 32", "batch_size: 32\n    optimizer: {lr: 0.1}"),
            ["phases.gan.optimizer", "renamed: use 'optimizers'"],
        ),
        (
            ("batch_size: 32", "batch_size: 32\n    max_step: 3"),
            ["phases.gan.max_step", "did you mean 'max_steps'"],
        ),
        (
            ("batch_size: 32", "batch_size: 32\n    optimizers: {generator: {lrr: 0.1}}"),
            ["phases.gan.optimizers.generator.lrr", "optimizer 'adam'", "did you mean 'lr'"],
        ),
        (
            ("batch_size: 32", "batch_size: 32\n    schedules: {generator: {name: cosin}}"),
            ["phases.gan.schedules.generator", "did you mean 'cosine'"],
        ),
        (
            ("batch_size: 32", "batch_size: 32\n    clip_grad_norm: {generator: -1}"),
            ["phases.gan.clip_grad_norm.generator", "positive number"],
        ),
        (
            ("{name: core.nonsaturating}", "{name: core.nonsaturating, every: 4}"),
            ["losses.adversarial.every", "unknown key 'every'"],
        ),
        (
            ("batch_size: 32", "batch_size: 32\n    losses: [adversarial, 3]"),
            ["phases.gan.losses[1]", "expected str"],
        ),
    ],
)
def test_bad_recipes_name_file_key_and_closest(tiny_recipe, manager, edit, fragments):
    path = tiny_recipe()
    old, new = edit
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RecipeError) as error:
        check(path, manager)
    message = str(error.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message


def test_missing_required_argument(tmp_path, manager, tiny_recipe):
    text = (
        tiny_recipe()
        .read_text()
        .replace("writer: {name: toy.scatter, size: 64}", "writer: {name: test.needs_path}")
    )
    path = write(tmp_path / "r.yaml", text)

    class NeedsPath:
        def __init__(self, path: str, size: int = 3):
            pass

    manager.registry.components["writers"]["test.needs_path"] = type(
        manager.registry.components["writers"]["toy.scatter"]
    )("test.needs_path", "writers", NeedsPath, "test")
    try:
        with pytest.raises(RecipeError, match=r"writer.path.*missing required argument 'path'"):
            check(path, manager)
    finally:
        del manager.registry.components["writers"]["test.needs_path"]


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "seed: 0\nmodels:\n  generator: {name: x\nout: y\n")
    with pytest.raises(RecipeError) as error:
        recipes.resolve(path)
    assert "malformed YAML at line" in str(error.value)
    assert str(path) in str(error.value)


def test_base_cycle(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\nseed: 1\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(RecipeError, match=r"'base:' cycle: a.yaml -> b.yaml -> a.yaml"):
        recipes.resolve(tmp_path / "a.yaml")


def test_override_of_a_missing_key(tiny_recipe):
    with pytest.raises(RecipeError) as error:
        recipes.resolve(tiny_recipe(), ["phases.gna.max_steps=3"])
    assert "no key 'gna'" in str(error.value) and "did you mean 'gan'" in str(error.value)


def test_override_inside_a_missing_mapping_says_how_to_add_it(tiny_recipe):
    with pytest.raises(RecipeError) as error:
        recipes.resolve(tiny_recipe(), ["phases.gan.schedules.generator.name=cosine"])
    assert "no key 'schedules'" in str(error.value)
    assert "phases.gan.schedules={generator: {name: cosine}}" in str(error.value)
    added = recipes.resolve(tiny_recipe(), ["phases.gan.schedules={generator: {name: cosine}}"])
    assert added["phases"]["gan"]["schedules"] == {"generator": {"name": "cosine"}}
    with pytest.raises(RecipeError) as error:  # top-level keys are fixed: no hint to add one
        recipes.resolve(tiny_recipe(), ["modles.generator.hidden=8"])
    assert "did you mean 'models'" in str(error.value) and "give it whole" not in str(error.value)


def test_override_without_equals(tiny_recipe):
    with pytest.raises(RecipeError, match="key.path=value"):
        recipes.resolve(tiny_recipe(), ["phases.gan.max_steps"])


def test_recipe_must_be_a_mapping(tmp_path):
    with pytest.raises(RecipeError, match="expected a mapping at the top"):
        recipes.resolve(write(tmp_path / "list.yaml", "- a\n- b\n"))


def test_missing_file():
    with pytest.raises(RecipeError, match="recipe file not found"):
        recipes.resolve("does/not/exist.yaml")


def test_yaml_is_safe_loaded(tmp_path):
    path = write(tmp_path / "evil.yaml", "seed: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(RecipeError, match="malformed YAML"):
        recipes.resolve(path)


def test_every_shipped_recipe_validates(manager):
    root = Path(__file__).resolve().parents[2] / "recipes"
    shipped = sorted(root.glob("*.yaml"))
    assert shipped
    for path in shipped:
        check(path, manager)


def test_every_shipped_recipe_is_in_the_readme_table():
    root = Path(__file__).resolve().parents[2]
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in (root / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    shipped = {path.stem for path in (root / "recipes").glob("*.yaml")}
    assert shipped == rows


def test_dry_run_prints_resolved_recipe(cli, tiny_recipe):
    result = cli("run", str(tiny_recipe()), "seed=5", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "seed: 5" in result.stdout and "on_nan: stop" in result.stdout


def test_cli_error_is_one_line_without_traceback(cli, tiny_recipe):
    result = cli("run", str(tiny_recipe()), "models.generator.hiden=3")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "did you mean 'hidden'" in lines[0]
    debug = cli("run", str(tiny_recipe()), "models.generator.hiden=3", "--debug")
    assert "Traceback" in debug.stderr
