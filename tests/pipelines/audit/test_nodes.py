import json

import numpy as np
import pandas as pd
import pytest
import yaml

from matshift.audit.shortcuts import ShortcutError
from matshift.pipelines.audit.nodes import (
    audit_report,
    latent_space_audit,
    near_duplicate_audit,
    selection_bias_audit,
    shortcut_audit,
)
from tests.conftest import PROJECT_ROOT

N = 240


@pytest.fixture(scope="module")
def params():
    return yaml.safe_load((PROJECT_ROOT / "conf/smoke/parameters_audit.yml").read_text())["audit"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    oxygen = rng.integers(1, 40, N)  # Fe_a O_b compositions: many near-duplicates
    compositions = [f"O{b}Fe{40 - b}" if b != 20 else "OFe" for b in oxygen]
    return pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(N)],
            "source_row": np.arange(2, N + 2),
            "composition": compositions,
            "target": oxygen / 10 + rng.normal(0, 0.1, N),
            "group": "oxide",
            "oxygen": oxygen,  # test helper: OOD folds are cut on it, so compositions never straddle
        }
    )


@pytest.fixture(scope="module")
def features(table):
    unique = pd.unique(table["composition"])
    rng = np.random.default_rng(1)
    oxygen = np.array([float(c[1 : c.index("Fe")] or 1) for c in unique])
    frame = pd.DataFrame(
        rng.normal(size=(len(unique), 5)), index=unique, columns=[f"d{i}" for i in range(4)] + ["x"]
    )
    frame["frac p valence electrons"] = oxygen / 40
    return frame


@pytest.fixture(scope="module")
def splits(table):
    rows = []
    ids = table["sample_id"].to_numpy()
    random_test = np.random.default_rng(2).random(N) < 0.2
    high = table["oxygen"].to_numpy() > 30
    for split, fold, name, test in (
        ("matbench_cv", 0, "fold_0", random_test),
        ("leave_cluster_out", 0, "cluster_0", high),
        ("leave_cluster_out", 1, "cluster_1", table["oxygen"].to_numpy() < 10),
    ):
        for role, mask in (("train", ~test), ("test", test)):
            rows.append(
                pd.DataFrame(
                    {"split": split, "fold": fold, "fold_name": name, "role": role, "sample_id": ids[mask]}
                )
            )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def robust_predictions(table, splits):
    test = splits[splits["role"] == "test"].merge(table[["sample_id", "target"]], on="sample_id")
    rng = np.random.default_rng(3)
    return test.assign(
        model="catboost_uncertainty",
        prediction=test["target"] + rng.normal(0, 0.3, len(test)),
        ood_score=rng.random(len(test)),
        uncertain=rng.random(len(test)) > 0.9,
    )


def test_near_duplicate_audit_warns_about_the_random_split(table, splits, params):
    result = near_duplicate_audit(table, splits, params, dataset="toy")
    assert result["tolerance"] == params["near_duplicates"]["tolerance"]
    # Fe-O at 1/40 steps: every random-split test composition has a close relative in training
    assert result["mean_fraction_of_test_compositions"]["matbench_cv"] > 0.9
    assert result["warnings"] and result["warnings"][0].startswith("matbench_cv is a random split")
    assert "near_duplicate_fraction_rows" in result["folds"]["leave_cluster_out"]["0"]


def test_shortcut_audit_says_when_there_is_no_metadata(table, features, params):
    result = shortcut_audit(table, features, params)
    assert result["shortcuts"] == [] and "no metadata column" in result["note"]


def test_shortcut_audit_fails_on_a_planted_shortcut_when_configured(table, features, params):
    with_lab = table.assign(lab=np.where(table["target"] > 2.0, "lab_a", "lab_b"))
    configured = {**params, "shortcuts": {**params["shortcuts"], "fail_on_shortcut": True}}
    with pytest.raises(ShortcutError, match="lab"):
        shortcut_audit(with_lab, features, configured)


def test_selection_bias_audit_is_labelled_simulated(table, features, splits, params):
    result = selection_bias_audit(table, features, splits, params)
    assert result["simulated"] is True and "SIMULATED" in result["description"]
    assert result["n_folds"] == 2
    means = result["mean_over_folds"]
    # the planted reporting bias hides high targets: naive mean too low, IPW closer to all labels
    assert means["train_mean_naive"] < means["train_mean_all_labels"]
    assert abs(means["train_mean_ipw"] - means["train_mean_all_labels"]) < abs(
        means["train_mean_naive"] - means["train_mean_all_labels"]
    )


def test_latent_audit_and_report(table, features, splits, robust_predictions, params):
    latent = latent_space_audit(table, features, splits, robust_predictions, params)
    assert set(latent["by_split"]) == {"leave_cluster_out"}
    metrics = latent["by_split"]["leave_cluster_out"]
    assert {"mae_raw", "mae_latent", "mae_raw_plus_latent", "flag_auroc_vae_on_reference"} <= set(metrics)
    assert "flag_auroc_reference_ood_score" in metrics
    audit, markdown = audit_report(
        near_duplicate_audit(table, splits, params, dataset="toy"),
        shortcut_audit(table, features, params),
        selection_bias_audit(table, features, splits, params),
        latent,
        dataset="toy",
    )
    json.dumps(audit, allow_nan=False)
    assert "Selection bias (SIMULATED)" in markdown and "## Audit: toy" in markdown
