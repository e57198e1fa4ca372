"""Case studies on real data: one domain module per material class, run by the stage pipelines every
dataset runs (its hooks there: :mod:`matshift.casestudies.stages`).

A domain module (``matshift.casestudies.<name>``) provides

- ``clean(raw, declaration, target_required=True) -> (accepted, quarantine)``: ``accepted`` has
  ``sample_id`` (unique, stable), ``source_row`` (0-based data row of the raw file), ``target`` (float,
  in the unit the model learns), ``group`` (worst-group metrics) and the domain columns its splits and
  features need; ``quarantine`` has
  ``source_row, column, value, reason``; ``len(raw) == len(accepted) + quarantine.source_row.nunique()``;
  ``target_required=False`` (plant batches) accepts a row without a target (NaN), unlabelled;
- ``featurize(table, params) -> DataFrame``: numeric features indexed by ``sample_id`` (no target);
- ``make_splits(table, params) -> DataFrame``: ``split, fold, fold_name, role, sample_id`` rows;
- ``PHYSICS_MODELS``: name -> factory(params) of a scikit-learn-style regressor, the view that
  ``matshift.models.registry.register_models("physics", ...)`` returns (names unique across modules);
- ``METADATA_COLUMNS``: accepted-table columns that describe the record (paper, year), not the material.

A dataset declares ``case_study: <name>`` in parameters_datasets.yml. Modules are imported on first use,
so a module being written (or with a missing optional dependency) does not break the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CASE_STUDIES: dict[str, str] = {
    "alloys": "matshift.casestudies.alloys",
    "electrolytes": "matshift.casestudies.electrolytes",
}
REQUIRED = ("clean", "featurize", "make_splits", "PHYSICS_MODELS", "METADATA_COLUMNS")


def case_study_module(name: str) -> ModuleType:
    """The domain module registered as ``name``, checked against the contract above."""
    if name not in CASE_STUDIES:
        raise KeyError(f"unknown case study {name!r}; registered: {sorted(CASE_STUDIES)}")
    module = importlib.import_module(CASE_STUDIES[name])
    missing = [attribute for attribute in REQUIRED if not hasattr(module, attribute)]
    if missing:
        raise TypeError(f"case study module {module.__name__} lacks {missing} (see matshift.casestudies)")
    return module
