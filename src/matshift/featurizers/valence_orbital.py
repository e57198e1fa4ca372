"""Valence-orbital attributes, equal to matminer's ``ValenceOrbital()`` with its defaults.

``avg {s,p,d,f} valence electrons`` is the amount-weighted mean of Magpie's ``N{s,p,d,f}Valence``;
``frac {orb} valence electrons`` divides it by the weighted mean of ``NValence``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matshift.featurizers.composition_matrix import CompositionFeaturizer, CompositionMatrix
from matshift.featurizers.magpie import (
    DEML_2016_BIBTEX,
    DEML_2016_SHORT,
    MAGPIE_DATA_SOURCE,
    WARD_2016_BIBTEX,
    WARD_2016_SHORT,
    magpie_values,
    weighted_mean,
)

ORBITALS: tuple[str, ...] = ("s", "p", "d", "f")
PROPS: tuple[str, ...] = ("avg", "frac")


class ValenceOrbital(CompositionFeaturizer):
    """Mean number and fraction of valence electrons in each orbital shell (Magpie data)."""

    name = "ValenceOrbital"

    def __init__(
        self, orbitals: Sequence[str] = ORBITALS, props: Sequence[str] = PROPS, impute_nan: bool = True
    ) -> None:
        if any(orb not in ORBITALS for orb in orbitals) or any(prop not in PROPS for prop in props):
            raise ValueError(f"orbitals must be among {ORBITALS} and props among {PROPS}")
        self.orbitals = tuple(orbitals)
        self.props = tuple(props)
        # Last column is the total, the denominator of the "frac" features.
        self._values = magpie_values([f"N{orb}Valence" for orb in self.orbitals] + ["NValence"], impute_nan)

    def feature_labels(self) -> list[str]:
        return [f"{prop} {orb} valence electrons" for prop in self.props for orb in self.orbitals]

    def citations(self) -> list[str]:
        return [WARD_2016_BIBTEX, DEML_2016_BIBTEX]

    def feature_sources(self) -> list[dict[str, str | None]]:
        records: list[dict[str, str | None]] = []
        for prop in self.props:
            for orb in self.orbitals:
                records.append(
                    {
                        "feature": f"{prop} {orb} valence electrons",
                        "featurizer": self.name,
                        "elemental_property": f"N{orb}Valence" + ("/NValence" if prop == "frac" else ""),
                        "statistic": "mean" if prop == "avg" else "ratio of means",
                        "data_source": MAGPIE_DATA_SOURCE,
                        "citation": f"{WARD_2016_SHORT}; {DEML_2016_SHORT}",
                    }
                )
        return records

    def transform(self, matrix: CompositionMatrix) -> np.ndarray:
        means = weighted_mean(matrix, self._values[matrix.element_index])
        avg, total = means[:, :-1], means[:, -1:]
        blocks = {"avg": avg}
        if "frac" in self.props:
            with np.errstate(invalid="ignore", divide="ignore"):
                blocks["frac"] = avg / total
        return np.ascontiguousarray(np.hstack([blocks[prop] for prop in self.props]), dtype=np.float64)
