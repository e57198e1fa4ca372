"""Validation of staged tables: GX suites built from config rules, row-level quarantine, Data Docs.

Importing this package does not import ``great_expectations`` (seconds); the functions that run GX do.
"""

from matshift.validation.quarantine import (
    DataQualityError,
    SchemaMismatchError,
    ValidationRunError,
    validate_staged_table,
    validate_staged_tables,
)
from matshift.validation.suite import DEFAULT_RULES, REASON_CODES, build_suite, write_suites

__all__ = [
    "DEFAULT_RULES",
    "REASON_CODES",
    "DataQualityError",
    "SchemaMismatchError",
    "ValidationRunError",
    "build_suite",
    "validate_staged_table",
    "validate_staged_tables",
    "write_suites",
]
