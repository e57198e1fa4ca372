"""Validate a staged table with its GX suite and split it into accepted rows and quarantined rows.

Every row that fails any row-level expectation is quarantined with the highest-priority reason code of
the expectations it failed (``suite.REASON_CODES`` order) and a ``detail`` that lists all of them with the
offending column and value. Table-level failures (a missing column, a wrong column dtype) and checks that
GX could not run are errors, not quarantine: no row can be judged when the table itself is wrong.

``validate_staged_tables`` validates many small tables (plant batches) in one GX run: GX spends about a
second per run whatever the table's size, which made 25 small batches take half a minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from matshift.schema import MATERIALS_COLUMNS, OUTCOME_COLUMNS, QUARANTINE_COLUMNS
from matshift.validation.suite import (
    REASON_CODES,
    build_suite,
    format_interval,
    format_number,
    process_columns,
    validate_rules,
)

DEFAULT_MAX_BAD_FRACTION = 0.05
_EXAMPLE_ROWS = 5  # source rows quoted per reason in a DataQualityError message

# COMPLETE returns every unexpected index (needed to quarantine each row); the index query is a pandas
# expression string as long as the index list itself, so leave it out of the stored result.
RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


class DataQualityError(ValueError):
    """The staged table fails validation as a whole: too many bad rows, or a broken schema."""


class SchemaMismatchError(DataQualityError):
    """A table-level schema expectation failed (missing column, wrong column dtype)."""


class ValidationRunError(RuntimeError):
    """GX raised inside an expectation; its rows were never checked, so nothing may pass silently."""


def validate_staged_table(
    staged: pd.DataFrame, rules: Mapping[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Validate ``staged`` against the dataset's suite.

    Returns ``(accepted, quarantine, summary, gx_result_json)``: accepted rows with the materials
    columns plus the declared process columns, quarantined rows with ``QUARANTINE_COLUMNS``, both in
    source order; a JSON-serialisable summary; and the GX validation result as a JSON dict (for Data Docs).

    Raises ``SchemaMismatchError`` naming the dataset and column on table-level failures and
    ``DataQualityError`` when the quarantined fraction exceeds ``rules["max_bad_fraction"]``.
    """
    validate_rules(rules, dataset)
    rules = rules_for(staged, rules)
    frame = index_by_source_row(staged)
    result_json = run_suite(frame, dataset, rules)
    flags = row_failures(result_json, frame, dataset)
    return (*split_rows(frame, flags, rules, dataset), result_json)


def validate_staged_tables(
    staged: Mapping[str, pd.DataFrame], rules: Mapping[str, Any], datasets: Mapping[str, str]
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]]:
    """``{key: (accepted, quarantine, summary)}``, each exactly what ``validate_staged_table(staged[key],
    rules, datasets[key])`` returns (without its GX result), in one GX run per set of tables with the
    same columns and dtypes.

    Every expectation of the suite judges a row by its own values, except sample_id uniqueness: tables
    whose sample ids overlap, and any set whose joint run fails as a table or raises, are validated one
    by one, so the error names the table as ``validate_staged_table`` would.
    """
    frames = {}
    for key, table in staged.items():
        validate_rules(rules, datasets[key])
        frames[key] = index_by_source_row(table)
    same_columns: dict[tuple, list[str]] = {}
    for key, frame in frames.items():
        same_columns.setdefault(tuple(frame.dtypes.items()), []).append(key)
    results = {}
    for keys in same_columns.values():
        flags = _joint_row_failures([frames[key] for key in keys], rules_for(frames[keys[0]], rules))
        for key, found in zip(keys, flags or [None] * len(keys), strict=True):
            part_rules = rules_for(frames[key], rules)
            if found is None:
                found = row_failures(
                    run_suite(frames[key], datasets[key], part_rules), frames[key], datasets[key]
                )
            results[key] = split_rows(frames[key], found, part_rules, datasets[key])
    return {key: results[key] for key in staged}


def _joint_row_failures(
    frames: list[pd.DataFrame], rules: Mapping[str, Any]
) -> list[dict[int, list[tuple[str, str]]]] | None:
    """Per frame, its ``row_failures`` from one GX run on all of them; None where that would not be exact."""
    sample_ids = [set(frame["sample_id"].dropna()) for frame in frames if "sample_id" in frame]
    if len(frames) < 2 or sum(map(len, sample_ids)) != len(set().union(*sample_ids)):
        return None
    joint = pd.concat(frames, ignore_index=True)  # labelled by position: source rows repeat across tables
    if not joint.dtypes.equals(frames[0].dtypes):
        return None
    try:
        flags = row_failures(run_suite(joint, "staged tables", rules), joint, "staged tables")
    except (DataQualityError, ValidationRunError):
        return None
    ends = np.cumsum([len(frame) for frame in frames])
    per_frame: list[dict[int, list[tuple[str, str]]]] = [{} for _ in frames]
    for position, found in flags.items():
        part = int(np.searchsorted(ends, position, side="right"))
        start = ends[part] - len(frames[part])
        per_frame[part][int(frames[part].index[position - start])] = found
    return per_frame


