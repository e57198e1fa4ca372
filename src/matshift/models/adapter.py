"""The one fit interface, ``fit(X, y, domains=None, groups=None)``, for an estimator that has not got it.

``domains`` marks each row: ``SOURCE`` (0) for labelled training rows, anything else (``TARGET`` = 1)
for unlabelled target rows, whose ``y`` is never read. An estimator that knows no domains learns on the
source rows alone (every row when ``domains`` is None), and gets those rows' ``groups`` where its own
``fit`` takes ``groups`` (CatBoost transfer, the MLPs: whole groups held out for early stopping) and
their ``sample_weight`` when one is given. Without ``domains`` the inputs reach the estimator untouched.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from matshift.robust.density_ratio import SOURCE


def _rows(values: Any, rows: np.ndarray | None) -> Any:
    if rows is None:
        return values
    return values.iloc[rows] if hasattr(values, "iloc") else np.asarray(values)[rows]


class SourceRowsAdapter(RegressorMixin, BaseEstimator):
    """``estimator`` fitted on the source rows, with their ``groups`` where its ``fit`` takes them.

    The estimator is deep-copied (in ``fit`` and by :func:`sklearn.base.clone`), not sklearn-cloned: a
    fitted model among its parameters (``init_model`` of ``warm_start``, ``pretrained`` of
    ``finetune_mlp``) must stay fitted, where ``clone`` would hand back an unfitted copy of it.
    """

    def __init__(self, estimator: BaseEstimator | None = None):
        self.estimator = estimator

    def __sklearn_clone__(self) -> SourceRowsAdapter:
        return type(self)(estimator=copy.deepcopy(self.estimator))

    def fit(
        self, X, y, domains=None, groups=None, sample_weight=None, compositions=None
    ) -> SourceRowsAdapter:
        """``compositions`` reach an estimator whose ``fit`` takes them (early stopping on whole ones)."""
        rows = None if domains is None else np.flatnonzero(np.asarray(domains) == SOURCE)
        estimator = copy.deepcopy(self.estimator)
        keywords = {}
        if groups is not None and has_fit_parameter(estimator, "groups"):
            keywords["groups"] = _rows(groups, rows)
        if compositions is not None and has_fit_parameter(estimator, "compositions"):
            keywords["compositions"] = _rows(compositions, rows)
        if sample_weight is not None:
            keywords["sample_weight"] = _rows(sample_weight, rows)
        estimator.fit(_rows(X, rows), _rows(y, rows), **keywords)
        self.estimator_ = estimator
        return self

    def predict(self, X, return_std: bool = False):
        """The estimator's prediction; with ``return_std``, its ``(prediction, std)`` where it has one."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X, return_std=True) if return_std else self.estimator_.predict(X)
