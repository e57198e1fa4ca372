"""A challenger for a labelled plant batch, and the rule that decides whether it replaces the champion.

The batch's labelled rows are split, grouped by composition, into *adaptation* rows and *held-back*
rows. The challenger is the champion's model refitted through the same transfer path (the transfer
design matrix: descriptors, looked-up and pretrained source columns) on the training rows plus the
adaptation rows, calibrated on the champion's calibration rows. Both are then scored on rows neither
was fitted on:

- plant: worst-group MAE on the held-back plant rows (groups with at least ``min_group_rows`` rows;
  the pooled MAE when none has that many);
- in-distribution: MAE on the champion's calibration rows.

The rule favours the challenger (``promote``) only if the plant worst-group MAE improves by more than
``min_relative_improvement`` and the in-distribution MAE is at most ``max_in_distribution_degradation``
(5%) worse. In-distribution rows whose composition was among the adaptation rows are left out of that
comparison. Only plant rows whose composition is not training data of the champion count (a
measurement of a training composition would let the challenger learn what it is scored on).

Nothing here replaces the champion. ``eligibility`` says whether a batch may be proposed at all (no
quarantined rows, not an example batch, not a batch the champion was already fitted on, evaluated and
favoured by the rule), and ``choose_proposal`` picks at most one batch per run: the largest relative
worst-group improvement, ties by batch name. Applying it is an explicit step (the ``promote``
pipeline). The decision carries every number it used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from matshift.monitoring.champion_model import ChampionModel

# why a batch the champion was fitted on (promoted from) is never eligible again
ALREADY_FITTED = "the champion was already fitted on this batch"


def _with_batch_as_one_source(values: pd.Series | None, batch_ids: pd.Index) -> pd.Series | None:
    """The champion's inner-fold column (e.g. a paper) extended to the batch rows: a plant batch is one
    new source, so the challenger's inner folds hold it out whole as they hold out a paper."""
    if values is None:
        return None
    return pd.concat([values, pd.Series("plant batch", index=batch_ids, name=values.name)])


def worst_group_mae(target: np.ndarray, prediction: np.ndarray, groups: np.ndarray, min_rows: int) -> float:
    errors = pd.Series(np.abs(np.asarray(prediction) - np.asarray(target)))
    per_group = errors.groupby(np.asarray(groups)).agg(["mean", "size"])
    eligible = per_group.loc[per_group["size"] >= min_rows, "mean"]
    return float(eligible.max()) if len(eligible) else float(errors.mean())


