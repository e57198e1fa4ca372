"""Audit nodes: each measurement is one pure function of the dataset's tables and ``params:audit``.

The selection-bias measurement on band gaps is SIMULATED (expt_gap records no failed experiment): every
output says so in its ``simulated`` field and its name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from matshift.audit.latent import DescriptorVAE
from matshift.audit.leakage import audit_leakage
from matshift.audit.selection_bias import (
    FeasibilityClassifier,
    naive_and_weighted_fits,
    simulate_selection_bias,
)
from matshift.audit.shortcuts import ShortcutThresholds, audit_shortcuts
from matshift.casestudies.stages import audit_domain_shortcuts
from matshift.models import build_estimator
from matshift.models.design import model_inputs
from matshift.reporting.robustness import audit_markdown
from matshift.splits import split_folds
from matshift.uncertainty.metrics import flag_auroc

LATENT_FEATURE_SETS = ("raw", "latent", "raw_plus_latent")
# a domain dataset's audit: can its metadata columns (paper, year) stand in for the features?
__all__ = [
    "audit_domain_shortcuts",
    "audit_report",
    "latent_space_audit",
    "near_duplicate_audit",
    "selection_bias_audit",
    "shortcut_audit",
]


def near_duplicate_audit(
    materials_table: pd.DataFrame, splits: pd.DataFrame, audit_params: dict[str, Any], dataset: str
) -> dict[str, Any]:
    """Per split and fold, the share of test compositions with a near-duplicate in training, and warnings."""
    params = audit_params["near_duplicates"]
    leakage = audit_leakage(
        materials_table,
        splits,
        dataset,
        tolerance=params["tolerance"],
        claim_split=params.get("claim_split"),
        random_splits=tuple(params["random_splits"]),
    )
    per_fold = {
        split: {
            fold: {key: entry[key] for key in entry if key.startswith(("near_", "n_test", "fold_name"))}
            for fold, entry in folds.items()
        }
        for split, folds in leakage.items()
        if split in set(splits["split"])
    }
    return {**leakage["near_duplicates"], "folds": per_fold}


def shortcut_audit(
    materials_table: pd.DataFrame, features: pd.DataFrame, audit_params: dict[str, Any]
) -> dict[str, Any]:
    """The Clever-Hans audit over the metadata columns the table has (none: a note saying so)."""
    params = audit_params["shortcuts"]
    present = [c for c in params["metadata_columns"] if c in materials_table.columns]
    if not present:
        return {
            "metadata_columns": [],
            "note": (
                "no metadata column (looked for "
                f"{', '.join(params['metadata_columns'])}) in the materials table: the shortcut audit "
                "cannot run on this dataset"
            ),
            "shortcuts": [],
        }
    labelled = materials_table[materials_table["target"].notna()]
    X, y = model_inputs(labelled, features)
    report = audit_shortcuts(
        X,
        y,
        labelled[present].reset_index(drop=True),
        groups=labelled["composition"].to_numpy(),
        model_factory=lambda: build_estimator("baseline", "erm", audit_params["model"]),
        thresholds=ShortcutThresholds(**params["thresholds"]),
        n_splits=params["n_splits"],
        max_classes=params["max_classes"],
        fail_on_shortcut=params["fail_on_shortcut"],
    )
    return {"metadata_columns": present, **report}


def selection_bias_audit(
    materials_table: pd.DataFrame, features: pd.DataFrame, splits: pd.DataFrame, audit_params: dict[str, Any]
) -> dict[str, Any]:
    """SIMULATED reporting bias on one OOD split: naive vs inverse-propensity-weighted CatBoost vs all labels.

    In every training fold, labels are hidden with a probability rising with a descriptor (the rows stay,
    as failed / unlabelled); the propensity P(labelled | x) is learnt from all training rows.
    """
    params = audit_params["selection_bias"]
    X, y = model_inputs(materials_table, features)
    descriptor = X[params["descriptor"]].to_numpy(dtype=float)
    position = pd.Series(np.arange(len(X)), index=X.index)
    folds = []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        if split != params["split"]:
            continue
        train_X, train_y = X.loc[train_ids], y.loc[train_ids].to_numpy()
        labelled = simulate_selection_bias(
            descriptor[position.loc[train_ids]],
            params["strength"],
            params["base_rate"],
            params["seed"] + fold,
        )
        propensity_model = FeasibilityClassifier(estimator=_propensity_estimator(params["propensity_C"]))
        fits = naive_and_weighted_fits(
            train_X,
            train_y,
            labelled,
            lambda: build_estimator("baseline", "erm", audit_params["model"]),
            propensity_model,
            params["max_weight"],
        )
        oracle = build_estimator("baseline", "erm", audit_params["model"]).fit(train_X, train_y)
        test_y = y.loc[test_ids].to_numpy()
        entry = {
            "fold": int(fold),
            "fold_name": fold_name,
            "n_train": len(train_ids),
            "n_labelled": int(labelled.sum()),
            "train_mean_all_labels": float(train_y.mean()),
            "train_mean_naive": float(train_y[labelled].mean()),
            "train_mean_ipw": float(np.average(train_y[labelled], weights=fits["weights"])),
            "max_weight": float(fits["weights"].max()),
        }
        for name, model in (("naive", fits["naive"]), ("ipw", fits["ipw"]), ("all_labels", oracle)):
            entry[f"test_mae_{name}"] = float(np.mean(np.abs(test_y - model.predict(X.loc[test_ids]))))
        folds.append(entry)
    frame = pd.DataFrame(folds)
    summary = {
        key: float(frame[key].mean()) for key in frame.columns if key.startswith(("test_mae_", "train_mean_"))
    }
    return {
        "simulated": True,
        "description": (
            "SIMULATED selection bias (expt_gap records no failed experiments): in each training fold of "
            f"{params['split']}, labels were hidden with a probability rising with '{params['descriptor']}' "
            "('experimenters reported high-gap compounds less often'); the rows were kept as unlabelled"
        ),
        "split": params["split"],
        "params": dict(params),
        "mean_over_folds": summary,
        "ipw_wins_folds": int((frame["test_mae_ipw"] < frame["test_mae_naive"]).sum()),
        "n_folds": len(frame),
        "folds": folds,
    }


def latent_space_audit(
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    splits: pd.DataFrame,
    robust_predictions: pd.DataFrame,
    audit_params: dict[str, Any],
) -> dict[str, Any]:
    """Per OOD fold: a VAE on train + test inputs (no labels); CatBoost MAE on raw / latent / both; flag
    AUROC of the VAE OOD score vs the robust stage's ``ood_score`` and ``uncertain`` flag."""
    params = audit_params["latent"]
    X, y = model_inputs(materials_table, features)
    reference = robust_predictions[robust_predictions["model"] == params["reference_model"]]
    reference = reference.set_index(["split", "fold", "sample_id"]).sort_index()
    folds = []
    for split, fold, fold_name, train_ids, test_ids in split_folds(splits):
        if split not in params["splits"]:
            continue
        fold_inputs = X.loc[np.concatenate([train_ids, test_ids])]
        vae = DescriptorVAE(**params["vae"]).fit(fold_inputs, reference=X.loc[train_ids])
        latent = vae.latent_frame(X)
        designs = {
            "raw": X,
            "latent": latent,
            "raw_plus_latent": pd.concat([X, latent], axis=1),
        }
        test_y = y.loc[test_ids].to_numpy()
        entry: dict[str, Any] = {"split": split, "fold": int(fold), "fold_name": fold_name}
        raw_prediction = None
        for name, design in designs.items():
            model = build_estimator("baseline", "erm", audit_params["model"])
            model.fit(design.loc[train_ids], y.loc[train_ids])
            prediction = model.predict(design.loc[test_ids])
            raw_prediction = prediction if name == "raw" else raw_prediction
            entry[f"mae_{name}"] = float(np.mean(np.abs(test_y - prediction)))
        vae_score = vae.ood_score(X.loc[test_ids])
        entry["flag_auroc_vae_on_raw_catboost"] = flag_auroc(test_y, raw_prediction, vae_score)
        entry.update(_reference_flag_aurocs(reference, split, fold, test_ids, vae_score))
        folds.append(entry)
    frame = pd.DataFrame(folds)
    metrics = [c for c in frame.columns if c.startswith(("mae_", "flag_auroc_"))]
    by_split = {split: rows[metrics].mean().to_dict() for split, rows in frame.groupby("split", sort=False)}
    return {
        "reference_model": params["reference_model"],
        "vae": dict(params["vae"]),
        "trained_on": "each fold's train + test descriptors (no labels)",
        "by_split": by_split,
        "folds": folds,
    }


