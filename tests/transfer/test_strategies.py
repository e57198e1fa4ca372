import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor
from sklearn.base import clone

from matshift.transfer.strategies import STRATEGIES, CatBoostTransfer, build_strategy, descriptor_columns

FAST = {"catboost_params": {"iterations": 200, "learning_rate": 0.1, "depth": 3, "thread_count": 1}}


@pytest.fixture(scope="module")
def data():
    """The target is the source value plus a shift; descriptors alone only see it through noise."""
    rng = np.random.default_rng(0)
    n = 400
    descriptors = rng.normal(size=(n, 3))
    source_value = 2 * descriptors[:, 0] + rng.normal(scale=0.8, size=n)
    X = pd.DataFrame(descriptors, columns=["d0", "d1", "d2"])
    X["source_gap_min"] = source_value
    X["source_gap_median"] = source_value
    X["source_gap_max"] = source_value
    X["source_polymorph_count"] = 1.0
    X["source_model_catboost"] = source_value
    X["source_model_catboost_std"] = 0.1
    X["source_model_mlp"] = source_value
    y = source_value + 0.5 + rng.normal(scale=0.05, size=n)
    groups = np.repeat(np.arange(n // 2), 2)
    return X, y, groups


def test_descriptor_columns_exclude_every_source_column(data):
    X, _, _ = data
    assert descriptor_columns(X) == ["d0", "d1", "d2"]


@pytest.mark.parametrize("name", ["lookup", "stack", "lookup_stack", "delta"])
def test_source_columns_help_when_they_carry_the_signal(data, name):
    X, y, groups = data
    train, test = slice(0, 300), slice(300, None)
    erm = CatBoostTransfer(**FAST).fit(X[train], y[train], groups=groups[train])
    strategy = build_strategy(name, {}, FAST, (None, None)).fit(X[train], y[train], groups=groups[train])
    mae = lambda model: np.abs(model.predict(X[test]) - y[test]).mean()  # noqa: E731
    assert mae(strategy) < 0.6 * mae(erm)


def test_warm_start_continues_the_source_model(data):
    X, y, groups = data
    source = CatBoostRegressor(iterations=50, depth=3, verbose=False, allow_writing_files=False)
    source.fit(X[["d0", "d1", "d2"]], y - 0.5)
    model = build_strategy("warm_start", {"catboost": source}, FAST, (None, None)).fit(X, y, groups=groups)
    assert model.model_.tree_count_ == source.tree_count_ + model.n_new_trees_
    assert source.tree_count_ == 50  # the source model is not modified


def test_clip_and_clone(data):
    X, y, groups = data
    model = CatBoostTransfer(clip=(0.0, 1.0), **FAST).fit(X, y, groups=groups)
    assert model.predict(X).min() >= 0.0 and model.predict(X).max() <= 1.0
    assert not hasattr(clone(model), "model_")


def test_unknown_strategy_is_named():
    assert "finetune_mlp" in STRATEGIES
    with pytest.raises(KeyError, match="unknown transfer strategy 'nope'"):
        build_strategy("nope", {}, {}, (None, None))


def test_hurdle_predicts_the_floor_for_rows_at_it_and_beats_one_regressor_on_mae():
    """Half the rows sit at 0 (metals) when d0 < 0; the rest have a gap that grows with d1."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=["d0", "d1", "d2"])
    y = np.where(X["d0"] < 0, 0.0, 2.0 + X["d1"] + rng.normal(scale=0.1, size=600)).clip(0.0)
    train, test = slice(0, 450), slice(450, None)
    plain = CatBoostTransfer(clip=(0.0, 20.0), **FAST).fit(X[train], y[train])
    hurdle = CatBoostTransfer(hurdle=True, clip=(0.0, 20.0), **FAST).fit(X[train], y[train])
    mae = lambda model: np.abs(model.predict(X[test]) - y[test]).mean()  # noqa: E731
    assert mae(hurdle) < 0.8 * mae(plain)
    metals = y[test] == 0
    assert (hurdle.predict(X[test])[metals] == 0).mean() > 0.9


def test_hurdle_needs_the_target_floor():
    X = pd.DataFrame({"d0": np.arange(20.0)})
    with pytest.raises(ValueError, match="floor"):
        CatBoostTransfer(hurdle=True, **FAST).fit(X, np.arange(20.0) % 2)


def test_finetuned_mlp_early_stops_on_whole_compositions(monkeypatch):
    from matshift.models.mlp import MLPRegressor
    from matshift.transfer import finetune_mlp

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 2)), columns=["d0", "d1"])
    y = 1 + X["d0"].to_numpy()
    compositions = np.repeat([f"C{i}" for i in range(20)], 4)
    pretrained = MLPRegressor(hidden_layers=(8,), epochs=2, batch_size=16).fit(X, y)
    drawn = []
    original = finetune_mlp.split_validation

    def recording_split(*args):
        drawn.append((args[3], *original(*args)))
        return drawn[-1][1:]

    monkeypatch.setattr(finetune_mlp, "split_validation", recording_split)
    mlp_params = {"head_epochs": 1, "full_epochs": 1, "batch_size": 16, "validation_fraction": 0.25}
    build_strategy("finetune_mlp", {"mlp": pretrained}, {"mlp_params": mlp_params}, (None, None)).fit(
        X, y, groups=compositions
    )
    ((groups, train, validation),) = drawn
    assert list(groups) == list(compositions)
    assert not set(groups[train]) & set(groups[validation])
