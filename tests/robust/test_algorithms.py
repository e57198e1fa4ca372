import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from matshift.robust.dann import DANNRegressor, reversal_weight
from matshift.robust.group_dro import GroupDRORegressor
from matshift.robust.registry import ROBUST_MODELS, build_robust_model, supports_std

TINY = {"hidden_layers": (16,), "epochs": 40, "batch_size": 64, "patience": None}


def source_and_target(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(np.r_[rng.normal(size=(n, 2)), rng.normal(loc=1.5, size=(n, 2))], columns=["a", "b"])
    y = np.r_[1 + X["a"].to_numpy()[:n], np.full(n, np.nan)]  # target labels are unknown
    domains = np.r_[np.zeros(n), np.ones(n)].astype(int)
    return X, y, domains


def test_reversal_weight_follows_ganins_schedule():
    assert reversal_weight(0.0, 1.0, 10.0) == 0.0
    assert reversal_weight(1.0, 1.0, 10.0) == pytest.approx(1.0, abs=1e-4)
    assert reversal_weight(0.5, 0.3, 10.0) < 0.3


@pytest.mark.parametrize("name", sorted(ROBUST_MODELS))
def test_every_robust_model_fits_with_domains_and_groups_and_never_reads_target_labels(name):
    X, y, domains = source_and_target()
    groups = np.where(X["b"] > 0, "g1", "g2")
    params = {
        "erm_mlp": TINY,
        "dann": TINY,
        "group_dro": TINY,
        "deep_ensemble": {"n_members": 2, "mlp_params": TINY},
        "importance_weighting": {"base_params": {"catboost_params": {"iterations": 30, "depth": 2}}},
        "catboost_uncertainty": {"catboost_params": {"iterations": 30, "depth": 2}},
        "coral": {"catboost_params": {"iterations": 30, "depth": 2}},
    }[name]
    model = build_robust_model(name, params, (None, None))
    assert not hasattr(clone(model), "estimator_")
    model.fit(X, y, domains=domains, groups=groups)
    prediction = model.predict(X)
    assert prediction.shape == (len(X),) and np.isfinite(prediction).all()
    # judged on the target rows, whose labels the model never saw: better than the source mean
    target, truth = domains == 1, 1 + X["a"].to_numpy()
    source_mean = np.nanmean(y)
    assert np.abs(prediction[target] - truth[target]).mean() < np.abs(source_mean - truth[target]).mean()
    if supports_std(model):
        _, std = model.predict(X, return_std=True)
        assert (std >= 0).all()


def test_group_dro_serves_the_worst_group_better_than_erm():
    """Inputs do not reveal the group: ERM fits the 90% majority, Group DRO the minimax compromise."""
    rng = np.random.default_rng(0)
    n = 1000
    X = rng.normal(size=(n, 2))
    minority = np.arange(n) < 100
    y = np.where(minority, -1.0, 1.0) + rng.normal(scale=0.05, size=n)
    groups = np.where(minority, "minority", "majority")
    params = {"hidden_layers": (8,), "epochs": 30, "batch_size": 100, "patience": None, "weight_decay": 1e-2}
    erm = GroupDRORegressor(**params).fit(X, y)  # one group: plain ERM
    dro = GroupDRORegressor(**params, step_size=0.5).fit(X, y, groups=groups)

    def worst(model):
        errors = np.abs(model.predict(X) - y)
        return max(errors[minority].mean(), errors[~minority].mean())

    assert worst(dro) < 0.75 * worst(erm)
    assert dro.group_weights_[list(dro.groups_).index("minority")] > 0.5


def test_dann_trains_through_the_whole_reversal_schedule():
    X, y, domains = source_and_target(seed=1)
    model = DANNRegressor(**{**TINY, "epochs": 30}, max_reversal_weight=1.0).fit(X, y, domains=domains)
    assert len(model.history_) == 30 and model.history_[-1]["reversal_weight"] > 0.9


@pytest.mark.parametrize(
    ("name", "module", "n_splits"),
    [
        ("erm_mlp", "matshift.models.mlp", 1),
        ("deep_ensemble", "matshift.models.mlp", 2),  # each member
        ("dann", "matshift.robust.dann", 1),
        ("group_dro", "matshift.robust.group_dro", 1),
    ],
)
def test_robust_networks_early_stop_on_whole_compositions(monkeypatch, name, module, n_splits):
    """The early-stopping rows of every robust network are whole compositions (the splits' leakage key),
    so the validation loss is measured the way the splits hold rows out, never on a random row whose
    composition is also trained on."""
    import importlib

    target = importlib.import_module(module)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    y = 1 + X["a"].to_numpy()
    domains = (np.arange(120) >= 100).astype(int)
    compositions = np.repeat([f"C{i}" for i in range(30)], 4)
    drawn = []

    def recording_split(*args):
        drawn.append((args[3], *original(*args)))
        return drawn[-1][1:]

    original = target.split_validation
    monkeypatch.setattr(target, "split_validation", recording_split)
    network = {"hidden_layers": [8], "epochs": 2, "batch_size": 32, "validation_fraction": 0.2}
    params = {"n_members": 2, "mlp_params": network} if name == "deep_ensemble" else network
    build_robust_model(name, params, (None, None)).fit(
        X, y, domains=domains, groups=np.where(np.arange(120) % 2, "g1", "g2"), compositions=compositions
    )
    assert len(drawn) == n_splits
    for groups, train, validation in drawn:
        assert list(groups) == list(compositions[domains == 0])
        assert len(validation) and not set(groups[train]) & set(groups[validation])
