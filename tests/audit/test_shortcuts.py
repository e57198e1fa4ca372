import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from matshift.audit.shortcuts import ShortcutError, audit_shortcuts


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"d{i}" for i in range(4)])
    lab = rng.integers(0, 4, n)
    # planted: every lab shifts the target by a lab-specific offset, which no descriptor explains
    y = X["d0"].to_numpy() + np.array([-3.0, -1.0, 1.0, 3.0])[lab] + rng.normal(0, 0.1, n)
    metadata = pd.DataFrame({"lab": [f"lab_{i}" for i in lab], "batch_id": rng.integers(0, 4, n)})
    return X, y, metadata


def fast_audit(X, y, metadata, **kwargs):
    return audit_shortcuts(
        X,
        y,
        metadata,
        model_factory=lambda: HistGradientBoostingRegressor(max_iter=50),  # trees read ordinal lab codes
        classifier_factory=lambda: LogisticRegression(max_iter=500),
        n_splits=4,
        **kwargs,
    )


def test_planted_shortcut_found_and_clean_column_not_flagged(data):
    report = fast_audit(*data)
    assert report["shortcuts"] == ["lab"]
    lab, batch = report["columns"]["lab"], report["columns"]["batch_id"]
    assert "permutation" in lab["flags"]
    assert lab["permutation_mae_rise"] > 1.0  # shuffling the lab more than doubles the error
    assert batch["flags"] == []
    assert abs(batch["group_to_random_mae_ratio"] - 1) < 0.2
    assert abs(batch["domain_balanced_accuracy"] - batch["domain_chance"]) < 0.1


def test_group_confound_found_by_group_ratio_and_domain_classifier():
    rng = np.random.default_rng(1)
    n = 600
    source_paper = rng.integers(0, 3, n)
    # each paper studied its own region of descriptor space: leaving a paper out is extrapolation
    X = pd.DataFrame({"d0": rng.normal(size=n) + 4 * source_paper, "d1": rng.normal(size=n)})
    y = np.sin(X["d0"].to_numpy()) * 2 + source_paper * 2.0
    metadata = pd.DataFrame({"source_paper": source_paper.astype(str)})
    report = audit_shortcuts(
        X, y, metadata, classifier_factory=lambda: LogisticRegression(max_iter=500), n_splits=3
    )
    entry = report["columns"]["source_paper"]
    assert {"group_ratio", "domain"} <= set(entry["flags"])


def test_fail_on_shortcut_raises_naming_the_column(data):
    with pytest.raises(ShortcutError, match=r"lab \(permutation"):
        fast_audit(*data, fail_on_shortcut=True)


def test_no_metadata_is_reported_not_failed(data):
    X, y, _ = data
    report = fast_audit(X, y, pd.DataFrame(index=X.index), fail_on_shortcut=True)
    assert report["shortcuts"] == [] and "no metadata" in report["note"]


def test_numeric_metadata_with_many_values_is_binned(data):
    X, y, metadata = data
    years = pd.DataFrame({"year": np.random.default_rng(2).integers(1950, 2020, len(X))})
    report = fast_audit(X, y, years)
    assert report["columns"]["year"]["n_groups"] == 10
    assert report["shortcuts"] == []
