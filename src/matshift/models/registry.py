"""Model registry: a name in configuration -> a scikit-learn-style estimator factory.

Adding a model is one factory and one line here; training and evaluation never change. The
hyper-parameters come from ``conf/base/parameters_train.yml`` under the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyRegressor


def _catboost_regressor(**params: Any) -> BaseEstimator:
    from catboost import CatBoostRegressor  # heavy import, only when a CatBoost model is built

    return CatBoostRegressor(**params)


MODEL_REGISTRY: dict[str, Callable[..., BaseEstimator]] = {
    "dummy": DummyRegressor,  # predicts the training mean: the floor every model must beat
    "erm": _catboost_regressor,  # empirical risk minimisation on the target-domain data only
}


def build_model(name: str, params: dict[str, Any] | None = None) -> BaseEstimator:
    if name not in MODEL_REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](**(params or {}))