def rules_for(staged: pd.DataFrame, rules: Mapping[str, Any]) -> Mapping[str, Any]:
    """The rules with the outcome columns the table has: failed experiments and censored targets are
    kept, and checked accordingly."""
    present = [c for c in OUTCOME_COLUMNS if c in staged.columns]
    return {**rules, "outcome_columns": present} if present else rules


def split_rows(
    frame: pd.DataFrame, flags: Mapping[int, list[tuple[str, str]]], rules: Mapping[str, Any], dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Accepted rows, quarantined rows (with reason and detail) and the summary of a validated frame.

    Raises ``DataQualityError`` when the quarantined fraction exceeds ``rules["max_bad_fraction"]``."""
    bad = frame.index.isin(list(flags))
    quarantine = frame.loc[bad, [c for c in QUARANTINE_COLUMNS if c in frame.columns]].copy()
    quarantine["reason"] = [flags[row][0][0] for row in quarantine.index]
    quarantine["detail"] = ["; ".join(detail for _, detail in flags[row]) for row in quarantine.index]
    quarantine = quarantine[list(QUARANTINE_COLUMNS)]
    present = [c for c in OUTCOME_COLUMNS if c in frame.columns]
    accepted = frame.loc[~bad, [*MATERIALS_COLUMNS, *process_columns(rules), *present]]

    summary = summarise(dataset, len(frame), len(accepted), quarantine, flags, rules)
    if summary["bad_fraction"] > summary["max_bad_fraction"]:
        raise DataQualityError(threshold_message(summary, quarantine))
    return accepted.reset_index(drop=True), quarantine.reset_index(drop=True), summary


def index_by_source_row(staged: pd.DataFrame) -> pd.DataFrame:
    """A copy indexed by source line when lines are unique, else by position.

    GX reports unexpected rows by index label, so labels must name one row each; source lines make the
    Data Docs tables point straight into the file. The index is unnamed so it never shadows the column.
    """
    frame = staged.reset_index(drop=True)
    if "source_row" in frame.columns and frame["source_row"].notna().all() and frame["source_row"].is_unique:
        frame.index = pd.Index(frame["source_row"].astype("int64").to_numpy(), name=None)
    return frame


def run_suite(frame: pd.DataFrame, dataset: str, rules: Mapping[str, Any]) -> dict[str, Any]:
    """Run the dataset's suite on ``frame`` in an ephemeral GX context; the result as a JSON dict."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars per validation would flood pipeline logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("matshift")
        .add_dataframe_asset(dataset)
        .add_batch_definition_whole_dataframe("staged")
    )
    suite = context.suites.add(build_suite(dataset, rules))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{dataset}_staged", data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format=RESULT_FORMAT,
        run_id=RunIdentifier(run_name=dataset),
    )
    return result.to_json_dict()


def row_failures(
    result_json: Mapping[str, Any], frame: pd.DataFrame, dataset: str
) -> dict[int, list[tuple[str, str]]]:
    """``{row label: [(reason, detail), ...]}`` from a GX result, in reason-priority order per row.

    Raises on table-level failures and on expectations that raised, so a check cannot be skipped silently.
    """
    results = list(result_json["results"])
    _raise_for_schema(results, dataset)
    broken = [(r, _exception_message(r)) for r in results if _exception_message(r) is not None]
    if broken:
        config, message = broken[0][0]["expectation_config"], broken[0][1]
        raise ValidationRunError(
            f"{dataset}: {len(broken)} expectation(s) could not run, first {config['type']} on "
            f"{config['kwargs'].get('column')!r}: {message}"
        )
    flags: dict[int, list[tuple[int, int, str, str]]] = {}
    for position, result in enumerate(results):
        if result["success"]:
            continue
        config = result["expectation_config"]
        reason = config["meta"]["reason_code"]
        for row in result["result"]["unexpected_index_list"]:
            detail = describe_failure(config, frame.loc[row])
            flags.setdefault(int(row), []).append((REASON_CODES.index(reason), position, reason, detail))
    # Priority order per row, so the first entry is the row's reason and the detail reads worst-first.
    return {
        row: [(reason, detail) for *_, reason, detail in sorted(found)]
        for row, found in sorted(flags.items())
    }


