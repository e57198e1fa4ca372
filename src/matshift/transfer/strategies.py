"""Fine-tuning strategies, found by name: each a scikit-learn-style estimator on the target domain.

Every strategy receives the same design matrix — the composition descriptors plus the source columns
(looked-up DFT values ``source_gap_*`` and cross-fitted source-model outputs ``source_model_*``) — and
picks the columns it is allowed to use, so the training loop never changes. ``groups=`` (the
composition of each row) keeps the inner validation split free of composition leakage.
Hyper-parameters are chosen inside the training fold only: the number of boosting rounds by early
stopping on an inner, composition-grouped validation split, then a refit on the whole training fold.
The strategies are the ``transfer`` family of the one registry, :mod:`matshift.models.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GroupShuffleSplit

from matshift.models.registry import register_models
from matshift.transfer.finetune_mlp import FineTunedMLP
from matshift.transfer.source import LOOKUP_COLUMNS

SOURCE_MODEL_COLUMNS = ("source_model_catboost", "source_model_catboost_std", "source_model_mlp")
SOURCE_COLUMNS = (*LOOKUP_COLUMNS, *SOURCE_MODEL_COLUMNS)
DEFAULT_CATBOOST = {
    "iterations": 1500,
    "learning_rate": 0.05,
    "depth": 6,
    "loss_function": "RMSE",
    "thread_count": 2,
    "allow_writing_files": False,
    "verbose": False,
}


def descriptor_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if c not in SOURCE_COLUMNS and c != "in_source"]


def without_source_inputs(params: Any) -> Any:
    """``params`` (nested) with every model told not to read source-domain columns (``use_lookup``,
    ``use_source_model``, ``residual_of``): how a dataset without a transfer source runs the same models
    on its descriptors and process columns alone."""
    if isinstance(params, dict):
        switched = {"use_lookup": False, "use_source_model": False, "residual_of": None}
        return {k: switched[k] if k in switched else without_source_inputs(v) for k, v in params.items()}
    if isinstance(params, list):
        return [without_source_inputs(v) for v in params]
    return params


def inner_split(
    n_rows: int, groups: Any, fraction: float, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train / validation rows inside a training fold, grouped so no composition is on both sides.

    With a single group (e.g. a process-shift fold trains on one route) rows are split one by one."""
    groups = np.arange(n_rows) if groups is None or len(np.unique(groups)) < 2 else np.asarray(groups)
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=random_state)
    return next(splitter.split(np.zeros(n_rows), groups=groups))


class CatBoostTransfer(RegressorMixin, BaseEstimator):
    """CatBoost on the descriptors plus the allowed source columns, optionally on a residual.

    ``use_lookup``: looked-up DFT gaps of the same composition (min / median / max / count).
    ``use_source_model``: cross-fitted source-model predictions and their uncertainty.
    ``residual_of``: learn ``target - X[residual_of]`` and add it back (the ``delta`` strategy).
    ``init_model``: a fitted CatBoost model to continue boosting from (the ``warm_start`` strategy).
    ``hurdle``: for a target piled up at its floor ``clip[0]`` (half of the experimental band gaps
    are exactly 0: metals), a classifier decides "above the floor or not" and a regressor trained on
    the rows above the floor gives the value; the prediction is the floor where the classifier says
    P(above) < 0.5. That is the conditional median the MAE rewards, where a single regressor
    averages metals and semiconductors into a small positive gap that is wrong for both.
    """

    def __init__(
        self,
        use_lookup: bool = False,
        use_source_model: bool = False,
        residual_of: str | None = None,
        init_model: Any = None,
        hurdle: bool = False,
        catboost_params: dict[str, Any] | None = None,
        validation_fraction: float = 0.15,
        early_stopping_rounds: int = 100,
        clip: tuple[float | None, float | None] = (None, None),
        random_state: int = 0,
    ):
        self.use_lookup = use_lookup
        self.use_source_model = use_source_model
        self.residual_of = residual_of
        self.init_model = init_model
        self.hurdle = hurdle
        self.catboost_params = catboost_params
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.clip = clip
        self.random_state = random_state

    def _columns(self, X: pd.DataFrame) -> list[str]:
        columns = descriptor_columns(X)
        if self.use_lookup:
            columns += list(LOOKUP_COLUMNS)
        if self.use_source_model:
            columns += list(SOURCE_MODEL_COLUMNS)
        return columns

    def _offset(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.residual_of].to_numpy(dtype=float) if self.residual_of else np.zeros(len(X))

    def _floor(self) -> float:
        if self.clip[0] is None:
            raise ValueError("hurdle=True needs the target's floor as clip=(floor, ceiling)")
        return float(self.clip[0])

    def _early_stopped(
        self,
        estimator: type,
        params: dict[str, Any],
        design: pd.DataFrame,
        target: np.ndarray,
        groups: Any,
        weight: np.ndarray,
        init_model: Any = None,
    ) -> tuple[Any, int]:
        """Trees chosen by early stopping on an inner grouped split, then a refit on every row."""
        inner_train, inner_val = inner_split(len(design), groups, self.validation_fraction, self.random_state)
        probe = estimator(**params)
        probe.fit(
            design.iloc[inner_train],
            target[inner_train],
            sample_weight=weight[inner_train],
            eval_set=(design.iloc[inner_val], target[inner_val]),
            early_stopping_rounds=self.early_stopping_rounds,
            init_model=init_model,
        )
        best_iteration = int(probe.get_best_iteration() or 0) + 1
        # The source model's own trees count in best_iteration when warm-starting.
        extra = init_model.tree_count_ if init_model is not None else 0
        n_new_trees = max(best_iteration - extra, 1)
        model = estimator(**{**params, "iterations": n_new_trees})
        model.fit(design, target, sample_weight=weight, init_model=init_model)
        return model, n_new_trees

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None, sample_weight: Any = None) -> CatBoostTransfer:
        from catboost import CatBoostClassifier, CatBoostRegressor

        self.columns_ = self._columns(X)
        design = X[self.columns_]
        y = np.asarray(y, dtype=float)
        groups = np.arange(len(X)) if groups is None else np.asarray(groups)
        weight = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        params = {**DEFAULT_CATBOOST, **(self.catboost_params or {}), "random_seed": self.random_state}
        regressed = np.ones(len(X), dtype=bool)
        self.classifier_ = None
        above = (y > self._floor()).astype(int) if self.hurdle else None
        # a target with nothing at its floor (a yield strength, a conductivity) has no hurdle to learn:
        # a one-class classifier is an error in CatBoost, and every row is regressed
        if self.hurdle and 0 < above.sum() < len(above):
            classifier_params = {**params, "loss_function": "Logloss"}
            self.classifier_, _ = self._early_stopped(
                CatBoostClassifier, classifier_params, design, above, groups, weight
            )
            regressed = above.astype(bool)
        residual = y - self._offset(X)
        self.model_, self.n_new_trees_ = self._early_stopped(
            CatBoostRegressor,
            params,
            design[regressed],
            residual[regressed],
            groups[regressed],
            weight[regressed],
            self.init_model,
        )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        design = X[self.columns_]
        prediction = self.model_.predict(design) + self._offset(X)
        if self.classifier_ is not None:
            above = self.classifier_.predict_proba(design)[:, 1] >= 0.5
            prediction = np.where(above, prediction, self._floor())
        return np.clip(prediction, *self.clip)


