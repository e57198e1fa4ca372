"""Log one Kedro run to MLflow: an experiment per dataset, a parent run per ``kedro run`` and a
child run per (model, split) with hyper-parameters, split, data hash, git commit, metrics, plots and
the fitted fold models with signatures."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from matshift.featurizers.process import sample_design_matrix

DEFAULT_TRACKING_DB = "mlflow.db"
EXPERIMENT_PREFIX = "matshift"


def tracking_uri(project_path: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the sqlite store ``mlflow.db`` at the project root."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(project_path / DEFAULT_TRACKING_DB).resolve()}"
    )


def git_commit(project_path: Path) -> str:
    """The commit the code ran at, with ``-dirty`` when the tree has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=project_path, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def data_hash(table: pd.DataFrame) -> str:
    """Content hash of a table, independent of how it is stored."""
    row_hashes = pd.util.hash_pandas_object(table, index=False).to_numpy()
    return hashlib.sha256(row_hashes.tobytes()).hexdigest()[:16]


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` for MLflow params (values as short strings)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]
    return flat


def log_dataset_run(
    *,
    dataset: str,
    run_name: str,
    run_tags: Mapping[str, str],
    declaration: Mapping[str, Any],
    split_params: Mapping[str, Any],
    model_params: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, Mapping[str, float]]],
    models: Mapping[str, Any],
    features: pd.DataFrame,
    materials_table: pd.DataFrame,
    artifact_dirs: Iterable[Path],
    artifact_files: Iterable[Path] = (),
    source_models: Mapping[str, Mapping[Any, Any]] | None = None,
    source_params: Mapping[str, Any] | None = None,
) -> str:
    """Log a dataset's results; returns the parent run id.

    With ``source_models`` (transfer learning), a ``pretrain`` child run holds the source backbones
    trained on every source entry, and every child run carries its id as ``pretrained_run_id``.
    """
    import mlflow
    from mlflow.models import infer_signature

    mlflow.set_experiment(f"{EXPERIMENT_PREFIX}/{dataset}")
    tags = {**run_tags, "dataset": dataset, "data_hash": data_hash(materials_table)}
    # features are per composition (band gaps) or per sample (case studies, which log no fold models)
    key = "composition" if features.index.name != "sample_id" else "sample_id"
    example = (
        sample_design_matrix(materials_table.head(5), features)  # + declared process columns
        if key == "composition"
        else features.loc[materials_table[key].iloc[:5]]
    ).reset_index(drop=True)
    with mlflow.start_run(run_name=run_name, tags=tags) as parent:
        mlflow.log_params(flatten({"dataset": declaration}))
        for directory in artifact_dirs:
            if directory.exists():
                mlflow.log_artifacts(str(directory), artifact_path=directory.name)
        for path in artifact_files:
            if path.exists():
                mlflow.log_artifact(str(path), artifact_path="reports")
        if source_models:
            tags["pretrained_run_id"] = _log_pretrained(source_models, source_params or {}, tags)
        for split, per_model in metrics.items():
            for model_name, values in per_model.items():
                with mlflow.start_run(
                    run_name=f"{model_name} · {split}",
                    nested=True,
                    tags={**tags, "model": model_name, "split": split},
                ):
                    mlflow.log_params(
                        {
                            "model": model_name,
                            "split": split,
                            # a source variant (``lookup__mp_minus_test``) has its strategy's parameters
                            **flatten(model_params.get(model_name.split("__")[0]) or {}, "model."),
                            **flatten(split_params.get(split) or {}, "split."),
                        }
                    )
                    mlflow.log_metrics({k: float(v) for k, v in values.items() if _is_number(v)})
                    mlflow.log_dict({split: {model_name: dict(values)}}, "metrics.json")
                    for key, model in models.items():
                        model_split, fold, name = key.split("/")
                        if model_split == split and name == model_name:
                            signature = infer_signature(example, model.predict(example))
                            _log_model(model, f"fold_{fold}", signature)
    return parent.info.run_id


def _log_pretrained(
    source_models: Mapping[str, Mapping[Any, Any]], source_params: Mapping[str, Any], tags: Mapping[str, str]
) -> str:
    """A nested ``pretrain`` run with each source backbone trained on every source entry."""
    import tempfile

    import mlflow

    with mlflow.start_run(
        run_name="pretrain · source", nested=True, tags={**tags, "model": "pretrain"}
    ) as run:
        mlflow.log_params(flatten(source_params, "source."))
        for backbone, models in source_models.items():
            model = models["all"]
            if type(model).__module__.startswith("catboost"):
                _log_model(model, f"source_{backbone}", None)
            else:  # the PyTorch MLP backbone, in its own weights-only format (MLPRegressor.load reads it)
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / f"source_{backbone}.pt"
                    model.save(path)
                    mlflow.log_artifact(str(path), artifact_path="source_models")
    return run.info.run_id


def _log_model(model: Any, name: str, signature: Any) -> None:
    import mlflow

    if type(model).__module__.startswith("catboost"):
        import catboost

        mlflow.catboost.log_model(
            model, name=name, signature=signature, pip_requirements=[f"catboost=={catboost.__version__}"]
        )
    else:
        import sklearn

        mlflow.sklearn.log_model(
            model, name=name, signature=signature, pip_requirements=[f"scikit-learn=={sklearn.__version__}"]
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and value == value  # NaN is not a metric value


def log_monitoring_runs(
    dataset: str, summary: Mapping[str, Any], reports: Mapping[str, str], tags: Mapping[str, str]
) -> list[str]:
    """One run per plant batch in experiment ``matshift/<dataset>/monitoring``: counts, drift, report.

    Parameters and metrics go in one batched call per run: each call is several transactions of the
    sqlite store, each waiting for the disk."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from mlflow.utils.time import get_current_time_millis

    mlflow.set_experiment(f"{EXPERIMENT_PREFIX}/{dataset}/monitoring")
    client = MlflowClient()
    champion = summary["champion"]
    run_ids = []
    for batch, entry in summary["batches"].items():
        if "not_rescored" in entry:  # its evaluation was logged by the run that first scored it
            continue
        drift = entry["drift"]
        run_tags = {
            **tags,
            "dataset": dataset,
            "batch": batch,
            "sha256": entry["sha256"],
            "champion": champion["model"],
            "shift": ",".join(drift["kinds"]) or "none",
        }
        with mlflow.start_run(run_name=f"batch {batch}", tags=run_tags) as run:
            params = {"batch": batch, "champion": champion["model"], "champion_rule_split": champion["split"]}
            values = {
                "rows_in": entry["rows_in"],
                "scored": entry["scored"],
                "quarantined": entry["quarantined"],
                "domain_auc": drift["auc"],
                "domain_p_value": drift["p_value"],
                "uncertain_fraction": entry["uncertain_fraction"],
                **{k: entry[k] for k in ("labelled_mae", "labelled_coverage_90") if k in entry},
                "reference_suite_failed": len(entry["reference_suite"]["failed"])
                if "reference_suite" in entry
                else None,
                # the challenger's decision numbers, both models (monitoring.challenger)
                **{
                    f"challenger.{k}": v
                    for k, v in (entry.get("challenger") or {}).items()
                    if k.endswith("_mae") or k in ("promote", "eligible", "in_distribution_mae_limit")
                },
            }
            now = get_current_time_millis()  # as mlflow.log_metrics stamps them (step 0)
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in values.items() if _is_number(v)],
                params=[Param(k, str(v)) for k, v in params.items()],
            )
            mlflow.log_dict(entry, "summary.json")
            if batch in reports:
                mlflow.log_text(reports[batch], f"report/{batch}.html")
            run_ids.append(run.info.run_id)
    return run_ids


def register_champion(
    dataset: str,
    model_path: Path,
    choice: Mapping[str, Any],
    tags: Mapping[str, str],
    alias: str = "champion",
    registry_uri: str | None = None,
) -> str:
    """Log the champion artefact as an MLflow pyfunc model (experiment ``matshift/<dataset>/champion``),
    register it as a new version of ``matshift-<dataset>`` and point ``alias`` at it. Returns the version.

    ``registry_uri``: the store to register in (the project's own sqlite registry, which is the only
    one the champion is loaded from); default: the current tracking URI."""
    import mlflow
    from mlflow import MlflowClient

    from matshift.io.champion_dataset import registered_model_name
    from matshift.tracking.champion_pyfunc import ChampionPyfunc

    previous = mlflow.get_tracking_uri()
    if registry_uri:
        mlflow.set_tracking_uri(registry_uri)
    try:
        name = registered_model_name(dataset)
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
        mlflow.set_experiment(f"{EXPERIMENT_PREFIX}/{dataset}/champion")
        run_tags = {**tags, "model": choice["model"], "champion_sha256": digest}
        with mlflow.start_run(run_name=f"champion · {choice['model']}", tags=run_tags):
            mlflow.log_params(flatten({"champion": {k: v for k, v in choice.items() if k != "artefact"}}))
            info = mlflow.pyfunc.log_model(
                name="champion",
                python_model=ChampionPyfunc(),
                artifacts={"champion": str(model_path)},
                pip_requirements=[],  # the matshift environment (requirements.lock) is the one to load it in
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
        client = MlflowClient()
        client.set_registered_model_alias(name, alias, version)
        client.set_model_version_tag(name, version, "champion_sha256", digest)
        client.set_model_version_tag(name, version, "model", choice["model"])
    finally:
        mlflow.set_tracking_uri(previous)
    return version
