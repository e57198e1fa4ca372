"""Intervals and an ``uncertain`` flag calibrated on the shift a user meets, not on random rows.

Split conformal calibrated on rows drawn like the training rows covers 90% of rows drawn the same
way; a new chemistry (a held-out cluster, an unseen element, a higher target range) is not drawn that
way and is under-covered. Here the training rows are re-split by the same kind of grouping as the
shift (composition clusters, target-range bins...) into inner folds; a model per inner fold predicts
the rows of the fold it never saw (cross-conformal, Vovk 2015; CV+'s scores, Barber et al. 2021), so
every calibration score is a group-held-out residual. Then, on inner folds only (never on the test
rows):

- every candidate interval method (``matshift.uncertainty.conformal.INTERVAL_METHODS``) is calibrated
  on all inner folds but one and judged on that one; the method whose held-out coverage is within
  ``coverage_tolerance`` of the nominal level with the smallest width wins (else the closest);
- the ``uncertain`` flag (:class:`matshift.uncertainty.flag.UncertaintyFlag`) learns which rows the
  chosen intervals missed.

Test rows get the model refitted on every training row, the chosen interval from all held-out
scores, and the flag. :class:`ShiftCalibratedRegressor` is one object (fit / predict_with_uncertainty)
so the robust stage evaluates exactly what monitoring deploys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from matshift.robust.density_ratio import DomainClassifierDensityRatio, fit_source_vs_target
from matshift.uncertainty.conformal import INTERVAL_METHODS, conformal_intervals
from matshift.uncertainty.flag import UncertaintyFlag, flag_features
from matshift.uncertainty.ood import knn_distance

INNER_GROUPINGS = (
    "cluster",
    "target_quantile",
    "composition",
    "column",
    "column_quantile",
    "target_upward",
    "column_upward",
)
# groupings whose inner fold k is predicted by a model of the rows *below* it only (fold -1: the lower
# half, training rows never held out), as an outer split that trains below and tests above does
UPWARD_GROUPINGS = ("target_upward", "column_upward")
FLAG_LABELS = ("outside_interval", "large_error")


def _balanced_folds(labels: pd.Series, n_folds: int, random_state: int) -> np.ndarray:
    """Each label's compositions in one fold, labels dealt largest first to the emptiest fold (ties
    shuffled), so a held-out fold is one or more whole groups, as in a group split."""
    sizes = labels.value_counts()
    sizes = sizes.sample(frac=1.0, random_state=random_state).sort_values(ascending=False, kind="stable")
    load, fold_of_label = np.zeros(n_folds), {}
    for label, size in sizes.items():
        fold = int(np.argmin(load))
        fold_of_label[label], load[fold] = fold, load[fold] + size
    return labels.map(fold_of_label).to_numpy()


def _quantile_folds(values: pd.Series, n_folds: int) -> np.ndarray:
    ranks = values.rank(method="first").to_numpy()
    return np.minimum(((ranks - 1) * n_folds / len(values)).astype(int), n_folds - 1)


def _upward_folds(values: pd.Series, n_folds: int) -> np.ndarray:
    """-1 for the lower half of the values (always training), quantile bins 0..n_folds-1 of the upper half."""
    folds = np.full(len(values), -1)
    upper = values.rank(method="first").to_numpy() > len(values) // 2
    folds[upper] = _quantile_folds(values[upper], n_folds)
    return folds


def _median_per_composition(values: np.ndarray, compositions: np.ndarray, unique: np.ndarray) -> pd.Series:
    """Each unique composition's median value (missing: the median of the medians)."""
    median = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").groupby(compositions).median()
    return median.loc[unique].fillna(median.median())


