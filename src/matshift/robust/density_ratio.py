"""Density ratio p_target(x) / p_source(x) from a probabilistic domain classifier.

Bayes: p_t(x) / p_s(x) = [P(t | x) / P(s | x)] * [n_s / n_t] for a classifier trained on n_s source
and n_t target rows (Bickel et al. 2009; Sugiyama et al. 2012). A logistic regression on the
standardised descriptors keeps the ratio smooth; extreme ratios are clipped (a handful of rows must
not carry the whole weight) and the source weights renormalised to mean 1. ``power`` < 1 flattens
the ratio (Shimodaira 2000's w^lambda): a little bias for much less variance when the domains
barely overlap (a held-out cluster). skada's ``DiscriminatorReweightAdapter`` does the same inside
its pipelines, but the weighted conformal intervals and the OOD flag need the ratio and the
classifier themselves, so they live here.

With ``groups`` (each row's composition), the weights of the fitting source rows are cross-fitted: a
row's ratio comes from a classifier fitted on folds that hold none of its group's rows, so a
composition never sits on both sides (an in-sample probability rewards the classifier for
memorising a composition and over-weights it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

SOURCE, TARGET = 0, 1


class DomainClassifierDensityRatio(BaseEstimator):
    """``fit(X, domains, groups=None)`` with domains 0 (source) / 1 (target); ``ratio(X)`` = clipped
    p_t / p_s; ``source_ratio_``: the fitting source rows' weights (out of fold when grouped)."""

    def __init__(
        self,
        C: float = 0.1,
        clip: tuple[float, float] = (0.05, 20.0),
        power: float = 1.0,
        max_iter: int = 2000,
        n_folds: int = 5,
    ):
        self.C = C
        self.clip = clip
        self.power = power
        self.max_iter = max_iter
        self.n_folds = n_folds

    def _fit_classifier(self, X, domains: np.ndarray):
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter),
        ).fit(X, domains)

    def fit(self, X, domains, groups=None) -> DomainClassifierDensityRatio:
        domains = np.asarray(domains)
        if set(np.unique(domains)) != {SOURCE, TARGET}:
            raise ValueError("domains must contain both source (0) and target (1) rows")
        self.classifier_ = self._fit_classifier(X, domains)
        self.prior_odds_ = _prior_odds(domains)
        source = domains == SOURCE
        if groups is None:
            source_ratio = self._raw_ratio(_rows(X, source))
        else:
            source_ratio = self._out_of_fold_raw_ratio(X, domains, np.asarray(groups))[source]
        clipped = np.clip(source_ratio, *self.clip)
        self.normaliser_ = float(np.mean(clipped))
        self.source_ratio_ = clipped / self.normaliser_
        return self

    def _out_of_fold_raw_ratio(self, X, domains: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Each row's raw ratio from a classifier that saw no row of its group."""
        n_folds = min(self.n_folds, len(np.unique(groups)))
        if n_folds < 2:
            raise ValueError(f"density ratio: cross-fitting needs at least 2 groups, got {n_folds}")
        raw = np.empty(len(domains))
        for fitted, held_out in GroupKFold(n_splits=n_folds).split(np.zeros(len(domains)), groups=groups):
            if set(np.unique(domains[fitted])) != {SOURCE, TARGET}:
                raise ValueError(
                    "density ratio: a cross-fitting fold has no source or no target rows left; "
                    "lower n_folds or pass more target rows"
                )
            classifier = self._fit_classifier(_rows(X, fitted), domains[fitted])
            p = np.clip(classifier.predict_proba(_rows(X, held_out))[:, 1], 1e-6, 1 - 1e-6)
            raw[held_out] = (p / (1 - p) * _prior_odds(domains[fitted])) ** self.power
        return raw

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


def fit_source_vs_target(source_X, target_X, params: dict | None = None) -> DomainClassifierDensityRatio:
    """The density ratio of ``target_X``'s inputs to ``source_X``'s (both DataFrames).

    ``params``: the estimator's parameters, and optionally ``max_target_rows``: at most that many target
    rows (drawn without replacement, seeded by ``random_state``, default 0) fit the classifier. The
    prior-odds correction uses the rows it saw, so the ratio estimates the same p_t / p_s; a 50,000-row
    plant batch then costs the memory and time of a small one."""
    params = dict(params or {})
    max_target_rows = params.pop("max_target_rows", None)
    random_state = params.pop("random_state", 0)
    if max_target_rows is not None and len(target_X) > max_target_rows:
        chosen = np.random.default_rng(random_state).choice(len(target_X), max_target_rows, replace=False)
        target_X = target_X.iloc[np.sort(chosen)]
    domains = np.r_[np.full(len(source_X), SOURCE), np.full(len(target_X), TARGET)]
    return DomainClassifierDensityRatio(**params).fit(pd.concat([source_X, target_X]), domains)


def _prior_odds(domains: np.ndarray) -> float:
    return float((domains == SOURCE).sum() / (domains == TARGET).sum())


def _rows(X, index: np.ndarray):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]
