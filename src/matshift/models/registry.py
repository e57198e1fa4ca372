"""The one model registry: every model a pipeline fits, found by family and name.

Families: ``baseline`` (the train stage's floor and ERM, ``conf/base/parameters_train.yml``),
``transfer`` (fine-tuning strategies, ``parameters_transfer.yml``), ``robust`` (``parameters_robust.yml``)
and ``physics`` (a case study's physics-informed models, ``parameters_case_studies.yml``). An entry's
factory is ``factory(params, clip, source) -> estimator``: ``clip`` the target's valid range,
``source`` a fold's fitted source models (``{"catboost": ..., "mlp": ...}``, transfer only).

:func:`build_estimator` returns an estimator with ``fit(X, y, domains=None, groups=None)`` and
``predict(X)`` for every entry: robust entries take the domains themselves (``domain_aware``), every other
one is wrapped in :class:`~matshift.models.adapter.SourceRowsAdapter`. Adding a model is one factory in
one :func:`register_models` call.

Baselines are registered here; each other family by the module that defines its estimators, imported
on the family's first lookup (so importing this module imports neither torch nor CatBoost). The names
each family had before — ``MODEL_REGISTRY``/``build_model`` here, ``ROBUST_MODELS``/``build_robust_model``,
``STRATEGIES``/``build_strategy``, a case study's ``PHYSICS_MODELS`` — are views onto this registry in the
family's own calling convention, building the bare estimator as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyRegressor

from matshift.models.adapter import SourceRowsAdapter

FAMILIES = ("baseline", "transfer", "robust", "physics")
NO_CLIP = (None, None)
Factory = Callable[[dict[str, Any], tuple, dict[str, Any]], BaseEstimator]


@dataclass(frozen=True)
class RegisteredModel:
    family: str
    name: str
    factory: Factory  # (params, clip, source) -> estimator
    domain_aware: bool = False  # its fit(X, y, domains=, groups=) sees every row; else SourceRowsAdapter


_ENTRIES: dict[str, dict[str, RegisteredModel]] = {family: {} for family in FAMILIES}


def _providers(family: str) -> tuple[str, ...]:
    """Modules whose import registers ``family``'s entries."""
    if family == "physics":  # every case study registers its own
        from matshift.casestudies import CASE_STUDIES

        return tuple(CASE_STUDIES.values())
    return {
        "baseline": (),
        "transfer": ("matshift.transfer.strategies",),
        "robust": ("matshift.robust.registry",),
    }[family]


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise KeyError(f"unknown model family {family!r}; families: {list(FAMILIES)}")


# each family's historical calling convention, for the views below
def _as_baseline(entry: RegisteredModel, **params: Any) -> BaseEstimator:
    return entry.factory(params, NO_CLIP, {})


def _as_robust(entry: RegisteredModel, params: dict[str, Any], clip: tuple) -> BaseEstimator:
    return entry.factory(params, clip, {})


def _as_transfer(
    entry: RegisteredModel, source: dict[str, Any], params: dict[str, Any], clip: tuple
) -> BaseEstimator:
    return entry.factory(params, clip, source)


def _as_physics(entry: RegisteredModel, params: dict[str, Any]) -> BaseEstimator:
    return entry.factory(params, NO_CLIP, {})


_CONVENTIONS = {
    "baseline": _as_baseline,  # factory(**params)
    "robust": _as_robust,  # factory(params, clip)
    "transfer": _as_transfer,  # factory(source, params, clip)
    "physics": _as_physics,  # factory(params)
}


class FamilyView(Mapping):
    """``name -> factory`` of some of a family's entries, each called in the family's old convention."""

    def __init__(self, family: str, names: tuple[str, ...]):
        self.family = family
        self.names = names

    def __getitem__(self, name: str) -> Callable[..., BaseEstimator]:
        if name not in self.names:
            raise KeyError(name)
        return partial(_CONVENTIONS[self.family], _ENTRIES[self.family][name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"FamilyView({self.family!r}, {list(self.names)})"


def register_models(family: str, factories: dict[str, Factory], *, domain_aware: bool = False) -> FamilyView:
    """Register ``name -> factory(params, clip, source)`` under ``family``; returns their view. A name
    registered by another module is an error; the same module registering again (a reload) replaces."""
    _check_family(family)
    for name, factory in factories.items():
        existing = _ENTRIES[family].get(name)
        if existing is not None and existing.factory.__module__ != factory.__module__:
            raise ValueError(
                f"{family} model {name!r} is registered by {existing.factory.__module__} already"
            )
        _ENTRIES[family][name] = RegisteredModel(family, name, factory, domain_aware)
    return FamilyView(family, tuple(factories))


def registered(family: str) -> dict[str, RegisteredModel]:
    """Every entry of ``family`` by name, its registering modules imported first."""
    _check_family(family)
    for module in _providers(family):
        importlib.import_module(module)
    return dict(_ENTRIES[family])


def _names_by_family() -> str:
    listed = []
    for family in FAMILIES:
        try:
            listed.append(f"{family}: {sorted(registered(family))}")
        except ImportError as error:  # a case study with a missing optional dependency
            listed.append(f"{family}: {sorted(_ENTRIES[family])} (not all importable: {error})")
    return "; ".join(listed)


def registered_model(family: str, name: str) -> RegisteredModel:
    """The entry ``family``/``name``; the family's modules are imported only when it is not there yet."""
    _check_family(family)
    if name not in _ENTRIES[family]:
        registered(family)
    if name not in _ENTRIES[family]:
        raise KeyError(f"unknown {family} model {name!r}; registered: {_names_by_family()}")
    return _ENTRIES[family][name]


def build_estimator(
    family: str,
    name: str,
    params: dict[str, Any] | None = None,
    clip: tuple | None = None,
    source: dict[str, Any] | None = None,
) -> BaseEstimator:
    """An unfitted estimator with ``fit(X, y, domains=None, groups=None)`` and ``predict(X)``.

    ``params``: the entry's hyper-parameters (``conf/base/parameters_<stage>.yml`` under its name);
    ``clip``: the target's valid range (transfer and robust entries clip to it); ``source``: the fold's
    fitted source models (``warm_start``, ``finetune_mlp``). Source-only entries are wrapped in
    :class:`SourceRowsAdapter`, which also passes ``sample_weight=`` on."""
    entry = registered_model(family, name)
    clip = NO_CLIP if clip is None else clip
    estimator = entry.factory(params or {}, clip, {} if source is None else source)
    return estimator if entry.domain_aware else SourceRowsAdapter(estimator)


def _catboost_regressor(**params: Any) -> BaseEstimator:
    from catboost import CatBoostRegressor  # heavy import, only when a CatBoost model is built

    return CatBoostRegressor(**params)


# name -> factory(**params): a view onto the registry's baseline family (parameters_train.yml)
MODEL_REGISTRY: Mapping[str, Callable[..., BaseEstimator]] = register_models(
    "baseline",
    {
        # predicts the training mean: the floor every model must beat
        "dummy": lambda params, clip, source: DummyRegressor(**params),
        # empirical risk minimisation on the target-domain data only
        "erm": lambda params, clip, source: _catboost_regressor(**params),
    },
)


def build_model(name: str, params: dict[str, Any] | None = None) -> BaseEstimator:
    """The bare baseline estimator (``fit(X, y)``); :func:`build_estimator` gives the one interface."""
    if name not in MODEL_REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name](**(params or {}))