def inner_folds(
    descriptors: pd.DataFrame,
    target: np.ndarray,
    compositions: np.ndarray,
    grouping: str,
    n_folds: int,
    random_state: int = 0,
    shift_values: np.ndarray | None = None,
) -> np.ndarray:
    """Inner fold (0..n_folds-1) of every row; a composition never spans two folds.

    ``cluster``: KMeans on the standardised descriptors of the unique compositions (a held-out
    chemistry, as ``leave_cluster_out``); ``target_quantile``: bins of the compositions' median target
    (a held-out target range, as ``target_extrapolation``); ``composition``: compositions at random (the
    in-distribution baseline). With ``shift_values`` (per row, the column the outer split holds out:
    a paper, a processing route, a salt, a year, a temperature): ``column`` holds out whole values
    (a composition goes with its most frequent value), ``column_quantile`` holds out ranges of it
    (bins of the compositions' median value: later years, hotter cells). ``target_upward`` /
    ``column_upward``: the lower half of the compositions (by median target / value) is fold -1, never
    held out; the upper half is cut into ``n_folds`` ranges, each to be predicted from the rows below it
    only (:data:`UPWARD_GROUPINGS`), as an extrapolation above the training range is.
    """
    compositions = np.asarray(compositions)
    unique, first_row = np.unique(compositions, return_index=True)
    if len(unique) < n_folds:
        raise ValueError(f"{len(unique)} compositions cannot make {n_folds} inner folds")
    if grouping.startswith("column") and shift_values is None:
        raise ValueError(f"inner grouping {grouping!r} needs the split's column (shift_values)")
    per_row = None if shift_values is None else pd.Series(np.asarray(shift_values), index=compositions)
    if grouping == "column":
        label = per_row.astype(str).groupby(level=0).agg(lambda v: v.value_counts().index[0])
        if label.nunique() < n_folds:  # fewer values than folds: nothing to hold out whole
            grouping = "composition"
    if grouping == "column":
        fold_of = _balanced_folds(label.loc[unique], n_folds, random_state)
    elif grouping in ("target_quantile", "target_upward", "column_quantile", "column_upward"):
        median = _median_per_composition(
            target if grouping.startswith("target") else shift_values, compositions, unique
        )
        fold_of = (_upward_folds if grouping in UPWARD_GROUPINGS else _quantile_folds)(median, n_folds)
    elif grouping == "cluster":
        values = descriptors.iloc[first_row]
        filled = values.fillna(values.median()).fillna(0.0).to_numpy(dtype=float)
        kmeans = KMeans(n_clusters=n_folds, random_state=random_state, n_init=3)
        fold_of = kmeans.fit_predict(StandardScaler().fit_transform(filled))
    elif grouping == "composition":
        fold_of = np.random.default_rng(random_state).permutation(len(unique)) % n_folds
    else:
        raise KeyError(f"unknown inner grouping {grouping!r}; choose one of {INNER_GROUPINGS}")
    position = np.searchsorted(unique, compositions)
    return np.asarray(fold_of, dtype=int)[position]


