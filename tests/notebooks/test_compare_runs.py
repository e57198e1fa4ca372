"""The comparison notebook runs top to bottom against an MLflow store shaped like a kedro run's."""

import mlflow
import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT


@pytest.fixture
def tracking_uri(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("matshift/demo")
    for run_number in range(2):
        parent = client.create_run(experiment, run_name=f"kedro run {run_number}")
        for split in ("matbench_cv", "leave_cluster_out"):
            for model, mae in (("erm", 0.4), ("dann", 0.5)):
                child = client.create_run(
                    experiment,
                    tags={"mlflow.parentRunId": parent.info.run_id, "split": split, "model": model},
                )
                client.log_metric(child.info.run_id, "mae", mae + 0.1 * run_number)
                client.set_terminated(child.info.run_id)
        client.set_terminated(parent.info.run_id)
    return uri


def test_compare_runs_notebook_executes(tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MATSHIFT_EXPERIMENT", "matshift/demo")
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "compare_runs.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}},
    ).execute()
    outputs = "".join(
        str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "10 runs in matshift/demo" in outputs  # 2 parents + 2 x 4 children
    assert "dann" in outputs and "leave_cluster_out" in outputs
