"""End to end: ``kedro run`` on a small configuration in a scratch copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e
MP_SAMPLE_ROWS = 3000


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's conf and embedded data in a temp folder, mp_gap cut to a sample for speed."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    shutil.copy(PROJECT_ROOT / ".telemetry", root)
    (root / "src").mkdir()  # kedro checks it exists; the package itself is installed in the venv
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    raw = root / "data" / "01_raw" / "matbench"
    raw.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "data/01_raw/matbench/expt_gap.csv", raw)
    pd.read_csv(PROJECT_ROOT / "data/01_raw/matbench/mp_gap.csv").head(MP_SAMPLE_ROWS).to_csv(
        raw / "mp_gap_sample.csv", index=False
    )
    declarations_path = root / "conf" / "base" / "parameters_datasets.yml"
    declarations = yaml.safe_load(declarations_path.read_text())
    declarations["datasets"]["mp_gap"]["source"] = {"filepath": "data/01_raw/matbench/mp_gap_sample.csv"}
    declarations_path.write_text(yaml.safe_dump(declarations, sort_keys=False))
    return root


def kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("KEDRO_ENV", None)
    kedro_cli = Path(sys.executable).parent / "kedro"
    result = subprocess.run(
        [str(kedro_cli), *args], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result


@pytest.fixture(scope="module")
def full_run(project: Path) -> Path:
    kedro(project, "run", "--env", "smoke")
    return project


def test_metrics_cover_every_split_and_model(full_run):
    metrics = json.loads((full_run / "data/08_reporting/metrics.json").read_text())
    assert list(metrics) == ["expt_gap"]
    splits = metrics["expt_gap"]
    assert set(splits) == {"matbench_cv", "leave_cluster_out", "element_holdout", "target_extrapolation"}
    transfer = yaml.safe_load((full_run / "conf/smoke/parameters_transfer.yml").read_text())["transfer"]
    for split, per_model in splits.items():
        assert {"dummy", "erm", *transfer["strategies"]} <= set(per_model), split
        for values in per_model.values():
            assert {"mae", "rmse", "r2", "worst_group_mae"} <= set(values)
            assert {"mae_seen_in_source", "mae_unseen_in_source"} <= set(values)
    robust = yaml.safe_load((full_run / "conf/smoke/parameters_robust.yml").read_text())["robust"]
    interval_keys = {
        "coverage_90",
        "width_90",
        "min_group_coverage_90",
        "nll",
        "miscalibration_area",
        "flag_auroc",
        "selective_mae_80",
        "ood_id_ratio",
    }
    for split, per_model in splits.items():
        assert {*robust["reported"], robust["cv_plus"]["key"]} <= set(per_model), split
        assert interval_keys <= set(per_model["importance_weighting"]), split
    cv = splits["matbench_cv"]
    assert {"lookup__mp_minus_test", "finetune_mlp__mp_minus_test"} <= set(cv)
    assert "lookup__mp_minus_test" not in splits["leave_cluster_out"]
    assert cv["erm"]["mae"] < cv["dummy"]["mae"]
    assert splits["target_extrapolation"]["erm"]["mae"] > cv["erm"]["mae"]  # extrapolation is harder


def test_counts_reconcile_and_outputs_exist(full_run):
    summary = json.loads((full_run / "data/08_reporting/validation/validation_summary.json").read_text())
    for dataset, counts in summary.items():
        assert counts["rows_in"] == counts["accepted"] + counts["quarantined"], dataset
    assert summary["mp_gap"]["rows_in"] == MP_SAMPLE_ROWS
    table = pd.read_parquet(full_run / "data/03_primary/materials_table.parquet")
    assert set(table["domain"]) == {"experiment", "dft"}
    assert len(table) == sum(counts["accepted"] for counts in summary.values())
    reporting = full_run / "data/08_reporting"
    assert (reporting / "evaluation/expt_gap/parity/parity_matbench_cv.png").stat().st_size > 0
    assert (reporting / "evaluation/expt_gap/group_mae.csv").exists()
    assert list((reporting / "gx_data_docs/expt_gap").rglob("index.html"))
    report = (reporting / "robustness_report.html").read_text()
    assert "leave_cluster_out" in report and "data:image/png;base64," in report
    assert (reporting / "robustness_report.md").exists() and list((reporting / "robustness").glob("*.png"))
    robust_predictions = pd.read_parquet(
        full_run / "data/07_model_output/expt_gap/robust_predictions.parquet"
    )
    assert {"prediction", "lower", "upper", "uncertain"} <= set(robust_predictions)
    audit = json.loads((reporting / "splits/expt_gap/leakage_audit.json").read_text())
    assert audit["matbench_cv_cross_fold_duplicates"] >= 0


def test_mlflow_has_a_parent_and_a_child_per_model_and_split(full_run):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{full_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("matshift/expt_gap")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    metrics = json.loads((full_run / "data/08_reporting/metrics.json").read_text())["expt_gap"]
    n_evaluated = sum(len(per_model) for per_model in metrics.values())
    pretrain = [r for r in children if r.data.tags["model"] == "pretrain"]
    assert len(parents) == 1 and len(pretrain) == 1 and len(children) == n_evaluated + 1
    strategy_run = next(
        r
        for r in children
        if r.data.tags["model"] == "lookup" and r.data.tags["split"] == "leave_cluster_out"
    )
    assert strategy_run.data.tags["pretrained_run_id"] == pretrain[0].info.run_id
    assert strategy_run.data.params["model.catboost_params.depth"] == "3"
    assert "mae_unseen_in_source" in strategy_run.data.metrics
    child = next(
        r for r in children if r.data.tags["model"] == "erm" and r.data.tags["split"] == "matbench_cv"
    )
    assert child.data.params["model.depth"] == "4" and child.data.params["split.random_state"] == "18012019"
    assert {"mae", "rmse", "r2", "worst_group_mae"} <= set(child.data.metrics)
    assert child.data.tags["git_commit"] and child.data.tags["data_hash"]
    models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    fold_models = [m for m in models if m.source_run_id == child.info.run_id]
    assert len(fold_models) == 5
    mlflow.set_tracking_uri(client.tracking_uri)
    assert mlflow.models.get_model_info(fold_models[0].model_uri).signature is not None


def test_one_dataset_runs_alone(full_run):
    result = kedro(full_run, "run", "--env", "smoke", "--pipeline", "mp_gap")
    log = result.stdout + result.stderr
    assert "mp_gap.featurize" in log and "expt_gap" not in log
