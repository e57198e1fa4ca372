"""Promote: apply the monitor run's proposal, the one explicit step that changes the champion.

``kedro run --pipeline promote --namespaces <dataset> --params promote.batch=<batch>`` (or ``make promote
BATCH=<batch>``, which finds the dataset whose proposal names the batch)
installs the challenger the last monitor run proposed, after checking that it is the proposed batch, that
it was judged against the champion in place now (a stale proposal is refused), that it was eligible and
that the challenger file still hashes to the sha256 the monitor run pinned (checked before it is
unpickled). The catalog then writes the artefact ``data/06_models/champion/<dataset>.pkl`` and its record
(pin, ``promoted_from_batch``, the batches it was fitted on, their first honest evaluation); the batch's
predictions and report from before the promotion are kept beside it. After the run the tracking hook
registers the same bytes as a new registry version with alias ``champion`` (artefact first, registry
second: if the registry step fails the run exits non-zero, the artefact is the champion, and monitoring
loads it from the artefact, hash-checked, saying the registry does not hold it; re-run the same command).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from typing import Any

import pandas as pd

from matshift.monitoring.champion_model import ChampionModel


class PromotionError(RuntimeError):
    """The requested promotion does not match the monitor run's proposal."""


def promote_challenger(
    proposal: dict[str, Any],
    summary: dict[str, Any],
    challengers: dict[str, Callable[[], bytes]],
    champion_record: dict[str, Any],
    plant_predictions: dict[str, Callable[[], pd.DataFrame]],
    monitoring_reports: dict[str, Callable[[], str]],
    promote_params: dict[str, Any],
    dataset: str,
) -> tuple[ChampionModel, dict[str, Any], dict[str, pd.DataFrame], dict[str, str]]:
    """The new champion, its record and the batch's kept predictions and report."""
    batch = promote_params.get("batch")
    if not batch:
        raise PromotionError(
            f"{dataset}: name the batch to promote (--params promote.batch=<batch>); the last monitor run "
            f"proposed {proposal.get('batch')!r} ({proposal.get('command', proposal.get('reason'))})"
        )
    if proposal.get("batch") != batch:
        raise PromotionError(
            f"{dataset}: batch {batch!r} is not the monitor run's proposal "
            f"(proposed: {proposal.get('batch')!r}, {proposal.get('reason', '')}); "
            f"see data/08_reporting/monitoring/{dataset}/proposal.json"
        )
    current = (champion_record.get("artefact") or {}).get("sha256")
    judged_against = (proposal.get("against_champion") or {}).get("sha256")
    if current != judged_against:
        raise PromotionError(
            f"{dataset}: the proposal for batch {batch!r} was judged against champion sha256 "
            f"{judged_against}, but the champion now is sha256 {current}; "
            "re-run the monitor stage to judge it again"
        )
    entry = (summary.get("batches") or {}).get(batch) or {}
    decision = entry.get("challenger") or {}
    if not decision.get("eligible") or entry.get("sha256") != proposal.get("batch_sha256"):
        raise PromotionError(
            f"{dataset}: batch {batch!r} is not eligible in summary.json or its file changed since the "
            f"proposal ({decision.get('not_eligible_because')})"
        )
    challenger = _pinned_challenger(challengers, batch, decision, dataset)
    kept_keys = ("model", "artefact", "promoted_from_batch")
    previous = {k: champion_record[k] for k in kept_keys if k in champion_record}
    record = {
        **{k: v for k, v in champion_record.items() if k != "artefact"},
        "promoted_from_batch": batch,
        "promotion": decision,
        "previous_champion": previous,
        "fitted_on_batches": {**(champion_record.get("fitted_on_batches") or {}), batch: entry["sha256"]},
        "kept_evaluations": {
            **(champion_record.get("kept_evaluations") or {}),
            batch: {k: v for k, v in entry.items() if k != "not_rescored"},
        },
    }
    kept_predictions = {batch: plant_predictions[batch]()} if batch in plant_predictions else {}
    kept_reports = {batch: monitoring_reports[batch]()} if batch in monitoring_reports else {}
    return challenger, record, kept_predictions, kept_reports


def _pinned_challenger(
    challengers: dict[str, Callable[[], bytes]], batch: str, decision: dict[str, Any], dataset: str
) -> ChampionModel:
    """The batch's challenger, unpickled only after its bytes hash to the sha256 its decision recorded."""
    path = f"data/06_models/challengers/{dataset}/{batch}.pkl"
    if batch not in challengers:
        raise PromotionError(f"{dataset}: no challenger {path}")
    expected = decision.get("sha256")
    if not expected:
        raise PromotionError(
            f"{dataset}: the decision for batch {batch!r} pins no challenger sha256 (a monitor run from "
            "before challengers were pinned); re-run the monitor stage"
        )
    data = challengers[batch]()
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise PromotionError(
            f"{dataset}: {path} has sha256 {found}, but the monitor run pinned {expected}: the file changed "
            "since it was evaluated and is not loaded; re-run the monitor stage"
        )
    return pickle.loads(data)  # noqa: S301 - bytes this project wrote, hash-checked just above
