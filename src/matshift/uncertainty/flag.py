"""An ``uncertain`` flag learned from held-out errors.

The hand-made OOD score (``matshift.uncertainty.ood``) averages signals with equal weight and raises
the flag at a fixed quantile, whether or not those signals predict errors. Here a small classifier
learns, from rows whose errors were measured out of fold (group-held-out, as the shift a user meets),
which signals do: the model's spread, the distance to the training rows, the domain classifier's
log density ratio, and where the prediction sits in the training target range (errors grow near and
beyond its edges). It learns a ``label`` (e.g. "absolute error above the median"), so its score ranks
errors; its threshold is the most permissive one that keeps the ``miss`` rate (e.g. "outside the
interval") among the unflagged held-out rows at or below ``max_unflagged_miss_rate`` while flagging
at least ``min_flag_rate`` of them, judged on cross-fitted scores (each row scored by a classifier
that did not learn from its inner fold), so the threshold is not set on rows the classifier memorised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

FLAG_FEATURES = ("log_spread", "log_distance", "domain_log_ratio", "target_position", "edge_distance")
FEATURE_REASONS = {
    "log_spread": "the model is unsure (wide spread)",
    "log_distance": "far from every training composition",
    "domain_log_ratio": "looks like the shifted data, not the training data",
    "target_position": "predicted high in the target range, where errors are large",
    "edge_distance": "prediction near or beyond the edge of the training targets",
}
_EPS = 1e-6  # keeps the logs finite for a zero spread or a duplicate row


def flag_features(
    prediction: np.ndarray,
    spread: np.ndarray | None,
    distance: np.ndarray,
    domain_log_ratio: np.ndarray,
    target_range: tuple[float, float],
) -> pd.DataFrame:
    """The flag's inputs per row (a missing spread becomes 0: the classifier learns it carries nothing)."""
    low, high = target_range
    width = max(high - low, _EPS)
    position = (np.asarray(prediction, dtype=float) - low) / width
    spread = np.zeros(len(position)) if spread is None else np.asarray(spread, dtype=float)
    return pd.DataFrame(
        {
            "log_spread": np.log(np.maximum(spread, 0.0) + _EPS),
            "log_distance": np.log(np.asarray(distance, dtype=float) + _EPS),
            "domain_log_ratio": np.asarray(domain_log_ratio, dtype=float),
            "target_position": position,
            "edge_distance": np.minimum(position, 1 - position),
        }
    )


def unflagged_miss_threshold(score: np.ndarray, miss: np.ndarray, max_miss_rate: float) -> float:
    """The largest threshold t such that rows with score <= t (the unflagged ones) miss at most
    ``max_miss_rate`` of the time; -inf (flag everything) when even the most certain row misses."""
    order = np.argsort(score, kind="stable")
    sorted_score, sorted_miss = np.asarray(score, dtype=float)[order], np.asarray(miss, dtype=bool)[order]
    miss_rate = np.cumsum(sorted_miss) / np.arange(1, len(order) + 1)
    # only cut between distinct scores, so every row with one score falls on one side
    distinct = np.r_[sorted_score[1:] > sorted_score[:-1], True]
    allowed = np.flatnonzero((miss_rate <= max_miss_rate) & distinct)
    return float(sorted_score[allowed[-1]]) if len(allowed) else float("-inf")


class UncertaintyFlag(BaseEstimator):
    """``fit(features, label, folds, miss)`` / ``predict_proba(features)`` (P(label)) /
    ``predict(features)`` (the flag) / ``reasons(features)`` (the feature that pushes a row's score up
    most, in words).

    ``label``: what the score learns (e.g. a large absolute error); ``miss``: what the threshold bounds
    among unflagged rows (e.g. outside the interval; ``label`` when None); ``folds``: the inner fold of
    each row, for the cross-fitted threshold."""

    def __init__(
        self,
        max_unflagged_miss_rate: float = 0.12,
        min_flag_rate: float = 0.1,
        C: float = 1.0,
        max_iter: int = 1000,
    ):
        self.max_unflagged_miss_rate = max_unflagged_miss_rate
        self.min_flag_rate = min_flag_rate
        self.C = C
        self.max_iter = max_iter

    def _classifier(self):
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter),
        )

    def _fit_one(self, features: pd.DataFrame, miss: np.ndarray):
        if miss.all() or not miss.any():  # one class: a constant score, the observed miss rate
            return float(miss.mean())
        return self._classifier().fit(features, miss)

    @staticmethod
    def _score(fitted, features: pd.DataFrame) -> np.ndarray:
        if isinstance(fitted, float):
            return np.full(len(features), fitted)
        return fitted.predict_proba(features)[:, 1]

    def fit(
        self,
        features: pd.DataFrame,
        label: np.ndarray,
        folds: np.ndarray | None = None,
        miss: np.ndarray | None = None,
    ) -> UncertaintyFlag:
        features = features[list(FLAG_FEATURES)]
        label = np.asarray(label, dtype=bool)
        miss = label if miss is None else np.asarray(miss, dtype=bool)
        folds = np.zeros(len(label), dtype=int) if folds is None else np.asarray(folds)
        cross_fitted = np.empty(len(label))
        for fold in np.unique(folds):
            held_out = folds == fold
            trained = self._fit_one(features[~held_out], label[~held_out]) if (~held_out).any() else 0.0
            cross_fitted[held_out] = self._score(trained, features[held_out])
        self.threshold_ = min(
            unflagged_miss_threshold(cross_fitted, miss, self.max_unflagged_miss_rate),
            float(np.quantile(cross_fitted, 1 - self.min_flag_rate)),
        )
        self.held_out_miss_rate_ = float(miss.mean())
        self.held_out_flag_rate_ = float(np.mean(cross_fitted > self.threshold_))
        unflagged = cross_fitted <= self.threshold_
        self.held_out_unflagged_miss_rate_ = (
            float(miss[unflagged].mean()) if unflagged.any() else float("nan")
        )
        self.classifier_ = self._fit_one(features, label)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self._score(self.classifier_, features[list(FLAG_FEATURES)])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(features) > self.threshold_

    def reasons(self, features: pd.DataFrame) -> np.ndarray:
        """Per row, the feature with the largest positive contribution to the logit, in words."""
        check_is_fitted(self, "classifier_")
        if isinstance(self.classifier_, float):
            return np.full(
                len(features), "held-out rows missed at this rate whatever their inputs", dtype=object
            )
        imputer, scaler, logistic = (
            self.classifier_.steps[0][1],
            self.classifier_.steps[1][1],
            self.classifier_[-1],
        )
        standardised = scaler.transform(imputer.transform(features[list(FLAG_FEATURES)]))
        contribution = standardised * logistic.coef_[0]
        return np.array(
            [FEATURE_REASONS[FLAG_FEATURES[i]] for i in contribution.argmax(axis=1)], dtype=object
        )
