"""Clever-Hans audit: do metadata columns (lab, source paper, year, batch id) carry the prediction?

Three measurements per metadata column, each with a declared threshold (``ShortcutThresholds``):

- ``permutation``: when the metadata is given to the model as a feature, the rise in held-out MAE when the
  column is shuffled, relative to the held-out MAE (the model leans on it);
- ``group_ratio``: MAE when whole metadata groups are held out (GroupKFold) over MAE of a random split
  (the model's score depends on having seen the group);
- ``domain``: balanced accuracy of a classifier predicting the column from the descriptors, above chance
  (the descriptors identify the group, so any group effect can be learnt through them).

``audit_shortcuts(X, y, metadata, groups)`` is a pure function; a case study calls it with its own
features, target, metadata frame and composition groups (used to keep repeats of a composition on one
side of every random split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class ShortcutError(RuntimeError):
    """A metadata column carries the prediction and the audit was configured to fail on it."""


@dataclass(frozen=True)
class ShortcutThresholds:
    permutation_mae_rise: float = 0.10  # shuffling the column raises held-out MAE by >= 10%
    group_to_random_mae_ratio: float = 1.5  # leave-group-out MAE >= 1.5 x random-split MAE
    domain_balanced_accuracy_above_chance: float = 0.25  # balanced accuracy - chance >= 0.25


def default_regressor() -> BaseEstimator:
    return HistGradientBoostingRegressor(max_iter=200, random_state=0)


def default_classifier() -> BaseEstimator:
    # linear on standardised descriptors, as the drift domain classifier: a gradient-boosted classifier
    # fits a tree per class and iteration, minutes per column on two cores for a few hundred rows
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=2000),
    )


def audit_shortcuts(
    X: pd.DataFrame,
    y: pd.Series | np.ndarray,
    metadata: pd.DataFrame,
    groups: pd.Series | np.ndarray | None = None,
    model_factory: Callable[[], BaseEstimator] = default_regressor,
    classifier_factory: Callable[[], BaseEstimator] = default_classifier,
    thresholds: ShortcutThresholds | None = None,
    n_splits: int = 5,
    max_classes: int = 10,
    random_state: int = 0,
    fail_on_shortcut: bool = False,
) -> dict[str, Any]:
    """Per metadata column the three measurements, and ``shortcuts``: the columns over any threshold.

    ``X`` holds the descriptors only; ``metadata`` is aligned with it row by row. Numeric metadata with
    more than ``max_classes`` values (a year, a temperature) is binned into ``max_classes`` quantile groups.
    """
    thresholds = thresholds or ShortcutThresholds()
    X = pd.DataFrame(X).reset_index(drop=True)
    y = np.asarray(y, dtype=float)
    metadata = pd.DataFrame(metadata).reset_index(drop=True)
    if len(metadata) != len(X) or len(y) != len(X):
        raise ValueError(f"X ({len(X)} rows), y ({len(y)}) and metadata ({len(metadata)}) must align")
    groups = np.arange(len(X)) if groups is None else np.asarray(groups)
    report: dict[str, Any] = {"thresholds": asdict(thresholds), "columns": {}, "shortcuts": []}
    if metadata.shape[1] == 0:
        report["note"] = "no metadata columns: nothing to audit"
        return report
    codes = metadata.apply(lambda column: metadata_groups(column, max_classes))
    importance = permutation_rise(X, y, codes, groups, model_factory, random_state)
    random_mae = cross_validated_mae(X, y, groups, model_factory, n_splits)
    for column in metadata.columns:
        group_mae = cross_validated_mae(X, y, codes[column].to_numpy(), model_factory, n_splits)
        domain = domain_classifier_scores(X, codes[column].to_numpy(), groups, classifier_factory, n_splits)
        entry = {
            "n_groups": int(codes[column].nunique()),
            "permutation_mae_rise": importance[column],
            "random_split_mae": random_mae,
            "group_out_mae": group_mae,
            "group_to_random_mae_ratio": group_mae / random_mae if random_mae > 0 else float("inf"),
            **domain,
        }
        entry["flags"] = [
            name
            for name, value, limit in (
                ("permutation", entry["permutation_mae_rise"], thresholds.permutation_mae_rise),
                ("group_ratio", entry["group_to_random_mae_ratio"], thresholds.group_to_random_mae_ratio),
                (
                    "domain",
                    entry["domain_balanced_accuracy"] - entry["domain_chance"],
                    thresholds.domain_balanced_accuracy_above_chance,
                ),
            )
            if np.isfinite(value) and value >= limit
        ]
        report["columns"][column] = entry
        if entry["flags"]:
            report["shortcuts"].append(column)
    check_shortcuts(report, fail_on_shortcut)
    return report


def check_shortcuts(report: dict[str, Any], fail_on_shortcut: bool) -> None:
    """Raise ``ShortcutError`` naming every shortcut column and the checks it failed, when asked to."""
    if fail_on_shortcut and report["shortcuts"]:
        found = "; ".join(
            f"{column} ({', '.join(report['columns'][column]['flags'])})" for column in report["shortcuts"]
        )
        raise ShortcutError(
            f"metadata column(s) carry the prediction: {found}; thresholds {report['thresholds']}. "
            "Remove the column from the features, rebalance the groups, or set fail_on_shortcut: false "
            "in parameters_audit.yml to report without failing"
        )


def metadata_groups(column: pd.Series, max_classes: int) -> pd.Series:
    """Integer group codes of a metadata column (missing values are a group of their own). Numeric
    columns with more than ``max_classes`` values become quantile bins; other columns keep their
    ``max_classes - 1`` most frequent values and pool the rest (hundreds of papers would make the
    metadata classifier fit a tree per paper)."""
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > max_classes:
        column = pd.qcut(column, max_classes, duplicates="drop")
    labels = column.astype("string").fillna("<missing>")
    if labels.nunique() > max_classes:
        frequent = labels.value_counts().index[: max_classes - 1]
        labels = labels.where(labels.isin(frequent), "<other>")
    return pd.Series(pd.factorize(labels)[0], index=column.index)


def permutation_rise(
    X: pd.DataFrame,
    y: np.ndarray,
    codes: pd.DataFrame,
    groups: np.ndarray,
    model_factory: Callable[[], BaseEstimator],
    random_state: int,
) -> dict[str, float]:
    """Held-out MAE rise when each metadata column (given to the model as a feature) is shuffled, relative."""
    with_metadata = pd.concat([X, codes.add_prefix("metadata__")], axis=1)
    train, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=random_state).split(X, y, groups))
    model = model_factory().fit(with_metadata.iloc[train], y[train])
    baseline = mean_absolute_error(y[test], model.predict(with_metadata.iloc[test]))
    result = permutation_importance(
        model,
        with_metadata.iloc[test],
        y[test],
        scoring="neg_mean_absolute_error",
        n_repeats=5,
        random_state=random_state,
    )
    position = {c: i for i, c in enumerate(with_metadata.columns)}
    scale = baseline if baseline > 0 else 1.0
    return {c: float(result.importances_mean[position[f"metadata__{c}"]] / scale) for c in codes.columns}


def cross_validated_mae(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    model_factory: Callable[[], BaseEstimator],
    n_splits: int,
) -> float:
    """Pooled out-of-fold MAE with folds that keep each group on one side."""
    n_splits = min(n_splits, len(np.unique(groups)))
    if n_splits < 2:
        return float("nan")
    errors = np.empty(len(y))
    for train, test in GroupKFold(n_splits=n_splits).split(X, y, groups):
        model = model_factory().fit(X.iloc[train], y[train])
        errors[test] = np.abs(y[test] - model.predict(X.iloc[test]))
    return float(errors.mean())


def domain_classifier_scores(
    X: pd.DataFrame,
    labels: np.ndarray,
    groups: np.ndarray,
    classifier_factory: Callable[[], BaseEstimator],
    n_splits: int,
) -> dict[str, float]:
    """Out-of-fold balanced accuracy and macro one-vs-rest AUC of predicting the metadata groups."""
    classes = np.unique(labels)
    chance = 1.0 / len(classes)
    smallest = int(np.bincount(labels).min())
    n_splits = min(n_splits, smallest, len(np.unique(groups)))
    if len(classes) < 2 or n_splits < 2:
        return {"domain_balanced_accuracy": float("nan"), "domain_auc": float("nan"), "domain_chance": chance}
    probabilities = np.zeros((len(labels), len(classes)))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=0)
    for train, test in folds.split(X, labels, groups):
        model = classifier_factory().fit(X.iloc[train], labels[train])
        probabilities[np.ix_(test, np.searchsorted(classes, model.classes_))] = model.predict_proba(
            X.iloc[test]
        )
    predicted = classes[probabilities.argmax(axis=1)]
    if len(classes) == 2:
        auc = roc_auc_score(labels, probabilities[:, 1])
    else:
        auc = roc_auc_score(labels, probabilities, multi_class="ovr", average="macro", labels=classes)
    return {
        "domain_balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "domain_auc": float(auc),
        "domain_chance": chance,
    }
