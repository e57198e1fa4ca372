"""Monitor: new plant batches validated, checked for drift, scored by the champion, ranked for measuring.

Per batch: file-level problems quarantine the whole file (with its reason), row-level problems the row
(the validate stage's Great Expectations suite, a target optional); ``rows_in = scored + quarantined``.
The champion is chosen from the evaluate stage's metrics by the declared rule and refitted with the
batch as the unlabelled target domain (see ``monitoring.scoring``); drift is measured against the
training inputs and named (covariate / concept / selection); unlabelled samples are ranked for the
next experiments. Nothing here writes files: the catalog saves every output.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from matshift.monitoring.active_learning import next_experiments_table
from matshift.monitoring.champion import select_champion
from matshift.monitoring.drift import diagnose_shift, domain_classifier_drift, feature_drift
from matshift.monitoring.report import batch_report_html
from matshift.monitoring.scoring import score_batch
from matshift.pipelines.featurize.nodes import featurize_materials
from matshift.pipelines.ingest.nodes import stage_materials_table
from matshift.pipelines.validate.nodes import validation_rules
from matshift.validation import validate_staged_table

logger = logging.getLogger(__name__)
PLANT_DOMAIN = "plant"


class BadBatchFileError(RuntimeError):
    """Raised after every other batch was processed, when a file could not be read (``on_bad_file: fail``)."""


def stage_plant_batches(
    plant_batches: dict[str, Any], declaration: dict[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Accepted rows of every readable batch (column ``batch``), quarantined rows and files, counts."""
    rules = {**validation_rules(declaration), "target_required": False, "max_bad_fraction": 1.0}
    target_column = declaration["columns"]["target"]
    accepted, quarantined, counts = [], [], {}
    for batch, raw in plant_batches["batches"].items():
        raw = raw if target_column in raw else raw.assign(**{target_column: ""})
        staged = stage_materials_table(raw, declaration, f"{dataset}/plant/{batch}")
        staged = staged.assign(domain=PLANT_DOMAIN)
        rows, bad, summary, _ = validate_staged_table(staged, rules, f"{dataset} plant batch {batch}")
        accepted.append(rows.assign(batch=batch))
        quarantined.append(bad.assign(batch=batch, file=""))
        counts[batch] = {
            "rows_in": summary["rows_in"],
            "scored": summary["accepted"],
            "quarantined": summary["quarantined"],
            "reasons": {k: v for k, v in summary["reasons"].items() if v},
            "labelled": bool(rows["target"].notna().any()),
            "sha256": plant_batches["hashes"][batch],
        }
    files = plant_batches["quarantine"]
    for _, row in files.iterrows():
        counts[f"file:{row['file']}"] = {
            "file": row["file"],
            "reason": row["reason"],
            "message": row["message"],
        }
    quarantined.append(
        pd.DataFrame(
            {"batch": "", "file": files["file"], "reason": files["reason"], "detail": files["message"]}
        )
    )
    table = pd.concat(accepted, ignore_index=True) if accepted else pd.DataFrame(columns=["batch"])
    return table, pd.concat(quarantined, ignore_index=True), counts


