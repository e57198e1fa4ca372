"""Density ratio p_target(x) / p_source(x) from a probabilistic domain classifier.

Bayes: p_t(x) / p_s(x) = [P(t | x) / P(s | x)] * [n_s / n_t] for a classifier trained on n_s source
and n_t target rows (Bickel et al. 2009; Sugiyama et al. 2012). A logistic regression on the
standardised descriptors keeps the ratio smooth; extreme ratios are clipped (a handful of rows must
not carry the whole weight) and the source weights renormalised to mean 1. ``power`` < 1 flattens
the ratio (Shimodaira 2000's w^lambda): a little bias for much less variance when the domains
barely overlap (a held-out cluster). skada's ``DiscriminatorReweightAdapter`` does the same inside
its pipelines, but the weighted conformal intervals and the OOD flag need the ratio and the
classifier themselves, so they live here.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

SOURCE, TARGET = 0, 1


class DomainClassifierDensityRatio(BaseEstimator):
    """``fit(X, domains)`` with domains 0 (source) / 1 (target); ``ratio(X)`` = clipped p_t / p_s."""

    def __init__(
        self,
        C: float = 0.1,
        clip: tuple[float, float] = (0.05, 20.0),
        power: float = 1.0,
        max_iter: int = 2000,
    ):
        self.C = C
        self.clip = clip
        self.power = power
        self.max_iter = max_iter

    def fit(self, X, domains) -> DomainClassifierDensityRatio:
        domains = np.asarray(domains)
        if set(np.unique(domains)) != {SOURCE, TARGET}:
            raise ValueError("domains must contain both source (0) and target (1) rows")
        self.classifier_ = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter),
        ).fit(X, domains)
        self.prior_odds_ = float((domains == SOURCE).sum() / (domains == TARGET).sum())
        source_ratio = self._raw_ratio(X[domains == SOURCE])
        self.normaliser_ = float(np.mean(np.clip(source_ratio, *self.clip)))
        return self

    def target_probability(self, X) -> np.ndarray:
        """P(target | x): how unlike the training inputs a row looks (an OOD score in [0, 1])."""
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(X)[:, 1]

    def _raw_ratio(self, X) -> np.ndarray:
        p = np.clip(self.target_probability(X), 1e-6, 1 - 1e-6)
        return (p / (1 - p) * self.prior_odds_) ** self.power

    def ratio(self, X) -> np.ndarray:
        """Clipped density ratio, scaled so the source rows' weights average 1."""
        return np.clip(self._raw_ratio(X), *self.clip) / self.normaliser_
