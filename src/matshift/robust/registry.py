"""Robust algorithms found by name, DomainBed-style: one interface, one registry line per method.

Every entry builds an estimator with ``fit(X, y, domains=d, groups=g)`` and ``predict(X)``; ``d`` is
0 for labelled source (training) rows and 1 for unlabelled target rows (their ``y`` is NaN and never
read), ``g`` the declared group of each row. Methods that use neither simply ignore them
(:class:`SourceOnly`). Hyper-parameters come from ``conf/base/parameters_robust.yml`` under the name.
The entries are the ``robust`` family of the one registry, :mod:`matshift.models.registry`
(``build_estimator("robust", name, params, clip)`` builds the same estimator as ``build_robust_model``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sklearn.base import BaseEstimator

from matshift.models.adapter import SourceRowsAdapter
from matshift.models.mlp import MLPRegressor
from matshift.models.registry import register_models
from matshift.robust.coral import CORALRegressor
from matshift.robust.dann import DANNRegressor
from matshift.robust.group_dro import GroupDRORegressor
from matshift.robust.importance_weighting import ImportanceWeightedRegressor
from matshift.uncertainty.ensembles import CatBoostUncertaintyRegressor, DeepEnsembleRegressor


class SourceOnly(SourceRowsAdapter):
    """An estimator fitted on the labelled source rows alone (target rows and groups dropped). With
    ``compositions``, an estimator that early-stops (``fit(..., groups=)``) holds out whole ones."""

    def fit(self, X, y, domains=None, groups=None, compositions=None) -> SourceOnly:
        return super().fit(X, y, domains=domains, groups=compositions)


class GroupsOnly(SourceRowsAdapter):
    """Source rows only, passing each row's group (Group DRO is robust over them) and composition (its
    early-stopping rows are whole ones)."""


# name -> factory(params, clip): a view onto the one registry's robust family (matshift.models.registry).
# Adding a robust method is one class and one line here.
ROBUST_MODELS: Mapping[str, Callable[[dict[str, Any], tuple], BaseEstimator]] = register_models(
    "robust",
    {
        "erm_mlp": lambda params, clip, source: SourceOnly(MLPRegressor(**params)),
        "importance_weighting": lambda params, clip, source: ImportanceWeightedRegressor(clip=clip, **params),
        "dann": lambda params, clip, source: DANNRegressor(**params),
        "coral": lambda params, clip, source: CORALRegressor(**params),
        "group_dro": lambda params, clip, source: GroupsOnly(GroupDRORegressor(**params)),
        "deep_ensemble": lambda params, clip, source: SourceOnly(DeepEnsembleRegressor(**params)),
        "catboost_uncertainty": lambda params, clip, source: SourceOnly(
            CatBoostUncertaintyRegressor(**params)
        ),
    },
    domain_aware=True,  # each takes fit(X, y, domains=, groups=) itself
)


def build_robust_model(name: str, params: dict[str, Any] | None, clip: tuple) -> BaseEstimator:
    if name not in ROBUST_MODELS:
        raise KeyError(f"unknown robust model {name!r}; registered: {sorted(ROBUST_MODELS)}")
    return ROBUST_MODELS[name](params or {}, clip)


def supports_std(model: BaseEstimator) -> bool:
    """Whether ``predict(X, return_std=True)`` gives a per-row spread."""
    inner = getattr(model, "estimator", model)
    return isinstance(inner, DeepEnsembleRegressor | CatBoostUncertaintyRegressor)