def challenge_champion(
    champion: ChampionModel,
    training: dict[str, pd.Series | pd.DataFrame],
    plant: dict[str, pd.Series | pd.DataFrame],
    params: dict[str, Any],
) -> tuple[ChampionModel | None, dict[str, Any]]:
    """``training`` and ``plant``: ``{"X", "y", "group", "composition"}`` indexed by sample_id (plant: its
    labelled rows). Returns the challenger (None when not evaluated) and the decision.

    Plant rows whose composition is in ``training`` are dropped first: only new compositions count."""
    novel = ~plant["composition"].isin(set(training["composition"])).to_numpy()
    plant = {key: value[novel] if key != "X" else value.loc[novel] for key, value in plant.items()}
    n_labelled, n_known = len(plant["y"]), int((~novel).sum())
    if n_labelled < params["min_labelled_rows"]:
        reason = (
            f"{n_labelled} labelled rows of compositions not in the training data ({n_known} more were), "
            f"fewer than min_labelled_rows={params['min_labelled_rows']}"
        )
        decision = {"evaluated": False, "promote": False, "reason": reason, "training_compositions": n_known}
        return None, decision
    splitter = GroupShuffleSplit(
        n_splits=1, test_size=params["holdback_fraction"], random_state=params["random_state"]
    )
    adapt_rows, held_rows = next(splitter.split(plant["X"], groups=plant["composition"].to_numpy()))
    adapt_ids, held_ids = plant["X"].index[adapt_rows], plant["X"].index[held_rows]

    def joined(key: str):
        return pd.concat([training[key], plant[key].loc[adapt_ids]])

    challenger = ChampionModel(
        champion.key, champion.robust_params, champion.clip, getattr(champion, "split", None)
    ).fit(
        joined("X"),
        joined("y"),
        joined("group"),
        joined("composition"),
        calibration_ids=champion.calibration_part_["X"].index.to_numpy(),
        # getattr: a champion saved before shift_values_ existed calibrated without a column
        shift_values=_with_batch_as_one_source(getattr(champion, "shift_values_", None), adapt_ids),
    )
    held_X, held_y = plant["X"].loc[held_ids], plant["y"].loc[held_ids].to_numpy()
    held_group = plant["group"].loc[held_ids].to_numpy()
    # in-distribution rows: the champion's calibration rows whose composition the challenger was not fitted
    # on through a plant measurement of it (that would flatter the challenger)
    calibration_ids = champion.calibration_part_["X"].index
    seen = set(plant["composition"].loc[adapt_ids])
    unseen = ~training["composition"].loc[calibration_ids].isin(seen).to_numpy()
    calibration = {
        key: value[unseen] if key != "X" else value.loc[unseen]
        for key, value in champion.calibration_part_.items()
    }
    scores = {}
    for name, model in (("champion", champion), ("challenger", challenger)):
        plant_prediction = model.predict(held_X, held_group)
        id_prediction = model.predict(calibration["X"], calibration["group"])
        scores[name] = {
            "plant_worst_group_mae": worst_group_mae(
                held_y, plant_prediction, held_group, params["min_group_rows"]
            ),
            "plant_mae": float(np.mean(np.abs(plant_prediction - held_y))),
            "in_distribution_mae": float(np.mean(np.abs(id_prediction - calibration["y"]))),
        }
    limit = (1 + params["max_in_distribution_degradation"]) * scores["champion"]["in_distribution_mae"]
    # an improvement smaller than the declared margin is noise, not a reason to swap models
    needed = (1 - params["min_relative_improvement"]) * scores["champion"]["plant_worst_group_mae"]
    improves = scores["challenger"]["plant_worst_group_mae"] < needed
    within = scores["challenger"]["in_distribution_mae"] <= limit
    decision = {
        "evaluated": True,
        "promote": bool(improves and within),
        "reason": _reason(improves, within),
        "training_compositions": n_known,
        "adaptation_rows": int(len(adapt_ids)),
        "held_back_rows": int(len(held_ids)),
        "in_distribution_rows": int(len(calibration["y"])),
        "in_distribution_mae_limit": float(limit),
        **{f"{name}_{key}": value for name, values in scores.items() for key, value in values.items()},
    }
    return challenger, decision


def _reason(improves: bool, within: bool) -> str:
    if improves and within:
        return "plant worst-group MAE improves and in-distribution MAE stays within the limit"
    if not improves:
        return "plant worst-group MAE does not improve by more than the declared margin"
    return "in-distribution MAE gets worse than the limit allows"


def is_example_batch(batch: str, params: dict[str, Any]) -> bool:
    """A batch of ``scripts/make_example_batches.py`` (declared names or the ``example_`` prefix)."""
    declared = params.get("example_batches") or {}
    return batch.startswith(declared.get("prefix", "example_")) or batch in set(declared.get("names") or [])


def eligibility(
    batch: str,
    decision: dict[str, Any],
    quarantined_rows: int,
    fitted_on_batches: set[str],
    params: dict[str, Any],
) -> list[str]:
    """Why the batch's challenger may not be proposed (empty: it may)."""
    reasons = []
    if is_example_batch(batch, params):
        reasons.append("example batch (scripts/make_example_batches.py): never moves the champion")
    if quarantined_rows:
        reasons.append(f"{quarantined_rows} quarantined rows: a batch with bad rows is not trusted to train")
    if batch in fitted_on_batches:
        reasons.append(ALREADY_FITTED)
    if not decision.get("evaluated"):
        reasons.append(f"not evaluated: {decision.get('reason')}")
    elif not decision.get("promote"):
        reasons.append(f"rule: {decision.get('reason')}")
    return reasons


def relative_improvement(decision: dict[str, Any]) -> float:
    champion = decision["champion_plant_worst_group_mae"]
    return float(1 - decision["challenger_plant_worst_group_mae"] / champion) if champion > 0 else 0.0


def choose_proposal(decisions: dict[str, dict[str, Any]]) -> str | None:
    """The eligible batch with the largest relative worst-group improvement (ties: first by name)."""
    eligible = sorted(batch for batch, decision in decisions.items() if decision.get("eligible"))
    if not eligible:
        return None
    return max(eligible, key=lambda batch: (relative_improvement(decisions[batch]), -eligible.index(batch)))
