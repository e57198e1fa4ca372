"""Evaluate: fold-averaged metrics per split and model, per-group errors and parity plots
(:mod:`matshift.reporting.evaluation`); for a monitored dataset, the champion (chosen by the declared
rule) fitted for scoring plant batches."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from matshift.models.design import design_matrix
from matshift.monitoring.champion import champion_rule, select_champion
from matshift.monitoring.champion_model import ChampionModel
from matshift.reporting.evaluation import compute_metrics, group_errors, parity_plots
from matshift.robust.fold_scoring import shift_values, with_declared_shift_variants
from matshift.transfer.strategies import without_source_inputs

__all__ = [
    "build_robustness_report",
    "collect_predictions",
    "combine_metrics",
    "combine_prediction_tables",
    "compute_metrics",
    "fit_champion",
    "group_errors",
    "parity_plots",
]


def collect_predictions(
    materials_table: pd.DataFrame, source_feature_table: pd.DataFrame, *prediction_tables: pd.DataFrame
) -> pd.DataFrame:
    """Baseline, transfer and robust predictions in one table, each row marked with whether the
    source domain contains its composition."""
    combined = pd.concat(prediction_tables, ignore_index=True)
    composition = materials_table.set_index("sample_id")["composition"]
    in_source = composition.map(source_feature_table["in_source"]).eq(True)  # absent from the table: False
    flag = pd.Series(in_source.to_numpy(dtype=bool), index=composition.index)
    combined["in_source"] = flag.loc[combined["sample_id"]].to_numpy()
    return combined


def combine_prediction_tables(*prediction_tables: pd.DataFrame) -> pd.DataFrame:
    """Prediction tables of one dataset in one long table (models differ by ``model``)."""
    return pd.concat(prediction_tables, ignore_index=True)


def combine_metrics(datasets: list[str], *metrics: dict[str, Any]) -> dict[str, Any]:
    """``{dataset: {split: {model: {metric: value}}}}`` — the file DVC and CI read."""
    return dict(zip(datasets, metrics, strict=True))


def build_robustness_report(
    datasets: list[str], metrics: dict[str, Any], *predictions: pd.DataFrame
) -> tuple[str, str, dict[str, Figure]]:
    """The project's robustness report (HTML, Markdown, figures) over the datasets with robust models."""
    from matshift.reporting.robustness import robustness_report

    return robustness_report(metrics, dict(zip(datasets, predictions, strict=True)))


def fit_champion(
    metrics: dict[str, Any],
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    declaration: dict[str, Any],
    robust_params: dict[str, Any],
    monitor_params: dict[str, Any],
    source_feature_table: pd.DataFrame | None = None,
) -> tuple[ChampionModel, dict[str, Any]]:
    """The champion chosen by the declared rule, fitted on every labelled row, and why it was chosen.

    On the design matrix its robust-stage model was evaluated on: with the source columns when the dataset
    has a transfer source, else descriptors and process columns with no model reading source columns.
    The rule is ``monitor.champion``, with the keys a dataset declares under ``champion:`` replacing its
    (e.g. the split it is chosen on: every dataset has its own)."""
    choice = select_champion(metrics, champion_rule(monitor_params, declaration))
    X, y, composition = design_matrix(materials_table, features, source_feature_table)
    if source_feature_table is None:
        robust_params = without_source_inputs(robust_params)
    robust_params = with_declared_shift_variants(robust_params, declaration)
    table = materials_table.set_index("sample_id")
    clip = (declaration["target"]["min"], declaration["target"]["max"])
    model = ChampionModel(
        choice["model"], robust_params, clip, choice["split"], declaration["target"].get("learn_as")
    ).fit(
        X,
        y,
        table["group"],
        composition,
        shift_values=shift_values(robust_params, choice["split"], table),
    )
    return model, {**choice, "rows": int(len(X)), "transductive": bool(model.transductive_)}
