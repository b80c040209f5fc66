"""The MLflow plugin against a local file store, through the real CLI: params, per-step and
eval metrics, checkpoints and samples as artifacts, one MLflow run continued by --resume."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow", reason="the [mlflow] extra is not installed")

from mlflow.tracking import MlflowClient  # noqa: E402

from genmm_mlflow.plugin import RUN_ID_FILE, flatten  # noqa: E402


def test_flatten_makes_dotted_string_params():
    tree = {"models": {"generator": {"name": "toy.mlp", "hidden": 32}}, "eval": {"metrics": []}}
    assert flatten(tree) == {
        "models.generator.name": "toy.mlp",
        "models.generator.hidden": "32",
        "eval.metrics": "[]",
    }


def test_a_run_and_its_resume_are_one_mlflow_run(cli, tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it behind a flag
    store = f"file://{tmp_path / 'mlruns'}"
    env = {"MLFLOW_TRACKING_URI": store, "MLFLOW_ALLOW_FILE_STORE": "true"}
    env["MLFLOW_EXPERIMENT_NAME"] = "genmm-test"
    recipe = tiny_recipe(steps=6, every=2)
    out = tmp_path / "run"
    common = ["eval.every=2", "samples.every=2", "runtime.log_every=1"]
    first = cli("run", str(recipe), "--out", str(out), "--max-steps", "4", *common, env=env)
    assert first.returncode == 0, first.stderr
    run_id = (out / RUN_ID_FILE).read_text().strip()
    again = cli("run", "--resume", str(out), *common, env=env)
    assert again.returncode == 0, again.stderr
    assert (out / RUN_ID_FILE).read_text().strip() == run_id  # the same MLflow run continued

    client = MlflowClient(tracking_uri=store)
    (experiment,) = [e for e in client.search_experiments() if e.name == "genmm-test"]
    (only,) = client.search_runs([experiment.experiment_id])
    assert only.info.run_id == run_id and only.info.status == "FINISHED"
    params = only.data.params
    assert params["models.generator.name"] == "toy.mlp_generator"
    assert params["phases.gan.batch_size"] == "32" and params["checkpoint.every"] == "2"
    d_loss = client.get_metric_history(run_id, "d_loss")
    assert [m.step for m in d_loss] == [1, 2, 3, 4, 5, 6]  # every step of both processes
    lines = [line for line in (out / "metrics.jsonl").read_text().splitlines() if "d_loss" in line]
    assert len(lines) == 6
    modes = client.get_metric_history(run_id, "eval/modes")
    assert sorted(m.step for m in modes) == [2, 4, 6]
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"checkpoints", "samples", "recipe"} <= artifacts
    saved = {a.path for a in client.list_artifacts(run_id, "checkpoints")}
    assert {
        "checkpoints/step-000002",
        "checkpoints/step-000004",
        "checkpoints/step-000006",
    } <= saved
    files = {
        a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(run_id, "checkpoints/step-000006")
    }
    assert {"model.safetensors", "state.pt", "meta.json"} <= files
    samples = {a.path for a in client.list_artifacts(run_id, "samples")}
    assert "samples/step-000006" in samples or any("000006" in path for path in samples)


def test_without_a_tracking_uri_nothing_is_logged(cli, tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "run"
    done = cli("run", str(tiny_recipe(steps=2, every=2)), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (out / RUN_ID_FILE).exists() and not (tmp_path / "mlruns").exists()
