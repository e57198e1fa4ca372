"""A Great Expectations suite generated from the training data, checked on every plant batch.

The reference profile (what the model has seen) becomes expectations a reviewer can read:

- each descriptor within its training quantile range (``quantiles``), for at least ``mostly`` of the rows;
- every element of the batch among the elements seen in training;
- every categorical column (e.g. the anion-class group) within its training set of values;
- the KL divergence of the binned values of the ``kl_columns`` from the training histogram below
  ``kl_threshold`` (GX's ``ExpectColumnKLDivergenceToBeLessThan`` with the training partition).

This is evidence shown in the batch report, expectation by expectation; the covariate-shift alarm is
the domain classifier's (``monitoring.drift``), whose false-alarm rate is measured.

The descriptor ranges (one expectation per descriptor, ~150) are checked in one vectorised pass with
GX's own rule for ``ExpectColumnValuesToBeBetween`` (nulls ignored, ``mostly`` of the non-null rows,
``unexpected_percent`` of the non-null rows; ``tests/monitoring/test_reference_suite.py`` checks the
result against GX's): GX spends ~0.1 s per expectation whatever the batch size, which made 25 small
batches take minutes. GX itself runs the element, categorical and KL expectations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matshift.chemistry.formula import element_fractions


def element_table(compositions: pd.Series | None) -> pd.DataFrame:
    """One row per (composition, element): the batch's elements as a column GX can check (none for a
    table without compositions, e.g. electrolyte recipes)."""
    if compositions is None:
        return pd.DataFrame(columns=["composition", "element"])
    rows = [(c, e) for c in compositions.unique() for e in element_fractions(c)]
    return pd.DataFrame(rows, columns=["composition", "element"])


def build_reference_profile(
    features: pd.DataFrame, table: pd.DataFrame, params: dict[str, Any]
) -> dict[str, Any]:
    """Quantile ranges, element set, categorical sets and histograms of the training rows."""
    low, high = params["quantiles"]
    numeric = features.select_dtypes("number")
    ranges = {c: [float(numeric[c].quantile(low)), float(numeric[c].quantile(high))] for c in numeric}
    histograms = {}
    for column in [c for c in params["kl_columns"] if c in numeric]:  # a domain's own features differ
        values = numeric[column].dropna().to_numpy()
        edges = np.unique(np.quantile(values, np.linspace(0, 1, params["kl_bins"] + 1)))
        counts, _ = np.histogram(values, bins=edges)
        histograms[column] = {"bins": edges.tolist(), "weights": (counts / counts.sum()).tolist()}
    return {
        "ranges": ranges,
        "elements": sorted(element_table(table.get("composition"))["element"].unique()),
        "categories": {
            c: sorted(table[c].dropna().astype(str).unique()) for c in params["categorical_columns"]
        },
        "histograms": histograms,
    }


def build_reference_suites(profile: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``{"rows": suite for the batch rows, "elements": suite for its element table}``."""
    import great_expectations as gx

    rows = gx.ExpectationSuite(name="reference_rows")
    for column, (low, high) in profile["ranges"].items():
        rows.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column=column, min_value=low, max_value=high, mostly=params["mostly"]
            )
        )
    for column, values in profile["categories"].items():
        rows.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=values))
    for column, partition in profile["histograms"].items():
        rows.add_expectation(
            gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
                column=column,
                partition_object=partition,
                threshold=params["kl_threshold"],
                tail_weight_holdout=params["kl_tail_weight"],
            )
        )
    elements = gx.ExpectationSuite(name="reference_elements")
    elements.add_expectation(
        gx.expectations.ExpectColumnValuesToBeInSet(column="element", value_set=profile["elements"])
    )
    return {"rows": rows, "elements": elements}


RANGE_EXPECTATION = "expect_column_values_to_be_between"
PARTIAL_UNEXPECTED = 20  # as many unexpected values as GX's SUMMARY result lists


