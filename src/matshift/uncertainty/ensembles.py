"""Models that say how sure they are: a deep ensemble of MLPs and CatBoost's own uncertainty.

Both follow scikit-learn's ``predict(X, return_std=True)`` (as GaussianProcessRegressor does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from matshift.models.mlp import MLPRegressor

# CatBoost settings shared by the robust stage's quick CatBoost models (quantiles, CORAL)
SMALL_CATBOOST = {
    "iterations": 600,
    "learning_rate": 0.08,
    "depth": 6,
    "border_count": 64,
    "thread_count": 2,
    "verbose": False,
    "allow_writing_files": False,
}


class DeepEnsembleRegressor(RegressorMixin, BaseEstimator):
    """``n_members`` MLPs that differ only in their seed (Lakshminarayanan et al. 2017).

    The spread of the members is the model's (epistemic) uncertainty: members agree where the
    training data pin the function down and disagree away from it, which is what an out-of-
    distribution flag needs.
    """

    def __init__(self, n_members: int = 5, mlp_params: dict[str, Any] | None = None, random_state: int = 0):
        self.n_members = n_members
        self.mlp_params = mlp_params
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None, groups=None) -> DeepEnsembleRegressor:
        """``groups``: each row's composition or leakage key; every member early-stops on whole ones."""
        if self.n_members < 2:
            raise ValueError("an ensemble needs at least 2 members to have a spread")
        params = dict(self.mlp_params or {})
        self.members_ = [
            MLPRegressor(**{**params, "random_state": self.random_state + member}).fit(
                X, y, sample_weight, groups=groups
            )
            for member in range(self.n_members)
        ]
        return self

    def predict(self, X, return_std: bool = False):
        check_is_fitted(self, "members_")
        predictions = np.stack([member.predict(X) for member in self.members_])
        mean = predictions.mean(axis=0)
        return (mean, predictions.std(axis=0, ddof=1)) if return_std else mean


class CatBoostUncertaintyRegressor(RegressorMixin, BaseEstimator):
    """CatBoost with ``RMSEWithUncertainty`` (a mean and a data-noise variance per row) and virtual
    ensembles (Malinin et al. 2021) for the knowledge uncertainty; ``return_std`` gives
    sqrt(data variance + knowledge variance)."""

    def __init__(
        self,
        catboost_params: dict[str, Any] | None = None,
        virtual_ensembles_count: int = 10,
        random_state: int = 0,
    ):
        self.catboost_params = catboost_params
        self.virtual_ensembles_count = virtual_ensembles_count
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None) -> CatBoostUncertaintyRegressor:
        from catboost import CatBoostRegressor

        params = {
            "iterations": 800,
            "learning_rate": 0.05,
            "depth": 6,
            "border_count": 64,
            "thread_count": 2,
            "verbose": False,
            "allow_writing_files": False,
            **(self.catboost_params or {}),
            "loss_function": "RMSEWithUncertainty",
            "posterior_sampling": True,
            "random_seed": self.random_state,
        }
        self.model_ = CatBoostRegressor(**params).fit(
            X, np.asarray(y, dtype=float), sample_weight=sample_weight
        )
        return self

    def predict(self, X, return_std: bool = False):
        check_is_fitted(self, "model_")
        virtual = self.model_.virtual_ensembles_predict(
            X, prediction_type="TotalUncertainty", virtual_ensembles_count=self.virtual_ensembles_count
        )
        mean, knowledge, data = virtual[:, 0], virtual[:, 1], virtual[:, 2]
        return (mean, np.sqrt(np.maximum(knowledge + data, 0.0))) if return_std else mean


class CatBoostQuantileRegressor(RegressorMixin, BaseEstimator):
    """One CatBoost model of three conditional quantiles (``MultiQuantile`` loss): the median is the
    point prediction (the MAE-optimal one, 0 for the metals that make half the band gaps), the outer
    two give the band that conformalized quantile regression corrects. ``return_std`` gives the band's
    half-width / z(1 - ``band_alpha`` / 2), a Gaussian-equivalent spread for the flag and the NLL."""

    def __init__(
        self, catboost_params: dict[str, Any] | None = None, band_alpha: float = 0.1, random_state: int = 0
    ):
        self.catboost_params = catboost_params
        self.band_alpha = band_alpha
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None) -> CatBoostQuantileRegressor:
        from catboost import CatBoostRegressor

        low, high = self.band_alpha / 2, 1 - self.band_alpha / 2
        params = {
            **SMALL_CATBOOST,
            **(self.catboost_params or {}),
            "loss_function": f"MultiQuantile:alpha={low:g},0.5,{high:g}",
            "random_seed": self.random_state,
        }
        y = np.asarray(y, dtype=float)
        # CatBoost refuses a constant target (an inner fold of only metals, gap 0): every quantile is it
        self.constant_ = float(y[0]) if np.ptp(y) == 0 else None
        self.model_ = (
            None
            if self.constant_ is not None
            else CatBoostRegressor(**params).fit(X, y, sample_weight=sample_weight)
        )
        return self

    def predict_quantiles(self, X) -> np.ndarray:
        """(n_rows, 3): the low, median and high quantile, sorted per row (no quantile crossing)."""
        check_is_fitted(self, "constant_")
        if self.constant_ is not None:
            return np.full((len(X), 3), self.constant_)
        return np.sort(np.asarray(self.model_.predict(X), dtype=float).reshape(len(X), 3), axis=1)

    def predict(self, X, return_std: bool = False):
        from scipy.stats import norm

        quantiles = self.predict_quantiles(X)
        if not return_std:
            return quantiles[:, 1]
        z = float(norm.ppf(1 - self.band_alpha / 2))
        return quantiles[:, 1], (quantiles[:, 2] - quantiles[:, 0]) / (2 * z)
