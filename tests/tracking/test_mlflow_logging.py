"""Monitoring runs in MLflow: one run per scored plant batch, with its counts, drift, summary and report."""

import mlflow
from mlflow import MlflowClient

from matshift.tracking.mlflow_logging import log_monitoring_runs


def entry(batch: str, **extra) -> dict:
    return {
        "rows_in": 4,
        "scored": 3,
        "quarantined": 1,
        "sha256": f"sha-{batch}",
        "uncertain_fraction": 0.25,
        "drift": {"kinds": ["covariate"], "auc": 0.8, "p_value": 0.02},
        "reference_suite": {"failed": [{"column": "a"}]},
        **extra,
    }


def test_one_run_per_scored_batch_with_its_numbers_summary_and_report(tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    request.addfinalizer(lambda: mlflow.set_tracking_uri(previous))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    summary = {
        "champion": {"model": "catboost_uncertainty", "split": "leave_cluster_out"},
        "batches": {
            "clean": entry("clean", labelled_mae=0.3, challenger={"promote": False, "plant_mae": 0.4}),
            "promoted": {"not_rescored": "kept", "sha256": "sha-promoted"},
        },
    }
    run_ids = log_monitoring_runs("demo", summary, {"clean": "<html>clean</html>"}, {"git_commit": "abc"})
    client = MlflowClient()
    assert len(run_ids) == 1
    run = client.get_run(run_ids[0])
    assert run.info.status == "FINISHED" and run.info.run_name == "batch clean"
    assert {k: run.data.tags[k] for k in ("batch", "sha256", "shift", "git_commit", "dataset")} == {
        "batch": "clean",
        "sha256": "sha-clean",
        "shift": "covariate",
        "git_commit": "abc",
        "dataset": "demo",
    }
    assert run.data.params == {
        "batch": "clean",
        "champion": "catboost_uncertainty",
        "champion_rule_split": "leave_cluster_out",
    }
    assert run.data.metrics == {
        "rows_in": 4.0,
        "scored": 3.0,
        "quarantined": 1.0,
        "domain_auc": 0.8,
        "domain_p_value": 0.02,
        "uncertain_fraction": 0.25,
        "labelled_mae": 0.3,
        "reference_suite_failed": 1.0,
        "challenger.promote": 0.0,
        "challenger.plant_mae": 0.4,
    }
    folder = tmp_path / "downloaded"
    client.download_artifacts(run_ids[0], "", str(folder))
    assert (folder / "report" / "clean.html").read_text() == "<html>clean</html>"
    assert '"sha256": "sha-clean"' in (folder / "summary.json").read_text()
