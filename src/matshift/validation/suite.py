"""Build the Great Expectations suite that the staged materials table must pass.

The suite is derived from a dataset's validation rules (a YAML mapping) so that changing a range or the
duplicate policy is a config change, not a code change. Every expectation carries its reason code in
``meta["reason_code"]``; quarantine turns each failed expectation into quarantine rows with that code.

The suites for the shipped datasets are also written to ``suites/<dataset>.json`` so that a reviewer can
read the exact checks in a diff. Regenerate them with
``PYTHONPATH=src python -c "from matshift.validation.suite import write_suites; write_suites()"``;
a test keeps the committed files equal to what this module builds.

``great_expectations`` costs seconds to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matshift.schema import MATERIALS_COLUMNS, STAGED_DIAGNOSTIC_COLUMNS

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

# Reason codes in priority order: a row that fails several checks is quarantined under the first one.
# Root causes come first (no formula explains a missing composition; a missing target explains a
# non-numeric one); schema_mismatch comes last so that a contract gap in a row that is already bad for a
# data reason (e.g. an empty group on an unparseable formula) does not hide that reason.
REASON_CODES: tuple[str, ...] = (
    "missing_formula",
    "unparseable_formula",
    "unknown_element",
    "invalid_amount",
    "negligible_amount",
    "missing_target",
    "target_not_numeric",
    "target_out_of_range",
    "process_value_out_of_range",
    "duplicate_row",
    "schema_mismatch",
)

DUPLICATE_POLICIES: tuple[str, ...] = ("quarantine", "keep")

# Default rules of the shipped datasets. The YAML parameters are the runtime source of truth; these
# defaults only generate the committed suite files (and their test).
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "expt_gap": {"target_min": 0.0, "target_max": 20.0, "duplicates": "quarantine", "max_bad_fraction": 0.05},
    # Materials Project lists polymorphs with the same formula and gap as separate rows: keep repeats.
    "mp_gap": {"target_min": 0.0, "target_max": 20.0, "duplicates": "keep", "max_bad_fraction": 0.05},
}

SUITES_DIR = Path(__file__).parent / "suites"

# Dtype names as GX resolves them (numpy names, pandas extension dtype class names, Python type names).
# For an object column GX checks every value's type (row-level failures); for any other dtype it checks
# the column dtype once (a table-level failure).
_STRING_TYPES = ["str", "StringDtype"]
_INTEGER_TYPES = ["int64", "int32", "Int64", "Int32"]
_FLOAT_TYPES = ["float64", "float32", "Float64", "Float32"]
_NUMBER_TYPES = [*_FLOAT_TYPES, *_INTEGER_TYPES]
_COLUMN_TYPES: dict[str, list[str]] = {
    "sample_id": _STRING_TYPES,
    "source_row": _INTEGER_TYPES,
    "formula": _STRING_TYPES,
    "composition": _STRING_TYPES,
    "target": _FLOAT_TYPES,
    "target_raw": _STRING_TYPES,
    "unit": _STRING_TYPES,
    "domain": _STRING_TYPES,
    "group": _STRING_TYPES,
    "source": _STRING_TYPES,
    "occurrence": _INTEGER_TYPES,
    # composition_error is not type-checked: when no row has an error, readers legitimately give an
    # all-missing float column; its values are checked by the set expectations below.
}
# Columns every row must fill; formula, composition and target have their own reason codes.
_CONTRACT_NOT_NULL: tuple[str, ...] = ("sample_id", "source_row", "unit", "domain", "group", "source")


def validate_rules(rules: Mapping[str, Any], dataset: str) -> None:
    """Raise ``ValueError`` naming the dataset when rules are malformed (fail at config time, not mid-run)."""
    for key in ("target_min", "target_max"):
        if key in rules and rules[key] is not None and not isinstance(rules[key], int | float):
            raise ValueError(f"{dataset}: validation rule {key} must be a number, got {rules[key]!r}")
    policy = rules.get("duplicates", "quarantine")
    if policy not in DUPLICATE_POLICIES:
        raise ValueError(
            f"{dataset}: validation rule duplicates must be one of {DUPLICATE_POLICIES}, got {policy!r}"
        )
    fraction = rules.get("max_bad_fraction", 0.05)
    if not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
        raise ValueError(f"{dataset}: validation rule max_bad_fraction must be in [0, 1], got {fraction!r}")
    # Other keys of a process-column declaration (e.g. the source ``column``) belong to ingest.
    for column, bounds in (rules.get("process_columns") or {}).items():
        if not isinstance(bounds, Mapping):
            raise ValueError(f"{dataset}: process column {column!r} needs a mapping with min and/or max")
        for key in ("min", "max"):
            if bounds.get(key) is not None and not isinstance(bounds[key], int | float):
                raise ValueError(f"{dataset}: process column {column!r} {key} must be a number")
        if "categories" in bounds and not (isinstance(bounds["categories"], list) and bounds["categories"]):
            raise ValueError(f"{dataset}: process column {column!r} categories must be a non-empty list")


def process_columns(rules: Mapping[str, Any]) -> list[str]:
    """Declared process columns, in declaration order."""
    return list((rules.get("process_columns") or {}).keys())


def is_categorical(spec: Mapping[str, Any]) -> bool:
    """A process column declared with ``categories`` (allowed values) rather than a numeric range."""
    return "categories" in spec


def expected_columns(rules: Mapping[str, Any]) -> list[str]:
    """Columns the staged table must have: the contract, the declared process columns, any extra required."""
    columns = [*MATERIALS_COLUMNS, *STAGED_DIAGNOSTIC_COLUMNS, *process_columns(rules)]
    columns += [c for c in rules.get("required_columns") or [] if c not in columns]
    return columns


def suite_expectations(rules: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The suite as plain ``{"type", "kwargs", "meta", "notes"}`` dicts, in the order Data Docs shows them.

    Kept free of GX objects so that the checks can be read (and tested) without importing GX.
    """

    def expect(kind: str, reason: str, notes: str, **kwargs: Any) -> dict[str, Any]:
        return {"type": kind, "kwargs": kwargs, "meta": {"reason_code": reason}, "notes": notes}

    low, high = rules.get("target_min"), rules.get("target_max")
    items = [
        expect(
            "expect_table_columns_to_match_set",
            "schema_mismatch",
            "The staged table has every contract column (extra columns are allowed).",
            column_set=expected_columns(rules),
            exact_match=False,
        )
    ]
    for column, types in _COLUMN_TYPES.items():
        items.append(
            expect(
                "expect_column_values_to_be_in_type_list",
                "schema_mismatch",
                f"{column} holds {types[0]} values.",
                column=column,
                type_list=types,
            )
        )
    for column, spec in (rules.get("process_columns") or {}).items():
        categorical = is_categorical(spec)
        items.append(
            expect(
                "expect_column_values_to_be_in_type_list",
                "schema_mismatch",
                f"Process column {column} is {'text' if categorical else 'numeric'}.",
                column=column,
                type_list=_STRING_TYPES if categorical else _NUMBER_TYPES,
            )
        )
    for column in _CONTRACT_NOT_NULL:
        items.append(
            expect(
                "expect_column_values_to_not_be_null",
                "schema_mismatch",
                f"Every row has a {column}.",
                column=column,
            )
        )
    items += [
        expect(
            "expect_column_values_to_not_be_null",
            "missing_formula",
            "Every row has a formula.",
            column="formula",
        ),
        expect(
            "expect_column_values_to_match_regex",
            "missing_formula",
            "The formula is not blank.",
            column="formula",
            regex=r"\S",
        ),
        expect(
            "expect_column_values_to_not_be_in_set",
            "missing_formula",
            "The parser found a formula to read.",
            column="composition_error",
            value_set=["missing_formula"],
        ),
        expect(
            "expect_column_values_to_not_be_in_set",
            "unparseable_formula",
            "The formula parses.",
            column="composition_error",
            value_set=["unparseable_formula"],
        ),
        expect(
            "expect_column_values_to_not_be_in_set",
            "unknown_element",
            "Every symbol in the formula is an element (H to Lr).",
            column="composition_error",
            value_set=["unknown_element"],
        ),
        expect(
            "expect_column_values_to_not_be_in_set",
            "invalid_amount",
            "Every amount in the formula is finite and positive (no zero, negative or overflowing amount).",
            column="composition_error",
            value_set=["invalid_amount"],
        ),
        expect(
            "expect_column_values_to_not_be_in_set",
            "negligible_amount",
            "Every element's atomic fraction reaches the declared minimum.",
            column="composition_error",
            value_set=["negligible_amount"],
        ),
        expect(
            "expect_column_values_to_not_be_null",
            "unparseable_formula",
            "Where the parser reported no error, there is a canonical composition.",
            column="composition",
            # Only the unexplained gaps: a reported error is the better reason for the rows it covers.
            row_condition={"type": "nullity", "column": {"name": "composition_error"}, "is_null": True},
        ),
    ]
    outcome_columns = rules.get("outcome_columns") or []
    # a failed experiment may have no target (issue 7): only rows not marked failed need one
    not_failed = (
        {"row_condition": {"type": "not_equal", "column": {"name": "outcome"}, "value": "failed"}}
        if "outcome" in outcome_columns
        else {}
    )
    if rules.get("target_required", True):  # a plant batch may be unlabelled: then no row needs a target
        items += [
            expect(
                "expect_column_values_to_not_be_null",
                "missing_target",
                "Every row has a target." if not not_failed else "Every row not failed has a target.",
                column="target_raw",
                **not_failed,
            ),
            expect(
                "expect_column_values_to_match_regex",
                "missing_target",
                "The target is not blank.",
                column="target_raw",
                regex=r"\S",
                **not_failed,
            ),
        ]
    given = {"type": "nullity", "column": {"name": "target_raw"}, "is_null": False}
    if "target_censored" in outcome_columns:  # a censored target is a bound, not a number
        uncensored = {"type": "not_equal", "column": {"name": "target_censored"}, "value": True}
        given = {"type": "and", "conditions": [given, uncensored]}
    items += [
        expect(
            "expect_column_values_to_not_be_null",
            "target_not_numeric",
            "Where the source gives a target, it parses as a number."
            if "target_censored" not in outcome_columns
            else "Where the source gives an uncensored target, it parses as a number.",
            column="target",
            row_condition=given,
        ),
    ]
    if low is not None or high is not None:
        items.append(
            expect(
                "expect_column_values_to_be_between",
                "target_out_of_range",
                f"The target lies in {format_interval(low, high)}.",
                column="target",
                min_value=low,
                max_value=high,
            )
        )
    for column, bounds in (rules.get("process_columns") or {}).items():
        if is_categorical(bounds):
            items.append(
                expect(
                    "expect_column_values_to_be_in_set",
                    "process_value_out_of_range",
                    f"{column} is one of {bounds['categories']} when given.",
                    column=column,
                    value_set=list(bounds["categories"]),
                )
            )
            continue
        items.append(
            expect(
                "expect_column_values_to_be_between",
                "process_value_out_of_range",
                f"{column} lies in {format_interval(bounds.get('min'), bounds.get('max'))} when given.",
                column=column,
                min_value=bounds.get("min"),
                max_value=bounds.get("max"),
            )
        )
    # sample_id already includes the occurrence number, so a repeat id means two different rows collided.
    items.append(
        expect(
            "expect_column_values_to_be_unique", "duplicate_row", "sample_id is unique.", column="sample_id"
        )
    )
    if rules.get("duplicates", "quarantine") == "quarantine":
        items.append(
            expect(
                "expect_column_values_to_be_in_set",
                "duplicate_row",
                "No row repeats an earlier identical row (duplicates: quarantine).",
                column="occurrence",
                value_set=[0],
            )
        )
    return items


