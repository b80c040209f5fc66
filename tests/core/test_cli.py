"""CLI commands not covered elsewhere: new-plugin, bench, generate and eval on the toy run."""

from __future__ import annotations

import json

from PIL import Image


def test_new_plugin_writes_a_working_package(cli, tmp_path):
    made = cli("new-plugin", "blobby", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    package = tmp_path / "genmm-blobby"
    for part in (
        "pyproject.toml",
        "README.md",
        "recipe.yaml",
        "genmm_blobby/plugin.py",
        "tests/test_blobby.py",
    ):
        assert (package / part).is_file(), part
    assert 'blobby = "genmm_blobby.plugin"' in (package / "pyproject.toml").read_text()
    run = cli(
        "run",
        str(package / "recipe.yaml"),
        "--plugin",
        str(package / "genmm_blobby" / "plugin.py"),
        "--out",
        str(tmp_path / "run"),
        "--max-steps",
        "5",
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()
    again = cli("new-plugin", "blobby", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = cli("new-plugin", "Bad-Name", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "lower-case" in bad.stderr


def test_bench_prints_one_json_line(cli, tiny_recipe):
    result = cli("bench", str(tiny_recipe()), "--steps", "5", "--warmup", "1", "--repeats", "2")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["steps"] == 5 and figures["batch_size"] == 32 and figures["repeats"] == 2
    assert figures["steps_per_s"] > 0 and figures["peak_memory_mb"] > 0
    assert isinstance(figures["overhead_percent"], float)
    low, high = figures["overhead_percent_range"]  # each repeat's own overhead
    assert low <= high


def test_generate_and_eval_from_a_run(cli, tiny_recipe, tmp_path):
    path = tiny_recipe(steps=6, every=3)
    assert cli("run", str(path), "samples.every=3", "eval.every=3").returncode == 0
    run = tmp_path / "run"
    assert Image.open(run / "samples" / "step-000006.png").size == (64, 64)
    out = tmp_path / "points.png"
    made = cli("generate", str(run), "--n", "7", "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert Image.open(out).size == (64, 64)
    assert len(out.with_suffix(".txt").read_text().splitlines()) == 7
    same = cli("generate", str(run), "--n", "7", "-o", str(tmp_path / "again.png"))
    assert same.returncode == 0
    assert (tmp_path / "again.txt").read_text() == out.with_suffix(".txt").read_text()
    unknown = cli("generate", str(run), "--labl", "3")
    assert unknown.returncode == 2 and "unknown key 'labl'" in unknown.stderr
    evaluated = cli("eval", str(run / "checkpoints" / "step-000003"))
    assert evaluated.returncode == 0, evaluated.stderr
    record = json.loads(evaluated.stdout)
    assert record["step"] == 3 and set(record) >= {"modes", "high_quality", "checkpoint"}
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["eval"] for x in logged if x.get("step") == 3 and "eval" in x][0] == {
        k: record[k] for k in ("modes", "high_quality")
    }


def test_resume_through_the_cli(cli, tiny_recipe, tmp_path):
    path = tiny_recipe(steps=6, every=3)
    assert cli("run", str(path), "--max-steps", "3").returncode == 0
    resumed = cli("run", "--resume", str(tmp_path / "run"))
    assert resumed.returncode == 0, resumed.stderr
    assert "done: 6 steps" in resumed.stdout


def test_generate_options_read_the_same_with_or_without_equals() -> None:
    from genmm.cli import parse_extra

    spaced = parse_extra(["--text", "good-morning: all", "--top-k", "40", "--mix", "--t", "0.5"])
    joined = parse_extra(["--text=good-morning: all", "--top-k=40", "--mix", "--t=0.5"])
    assert spaced == joined == {"text": "good-morning: all", "top_k": 40, "mix": True, "t": 0.5}
    assert parse_extra(["--text=a: b: c", "--list=[1, 2]"]) == {"text": "a: b: c", "list": "[1, 2]"}