def audit_report(
    near_duplicates: dict[str, Any],
    shortcuts: dict[str, Any],
    selection_bias: dict[str, Any],
    latent_space: dict[str, Any],
    dataset: str,
) -> tuple[dict[str, Any], str]:
    """The audit as one JSON document and a Markdown section for the robustness report."""
    audit = {
        "dataset": dataset,
        "near_duplicates": near_duplicates,
        "shortcuts": shortcuts,
        "selection_bias_simulated": selection_bias,
        "latent_space": latent_space,
    }
    return _json_safe(audit), audit_markdown(audit)


def _reference_flag_aurocs(
    reference: pd.DataFrame, split: str, fold: int, test_ids: np.ndarray, vae_score: np.ndarray
) -> dict[str, float]:
    """Flag AUROCs on the reference model's errors: its ood_score, its uncertain flag, the VAE score."""
    try:
        rows = reference.loc[(split, fold)].reindex(test_ids)
    except KeyError:
        return {}
    found = rows["prediction"].notna().to_numpy()
    target, prediction = rows["target"].to_numpy()[found], rows["prediction"].to_numpy()[found]
    return {
        "flag_auroc_reference_ood_score": flag_auroc(target, prediction, rows["ood_score"].to_numpy()[found]),
        "flag_auroc_reference_uncertain": flag_auroc(
            target, prediction, rows["uncertain"].to_numpy(dtype=float)[found]
        ),
        "flag_auroc_vae_on_reference": flag_auroc(target, prediction, vae_score[found]),
    }


def _propensity_estimator(C: float) -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=1000),
    )


def _json_safe(value: Any) -> Any:
    """Plain Python types, NaN as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
