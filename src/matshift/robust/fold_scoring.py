"""One fold of the robust stage: every robust model's predictions with a 90% interval, an
out-of-distribution score and an ``uncertain`` flag; and every fold of a split table.

Per fold, the training rows are split (grouped by composition) into *fit* rows and *calibration*
rows. Models learn on the fit rows; the calibration rows, never trained on, calibrate the conformal
intervals and set the flag threshold. The fold's test inputs are the unlabelled target domain that
importance weighting, DANN and the domain classifier see (transductive, as a plant batch is scored:
its inputs are known, its labels are not); their labels are only used to score the predictions.
The robust stage, the case studies and the champion that scores plant batches all run this code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils.validation import has_fit_parameter

from matshift.models.registry import NO_CLIP, build_estimator, registered
from matshift.robust.density_ratio import SOURCE, TARGET, fit_source_vs_target
from matshift.robust.registry import supports_std
from matshift.splits import split_folds
from matshift.transfer.strategies import CatBoostTransfer, descriptor_columns
from matshift.uncertainty.conformal import conformal_intervals, cv_plus_intervals
from matshift.uncertainty.ensembles import CatBoostQuantileRegressor, CatBoostUncertaintyRegressor
from matshift.uncertainty.ood import flag_threshold, knn_distance, ood_reasons, ood_scores
from matshift.uncertainty.shift_calibration import ShiftCalibratedRegressor

# base models of the shift-calibrated key, by name in parameters_robust.yml (shift_calibrated.estimator)
SHIFT_ESTIMATORS = {
    "catboost_quantile": CatBoostQuantileRegressor,
    "catboost_uncertainty": CatBoostUncertaintyRegressor,
}


def calibration_split(train_ids: np.ndarray, compositions: pd.Series, fraction: float, seed: int):
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    fit_rows, calibration_rows = next(
        splitter.split(train_ids, groups=compositions.loc[train_ids].to_numpy())
    )
    return train_ids[fit_rows], train_ids[calibration_rows]


def intervals(
    method: str,
    alpha: float,
    cal: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    min_group_size: int,
    n_ood_bins: int = 3,
    max_width_factor: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of the test rows by one of INTERVAL_METHODS (see ``conformal_intervals``)."""
    return conformal_intervals(method, alpha, cal, test, min_group_size, n_ood_bins, max_width_factor)


