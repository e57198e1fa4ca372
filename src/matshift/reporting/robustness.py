"""The robustness report: every model on every split — errors, intervals, flags — in HTML and Markdown.

Sections per dataset: the models x splits table (MAE, worst-group MAE, coverage (also on non-zero
targets), width and its ratio to the in-distribution width, flag AUROC (also for large errors among
non-zero targets), the miss rate among unflagged rows),
parity plots per split (the evaluate stage's PNGs are linked), a reliability diagram, coverage per
group, and error against the OOD score. Figures are embedded in the HTML (one self-contained file to
send around) and written beside the Markdown.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.stats import norm  # noqa: E402

from matshift.uncertainty.metrics import gaussian_std  # noqa: E402

TABLE_METRICS = (
    "mae",
    "worst_group_mae",
    "ood_id_ratio",
    "coverage_90",
    "coverage_90_nonzero",
    "min_group_coverage_90",
    "width_90",
    "interval_width_ratio",
    "flag_auroc",
    "flag_auroc_error",
    "unflagged_miss_rate",
    "selective_mae_80",
)
LEVELS = np.linspace(0.05, 0.95, 19)


def _format(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(splits: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    rows = [
        {"split": split, "model": model, **{m: values.get(m) for m in TABLE_METRICS}}
        for split, per_model in splits.items()
        for model, values in per_model.items()
    ]
    return pd.DataFrame(rows)


def _with(predictions: pd.DataFrame, column: str) -> tuple[pd.DataFrame, list[str], Figure, np.ndarray]:
    """Rows that have ``column``, their splits, and a figure with one panel per split."""
    rows = predictions[predictions[column].notna()] if column in predictions else predictions.iloc[:0]
    splits = list(pd.unique(rows["split"]))
    n_panels = max(1, len(splits))
    fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 4.2), squeeze=False)
    return rows, splits, fig, axes[0]


def reliability_figure(predictions: pd.DataFrame) -> Figure:
    """Observed vs nominal coverage of central Gaussian intervals, per model with intervals, per split."""
    with_intervals, splits, fig, axes = _with(predictions, "lower")
    for ax, split in zip(axes, splits, strict=False):
        rows = with_intervals[with_intervals["split"] == split]
        for model, subset in rows.groupby("model"):
            std = gaussian_std(
                subset["lower"].to_numpy(),
                subset["upper"].to_numpy(),
                subset["std"].to_numpy() if subset["std"].notna().all() else None,
            )
            z = np.abs(subset["target"].to_numpy() - subset["prediction"].to_numpy()) / std
            ax.plot(LEVELS, [np.mean(z <= norm.ppf(0.5 + level / 2)) for level in LEVELS], label=model, lw=1)
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
        ax.set(title=split, xlabel="nominal coverage", ylabel="observed coverage")
    axes[0].legend(fontsize=6)
    fig.suptitle("reliability (below the diagonal: over-confident)")
    fig.tight_layout()
    return fig


def group_coverage_figure(predictions: pd.DataFrame) -> Figure:
    """Coverage of the 90% interval per group, per split, for every model with intervals."""
    rows = predictions[predictions["lower"].notna()] if "lower" in predictions else predictions.iloc[:0]
    inside = (rows["target"] >= rows["lower"]) & (rows["target"] <= rows["upper"])
    table = inside.groupby([rows["split"], rows["model"], rows["group"]]).mean().unstack("group")
    splits = list(pd.unique(rows["split"]))
    fig, axes = plt.subplots(len(splits) or 1, 1, figsize=(12, 3.2 * max(1, len(splits))), squeeze=False)
    for ax, split in zip(axes[:, 0], splits, strict=False):
        table.loc[split].plot.bar(ax=ax, width=0.85, legend=ax is axes[0, 0])
        ax.axhline(0.9, color="black", lw=0.8, ls="--")
        ax.set(title=split, ylabel="coverage", ylim=(0, 1), xlabel="")
        ax.tick_params(axis="x", labelsize=7, labelrotation=60)
    if splits:
        axes[0, 0].legend(fontsize=6, ncol=4)
    fig.tight_layout()
    return fig


def error_vs_uncertainty_figure(predictions: pd.DataFrame) -> Figure:
    """MAE per decile of the OOD score, per split (a useful score rises left to right)."""
    rows, splits, fig, axes = _with(predictions, "ood_score")
    for ax, split in zip(axes, splits, strict=False):
        for model, subset in rows[rows["split"] == split].groupby("model"):
            decile = pd.qcut(subset["ood_score"].rank(method="first"), 10, labels=False)
            error = (subset["prediction"] - subset["target"]).abs().groupby(decile).mean()
            ax.plot(error.index + 1, error.to_numpy(), label=model, lw=1)
        ax.set(title=split, xlabel="OOD score decile", ylabel="MAE")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def _embedded(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def robustness_report(
    metrics: dict[str, Any], predictions: dict[str, pd.DataFrame]
) -> tuple[str, str, dict[str, Figure]]:
    """(HTML, Markdown, figures by file name) for the datasets in ``predictions``."""
    html = [
        "<html><head><meta charset='utf-8'><title>matshift robustness report</title>",
        "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse;font-size:12px}"
        " td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head><body>",
        "<h1>matshift robustness report</h1>",
        "<p>Every model on every split: fold-averaged metrics (see README, <i>Robust models</i>, for each "
        "model and interval method). <code>ood_id_ratio</code> = MAE on the split / MAE on matbench_cv.</p>",
    ]
    markdown = [
        "# matshift robustness report",
        "",
        "Every model on every split, fold-averaged; `ood_id_ratio` = MAE on the split / MAE on "
        "matbench_cv. Figures are beside this file.",
        "",
    ]
    figures: dict[str, Figure] = {}
    for dataset, table in predictions.items():
        summary = metrics_table(metrics[dataset])
        html += [f"<h2>{dataset}</h2>"]
        markdown += [f"## {dataset}", ""]
        for split, rows in summary.groupby("split", sort=False):
            rows = rows.sort_values("mae")
            header = ["model", *TABLE_METRICS]
            html += [f"<h3>{split}</h3><table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
            html += [
                "<tr>" + "".join(f"<td>{_format(r[h])}</td>" for h in header) + "</tr>"
                for _, r in rows.iterrows()
            ]
            html += ["</table>"]
            markdown += [f"### {split}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            markdown += ["| " + " | ".join(_format(r[h]) for h in header) + " |" for _, r in rows.iterrows()]
            markdown += [""]
        for name, build in (
            ("reliability", reliability_figure),
            ("coverage_per_group", group_coverage_figure),
            ("error_vs_uncertainty", error_vs_uncertainty_figure),
        ):
            fig = build(table)
            file_name = f"{dataset}_{name}.png"
            figures[file_name] = fig
            html += [f"<h3>{name.replace('_', ' ')}</h3><img src='data:image/png;base64,{_embedded(fig)}'/>"]
            markdown += [f"![{name}](robustness/{file_name})", ""]
        html += [
            f"<p>Parity plots per split: <code>data/08_reporting/evaluation/{dataset}/parity/</code></p>"
        ]
        markdown += [f"Parity plots per split: `data/08_reporting/evaluation/{dataset}/parity/`.", ""]
    html += ["</body></html>"]
    return "\n".join(html), "\n".join(markdown), figures


def audit_markdown(audit: dict[str, Any]) -> str:
    """The audit stage's section (issue 7): near-duplicates, shortcuts, simulated selection bias, VAE."""
    dataset = audit["dataset"]
    near = audit["near_duplicates"]
    lines = [
        f"## Audit: {dataset}",
        "",
        f"### Near-duplicates across splits (same elements, every fraction within {near['tolerance']})",
        "",
        "| split | mean share of test compositions with a near-duplicate in training |",
        "|---|---|",
    ]
    lines += [f"| {s} | {v:.1%} |" for s, v in near["mean_fraction_of_test_compositions"].items()]
    lines += ["", *(f"> **Warning**: {w}" for w in near["warnings"]), ""]
    shortcuts = audit["shortcuts"]
    lines += ["### Metadata shortcuts", ""]
    if shortcuts.get("note"):
        lines += [shortcuts["note"] + ".", ""]
    else:
        found = ", ".join(shortcuts["shortcuts"]) or "none"
        lines += [f"Shortcut columns: **{found}**.", ""]
        lines += ["| column | permutation MAE rise | group/random MAE | domain bal. acc. (chance) | flags |"]
        lines += ["|---|---|---|---|---|"]
        for column, entry in shortcuts["columns"].items():
            lines.append(
                f"| {column} | {_format(entry['permutation_mae_rise'])} | "
                f"{_format(entry['group_to_random_mae_ratio'])} | "
                f"{_format(entry['domain_balanced_accuracy'])} ({_format(entry['domain_chance'])}) | "
                f"{', '.join(entry['flags']) or '-'} |"
            )
        lines.append("")
    bias = audit["selection_bias_simulated"]
    mean = bias["mean_over_folds"]
    lines += [
        "### Selection bias (SIMULATED)",
        "",
        bias["description"] + ".",
        "",
        "| fit | test MAE (mean over folds) | training-target mean estimate |",
        "|---|---|---|",
        *(
            f"| {label} | {_format(mean[f'test_mae_{key}'])} | {_format(mean[f'train_mean_{key}'])} |"
            for key, label in (
                ("all_labels", "all labels (reference)"),
                ("naive", "naive (labelled rows only)"),
                ("ipw", "inverse-propensity weighted"),
            )
        ),
        "",
        f"IPW beats naive on {bias['ipw_wins_folds']} of {bias['n_folds']} folds.",
        "",
    ]
    latent = audit["latent_space"]
    lines += [
        "### VAE latent space",
        "",
        f"VAE trained on {latent['trained_on']}; flag AUROC on the errors of `{latent['reference_model']}`.",
        "",
    ]
    columns = sorted({k for v in latent["by_split"].values() for k in v})
    lines += ["| split | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [
        f"| {split} | " + " | ".join(_format(values.get(c)) for c in columns) + " |"
        for split, values in latent["by_split"].items()
    ]
    return "\n".join([*lines, ""])
