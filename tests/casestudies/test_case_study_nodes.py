"""The case-study framework's nodes and registry with small frames; no network."""

from __future__ import annotations

import types

import pandas as pd
import pytest

from matshift import pipeline_registry
from matshift.audit.leakage import LeakageError
from matshift.casestudies import stages as nodes
from matshift.io import MIRROR_ENV
from matshift.validation.quarantine import DataQualityError
from tests.casestudies.test_alloys import HARDNESS, raw_row

DECLARATION = {**HARDNESS, "case_study": "alloys", "leakage_key": "composition"}


def small_raw() -> pd.DataFrame:
    rows = [raw_row(formula=f"Co1 Ni{n}", hv=str(100 + n)) for n in range(1, 6)] + [raw_row(hv="")]
    raw = pd.DataFrame(rows)
    raw["source_row"] = range(2, len(raw) + 2)  # the SourceDataset's line numbers: replaced by 0-based rows
    return raw


def test_clean_reconciles_and_validates_the_accepted_table():
    accepted, quarantine, summary, gx_result = nodes.clean_domain_table(
        small_raw(), DECLARATION, "hea_hardness"
    )
    assert gx_result["success"] and gx_result["results"]  # rendered as Data Docs by the catalog
    assert summary["rows_in"] == 6 and summary["accepted"] == 5 and summary["quarantined"] == 1
    assert summary["reconciled"] and summary["reasons"] == {"missing_target": 1}
    assert summary["expectations"]["success"]
    assert accepted["source_row"].tolist() == [0, 1, 2, 3, 4]
    assert quarantine.to_dict("records") == [
        {"source_row": 5, "column": "PROPERTY: HV", "value": "", "reason": "missing_target"}
    ]


def test_a_module_that_drops_a_row_silently_stops_the_run(monkeypatch):
    from matshift.casestudies import alloys

    def leaky_clean(raw, declaration, target_required=True):
        accepted, quarantine = alloys.clean(raw, declaration, target_required)
        return accepted.iloc[1:], quarantine

    leaky = types.SimpleNamespace(clean=leaky_clean)
    monkeypatch.setattr(nodes, "case_study_module", lambda name: leaky)
    with pytest.raises(DataQualityError, match="6 raw rows != 4 accepted \\+ 1 quarantined"):
        nodes.clean_domain_table(small_raw(), DECLARATION, "hea_hardness")


def test_accepted_table_out_of_range_fails_the_expectations():
    table = pd.DataFrame({"sample_id": ["a"], "source_row": [0], "target": [5000.0], "group": ["CAST"]})
    with pytest.raises(DataQualityError, match="expect_column_values_to_be_between"):
        nodes.check_accepted_table(table, DECLARATION, "hea_hardness")


def test_leakage_audit_counts_and_fails_on_a_shared_key():
    table = pd.DataFrame({"sample_id": ["a", "b", "c"], "composition": ["X", "Y", "X"]})
    clean_split = pd.DataFrame(
        {"split": "s", "fold": 0, "fold_name": "f", "role": ["train", "test"], "sample_id": ["b", "c"]}
    )
    audit = nodes.audit_domain_leakage(table, clean_split, DECLARATION, "hea_hardness")
    assert audit["folds"][0] == {
        "split": "s",
        "fold": 0,
        "fold_name": "f",
        "n_train": 1,
        "n_test": 1,
        "n_left_out": 1,
        "n_left_out_sharing_test_key": 1,
        "shared_keys": 0,
    }
    leaky = clean_split.assign(sample_id=["a", "c"])
    with pytest.raises(LeakageError, match="composition values on both sides"):
        nodes.audit_domain_leakage(table, leaky, DECLARATION, "hea_hardness")


