"""genmm_mlflow: MLflow tracking for genmm runs, built only on genmm's lifecycle hooks."""
