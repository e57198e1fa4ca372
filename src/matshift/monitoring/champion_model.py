"""The champion as one fitted object: the model plant batches are scored with, its calibration rows and
what the out-of-distribution flag compares against, saved by the evaluate stage and registered in MLflow.

``fit`` is one fold of the robust stage with every labelled row of the dataset (an 80/20 split grouped
by composition into fit and calibration rows); ``predict_with_uncertainty`` scores a batch exactly as
the robust stage scores a fold's test rows (``matshift.robust.fold_scoring``). Transductive models
(importance weighting, DANN, CORAL) learn from the unlabelled target inputs, so they cannot be fitted
before the batch exists: for them ``fit`` keeps the data and ``predict_with_uncertainty`` fits with the
batch as the target domain, as the robust stage does per fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from matshift.robust.density_ratio import SOURCE
from matshift.robust.fold_scoring import (
    calibration_split,
    flag_columns,
    fold_part,
    predict_with_uncertainty,
    reported_outputs,
    shared_signals,
    shift_calibrated_model,
    shift_calibrated_specs,
)
from matshift.robust.registry import build_robust_model
from matshift.transfer.strategies import descriptor_columns
from matshift.uncertainty.ood import knn_distance

# robust models that need the target domain's inputs while fitting
TRANSDUCTIVE_MODELS = frozenset({"importance_weighting", "dann", "coral"})


class ChampionModel(BaseEstimator):
    """A robust-stage model key (e.g. ``catboost_uncertainty``) fitted for scoring new batches.

    ``split``: the split the champion was chosen on; the shift-calibrated key (``catboost_shift``,
    ``catboost_shift__<method>``) groups its inner calibration folds like that split's shift, as the
    robust stage did when it was evaluated, so the flag and intervals deployed are the ones measured.
    ``learn_as``: the declared ``target.learn_as`` ``{offset, scale}``: the models learn
    ``(target - offset) / scale`` as the robust stage's did; outputs are in the declared unit."""

    def __init__(
        self,
        key: str,
        robust_params: dict[str, Any],
        clip: tuple[float, float],
        split: str | None = None,
        learn_as: dict[str, float] | None = None,
    ):
        self.key = key
        self.robust_params = robust_params
        self.clip = clip
        self.split = split
        self.learn_as = learn_as

    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        groups: pd.Series,
        compositions: pd.Series,
        calibration_ids: np.ndarray | None = None,
        shift_values: pd.Series | None = None,
    ) -> ChampionModel:
        """``X``, ``y``, ``groups`` and ``compositions`` indexed by sample_id (the transfer design matrix).

        ``calibration_ids``: the rows to calibrate on instead of a fresh grouped split (a challenger
        keeps its champion's, so both are compared on rows neither was fitted on). ``shift_values``: per
        sample_id, the column the champion split's inner folds re-split by
        (``matshift.robust.fold_scoring.shift_values``; None when that split names none)."""
        self.shift_method_ = self._shift_method()
        spec = self.robust_params["reported"].get(self.key)
        if spec is None and self.shift_method_ is None:
            known = sorted(self.robust_params["reported"]) + self._shift_keys()
            raise KeyError(f"champion {self.key!r} is not a robust-stage model; known: {known}")
        # a shift-calibrated key's model is its spec's key (``catboost_shift__cqr`` -> ``catboost_shift``)
        self.model_name_ = self.key.partition("__")[0] if spec is None else spec["model"]
        if calibration_ids is None:
            fit_ids, cal_ids = calibration_split(
                X.index.to_numpy(),
                compositions,
                self.robust_params["calibration_fraction"],
                self.robust_params["random_state"],
            )
        else:
            cal_ids = np.asarray(calibration_ids)
            fit_ids = X.index.difference(pd.Index(cal_ids), sort=False).to_numpy()
        # kept so a challenger can tell new compositions from the ones this model was fitted on
        self.compositions_ = compositions.loc[X.index]
        self.shift_values_ = None if shift_values is None else shift_values.loc[X.index]
        self.fit_part_ = fold_part(X, y, groups, fit_ids)
        self.calibration_part_ = fold_part(X, y, groups, cal_ids)
        self.transductive_ = self.model_name_ in TRANSDUCTIVE_MODELS
        self.model_ = None
        fit = self._learned(self.fit_part_)
        if self.shift_method_ is not None:
            # inner group-held-out folds of the fit rows calibrate it; the calibration rows stay unseen
            self.model_ = shift_calibrated_model(
                self.robust_params,
                self._model_clip(),
                self.split,
                descriptor_columns(fit["X"]),
                self.model_name_,
            ).fit(
                fit["X"],
                fit["y"],
                compositions=self.compositions_.loc[fit["X"].index].to_numpy(),
                groups=fit["group"],
                shift_values=(
                    None if self.shift_values_ is None else self.shift_values_.loc[fit["X"].index].to_numpy()
                ),
            )
        elif not self.transductive_:
            self.model_ = build_robust_model(
                self.model_name_, self.robust_params["model_params"].get(self.model_name_), self._model_clip()
            ).fit(fit["X"], fit["y"], domains=np.full(len(fit["X"]), SOURCE), groups=fit["group"])
        return self

    def predict_with_uncertainty(self, X: pd.DataFrame, groups: np.ndarray) -> dict[str, np.ndarray]:
        """``prediction, std, lower, upper, ood_score, uncertain, reason`` of the rows of ``X``."""
        check_is_fitted(self, "fit_part_")
        return self._in_target_units(self._predict_learned(X, np.asarray(groups)))

    def _predict_learned(self, X: pd.DataFrame, groups: np.ndarray) -> dict[str, np.ndarray]:
        """The outputs in the units the models learned (``learn_as``)."""
        if self.shift_method_ is not None:
            return self._shift_outputs(X, groups)
        target = {"X": X, "y": np.full(len(X), np.nan), "group": groups}
        fit, calibration, clip = (
            self._learned(self.fit_part_),
            self._learned(self.calibration_part_),
            self._model_clip(),
        )
        if self.transductive_:
            predicted, _ = predict_with_uncertainty(
                fit, calibration, target, self.robust_params, clip, models=[self.model_name_]
            )
            return predicted[self.key]
        shared = shared_signals(
            fit["X"],
            {"cal": calibration, "test": target},
            X,
            self.robust_params,
            known_distances={"cal": self._calibration_distance()},
        )
        outputs, spread = reported_outputs(
            self.model_name_, self.model_, calibration, target, shared, self.robust_params, clip
        )
        # as in the robust stage, only a deep ensemble's disagreement is a flag signal
        spread = spread if self.model_name_ == "deep_ensemble" else {"cal": None, "test": None}
        return {**outputs[self.key], **flag_columns(shared, spread, self.robust_params["flag_quantile"])}

    def _calibration_distance(self) -> np.ndarray:
        """The calibration rows' distance to the fit rows, the same for every batch: computed for the
        first, then kept (a cache of the fitted parts, not pickled; a refit parts object recomputes)."""
        fit_X, calibration_X = self.fit_part_["X"], self.calibration_part_["X"]
        cached = self.__dict__.get("_calibration_distance_cache")
        if cached is None or cached[0] is not fit_X or cached[1] is not calibration_X:
            descriptors = descriptor_columns(fit_X)
            distance = knn_distance(
                fit_X[descriptors], calibration_X[descriptors], self.robust_params["knn_neighbours"]
            )
            self.__dict__["_calibration_distance_cache"] = cached = (fit_X, calibration_X, distance)
        return cached[2]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # BaseEstimator may hand back the instance's own __dict__
        state.pop("_calibration_distance_cache", None)
        return state

    def _scaling(self) -> tuple[float, float]:
        scaling = self.learn_as or {}
        return float(scaling.get("offset", 0.0)), float(scaling.get("scale", 1.0))

    def _learned(self, part: dict[str, Any]) -> dict[str, Any]:
        offset, scale = self._scaling()
        return {**part, "y": (np.asarray(part["y"], dtype=float) - offset) / scale}

    def _model_clip(self) -> tuple[float, float]:
        offset, scale = self._scaling()
        return ((self.clip[0] - offset) / scale, (self.clip[1] - offset) / scale)

    def _in_target_units(self, columns: dict[str, Any]) -> dict[str, Any]:
        offset, scale = self._scaling()
        if (offset, scale) == (0.0, 1.0):
            return columns
        converted = {k: np.asarray(columns[k]) * scale + offset for k in ("prediction", "lower", "upper")}
        if columns.get("std") is not None:
            converted["std"] = np.asarray(columns["std"]) * scale
        return {**columns, **converted}

    def _shift_keys(self) -> list[str]:
        return [
            name
            for key, spec in shift_calibrated_specs(self.robust_params).items()
            for name in [key] + [f"{key}__{m}" for m in spec["interval_methods"]]
        ]

    def _shift_method(self) -> str | None:
        """``"chosen"`` for the shift-calibrated key, its method for ``<key>__<method>``, else None."""
        if self.key not in self._shift_keys():
            return None
        return self.key.partition("__")[2] or "chosen"

    def _shift_outputs(self, X: pd.DataFrame, groups: np.ndarray) -> dict[str, np.ndarray]:
        method = self.shift_method_
        columns = self.model_.predict_with_uncertainty(
            X, groups, methods=None if method == "chosen" else (method,)
        )
        by_method = columns.pop("intervals", {})
        if method in by_method:  # a method unusable on the inner folds keeps the chosen one, and says so
            columns["lower"], columns["upper"] = by_method[method]
            columns["interval_method"] = np.full(len(X), method, dtype=object)
        return columns

    def training_rows(self) -> dict[str, pd.Series | pd.DataFrame] | None:
        """``{"X", "y", "group", "composition"}`` of every row it was fitted or calibrated on (None for a
        model pickled before compositions were kept)."""
        check_is_fitted(self, "fit_part_")
        if not hasattr(self, "compositions_"):
            return None
        parts = (self.fit_part_, self.calibration_part_)
        X = pd.concat([part["X"] for part in parts])
        return {
            "X": X,
            "y": pd.Series(np.concatenate([part["y"] for part in parts]), index=X.index),
            "group": pd.Series(np.concatenate([part["group"] for part in parts]), index=X.index),
            "composition": self.compositions_.loc[X.index],
        }

    def predict(self, X: pd.DataFrame, groups: np.ndarray | None = None) -> np.ndarray:
        groups = np.full(len(X), "", dtype=object) if groups is None else groups
        return self.predict_with_uncertainty(X, groups)["prediction"]