def build_suite(dataset: str, rules: Mapping[str, Any]) -> ExpectationSuite:
    """A fresh (unsaved) GX ExpectationSuite named after the dataset."""
    import great_expectations as gx

    validate_rules(rules, dataset)
    return gx.ExpectationSuite(
        name=dataset,
        expectations=[_to_expectation(item) for item in suite_expectations(rules)],
        meta={
            "dataset": dataset,
            "duplicates": rules.get("duplicates", "quarantine"),
            "reason_priority": list(REASON_CODES),
        },
    )


def suite_json(dataset: str, rules: Mapping[str, Any]) -> dict[str, Any]:
    """The suite as GX serialises it, the form committed under ``suites/``."""
    return build_suite(dataset, rules).to_json_dict()


def write_suites(
    directory: Path = SUITES_DIR, rules_by_dataset: Mapping[str, Mapping[str, Any]] = DEFAULT_RULES
) -> list[Path]:
    """Write ``<directory>/<dataset>.json`` per dataset; sorted keys and a final newline keep diffs small."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset, rules in rules_by_dataset.items():
        path = directory / f"{dataset}.json"
        path.write_text(
            json.dumps(suite_json(dataset, rules), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        paths.append(path)
    return paths


def _to_expectation(item: Mapping[str, Any]) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    kwargs = dict(item["kwargs"])
    if isinstance(kwargs.get("row_condition"), Mapping):
        kwargs["row_condition"] = _row_condition(kwargs["row_condition"])
    config = ExpectationConfiguration(
        type=item["type"], kwargs=kwargs, meta=dict(item["meta"]), notes=item["notes"]
    )
    return config.to_domain_obj()


def _row_condition(spec: Mapping[str, Any]) -> Any:
    # The conditions the suite uses; the Condition object (GX >= 1.9) replaces deprecated strings.
    from great_expectations.expectations.row_conditions import AndCondition, Column

    kind = spec.get("type")
    if kind == "and":
        return AndCondition(conditions=[_row_condition(part) for part in spec["conditions"]])
    if kind == "not_equal":
        return Column(spec["column"]["name"]) != spec["value"]
    if kind != "nullity":
        raise ValueError(f"unsupported row condition {spec!r}")
    column = Column(spec["column"]["name"])
    return column.is_null() if spec["is_null"] else column.is_not_null()


def format_number(value: Any) -> str:
    """Format a bound or value as a reader would write it: 0 not 0.0, -1.2 as is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_interval(low: Any, high: Any) -> str:
    """``[0, 20]``; a missing bound is open (``-inf`` / ``inf``)."""
    low_text = "-inf" if low is None else format_number(low)
    high_text = "inf" if high is None else format_number(high)
    return f"[{low_text}, {high_text}]"
