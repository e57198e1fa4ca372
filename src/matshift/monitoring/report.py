"""One self-contained HTML page per plant batch: what came in, what moved, what the champion says."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd


def _table(frame: pd.DataFrame, max_rows: int = 30) -> str:
    return frame.head(max_rows).to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)


def batch_report_html(
    dataset: str,
    batch: str,
    entry: dict[str, Any],
    champion: dict[str, Any],
    predictions: pd.DataFrame,
    univariate: pd.DataFrame,
    ranking: pd.DataFrame,
) -> str:
    drift = entry["drift"]
    kinds = ", ".join(drift["kinds"]) or "none detected"
    reasons = ", ".join(f"{k}: {v}" for k, v in entry["reasons"].items()) or "none"
    flagged = predictions[predictions["uncertain"]]
    labelled = ""
    if "labelled_mae" in entry:
        labelled = (
            f"<p>Labelled batch: MAE {entry['labelled_mae']:.3f}, 90% interval coverage "
            f"{entry['labelled_coverage_90']:.3f}.</p>"
        )
    coverage = "within" if champion["coverage_ok"] else "outside (no candidate qualified)"
    loaded_from = html.escape(str(champion.get("loaded_from", "")))
    return "\n".join(
        [
            "<html><head><meta charset='utf-8'>",
            f"<title>matshift monitoring: {html.escape(dataset)} / {html.escape(batch)}</title>",
            "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse;font-size:12px}"
            " td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>",
            f"<h1>{html.escape(dataset)} · plant batch {html.escape(batch)}</h1>",
            f"<p>File <code>{html.escape(str(entry.get('file', batch)))}</code>, "
            f"sha256 <code>{entry['sha256']}</code>. Rows in: {entry['rows_in']} = scored "
            f"{entry['scored']} + quarantined {entry['quarantined']} (reasons: {html.escape(reasons)}).</p>",
            f"<h2>Shift: {html.escape(kinds)}</h2>",
            f"<p>Domain classifier training vs batch: AUC {drift['auc']:.3f}, permutation p-value "
            f"{drift['p_value']:.3f}. Evidence: <code>{html.escape(str(drift['evidence']))}</code></p>",
            "<h3>Descriptors that moved most (PSI, Wasserstein in reference standard deviations)</h3>",
            _table(univariate.reset_index(names="descriptor")),
            *_reference_suite_section(entry.get("reference_suite")),
            f"<h2>Predictions by the champion <code>{html.escape(champion['model'])}</code></h2>",
            f"<p>Loaded from {loaded_from}.</p>",
            f"<p>Chosen by lowest {champion['metric']} on {champion['split']} ({champion['value']:.3f}) "
            f"among models with 90% coverage {coverage} the declared range (its coverage "
            f"{champion['coverage_90']:.3f}).</p>",
            f"<p>{len(flagged)} of {len(predictions)} predictions flagged <b>uncertain</b> "
            f"({entry['uncertain_fraction']:.1%}).</p>",
            labelled,
            *_challenger_section(entry.get("challenger")),
            _table(
                predictions.sort_values("ood_score", ascending=False)[
                    [
                        c
                        for c in (
                            "formula",
                            "formulation",
                            "prediction",
                            "lower",
                            "upper",
                            "uncertain",
                            "reason",
                            "target",
                        )
                        if c in predictions
                    ]
                ]
            ),
            "<h2>Measure next</h2>",
            _table(ranking) if len(ranking) else "<p>Every sample of this batch is labelled.</p>",
            "</body></html>",
        ]
    )


def _reference_suite_section(result: dict[str, Any] | None) -> list[str]:
    if result is None:
        return []
    verdict = "all passed" if result["success"] else f"{len(result['failed'])} failed"
    title = f"Great Expectations suite from the training data: {result['evaluated']} expectations, {verdict}"
    lines = [f"<h3>{title}</h3>"]
    if result["failed"]:
        lines.append(_table(pd.DataFrame(result["failed"]).astype(str)))
    return lines


def _challenger_section(decision: dict[str, Any] | None) -> list[str]:
    if decision is None:
        return []
    if not decision["evaluated"]:
        return [f"<h2>Challenger: not evaluated</h2><p>{html.escape(decision['reason'])}.</p>"]
    # a monitor run never promotes: it proposes at most one eligible batch (proposal.json, `make promote`)
    verdict = "favoured by the rule" if decision["promote"] else "not favoured by the rule"
    if decision["promote"]:
        blockers = decision.get("not_eligible_because") or []
        verdict += (
            " — not eligible for promotion: " + "; ".join(blockers)
            if blockers
            else " — eligible: see proposal.json for whether this run proposes it (`make promote BATCH=...`)"
        )
    rows = pd.DataFrame(
        {
            "model": ["champion", "challenger"],
            "plant worst-group MAE (held back)": [
                decision["champion_plant_worst_group_mae"],
                decision["challenger_plant_worst_group_mae"],
            ],
            "plant MAE (held back)": [decision["champion_plant_mae"], decision["challenger_plant_mae"]],
            "in-distribution MAE": [
                decision["champion_in_distribution_mae"],
                decision["challenger_in_distribution_mae"],
            ],
        }
    )
    return [
        f"<h2>Challenger: {html.escape(verdict)}</h2>",
        f"<p>{html.escape(decision['reason'])}. Fitted on the training rows + {decision['adaptation_rows']} "
        f"labelled plant rows; compared on {decision['held_back_rows']} held-back plant rows and "
        f"{decision['in_distribution_rows']} in-distribution rows neither model was fitted on "
        f"(in-distribution limit {decision['in_distribution_mae_limit']:.3f}).</p>",
        _table(rows),
    ]
