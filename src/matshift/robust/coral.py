"""CORAL (Sun, Feng, Saenko 2016): re-colour the source features to the target covariance, then fit.

Taken from skada (``CORALAdapter`` in a ``make_da_pipeline``), not written here: skada marks target
rows by a negative ``sample_domain`` and a NaN label, which is what this wrapper translates to.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from matshift.robust.density_ratio import SOURCE
from matshift.uncertainty.ensembles import SMALL_CATBOOST

SKADA_SOURCE, SKADA_TARGET = 1, -2  # skada's default domain labels


class CORALRegressor(RegressorMixin, BaseEstimator):
    """``fit(X, y, domains=d)``; a CatBoost regressor on CORAL-aligned, standardised descriptors."""

    def __init__(
        self, catboost_params: dict[str, Any] | None = None, reg: str | float = "auto", random_state: int = 0
    ):
        self.catboost_params = catboost_params
        self.reg = reg
        self.random_state = random_state

    def fit(self, X, y, domains=None, groups=None) -> CORALRegressor:
        from catboost import CatBoostRegressor
        from skada import CORALAdapter, make_da_pipeline

        domains = np.zeros(len(X), dtype=int) if domains is None else np.asarray(domains)
        source = domains == SOURCE
        params = {
            **SMALL_CATBOOST,
            **(self.catboost_params or {}),
            "random_seed": self.random_state,
        }
        self.pipeline_ = make_da_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            CORALAdapter(reg=self.reg),
            CatBoostRegressor(**params),
        )
        labels = np.where(source, np.asarray(y, dtype=float), np.nan)
        self.pipeline_.fit(
            np.asarray(X, dtype=float), labels, sample_domain=np.where(source, SKADA_SOURCE, SKADA_TARGET)
        )
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        # without sample_domain, skada treats the rows as target rows: CORAL leaves them as they are
        return np.asarray(self.pipeline_.predict(np.asarray(X, dtype=float)), dtype=float)
