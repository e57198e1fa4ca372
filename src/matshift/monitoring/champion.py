"""The champion: the model monitoring scores plant batches with, chosen by a declared rule.

Rule (``conf/base/parameters_monitor.yml``): among the ``candidates`` (robust-stage model keys, which
carry intervals and flags), keep those whose ``coverage_90`` on ``split`` lies in ``coverage_range``,
and take the lowest ``minimise`` metric there (e.g. worst-group MAE on leave_cluster_out). When no
candidate's coverage qualifies, the lowest metric wins anyway and the choice says so.
"""

from __future__ import annotations

import math
from typing import Any


def champion_rule(monitor_params: dict[str, Any], declaration: dict[str, Any]) -> dict[str, Any]:
    """The project's rule (``monitor.champion``) with the keys the dataset declares under ``champion:``."""
    return {**monitor_params["champion"], **(declaration.get("champion") or {})}


def select_champion(metrics: dict[str, dict[str, dict[str, float]]], rule: dict[str, Any]) -> dict[str, Any]:
    """``{"model", "split", "metric", "value", "coverage_90", "coverage_ok", "candidates"}`` of the choice."""
    per_model = metrics.get(rule["split"])
    if not per_model:
        raise KeyError(f"champion rule: split {rule['split']!r} not in metrics (has {sorted(metrics)})")
    candidates = [
        m for m in rule["candidates"] if m in per_model and _finite(per_model[m].get(rule["minimise"]))
    ]
    if not candidates:
        raise KeyError(
            f"champion rule: none of {rule['candidates']} has {rule['minimise']!r} on {rule['split']!r}; "
            "run the robust stage (kedro run --pipeline robust) first"
        )
    low, high = rule["coverage_range"]
    qualified = [m for m in candidates if low <= per_model[m].get("coverage_90", math.nan) <= high]
    pool = qualified or candidates
    champion = min(pool, key=lambda m: per_model[m][rule["minimise"]])
    return {
        "model": champion,
        "split": rule["split"],
        "metric": rule["minimise"],
        "value": float(per_model[champion][rule["minimise"]]),
        "coverage_90": float(per_model[champion].get("coverage_90", math.nan)),
        "coverage_ok": bool(qualified),
        "candidates": {m: float(per_model[m][rule["minimise"]]) for m in candidates},
    }


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
