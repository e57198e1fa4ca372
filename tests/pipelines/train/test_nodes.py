import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import clone

from matshift.models import MODEL_REGISTRY, build_model
from matshift.models.design import model_inputs
from matshift.pipelines.train.nodes import train_and_predict
from matshift.uncertainty.fold_conformal import CROSS_FOLD, GROUPED_HOLDOUT
from tests.conftest import PROJECT_ROOT

ROBUST_PARAMS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_robust.yml").read_text())["robust"]
CONTRACT = ["prediction", "lower", "upper", "uncertain", "reason", "ood_score", "interval_method"]


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
    models, predictions = train_and_predict(table, features, splits, declaration, params, ROBUST_PARAMS)
    assert set(models) == {"demo/0/dummy", "demo/0/erm"}
    assert len(predictions) == 20 and set(predictions["sample_id"]) == set(table["sample_id"][30:])
    mae = (predictions["prediction"] - predictions["target"]).abs().groupby(predictions["model"]).mean()
    assert mae["erm"] < mae["dummy"]  # a signal the dummy cannot see
    # one fold: intervals from a grouped holdout of its training rows; the predictions are the full fit's
    assert predictions[CONTRACT].notna().all().all()
    assert (predictions["interval_method"] == GROUPED_HOLDOUT).all()
    assert (predictions["lower"] <= predictions["prediction"]).all()
    assert (predictions["prediction"] <= predictions["upper"]).all()
    dummy = predictions[predictions["model"] == "dummy"]
    assert np.allclose(dummy["prediction"], table["target"][:30].mean())
    test_X = model_inputs(table, features)[0].loc[dummy["sample_id"]]
    np.testing.assert_array_equal(
        predictions.loc[predictions["model"] == "erm", "prediction"], models["demo/0/erm"].predict(test_X)
    )


def test_folds_are_calibrated_on_the_other_folds_without_an_extra_fit(data, monkeypatch):
    table, features, _ = data
    ids = table["sample_id"].to_numpy()
    splits = pd.concat(
        [
            pd.DataFrame(
                {
                    "split": "cv",
                    "fold": k,
                    "fold_name": f"f{k}",
                    "role": np.where(np.arange(40) % 4 == k, "test", "train"),
                    "sample_id": ids,
                }
            )
            for k in range(4)
        ]
    )
    fits = []
    original = build_model

    def counting_build_model(name, params=None):
        fits.append(name)
        return original(name, params)

    monkeypatch.setattr("matshift.pipelines.train.nodes.build_model", counting_build_model)
    declaration = {"models": ["dummy"], "target": {"min": -100.0, "max": 100.0}}
    _, predictions = train_and_predict(
        table, features, splits, declaration, {"models": {}}, {**ROBUST_PARAMS, "min_group_size": 3}
    )
    assert len(fits) == 4  # one model per fold, none refit for calibration
    assert (predictions["interval_method"] == CROSS_FOLD).all() and len(predictions) == 40
    assert predictions["uncertain"].dtype == bool
    assert set(predictions.loc[predictions["uncertain"], "reason"]) <= {"far from every training composition"}
    assert (predictions.loc[~predictions["uncertain"], "reason"] == "").all()


def test_registry_models_follow_the_estimator_contract():
    for name in MODEL_REGISTRY:
        model = build_model(name)
        assert clone(model).get_params() == model.get_params()
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        build_model("nope")
