"""Evaluate: fold-averaged metrics per split and model, per-group errors and parity plots."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: plots are files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # noqa: E402


def fold_metrics(fold: pd.DataFrame, min_group_size: int) -> dict[str, float]:
    """Metrics on one fold's test rows; worst_group_mae over groups with at least ``min_group_size`` rows."""
    errors = (fold["prediction"] - fold["target"]).abs()
    group_mae = errors.groupby(fold["group"]).agg(["mean", "size"])
    eligible = group_mae.loc[group_mae["size"] >= min_group_size, "mean"]
    return {
        "mae": float(mean_absolute_error(fold["target"], fold["prediction"])),
        "rmse": float(np.sqrt(mean_squared_error(fold["target"], fold["prediction"]))),
        "r2": float(r2_score(fold["target"], fold["prediction"])) if len(fold) > 1 else float("nan"),
        "worst_group_mae": float(eligible.max()) if len(eligible) else float(errors.mean()),
    }


def compute_metrics(predictions: pd.DataFrame, evaluate_params: dict[str, Any]) -> dict[str, Any]:
    """``{split: {model: {metric: fold-averaged value}}}``, plus ``n_folds`` and ``n_test``."""
    metrics: dict[str, Any] = {}
    for (split, model), rows in predictions.groupby(["split", "model"], sort=False):
        per_fold = pd.DataFrame(
            [fold_metrics(fold, evaluate_params["min_group_size"]) for _, fold in rows.groupby("fold")]
        )
        summary = {key: float(value) for key, value in per_fold.mean().items()}
        summary["n_folds"] = int(len(per_fold))
        summary["n_test"] = int(len(rows))
        metrics.setdefault(split, {})[model] = summary
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
        fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.2), squeeze=False)
        low = float(min(rows["target"].min(), rows["prediction"].min()))
        high = float(max(rows["target"].max(), rows["prediction"].max()))
        for ax, model in zip(axes[0], models, strict=True):
            subset = rows[rows["model"] == model]
            mae = mean_absolute_error(subset["target"], subset["prediction"])
            ax.scatter(subset["target"], subset["prediction"], s=5, alpha=0.4)
            ax.plot([low, high], [low, high], color="black", linewidth=0.8)
            ax.set(title=f"{model}  MAE {mae:.3f}", xlabel="measured", ylabel="predicted")
        fig.suptitle(f"{dataset} · {split}")
        fig.tight_layout()
        figures[f"parity_{split}.png"] = fig
    return figures


def combine_metrics(datasets: list[str], *metrics: dict[str, Any]) -> dict[str, Any]:
    """``{dataset: {split: {model: {metric: value}}}}`` — the file DVC and CI read."""
    return dict(zip(datasets, metrics, strict=True))
