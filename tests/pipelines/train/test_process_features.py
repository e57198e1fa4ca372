"""Declared process columns reach the models (issue 11); empty folds are skipped, not crashed on."""

import logging

import numpy as np
import pandas as pd

from matshift.models.design import model_inputs
from matshift.pipelines.train.nodes import train_and_predict
from tests.pipelines.train.test_nodes import ROBUST_PARAMS

PARAMS = {
    "models": {
        "dummy": {"strategy": "mean"},
        "erm": {
            "iterations": 80,
            "depth": 3,
            "verbose": False,
            "allow_writing_files": False,
            "random_seed": 0,
        },
    }
}
DECLARATION = {"models": ["dummy", "erm"], "target": {"min": -1000.0, "max": 1000.0}}


def _data(n: int = 120):
    rng = np.random.default_rng(0)
    compositions = [f"C{i % 6}" for i in range(n)]  # six compositions: the target varies within each
    features = pd.DataFrame({"a": np.arange(6.0)}, index=[f"C{i}" for i in range(6)])
    temperature = rng.uniform(300, 1300, n)
    route = rng.choice(["cast", "wrought"], n)
    table = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "composition": compositions,
            "target": temperature / 10 + np.where(route == "wrought", 50.0, 0.0),
            "group": "g",
            "THT": temperature,
            "route": pd.Categorical(route, categories=["cast", "wrought", "annealed"]),
            "lab": pd.array(rng.choice(["A", "B"], n), dtype="string"),  # metadata: text, never a feature
        }
    )
    splits = pd.DataFrame(
        {
            "split": "demo",
            "fold": 0,
            "fold_name": "f0",
            "role": ["train"] * 90 + ["test"] * 30,
            "sample_id": table["sample_id"],
        }
    )
    return table, features, splits


def test_model_inputs_add_numeric_and_one_hot_process_columns():
    table, features, _ = _data()
    X, _ = model_inputs(table, features)
    assert list(X.columns) == ["a", "THT", "route=cast", "route=wrought", "route=annealed"]
    assert X["route=annealed"].sum() == 0  # declared categories, observed or not: same columns everywhere
    assert X.loc["s0", "THT"] == table.loc[0, "THT"]


def test_process_columns_carry_the_signal_into_the_models():
    table, features, splits = _data()
    _, predictions = train_and_predict(table, features, splits, DECLARATION, PARAMS, ROBUST_PARAMS, "demo")
    mae = (predictions["prediction"] - predictions["target"]).abs().groupby(predictions["model"]).mean()
    # the composition alone explains nothing here; only the process columns can
    assert mae["erm"] < 0.3 * mae["dummy"]


def test_a_fold_without_training_rows_is_skipped_naming_dataset_split_and_fold(caplog):
    table, features, splits = _data()
    empty = splits.assign(fold=1, fold_name="f1", role="test")
    with caplog.at_level(logging.WARNING):
        models, predictions = train_and_predict(
            table, features, pd.concat([splits, empty]), DECLARATION, PARAMS, ROBUST_PARAMS, "demo"
        )
    assert set(predictions["fold"]) == {0} and "demo/0/erm" in models
    assert "demo: split demo fold 1 (f1) has 0 training and 120 test rows: skipped" in caplog.text
