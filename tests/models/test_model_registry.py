"""The one model registry: every family's models behind ``fit(X, y, domains=, groups=)``; the old names
(MODEL_REGISTRY, ROBUST_MODELS, STRATEGIES, PHYSICS_MODELS and their builders) are views onto it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from matshift.casestudies import alloys, electrolyte_physics
from matshift.models import MODEL_REGISTRY, build_estimator, build_model
from matshift.models import registry as model_registry
from matshift.models.adapter import SourceRowsAdapter
from matshift.models.mlp import MLPRegressor
from matshift.models.registry import FAMILIES, registered, registered_model
from matshift.robust.registry import ROBUST_MODELS, build_robust_model
from matshift.transfer.strategies import STRATEGIES, build_strategy, descriptor_columns

CLIP = (0.0, 20.0)  # the hurdle strategies need the target's floor
N_SOURCE, N_TARGET = 60, 20
CATBOOST = {"iterations": 10, "depth": 2, "thread_count": 1, "random_seed": 0}
TRANSFER = {"catboost_params": CATBOOST, "early_stopping_rounds": 5}
MLP = {"hidden_layers": (8,), "epochs": 2, "batch_size": 32, "patience": None}
PHASE_RULE = {"monotone": {"d0": 1}, "hidden_layers": (8,), "epochs": 2, "batch_size": 32}
LAW = {"hidden_layers": (8,), "max_epochs": 2, "batch_size": 32}

# tiny hyper-parameters of every registered model: a model registered without an entry here fails below
TINY = {
    ("baseline", "dummy"): {"strategy": "mean"},
    ("baseline", "erm"): {**CATBOOST, "verbose": False, "allow_writing_files": False},
    **{
        ("transfer", name): TRANSFER
        for name in ("erm", "erm_hurdle", "lookup", "stack", "lookup_stack", "lookup_stack_hurdle", "delta")
    },
    ("transfer", "warm_start"): TRANSFER,
    ("transfer", "finetune_mlp"): {"mlp_params": {"head_epochs": 1, "full_epochs": 1, "batch_size": 16}},
    ("robust", "erm_mlp"): MLP,
    ("robust", "dann"): MLP,
    ("robust", "group_dro"): MLP,
    ("robust", "deep_ensemble"): {"n_members": 2, "mlp_params": MLP},
    ("robust", "importance_weighting"): {"base_params": {"catboost_params": CATBOOST}},
    ("robust", "catboost_uncertainty"): {"catboost_params": CATBOOST, "virtual_ensembles_count": 2},
    ("robust", "coral"): {"catboost_params": CATBOOST},
    ("physics", "catboost_monotonic"): {"monotone": {"d0": 1}, "catboost_params": CATBOOST},
    ("physics", "phase_rule_mlp"): PHASE_RULE,
    ("physics", "phase_rule_mlp_unconstrained"): PHASE_RULE,
    ("physics", "vtf"): LAW,
    ("physics", "arrhenius"): LAW,
}


@pytest.fixture(scope="module")
def frame():
    """Labelled source rows then unlabelled target rows (y NaN), with every column some family reads:
    descriptors, the transfer source columns and a temperature for the conductivity laws."""
    rng = np.random.default_rng(0)
    n = N_SOURCE + N_TARGET
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["d0", "d1"])
    X.loc[N_SOURCE:, "d0"] += 1.0  # the target domain is shifted
    X["temperature_K"] = rng.uniform(260.0, 340.0, n)
    X["inverse_temperature_1000_per_K"] = 1000.0 / X["temperature_K"]
    truth = np.clip(1.0 + X["d0"].to_numpy(), 0.0, None)  # some rows at the floor (the hurdle's metals)
    for column in ("source_gap_min", "source_gap_median", "source_gap_max", "source_model_catboost"):
        X[column] = truth + rng.normal(scale=0.1, size=n)
    X["source_polymorph_count"] = 1.0
    X["source_model_catboost_std"] = 0.1
    X["source_model_mlp"] = truth
    domains = np.r_[np.zeros(N_SOURCE, dtype=int), np.ones(N_TARGET, dtype=int)]
    y = np.where(domains == 0, truth, np.nan)
    groups = np.array([f"C{i // 2}" for i in range(n)])  # two rows per composition
    return X, y, domains, groups


@pytest.fixture(scope="module")
def source(frame):
    """Fitted source models on the descriptors, as the pretrain stage hands them to warm_start and
    finetune_mlp."""
    X, y, domains, _ = frame
    design, labels = X.loc[domains == 0, descriptor_columns(X)], y[domains == 0]
    catboost = CatBoostRegressor(iterations=10, depth=2, verbose=False, allow_writing_files=False)
    mlp = MLPRegressor(hidden_layers=(8,), epochs=2, batch_size=32)
    return {"catboost": catboost.fit(design, labels), "mlp": mlp.fit(design, labels)}


def every_registered() -> list[tuple[str, str]]:
    return [(family, name) for family in FAMILIES for name in registered(family)]


def test_every_registered_model_has_tiny_test_params():
    assert set(every_registered()) == set(TINY)


@pytest.mark.parametrize(("family", "name"), sorted(TINY), ids=lambda value: str(value))
def test_every_registered_model_builds_clones_fits_with_domains_and_groups_and_predicts(
    frame, source, family, name
):
    X, y, domains, groups = frame
    model = build_estimator(family, name, TINY[family, name], clip=CLIP, source=source)
    copy = clone(model)
    with pytest.raises(NotFittedError):  # nothing learned before fit
        check_is_fitted(copy)
    assert copy.fit(X, y, domains=domains, groups=groups) is copy
    prediction = copy.predict(X)
    assert prediction.shape == (len(X),) and np.isfinite(prediction).all()
    with pytest.raises(NotFittedError):  # fitting the clone left the original alone
        check_is_fitted(model)


def test_the_old_names_are_views_onto_the_one_registry():
    assert list(MODEL_REGISTRY) == list(registered("baseline"))
    assert list(ROBUST_MODELS) == list(registered("robust"))
    assert list(STRATEGIES) == list(registered("transfer"))
    assert set(alloys.PHYSICS_MODELS) | set(electrolyte_physics.PHYSICS_MODELS) == set(registered("physics"))
    assert registered_model("robust", "dann").domain_aware
    assert not registered_model("transfer", "erm").domain_aware  # an erm in two families: by family
    # the old builders hand back the bare estimator, the new one the same estimator behind the adapter
    assert type(build_model("erm")).__name__ == "CatBoostRegressor"
    assert type(build_estimator("baseline", "erm").estimator).__name__ == "CatBoostRegressor"
    old, new = build_robust_model("group_dro", MLP, CLIP), build_estimator("robust", "group_dro", MLP)
    assert type(old) is type(new) and type(old.estimator) is type(new.estimator)
    assert old.estimator.get_params() == new.estimator.get_params()


def _source_rows(frame):
    X, y, domains, groups = frame
    keep = domains == 0
    return X[keep], y[keep], groups[keep]


def _same_predictions(old, new, frame, **old_fit):
    X, y, domains, groups = frame
    X_source, y_source, _ = _source_rows(frame)
    old.fit(X_source, y_source, **old_fit)
    new.fit(X, y, domains=domains, groups=groups)
    np.testing.assert_array_equal(old.predict(X), new.predict(X))


def test_old_and_new_builders_predict_identically_baseline(frame):
    params = TINY["baseline", "erm"]
    _same_predictions(build_model("erm", params), build_estimator("baseline", "erm", params), frame)


def test_old_and_new_builders_predict_identically_transfer(frame, source):
    params, groups = TINY["transfer", "warm_start"], _source_rows(frame)[2]
    old = build_strategy("warm_start", source, params, CLIP)
    new = build_estimator("transfer", "warm_start", params, clip=CLIP, source=source)
    _same_predictions(old, new, frame, groups=groups)  # the finetune stage's call
    assert source["catboost"].tree_count_ == 10  # the source model is not modified


def test_old_and_new_builders_predict_identically_robust(frame):
    X, y, domains, groups = frame
    params = TINY["robust", "erm_mlp"]
    old = build_robust_model("erm_mlp", params, CLIP).fit(X, y, domains=domains, groups=groups)
    new = build_estimator("robust", "erm_mlp", params, clip=CLIP).fit(X, y, domains=domains, groups=groups)
    np.testing.assert_array_equal(old.predict(X), new.predict(X))


@pytest.mark.parametrize(("module", "name"), [(alloys, "phase_rule_mlp"), (electrolyte_physics, "vtf")])
def test_old_and_new_builders_predict_identically_physics(frame, module, name):
    params = TINY["physics", name]
    old_fit = {"groups": _source_rows(frame)[2]} if name == "phase_rule_mlp" else {}  # the case study's call
    old, new = module.PHYSICS_MODELS[name](params), build_estimator("physics", name, params)
    _same_predictions(old, new, frame, **old_fit)


def test_a_clone_keeps_the_fitted_source_model(frame, source):
    """sklearn's clone would reset warm_start's init_model to an unfitted CatBoost; the adapter's does not."""
    X, y, domains, groups = frame
    model = build_estimator(
        "transfer", "warm_start", TINY["transfer", "warm_start"], clip=CLIP, source=source
    )
    copy = clone(model)
    assert copy.estimator.init_model.tree_count_ == 10
    model.fit(X, y, domains=domains, groups=groups)
    copy.fit(X, y, domains=domains, groups=groups)
    np.testing.assert_array_equal(model.predict(X), copy.predict(X))


