"""Write the Magpie elemental property table used by ``matshift.featurizers``.

Reads the 22 properties of matminer's ``ElementProperty.from_preset("magpie")`` from matminer's
installed Magpie data files (Ward et al., npj Comput. Mater. 2, 16028 (2016); distributed with
matminer 0.10.1 under the BSD licence) for elements Z = 1..103 and writes
``src/matshift/chemistry/data/magpie_elements.csv`` with columns ``symbol, Z`` and one column per
property. Values matminer cannot read ("Missing") are written as empty cells (NaN).

Run from the repository root with matminer installed (it is a dev dependency only):

    python scripts/build_element_table.py
"""

from __future__ import annotations

import argparse
import math
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from matshift.chemistry.formula import ELEMENT_SYMBOLS  # noqa: E402

# The properties of matminer's "magpie" preset, in matminer's order (feature order depends on it).
MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)
EXPECTED_MATMINER_VERSION = "0.10.1"
DEFAULT_OUTPUT = REPO_ROOT / "src" / "matshift" / "chemistry" / "data" / "magpie_elements.csv"


def read_magpie_table() -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return the Z = 1..103 table and, per property, matminer's raw values for all Z = 1..118."""
    from matminer.utils.data import MagpieData

    # impute_nan=False keeps matminer's "Missing" entries as NaN; the featurizers impute at run time.
    source = MagpieData(impute_nan=False)
    table: dict[str, list[float] | list[str] | list[int]] = {
        "symbol": list(ELEMENT_SYMBOLS),
        "Z": list(range(1, len(ELEMENT_SYMBOLS) + 1)),
    }
    # MagpieData is keyed by pymatgen symbols for Z = 1..118; our symbols must agree for Z <= 103.
    full: dict[str, np.ndarray] = {}
    for prop in MAGPIE_PROPERTIES:
        values = list(source.all_elemental_props[prop].values())
        if len(values) != 118:
            raise RuntimeError(f"expected 118 elements for {prop}, matminer has {len(values)}")
        full[prop] = np.asarray(values, dtype=float)
        table[prop] = [float(source.all_elemental_props[prop][symbol]) for symbol in ELEMENT_SYMBOLS]
    return pd.DataFrame(table), full


def check_imputation_is_reproducible(table: pd.DataFrame, full: dict[str, np.ndarray]) -> None:
    """Fail if matminer's NaN fill value cannot be recomputed from the Z <= 103 table.

    matminer replaces a missing value by the mean of the property over all its 118 elements; the
    featurizers use the mean over our 103 rows, which is the same only if no element above 103 has a
    value for a property that has gaps below 103.
    """
    for prop in MAGPIE_PROPERTIES:
        if table[prop].isna().any():
            ours, theirs = np.nanmean(table[prop].to_numpy()), np.nanmean(full[prop])
            if not math.isclose(ours, theirs, rel_tol=1e-12):
                raise RuntimeError(f"{prop}: imputation mean {ours} differs from matminer's {theirs}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    installed = version("matminer")
    if installed != EXPECTED_MATMINER_VERSION:
        # Not fatal: the data files have been stable, but SOURCES.md names the version we read.
        print(f"warning: matminer {installed} installed, SOURCES.md documents {EXPECTED_MATMINER_VERSION}")
    table, full = read_magpie_table()
    check_imputation_is_reproducible(table, full)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # Integer-valued properties are written without ".0"; the rest as Python's shortest round-trip
    # repr, so the featurizers read back exactly matminer's floats.
    written = table.copy()
    for prop in MAGPIE_PROPERTIES:
        values = written[prop].dropna()
        if (values == values.round()).all():
            written[prop] = written[prop].astype("Int64")
    written.to_csv(args.output, index=False, lineterminator="\n")
    missing = {prop: int(table[prop].isna().sum()) for prop in MAGPIE_PROPERTIES if table[prop].isna().any()}
    print(
        f"wrote {args.output} ({len(table)} elements x {len(MAGPIE_PROPERTIES)} properties); NaN: {missing}"
    )


if __name__ == "__main__":
    main()