def monitor_plant_batches(
    plant_table: pd.DataFrame,
    plant_counts: dict[str, Any],
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_feature_table: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
    metrics: dict[str, Any],
    declaration: dict[str, Any],
    robust_params: dict[str, Any],
    monitor_params: dict[str, Any],
    dataset: str,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, str], dict[str, Any], dict[str, Any]]:
    """Per batch: predictions, next experiments, an HTML report; the run's summary, and the manifest of
    the prediction files (batch -> sha256 of its source file, rows, champion), also when no batch came."""
    champion = select_champion(metrics, monitor_params["champion"])
    clip = (declaration["target"]["min"], declaration["target"]["max"])
    reference = features.loc[materials_table["composition"]]
    drift_params = monitor_params["drift"]
    predictions, experiments, reports = {}, {}, {}
    summary: dict[str, Any] = {"dataset": dataset, "champion": champion, "batches": {}, "bad_files": []}
    for key, counts in plant_counts.items():
        if key.startswith("file:"):
            summary["bad_files"].append(counts)
    for batch, rows in plant_table.groupby("batch", sort=True):
        batch_features = featurize_materials(rows)
        scored = score_batch(
            rows,
            batch_features,
            materials_table,
            features,
            source_feature_table,
            source_polymorphs,
            source_models,
            source_folds,
            champion["model"],
            robust_params,
            clip,
        )
        inputs = batch_features.loc[rows["composition"]]
        domain = domain_classifier_drift(
            reference,
            inputs,
            n_permutations=drift_params["n_permutations"],
            max_reference_rows=drift_params["max_reference_rows"],
            random_state=drift_params["random_state"],
        )
        labelled = scored["target"].notna().to_numpy() if "target" in scored else np.zeros(len(scored), bool)
        diagnosis = diagnose_shift(
            domain,
            alpha=drift_params["alpha"],
            min_auc=drift_params["min_auc"],
            reference_target=materials_table["target"].to_numpy(),
            batch_target=scored["target"].to_numpy() if labelled.any() else None,
            batch_lower=scored["lower"].to_numpy(),
            batch_upper=scored["upper"].to_numpy(),
            confidence_level=robust_params["confidence_level"],
        )
        univariate = feature_drift(reference, inputs, drift_params["psi_bins"]).head(
            drift_params["top_features"]
        )
        unlabelled = ~labelled
        ranking = (
            next_experiments_table(
                scored["sample_id"].to_numpy()[unlabelled],
                inputs.to_numpy()[unlabelled],
                scored["prediction"].to_numpy()[unlabelled],
                scored["ood_score"].to_numpy()[unlabelled],
                k=monitor_params["next_experiments"]["k"],
                labelled=reference.to_numpy(),
                diversity_weight=monitor_params["next_experiments"]["diversity_weight"],
            )
            if unlabelled.any()
            else pd.DataFrame(columns=["rank", "sample_id", "prediction", "uncertainty"])
        )
        ranking = ranking.merge(rows[["sample_id", "formula"]], on="sample_id", how="left")
        entry = {
            **plant_counts[batch],
            "drift": {**domain, **diagnosis.to_dict(), "top_psi": univariate["psi"].round(4).to_dict()},
            "uncertain_fraction": float(scored["uncertain"].mean()),
        }
        if labelled.any():
            known = scored[labelled]
            entry["labelled_mae"] = float((known["prediction"] - known["target"]).abs().mean())
            entry["labelled_coverage_90"] = float(
                known["target"].between(known["lower"], known["upper"]).mean()
            )
        summary["batches"][batch] = entry
        predictions[batch] = scored.merge(rows[["sample_id", "formula"]], on="sample_id", how="left")
        experiments[batch] = ranking
        reports[batch] = batch_report_html(
            dataset, batch, entry, champion, predictions[batch], univariate, ranking
        )
        logger.info(
            "plant batch %s: %s rows scored, shift: %s", batch, len(scored), diagnosis.kinds or "none"
        )
    manifest = {
        "champion": champion["model"],
        "batches": {b: {"sha256": e["sha256"], "rows": e["scored"]} for b, e in summary["batches"].items()},
    }
    return predictions, experiments, reports, summary, manifest


def check_bad_files(summary: dict[str, Any], monitor_params: dict[str, Any]) -> None:
    """Fail the run (non-zero exit) after everything else was saved, when a batch file was unreadable."""
    bad = summary["bad_files"]
    if not bad:
        return
    message = "; ".join(f"{item['file']}: {item['reason']} ({item['message']})" for item in bad)
    if monitor_params["on_bad_file"] == "fail":
        raise BadBatchFileError(
            f"{len(bad)} plant batch file(s) could not be read and were quarantined: {message}. Every other "
            "batch was processed; fix or remove the file(s), or set monitor.on_bad_file: warn"
        )
    logger.warning("plant batch file(s) quarantined: %s", message)