class Recorder(RegressorMixin, BaseEstimator):
    """Remembers what its fit was given; predicts zeros."""

    def fit(self, X, y, groups=None, sample_weight=None):
        self.given_ = {"X": X, "y": y, "groups": groups, "sample_weight": sample_weight}
        return self

    def predict(self, X):
        return np.zeros(len(X))


class NoGroups(Recorder):
    def fit(self, X, y):
        self.given_ = {"X": X, "y": y}
        return self


def test_the_adapter_fits_on_the_source_rows_and_passes_their_groups_and_weights():
    X = pd.DataFrame({"a": np.arange(5.0)})
    y, domains = np.array([1.0, 2.0, np.nan, 4.0, np.nan]), np.array([0, 0, 1, 0, 1])
    groups, weights = np.array(list("ppqrs")), np.arange(5.0)
    adapter = SourceRowsAdapter(Recorder())
    given = adapter.fit(X, y, domains=domains, groups=groups, sample_weight=weights).estimator_.given_
    assert list(given["X"].index) == [0, 1, 3] and list(given["y"]) == [1.0, 2.0, 4.0]
    assert list(given["groups"]) == ["p", "p", "r"] and list(given["sample_weight"]) == [0.0, 1.0, 3.0]
    assert not hasattr(adapter.estimator, "given_")  # a copy was fitted
    # an estimator without groups gets none, and no error
    given = SourceRowsAdapter(NoGroups()).fit(X, y, domains=domains, groups=groups).estimator_.given_
    assert set(given) == {"X", "y"} and len(given["X"]) == 3
    # without domains every row reaches the estimator as it is
    given = SourceRowsAdapter(Recorder()).fit(X, y, groups=groups).estimator_.given_
    assert given["X"] is X and given["y"] is y and given["groups"] is groups


def test_unknown_names_raise_a_key_error_listing_every_family():
    with pytest.raises(KeyError, match="unknown transfer model 'nope'") as raised:
        build_estimator("transfer", "nope")
    for family in FAMILIES:
        assert f"{family}: {sorted(registered(family))}" in str(raised.value)
    with pytest.raises(KeyError, match="unknown model family 'boosting'"):
        build_estimator("boosting", "erm")
    # the old builders keep their messages
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        build_model("nope")
    with pytest.raises(KeyError, match="unknown robust model 'nope'"):
        build_robust_model("nope", {}, CLIP)


def test_a_name_registered_by_another_module_is_refused(monkeypatch):
    monkeypatch.setitem(model_registry._ENTRIES, "physics", dict(registered("physics")))
    with pytest.raises(ValueError, match="'vtf' is registered by matshift.casestudies.electrolyte_physics"):
        model_registry.register_models("physics", {"vtf": lambda params, clip, source: Recorder([])})