def _predict(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if supports_std(model):
        prediction, std = model.predict(X, return_std=True)
        return np.asarray(prediction, dtype=float), np.asarray(std, dtype=float)
    return np.asarray(model.predict(X), dtype=float), None


def _signals(shared: dict, spread: dict) -> list[dict[str, np.ndarray | None]]:
    return [
        {"spread": spread[part], "distance": shared[part]["distance"], "domain": shared[part]["domain"]}
        for part in ("cal", "test")
    ]


def _flag(shared: dict, spread: dict, flag_quantile: float) -> tuple[np.ndarray, np.ndarray, float]:
    """OOD scores of the calibration and test rows and the flag threshold (from calibration rows only)."""
    cal_score, test_score = ood_scores(*_signals(shared, spread))
    return cal_score, test_score, flag_threshold(cal_score, flag_quantile)


def shared_signals(
    fit_X: pd.DataFrame,
    parts: dict[str, dict[str, Any]],
    target_X: pd.DataFrame,
    robust_params: dict[str, Any],
    known_distances: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Per part (e.g. calibration and target rows): label, group, density-ratio weight, domain signal
    (P(target | x) of a classifier of the fit rows vs ``target_X``) and distance to the fit rows.

    ``known_distances``: parts whose distances to these fit rows are already known (a champion's
    calibration rows are the same for every batch it scores)."""
    known = known_distances or {}
    descriptors = descriptor_columns(fit_X)
    ratio = fit_source_vs_target(fit_X, target_X, robust_params["density_ratio"])
    return {
        name: {
            "target": np.asarray(part["y"], dtype=float),
            "group": np.asarray(part["group"]),
            "weight": ratio.ratio(part["X"]),
            "domain": ratio.target_probability(part["X"]),
            "distance": known[name]
            if name in known
            else knn_distance(fit_X, part["X"], robust_params["knn_neighbours"], descriptors),
        }
        for name, part in parts.items()
    }


def reported_outputs(
    name: str,
    model: Any,
    calibration: dict[str, Any],
    target: dict[str, Any],
    shared: dict[str, dict[str, np.ndarray]],
    robust_params: dict[str, Any],
    clip: tuple[float, float],
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray | None]]:
    """The target rows' ``prediction, std, lower, upper`` of every reported key of the fitted model
    ``name``, and the model's spread on the calibration and target rows (None without one)."""
    alpha = 1 - robust_params["confidence_level"]
    cal, test = dict(shared["cal"]), dict(shared["test"])
    (cal["prediction"], cal["std"]), (test["prediction"], test["std"]) = (
        _predict(model, calibration["X"]),
        _predict(model, target["X"]),
    )
    cal["prediction"], test["prediction"] = (
        np.clip(cal["prediction"], *clip),
        np.clip(test["prediction"], *clip),
    )
    outputs = {}
    for key, spec in robust_params["reported"].items():
        if spec["model"] != name:
            continue
        lower, upper = intervals(
            spec["intervals"],
            alpha,
            cal,
            test,
            robust_params["min_group_size"],
            robust_params.get("n_ood_bins", 3),
            robust_params.get("max_width_factor", 2.0),
        )
        outputs[key] = {
            "prediction": test["prediction"],
            "std": test["std"],
            "lower": np.clip(lower, *clip),
            "upper": np.clip(upper, *clip),
        }
    return outputs, {"cal": cal["std"], "test": test["std"]}


def flag_columns(shared: dict, spread: dict, flag_quantile: float) -> dict[str, np.ndarray]:
    """``ood_score``, ``uncertain`` and ``reason`` of the target rows (threshold from calibration rows)."""
    _, test_score, threshold = _flag(shared, spread, flag_quantile)
    return {
        "ood_score": test_score,
        "uncertain": test_score > threshold,
        "reason": np.where(test_score > threshold, ood_reasons(*_signals(shared, spread)), ""),
    }


def predict_with_uncertainty(
    fit: dict[str, Any],
    calibration: dict[str, Any],
    target: dict[str, Any],
    robust_params: dict[str, Any],
    clip: tuple[float, float],
    models: list[str] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Fit robust models on ``fit`` rows, calibrate on ``calibration`` rows, predict ``target`` rows.

    Each part is ``{"X": DataFrame, "y": array (NaN where unknown), "group": array}``; the target rows'
    labels are never read. Returns, per reported key of the fitted models, the target rows'
    ``prediction, std, lower, upper, ood_score, uncertain, reason`` (``reason``: the OOD signal that
    stands out, where ``uncertain``), and the flag columns alone (the same for every model).
    This is one fold of the robust stage and, with the whole dataset as ``fit``/``calibration`` and a
    plant batch as ``target``, the scoring of that batch by a transductive champion.
    """
    X_fit_and_target = pd.concat([fit["X"], target["X"]])
    domains = np.r_[np.full(len(fit["X"]), SOURCE), np.full(len(target["X"]), TARGET)]
    y_fit = np.r_[np.asarray(fit["y"], dtype=float), np.full(len(target["X"]), np.nan)]
    groups = np.r_[np.asarray(fit["group"]), np.asarray(target["group"])]
    # a model whose inner splits must keep a composition on one side (importance weighting) gets them
    compositions = (
        np.r_[np.asarray(fit["composition"]), np.asarray(target["composition"])]
        if "composition" in fit and "composition" in target
        else None
    )
    shared = shared_signals(fit["X"], {"cal": calibration, "test": target}, target["X"], robust_params)

    outputs: dict[str, dict[str, np.ndarray]] = {}
    # the deep ensemble first: its disagreement is the flag's spread signal for every model
    spread = {"cal": None, "test": None}
    names = robust_params["models"] if models is None else models
    for name in sorted(names, key=lambda n: n != "deep_ensemble"):
        model = build_estimator("robust", name, robust_params["model_params"].get(name), clip=clip)
        keyed = {"compositions": compositions} if has_fit_parameter(model, "compositions") else {}
        model.fit(X_fit_and_target, y_fit, domains=domains, groups=groups, **keyed)
        keyed, model_spread = reported_outputs(name, model, calibration, target, shared, robust_params, clip)
        outputs.update(keyed)
        if name == "deep_ensemble":
            spread = model_spread
    flag = flag_columns(shared, spread, robust_params["flag_quantile"])
    return {key: {**columns, **flag} for key, columns in outputs.items()}, flag


def shift_calibrated_specs(robust_params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """key -> spec of every shift-calibrated model: ``shift_calibrated`` itself and each of its
    ``variants`` (another base model calibrated the same way: a variant sets ``estimator`` and
    ``estimator_params`` and inherits inner folds, candidates and flag settings)."""
    spec = robust_params.get("shift_calibrated")
    if not spec:
        return {}
    base = {k: v for k, v in spec.items() if k != "variants"}
    specs = {base["key"]: base}
    for key, variant in (spec.get("variants") or {}).items():
        specs[key] = {**base, "estimator_params": {}, **variant, "key": key}
    return specs


def shift_calibrated_spec(robust_params: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """The spec of shift-calibrated model ``key`` (``shift_calibrated`` itself when None)."""
    specs = shift_calibrated_specs(robust_params)
    spec = specs.get(robust_params["shift_calibrated"]["key"] if key is None else key)
    if spec is None:
        raise KeyError(f"no shift-calibrated model {key!r}; configured: {sorted(specs)}")
    return spec


def with_declared_shift_variants(
    robust_params: dict[str, Any], declaration: dict[str, Any]
) -> dict[str, Any]:
    """``robust_params`` without the shift-calibrated variants whose base model is a physics model the
    dataset does not declare (the case studies share one configuration; a temperature law would misread
    an alloy's columns)."""
    spec = robust_params.get("shift_calibrated")
    if not spec or not spec.get("variants"):
        return robust_params
    undeclared = set(registered("physics")) - set(declaration.get("physics_models") or [])
    # an unknown name stays, so building it says what is registered instead of dropping a typo silently
    kept = {
        key: variant for key, variant in spec["variants"].items() if variant["estimator"] not in undeclared
    }
    return {**robust_params, "shift_calibrated": {**spec, "variants": kept}}


def _shift_estimator(spec: dict[str, Any]) -> Any:
    """The base model of a shift-calibrated spec: one of SHIFT_ESTIMATORS or a registered physics model."""
    name, params = spec["estimator"], spec.get("estimator_params") or {}
    if name in SHIFT_ESTIMATORS:
        return SHIFT_ESTIMATORS[name](**params)
    physics = registered("physics")
    if name not in physics:
        raise KeyError(
            f"shift_calibrated {spec['key']}: estimator {name} is neither one of {sorted(SHIFT_ESTIMATORS)} "
            f"nor a registered physics model {sorted(physics)}"
        )
    return physics[name].factory(params, NO_CLIP, {})


def shift_calibrated_model(
    robust_params: dict[str, Any],
    clip: tuple[float, float],
    split: str | None = None,
    distance_columns: list[str] | None = None,
    key: str | None = None,
) -> ShiftCalibratedRegressor:
    """The shift-calibrated model ``key`` (``shift_calibrated`` itself when None, else one of its
    ``variants``), unfitted: inner folds grouped as ``split``'s shift (``grouping`` by split name, else
    ``default``). Fit it with ``fit(X, y, compositions=, groups=)`` and score with
    ``predict_with_uncertainty(X, groups)``: the robust stage and a champion scoring plant batches use
    this same object."""
    spec = shift_calibrated_spec(robust_params, key)
    grouping = spec["grouping"]
    return ShiftCalibratedRegressor(
        estimator=_shift_estimator(spec),
        interval_methods=tuple(spec["interval_methods"]),
        grouping=grouping.get(split, grouping["default"]) if isinstance(grouping, dict) else grouping,
        n_inner_folds=spec["n_inner_folds"],
        confidence_level=robust_params["confidence_level"],
        coverage_tolerance=spec["coverage_tolerance"],
        flag_label=spec["flag_label"],
        max_unflagged_miss_rate=spec["max_unflagged_miss_rate"],
        min_flag_rate=spec.get("min_flag_rate", 0.1),
        knn_neighbours=robust_params["knn_neighbours"],
        density_ratio=robust_params["density_ratio"],
        min_group_size=robust_params["min_group_size"],
        n_ood_bins=robust_params.get("n_ood_bins", 3),
        max_width_factor=robust_params.get("max_width_factor", 2.0),
        clip=clip,
        distance_columns=distance_columns,
        random_state=robust_params["random_state"],
    )


def shift_values(
    robust_params: dict[str, Any], split: str | None, table: pd.DataFrame | None
) -> pd.Series | None:
    """Per sample_id, the column ``split``'s inner folds re-split by (``shift_calibrated.shift_columns``,
    e.g. ``paper_group_cv: doi``: inner folds hold out whole papers, as the outer split does); None when
    the split names none. ``table``: the materials table indexed by sample_id."""
    column = (robust_params["shift_calibrated"].get("shift_columns") or {}).get(split)
    if column is None:
        return None
    if table is None or column not in table:
        raise KeyError(
            f"shift_calibrated.shift_columns names column {column!r} for split {split!r}, "
            f"which the materials table lacks (columns: {[] if table is None else list(table.columns)})"
        )
    return table[column]


def shift_calibrated_frames(
    X: pd.DataFrame,
    y: pd.Series,
    group: pd.Series,
    composition: pd.Series,
    train_ids: np.ndarray,
    test_ids: np.ndarray,
    frame: dict[str, Any],
    clip: tuple[float, float],
    robust_params: dict[str, Any],
    table: pd.DataFrame | None = None,
    key: str | None = None,
) -> list[pd.DataFrame]:
    """One fold of the shift-calibrated model ``key`` (``shift_calibrated`` itself when None, else one of
    its variants) on the whole training fold: the key with the interval method chosen on inner folds,
    and ``<key>__<method>`` per candidate (the same fit and flag). ``table``: the materials table
    indexed by sample_id, for a split whose inner folds re-split by one of its columns
    (``shift_values``)."""
    spec = shift_calibrated_spec(robust_params, key)
    model = shift_calibrated_model(robust_params, clip, frame["split"], descriptor_columns(X), spec["key"])
    values = shift_values(robust_params, frame["split"], table)
    model.fit(
        X.loc[train_ids],
        y.loc[train_ids].to_numpy(),
        compositions=composition.loc[train_ids].to_numpy(),
        groups=group.loc[train_ids].to_numpy(),
        shift_values=None if values is None else values.loc[train_ids].to_numpy(),
    )
    columns = model.predict_with_uncertainty(
        X.loc[test_ids], group.loc[test_ids].to_numpy(), methods=tuple(spec["interval_methods"])
    )
    candidates = columns.pop("intervals")
    if columns["std"] is None:  # a base model without its own spread: no `std` column (NaN after concat)
        columns.pop("std")
    chosen = pd.DataFrame({**frame, "model": spec["key"], **columns})
    frames = [chosen]
    if spec.get("report_candidates", True):
        for method, (lower, upper) in candidates.items():
            frames.append(
                chosen.assign(
                    model=f"{spec['key']}__{method}", lower=lower, upper=upper, interval_method=method
                )
            )
    return frames


def fold_part(
    X: pd.DataFrame, y: pd.Series, group: pd.Series, ids: np.ndarray, composition: pd.Series | None = None
) -> dict[str, Any]:
    part = {"X": X.loc[ids], "y": y.loc[ids].to_numpy(), "group": group.loc[ids].to_numpy()}
    return part if composition is None else {**part, "composition": composition.loc[ids].to_numpy()}


def robust_fold_predictions_in_target_units(
    X: pd.DataFrame,
    y: pd.Series,
    group: pd.Series,
    leakage_key: pd.Series,
    splits: pd.DataFrame,
    declaration: dict[str, Any],
    robust_params: dict[str, Any],
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``robust_fold_predictions`` for a target of hundreds of MPa or HV: the models learn
    ``(target - offset) / scale`` (declared ``target.learn_as``: constants, not fitted, so no test label
    leaks into the scaling; the MLPs need targets near unit scale) and predictions, intervals and spreads
    are mapped back to the declared unit."""
    scaling = declaration["target"].get("learn_as") or {}
    offset, scale = float(scaling.get("offset", 0.0)), float(scaling.get("scale", 1.0))
    low, high = declaration["target"]["min"], declaration["target"]["max"]
    predictions = robust_fold_predictions(
        X,
        (y - offset) / scale,
        group,
        leakage_key,
        splits,
        ((low - offset) / scale, (high - offset) / scale),
        robust_params,
        table,
    )
    for column in ("target", "prediction", "lower", "upper"):
        predictions[column] = predictions[column] * scale + offset
    if "std" in predictions:
        predictions["std"] = predictions["std"] * scale
    return predictions


def robust_fold_predictions(
    X: pd.DataFrame,
    y: pd.Series,
    group: pd.Series,
    composition: pd.Series,
    splits: pd.DataFrame,
    clip: tuple[float, float],
    robust_params: dict[str, Any],
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every robust model on every fold of ``splits``; ``X``, ``y``, ``group`` and ``composition`` (what
    keeps calibration rows apart from fit rows) indexed by sample_id. ``X`` may be the transfer design
    matrix or plain descriptors: models that read source columns are configured to in ``robust_params``.
    ``table``: the materials table indexed by sample_id (``shift_values``)."""
    alpha = 1 - robust_params["confidence_level"]
    seed = robust_params["random_state"]
    outputs = []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        fit_ids, cal_ids = calibration_split(
            train_ids, composition, robust_params["calibration_fraction"], seed
        )
        max_fit_rows = robust_params.get("max_fit_rows")
        if max_fit_rows and len(fit_ids) > max_fit_rows:  # dense series: a sample of the fit rows suffices
            fit_ids = np.random.default_rng(seed).choice(fit_ids, max_fit_rows, replace=False)
        test = fold_part(X, y, group, test_ids, composition)
        predicted, flag = predict_with_uncertainty(
            fold_part(X, y, group, fit_ids, composition),
            fold_part(X, y, group, cal_ids, composition),
            test,
            robust_params,
            clip,
        )
        frame = {
            "split": split,
            "fold": fold,
            "fold_name": fold_name,
            "sample_id": test_ids,
            "group": test["group"],
            "target": test["y"],
        }
        for key, columns in predicted.items():
            std = columns["std"]
            rows = {**frame, "model": key, **columns}
            if std is None:  # no `std` column for a model without its own spread (NaN after concat)
                rows.pop("std")
            outputs.append(pd.DataFrame(rows))

        if robust_params.get("cv_plus"):
            spec = robust_params["cv_plus"]
            estimator = CatBoostTransfer(clip=clip, **spec["base_params"])
            prediction, lower, upper = cv_plus_intervals(
                estimator,
                X.loc[train_ids],
                y.loc[train_ids].to_numpy(),
                X.loc[test_ids],
                alpha,
                groups=composition.loc[train_ids].to_numpy(),
                n_folds=spec["n_folds"],
            )
            outputs.append(
                pd.DataFrame(
                    {
                        **frame,
                        "model": spec["key"],
                        "prediction": np.clip(prediction, *clip),
                        "lower": np.clip(lower, *clip),
                        "upper": np.clip(upper, *clip),
                        **flag,
                    }
                )
            )
        for key in shift_calibrated_specs(robust_params):
            outputs += shift_calibrated_frames(
                X, y, group, composition, train_ids, test_ids, frame, clip, robust_params, table, key
            )
    return pd.concat(outputs, ignore_index=True)
