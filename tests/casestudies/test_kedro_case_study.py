"""End to end: ``kedro run --pipeline hea_hardness --env smoke`` in a scratch project reading the mirror."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PROJECT_ROOT, SHARED_DATASETS

pytestmark = pytest.mark.e2e
MPEA = SHARED_DATASETS / "mpea_borg2020" / "MPEA_dataset.csv"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The project's conf in a temp folder (the smoke environment keeps the run under a minute)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root)
    shutil.copy(PROJECT_ROOT / ".telemetry", root)
    (root / "src").mkdir()
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    return root


def kedro(project: Path, *args: str, mirror: Path | None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "COLUMNS": "1000",
    }
    env.pop("KEDRO_ENV", None)
    env.pop("MATSHIFT_DATA_MIRROR", None)
    if mirror is not None:
        env["MATSHIFT_DATA_MIRROR"] = str(mirror)
    kedro_cli = Path(sys.executable).parent / "kedro"
    return subprocess.run(
        [str(kedro_cli), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def test_case_study_alone_offline_says_where_to_get_the_file(project):
    result = kedro(project, "run", "--pipeline", "hea_hardness", "--env", "smoke", mirror=None)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert "raw.githubusercontent.com/CitrineInformatics/MPEA_dataset" in output
    assert "MATSHIFT_DATA_MIRROR" in output and "mpea_borg2020/MPEA_dataset.csv" in output


def write_plant_batch(project: Path) -> pd.DataFrame:
    """A plant batch in the MPEA file's layout: wrought and annealed alloys with HV, half of them
    unlabelled, and one row whose HV is not a number (quarantined with its line)."""
    raw = pd.read_csv(MPEA, dtype=str, keep_default_na=False)
    routes = raw["PROPERTY: Processing method"].str.upper().isin(["WROUGHT", "ANNEAL"])
    batch = raw[routes & raw["PROPERTY: HV"].ne("")].head(40).copy()
    batch.iloc[::2, batch.columns.get_loc("PROPERTY: HV")] = ""  # unlabelled: to be scored and ranked
    batch.iloc[1, batch.columns.get_loc("PROPERTY: HV")] = "hard"
    folder = project / "data/01_raw/plant/hea_hardness"
    folder.mkdir(parents=True, exist_ok=True)
    batch.to_csv(folder / "line_2_wrought.csv", index=False)
    return batch


@pytest.mark.skipif(not MPEA.is_file(), reason=f"no shared mirror with {MPEA}")
def test_hea_hardness_smoke_run(project):
    batch = write_plant_batch(project)
    result = kedro(project, "run", "--pipeline", "hea_hardness", "--env", "smoke", mirror=SHARED_DATASETS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    summary = json.loads(
        (project / "data/08_reporting/validation/hea_hardness/validation_summary.json").read_text()
    )
    assert summary["reconciled"] and summary["rows_in"] == summary["accepted"] + summary["quarantined"]
    quarantine = pd.read_csv(project / "data/03_primary/hea_hardness/quarantine.csv")
    assert quarantine["source_row"].nunique() == summary["quarantined"]
    metrics = json.loads((project / "data/08_reporting/evaluation/hea_hardness/metrics.json").read_text())
    assert set(metrics) == {"process_shift", "year_split", "paper_group_cv"}
    models = set(metrics["process_shift"])
    assert {
        "dummy",
        "erm",
        "catboost_monotonic",
        "phase_rule_mlp",
        "dann",
        "deep_ensemble",
        "catboost_shift",
    } <= models
    for key in ("mae", "worst_group_mae", "coverage_90", "width_90", "flag_auroc"):
        assert key in metrics["process_shift"]["erm"] and key in metrics["process_shift"]["dann"]
    predictions = pd.read_parquet(
        project / "data/08_reporting/evaluation/hea_hardness/all_predictions.parquet"
    )
    assert predictions[["lower", "upper", "ood_score"]].notna().all().all()
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    assert mlflow.get_experiment_by_name("matshift/hea_hardness") is not None

    # the same stages as every dataset: fold models kept, a champion chosen on the declared split, and
    # the plant batch (in the raw file's layout) cleaned by the domain module and scored with intervals
    assert (project / "data/06_models/hea_hardness/models.pkl").is_file()
    champion = json.loads((project / "data/06_models/champion/hea_hardness.json").read_text())
    assert champion["split"] == "process_shift"
    monitoring = json.loads((project / "data/08_reporting/monitoring/hea_hardness/summary.json").read_text())
    entry = monitoring["batches"]["line_2_wrought"]
    assert entry["rows_in"] == len(batch) == entry["scored"] + entry["quarantined"]
    assert entry["reasons"] == {"invalid_target": 1}
    plant_quarantine = pd.read_csv(project / "data/08_reporting/monitoring/hea_hardness/quarantine.csv")
    assert plant_quarantine.loc[plant_quarantine["reason"] == "invalid_target", "source_row"].tolist() == [3]
    scored = pd.read_parquet(
        project / "data/07_model_output/plant_predictions/hea_hardness/line_2_wrought.parquet"
    )
    assert len(scored) == entry["scored"]
    contract = ["prediction", "lower", "upper", "uncertain", "reason", "ood_score"]
    assert scored[contract[:3] + ["ood_score"]].notna().all().all()
    assert (scored["lower"] <= scored["prediction"]).all() and (scored["prediction"] <= scored["upper"]).all()
    assert set(contract) <= set(scored.columns) and "formula" in scored
    assert 0.0 <= entry["labelled_coverage_90"] <= 1.0 and entry["labelled_mae"] > 0
    ranked = pd.read_csv(
        project / "data/08_reporting/monitoring/hea_hardness/next_experiments/line_2_wrought.csv"
    )
    assert 0 < len(ranked) <= 20 and set(ranked["sample_id"]) <= set(scored["sample_id"])
