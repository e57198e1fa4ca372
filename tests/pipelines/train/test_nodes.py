import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from matshift.models import MODEL_REGISTRY, build_model
from matshift.pipelines.train.nodes import model_inputs, train_and_predict


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    compositions = [f"C{i}" for i in range(40)]
    features = pd.DataFrame(rng.normal(size=(40, 3)), index=compositions, columns=["a", "b", "c"])
    table = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(40)],
            "composition": compositions,
            "target": 2 * features["a"].to_numpy() + 1,
            "group": ["x", "y"] * 20,
        }
    )
    splits = pd.DataFrame(
        {
            "split": "demo",
            "fold": 0,
            "fold_name": "f0",
            "role": ["train"] * 30 + ["test"] * 10,
            "sample_id": table["sample_id"],
        }
    )
    return table, features, splits


def test_model_inputs_align_features_with_samples(data):
    table, features, _ = data
    X, y = model_inputs(table, features)
    assert list(X.index) == list(table["sample_id"]) and X.loc["s3", "a"] == features.loc["C3", "a"]
    assert y.loc["s3"] == table.loc[3, "target"]


def test_train_and_predict_every_model_on_every_fold(data):
    table, features, splits = data
    params = {
        "models": {
            "dummy": {"strategy": "mean"},
            "erm": {"iterations": 50, "depth": 2, "verbose": False, "allow_writing_files": False},
        }
    }
    declaration = {"models": ["dummy", "erm"], "target": {"min": -100.0, "max": 100.0}}
    models, predictions = train_and_predict(table, features, splits, declaration, params)
    assert set(models) == {"demo/0/dummy", "demo/0/erm"}
    assert len(predictions) == 20 and set(predictions["sample_id"]) == set(table["sample_id"][30:])
    mae = (predictions["prediction"] - predictions["target"]).abs().groupby(predictions["model"]).mean()
    assert mae["erm"] < mae["dummy"]  # a signal the dummy cannot see


def test_registry_models_follow_the_estimator_contract():
    for name in MODEL_REGISTRY:
        model = build_model(name)
        assert clone(model).get_params() == model.get_params()
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        build_model("nope")
