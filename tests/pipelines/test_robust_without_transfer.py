"""A dataset without a transfer source (element fractions, process columns, a target in HV) runs the
robust stage, gets a champion and has a plant batch with its process columns scored (issue 11)."""

import numpy as np
import pandas as pd
import pytest
import yaml

from matshift.featurizers import featurize_materials
from matshift.ingest.staging import stage_materials_table
from matshift.monitoring.scoring import PREDICTION_COLUMNS, score_batch
from matshift.pipelines.evaluate.nodes import fit_champion
from matshift.pipelines.robust.nodes import robust_on_descriptors
from matshift.pipelines.split.nodes import make_splits
from matshift.pipelines.validate.nodes import validate_materials
from matshift.reporting.evaluation import compute_metrics
from matshift.transfer.strategies import SOURCE_COLUMNS, without_source_inputs
from tests.conftest import PROJECT_ROOT
from tests.pipelines.test_declared_dataset_flow import DECLARATION, _raw

ALLOY = {**DECLARATION, "target": {**DECLARATION["target"], "learn_as": {"offset": 400.0, "scale": 100.0}}}


def _robust_params() -> dict:
    params = yaml.safe_load((PROJECT_ROOT / "conf/smoke/parameters_robust.yml").read_text())["robust"]
    # the models that read source columns in the band-gap configuration are among them
    return {
        **params,
        "models": ["erm_mlp", "importance_weighting", "catboost_uncertainty"],
        "min_group_size": 3,
    }


@pytest.fixture(scope="module")
def alloy():
    staged = stage_materials_table(_raw(), ALLOY, "steel")
    accepted, _, summary, _ = validate_materials(staged, ALLOY, "steel")
    features = featurize_materials(accepted)
    splits = make_splits(accepted, features, summary, ALLOY, {"time": {"test_fraction": 0.2}}, "steel")
    return accepted, features, splits


def test_without_source_inputs_switches_off_every_source_column():
    params = without_source_inputs(_robust_params())
    iw = params["model_params"]["importance_weighting"]["base_params"]
    assert iw["use_lookup"] is False and iw["use_source_model"] is False
    assert params["cv_plus"]["base_params"]["use_lookup"] is False
    assert _robust_params()["model_params"]["importance_weighting"]["base_params"]["use_lookup"] is True


def test_robust_models_champion_and_a_plant_batch_without_a_transfer_source(alloy):
    accepted, features, splits = alloy
    params = _robust_params()
    predictions = robust_on_descriptors(accepted, features, splits, ALLOY, params)
    assert {"erm_mlp", "importance_weighting", "catboost_uncertainty", "catboost_shift"} <= set(
        predictions["model"]
    )
    for column in ("prediction", "lower", "upper", "ood_score", "uncertain"):
        assert predictions[column].notna().all(), column
    # learned as (HV - 400) / 100 and mapped back: targets are the declared HV values
    assert predictions["target"].between(0, 2000).all() and predictions["target"].mean() > 200
    assert (predictions["lower"] <= predictions["upper"]).all()
    metrics = compute_metrics(predictions, {"min_group_size": 3, "in_distribution_split": "time_year"})
    assert set(metrics) == set(splits["split"])

    rule = {
        "split": "leave_group_out_group",
        "minimise": "worst_group_mae",
        "coverage_range": [0.0, 1.0],
        "candidates": ["catboost_uncertainty", "catboost_shift"],
    }
    champion, choice = fit_champion(metrics, accepted, features, ALLOY, params, {"champion": rule})
    assert choice["rows"] == len(accepted)
    assert not set(SOURCE_COLUMNS) & set(champion.fit_part_["X"].columns)

    batch = accepted.head(12).assign(sample_id=[f"plant_{i}" for i in range(12)], target=np.nan)
    batch_features = featurize_materials(batch)
    scored = score_batch(batch, batch_features, None, None, None, champion)
    assert list(scored.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert scored["prediction"].between(0, 2000).all() and scored["prediction"].mean() > 200
    # the process columns reach the champion: a 400 K hotter anneal changes the predicted hardness
    hotter = score_batch(batch.assign(THT=batch["THT"] + 400), batch_features, None, None, None, champion)
    assert not np.allclose(hotter["prediction"], scored["prediction"])
    assert isinstance(scored, pd.DataFrame)


def test_plant_batches_with_element_and_process_columns_are_monitored_without_a_source(alloy, tmp_path):
    """Through the monitor's own nodes: a labelled batch in the training file's layout (element columns,
    process columns) is scored, drift-checked and challenged; a batch without an element column is a
    ``missing_column`` file, not a batch read as zero chromium."""
    from matshift.io.plant_batches import PlantBatchesDataset
    from matshift.pipelines.monitor.nodes import monitor_plant_batches, stage_plant_batches

    accepted, features, splits = alloy
    params = _robust_params()
    predictions = robust_on_descriptors(accepted, features, splits, ALLOY, params)
    metrics = compute_metrics(predictions, {"min_group_size": 3, "in_distribution_split": "time_year"})
    rule = {
        "split": "leave_group_out_group",
        "minimise": "worst_group_mae",
        "coverage_range": [0.0, 1.0],
        "candidates": ["catboost_uncertainty"],
    }
    champion, choice = fit_champion(metrics, accepted, features, ALLOY, params, {"champion": rule})

    raw = _raw(80).drop(columns="source_row")
    raw["Cr"] = (raw["Cr"].astype(int) + 1).astype(str)  # compositions the champion was not fitted on
    raw.iloc[1:].to_csv(tmp_path / "line_3.csv", index=False)
    raw.drop(columns="Cr").iloc[1:5].to_csv(tmp_path / "no_chromium.csv", index=False)
    given = list(ALLOY["composition"]["columns"].values())
    batches = PlantBatchesDataset(
        str(tmp_path), required=dict.fromkeys(given), optional={"Hardness": None}
    ).load()
    table, quarantine, counts = stage_plant_batches(batches, ALLOY, "steel")
    (no_chromium,) = [v for k, v in counts.items() if k.endswith("no_chromium.csv")]
    assert no_chromium["reason"] == "missing_column"

    monitor = yaml.safe_load((PROJECT_ROOT / "conf/smoke/parameters_monitor.yml").read_text())["monitor"]
    monitor["challenger"] = {**monitor["challenger"], "min_labelled_rows": 20, "min_group_rows": 2}
    outputs = monitor_plant_batches(
        table,
        counts,
        accepted,
        features,
        None,
        None,
        None,
        None,
        champion,
        choice,
        params,
        monitor,
        dataset="steel",
    )
    scored, summary = outputs[0], outputs[3]
    (batch,) = summary["batches"]
    entry = summary["batches"][batch]
    assert entry["rows_in"] == entry["scored"] + entry["quarantined"] == 79
    assert scored[batch]["prediction"].between(0, 2000).all()
    assert {"lower", "upper", "uncertain", "reason", "ood_score"} <= set(scored[batch].columns)
    assert entry["challenger"]["evaluated"] is True, entry["challenger"]
