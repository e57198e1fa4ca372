"""Monitor: new plant batches validated, checked for drift, scored by the champion, ranked for measuring.

Per batch: file-level problems quarantine the whole file (with its reason), row-level problems the row
(the validate stage's Great Expectations suite, a target optional); ``rows_in = scored + quarantined``.
The champion is the evaluate stage's (chosen by the declared rule, loaded from the MLflow registry by
alias or from its local artefact; see ``monitoring.scoring``); drift is measured against the
training inputs and named (covariate / concept / selection); unlabelled samples are ranked for the
next experiments. Nothing here writes files: the catalog saves every output.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from matshift.casestudies.stages import clean_plant_batch, featurize_domain
from matshift.declarations import DeclarationError
from matshift.featurizers import featurize_materials
from matshift.featurizers.process import descriptor_rows
from matshift.ingest.staging import stage_materials_table
from matshift.io.pinned_bytes import pickled
from matshift.models.design import design_matrix
from matshift.monitoring.active_learning import next_experiments_table
from matshift.monitoring.challenger import (
    ALREADY_FITTED,
    challenge_champion,
    choose_proposal,
    eligibility,
)
from matshift.monitoring.champion_model import ChampionModel
from matshift.monitoring.drift import (
    FeatureReference,
    diagnose_shift,
    domain_classifier_drift,
    feature_drift,
    in_distribution_miss_rate,
)
from matshift.monitoring.reference_suite import (
    build_reference_profile,
    check_batch_against_reference,
    reference_validations,
)
from matshift.monitoring.report import batch_report_html
from matshift.monitoring.scoring import batch_design_matrix, score_batch, source_features
from matshift.validation import validate_staged_tables
from matshift.validation.declared import (
    internal_rules,
    with_declared_names,
    with_non_numeric,
    without_non_numeric,
)
from matshift.validation.quarantine import DataQualityError

logger = logging.getLogger(__name__)
PLANT_DOMAIN = "plant"
# columns that name a scored sample for a person, beside its sample_id (a formula, an electrolyte recipe)
DISPLAY_COLUMNS = ("formula", "formulation")


class BadBatchFileError(RuntimeError):
    """Raised after every other batch was processed, when a file could not be read (``on_bad_file: fail``)."""


def stage_plant_batches(
    plant_batches: dict[str, Any], declaration: dict[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Accepted rows of every readable batch (column ``batch``), quarantined rows and files, counts.

    ``counts``: per batch id its file and ``rows_in = scored + quarantined`` (row reasons included
    ``non_numeric``: a declared numeric process value that is not a finite number); per file not
    scored (``file:<name>``) its status (quarantined / skipped), reason and message. A batch without a
    declared column is quarantined as a file (``missing_column``); every other batch goes on. A dataset
    with a domain module has its batches in the raw file's layout, cleaned by the module
    (:func:`matshift.casestudies.stages.clean_plant_batch`).
    """
    ledger = plant_batches.get("files")
    if ledger is None:  # a reading without a file ledger: its quarantine is every file not read
        ledger = plant_batches["quarantine"].assign(batch="", status="quarantined")
    read = (ledger["status"] == "read").to_numpy()
    file_of = dict(zip(ledger.loc[read, "batch"], ledger.loc[read, "file"], strict=True))
    file_rows = ledger[~read].to_dict("records")
    validate = _validate_domain_batches if declaration.get("case_study") else _validate_declared_batches
    validated, unreadable = validate(plant_batches["batches"], declaration, dataset)
    for batch, error in unreadable.items():
        file_rows.append(
            {
                "file": file_of.get(batch, batch),
                "sha256": plant_batches["hashes"][batch],
                "status": "quarantined",
                "reason": error.reason,
                "message": error.message,
                "rows_in": len(plant_batches["batches"][batch]),
            }
        )
    accepted, quarantined, counts = [], [], {}
    for batch, (rows, bad, summary) in validated.items():
        file, digest = file_of.get(batch, batch), plant_batches["hashes"][batch]
        accepted.append(rows.assign(batch=batch))
        quarantined.append(bad.assign(batch=batch, file=file))
        counts[batch] = {
            "file": file,
            "rows_in": summary["rows_in"],
            "scored": summary["accepted"],
            "quarantined": summary["quarantined"],
            "reasons": {k: v for k, v in summary["reasons"].items() if v},
            "labelled": bool(rows["target"].notna().any()),
            "sha256": digest,
        }
    for row in file_rows:
        counts[f"file:{row['file']}"] = {
            "file": row["file"],
            "sha256": row.get("sha256", ""),
            "status": row["status"],
            "reason": row["reason"],
            "message": row["message"],
            "rows_in": int(row.get("rows_in", 0)),
        }
    bad_files = [row for row in file_rows if row["status"] == "quarantined"]
    quarantined.append(
        pd.DataFrame(
            {
                "batch": "",
                "file": [row["file"] for row in bad_files],
                "reason": [row["reason"] for row in bad_files],
                "detail": [row["message"] for row in bad_files],
            }
        )
    )
    table = pd.concat(accepted, ignore_index=True) if accepted else pd.DataFrame(columns=["batch"])
    quarantine = pd.concat(quarantined, ignore_index=True)
    if "source_row" in quarantine:  # file-level rows have none: keep the lines integers, not floats
        quarantine["source_row"] = quarantine["source_row"].astype("Int64")
    return table, quarantine, counts


