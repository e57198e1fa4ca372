"""Shared fixtures. Tests never touch the network: case-study data come from the shared mirror."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
if SHARED_DATASETS.is_dir():
    os.environ.setdefault("MATSHIFT_DATA_MIRROR", str(SHARED_DATASETS))


@pytest.fixture(scope="session")
def expt_gap_raw() -> pd.DataFrame:
    """The embedded experimental band gaps as the source dataset reads them (strings + source_row)."""
    raw = pd.read_csv(PROJECT_ROOT / "data/01_raw/matbench/expt_gap.csv", dtype=str, keep_default_na=False)
    raw["source_row"] = range(2, len(raw) + 2)
    return raw


@pytest.fixture
def band_gap_declaration() -> dict:
    return {
        "source": {"filepath": "data/01_raw/test.csv"},
        "columns": {"formula": "formula", "target": "target"},
        "target": {"name": "band_gap", "unit": "eV", "min": 0.0, "max": 20.0},
        "domain": "experiment",
        "group": {"derive": "anion_class"},
        "process_columns": {},
        "duplicates": "quarantine",
        "max_bad_fraction": 0.5,
        "splits": ["matbench_cv", "leave_cluster_out", "element_holdout", "target_extrapolation"],
        "models": ["dummy", "erm"],
    }


def raw_frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    raw = pd.DataFrame(rows, columns=["formula", "target"])
    raw["source_row"] = range(2, len(raw) + 2)
    return raw