def large_error_labels(error: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Whether each row's absolute error exceeds the median absolute error of the rows with a non-zero
    target (all rows when none): easy zeros (metals) would make the flag a metal detector. Pooled over
    inner folds, not per fold: a whole chemistry that errs more is what a flag must catch."""
    nonzero = target != 0
    return error > np.median(error[nonzero] if nonzero.any() else error)


def _model_outputs(model: Any, X: pd.DataFrame, clip: tuple[float, float] | None) -> dict[str, Any]:
    """prediction, std (None without one) and the quantile band (None without one) of ``X``."""
    outputs: dict[str, Any] = {"std": None, "q_low": None, "q_high": None}
    if hasattr(model, "predict_quantiles"):
        quantiles = model.predict_quantiles(X)
        outputs["q_low"], outputs["q_high"] = quantiles[:, 0], quantiles[:, -1]
    try:
        prediction, outputs["std"] = model.predict(X, return_std=True)
    except TypeError:  # a model without its own spread
        prediction = model.predict(X)
    outputs["prediction"] = np.asarray(prediction, dtype=float)
    if clip is not None:
        outputs["prediction"] = np.clip(outputs["prediction"], *clip)
    return outputs


def _domain_log_ratio(ratio: DomainClassifierDensityRatio, X: pd.DataFrame) -> np.ndarray:
    """log p_target(x) / p_source(x), unclipped: comparable between domains of different sizes."""
    p = np.clip(ratio.target_probability(X), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)) + np.log(ratio.prior_odds_)


def _subset(part: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    return {k: (None if v is None else np.asarray(v)[rows]) for k, v in part.items()}


class ShiftCalibratedRegressor(BaseEstimator):
    """A regressor with group-held-out calibrated 90% intervals and a learned ``uncertain`` flag.

    ``estimator``: any scikit-learn regressor (a ``predict(X, return_std=True)`` spread enables
    ``normalised``; ``predict_quantiles(X)`` enables ``cqr``). ``interval_methods``: the candidates.
    ``distance_columns``: the columns the kNN distance and the inner clusters read (all when None).
    """

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        interval_methods: tuple[str, ...] = (
            "split",
            "normalised",
            "cqr",
            "mondrian_ood",
            "weighted_bounded",
            "worst_fold",
        ),
        grouping: str = "cluster",
        n_inner_folds: int = 5,
        confidence_level: float = 0.9,
        coverage_tolerance: float = 0.02,
        flag_label: str = "large_error",
        max_unflagged_miss_rate: float = 0.12,
        min_flag_rate: float = 0.1,
        flag_C: float = 1.0,
        knn_neighbours: int = 5,
        density_ratio: dict[str, Any] | None = None,
        min_group_size: int = 30,
        n_ood_bins: int = 3,
        max_width_factor: float = 2.0,
        clip: tuple[float, float] | None = None,
        distance_columns: list[str] | None = None,
        random_state: int = 0,
    ):
        self.estimator = estimator
        self.interval_methods = interval_methods
        self.grouping = grouping
        self.n_inner_folds = n_inner_folds
        self.confidence_level = confidence_level
        self.coverage_tolerance = coverage_tolerance
        self.flag_label = flag_label
        self.max_unflagged_miss_rate = max_unflagged_miss_rate
        self.min_flag_rate = min_flag_rate
        self.flag_C = flag_C
        self.knn_neighbours = knn_neighbours
        self.density_ratio = density_ratio
        self.min_group_size = min_group_size
        self.n_ood_bins = n_ood_bins
        self.max_width_factor = max_width_factor
        self.clip = clip
        self.distance_columns = distance_columns
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------
    def _columns(self, X: pd.DataFrame) -> list[str]:
        return list(X.columns) if self.distance_columns is None else list(self.distance_columns)

    def _intervals(
        self, method: str, cal: dict[str, Any], test: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        return conformal_intervals(
            method,
            1 - self.confidence_level,
            cal,
            test,
            self.min_group_size,
            n_ood_bins=self.n_ood_bins,
            max_width_factor=self.max_width_factor,
        )

    def _usable(self, method: str, held_out: dict[str, Any], has_groups: bool) -> bool:
        needs = {"normalised": "std", "gaussian": "std", "cqr": "q_low"}
        if method == "mondrian":
            return has_groups
        return needs.get(method) is None or held_out[needs[method]] is not None

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        compositions: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        shift_values: np.ndarray | None = None,
    ) -> ShiftCalibratedRegressor:
        """``compositions`` keep a composition in one inner fold (each row its own when None);
        ``groups`` (e.g. the anion class) are what ``mondrian`` calibrates per; ``shift_values`` (per
        row, the column the outer split holds out) are what the ``column`` groupings re-split by."""
        unknown = set(self.interval_methods) - set(INTERVAL_METHODS)
        if unknown or self.flag_label not in FLAG_LABELS:
            raise KeyError(
                f"unknown interval method(s) {sorted(unknown)} or flag label {self.flag_label!r}; "
                f"known: {INTERVAL_METHODS}, {FLAG_LABELS}"
            )
        y = np.asarray(y, dtype=float)
        compositions = np.arange(len(X)) if compositions is None else np.asarray(compositions)
        columns = self._columns(X)
        folds = inner_folds(
            X[columns], y, compositions, self.grouping, self.n_inner_folds, self.random_state, shift_values
        )
        held_out, fold_weights = self._cross_fit(X, y, folds, columns)
        calibrated = folds >= 0  # an upward grouping's lower half (fold -1) is only ever learned from
        cal_target, cal_folds = y[calibrated], folds[calibrated]
        held_out["target"], held_out["fold"] = cal_target, cal_folds
        held_out["group"] = None if groups is None else np.asarray(groups)[calibrated]

        self.selection_ = self._select(held_out, cal_folds, fold_weights, groups is not None)
        self.method_ = min(self.selection_, key=lambda m: self.selection_[m]["rank"])
        lower, upper = self.selection_[self.method_]["held_out_intervals"]
        error = np.abs(cal_target - held_out["prediction"])
        miss = (cal_target < lower) | (cal_target > upper)
        large = large_error_labels(error, cal_target)
        self.flag_ = UncertaintyFlag(self.max_unflagged_miss_rate, self.min_flag_rate, C=self.flag_C).fit(
            held_out["features"],
            miss if self.flag_label == "outside_interval" else large,
            cal_folds,
            miss=miss,
        )
        for summary in self.selection_.values():
            summary.pop("held_out_intervals")
        self.calibration_ = {k: v for k, v in held_out.items() if k != "features"}
        self.inner_folds_ = folds
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.train_X_ = X
        self.target_range_ = (float(y.min()), float(y.max()))
        return self

    def _cross_fit(
        self, X: pd.DataFrame, y: np.ndarray, folds: np.ndarray, columns: list[str]
    ) -> tuple[dict[str, Any], dict[int, np.ndarray]]:
        """Out-of-fold outputs and signals of every held-out row (fold >= 0), and per inner fold the
        density ratio (that fold vs the rows its model learned from) at those rows, for the weighted
        intervals. A fold's model learns from every other fold, or with an upward grouping from the
        folds below it only."""
        n, calibrated = len(X), folds >= 0
        held_out: dict[str, Any] = {k: None for k in ("prediction", "std", "q_low", "q_high")}
        held_out.update(distance=np.empty(n), domain=np.empty(n))
        fold_weights: dict[int, np.ndarray] = {}
        feature_frames = []
        for fold in np.unique(folds[calibrated]):
            inside = folds == fold
            learn = folds < fold if self.grouping in UPWARD_GROUPINGS else ~inside
            model = clone(self.estimator).fit(X[learn], y[learn])
            outputs = _model_outputs(model, X[inside], self.clip)
            for key, values in outputs.items():
                if values is None:
                    continue
                if held_out[key] is None:
                    held_out[key] = np.full(n, np.nan)
                held_out[key][inside] = values
            held_out["distance"][inside] = knn_distance(
                X.loc[learn, columns], X.loc[inside, columns], self.knn_neighbours
            )
            ratio = fit_source_vs_target(X[learn], X[inside], self.density_ratio)
            held_out["domain"][inside] = _domain_log_ratio(ratio, X[inside])
            fold_weights[int(fold)] = ratio.ratio(X[calibrated])
            fit_range = (float(y[learn].min()), float(y[learn].max()))
            frame = flag_features(
                outputs["prediction"],
                outputs["std"],
                held_out["distance"][inside],
                held_out["domain"][inside],
                fit_range,
            )
            feature_frames.append(frame.set_index(np.flatnonzero(inside)))
        held_out = _subset(held_out, calibrated)
        held_out["features"] = pd.concat(feature_frames).sort_index().reset_index(drop=True)
        return held_out, fold_weights

    def _select(
        self,
        held_out: dict[str, Any],
        folds: np.ndarray,
        fold_weights: dict[int, np.ndarray],
        has_groups: bool,
    ) -> dict[str, dict[str, Any]]:
        """Per candidate method: held-out (leave-one-inner-fold-out) coverage, width and its rank."""
        target = held_out["target"]
        part = {k: v for k, v in held_out.items() if k != "features"}
        selection: dict[str, dict[str, Any]] = {}
        for method in self.interval_methods:
            if not self._usable(method, held_out, has_groups):
                continue
            lower, upper = np.full(len(target), np.nan), np.full(len(target), np.nan)
            for fold in np.unique(folds):
                inside = folds == fold
                cal = {**_subset(part, ~inside), "weight": fold_weights[int(fold)][~inside]}
                test = {**_subset(part, inside), "weight": fold_weights[int(fold)][inside]}
                lower[inside], upper[inside] = self._intervals(method, cal, test)
            if self.clip is not None:
                lower, upper = np.clip(lower, *self.clip), np.clip(upper, *self.clip)
            covered = (target >= lower) & (target <= upper)
            fold_coverage = [float(covered[folds == f].mean()) for f in np.unique(folds)]
            selection[method] = {
                "coverage": float(covered.mean()),
                "min_fold_coverage": float(min(fold_coverage)),
                "width": float(np.mean(upper - lower)),
                "held_out_intervals": (lower, upper),
            }
        if not selection:
            raise ValueError(f"no usable interval method among {self.interval_methods} for this estimator")
        within = {
            m
            for m, s in selection.items()
            if abs(s["coverage"] - self.confidence_level) <= self.coverage_tolerance
        }
        # within tolerance: the narrowest; else the closest to nominal coverage (then the narrowest)
        order = sorted(
            selection,
            key=lambda m: (
                m not in within,
                selection[m]["width"]
                if m in within
                else abs(selection[m]["coverage"] - self.confidence_level),
                selection[m]["width"],
            ),
        )
        for rank, method in enumerate(order):
            selection[method]["rank"] = rank
        return selection

    # -- prediction ------------------------------------------------------------------------------
    def _test_part(self, X: pd.DataFrame, groups: np.ndarray | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The test rows' outputs and signals, and the calibration rows with their density-ratio
        weights against these test rows."""
        check_is_fitted(self, "estimator_")
        columns = self._columns(self.train_X_)
        test = _model_outputs(self.estimator_, X, self.clip)
        test["distance"] = knn_distance(self.train_X_, X, self.knn_neighbours, columns)
        ratio = fit_source_vs_target(self.train_X_, X, self.density_ratio)
        test["domain"] = _domain_log_ratio(ratio, X)
        test["weight"] = ratio.ratio(X)
        test["group"] = None if groups is None else np.asarray(groups)
        # the calibration rows only: an upward grouping never held out (nor scored) its lower half
        cal = {**self.calibration_, "weight": ratio.ratio(self.train_X_[self.inner_folds_ >= 0])}
        return cal, test

    def _interval_columns(
        self, method: str, cal: dict[str, Any], test: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = self._intervals(method, cal, test)
        if self.clip is not None:
            lower, upper = np.clip(lower, *self.clip), np.clip(upper, *self.clip)
        return lower, upper

    def predict_with_uncertainty(
        self, X: pd.DataFrame, groups: np.ndarray | None = None, methods: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """``prediction, std, lower, upper, ood_score`` (the flag's P(miss)), ``uncertain``, ``reason``
        and ``interval_method`` of the rows of ``X`` (scored together: the domain signal compares them
        with the training rows). With ``methods``, also ``intervals``: ``{method: (lower, upper)}``."""
        cal, test = self._test_part(X, groups)
        lower, upper = self._interval_columns(self.method_, cal, test)
        features = self._flag_inputs(test)
        score = self.flag_.predict_proba(features)
        uncertain = score > self.flag_.threshold_
        result = {
            "prediction": test["prediction"],
            "std": test["std"],
            "lower": lower,
            "upper": upper,
            "ood_score": score,
            "uncertain": uncertain,
            "reason": np.where(uncertain, self.flag_.reasons(features), ""),
            "interval_method": np.full(len(X), self.method_, dtype=object),
        }
        if methods:
            result["intervals"] = {
                m: self._interval_columns(m, cal, test) for m in methods if m in self.selection_
            }
        return result

    def _flag_inputs(self, test: dict[str, Any]) -> pd.DataFrame:
        return flag_features(
            test["prediction"], test["std"], test["distance"], test["domain"], self.target_range_
        )

    def flag_inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        """The flag's inputs (``matshift.uncertainty.flag.FLAG_FEATURES``) for the rows of ``X``, scored
        together as ``predict_with_uncertainty`` scores them (a benchmark ranks errors by each in turn)."""
        return self._flag_inputs(self._test_part(X, None)[1])

    def predict(self, X: pd.DataFrame, return_std: bool = False):
        check_is_fitted(self, "estimator_")
        outputs = _model_outputs(self.estimator_, X, self.clip)
        return (outputs["prediction"], outputs["std"]) if return_std else outputs["prediction"]