def _validate_declared_batches(
    batches: dict[str, pd.DataFrame], declaration: dict[str, Any], dataset: str
) -> tuple[dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]], dict[str, BatchFileError]]:
    """Per readable batch (accepted rows, quarantined rows, counts) by the declared rules, and the
    batches quarantined as files."""
    rules, internal = internal_rules(declaration, target_required=False, max_bad_fraction=1.0)
    target_column = declaration["columns"]["target"]
    staged, numeric, non_numeric, unreadable = {}, {}, {}, {}
    for batch, raw in batches.items():
        try:
            staged[batch] = _staged_batch(raw, declaration, target_column, dataset, batch)
            numeric[batch], non_numeric[batch] = without_non_numeric(staged[batch])
        except BatchFileError as error:
            unreadable[batch] = error
    # one GX run for every batch: GX costs about a second per run, whatever the batch's size
    validated = validate_staged_tables(
        {batch: table.rename(columns=internal) for batch, table in numeric.items()},
        rules,
        {batch: f"{dataset} plant batch {batch}" for batch in staged},
    )
    results = {}
    for batch, table in staged.items():
        rows, bad, summary = validated[batch]
        rows, bad = with_declared_names(rows, bad, declaration, internal)
        results[batch] = with_non_numeric(table, non_numeric[batch], rows, bad, summary, rules)
    return results, unreadable


def _validate_domain_batches(
    batches: dict[str, pd.DataFrame], declaration: dict[str, Any], dataset: str
) -> tuple[dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]], dict[str, BatchFileError]]:
    """:func:`_validate_declared_batches` for a dataset with a domain module: its ``clean``."""
    results, unreadable = {}, {}
    for batch, raw in batches.items():
        try:
            rows, bad, counts = clean_plant_batch(raw, declaration, f"{dataset} plant batch {batch}", batch)
        except DataQualityError:  # the module lost a row, or broke the contract: a bug, not bad data
            raise
        except (ValueError, KeyError) as error:  # a column the module needs is missing, ...
            unreadable[batch] = BatchFileError("missing_column", f"{dataset} plant batch {batch}: {error}")
            continue
        results[batch] = (rows.assign(domain=PLANT_DOMAIN), bad, counts)
    return results, unreadable


class BatchFileError(ValueError):
    """A batch file quarantined as a whole after it was read (a declared column missing, ...)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def _staged_batch(
    raw: pd.DataFrame, declaration: dict[str, Any], target_column: str, dataset: str, batch: str
) -> pd.DataFrame:
    """One batch staged (not yet validated; ``process_value_error`` says why a process value is not a
    number)."""
    missing = [c for c in _declared_batch_columns(declaration) if c not in raw.columns]
    if missing:
        raise BatchFileError(
            "missing_column",
            f"declared column(s) {missing} not found (parameters_datasets.yml process_columns / group); "
            f"the file has {[c for c in raw.columns if c != 'source_row']}",
        )
    raw = raw if target_column in raw else raw.assign(**{target_column: ""})
    try:
        staged = stage_materials_table(raw, declaration, f"{dataset}/plant/{batch}")
    except DeclarationError as error:  # e.g. an outcome value the declaration does not know
        raise BatchFileError("declaration_mismatch", str(error)) from error
    return staged.assign(domain=PLANT_DOMAIN)


def _declared_batch_columns(declaration: dict[str, Any]) -> list[str]:
    """Source columns a plant batch must have (the target is optional): the formula or every declared
    element column (a missing element column is not read as zero), process columns and the group's."""
    composition = declaration.get("composition")
    if composition:
        given = list(composition["columns"].values())
    else:
        given = [declaration["columns"]["formula"]]
    process = [spec.get("column", name) for name, spec in (declaration.get("process_columns") or {}).items()]
    group = (declaration.get("group") or {}).get("column")
    return given + process + ([group] if group else [])


