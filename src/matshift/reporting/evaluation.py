"""Evaluation of a long prediction table (one row per split, fold, model and test sample): fold-averaged
metrics per split and model, per-group errors and parity plots. The evaluate stage and every case study
report these same numbers."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: plots are files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # noqa: E402

from matshift.uncertainty.conformal import INTERVAL_METHODS  # noqa: E402
from matshift.uncertainty.metrics import interval_metrics  # noqa: E402

PARITY_COLUMNS = 6  # panels per row of a parity figure


def fold_metrics(fold: pd.DataFrame, min_group_size: int) -> dict[str, float]:
    """Metrics on one fold's test rows; worst_group_mae over groups with at least ``min_group_size`` rows."""
    errors = (fold["prediction"] - fold["target"]).abs()
    group_mae = errors.groupby(fold["group"]).agg(["mean", "size"])
    eligible = group_mae.loc[group_mae["size"] >= min_group_size, "mean"]
    metrics = {
        "mae": float(mean_absolute_error(fold["target"], fold["prediction"])),
        "rmse": float(np.sqrt(mean_squared_error(fold["target"], fold["prediction"]))),
        "r2": float(r2_score(fold["target"], fold["prediction"])) if len(fold) > 1 else float("nan"),
        "worst_group_mae": float(eligible.max()) if len(eligible) else float(errors.mean()),
    }
    if "lower" in fold and fold["lower"].notna().all():  # a model with intervals and an OOD score
        # NLL and calibration judge the reported interval (sigma = half-width / 1.645), so a conformal
        # correction counts; the `_gaussian` variants report the model's own spread as their interval
        metrics.update(
            interval_metrics(
                fold["target"].to_numpy(),
                fold["prediction"].to_numpy(),
                fold["lower"].to_numpy(),
                fold["upper"].to_numpy(),
                fold["ood_score"].to_numpy(),
                fold["group"].to_numpy(),
                min_group_size,
                uncertain=fold["uncertain"].to_numpy(dtype=bool) if "uncertain" in fold else None,
            )
        )
    # the method a shift-calibrated model chose on inner folds: averaged over folds, the share of folds
    # that chose it. How a baseline was calibrated (cross_fold, grouped_holdout) is no choice: not a metric
    chosen = fold["interval_method"] if "interval_method" in fold else pd.Series(dtype=object)
    metrics.update({f"interval_method_{m}": 1.0 for m in chosen[chosen.isin(INTERVAL_METHODS)].unique()})
    return metrics


def compute_metrics(predictions: pd.DataFrame, evaluate_params: dict[str, Any]) -> dict[str, Any]:
    """``{split: {model: {metric: fold-averaged value}}}``, plus ``n_folds`` and ``n_test``.

    With an ``in_source`` column (target rows whose composition the source domain contains), also
    ``mae_seen_in_source`` / ``mae_unseen_in_source``: pooled over folds, since a fold can lack either.
    """
    metrics: dict[str, Any] = {}
    for (split, model), rows in predictions.groupby(["split", "model"], sort=False):
        per_fold = pd.DataFrame(
            [fold_metrics(fold, evaluate_params["min_group_size"]) for _, fold in rows.groupby("fold")]
        )
        chosen = {c: 0.0 for c in per_fold.columns if c.startswith("interval_method_")}
        summary = {key: float(value) for key, value in per_fold.fillna(chosen).mean().items()}
        summary["n_folds"] = int(len(per_fold))
        summary["n_test"] = int(len(rows))
        if "in_source" in rows:
            errors = (rows["prediction"] - rows["target"]).abs()
            for key, mask in (("seen", rows["in_source"]), ("unseen", ~rows["in_source"])):
                summary[f"mae_{key}_in_source"] = float(errors[mask].mean()) if mask.any() else float("nan")
                summary[f"n_test_{key}_in_source"] = int(mask.sum())
        metrics.setdefault(split, {})[model] = summary
    # how much worse each model does out of distribution than on the in-distribution split
    in_distribution = metrics.get(evaluate_params["in_distribution_split"], {})
    for per_model in metrics.values():
        for model, summary in per_model.items():
            if model in in_distribution:
                summary["ood_id_ratio"] = summary["mae"] / in_distribution[model]["mae"]
                if "width_90" in summary and in_distribution[model].get("width_90"):
                    summary["interval_width_ratio"] = summary["width_90"] / in_distribution[model]["width_90"]
    return metrics


def group_errors(predictions: pd.DataFrame) -> pd.DataFrame:
    """MAE and row count per split, model and group, pooled over folds."""
    errors = predictions.assign(abs_error=(predictions["prediction"] - predictions["target"]).abs())
    table = errors.groupby(["split", "model", "group"], sort=True)["abs_error"].agg(mae="mean", n_test="size")
    return table.reset_index()


def parity_plots(predictions: pd.DataFrame, dataset: str) -> dict[str, Figure]:
    """One PNG per split: predicted vs measured, a panel per model, folds pooled."""
    figures: dict[str, Figure] = {}
    for split, rows in predictions.groupby("split", sort=False):
        models = list(pd.unique(rows["model"]))
        n_rows, n_columns = -(-len(models) // PARITY_COLUMNS), min(len(models), PARITY_COLUMNS)
        fig, axes = plt.subplots(n_rows, n_columns, figsize=(3.6 * n_columns, 3.6 * n_rows), squeeze=False)
        for ax in axes.flat[len(models) :]:
            ax.set_visible(False)
        low = float(min(rows["target"].min(), rows["prediction"].min()))
        high = float(max(rows["target"].max(), rows["prediction"].max()))
        for ax, model in zip(axes.flat, models, strict=False):
            subset = rows[rows["model"] == model]
            mae = mean_absolute_error(subset["target"], subset["prediction"])
            ax.scatter(subset["target"], subset["prediction"], s=5, alpha=0.4)
            ax.plot([low, high], [low, high], color="black", linewidth=0.8)
            ax.set(title=f"{model}  MAE {mae:.3f}", xlabel="measured", ylabel="predicted")
        fig.suptitle(f"{dataset} · {split}")
        fig.tight_layout()
        figures[f"parity_{split}.png"] = fig
    return figures
