import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from matshift.models.mlp import MLPRegressor
from matshift.transfer.finetune_mlp import FineTunedMLP

FAST = {"hidden_layers": (16, 8), "epochs": 60, "batch_size": 32, "learning_rate": 3e-3, "patience": None}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    X.iloc[::17, 2] = np.nan  # missing descriptors are imputed, not fatal
    y = 1.5 + 2 * X["a"].to_numpy() - X["b"].to_numpy()
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return MLPRegressor(**FAST).fit(X, y)


def test_learns_a_linear_function_far_better_than_the_mean(data, fitted):
    X, y = data
    assert np.abs(fitted.predict(X) - y).mean() < 0.25 * np.abs(y - y.mean()).mean()


def test_estimator_contract_and_reproducibility(data, fitted):
    X, y = data
    assert not hasattr(clone(fitted), "network_")
    again = MLPRegressor(**FAST).fit(X, y)
    assert np.allclose(again.predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match="unknown loss"):
        MLPRegressor(loss="nope").fit(X, y)


def test_save_load_and_pickle_give_identical_predictions(tmp_path, data, fitted):
    X, _ = data
    fitted.save(tmp_path / "mlp.pt")
    assert np.array_equal(MLPRegressor.load(tmp_path / "mlp.pt").predict(X), fitted.predict(X))
    assert np.array_equal(pickle.loads(pickle.dumps(fitted)).predict(X), fitted.predict(X))


def test_finetuning_with_frozen_extractor_changes_only_the_head(data, fitted):
    X, y = data
    before = {k: v.clone() for k, v in fitted.network_.state_dict().items()}
    tuned = FineTunedMLP(pretrained=fitted, head_epochs=20, full_epochs=0, patience=None).fit(X, y + 1.0)
    after = tuned.network_.state_dict()
    extractor = [k for k in before if k.startswith("feature_extractor")]
    assert all(torch.equal(before[k], after[k]) for k in extractor)
    assert not torch.equal(before["head.bias"], after["head.bias"])
    # the pretrained model is untouched, and the shifted target is learned
    assert all(torch.equal(before[k], v) for k, v in fitted.network_.state_dict().items())
    assert np.abs(tuned.predict(X) - (y + 1.0)).mean() < np.abs(fitted.predict(X) - (y + 1.0)).mean()


def test_finetuning_refuses_mismatched_features(data, fitted):
    X, y = data
    with pytest.raises(ValueError, match="features"):
        FineTunedMLP(pretrained=fitted).fit(X[["a", "b"]], y)
    with pytest.raises(ValueError, match="pretrained"):
        FineTunedMLP().fit(X, y)


def test_early_stopping_rows_are_whole_groups_when_given(data, monkeypatch):
    from matshift.models import mlp

    X, y = data
    groups = np.arange(len(X)) // 10  # 40 compositions of 10 rows each
    drawn = []
    original = mlp.split_validation

    def recording_split(*args):
        drawn.append(original(*args))
        return drawn[-1]

    monkeypatch.setattr(mlp, "split_validation", recording_split)
    params = {**FAST, "epochs": 2, "validation_fraction": 0.2, "patience": 1}
    MLPRegressor(**params).fit(X, y, groups=groups)
    train, validation = drawn[0]
    assert validation is not None and not set(groups[train]) & set(groups[validation])
