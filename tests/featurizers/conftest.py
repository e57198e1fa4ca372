"""Fixtures for the featurizer tests: locating the matbench CSV files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The pipeline's raw-data folder first, then the shared copy next to the repository.
MATBENCH_DIRS: tuple[Path, ...] = (
    REPO_ROOT / "data" / "01_raw" / "matbench",
    REPO_ROOT.parent / "shared" / "datasets" / "matbench",
)


def find_matbench_csv(name: str) -> Path | None:
    """Path of ``<name>.csv`` in the first matbench folder that has it, else None."""
    for folder in MATBENCH_DIRS:
        candidate = folder / f"{name}.csv"
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def matbench_csv() -> Callable[[str], Path]:
    """Return a function giving a matbench CSV path, skipping the test if no copy exists."""

    def locate(name: str) -> Path:
        path = find_matbench_csv(name)
        if path is None:
            searched = ", ".join(str(folder) for folder in MATBENCH_DIRS)
            pytest.skip(f"{name}.csv not found in any of: {searched}")
        return path

    return locate
