"""Failed experiments, censored targets and selection bias.

Published data keep the experiments that worked: a synthesis that failed, a phase that did not form, a
value below the detection limit are missing, and a model trained on what remains learns a biased world.
This module keeps those rows and uses them:

- ``parse_censored_target``: ``<1e-10``, ``>5``, ``below_detection`` become a censored flag and a bound,
  never numbers;
- ``FeasibilityClassifier``: P(success | x), learnt from successes and failures; it can gate the
  property model (``gate_predictions``) and gives the propensity for
- ``inverse_propensity_weights``: labelled rows weighted by 1 / P(labelled | x), so that a fit on the
  labelled rows estimates the population (all rows), not the reported subset;
- ``simulate_selection_bias``: a *simulated* reporting bias for data that record no failures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier

OUTCOMES = ("success", "failed")
# A target written as a bound: "<1e-10", "<= 0.5", "> 5".
_BOUND = re.compile(r"^\s*(<=?|>=?)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
# Words that mean "measured, below what the instrument can see", with no number given.
BELOW_DETECTION_WORDS = frozenset(
    {"below_detection", "below detection", "bdl", "<dl", "nd", "n.d.", "not detected"}
)


def parse_censored_target(raw: pd.Series) -> pd.DataFrame:
    """Per raw target string: ``target`` (float, missing when censored or unreadable),
    ``target_censored`` (bool), ``target_bound`` (the bound when one is written) and
    ``censor_side`` (``upper`` for "<", the true value is below the bound; ``lower`` for ">")."""
    text = raw.astype("string").str.strip()
    bound = text.str.extract(_BOUND)
    word = text.str.lower().isin(BELOW_DETECTION_WORDS).fillna(False).astype(bool)
    has_bound = bound[0].notna().to_numpy()
    censored = has_bound | word.to_numpy()
    side = np.where(bound[0].str.startswith(">").fillna(False).to_numpy(), "lower", "upper")
    numeric = pd.to_numeric(text.where(~pd.Series(censored, index=text.index)), errors="coerce")
    return pd.DataFrame(
        {
            "target": numeric.astype(float).to_numpy(),
            "target_censored": censored,
            "target_bound": pd.to_numeric(bound[1], errors="coerce").astype(float).to_numpy(),
            "censor_side": pd.Series(np.where(censored, side, None), dtype="string").to_numpy(),
        },
        index=raw.index,
    )


def outcome_is_success(outcome: pd.Series) -> np.ndarray:
    """Boolean success per row from an ``outcome`` column of ``success`` / ``failed`` (case-insensitive)."""
    values = outcome.astype("string").str.strip().str.lower()
    unknown = sorted(set(values.dropna()) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"outcome must be one of {OUTCOMES}; found {unknown}")
    if values.isna().any():
        raise ValueError(f"outcome is missing on {int(values.isna().sum())} row(s); expected {OUTCOMES}")
    return (values == "success").to_numpy()


class FeasibilityClassifier(ClassifierMixin, BaseEstimator):
    """P(success | x): a classifier on successes and failures (or labelled vs unlabelled rows)."""

    def __init__(self, estimator: BaseEstimator | None = None, min_probability: float = 0.02):
        self.estimator = estimator
        self.min_probability = min_probability

    def fit(self, X, success, sample_weight=None) -> FeasibilityClassifier:
        success = np.asarray(success, dtype=bool)
        if success.all() or not success.any():
            raise ValueError("the feasibility classifier needs both successes and failures")
        base = (
            self.estimator if self.estimator is not None else HistGradientBoostingClassifier(random_state=0)
        )
        weight = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.estimator_ = clone(base).fit(X, success, **weight)
        self.classes_ = np.array([False, True])
        return self

    def predict_proba(self, X) -> np.ndarray:
        success = self.estimator_.predict_proba(X)[:, list(self.estimator_.classes_).index(True)]
        success = np.clip(success, self.min_probability, 1.0)
        return np.column_stack([1.0 - success, success])

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X)[:, 1] >= 0.5


def inverse_propensity_weights(propensity: np.ndarray, max_weight: float) -> np.ndarray:
    """1 / propensity, clipped at ``max_weight`` (a few tiny propensities would own the fit), mean one."""
    weights = np.minimum(1.0 / np.asarray(propensity, dtype=float), max_weight)
    return weights / weights.mean()


def gate_predictions(prediction: np.ndarray, p_success: np.ndarray, threshold: float) -> pd.DataFrame:
    """The property prediction where the feasibility classifier expects success, missing elsewhere."""
    feasible = np.asarray(p_success) >= threshold
    return pd.DataFrame(
        {
            "prediction": np.where(feasible, prediction, np.nan),
            "p_success": p_success,
            "feasible": feasible,
        }
    )


def simulate_selection_bias(
    descriptor: np.ndarray, strength: float, base_rate: float, seed: int
) -> np.ndarray:
    """SIMULATED reporting: True where a label is kept. P(dropped) rises with the standardised descriptor:
    logit P(kept) = logit(base_rate) - strength * z."""
    z = (descriptor - np.nanmean(descriptor)) / (np.nanstd(descriptor) or 1.0)
    z = np.nan_to_num(z)
    logit = np.log(base_rate / (1 - base_rate)) - strength * z
    return np.random.default_rng(seed).random(len(z)) < 1.0 / (1.0 + np.exp(-logit))


def naive_and_weighted_fits(
    X: pd.DataFrame,
    y: np.ndarray,
    labelled: np.ndarray,
    model_factory: Callable[[], BaseEstimator],
    propensity_model: FeasibilityClassifier,
    max_weight: float,
) -> dict[str, Any]:
    """A model fit on the labelled rows unweighted (naive) and with inverse-propensity weights.

    The propensity P(labelled | x) is learnt on every row (labelled and unlabelled), in-sample.
    """
    propensity = propensity_model.fit(X, labelled).predict_proba(X)[:, 1]
    weights = inverse_propensity_weights(propensity[labelled], max_weight)
    naive = model_factory().fit(X[labelled], y[labelled])
    weighted = model_factory().fit(X[labelled], y[labelled], sample_weight=weights)
    return {"naive": naive, "ipw": weighted, "weights": weights, "propensity": propensity}
