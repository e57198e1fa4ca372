"""Importance weighting for covariate shift (Shimodaira 2000): train on the source rows weighted by
the density ratio p_target(x) / p_source(x), so the training loss estimates the target-domain loss."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from matshift.robust.density_ratio import SOURCE, DomainClassifierDensityRatio
from matshift.transfer.strategies import CatBoostTransfer


class ImportanceWeightedRegressor(RegressorMixin, BaseEstimator):
    """``fit(X, y, domains=d, groups=g, compositions=c)``: a domain classifier (source d == 0 vs
    unlabelled target d == 1) gives the clipped density ratio, which weights the source rows of a
    :class:`~matshift.transfer.strategies.CatBoostTransfer` configured by ``base_params``.

    With ``compositions`` (each row's composition, or the splits' leakage key) both inner splits keep a
    composition on one side: the source weights are cross-fitted over composition folds, and the
    CatBoost early-stopping split holds out whole compositions. Without them the early-stopping split
    is grouped by ``groups`` and the weights are in-sample."""

    def __init__(
        self,
        base_params: dict[str, Any] | None = None,
        ratio_params: dict[str, Any] | None = None,
        clip: tuple[float | None, float | None] = (None, None),
        random_state: int = 0,
    ):
        self.base_params = base_params
        self.ratio_params = ratio_params
        self.clip = clip
        self.random_state = random_state

    def fit(self, X, y, domains=None, groups=None, compositions=None) -> ImportanceWeightedRegressor:
        domains = np.zeros(len(X), dtype=int) if domains is None else np.asarray(domains)
        source = domains == SOURCE
        self.density_ratio_ = DomainClassifierDensityRatio(**(self.ratio_params or {})).fit(
            X, domains, groups=compositions
        )
        weights = self.density_ratio_.source_ratio_
        inner_groups = compositions if compositions is not None else groups
        self.model_ = CatBoostTransfer(
            clip=self.clip, random_state=self.random_state, **(self.base_params or {})
        )
        self.model_.fit(
            X[source],
            np.asarray(y, dtype=float)[source],
            groups=None if inner_groups is None else np.asarray(inner_groups)[source],
            sample_weight=weights,
        )
        self.effective_sample_size_ = float(weights.sum() ** 2 / (weights**2).sum())
        return self

    def predict(self, X) -> np.ndarray:
        return self.model_.predict(X)