def describe_failure(config: Mapping[str, Any], row: pd.Series) -> str:
    """One human-readable clause naming the column and its value, e.g. ``target=-1.2 outside [0, 20]``."""
    kind, kwargs = config["type"], config["kwargs"]
    column = kwargs.get("column")
    value = row.get(column) if column else None
    if config["meta"]["reason_code"] == "target_not_numeric":
        return f"target_raw={row.get('target_raw')!r} is not a number"
    if kind == "expect_column_values_to_be_between":
        interval = format_interval(kwargs.get("min_value"), kwargs.get("max_value"))
        return f"{column}={_show(value)} outside {interval}"
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is missing"
    if kind == "expect_column_values_to_match_regex":
        return f"{column}={value!r} is blank"
    if kind == "expect_column_values_to_not_be_in_set" and column == "composition_error":
        formula = row.get("formula")
        return f"formula={formula!r}: {value}" if isinstance(formula, str) else f"{column}={value}"
    if kind == "expect_column_values_to_be_in_set" and column == "occurrence":
        return f"occurrence={_show(value)}: repeats an identical earlier row"
    if kind == "expect_column_values_to_be_unique":
        return f"{column}={value!r} is not unique"
    if kind == "expect_column_values_to_be_in_type_list":
        return f"{column}={value!r} is {type(value).__name__}, expected {kwargs.get('type_list')}"
    return f"{column}={value!r} fails {kind}"


def summarise(
    dataset: str,
    rows_in: int,
    accepted: int,
    quarantine: pd.DataFrame,
    flags: Mapping[int, list[tuple[str, str]]],
    rules: Mapping[str, Any],
) -> dict[str, Any]:
    """JSON-serialisable counts; ``reasons`` counts rows by primary reason, ``flagged`` by every reason."""
    quarantined = len(quarantine)
    reconciled = rows_in == accepted + quarantined
    # Cannot fail unless the split above is wrong; a silent row leak would corrupt every downstream count.
    assert reconciled, f"{dataset}: {rows_in} rows in != {accepted} accepted + {quarantined} quarantined"
    primary = quarantine["reason"].value_counts()
    flagged = pd.Series(
        [reason for found in flags.values() for reason in {r for r, _ in found}]
    ).value_counts()
    return {
        "dataset": dataset,
        "rows_in": rows_in,
        "accepted": accepted,
        "quarantined": quarantined,
        "bad_fraction": quarantined / rows_in if rows_in else 0.0,
        "max_bad_fraction": float(rules.get("max_bad_fraction", DEFAULT_MAX_BAD_FRACTION)),
        "reasons": {code: int(primary.get(code, 0)) for code in REASON_CODES},
        "flagged": {code: int(flagged.get(code, 0)) for code in REASON_CODES},
        "reconciled": reconciled,
    }


def threshold_message(summary: Mapping[str, Any], quarantine: pd.DataFrame) -> str:
    """Name the dataset, the counts, and the biggest reasons with example source rows to look at."""
    head = (
        f"{summary['dataset']}: {summary['quarantined']} of {summary['rows_in']} rows "
        f"({summary['bad_fraction']:.1%}) failed validation, above max_bad_fraction "
        f"{format_number(summary['max_bad_fraction'])}"
    )
    parts = []
    for reason, count in sorted(summary["reasons"].items(), key=lambda item: -item[1]):
        if count:
            rows = quarantine.loc[quarantine["reason"] == reason, "source_row"].head(_EXAMPLE_ROWS).tolist()
            more = ", ..." if count > len(rows) else ""
            parts.append(f"{reason} {count} (rows {', '.join(str(r) for r in rows)}{more})")
    return f"{head}: {', '.join(parts)}"


def _raise_for_schema(results: list[Mapping[str, Any]], dataset: str) -> None:
    """Raise on a failed table-level check: one whose failure names no rows. Missing columns first."""
    results = sorted(
        results, key=lambda r: r["expectation_config"]["type"] != "expect_table_columns_to_match_set"
    )
    for result in results:
        if result["success"] or "unexpected_index_list" in result.get("result", {}):
            continue
        config = result["expectation_config"]
        observed = result.get("result", {})
        if config["type"] == "expect_table_columns_to_match_set":
            missing = sorted(set(config["kwargs"]["column_set"]) - set(observed.get("observed_value") or []))
            raise SchemaMismatchError(f"{dataset}: staged table is missing required column(s) {missing}")
        if _exception_message(result) is not None:
            continue  # reported by the caller once schema problems are ruled out
        column = config["kwargs"].get("column")
        raise SchemaMismatchError(
            f"{dataset}: column {column!r} fails {config['type']} "
            f"(observed {observed.get('observed_value')!r}, expected {config['kwargs'].get('type_list')})"
        )


def _exception_message(result: Mapping[str, Any]) -> str | None:
    """The message of an exception GX caught while running an expectation, else None.

    GX 1.x nests the exception info per metric (``{"MetricConfigurationID(...)": {...}}``) when a metric
    failed, and keeps it flat when the expectation itself failed; both shapes occur.
    """
    info = result.get("exception_info") or {}
    for entry in [info, *(v for v in info.values() if isinstance(v, Mapping))]:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message"))
    return None


def _show(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return format_number(value.item() if hasattr(value, "item") else value)