def plant_file_ledger(plant_counts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file of the batch folder once, sorted by name: ``scored`` (at least one row scored),
    ``quarantined`` (the file, or every row of it) or ``skipped``, with ``rows_in = scored + quarantined``
    (0 rows for a file that could not be read)."""
    entries = []
    for key, counts in plant_counts.items():
        if key.startswith("file:"):
            rows_in = counts.get("rows_in", 0)
            quarantined = rows_in if counts.get("status", "quarantined") == "quarantined" else 0
            entries.append(
                {
                    "file": counts["file"],
                    "batch": "",
                    "status": counts.get("status", "quarantined"),
                    "reason": counts["reason"],
                    "message": counts["message"],
                    "rows_in": rows_in,
                    "scored": 0,
                    "quarantined": quarantined,
                }
            )
            continue
        entries.append(
            {
                "file": counts["file"],
                "batch": key,
                "status": "scored" if counts["scored"] else "quarantined",
                "reason": "" if counts["scored"] else "every_row_quarantined",
                "message": "",
                "rows_in": counts["rows_in"],
                "scored": counts["scored"],
                "quarantined": counts["quarantined"],
            }
        )
    return sorted(entries, key=lambda entry: entry["file"])


def monitor_plant_batches(
    plant_table: pd.DataFrame,
    plant_counts: dict[str, Any],
    materials_table: pd.DataFrame,
    features: pd.DataFrame,
    source_feature_table: pd.DataFrame,
    source_polymorphs: pd.DataFrame,
    source_models: dict[str, dict[Any, Any]],
    source_folds: pd.DataFrame,
    champion_model: ChampionModel,
    champion_choice: dict[str, Any],
    robust_params: dict[str, Any],
    monitor_params: dict[str, Any],
    dataset: str,
    declaration: dict[str, Any] | None = None,
) -> tuple[
    dict[str, pd.DataFrame],
    dict[str, pd.DataFrame],
    dict[str, str],
    dict[str, Any],
    dict[str, Any],
    dict[str, bytes],
    dict[str, Any],
    dict[str, Any],
]:
    """Per batch: predictions, next experiments, an HTML report and, for a labelled batch, a challenger
    (evaluated, never installed; as its pickle, whose sha256 the batch's decision records); the run's
    summary, the manifest of the prediction files (batch -> sha256 of its source file, rows, champion),
    also when no batch came, the reference profile the batches were checked against and the promotion
    proposal (at most one batch, or none). ``declaration``: the dataset's, read for a domain module's
    features (a batch of such a dataset is featurized per sample, as its training rows were)."""
    champion = {
        **{k: v for k, v in champion_choice.items() if k != "kept_evaluations"},
        "loaded_from": getattr(champion_model, "loaded_from_", "in memory"),
    }
    # batches the champion was fitted on (promoted from): their first honest evaluation is kept
    fitted_on = champion_choice.get("fitted_on_batches") or {}
    kept = champion_choice.get("kept_evaluations") or {}
    reference = descriptor_rows(materials_table, features)
    profile = build_reference_profile(reference, materials_table, monitor_params["reference_suite"])
    training = champion_model.training_rows() if hasattr(champion_model, "training_rows") else None
    if training is None:  # a champion pickled before it kept its compositions: the training table
        X, y, composition = design_matrix(materials_table, features, source_feature_table)
        training = {
            "X": X,
            "y": y,
            "group": materials_table.set_index("sample_id")["group"],
            "composition": composition,
        }
    expected_miss = _in_distribution_miss_rate(champion_model)
    champion["in_distribution_miss_rate"] = expected_miss
    sources = (source_polymorphs, source_models, source_folds)
    predictions, experiments, reports, challengers = {}, {}, {}, {}
    files = plant_file_ledger(plant_counts)
    summary: dict[str, Any] = {
        "dataset": dataset,
        "champion": champion,
        "batches": {},
        "bad_files": [f for f in files if f["status"] == "quarantined" and not f["batch"]],
        "skipped_files": [f for f in files if f["status"] == "skipped"],
        "files": files,
    }
    to_score = {b: rows for b, rows in plant_table.groupby("batch", sort=True) if b not in fitted_on}
    features_of = {batch: _batch_features(rows, declaration, dataset) for batch, rows in to_score.items()}
    plant_source = _plant_source_features(to_score, features_of, sources)
    reference_bins = FeatureReference.of(reference, monitor_params["drift"]["psi_bins"])
    # GX's suites once for every batch (no GX import when no batch is to be scored)
    validations = reference_validations(profile, monitor_params["reference_suite"]) if to_score else None
    for batch, rows in plant_table.groupby("batch", sort=True):
        if batch in fitted_on:
            summary["batches"][batch] = _kept_evaluation(batch, plant_counts[batch], fitted_on, kept)
            logger.info("plant batch %s: not re-scored, the champion was fitted on it", batch)
            continue
        batch_features = features_of[batch]
        scored = score_batch(rows, batch_features, *sources, champion_model, plant_source)
        inputs = descriptor_rows(rows, batch_features)
        entry, univariate = _drift(
            (reference, reference_bins),
            inputs,
            scored,
            materials_table,
            robust_params,
            monitor_params["drift"],
            expected_miss,
        )
        entry = {**plant_counts[batch], **entry}
        entry["reference_suite"] = check_batch_against_reference(
            inputs, rows, profile, monitor_params["reference_suite"], validations
        )
        labelled = scored["target"].notna().to_numpy() if "target" in scored else np.zeros(len(scored), bool)
        if labelled.any():
            known = scored[labelled]
            entry["labelled_mae"] = float((known["prediction"] - known["target"]).abs().mean())
            entry["labelled_coverage_90"] = float(
                known["target"].between(known["lower"], known["upper"]).mean()
            )
            challenger, entry["challenger"] = _challenge(
                champion_model,
                training,
                rows[rows["target"].notna()],
                batch_features,
                sources,
                plant_source,
                monitor_params,
            )
            reasons = eligibility(
                batch, entry["challenger"], entry["quarantined"], set(fitted_on), monitor_params["challenger"]
            )
            entry["challenger"].update({"eligible": not reasons, "not_eligible_because": reasons})
            if challenger is not None:  # its bytes pinned in the decision: promote checks them first
                challengers[batch], entry["challenger"]["sha256"] = pickled(challenger)
        ranking = _next_experiments(scored, inputs, ~labelled, reference, monitor_params["next_experiments"])
        shown = rows[["sample_id", *(c for c in DISPLAY_COLUMNS if c in rows)]]
        ranking = ranking.merge(shown, on="sample_id", how="left")
        summary["batches"][batch] = entry
        predictions[batch] = scored.merge(shown, on="sample_id", how="left")
        experiments[batch] = ranking
        reports[batch] = batch_report_html(
            dataset, batch, entry, champion, predictions[batch], univariate, ranking
        )
        logger.info(
            "plant batch %s: %s rows scored, shift: %s", batch, len(scored), entry["drift"]["kinds"] or "none"
        )
    proposal = _proposal(dataset, summary, champion_choice)
    summary["proposal"] = proposal
    manifest = {
        "champion": champion["model"],
        "batches": {
            b: {"file": e["file"], "sha256": e["sha256"], "rows": e["scored"]}
            for b, e in summary["batches"].items()
            if b in predictions
        },
    }
    return predictions, experiments, reports, summary, manifest, challengers, profile, proposal


def _batch_features(rows: pd.DataFrame, declaration: dict[str, Any] | None, dataset: str) -> pd.DataFrame:
    """A batch's features as its dataset's training rows got them: per composition, or per sample by
    the dataset's domain module."""
    if declaration and declaration.get("case_study"):
        return featurize_domain(rows, declaration, dataset)
    return featurize_materials(rows)


def _plant_source_features(
    to_score: dict[str, pd.DataFrame], features_of: dict[str, pd.DataFrame], sources: tuple
) -> pd.DataFrame | None:
    """The source columns of every composition to score, in one pass over the source models (their
    cost is per call, not per row); None without a transfer source or a batch to score."""
    if not to_score:
        return None
    features = pd.concat(features_of.values())
    return source_features(pd.concat(to_score.values()), features[~features.index.duplicated()], *sources)


def _in_distribution_miss_rate(champion: ChampionModel) -> float | None:
    """How often the champion's intervals miss on its calibration rows: the concept-drift baseline."""
    if not hasattr(champion, "calibration_part_"):
        return None
    part = champion.calibration_part_
    with threadpool_limits(limits=1):  # small fits: threads only contend on 2 cores (as in score_batch)
        columns = champion.predict_with_uncertainty(part["X"], part["group"])
    return in_distribution_miss_rate(part["y"], columns["lower"], columns["upper"])


def _kept_evaluation(
    batch: str, counts: dict[str, Any], fitted_on: dict[str, str], kept: dict[str, Any]
) -> dict[str, Any]:
    """A batch the champion was fitted on: the evaluation made before it was promoted, not a re-score."""
    note = (
        "not re-scored: the champion was fitted on this batch (promoted from it); the first honest "
        "evaluation is kept (data/06_models/champion/<dataset>_kept/)"
    )
    same_file = fitted_on[batch] == counts.get("sha256")
    entry = {
        **kept.get(batch, {}),
        **{k: counts[k] for k in ("rows_in", "scored", "quarantined", "sha256") if k in counts},
        "not_rescored": note if same_file else f"{note}; the file changed since (sha256 differs)",
    }
    if "challenger" in entry:  # the kept decision as it was judged then; now it is in the champion
        entry["challenger"] = {
            **entry["challenger"],
            "eligible": False,
            "not_eligible_because": [ALREADY_FITTED],
        }
    return entry


def _proposal(dataset: str, summary: dict[str, Any], champion_choice: dict[str, Any]) -> dict[str, Any]:
    """At most one challenger to promote, and the exact command that would apply it."""
    decisions = {  # a kept evaluation (not re-scored) is history, never a proposal
        batch: entry["challenger"]
        for batch, entry in summary["batches"].items()
        if "challenger" in entry and "not_rescored" not in entry
    }
    batch = choose_proposal(decisions)
    if batch is None:
        return {"dataset": dataset, "batch": None, "reason": "no eligible challenger beats the champion"}
    pin = champion_choice.get("artefact") or {}
    return {
        "dataset": dataset,
        "batch": batch,
        "batch_sha256": summary["batches"][batch]["sha256"],
        "against_champion": {"model": champion_choice["model"], "sha256": pin.get("sha256")},
        "decision": decisions[batch],
        "command": f"make promote BATCH={batch}",
        # every monitored dataset has its own proposal: promote in this one's namespace only
        "kedro_command": (
            f"kedro run --pipeline promote --namespaces {dataset} --params promote.batch={batch}"
        ),
    }


def _drift(
    references: tuple[pd.DataFrame, FeatureReference],
    inputs: pd.DataFrame,
    scored: pd.DataFrame,
    materials_table: pd.DataFrame,
    robust_params: dict[str, Any],
    drift_params: dict[str, Any],
    expected_miss_rate: float | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The batch's drift diagnosis (summary entry) and its most moved descriptors: ``references`` are the
    reference rows and their :class:`FeatureReference` (made once per run)."""
    reference, reference_bins = references
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
        expected_miss_rate=expected_miss_rate,
    )
    univariate = feature_drift(reference_bins, inputs).head(drift_params["top_features"])
    entry = {
        "drift": {**domain, **diagnosis.to_dict(), "top_psi": univariate["psi"].round(4).to_dict()},
        "uncertain_fraction": float(scored["uncertain"].mean()),
    }
    return entry, univariate


def _challenge(
    champion: ChampionModel,
    training: dict[str, Any],
    labelled_rows: pd.DataFrame,
    batch_features: pd.DataFrame,
    sources: tuple,
    plant_source: pd.DataFrame | None,
    monitor_params: dict[str, Any],
) -> tuple[ChampionModel | None, dict[str, Any]]:
    X, y, composition = batch_design_matrix(labelled_rows, batch_features, *sources, plant_source)
    plant = {
        "X": X,
        "y": y,
        "group": labelled_rows.set_index("sample_id")["group"],
        "composition": composition,
    }
    return challenge_champion(champion, training, plant, monitor_params["challenger"])


def _next_experiments(
    scored: pd.DataFrame,
    inputs: pd.DataFrame,
    unlabelled: np.ndarray,
    reference: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    if not unlabelled.any():
        return pd.DataFrame(columns=["rank", "sample_id", "prediction", "uncertainty"])
    return next_experiments_table(
        scored["sample_id"].to_numpy()[unlabelled],
        inputs.to_numpy()[unlabelled],
        scored["prediction"].to_numpy()[unlabelled],
        scored["ood_score"].to_numpy()[unlabelled],
        k=params["k"],
        labelled=reference.to_numpy(),
        diversity_weight=params["diversity_weight"],
    )


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