class FineTunedMLPTransfer(RegressorMixin, BaseEstimator):
    """The pretrained source MLP fine-tuned on the target descriptors (see FineTunedMLP's schedule)."""

    def __init__(
        self,
        pretrained: Any = None,
        mlp_params: dict[str, Any] | None = None,
        clip: tuple[float | None, float | None] = (None, None),
        random_state: int = 0,
    ):
        self.pretrained = pretrained
        self.mlp_params = mlp_params
        self.clip = clip
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> FineTunedMLPTransfer:
        self.columns_ = descriptor_columns(X)
        self.model_ = FineTunedMLP(
            pretrained=self.pretrained, random_state=self.random_state, **(self.mlp_params or {})
        )
        self.model_.fit(X[self.columns_], np.asarray(y, dtype=float), groups=groups)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.clip(self.model_.predict(X[self.columns_]), *self.clip)


# name -> factory(source models of the fold, strategy params, clip range): a view onto the one registry's
# transfer family (matshift.models.registry). Adding a strategy is one line.
STRATEGIES: Mapping[str, Callable[..., BaseEstimator]] = register_models(
    "transfer",
    {
        # experiment only, no source (the train pipeline's `erm` is this model with fixed trees)
        "erm": lambda params, clip, source: CatBoostTransfer(clip=clip, **params),
        # the hurdle alone, without the source: how much of a hurdle strategy's gain is not transfer
        "erm_hurdle": lambda params, clip, source: CatBoostTransfer(hurdle=True, clip=clip, **params),
        "lookup": lambda params, clip, source: CatBoostTransfer(use_lookup=True, clip=clip, **params),
        "stack": lambda params, clip, source: CatBoostTransfer(use_source_model=True, clip=clip, **params),
        "lookup_stack": lambda params, clip, source: CatBoostTransfer(
            use_lookup=True, use_source_model=True, clip=clip, **params
        ),
        "lookup_stack_hurdle": lambda params, clip, source: CatBoostTransfer(
            use_lookup=True, use_source_model=True, hurdle=True, clip=clip, **params
        ),
        "delta": lambda params, clip, source: CatBoostTransfer(
            use_source_model=True, residual_of="source_model_catboost", clip=clip, **params
        ),
        "warm_start": lambda params, clip, source: CatBoostTransfer(
            init_model=source["catboost"], clip=clip, **params
        ),
        "finetune_mlp": lambda params, clip, source: FineTunedMLPTransfer(
            pretrained=source["mlp"], clip=clip, **params
        ),
    },
)

# Strategies whose inputs change when the fold's test compositions are removed from the source: the
# lookups, and the source-model columns too (training rows' predictions and every row's fold spread
# come from models that saw the test compositions).
USES_SOURCE_ENTRIES = {
    "lookup",
    "stack",
    "lookup_stack",
    "lookup_stack_hurdle",
    "delta",
    "warm_start",
    "finetune_mlp",
}


def build_strategy(name: str, source: dict[str, Any], params: dict[str, Any], clip: tuple) -> BaseEstimator:
    if name not in STRATEGIES:
        raise KeyError(f"unknown transfer strategy {name!r}; registered: {sorted(STRATEGIES)}")
    return STRATEGIES[name](source, params or {}, clip)