def test_registry_leaves_out_an_unavailable_case_study_but_registers_it(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    declarations = {
        "hea_hardness": {
            **DECLARATION,
            "source": {
                "filepath": "data/01_raw/mpea_borg2020/MPEA_dataset.csv",
                "sha256": "0" * 64,
                "url": "http://127.0.0.1:9/x.csv",
            },
            "splits": ["process_shift"],
            "models": ["dummy"],
            "robust": True,
        }
    }
    monkeypatch.setattr(pipeline_registry, "load_declarations", lambda: declarations)
    pipelines = pipeline_registry.register_pipelines()
    assert "hea_hardness.metrics" in pipelines["hea_hardness"].all_outputs()
    assert not any(name.startswith("hea_hardness.") for name in pipelines["__default__"].all_outputs())
    assert "left out of the run" in caplog.text and "matshift.fetch" in caplog.text


def test_registry_includes_a_case_study_found_in_the_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror" / "mpea_borg2020"
    mirror.mkdir(parents=True)
    content = b"FORMULA\n"
    (mirror / "MPEA_dataset.csv").write_bytes(content)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    monkeypatch.chdir(tmp_path)
    import hashlib

    declarations = {
        "hea_hardness": {
            **DECLARATION,
            "source": {
                "filepath": "data/01_raw/mpea_borg2020/MPEA_dataset.csv",
                "sha256": hashlib.sha256(content).hexdigest(),
                "url": "http://127.0.0.1:9/x.csv",
            },
            "splits": ["process_shift"],
            "models": ["dummy"],
            "robust": True,
        }
    }
    monkeypatch.setattr(pipeline_registry, "load_declarations", lambda: declarations)
    pipelines = pipeline_registry.register_pipelines()
    outputs = pipelines["__default__"].all_outputs()
    assert {"hea_hardness.metrics", "metrics", "robustness_report_md"} <= outputs
    assert "hea_hardness.predictions" in pipelines["train"].all_outputs()


def test_calibration_and_early_stopping_never_split_a_leakage_key_group(monkeypatch):
    """In the train stage every dataset runs: a fold calibrated on a grouped holdout splits its training
    rows into fit and calibration rows by whole ``leakage_key`` groups, and a model that early-stops
    is given those groups."""
    import numpy as np
    from sklearn.base import BaseEstimator, RegressorMixin

    from matshift.models.mlp import split_validation
    from matshift.pipelines.train import nodes as train_nodes

    seen = []

    class Recorder(RegressorMixin, BaseEstimator):
        def fit(self, X, y, groups=None):
            seen.append((list(X.index), groups))
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    n = 60
    table = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "composition": [f"C{i // 3}" for i in range(n)],  # three measurements per composition
            "target": np.arange(n, dtype=float),
            "group": "all",
        }
    )
    features = pd.DataFrame({"x": np.arange(n, dtype=float)}, index=pd.Index(table["sample_id"]))
    test = table["composition"].isin({"C0", "C1"})
    role = np.where(test, "test", "train")
    ids = table["sample_id"]
    splits = pd.DataFrame({"split": "s", "fold": 0, "fold_name": "f", "role": role, "sample_id": ids})
    declaration = {"target": {"min": 0.0, "max": 100.0}, "leakage_key": "composition", "models": ["recorder"]}
    robust = {
        "confidence_level": 0.9,
        "calibration_fraction": 0.3,
        "random_state": 0,
        "flag_quantile": 0.9,
        "knn_neighbours": 5,
        "min_group_size": 30,
    }
    monkeypatch.setattr(train_nodes, "model_factories", lambda declaration, params: {"recorder": Recorder})
    _, predictions = train_nodes.train_and_predict(table, features, splits, declaration, {}, robust)
    assert len(predictions) == test.sum()
    # the robust stage's contract, calibrated on the held-out calibration rows
    contract = ["lower", "upper", "uncertain", "reason", "ood_score", "interval_method"]
    assert predictions[contract].notna().all().all()
    assert (predictions["interval_method"] == "grouped_holdout").all()
    key = table.set_index("sample_id")["composition"]
    (train_ids, train_groups), (fit_ids, groups) = seen  # the fold's model, then its refit on the fit rows
    assert sorted(train_ids) == sorted(table.loc[~test, "sample_id"])
    calibration_ids = sorted(set(train_ids) - set(fit_ids))
    assert calibration_ids and not set(key.loc[fit_ids]) & set(key.loc[calibration_ids])
    assert list(groups) == list(key.loc[fit_ids])  # the model early-stops on whole compositions
    assert list(train_groups) == list(key.loc[train_ids])
    train, validation = split_validation(len(fit_ids), 0.2, np.random.default_rng(0), groups)
    assert not set(groups[train]) & set(groups[validation])