def check_ranges(
    batch_features: pd.DataFrame, profile: dict[str, Any], mostly: float
) -> list[dict[str, Any]]:
    """One outcome per profiled descriptor, as GX's ``ExpectColumnValuesToBeBetween`` (SUMMARY) reports it:
    ``{"column", "success", "unexpected_percent", "partial_unexpected_list"}``."""
    columns = [c for c in profile["ranges"] if c in batch_features]
    missing = sorted(set(profile["ranges"]) - set(columns))
    if missing:
        raise KeyError(f"reference suite: batch descriptors lack profiled column(s) {missing[:5]}")
    values = batch_features[columns].to_numpy(dtype=float)
    low, high = np.array([profile["ranges"][c] for c in columns], dtype=float).T
    present = ~np.isnan(values)
    unexpected = present & ((values < low) | (values > high))
    nonnull, n_unexpected = present.sum(axis=0), unexpected.sum(axis=0)
    outcomes = []
    for i, column in enumerate(columns):
        considered, bad = float(nonnull[i]), float(n_unexpected[i])
        outcomes.append(
            {
                "column": column,
                # GX's arithmetic, so a batch exactly at ``mostly`` is judged the same way
                "success": bool(considered == 0 or (considered - bad) / considered >= mostly),
                "unexpected_percent": bad / considered * 100 if considered else 0.0,
                "partial_unexpected_list": values[unexpected[:, i], i][:PARTIAL_UNEXPECTED].tolist(),
            }
        )
    return outcomes


def reference_validations(profile: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """GX validation definitions of the suites GX runs (``rows``, ``elements``; the ranges are checked
    by :func:`check_ranges`), in one ephemeral context: made once, they validate every batch of a run
    (making them costs a third of a batch's check)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("plant_batch")
    suites = build_reference_suites({**profile, "ranges": {}}, params)
    return {
        name: context.validation_definitions.add(
            gx.ValidationDefinition(
                name=name,
                data=source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name),
                suite=context.suites.add(suite),
            )
        )
        for name, suite in suites.items()
    }


def check_batch_against_reference(
    batch_features: pd.DataFrame,
    batch_table: pd.DataFrame,
    profile: dict[str, Any],
    params: dict[str, Any],
    validations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run both suites on a batch: ``{"success", "evaluated", "failed": [...]}`` (failed: what and why).

    ``validations``: :func:`reference_validations` of the same profile and parameters, made once for
    every batch of a run; by default made for this batch."""
    validations = validations or reference_validations(profile, params)
    ranges = check_ranges(batch_features, profile, params["mostly"])
    failed = [_describe_range(outcome) for outcome in ranges if not outcome["success"]]
    evaluated = len(ranges)
    kl_columns = list(profile["histograms"])
    frames = {
        "rows": pd.concat(
            [
                batch_features[kl_columns].reset_index(drop=True),
                batch_table[list(profile["categories"])].astype(str).reset_index(drop=True),
            ],
            axis=1,
        ),
        "elements": element_table(batch_table.get("composition")),
    }
    # the ranges were checked above; GX runs the rest of the suite
    for name, definition in validations.items():
        result = definition.run(batch_parameters={"dataframe": frames[name]}, result_format="SUMMARY")
        for outcome in result.results:
            evaluated += 1
            if not outcome.success:
                failed.append(_describe(outcome.expectation_config, outcome.result))
    return {"success": not failed, "evaluated": evaluated, "failed": failed}


def _describe_range(outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "expectation": RANGE_EXPECTATION,
        "column": outcome["column"],
        "unexpected_percent": round(float(outcome["unexpected_percent"]), 2),
        "unexpected_values": [str(v) for v in outcome["partial_unexpected_list"][:10]],
    }


def _describe(config: Any, result: dict[str, Any]) -> dict[str, Any]:
    kwargs = config.kwargs
    entry = {"expectation": config.type, "column": kwargs.get("column")}
    if "observed_value" in result:
        observed = result["observed_value"]
        entry["observed"] = float(observed) if isinstance(observed, int | float) else str(observed)
    if "unexpected_percent" in result:
        entry["unexpected_percent"] = round(float(result["unexpected_percent"] or 0.0), 2)
        entry["unexpected_values"] = [str(v) for v in (result.get("partial_unexpected_list") or [])[:10]]
    return entry
