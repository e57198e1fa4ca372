"""Dataset declarations (``datasets:`` in conf/<env>/parameters_datasets.yml), read outside a Kedro run.

The pipeline registry needs them before any node runs, to instantiate every stage per dataset. The
Kedro environment of the current session is recorded by ``matshift.hooks`` when the context is
created; outside a session ``KEDRO_ENV`` (default ``local``) decides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matshift.schema import MATERIALS_COLUMNS, OUTCOME_COLUMNS, STAGED_DIAGNOSTIC_COLUMNS

_active_env: dict[str, str | None] = {"env": None, "conf_source": None}


def remember_environment(env: str | None, conf_source: str | None) -> None:
    _active_env.update(env=env, conf_source=conf_source)


def load_declarations(conf_source: str | None = None, env: str | None = None) -> dict[str, dict[str, Any]]:
    """The merged ``datasets`` parameter of base + env."""
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings

    conf_source = conf_source or _active_env["conf_source"] or str(Path.cwd() / settings.CONF_SOURCE)
    env = env or _active_env["env"] or os.environ.get("KEDRO_ENV") or "local"
    loader_args = {**settings.CONFIG_LOADER_ARGS, "default_run_env": env}
    loader = OmegaConfigLoader(conf_source=conf_source, **loader_args)
    return dict(loader["parameters"].get("datasets") or {})


class DeclarationError(ValueError):
    """A dataset declaration (parameters_datasets.yml) that is malformed or does not fit its source file."""


# Keys a stage-pipeline declaration may use; case studies (`case_study:`) are read by their domain module.
DECLARATION_KEYS: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "description",
            "source",
            "columns",
            "composition",
            "target",
            "domain",
            "group",
            "process_columns",
            "metadata_columns",
            "duplicates",
            "max_bad_fraction",
            "min_atomic_fraction",
            "splits",
            "models",
            "transfer",
            "robust",
            "monitor",
            "champion",
        }
    ),
    "source": frozenset(
        {"filepath", "sha256", "url", "mirror_name", "provenance", "file_format", "encoding", "load_args"}
    ),
    "columns": frozenset({"formula", "target", "outcome"}),
    "composition": frozenset({"basis", "columns", "balance"}),
    "target": frozenset({"name", "unit", "min", "max", "transform", "censored", "learn_as"}),
    "group": frozenset({"column", "derive"}),
    "transfer": frozenset({"source_dataset"}),
    # replaces these keys of `monitor.champion` for this dataset (parameters_monitor.yml)
    "champion": frozenset({"split", "minimise", "coverage_range", "candidates"}),
}
PROCESS_COLUMN_KEYS = frozenset({"column", "unit", "min", "max", "categories"})
# Element-fraction bases: how the composition columns are written.
COMPOSITION_BASES = ("at%", "wt%", "mole_fraction")
TARGET_TRANSFORMS = ("log10",)
# Splits on a declared column (`{leave_group_out: lab}`), beside the built-in names.
COLUMN_SPLITS = ("leave_group_out", "predefined", "time")


def check_declaration(dataset: str, declaration: Mapping[str, Any]) -> list[str]:
    """Raise ``DeclarationError`` naming the dataset and key for an unknown or malformed key.

    Returns warnings for keys that are valid but have no effect (e.g. ``monitor`` without ``robust``).
    A case study's extra keys belong to its domain module: only its ``champion`` section is checked here.
    """
    for section, allowed in DECLARATION_KEYS.items():
        if declaration.get("case_study") and section != "champion":
            continue
        value = declaration if not section else declaration.get(section)
        if value is None:
            continue
        where = f"{dataset}.{section}" if section else dataset
        if not isinstance(value, Mapping):
            raise DeclarationError(f"{where}: expected a mapping in parameters_datasets.yml, got {value!r}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise DeclarationError(
                f"{where}: unknown key(s) {unknown} in parameters_datasets.yml; known: {sorted(allowed)}"
            )
    if declaration.get("case_study"):
        return _ignored_keys(dataset, declaration)
    columns = declaration.get("columns") or {}
    composition = declaration.get("composition")
    if "target" not in columns:
        raise DeclarationError(f"{dataset}.columns: declare `target: <source column>`")
    if ("formula" in columns) == bool(composition):
        raise DeclarationError(
            f"{dataset}: declare the composition once, either `columns: {{formula: <source column>}}` or "
            "`composition: {basis: wt%, columns: {<element>: <source column>}, balance: <element>}`"
        )
    if composition:
        _check_composition(dataset, composition)
    target = declaration.get("target") or {}
    if target.get("transform") not in (None, *TARGET_TRANSFORMS):
        raise DeclarationError(
            f"{dataset}.target.transform: {target['transform']!r} is not one of {TARGET_TRANSFORMS}"
        )
    learn_as = target.get("learn_as")
    if learn_as is not None and not (
        isinstance(learn_as, Mapping)
        and set(learn_as) <= {"offset", "scale"}
        and float(learn_as.get("scale", 1.0)) > 0
    ):
        raise DeclarationError(
            f"{dataset}.target.learn_as: expected {{offset: <number>, scale: <positive number>}} "
            f"(the networks learn (target - offset) / scale), got {learn_as!r}"
        )
    for name, spec in (declaration.get("process_columns") or {}).items():
        _check_process_column(dataset, name, spec)
    reserved = {*MATERIALS_COLUMNS, *STAGED_DIAGNOSTIC_COLUMNS, *OUTCOME_COLUMNS}
    clashing = sorted(
        set(declaration.get("metadata_columns") or {})
        & (reserved | set(declaration.get("process_columns") or {}))
    )
    clashing += sorted(set(declaration.get("process_columns") or {}) & reserved)
    if clashing:
        raise DeclarationError(
            f"{dataset}: process/metadata column name(s) {clashing} clash with each other or with the "
            "materials-table contract (matshift.schema); rename them"
        )
    for entry in declaration.get("splits") or []:
        split_kind_and_column(dataset, entry)
    return _ignored_keys(dataset, declaration)


def _check_composition(dataset: str, composition: Mapping[str, Any]) -> None:
    if composition.get("basis") not in COMPOSITION_BASES:
        raise DeclarationError(
            f"{dataset}.composition.basis: {composition.get('basis')!r} is not one of {COMPOSITION_BASES}"
        )
    if not isinstance(composition.get("columns"), Mapping) or not composition["columns"]:
        raise DeclarationError(f"{dataset}.composition.columns: map each element to its source column")


def _check_process_column(dataset: str, name: str, spec: Any) -> None:
    where = f"{dataset}.process_columns.{name}"
    if not isinstance(spec, Mapping):
        raise DeclarationError(f"{where}: expected a mapping (column, unit, min, max or categories)")
    unknown = sorted(set(spec) - PROCESS_COLUMN_KEYS)
    if unknown:
        raise DeclarationError(f"{where}: unknown key(s) {unknown}; known: {sorted(PROCESS_COLUMN_KEYS)}")
    if "categories" in spec:
        if not isinstance(spec["categories"], list) or not spec["categories"]:
            raise DeclarationError(f"{where}.categories: give the allowed values as a non-empty list")
        numeric = sorted({"unit", "min", "max"} & set(spec))
        if numeric:
            raise DeclarationError(f"{where}: a categorical column takes no {numeric}")


def split_kind_and_column(dataset: str, entry: Any) -> tuple[str, str | None, dict[str, Any]]:
    """``(kind, column, options)`` of a ``splits:`` entry: a built-in name or ``{kind: column}``.

    ``{time: {column: year, test_from: 2018}}`` passes options along with the column.
    """
    if isinstance(entry, str):
        return entry, None, {}
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((kind, value),) = entry.items()
        if kind in COLUMN_SPLITS:
            if isinstance(value, str):
                return kind, value, {}
            if isinstance(value, Mapping) and isinstance(value.get("column"), str):
                return kind, value["column"], {k: v for k, v in value.items() if k != "column"}
    raise DeclarationError(
        f"{dataset}.splits: {entry!r} is neither a split name nor one of "
        f"{[f'{{{kind}: <column>}}' for kind in COLUMN_SPLITS]}"
    )


def _ignored_keys(dataset: str, declaration: Mapping[str, Any]) -> list[str]:
    evaluated = bool(declaration.get("splits") and declaration.get("models"))
    warnings = []
    for key in ("transfer", "robust", "monitor"):
        if declaration.get(key) and not evaluated:
            warnings.append(f"{dataset}: `{key}` is ignored: the dataset declares no splits or no models")
    if evaluated and declaration.get("monitor") and not declaration.get("robust"):
        warnings.append(f"{dataset}: `monitor: true` is ignored: scoring plant batches needs `robust: true`")
    return warnings
