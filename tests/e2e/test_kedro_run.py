"""End to end: ``kedro run`` on a small configuration in a scratch copy of the project."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
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
    write_example_batches(root / "data/01_raw/plant/expt_gap")
    return root


def write_example_batches(folder: Path) -> None:
    """The documented example batches (scripts/make_example_batches.py), 60 rows each for speed."""
    spec = importlib.util.spec_from_file_location("batches", PROJECT_ROOT / "scripts/make_example_batches.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder.mkdir(parents=True)
    expt_gap = pd.read_csv(
        PROJECT_ROOT / "data/01_raw/matbench/expt_gap.csv", dtype=str, keep_default_na=False
    )
    for name, frame in script.example_batches(expt_gap).items():
        frame.head(60).to_csv(folder / f"{name}.csv", index=False)


def kedro(project: Path, *args: str, expect_success: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "COLUMNS": "1000",  # rich would wrap long file names across lines
    }
    env.pop("KEDRO_ENV", None)
    kedro_cli = Path(sys.executable).parent / "kedro"
    result = subprocess.run(
        [str(kedro_cli), *args], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    if expect_success:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result


@pytest.fixture(scope="module")
def full_run(project: Path) -> Path:
    kedro(project, "run", "--env", "smoke")
    return project


def test_metrics_cover_every_split_and_model(full_run):
    metrics = json.loads((full_run / "data/08_reporting/metrics.json").read_text())
    # case studies (`case_study:` declarations) join when the mirror (tests/conftest.py) holds their files
    declarations = yaml.safe_load((full_run / "conf/base/parameters_datasets.yml").read_text())["datasets"]
    case_studies = {name for name, declaration in declarations.items() if declaration.get("case_study")}
    assert "expt_gap" in metrics and set(metrics) - {"expt_gap"} <= case_studies
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
        # every model writes the prediction contract: baselines and transfer strategies have intervals too
        for model in ("dummy", "erm", *transfer["strategies"]):
            assert {"coverage_90", "width_90", "flag_auroc", "unflagged_miss_rate"} <= set(per_model[model])
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
    # case studies keep their own accepted tables (data/03_primary/<dataset>/), not the materials table
    band_gaps = [counts for counts in summary.values() if "case_study" not in counts]
    assert len(table) == sum(counts["accepted"] for counts in band_gaps)
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


def test_monitoring_scores_every_readable_batch_and_quarantines_the_rest(full_run):
    monitoring = full_run / "data/08_reporting/monitoring/expt_gap"
    summary = json.loads((monitoring / "summary.json").read_text())
    assert set(summary["batches"]) == {"clean", "shifted", "unlabelled", "malformed"}
    assert [Path(f["file"]).name for f in summary["bad_files"]] == ["wrong_units.csv"]
    for batch, entry in summary["batches"].items():
        assert entry["rows_in"] == entry["scored"] + entry["quarantined"], batch
        predictions = pd.read_parquet(
            full_run / f"data/07_model_output/plant_predictions/expt_gap/{batch}.parquet"
        )
        assert len(predictions) == entry["scored"]
        assert {"prediction", "lower", "upper", "uncertain", "reason"} <= set(predictions)
        assert (monitoring / "reports" / f"{batch}.html").stat().st_size > 0
    assert summary["batches"]["malformed"]["quarantined"] >= 5
    assert "covariate" in summary["batches"]["shifted"]["drift"]["kinds"]
    assert summary["batches"]["clean"]["drift"]["kinds"] == []
    ranking = pd.read_csv(monitoring / "next_experiments" / "unlabelled.csv")
    assert len(ranking) == 5 and ranking["rank"].tolist() == [1, 2, 3, 4, 5]

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{full_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("matshift/expt_gap/monitoring")
    batches = {r.data.tags["batch"] for r in client.search_runs([experiment.experiment_id])}
    assert {"clean", "shifted", "unlabelled", "malformed"} <= batches


def test_an_unreadable_batch_fails_the_run_naming_the_file(full_run):
    result = kedro(
        full_run,
        "run",
        "--env",
        "smoke",
        "--pipeline",
        "monitor",
        "--params",
        "monitor.on_bad_file=fail",
        expect_success=False,
    )
    assert result.returncode != 0
    assert (
        "wrong_units.csv" in result.stdout + result.stderr
        and "unit_mismatch" in result.stdout + result.stderr
    )


def test_a_rerun_after_a_crash_half_way_reproduces_the_outputs(full_run):
    """Outputs of a monitoring run half lost (as after a crash), the stage re-run: the same files."""
    predictions = full_run / "data/07_model_output/plant_predictions/expt_gap"
    before = {path.name: pd.read_parquet(path) for path in sorted(predictions.glob("*.parquet"))}
    for path in sorted(predictions.glob("*.parquet"))[::2]:
        path.unlink()
    (full_run / "data/08_reporting/monitoring/expt_gap/summary.json").unlink()
    # the champion the first run scored with (a promoted challenger only takes over from the next run)
    os.environ["MATSHIFT_CHAMPION_SOURCE"] = "local"
    try:
        kedro(full_run, "run", "--env", "smoke", "--pipeline", "monitor")
    finally:
        os.environ.pop("MATSHIFT_CHAMPION_SOURCE")
    after = {path.name: pd.read_parquet(path) for path in sorted(predictions.glob("*.parquet"))}
    assert before.keys() == after.keys()
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name], obj=name)


def test_the_champion_is_registered_and_example_batches_never_propose_a_challenger(full_run):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{full_run / 'mlflow.db'}")
    version = client.get_model_version_by_alias("matshift-expt_gap", "champion")
    assert version.tags["model"] in {"deep_ensemble", "catboost_uncertainty", "erm_mlp", "catboost_shift"}
    summary = json.loads((full_run / "data/08_reporting/monitoring/expt_gap/summary.json").read_text())
    assert summary["champion"]["loaded_from"]
    for batch in ("clean", "shifted"):  # labelled example batches: rows of the training data, never eligible
        decision = summary["batches"][batch]["challenger"]
        assert decision["eligible"] is False
        assert any("example batch" in reason for reason in decision["not_eligible_because"])
    assert "challenger" not in summary["batches"]["unlabelled"]
    assert summary["proposal"]["batch"] is None  # a monitor run proposes; it never promotes
    assert client.get_model_version_by_alias("matshift-expt_gap", "champion").version == version.version
    assert summary["batches"]["clean"]["reference_suite"]["evaluated"] > 100


def test_hostile_batches_are_listed_reconciled_and_move_no_champion(full_run):
    """Malformed and hostile files next to the example batches: the monitor run succeeds (warn), every
    file is in the summary with rows_in = scored + quarantined, and the champion artefact is unchanged."""
    folder = full_run / "data/01_raw/plant/expt_gap"
    clean = (folder / "clean.csv").read_bytes()
    hostile = {
        ".hidden.csv": clean,
        "x" * 247 + ".csv": b"formula,target\nSiC,2.4\n",
        "my batch (Bändlücke ✓).csv": b"formula\nCdTe\n",
        "clean_crlf_copy.csv": clean.replace(b"\n", b"\r\n"),
        "amounts.csv": b"formula,target\nNaCl,8.5\nFe" + b"9" * 400 + b"O,1\nFe0O,1\nFe0.0000000001O,1\n",
        "formulas.csv": b"formula,target\n=cmd|' /C calc'!A0,1\n@SUM(1+1),1\nGaN,=1+1\n",
        "binary.csv": b"formula\x00\x01\x02",
        "book.xlsx": b"PK\x03\x04xl/workbook.xml" + b"\x00" * 16,
    }
    champion = full_run / "data/06_models/champion/expt_gap.pkl"
    champion_bytes = champion.read_bytes()
    for name, data in hostile.items():
        (folder / name).write_bytes(data)
    try:
        kedro(full_run, "run", "--env", "smoke", "--pipeline", "monitor")
        monitoring = full_run / "data/08_reporting/monitoring/expt_gap"
        summary = json.loads((monitoring / "summary.json").read_text())
        listed = {Path(entry["file"]).name: entry for entry in summary["files"]}
        assert sorted(listed) == sorted(path.name for path in folder.iterdir())
        for name, entry in listed.items():
            assert entry["rows_in"] == entry["scored"] + entry["quarantined"], name
        reasons = {name: entry["reason"] for name, entry in listed.items()}
        assert (
            reasons[".hidden.csv"] == "hidden_file" and reasons["clean_crlf_copy.csv"] == "duplicate_content"
        )
        assert (reasons["binary.csv"], reasons["book.xlsx"]) == ("binary_file", "spreadsheet")
        assert summary["batches"][listed["amounts.csv"]["batch"]]["reasons"] == {
            "invalid_amount": 2,
            "negligible_amount": 1,
        }
        long_batch = listed["x" * 247 + ".csv"]["batch"]
        assert len(long_batch) <= 64
        assert (monitoring / "reports" / f"{long_batch}.html").exists()
        quarantine = (monitoring / "quarantine.csv").read_text()
        assert "'=cmd|" in quarantine and ",=cmd|" not in quarantine and "\n=cmd" not in quarantine
        assert champion.read_bytes() == champion_bytes
    finally:
        for name in hostile:
            (folder / name).unlink()


PLANT_BATCH = "plant_w01"  # not an example batch (monitor.challenger.example_batches): it may be proposed
# a rule that favours any evaluated challenger: the promotion test is about the mechanics, not the rule
ANY_CHALLENGER_FAVOURED = (
    "monitor.challenger.min_relative_improvement=-10,monitor.challenger.max_in_distribution_degradation=100"
)


def project_copy(source: Path, target: Path) -> Path:
    """A copy of a project that ran, with its own MLflow store: MLflow writes artefact folders into
    ``mlflow.db`` as absolute paths, so they are pointed into the copy (what the copy logs or registers
    lands in the copy, and its registry reads its own files)."""
    shutil.copytree(source, target)
    with closing(sqlite3.connect(target / "mlflow.db")) as db, db:
        for table, column in (
            ("experiments", "artifact_location"),
            ("runs", "artifact_uri"),
            ("logged_models", "artifact_location"),
            ("model_versions", "storage_location"),
        ):
            db.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (f"{source}/", f"{target}/"))
    return target


def novel_plant_batch(project: Path, rows: int = 60) -> pd.DataFrame:
    """Labelled rows (columns as scripts/make_example_batches.py writes them) of compositions in neither
    expt_gap nor the sampled mp_gap: Materials Project gaps from beyond the sample stand in for plant
    measurements of compositions the champion was not fitted on."""
    from matshift.chemistry.formula import FormulaError, canonical_composition

    declarations = yaml.safe_load((project / "conf/base/parameters_datasets.yml").read_text())["datasets"]
    min_fraction = declarations["expt_gap"]["min_atomic_fraction"]

    def composition(formula: str) -> str | None:
        try:
            return canonical_composition(formula, min_fraction)
        except FormulaError:
            return None

    raw = project / "data/01_raw/matbench"
    known = {
        composition(formula)
        for name in ("expt_gap.csv", "mp_gap_sample.csv")
        for formula in pd.read_csv(raw / name, dtype=str, keep_default_na=False)["formula"]
    }
    mp_gap = pd.read_csv(
        PROJECT_ROOT / "data/01_raw/matbench/mp_gap.csv",
        dtype=str,
        keep_default_na=False,
        nrows=3 * MP_SAMPLE_ROWS,
    ).iloc[MP_SAMPLE_ROWS:]
    compositions = mp_gap["formula"].map(composition)
    novel = compositions.notna() & ~compositions.isin(known) & ~compositions.duplicated()
    batch = mp_gap[novel.to_numpy()].head(rows).rename(columns={"target": "target (eV)"})
    assert len(batch) == rows
    return batch


def registered_bytes_sha256(registry: str, name: str, version: str, folder: Path) -> list[str]:
    """sha256 of each file of a registered champion version, downloaded from ``registry``."""
    import mlflow
    import mlflow.artifacts

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(registry)  # `models:/` URIs resolve against the global tracking URI
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=str(folder),
            tracking_uri=registry,
            registry_uri=registry,
        )
    finally:
        mlflow.set_tracking_uri(previous)
    return [
        hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(Path(local, "artifacts").iterdir())
    ]


def test_promoting_the_proposed_challenger_moves_artefact_record_and_registry(full_run, tmp_path):
    """The success path of ``make promote BATCH=<batch>`` through Kedro, in a copy of the smoke project
    (its own registry). A labelled plant batch of compositions the champion was not fitted on is dropped
    in; the monitor runs with a rule that favours any evaluated challenger (``ANY_CHALLENGER_FAVOURED``:
    this test is about the promotion mechanics, not about whether the challenger is better). The monitor
    run proposes the batch and moves nothing; ``promote`` installs the challenger (artefact, record, pin,
    registry alias); the same command again is refused as stale; the next monitor run keeps the batch's
    first evaluation instead of re-scoring it, and proposes nothing."""
    from mlflow import MlflowClient

    project = project_copy(full_run, tmp_path / "project")
    registry = f"sqlite:///{(project / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=registry, registry_uri=registry)

    def champion_version():
        return client.get_model_version_by_alias("matshift-expt_gap", "champion")

    def sha256(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    champion = project / "data/06_models/champion/expt_gap.pkl"
    record_path = champion.with_suffix(".json")
    monitoring = project / "data/08_reporting/monitoring/expt_gap"
    rows = novel_plant_batch(project)
    batch_file = project / "data/01_raw/plant/expt_gap" / f"{PLANT_BATCH}.csv"
    rows.to_csv(batch_file, index=False)
    batch_sha = sha256(batch_file.read_bytes())
    old_bytes, old_record = champion.read_bytes(), json.loads(record_path.read_text())
    old_sha, old_version = sha256(old_bytes), champion_version().version
    assert old_record["artefact"]["sha256"] == old_sha

    # 1. the monitor run evaluates a challenger and proposes it; it moves nothing
    kedro(project, "run", "--env", "smoke", "--pipeline", "monitor", "--params", ANY_CHALLENGER_FAVOURED)
    summary = json.loads((monitoring / "summary.json").read_text())
    assert summary["champion"]["loaded_from"].startswith(
        f"models:/matshift-expt_gap/{old_version} from {registry} "
    )
    evaluation = summary["batches"][PLANT_BATCH]
    assert (evaluation["rows_in"], evaluation["scored"], evaluation["quarantined"]) == (
        len(rows),
        len(rows),
        0,
    )
    decision = evaluation["challenger"]
    assert decision["evaluated"] and decision["eligible"] and decision["training_compositions"] == 0
    assert decision["adaptation_rows"] + decision["held_back_rows"] == len(rows)
    proposal = json.loads((monitoring / "proposal.json").read_text())
    assert proposal["batch"] == PLANT_BATCH and proposal["batch_sha256"] == batch_sha
    assert proposal["command"] == f"make promote BATCH={PLANT_BATCH}"
    assert proposal["kedro_command"] == (
        f"kedro run --pipeline promote --namespaces expt_gap --params promote.batch={PLANT_BATCH}"
    )
    assert proposal["against_champion"]["sha256"] == old_sha
    assert champion.read_bytes() == old_bytes and champion_version().version == old_version
    assert json.loads(record_path.read_text()) == old_record
    challenger_bytes = (project / f"data/06_models/challengers/expt_gap/{PLANT_BATCH}.pkl").read_bytes()

    # 2. promote installs the challenger: artefact, record and its pin, then the registry alias
    # in expt_gap's namespace: every monitored dataset (case studies too) has its own proposal
    promote = (
        "run",
        "--env",
        "smoke",
        "--pipeline",
        "promote",
        "--namespaces",
        "expt_gap",
        "--params",
        f"promote.batch={PLANT_BATCH}",
    )
    kedro(project, *promote)
    new_bytes = champion.read_bytes()
    new_sha = sha256(new_bytes)
    assert new_sha != old_sha
    # the catalog re-pickles the challenger it loaded: the same model, the same bytes once re-pickled
    assert pickle.dumps(pickle.loads(new_bytes)) == pickle.dumps(pickle.loads(challenger_bytes))
    record = json.loads(record_path.read_text())
    assert record["promoted_from_batch"] == PLANT_BATCH and record["fitted_on_batches"] == {
        PLANT_BATCH: batch_sha
    }
    assert record["previous_champion"]["artefact"]["sha256"] == old_sha
    assert record["kept_evaluations"][PLANT_BATCH]["challenger"] == decision
    version = champion_version()
    assert version.version != old_version and version.tags["champion_sha256"] == new_sha
    assert record["artefact"]["sha256"] == new_sha
    assert record["artefact"]["registry"] == {
        "model": "matshift-expt_gap",
        "version": str(version.version),
        "uri": registry,
    }
    registered = registered_bytes_sha256(
        registry, "matshift-expt_gap", version.version, tmp_path / "registered"
    )
    assert registered == [new_sha]

    # 3. the same command again: the proposal was judged against the champion it replaced
    refused = kedro(project, *promote, expect_success=False)
    log = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "PromotionError" in log
    assert f"judged against champion sha256 {old_sha}, but the champion now is sha256 {new_sha}" in log
    assert champion.read_bytes() == new_bytes and champion_version().version == version.version

    # 4. the next monitor run (declared rule) loads the new champion and keeps the batch's first evaluation
    kedro(project, "run", "--env", "smoke", "--pipeline", "monitor")
    summary = json.loads((monitoring / "summary.json").read_text())
    assert summary["champion"]["loaded_from"].startswith(
        f"models:/matshift-expt_gap/{version.version} from {registry} (sha256 {new_sha[:12]}"
    )
    kept = summary["batches"][PLANT_BATCH]
    assert kept["not_rescored"].startswith("not re-scored") and "file changed" not in kept["not_rescored"]
    for key in (
        "sha256",
        "rows_in",
        "scored",
        "quarantined",
        "labelled_mae",
        "labelled_coverage_90",
        "drift",
    ):
        assert kept[key] == evaluation[key], key
    scores = [key for key in decision if key.endswith("_mae")]
    assert {k: kept["challenger"][k] for k in scores} == {k: decision[k] for k in scores}
    manifest = json.loads(
        (project / "data/07_model_output/plant_predictions/expt_gap.manifest.json").read_text()
    )
    assert PLANT_BATCH not in manifest["batches"] and "clean" in manifest["batches"]
    kept_folder = project / "data/06_models/champion/expt_gap_kept"
    kept_predictions = pd.read_parquet(kept_folder / "predictions" / f"{PLANT_BATCH}.parquet")
    assert len(kept_predictions) == len(rows) and set(kept_predictions["formula"]) == set(rows["formula"])
    assert (kept_folder / "reports" / f"{PLANT_BATCH}.html").stat().st_size > 0
    # the module's project is untouched
    assert (full_run / "data/06_models/champion/expt_gap.pkl").read_bytes() == old_bytes
    original = MlflowClient(tracking_uri=f"sqlite:///{full_run / 'mlflow.db'}")
    assert original.get_model_version_by_alias("matshift-expt_gap", "champion").version == old_version
    # a batch the champion was fitted on is not proposed again
    proposal = json.loads((monitoring / "proposal.json").read_text())
    assert proposal["batch"] is None, proposal
